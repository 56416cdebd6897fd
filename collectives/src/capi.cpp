// The C API: argument checks, error codes and last-error strings around the C++ Communicator.
#include <fcntl.h>
#include <netdb.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "rfab/base/env.hpp"
#include "rfab/collectives/communicator.hpp"
#include "rfab/rfab.h"

using namespace rfab::coll;

struct rfabComm {
  std::unique_ptr<Communicator> impl;
  std::mutex mu;
  std::string last_error;
};

struct rfabRequest {
  rfabComm* comm;
  std::shared_ptr<Communicator::Request> req;
};

namespace {

thread_local std::string t_last_error;

// Queued calls between rfabGroupStart and rfabGroupEnd (per thread, as in NCCL).
struct GroupItem {
  rfabComm* comm;
  bool p2p;
  P2POp op;
  std::function<void(Communicator&)> coll;
};
thread_local int t_group_depth = 0;
thread_local std::vector<GroupItem> t_group;

// Stores started by rfabGetUniqueId live until the process exits (ranks may still be joining).
std::mutex g_servers_mu;
std::vector<std::unique_ptr<StoreServer>>& servers() {
  static std::vector<std::unique_ptr<StoreServer>> v;
  return v;
}

rfabResult_t fail(rfabComm* comm, rfabResult_t code, const std::string& msg) {
  t_last_error = msg;
  if (comm != nullptr) {
    std::lock_guard l(comm->mu);
    comm->last_error = msg;
  }
  return code;
}

template <class F>
rfabResult_t guard(rfabComm* comm, F&& f) {
  try {
    f();
    return rfabSuccess;
  } catch (const Error& e) {
    return fail(comm, static_cast<rfabResult_t>(e.status()), e.what());
  } catch (const std::bad_alloc&) {
    return fail(comm, rfabSystemError, "out of memory");
  } catch (const std::exception& e) {
    return fail(comm, rfabInternalError, e.what());
  }
}

bool check_type(rfabComm* comm, rfabDataType_t t, rfabResult_t& rc) {
  if (static_cast<int>(t) < 0 || t >= rfabNumTypes) {
    rc = fail(comm, rfabInvalidArgument, "invalid datatype " + std::to_string(static_cast<int>(t)));
    return false;
  }
  return true;
}
bool check_op(rfabComm* comm, rfabRedOp_t op, rfabResult_t& rc) {
  if (static_cast<int>(op) < 0 || op >= rfabNumOps) {
    rc = fail(comm, rfabInvalidArgument, "invalid reduction op " + std::to_string(static_cast<int>(op)));
    return false;
  }
  return true;
}

#define RFAB_CHECK_COMM(c)                                                   \
  if ((c) == nullptr || !(c)->impl) return fail(nullptr, rfabInvalidArgument, "communicator is NULL")
#define RFAB_CHECK_TYPE(c, t)                \
  do {                                       \
    rfabResult_t rc_;                        \
    if (!check_type(c, t, rc_)) return rc_;  \
  } while (0)
#define RFAB_CHECK_OP(c, o)                  \
  do {                                       \
    rfabResult_t rc_;                        \
    if (!check_op(c, o, rc_)) return rc_;    \
  } while (0)

DataType dt(rfabDataType_t t) { return static_cast<DataType>(t); }
RedOp ro(rfabRedOp_t o) { return static_cast<RedOp>(o); }

// Runs a collective now, queues it inside a group, or hands it to the progress thread.
rfabResult_t dispatch(rfabComm* comm, std::function<void(Communicator&)> fn, rfabRequest_t* request) {
  if (request != nullptr) {
    *request = nullptr;
    return guard(comm, [&] { *request = new rfabRequest{comm, comm->impl->submit(std::move(fn))}; });
  }
  if (t_group_depth > 0) {
    t_group.push_back(GroupItem{comm, false, {}, std::move(fn)});
    return rfabSuccess;
  }
  return guard(comm, [&] { fn(*comm->impl); });
}

std::string advertised_host() {
  if (auto a = rfab::env::get_string("RFAB_STORE_ADDR")) return *a;
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  addrinfo* res = nullptr;
  if (getaddrinfo(name, nullptr, &hints, &res) == 0) {
    freeaddrinfo(res);
    return name;
  }
  return "127.0.0.1";
}

}  // namespace

extern "C" {

const char* rfabGetErrorString(rfabResult_t r) {
  switch (r) {
    case rfabSuccess: return "no error";
    case rfabSystemError: return "system call failed";
    case rfabInternalError: return "internal error";
    case rfabInvalidArgument: return "invalid argument";
    case rfabInvalidUsage: return "invalid usage";
    case rfabRemoteError: return "remote process exited or a link failed";
    case rfabInProgress: return "operation in progress";
    case rfabTimeout: return "timed out";
    case rfabAborted: return "communicator aborted";
    default: return "unknown result code";
  }
}

const char* rfabGetLastError(rfabComm_t comm) {
  if (comm != nullptr) {
    std::lock_guard l(comm->mu);
    if (!comm->last_error.empty()) {
      t_last_error = comm->last_error;
      return t_last_error.c_str();
    }
  }
  return t_last_error.c_str();
}

rfabResult_t rfabGetUniqueId(rfabUniqueId* id) { return rfabGetUniqueIdOnHost(id, nullptr); }

rfabResult_t rfabGetUniqueIdOnHost(rfabUniqueId* id, const char* host) {
  if (id == nullptr) return fail(nullptr, rfabInvalidArgument, "uniqueId is NULL");
  const std::string advertised = host != nullptr && *host != '\0' ? std::string(host) : advertised_host();
  if (advertised.find_first_of(" \t\n") != std::string::npos)
    return fail(nullptr, rfabInvalidArgument, "store host '" + advertised + "' contains white space");
  return guard(nullptr, [&] {
    auto srv = std::make_unique<StoreServer>("", 0);
    unsigned char nonce[8];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, nonce, sizeof nonce) != static_cast<ssize_t>(sizeof nonce)) {
      if (fd >= 0) close(fd);
      throw_errno("reading /dev/urandom");
    }
    close(fd);
    char hex[17];
    for (int i = 0; i < 8; ++i) std::snprintf(hex + 2 * i, 3, "%02x", nonce[i]);
    std::memset(id->internal, 0, sizeof id->internal);
    int n = std::snprintf(id->internal, sizeof id->internal, "rfab1 %s %u %s", hex,
                          static_cast<unsigned>(srv->port()), advertised.c_str());
    if (n < 0 || static_cast<size_t>(n) >= sizeof id->internal)
      throw Error(Status::InvalidArgument, "store host name too long for a unique id");
    std::lock_guard l(g_servers_mu);
    servers().push_back(std::move(srv));
  });
}

rfabResult_t rfabCommInitRank(rfabComm_t* comm, int nranks, rfabUniqueId id, int rank) {
  return rfabCommInitRankConfig(comm, nranks, id, rank, nullptr);
}

rfabResult_t rfabCommInitRankConfig(rfabComm_t* comm, int nranks, rfabUniqueId id, int rank,
                                    const rfabConfig_t* config) {
  if (comm == nullptr) return fail(nullptr, rfabInvalidArgument, "comm is NULL");
  *comm = nullptr;
  if (config != nullptr && config->size != sizeof(rfabConfig_t))
    return fail(nullptr, rfabInvalidArgument,
                "config->size is " + std::to_string(config->size) + ", not sizeof(rfabConfig_t) = " +
                    std::to_string(sizeof(rfabConfig_t)) + " (start from RFAB_CONFIG_INITIALIZER)");
  // NaN fails both comparisons, so it is refused too.
  if (config != nullptr && !(config->timeoutSeconds >= 0 && config->timeoutSeconds <= 1e7))
    return fail(nullptr, rfabInvalidArgument,
                "config->timeoutSeconds=" + std::to_string(config->timeoutSeconds) + " is not in [0, 1e7]");
  char nonce[64] = {}, host[128] = {};
  unsigned port = 0;
  id.internal[RFAB_UNIQUE_ID_BYTES - 1] = '\0';
  if (std::sscanf(id.internal, "rfab1 %63s %u %127s", nonce, &port, host) != 3 || port == 0 || port > 65535)
    return fail(nullptr, rfabInvalidArgument, "unique id was not made by rfabGetUniqueId");
  return guard(nullptr, [&] {
    CommConfig cfg;
    cfg.store_host = host;
    cfg.store_port = static_cast<uint16_t>(port);
    cfg.key_prefix = nonce;
    cfg.nranks = nranks;
    cfg.rank = rank;
    if (config != nullptr && config->timeoutSeconds > 0)
      cfg.timeout = std::max(std::chrono::milliseconds(1),
                             std::chrono::milliseconds(static_cast<long long>(config->timeoutSeconds * 1000.0)));
    auto c = std::make_unique<rfabComm>();
    c->impl = Communicator::create(std::move(cfg));
    *comm = c.release();
  });
}

rfabResult_t rfabCommInitFromEnv(rfabComm_t* comm) {
  if (comm == nullptr) return fail(nullptr, rfabInvalidArgument, "comm is NULL");
  *comm = nullptr;
  return guard(nullptr, [&] {
    auto c = std::make_unique<rfabComm>();
    c->impl = Communicator::create_from_env();
    *comm = c.release();
  });
}

rfabResult_t rfabCommDestroy(rfabComm_t comm) {
  RFAB_CHECK_COMM(comm);
  delete comm;
  return rfabSuccess;
}

rfabResult_t rfabCommAbort(rfabComm_t comm) {
  RFAB_CHECK_COMM(comm);
  comm->impl->abort();
  delete comm;
  return rfabSuccess;
}

rfabResult_t rfabCommGetAsyncError(rfabComm_t comm, rfabResult_t* err) {
  RFAB_CHECK_COMM(comm);
  if (err == nullptr) return fail(comm, rfabInvalidArgument, "asyncError is NULL");
  *err = static_cast<rfabResult_t>(comm->impl->async_error());
  return rfabSuccess;
}

rfabResult_t rfabCommCount(rfabComm_t comm, int* count) {
  RFAB_CHECK_COMM(comm);
  if (count == nullptr) return fail(comm, rfabInvalidArgument, "count is NULL");
  *count = comm->impl->size();
  return rfabSuccess;
}

rfabResult_t rfabCommUserRank(rfabComm_t comm, int* rank) {
  RFAB_CHECK_COMM(comm);
  if (rank == nullptr) return fail(comm, rfabInvalidArgument, "rank is NULL");
  *rank = comm->impl->rank();
  return rfabSuccess;
}

#define RFAB_ALLREDUCE_BODY(REQ)                                                               \
  RFAB_CHECK_COMM(comm);                                                                       \
  RFAB_CHECK_TYPE(comm, datatype);                                                             \
  RFAB_CHECK_OP(comm, op);                                                                     \
  return dispatch(                                                                             \
      comm, [=](Communicator& c) { c.all_reduce(sendbuff, recvbuff, count, dt(datatype), ro(op)); }, REQ)

rfabResult_t rfabAllReduce(const void* sendbuff, void* recvbuff, size_t count, rfabDataType_t datatype,
                           rfabRedOp_t op, rfabComm_t comm) {
  RFAB_ALLREDUCE_BODY(nullptr);
}
rfabResult_t rfabIAllReduce(const void* sendbuff, void* recvbuff, size_t count, rfabDataType_t datatype,
                            rfabRedOp_t op, rfabComm_t comm, rfabRequest_t* request) {
  if (request == nullptr) return fail(comm, rfabInvalidArgument, "request is NULL");
  RFAB_ALLREDUCE_BODY(request);
}

rfabResult_t rfabBroadcast(const void* sendbuff, void* recvbuff, size_t count, rfabDataType_t datatype, int root,
                           rfabComm_t comm) {
  RFAB_CHECK_COMM(comm);
  RFAB_CHECK_TYPE(comm, datatype);
  return dispatch(
      comm, [=](Communicator& c) { c.broadcast(sendbuff, recvbuff, count, dt(datatype), root); }, nullptr);
}
rfabResult_t rfabIBroadcast(const void* sendbuff, void* recvbuff, size_t count, rfabDataType_t datatype, int root,
                            rfabComm_t comm, rfabRequest_t* request) {
  if (request == nullptr) return fail(comm, rfabInvalidArgument, "request is NULL");
  RFAB_CHECK_COMM(comm);
  RFAB_CHECK_TYPE(comm, datatype);
  return dispatch(
      comm, [=](Communicator& c) { c.broadcast(sendbuff, recvbuff, count, dt(datatype), root); }, request);
}

rfabResult_t rfabReduce(const void* sendbuff, void* recvbuff, size_t count, rfabDataType_t datatype,
                        rfabRedOp_t op, int root, rfabComm_t comm) {
  RFAB_CHECK_COMM(comm);
  RFAB_CHECK_TYPE(comm, datatype);
  RFAB_CHECK_OP(comm, op);
  return dispatch(
      comm, [=](Communicator& c) { c.reduce(sendbuff, recvbuff, count, dt(datatype), ro(op), root); }, nullptr);
}
rfabResult_t rfabIReduce(const void* sendbuff, void* recvbuff, size_t count, rfabDataType_t datatype,
                         rfabRedOp_t op, int root, rfabComm_t comm, rfabRequest_t* request) {
  if (request == nullptr) return fail(comm, rfabInvalidArgument, "request is NULL");
  RFAB_CHECK_COMM(comm);
  RFAB_CHECK_TYPE(comm, datatype);
  RFAB_CHECK_OP(comm, op);
  return dispatch(
      comm, [=](Communicator& c) { c.reduce(sendbuff, recvbuff, count, dt(datatype), ro(op), root); }, request);
}

rfabResult_t rfabAllGather(const void* sendbuff, void* recvbuff, size_t sendcount, rfabDataType_t datatype,
                           rfabComm_t comm) {
  RFAB_CHECK_COMM(comm);
  RFAB_CHECK_TYPE(comm, datatype);
  return dispatch(
      comm, [=](Communicator& c) { c.all_gather(sendbuff, recvbuff, sendcount, dt(datatype)); }, nullptr);
}
rfabResult_t rfabIAllGather(const void* sendbuff, void* recvbuff, size_t sendcount, rfabDataType_t datatype,
                            rfabComm_t comm, rfabRequest_t* request) {
  if (request == nullptr) return fail(comm, rfabInvalidArgument, "request is NULL");
  RFAB_CHECK_COMM(comm);
  RFAB_CHECK_TYPE(comm, datatype);
  return dispatch(
      comm, [=](Communicator& c) { c.all_gather(sendbuff, recvbuff, sendcount, dt(datatype)); }, request);
}

rfabResult_t rfabReduceScatter(const void* sendbuff, void* recvbuff, size_t recvcount, rfabDataType_t datatype,
                               rfabRedOp_t op, rfabComm_t comm) {
  RFAB_CHECK_COMM(comm);
  RFAB_CHECK_TYPE(comm, datatype);
  RFAB_CHECK_OP(comm, op);
  return dispatch(
      comm, [=](Communicator& c) { c.reduce_scatter(sendbuff, recvbuff, recvcount, dt(datatype), ro(op)); },
      nullptr);
}
rfabResult_t rfabIReduceScatter(const void* sendbuff, void* recvbuff, size_t recvcount, rfabDataType_t datatype,
                                rfabRedOp_t op, rfabComm_t comm, rfabRequest_t* request) {
  if (request == nullptr) return fail(comm, rfabInvalidArgument, "request is NULL");
  RFAB_CHECK_COMM(comm);
  RFAB_CHECK_TYPE(comm, datatype);
  RFAB_CHECK_OP(comm, op);
  return dispatch(
      comm, [=](Communicator& c) { c.reduce_scatter(sendbuff, recvbuff, recvcount, dt(datatype), ro(op)); },
      request);
}

rfabResult_t rfabAllToAll(const void* sendbuff, void* recvbuff, size_t count, rfabDataType_t datatype,
                          rfabComm_t comm) {
  RFAB_CHECK_COMM(comm);
  RFAB_CHECK_TYPE(comm, datatype);
  return dispatch(
      comm, [=](Communicator& c) { c.all_to_all(sendbuff, recvbuff, count, dt(datatype)); }, nullptr);
}
rfabResult_t rfabIAllToAll(const void* sendbuff, void* recvbuff, size_t count, rfabDataType_t datatype,
                           rfabComm_t comm, rfabRequest_t* request) {
  if (request == nullptr) return fail(comm, rfabInvalidArgument, "request is NULL");
  RFAB_CHECK_COMM(comm);
  RFAB_CHECK_TYPE(comm, datatype);
  return dispatch(
      comm, [=](Communicator& c) { c.all_to_all(sendbuff, recvbuff, count, dt(datatype)); }, request);
}

static rfabResult_t p2p(bool is_send, void* buf, size_t count, rfabDataType_t datatype, int peer,
                        rfabComm_t comm) {
  RFAB_CHECK_COMM(comm);
  RFAB_CHECK_TYPE(comm, datatype);
  P2POp op{is_send, peer, buf, count * dtype_size(dt(datatype))};
  if (t_group_depth > 0) {
    t_group.push_back(GroupItem{comm, true, op, {}});
    return rfabSuccess;
  }
  if (peer == comm->impl->rank())
    return fail(comm, rfabInvalidUsage, "send/recv to self outside rfabGroupStart/End would deadlock");
  return guard(comm, [&] { comm->impl->p2p(std::span<const P2POp>(&op, 1)); });
}

rfabResult_t rfabSend(const void* sendbuff, size_t count, rfabDataType_t datatype, int peer, rfabComm_t comm) {
  return p2p(true, const_cast<void*>(sendbuff), count, datatype, peer, comm);
}
rfabResult_t rfabRecv(void* recvbuff, size_t count, rfabDataType_t datatype, int peer, rfabComm_t comm) {
  return p2p(false, recvbuff, count, datatype, peer, comm);
}

rfabResult_t rfabBarrier(rfabComm_t comm) {
  RFAB_CHECK_COMM(comm);
  return dispatch(comm, [](Communicator& c) { c.barrier(); }, nullptr);
}

rfabResult_t rfabGroupStart(void) {
  ++t_group_depth;
  return rfabSuccess;
}

rfabResult_t rfabGroupEnd(void) {
  if (t_group_depth == 0) return fail(nullptr, rfabInvalidUsage, "rfabGroupEnd without rfabGroupStart");
  if (--t_group_depth > 0) return rfabSuccess;
  std::vector<GroupItem> items;
  items.swap(t_group);
  // Consecutive point-to-point calls on one communicator progress together; collectives run in order.
  rfabResult_t result = rfabSuccess;
  for (size_t i = 0; i < items.size();) {
    rfabComm* comm = items[i].comm;
    if (items[i].p2p) {
      std::vector<P2POp> ops;
      size_t j = i;
      for (; j < items.size() && items[j].p2p && items[j].comm == comm; ++j) ops.push_back(items[j].op);
      rfabResult_t rc = guard(comm, [&] { comm->impl->p2p(ops); });
      if (result == rfabSuccess) result = rc;
      i = j;
    } else {
      rfabResult_t rc = guard(comm, [&] { items[i].coll(*comm->impl); });
      if (result == rfabSuccess) result = rc;
      ++i;
    }
  }
  return result;
}

rfabResult_t rfabTest(rfabRequest_t request, int* done) {
  if (request == nullptr || done == nullptr) return fail(nullptr, rfabInvalidArgument, "request or done is NULL");
  auto& r = *request->req;
  std::unique_lock l(r.mu);
  if (!r.done) {
    *done = 0;
    return rfabSuccess;
  }
  *done = 1;
  auto st = static_cast<rfabResult_t>(r.status);
  std::string msg = r.message;
  rfabComm* comm = request->comm;
  l.unlock();
  delete request;
  return st == rfabSuccess ? rfabSuccess : fail(comm, st, msg);
}

rfabResult_t rfabWait(rfabRequest_t request) {
  if (request == nullptr) return fail(nullptr, rfabInvalidArgument, "request is NULL");
  request->comm->impl->wait(*request->req);
  int done = 0;
  return rfabTest(request, &done);
}

}  // extern "C"
