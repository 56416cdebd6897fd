// Collectives between network namespaces over the RoCE transport (root): ranks are forked processes that
// enter namespace A or B (joined by a veth pair), so ranks in different namespaces talk RoCE v2 over UDP
// and ranks sharing a namespace talk shared memory (2 x 2 ranks exercise the hierarchical path). Every
// collective is checked against the serial reference. Failure injection: kill -9 of a rank and a veth cut
// in the middle of allreduces; every survivor must fail within RFAB_TIMEOUT naming a peer, and the harness
// kills every rank at its own deadline, so a hang fails the test instead of blocking it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/wait.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "matrix.hpp"
#include "netns.hpp"
#include "rfab/collectives/store.hpp"

using namespace rfab::coll;
using namespace rfab::coll::test;
using rfab::systest::NetnsPair;
using Clock = std::chrono::steady_clock;

namespace {

// Extra seconds a sanitized build may take on top of a deadline (AddressSanitizer slows every rank several
// times, and CI runs two tests at once); a plain build gets none.
#if defined(__SANITIZE_ADDRESS__)
constexpr double kSanitizerSlackS = 10;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr double kSanitizerSlackS = 10;
#else
constexpr double kSanitizerSlackS = 0;
#endif
#else
constexpr double kSanitizerSlackS = 0;
#endif

constexpr int kGotExpectedError = 3, kWrongError = 4, kNoError = 5, kInitFailed = 6, kSlowAbort = 7;

// Runs `fn` in a child process after `delay` (forked now, while this process is single-threaded: see
// StoreProcess in harness.hpp for why ranks must not be forked next to other threads).
pid_t later(std::chrono::milliseconds delay, const std::function<void()>& fn) {
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    std::this_thread::sleep_for(delay);
    fn();
    _exit(0);
  }
  return pid;
}

// Two namespaces, a store served by a child process inside namespace A, and a unique id pointing at it.
struct Fabric {
  NetnsPair net;
  pid_t store_pid = -1;
  rfabUniqueId id{};
  int per_ns;

  // v6: the store (and so every rank's RoCE address, the route to it) uses the namespaces' IPv6 addresses.
  explicit Fabric(int ranks_per_ns, bool v6 = false) : per_ns(ranks_per_ns) {
    const std::string& store_ip = v6 ? net.ip6_a : net.ip4_a;
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe");
    std::fflush(stdout);
    std::fflush(stderr);
    store_pid = fork();
    if (store_pid == 0) {
      ::close(fds[0]);
      uint16_t port = 0;
      try {
        std::unique_ptr<StoreServer> store;
        net.in(net.ns_a, [&] { store = std::make_unique<StoreServer>(store_ip, 0); });
        port = store->port();
        if (write(fds[1], &port, sizeof port) != sizeof port) _exit(1);
        for (;;) pause();  // serves until the test kills it
      } catch (const std::exception& e) {
        std::fprintf(stderr, "store in %s: %s\n", net.ns_a.c_str(), e.what());
        _exit(1);
      }
    }
    ::close(fds[1]);
    uint16_t port = 0;
    const bool ok = read(fds[0], &port, sizeof port) == sizeof port && port != 0;
    ::close(fds[0]);
    if (!ok) throw std::runtime_error("store process in " + net.ns_a + " did not start");
    std::snprintf(id.internal, sizeof id.internal, "rfab1 netns%d %u %s", static_cast<int>(getpid()), port,
                  store_ip.c_str());
  }
  ~Fabric() {
    if (store_pid > 0) {
      kill(store_pid, SIGKILL);
      waitpid(store_pid, nullptr, 0);
    }
  }
  const std::string& ns_of(int rank) const { return rank / per_ns == 0 ? net.ns_a : net.ns_b; }

  // For run_ranks: the child enters its namespace for good and names its host after it.
  std::function<void(int)> placement() const {
    return [this](int rank) {
      const std::string& ns = ns_of(rank);
      int fd = ::open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
        std::fprintf(stderr, "rank %d: cannot enter %s\n", rank, ns.c_str());
        _exit(97);
      }
      ::close(fd);
      setenv("RFAB_HOSTNAME", ns.c_str(), 1);
    };
  }
};

#define REQUIRE_ROOT()                                                       \
  if (!rfab::systest::running_as_root()) GTEST_SKIP() << "needs root (network namespaces)"

void run_netns_matrix(int n, int per_ns, const Scope& s, const std::string& algo = "", bool v6 = false,
                      const char* inline_progress = nullptr) {
  Fabric f(per_ns, v6);
  auto res = run_ranks(
      n,
      [&](int rank, const rfabUniqueId& id) {
        setenv("RFAB_TIMEOUT", "20", 1);
        if (!algo.empty()) setenv("RFAB_ALGO", algo.c_str(), 1);
        if (inline_progress != nullptr) setenv("RFAB_ROCE_INLINE", inline_progress, 1);
        return rank_body(rank, n, id, algo.empty() ? "auto" : "forced", s);
      },
      std::chrono::seconds(60), f.placement(), &f.id);
  EXPECT_TRUE(all_ok(res)) << describe(res);
}

}  // namespace

TEST(CollRoceNetns, TwoRanksEveryCollective) {
  REQUIRE_ROOT();
  Scope s{{Coll::AllReduce, Coll::Broadcast, Coll::Reduce, Coll::AllGather, Coll::ReduceScatter, Coll::AllToAll,
           Coll::SendRecv, Coll::Barrier},
          {DataType::I8, DataType::I32, DataType::U64, DataType::F16, DataType::BF16, DataType::F32, DataType::F64},
          {RedOp::Sum, RedOp::Prod, RedOp::Min, RedOp::Avg},
          {0, 1, 7, 13, 300007}};
  run_netns_matrix(2, 1, s);
}

// Every packet through the datapath thread (RFAB_ROCE_INLINE=0): the path a rank takes whenever it is
// not spinning in a collective, forced for whole calls.
TEST(CollRoceNetns, TwoRanksWithoutInlineProgress) {
  REQUIRE_ROOT();
  Scope s{{Coll::AllReduce, Coll::AllGather, Coll::ReduceScatter, Coll::AllToAll, Coll::SendRecv, Coll::Barrier},
          {DataType::I32, DataType::F32},
          {RedOp::Sum, RedOp::Max},
          {0, 1, 13, 300007}};
  run_netns_matrix(2, 1, s, "", false, "0");
}

// RoCE v2 over IPv6 end to end: bootstrap, QP addressing (IPv6 GRH-equivalent headers, ICRC over the
// IPv6 pseudo-header) and the ring protocol.
TEST(CollRoceNetns, TwoRanksOverIpv6) {
  REQUIRE_ROOT();
  Scope s{{Coll::AllReduce, Coll::Broadcast, Coll::AllGather, Coll::ReduceScatter, Coll::AllToAll, Coll::SendRecv},
          {DataType::I32, DataType::F32},
          {RedOp::Sum, RedOp::Max},
          {0, 1, 13, 300007}};
  run_netns_matrix(2, 1, s, "", /*v6=*/true);
}

// 2 namespaces x 2 ranks: shared memory inside a namespace, RoCE between them, hierarchical allreduce.
TEST(CollRoceNetns, FourRanksHierarchicalShmAndRoce) {
  REQUIRE_ROOT();
  Scope s{{Coll::AllReduce, Coll::Broadcast, Coll::Reduce, Coll::AllGather, Coll::ReduceScatter, Coll::AllToAll,
           Coll::SendRecv, Coll::Barrier},
          {DataType::U8, DataType::I32, DataType::F32, DataType::BF16, DataType::F64},
          {RedOp::Sum, RedOp::Max, RedOp::Avg},
          {0, 1, 13, 200003}};
  run_netns_matrix(4, 2, s);
}

// The flat algorithms across both transports at once (every ring step mixes shm and RoCE neighbours).
TEST(CollRoceNetns, FourRanksFlatAlgorithmsAcrossTransports) {
  REQUIRE_ROOT();
  Scope s{{Coll::AllReduce}, {DataType::I32, DataType::F32}, {RedOp::Sum, RedOp::Min}, {1, 13, 100003}};
  for (const char* algo : {"allreduce=ring", "allreduce=rhd", "allreduce=tree"}) {
    SCOPED_TRACE(algo);
    run_netns_matrix(4, 2, s, algo);
  }
}

// (ranks, ranks per namespace): 2 x 1 = the victim is reachable over RoCE only (retry budget / keep-alive);
// 2 x 2 = its namespace neighbour sees it die through shared memory and tells the others.
class KillNine : public ::testing::TestWithParam<std::tuple<int, int>> {};

TEST_P(KillNine, MidAllreduceErrorsOnEverySurvivorWithinTimeout) {
  REQUIRE_ROOT();
  const auto [kRanks, per_ns] = GetParam();
  const int kVictim = kRanks - 1;  // in namespace B
  constexpr double kTimeoutS = 5;
  Fabric f(per_ns);
  auto res = run_ranks(
      kRanks,
      [&](int rank, const rfabUniqueId& id) -> int {
        setenv("RFAB_TIMEOUT", "5", 1);
        rfabComm_t comm;
        if (rfabCommInitRank(&comm, kRanks, id, rank) != rfabSuccess) return kInitFailed;
        std::vector<float> buf(1 << 21, 1.0f);  // 8 MiB per allreduce
        if (rank == kVictim) {
          std::thread([] {
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
            raise(SIGKILL);
          }).detach();
        }
        auto stop = Clock::now() + std::chrono::seconds(30);
        while (Clock::now() < stop) {
          rfabResult_t rc = rfabAllReduce(buf.data(), buf.data(), buf.size(), rfabFloat32, rfabMax, comm);
          if (rc == rfabSuccess) continue;
          std::string msg = rfabGetLastError(comm);
          std::fprintf(stderr, "rank %d: %s: %s\n", rank, rfabGetErrorString(rc), msg.c_str());
          // The victim, or a survivor that already failed because of it (and told us), with its host.
          bool names_peer = msg.find("rank ") != std::string::npos && msg.find("host ") != std::string::npos;
          rfabCommAbort(comm);  // must not hang
          return (rc == rfabRemoteError || rc == rfabTimeout) && names_peer ? kGotExpectedError : kWrongError;
        }
        rfabCommDestroy(comm);
        return kNoError;
      },
      std::chrono::seconds(40), f.placement(), &f.id);
  for (int r = 0; r < kRanks; ++r) {
    const auto& e = res[static_cast<size_t>(r)];
    if (r == kVictim) {
      EXPECT_FALSE(e.exited) << describe(res);
      continue;
    }
    EXPECT_FALSE(e.timed_out) << describe(res);
    EXPECT_TRUE(e.exited && e.code == kGotExpectedError) << "rank " << r << "\n" << describe(res);
    EXPECT_LT(e.seconds, 0.5 + kTimeoutS + 3 + kSanitizerSlackS) << "rank " << r << " took too long\n" << describe(res);
  }
}
INSTANTIATE_TEST_SUITE_P(CollRoceNetns, KillNine, ::testing::Values(std::tuple{2, 1}, std::tuple{4, 2}),
                         [](const auto& p) {
                           return std::to_string(std::get<0>(p.param)) + "ranks_" +
                                  std::to_string(std::get<1>(p.param)) + "per_ns";
                         });

TEST(CollRoceNetns, CutVethMidAllreduceErrorsOnBothSidesNamingThePeer) {
  REQUIRE_ROOT();
  constexpr double kTimeoutS = 5;
  Fabric f(1);
  const std::string cut = "ip -n " + f.net.ns_a + " link set " + f.net.if_a + " down";
  pid_t cutter = later(std::chrono::milliseconds(1500), [&] {
    execlp("sh", "sh", "-c", cut.c_str(), static_cast<char*>(nullptr));
  });
  auto res = run_ranks(
      2,
      [&](int rank, const rfabUniqueId& id) -> int {
        setenv("RFAB_TIMEOUT", "5", 1);
        rfabComm_t comm;
        if (rfabCommInitRank(&comm, 2, id, rank) != rfabSuccess) return kInitFailed;
        std::vector<float> buf(1 << 20, 1.0f);
        auto stop = Clock::now() + std::chrono::seconds(30);
        while (Clock::now() < stop) {
          rfabResult_t rc = rfabAllReduce(buf.data(), buf.data(), buf.size(), rfabFloat32, rfabSum, comm);
          if (rc == rfabSuccess) continue;
          std::string msg = rfabGetLastError(comm);
          std::fprintf(stderr, "rank %d: %s: %s\n", rank, rfabGetErrorString(rc), msg.c_str());
          const std::string peer = "rank " + std::to_string(1 - rank);
          bool names_peer = msg.find(peer) != std::string::npos && msg.find("host ") != std::string::npos;
          // Aborting must not wait for the cut link to deliver anything.
          const auto abort_start = Clock::now();
          rfabCommAbort(comm);
          if (Clock::now() - abort_start > std::chrono::seconds(1)) return kSlowAbort;
          return (rc == rfabRemoteError || rc == rfabTimeout) && names_peer ? kGotExpectedError : kWrongError;
        }
        rfabCommDestroy(comm);
        return kNoError;
      },
      std::chrono::seconds(40), f.placement(), &f.id);
  waitpid(cutter, nullptr, 0);
  for (int r = 0; r < 2; ++r) {
    const auto& e = res[static_cast<size_t>(r)];
    EXPECT_FALSE(e.timed_out) << describe(res);
    EXPECT_TRUE(e.exited && e.code == kGotExpectedError) << "rank " << r << "\n" << describe(res);
    // The rank's time counts from its start: communicator set-up, the cut 1.5 s in, then at most the
    // no-progress timeout. With other tests running on both cores a rank has taken 11.5 s in all.
    EXPECT_LT(e.seconds, 1.5 + kTimeoutS + 6 + kSanitizerSlackS) << "rank " << r << " took too long\n" << describe(res);
  }
}

// Bad configuration is an error naming the variable, before any traffic.
TEST(CollRoceNetns, MalformedRoceAddressIsRejectedNamingTheVariable) {
  REQUIRE_ROOT();
  Fabric f(1);
  auto res = run_ranks(
      2,
      [&](int rank, const rfabUniqueId& id) -> int {
        setenv("RFAB_TIMEOUT", "2", 1);
        if (rank == 1) setenv("RFAB_ROCE_ADDR", "10.0.0.300", 1);
        rfabComm_t comm;
        if (rfabCommInitRank(&comm, 2, id, rank) == rfabSuccess) return kNoError;
        std::string msg = rfabGetLastError(nullptr);
        std::fprintf(stderr, "rank %d: %s\n", rank, msg.c_str());
        if (rank == 1) return msg.find("RFAB_ROCE_ADDR") != std::string::npos ? kGotExpectedError : kWrongError;
        return kGotExpectedError;  // rank 0 fails waiting for rank 1's endpoint (timeout)
      },
      std::chrono::seconds(30), f.placement(), &f.id);
  for (const auto& e : res) EXPECT_TRUE(e.exited && e.code == kGotExpectedError) << describe(res);
}
