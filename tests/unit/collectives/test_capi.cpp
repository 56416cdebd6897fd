// The C API's contract: argument errors with messages, unique ids, self send/recv, grouped exchanges,
// non-blocking requests in issue order, and the C++ wrapper.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

#include "coll_check.hpp"
#include "harness.hpp"
#include "rfab/rfab.h"
#include "rfab/rfab.hpp"

using namespace rfab::coll::test;

namespace {
// One-rank communicator (no launcher in the environment).
struct Single {
  rfabComm_t comm = nullptr;
  Single() {
    rfabUniqueId id;
    EXPECT_EQ(rfabGetUniqueId(&id), rfabSuccess);
    EXPECT_EQ(rfabCommInitRank(&comm, 1, id, 0), rfabSuccess) << rfabGetLastError(nullptr);
  }
  ~Single() { rfabCommDestroy(comm); }
};
}  // namespace

TEST(CApi, ArgumentErrorsSayWhat) {
  Single s;
  float x = 1, y = 0;
  EXPECT_EQ(rfabAllReduce(&x, &y, 1, static_cast<rfabDataType_t>(rfabNumTypes), rfabSum, s.comm), rfabInvalidArgument);
  EXPECT_NE(std::string(rfabGetLastError(s.comm)).find("datatype"), std::string::npos);
  EXPECT_EQ(rfabAllReduce(&x, &y, 1, rfabFloat32, static_cast<rfabRedOp_t>(rfabNumOps), s.comm), rfabInvalidArgument);
  EXPECT_NE(std::string(rfabGetLastError(s.comm)).find("op"), std::string::npos);
  EXPECT_EQ(rfabAllReduce(nullptr, &y, 1, rfabFloat32, rfabSum, s.comm), rfabInvalidArgument);
  EXPECT_NE(std::string(rfabGetLastError(s.comm)).find("sendbuff"), std::string::npos);
  EXPECT_EQ(rfabBroadcast(&x, &y, 1, rfabFloat32, 3, s.comm), rfabInvalidArgument);
  EXPECT_NE(std::string(rfabGetLastError(s.comm)).find("root 3"), std::string::npos);
  EXPECT_EQ(rfabAllReduce(&x, &y, 1, rfabFloat32, rfabSum, nullptr), rfabInvalidArgument);
  EXPECT_EQ(rfabSend(&x, 1, rfabFloat32, 0, s.comm), rfabInvalidUsage);  // self, outside a group
  // Count 0 with NULL buffers is fine.
  EXPECT_EQ(rfabAllReduce(nullptr, nullptr, 0, rfabFloat32, rfabSum, s.comm), rfabSuccess);
  rfabResult_t async = rfabInternalError;
  EXPECT_EQ(rfabCommGetAsyncError(s.comm, &async), rfabSuccess);
  EXPECT_EQ(async, rfabSuccess);  // argument errors do not break the communicator
  EXPECT_EQ(rfabAllReduce(&x, &y, 1, rfabFloat32, rfabSum, s.comm), rfabSuccess);
  EXPECT_EQ(y, 1.0f);
}

TEST(CApi, BadUniqueIdAndRank) {
  rfabUniqueId junk;
  std::memset(&junk, 'z', sizeof junk);
  rfabComm_t c = nullptr;
  EXPECT_EQ(rfabCommInitRank(&c, 2, junk, 0), rfabInvalidArgument);
  rfabUniqueId id;
  ASSERT_EQ(rfabGetUniqueId(&id), rfabSuccess);
  EXPECT_EQ(rfabCommInitRank(&c, 2, id, 2), rfabInvalidArgument);
  EXPECT_NE(std::string(rfabGetLastError(nullptr)).find("rank 2"), std::string::npos);
  EXPECT_EQ(rfabCommInitRank(&c, 0, id, 0), rfabInvalidArgument);
}

TEST(CApi, UniqueIdOnHostAndConfigChecks) {
  rfabUniqueId id;
  EXPECT_EQ(rfabGetUniqueIdOnHost(nullptr, "127.0.0.1"), rfabInvalidArgument);
  EXPECT_EQ(rfabGetUniqueIdOnHost(&id, "bad host"), rfabInvalidArgument);
  EXPECT_NE(std::string(rfabGetLastError(nullptr)).find("white space"), std::string::npos);
  rfabComm_t c = nullptr;
  // The id names the given host; the store behind it runs in this process.
  ASSERT_EQ(rfabGetUniqueIdOnHost(&id, "127.0.0.1"), rfabSuccess);
  EXPECT_NE(std::string(id.internal).find(" 127.0.0.1"), std::string::npos);
  rfabConfig_t bad = RFAB_CONFIG_INITIALIZER;
  bad.size = 3;
  EXPECT_EQ(rfabCommInitRankConfig(&c, 1, id, 0, &bad), rfabInvalidArgument);
  EXPECT_NE(std::string(rfabGetLastError(nullptr)).find("config->size"), std::string::npos);
  bad = rfabConfig_t{sizeof(rfabConfig_t), 0.0};
  bad.timeoutSeconds = -1;
  EXPECT_EQ(rfabCommInitRankConfig(&c, 1, id, 0, &bad), rfabInvalidArgument);
  bad.timeoutSeconds = std::nan("");
  EXPECT_EQ(rfabCommInitRankConfig(&c, 1, id, 0, &bad), rfabInvalidArgument);
  EXPECT_NE(std::string(rfabGetLastError(nullptr)).find("timeoutSeconds"), std::string::npos);
  rfabConfig_t ok = RFAB_CONFIG_INITIALIZER;
  ok.timeoutSeconds = 5;
  ASSERT_EQ(rfabCommInitRankConfig(&c, 1, id, 0, &ok), rfabSuccess) << rfabGetLastError(nullptr);
  float x = 2, y = 0;
  EXPECT_EQ(rfabAllReduce(&x, &y, 1, rfabFloat32, rfabSum, c), rfabSuccess);
  EXPECT_EQ(y, 2.0f);
  rfabCommDestroy(c);
}

TEST(CApi, ConfiguredTimeoutBoundsAWaitForAPeerThatNeverCalls) {
  constexpr int kN = 2;
  auto res = run_ranks(
      kN,
      [](int rank, const rfabUniqueId& id) -> int {
        rfabConfig_t cfg = RFAB_CONFIG_INITIALIZER;
        cfg.timeoutSeconds = 0.5;
        rfabComm_t comm;
        if (rfabCommInitRankConfig(&comm, kN, id, rank, &cfg) != rfabSuccess) return 2;
        if (rank == 1) {
          usleep(3000000);  // alive, but never joins the collective
          return 0;
        }
        float x = 1, y = 0;
        const auto t0 = std::chrono::steady_clock::now();
        const rfabResult_t rc = rfabAllReduce(&x, &y, 1, rfabFloat32, rfabSum, comm);
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (rc != rfabTimeout) return 3;
        return s < 2.5 ? 0 : 4;  // 0.5 s, not RFAB_TIMEOUT's 30 s default
      },
      std::chrono::seconds(30));
  EXPECT_TRUE(all_ok(res)) << describe(res);
}

// Two ranks, inline-sized allreduce (the path without an Exchange, tiny_allreduce.hpp): the first rank to
// call polls briefly and then waits in the engine, which sleeps; the result is the same either way, in
// place or not, up to the largest inline message (448 bytes).
TEST(CApi, TinyAllReduceWaitsForALatePeer) {
  constexpr int kN = 2;
  auto res = run_ranks(
      kN,
      [](int rank, const rfabUniqueId& id) -> int {
        rfabComm_t comm;
        if (rfabCommInitRank(&comm, kN, id, rank) != rfabSuccess) return 2;
        int round = 0;
        for (const size_t count : {size_t{1}, size_t{13}, size_t{112}}) {
          for (const bool in_place : {false, true}) {
            // Alternate which rank is late; 20 ms is far past the polls and the spin.
            if (rank == round++ % 2) usleep(20000);
            std::vector<float> x(count), y(count, -1);
            for (size_t i = 0; i < count; ++i) x[i] = float(rank + 1) * float(i + 1);
            float* out = in_place ? x.data() : y.data();
            if (rfabAllReduce(x.data(), out, count, rfabFloat32, rfabSum, comm) != rfabSuccess) return 3;
            for (size_t i = 0; i < count; ++i)
              if (out[i] != 3.0f * float(i + 1)) return 4;
          }
        }
        rfabCommDestroy(comm);
        return 0;
      },
      std::chrono::seconds(30));
  EXPECT_TRUE(all_ok(res)) << describe(res);
}

TEST(CApi, ErrorStringsForEveryCode) {
  for (int r = 0; r < rfabNumResults; ++r) EXPECT_GT(std::strlen(rfabGetErrorString(static_cast<rfabResult_t>(r))), 0u);
}

TEST(CApi, SelfSendRecvInsideAGroup) {
  Single s;
  int a[3] = {1, 2, 3}, b[3] = {};
  ASSERT_EQ(rfabGroupStart(), rfabSuccess);
  rfabSend(a, 3, rfabInt32, 0, s.comm);
  rfabRecv(b, 3, rfabInt32, 0, s.comm);
  ASSERT_EQ(rfabGroupEnd(), rfabSuccess) << rfabGetLastError(s.comm);
  EXPECT_EQ(std::vector<int>(b, b + 3), std::vector<int>(a, a + 3));
  EXPECT_EQ(rfabGroupEnd(), rfabInvalidUsage);
}

TEST(CApi, GroupedSendRecvWithEveryPeerDoesNotDeadlock) {
  constexpr int kN = 4;
  auto res = run_ranks(
      kN,
      [](int rank, const rfabUniqueId& id) -> int {
        rfabComm_t comm;
        if (rfabCommInitRank(&comm, kN, id, rank) != rfabSuccess) return 2;
        // 1 MiB to each peer at once: more than a ring holds, so it only completes if all progress together.
        const size_t n = 1 << 18;
        std::vector<std::vector<int32_t>> out(kN, std::vector<int32_t>(n)), in(kN, std::vector<int32_t>(n));
        for (int p = 0; p < kN; ++p)
          for (size_t i = 0; i < n; ++i) out[p][i] = static_cast<int32_t>(rank * 1000000 + p * 1000 + static_cast<int>(i % 997));
        rfabGroupStart();
        for (int p = 0; p < kN; ++p) {
          rfabSend(out[p].data(), n, rfabInt32, p, comm);
          rfabRecv(in[p].data(), n, rfabInt32, p, comm);
        }
        if (rfabGroupEnd() != rfabSuccess) {
          std::fprintf(stderr, "rank %d: %s\n", rank, rfabGetLastError(comm));
          return 3;
        }
        for (int p = 0; p < kN; ++p)
          for (size_t i = 0; i < n; ++i)
            if (in[p][i] != static_cast<int32_t>(p * 1000000 + rank * 1000 + static_cast<int>(i % 997))) return 4;
        rfabCommDestroy(comm);
        return 0;
      },
      std::chrono::seconds(60));
  EXPECT_TRUE(all_ok(res)) << describe(res);
}

TEST(CApi, NonBlockingRequestsCompleteInIssueOrder) {
  constexpr int kN = 3;
  auto res = run_ranks(
      kN,
      [](int rank, const rfabUniqueId& id) -> int {
        rfabComm_t comm;
        if (rfabCommInitRank(&comm, kN, id, rank) != rfabSuccess) return 2;
        constexpr int kReqs = 6;
        std::vector<std::vector<double>> bufs(kReqs, std::vector<double>(50000));
        std::vector<rfabRequest_t> reqs(kReqs);
        for (int k = 0; k < kReqs; ++k) {
          std::fill(bufs[k].begin(), bufs[k].end(), rank + k);
          if (rfabIAllReduce(bufs[k].data(), bufs[k].data(), bufs[k].size(), rfabFloat64, rfabSum, comm, &reqs[k]) !=
              rfabSuccess)
            return 3;
        }
        // A blocking call after them runs after them.
        double one = 1, sum = 0;
        if (rfabAllReduce(&one, &sum, 1, rfabFloat64, rfabSum, comm) != rfabSuccess || sum != kN) return 4;
        int done = 0;
        if (rfabTest(reqs[0], &done) != rfabSuccess || !done) return 5;  // already finished, freed by Test
        for (int k = 1; k < kReqs; ++k)
          if (rfabWait(reqs[k]) != rfabSuccess) return 6;
        for (int k = 0; k < kReqs; ++k) {
          double want = 0;
          for (int r = 0; r < kN; ++r) want += r + k;
          for (double v : bufs[k])
            if (v != want) return 7;
        }
        rfabCommDestroy(comm);
        return 0;
      },
      std::chrono::seconds(60));
  EXPECT_TRUE(all_ok(res)) << describe(res);
}

TEST(CApi, CppWrapperAndEnvInit) {
  auto res = run_ranks(
      1,
      [](int, const rfabUniqueId&) -> int {
        for (const char* v : {"RANK", "WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "SLURM_PROCID"}) unsetenv(v);
        rfab::Comm c = rfab::Comm::from_env();
        std::vector<int32_t> v = {1, 2, 3};
        c.all_reduce(std::span<int32_t>(v), rfabMax);
        c.barrier();
        if (c.size() != 1 || c.rank() != 0 || v != std::vector<int32_t>{1, 2, 3}) return 3;
        try {
          c.broadcast(std::span<int32_t>(v), 5);
          return 4;
        } catch (const rfab::CommError& e) {
          if (e.code() != rfabInvalidArgument) return 5;
        }
        return 0;
      },
      std::chrono::seconds(30));
  EXPECT_TRUE(all_ok(res)) << describe(res);
}
