/* A program built against an installed rfab (pkg-config, find_package, the .deb): it uses nothing but
 * <rfab/rfab.h> and librfab.so, runs an allreduce (sum over float32, max over int64), a broadcast and a
 * barrier, and checks every element against closed-form values.
 *
 *   allreduce_check                             launcher environment (rfab run, torchrun, Slurm, OpenMPI)
 *   allreduce_check ID_FILE NRANKS RANK         NCCL-style: rank 0 writes rfabGetUniqueId's id to ID_FILE,
 *                                               the other ranks wait for it there
 * Exit 0 and one "rank R/N ok" line when every value is right; otherwise a message on stderr and exit 1. */
#define _POSIX_C_SOURCE 200809L /* nanosleep under -std=c11 */
#include <rfab/rfab.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Odd, and more than one pipeline chunk of float32. */
#define COUNT 100003

static int fail(const char* what, rfabResult_t r, rfabComm_t comm) {
  fprintf(stderr, "allreduce_check: %s: %s (%s)\n", what, rfabGetErrorString(r), rfabGetLastError(comm));
  return 1;
}

static int write_id(const char* path, const rfabUniqueId* id) {
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return -1;
  FILE* f = fopen(tmp, "wb");
  if (f == NULL) return -1;
  size_t n = fwrite(id, sizeof *id, 1, f);
  if (fclose(f) != 0 || n != 1) return -1;
  return rename(tmp, path); /* the readers never see a partial id */
}

static int read_id(const char* path, rfabUniqueId* id, int seconds) {
  for (int waited_ms = 0; waited_ms < seconds * 1000; waited_ms += 10) {
    FILE* f = fopen(path, "rb");
    if (f != NULL) {
      size_t n = fread(id, sizeof *id, 1, f);
      fclose(f);
      return n == 1 ? 0 : -1;
    }
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return -1;
}

static int init(int argc, char** argv, rfabComm_t* comm) {
  rfabResult_t r;
  if (argc == 1) {
    r = rfabCommInitFromEnv(comm);
    return r == rfabSuccess ? 0 : fail("rfabCommInitFromEnv", r, NULL);
  }
  if (argc != 4) {
    fprintf(stderr, "usage: allreduce_check [ID_FILE NRANKS RANK]\n");
    return 2;
  }
  int nranks = atoi(argv[2]), rank = atoi(argv[3]);
  rfabUniqueId id;
  if (rank == 0) {
    if ((r = rfabGetUniqueId(&id)) != rfabSuccess) return fail("rfabGetUniqueId", r, NULL);
    if (write_id(argv[1], &id) != 0) {
      perror(argv[1]);
      return 1;
    }
  } else if (read_id(argv[1], &id, 30) != 0) {
    fprintf(stderr, "allreduce_check: no unique id in %s after 30 s\n", argv[1]);
    return 1;
  }
  r = rfabCommInitRank(comm, nranks, id, rank);
  return r == rfabSuccess ? 0 : fail("rfabCommInitRank", r, NULL);
}

int main(int argc, char** argv) {
  rfabComm_t comm = NULL;
  int rc = init(argc, argv, &comm);
  if (rc != 0) return rc;
  int rank = -1, n = 0;
  rfabResult_t r;
  if ((r = rfabCommUserRank(comm, &rank)) != rfabSuccess || (r = rfabCommCount(comm, &n)) != rfabSuccess)
    return fail("rank/size", r, comm);

  float* f = malloc(COUNT * sizeof *f);
  int64_t* l = malloc(COUNT * sizeof *l);
  if (f == NULL || l == NULL) return 1;
  for (size_t i = 0; i < COUNT; ++i) {
    f[i] = (float)(rank + 1) * (float)(i % 1000); /* sums stay exact in float32 */
    l[i] = (int64_t)rank * 1000003 + (int64_t)i;
  }
  if ((r = rfabAllReduce(f, f, COUNT, rfabFloat32, rfabSum, comm)) != rfabSuccess) return fail("allreduce sum", r, comm);
  if ((r = rfabAllReduce(l, l, COUNT, rfabInt64, rfabMax, comm)) != rfabSuccess) return fail("allreduce max", r, comm);
  const float ranks_sum = (float)n * (float)(n + 1) / 2;
  for (size_t i = 0; i < COUNT; ++i) {
    if (f[i] != ranks_sum * (float)(i % 1000)) {
      fprintf(stderr, "allreduce_check: rank %d: sum[%zu] = %g, want %g\n", rank, i, f[i], ranks_sum * (float)(i % 1000));
      return 1;
    }
    if (l[i] != (int64_t)(n - 1) * 1000003 + (int64_t)i) {
      fprintf(stderr, "allreduce_check: rank %d: max[%zu] = %lld\n", rank, i, (long long)l[i]);
      return 1;
    }
  }
  int32_t word = rank == n - 1 ? 0x5eed : -1;
  if ((r = rfabBroadcast(&word, &word, 1, rfabInt32, n - 1, comm)) != rfabSuccess) return fail("broadcast", r, comm);
  if (word != 0x5eed) {
    fprintf(stderr, "allreduce_check: rank %d: broadcast gave %d\n", rank, (int)word);
    return 1;
  }
  if ((r = rfabBarrier(comm)) != rfabSuccess) return fail("barrier", r, comm);
  if ((r = rfabCommDestroy(comm)) != rfabSuccess) return fail("rfabCommDestroy", r, NULL);
  free(f);
  free(l);
  printf("rank %d/%d ok\n", rank, n);
  return 0;
}
