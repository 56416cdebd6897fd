/* rfab collectives: C API shaped like NCCL's, so a user switching from NCCL recognises it.
 *
 *   rfabUniqueId id;  if (rank == 0) rfabGetUniqueId(&id);  ...share id out of band...
 *   rfabComm_t comm;  rfabCommInitRank(&comm, nranks, id, rank);
 *   rfabAllReduce(sendbuf, recvbuf, count, rfabFloat32, rfabSum, comm);
 *   rfabCommDestroy(comm);
 *
 * Or, under torchrun / Slurm / OpenMPI / `rfab run`: rfabCommInitFromEnv(&comm).
 * Buffers are host memory. Every call returns rfabResult_t; rfabGetLastError(comm) says why a call failed. */
#ifndef RFAB_RFAB_H
#define RFAB_RFAB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* librfab.so is built with hidden visibility: what this header declares is its whole exported API. */
#if defined(__GNUC__) || defined(__clang__)
#pragma GCC visibility push(default)
#endif

#define RFAB_UNIQUE_ID_BYTES 128

typedef struct rfabComm* rfabComm_t;
typedef struct rfabRequest* rfabRequest_t;
typedef struct {
  char internal[RFAB_UNIQUE_ID_BYTES];
} rfabUniqueId;

typedef enum {
  rfabSuccess = 0,
  rfabSystemError = 2,     /* an OS call failed (shm, socket, futex) */
  rfabInternalError = 3,   /* a bug in rfab */
  rfabInvalidArgument = 4, /* bad pointer, count, datatype, op, rank, root */
  rfabInvalidUsage = 5,    /* wrong call sequence (e.g. self send outside a group) */
  rfabRemoteError = 6,     /* a peer died, aborted or broke the link */
  rfabInProgress = 7,      /* non-blocking request not finished yet */
  rfabTimeout = 8,         /* no progress within RFAB_TIMEOUT seconds */
  rfabAborted = 9,         /* rfabCommAbort was called */
  rfabNumResults = 10
} rfabResult_t;

typedef enum {
  rfabInt8 = 0,
  rfabUint8 = 1,
  rfabInt32 = 2,
  rfabUint32 = 3,
  rfabInt64 = 4,
  rfabUint64 = 5,
  rfabFloat16 = 6,
  rfabBfloat16 = 7,
  rfabFloat32 = 8,
  rfabFloat64 = 9,
  rfabNumTypes = 10
} rfabDataType_t;

typedef enum { rfabSum = 0, rfabProd = 1, rfabMin = 2, rfabMax = 3, rfabAvg = 4, rfabNumOps = 5 } rfabRedOp_t;

/* Options of rfabCommInitRankConfig: start from RFAB_CONFIG_INITIALIZER and set what you need. */
typedef struct {
  size_t size;           /* sizeof(rfabConfig_t), so the struct can grow */
  double timeoutSeconds; /* how long any wait may go without progress; 0: RFAB_TIMEOUT (default 30 s) */
} rfabConfig_t;
#define RFAB_CONFIG_INITIALIZER {sizeof(rfabConfig_t), 0.0}

/* Communicator lifetime. */
rfabResult_t rfabGetUniqueId(rfabUniqueId* uniqueId);
/* As rfabGetUniqueId, but the id names `host` (a name or address the other ranks reach this process at)
 * instead of RFAB_STORE_ADDR or this host's name; NULL or "" behaves as rfabGetUniqueId. */
rfabResult_t rfabGetUniqueIdOnHost(rfabUniqueId* uniqueId, const char* host);
rfabResult_t rfabCommInitRank(rfabComm_t* comm, int nranks, rfabUniqueId commId, int rank);
rfabResult_t rfabCommInitRankConfig(rfabComm_t* comm, int nranks, rfabUniqueId commId, int rank,
                                    const rfabConfig_t* config);
rfabResult_t rfabCommInitFromEnv(rfabComm_t* comm);
rfabResult_t rfabCommDestroy(rfabComm_t comm);
rfabResult_t rfabCommAbort(rfabComm_t comm);
rfabResult_t rfabCommGetAsyncError(rfabComm_t comm, rfabResult_t* asyncError);
rfabResult_t rfabCommCount(rfabComm_t comm, int* count);
rfabResult_t rfabCommUserRank(rfabComm_t comm, int* rank);

/* Errors. */
const char* rfabGetErrorString(rfabResult_t result);
const char* rfabGetLastError(rfabComm_t comm);

/* Collectives (blocking; in-place when sendbuff == recvbuff, or, for allgather, when
 * sendbuff == recvbuff + rank*sendcount, and for reducescatter when recvbuff == sendbuff + rank*recvcount). */
rfabResult_t rfabAllReduce(const void* sendbuff, void* recvbuff, size_t count, rfabDataType_t datatype,
                           rfabRedOp_t op, rfabComm_t comm);
rfabResult_t rfabBroadcast(const void* sendbuff, void* recvbuff, size_t count, rfabDataType_t datatype, int root,
                           rfabComm_t comm);
rfabResult_t rfabReduce(const void* sendbuff, void* recvbuff, size_t count, rfabDataType_t datatype,
                        rfabRedOp_t op, int root, rfabComm_t comm);
rfabResult_t rfabAllGather(const void* sendbuff, void* recvbuff, size_t sendcount, rfabDataType_t datatype,
                           rfabComm_t comm);
rfabResult_t rfabReduceScatter(const void* sendbuff, void* recvbuff, size_t recvcount, rfabDataType_t datatype,
                               rfabRedOp_t op, rfabComm_t comm);
/* count elements go to each rank: sendbuff holds nranks*count, recvbuff receives nranks*count. */
rfabResult_t rfabAllToAll(const void* sendbuff, void* recvbuff, size_t count, rfabDataType_t datatype,
                          rfabComm_t comm);
rfabResult_t rfabSend(const void* sendbuff, size_t count, rfabDataType_t datatype, int peer, rfabComm_t comm);
rfabResult_t rfabRecv(void* recvbuff, size_t count, rfabDataType_t datatype, int peer, rfabComm_t comm);
rfabResult_t rfabBarrier(rfabComm_t comm);

/* Between GroupStart and GroupEnd, calls are queued and run at GroupEnd: sends and receives to
 * different peers progress together (no deadlock on exchanges), collectives run in issue order. */
rfabResult_t rfabGroupStart(void);
rfabResult_t rfabGroupEnd(void);

/* Non-blocking forms: the operation runs on the communicator's progress thread, in issue order
 * with every other operation of the communicator. Buffers must stay valid until the request completes. */
rfabResult_t rfabIAllReduce(const void* sendbuff, void* recvbuff, size_t count, rfabDataType_t datatype,
                            rfabRedOp_t op, rfabComm_t comm, rfabRequest_t* request);
rfabResult_t rfabIBroadcast(const void* sendbuff, void* recvbuff, size_t count, rfabDataType_t datatype,
                            int root, rfabComm_t comm, rfabRequest_t* request);
rfabResult_t rfabIReduce(const void* sendbuff, void* recvbuff, size_t count, rfabDataType_t datatype,
                         rfabRedOp_t op, int root, rfabComm_t comm, rfabRequest_t* request);
rfabResult_t rfabIAllGather(const void* sendbuff, void* recvbuff, size_t sendcount, rfabDataType_t datatype,
                            rfabComm_t comm, rfabRequest_t* request);
rfabResult_t rfabIReduceScatter(const void* sendbuff, void* recvbuff, size_t recvcount,
                                rfabDataType_t datatype, rfabRedOp_t op, rfabComm_t comm,
                                rfabRequest_t* request);
rfabResult_t rfabIAllToAll(const void* sendbuff, void* recvbuff, size_t count, rfabDataType_t datatype,
                           rfabComm_t comm, rfabRequest_t* request);
/* *done = 1 and the request is freed when it finished (the result is the operation's). */
rfabResult_t rfabTest(rfabRequest_t request, int* done);
/* Blocks until the request finished, frees it, returns the operation's result. */
rfabResult_t rfabWait(rfabRequest_t request);

#if defined(__GNUC__) || defined(__clang__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* RFAB_RFAB_H */
