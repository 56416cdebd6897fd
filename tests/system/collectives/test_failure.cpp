// Failure injection: a rank killed with SIGKILL in the middle of allreduces, a rank that never shows up
// for a collective, and rfabCommAbort from another thread. Every survivor must return an error naming the
// peer within the timeout; the harness kills everything at its own deadline, so a hang fails the test.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "coll_check.hpp"
#include "harness.hpp"

using namespace rfab::coll::test;
using Clock = std::chrono::steady_clock;

namespace {

// Exit codes of survivors.
constexpr int kGotExpectedError = 3;
constexpr int kWrongError = 4;
constexpr int kNoError = 5;
constexpr int kInitFailed = 6;

std::vector<std::string> shm_segments(const std::string& nonce) {
  std::vector<std::string> out;
  DIR* d = opendir("/dev/shm");
  if (d == nullptr) return out;
  while (dirent* e = readdir(d))
    if (std::strstr(e->d_name, nonce.c_str()) != nullptr) out.emplace_back(e->d_name);
  closedir(d);
  return out;
}

std::string nonce_of(const rfabUniqueId& id) {
  char nonce[64] = {};
  std::sscanf(id.internal, "rfab1 %63s", nonce);
  return nonce;
}

}  // namespace

TEST(CollFailure, KillNineMidAllreduceErrorsOnEverySurvivorWithinTimeout) {
  constexpr int kRanks = 4, kVictim = 2;
  constexpr double kTimeoutS = 10;
  auto res = run_ranks(
      kRanks,
      [&](int rank, const rfabUniqueId& id) -> int {
        setenv("RFAB_TIMEOUT", "10", 1);
        rfabComm_t comm;
        if (rfabCommInitRank(&comm, kRanks, id, rank) != rfabSuccess) return kInitFailed;
        std::vector<float> buf(1 << 21, 1.0f);  // 8 MiB: each allreduce takes a while
        if (rank == kVictim) {
          std::thread([] {
            std::this_thread::sleep_for(std::chrono::milliseconds(400));
            raise(SIGKILL);
          }).detach();
        }
        auto stop = Clock::now() + std::chrono::seconds(40);
        while (Clock::now() < stop) {
          rfabResult_t rc = rfabAllReduce(buf.data(), buf.data(), buf.size(), rfabFloat32, rfabMax, comm);
          if (rc != rfabSuccess) {
            std::string msg = rfabGetLastError(comm);
            std::fprintf(stderr, "rank %d: %s: %s\n", rank, rfabGetErrorString(rc), msg.c_str());
            bool names_peer = msg.find("rank " + std::to_string(kVictim)) != std::string::npos ||
                              msg.find("rank ") != std::string::npos;  // a survivor may see a survivor leave first
            rfabResult_t again = rfabAllReduce(buf.data(), buf.data(), 1, rfabFloat32, rfabSum, comm);
            rfabCommAbort(comm);  // must not hang
            return (rc == rfabRemoteError || rc == rfabTimeout) && names_peer && again != rfabSuccess
                       ? kGotExpectedError
                       : kWrongError;
          }
        }
        rfabCommDestroy(comm);
        return kNoError;
      },
      std::chrono::seconds(60));
  ASSERT_EQ(res.size(), static_cast<size_t>(kRanks));
  EXPECT_FALSE(res[kVictim].exited) << describe(res);
  double killed_at = res[kVictim].seconds;
  for (int r = 0; r < kRanks; ++r) {
    if (r == kVictim) continue;
    EXPECT_TRUE(res[r].exited && res[r].code == kGotExpectedError) << describe(res);
    EXPECT_LT(res[r].seconds - killed_at, kTimeoutS) << "rank " << r << " noticed too late\n" << describe(res);
  }
}

TEST(CollFailure, SurvivorsNameTheDeadRankWhenItDiesBeforeTheCollective) {
  constexpr int kRanks = 3;
  auto res = run_ranks(
      kRanks,
      [&](int rank, const rfabUniqueId& id) -> int {
        setenv("RFAB_TIMEOUT", "20", 1);
        rfabComm_t comm;
        if (rfabCommInitRank(&comm, kRanks, id, rank) != rfabSuccess) return kInitFailed;
        if (rank == 1) raise(SIGKILL);
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        std::vector<int32_t> v(1000, rank);
        rfabResult_t rc = rfabAllReduce(v.data(), v.data(), v.size(), rfabInt32, rfabSum, comm);
        std::string msg = rfabGetLastError(comm);
        rfabCommDestroy(comm);
        if (rc == rfabRemoteError && msg.find("rank 1") != std::string::npos &&
            msg.find("killed") != std::string::npos)
          return kGotExpectedError;
        std::fprintf(stderr, "rank %d: rc=%d %s\n", rank, rc, msg.c_str());
        return rc == rfabSuccess ? kNoError : kWrongError;
      },
      std::chrono::seconds(30));
  for (int r : {0, 2}) {
    EXPECT_TRUE(res[r].exited && res[r].code == kGotExpectedError) << describe(res);
    EXPECT_LT(res[r].seconds, 10.0) << describe(res);  // death is seen at once, not after RFAB_TIMEOUT
  }
}

TEST(CollFailure, StuckPeerTimesOutNamingIt) {
  constexpr int kRanks = 3;
  auto res = run_ranks(
      kRanks,
      [&](int rank, const rfabUniqueId& id) -> int {
        setenv("RFAB_TIMEOUT", "1.5", 1);
        rfabComm_t comm;
        if (rfabCommInitRank(&comm, kRanks, id, rank) != rfabSuccess) return kInitFailed;
        if (rank == 2) {  // alive but never joins: the others must time out, not hang
          std::this_thread::sleep_for(std::chrono::seconds(6));
          rfabCommDestroy(comm);
          return 0;
        }
        std::vector<double> v(100, 1.0);
        auto t0 = Clock::now();
        rfabResult_t rc = rfabAllReduce(v.data(), v.data(), v.size(), rfabFloat64, rfabSum, comm);
        double s = std::chrono::duration<double>(Clock::now() - t0).count();
        std::string msg = rfabGetLastError(comm);
        rfabCommAbort(comm);
        std::fprintf(stderr, "rank %d after %.2f s (%s): %s\n", rank, s, rfabGetErrorString(rc), msg.c_str());
        if (s >= 5) return kWrongError;
        // This rank timed out waiting for rank 2; or it waited on the other survivor (itself stuck behind
        // rank 2), by timeout or through that survivor's abort. At least one must name rank 2 (checked below).
        if (rc == rfabTimeout && msg.find("rank 2") != std::string::npos && s >= 1.4) return kGotExpectedError;
        if (rc == rfabTimeout && msg.find("rank ") != std::string::npos && s >= 1.4) return kGotExpectedError + 10;
        if (rc == rfabRemoteError && msg.find("aborted") != std::string::npos) return kGotExpectedError + 10;
        return kWrongError;
      },
      std::chrono::seconds(30));
  ASSERT_TRUE(res[0].exited && res[1].exited) << describe(res);
  EXPECT_TRUE(res[0].code == kGotExpectedError || res[0].code == kGotExpectedError + 10) << describe(res);
  EXPECT_TRUE(res[1].code == kGotExpectedError || res[1].code == kGotExpectedError + 10) << describe(res);
  EXPECT_TRUE(res[0].code == kGotExpectedError || res[1].code == kGotExpectedError)
      << "nobody reported the timeout\n" << describe(res);
}

TEST(CollFailure, AbortFromAnotherThreadUnblocksAndTellsPeers) {
  constexpr int kRanks = 2;
  auto res = run_ranks(
      kRanks,
      [&](int rank, const rfabUniqueId& id) -> int {
        setenv("RFAB_TIMEOUT", "30", 1);
        rfabComm_t comm;
        if (rfabCommInitRank(&comm, kRanks, id, rank) != rfabSuccess) return kInitFailed;
        if (rank == 1) {
          // Never joins the allreduce; a receive larger than anything rank 0 sends waits until rank 0's
          // abort reaches it.
          std::vector<char> x(1 << 20);
          rfabResult_t rc = rfabRecv(x.data(), x.size(), rfabInt8, 0, comm);
          std::string msg = rfabGetLastError(comm);
          rfabCommDestroy(comm);
          return rc == rfabRemoteError && msg.find("aborted") != std::string::npos ? kGotExpectedError
                                                                                     : kWrongError;
        }
        std::vector<float> v(1000, 1.0f);
        rfabRequest_t req;
        if (rfabIAllReduce(v.data(), v.data(), v.size(), rfabFloat32, rfabSum, comm, &req) != rfabSuccess)
          return kWrongError;
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        int done = 0;
        rfabTest(req, &done);
        if (done) return kWrongError;  // cannot have finished without rank 1
        auto t0 = Clock::now();
        rfabComm_t c2 = comm;
        std::thread aborter([c2] { rfabCommAbort(c2); });
        // rfabCommAbort frees the communicator; the request must still complete (with an error) promptly.
        aborter.join();
        double s = std::chrono::duration<double>(Clock::now() - t0).count();
        return s < 2 ? kGotExpectedError : kWrongError;
      },
      std::chrono::seconds(30));
  EXPECT_TRUE(res[0].exited && res[0].code == kGotExpectedError) << describe(res);
  EXPECT_TRUE(res[1].exited && res[1].code == kGotExpectedError) << describe(res);
}

TEST(CollFailure, NoSharedMemoryLeftAfterAKill) {
  rfabUniqueId id;
  ASSERT_EQ(rfabGetUniqueId(&id), rfabSuccess);
  const std::string nonce = nonce_of(id);
  auto res = run_ranks(
      3,
      [&](int rank, const rfabUniqueId& given) -> int {
        setenv("RFAB_TIMEOUT", "10", 1);
        rfabComm_t comm;
        if (rfabCommInitRank(&comm, 3, given, rank) != rfabSuccess) return kInitFailed;
        if (rank == 1) raise(SIGKILL);
        std::vector<int32_t> v(10, 1);
        rfabResult_t rc = rfabAllReduce(v.data(), v.data(), v.size(), rfabInt32, rfabSum, comm);
        rfabCommAbort(comm);
        return rc == rfabRemoteError ? 0 : kWrongError;
      },
      std::chrono::seconds(30), nullptr, &id);
  EXPECT_TRUE(res[0].exited && res[0].code == 0) << describe(res);
  EXPECT_TRUE(res[2].exited && res[2].code == 0) << describe(res);
  // Segments are unlinked as soon as every rank has mapped them: nothing of this communicator remains.
  EXPECT_TRUE(shm_segments(nonce).empty()) << "left in /dev/shm: " << shm_segments(nonce).front();
}
