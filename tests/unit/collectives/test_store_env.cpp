// The rendezvous store (set/get/add/check/wait/barrier, timeouts, several clients) and launcher
// environment detection (torchrun, OpenMPI, Slurm, bad values).
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <thread>
#include <vector>

#include "rfab/collectives/launch_env.hpp"
#include "rfab/collectives/store.hpp"
#include "rfab/collectives/types.hpp"

using namespace rfab::coll;
using namespace std::chrono_literals;

TEST(Store, SetGetAddCheck) {
  StoreServer srv("127.0.0.1", 0);
  StoreClient a("127.0.0.1", srv.port(), 5s), b("127.0.0.1", srv.port(), 5s);
  EXPECT_FALSE(a.check("k"));
  a.set("k", std::string("v\0w", 3));
  EXPECT_TRUE(b.check("k"));
  EXPECT_EQ(b.get("k"), std::string("v\0w", 3));
  EXPECT_EQ(a.add("n", 5), 5);
  EXPECT_EQ(b.add("n", -2), 3);
  std::string big(1 << 20, 'x');
  a.set("big", big);
  EXPECT_EQ(b.get("big"), big);
}

TEST(Store, GetWaitsForALaterSet) {
  StoreServer srv("127.0.0.1", 0);
  StoreClient a("127.0.0.1", srv.port(), 5s);
  std::thread t([&] {
    std::this_thread::sleep_for(100ms);
    StoreClient b("127.0.0.1", srv.port(), 5s);
    b.set("late", "here");
  });
  EXPECT_EQ(a.get("late"), "here");
  t.join();
}

TEST(Store, GetTimesOutNamingTheKey) {
  StoreServer srv("127.0.0.1", 0);
  StoreClient a("127.0.0.1", srv.port(), 300ms);
  auto t0 = Clock::now();
  try {
    a.get("never");
    FAIL() << "get returned";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::Timeout);
    EXPECT_NE(std::string(e.what()).find("never"), std::string::npos) << e.what();
  }
  EXPECT_LT(Clock::now() - t0, 3s);
  // The client reconnects for the next call.
  a.set("x", "1");
  EXPECT_EQ(a.get("x"), "1");
}

TEST(Store, ConnectTimesOutWhenNobodyListens) {
  uint16_t port;
  {
    StoreServer srv("127.0.0.1", 0);
    port = srv.port();
  }
  EXPECT_THROW(StoreClient("127.0.0.1", port, 300ms), Error);
}

TEST(Store, BarrierReleasesAllOnlyWhenAllArrive) {
  StoreServer srv("127.0.0.1", 0);
  constexpr int kN = 6;
  std::atomic<int> passed{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < kN; ++i)
    ts.emplace_back([&, i] {
      StoreClient c("127.0.0.1", srv.port(), 10s);
      std::this_thread::sleep_for(std::chrono::milliseconds(20 * i));
      c.barrier("b", kN);
      passed.fetch_add(1);
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(passed.load(), kN);
}

namespace {
EnvLookup env_of(const std::map<std::string, std::string>& m) {
  return [m](const char* k) -> const char* {
    auto it = m.find(k);
    return it == m.end() ? nullptr : it->second.c_str();
  };
}
}  // namespace

TEST(LaunchEnv, Torchrun) {
  auto li = detect_launch(env_of({{"RANK", "3"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"}, {"LOCAL_WORLD_SIZE", "2"},
                                  {"MASTER_ADDR", "10.0.0.1"}, {"MASTER_PORT", "29501"}}));
  EXPECT_EQ(li.source, "torchrun");
  EXPECT_EQ(li.rank, 3);
  EXPECT_EQ(li.world_size, 8);
  EXPECT_EQ(li.local_rank, 1);
  EXPECT_EQ(li.local_world_size, 2);
  EXPECT_EQ(li.master_addr, "10.0.0.1");
  EXPECT_EQ(li.master_port, 29501);
}

TEST(LaunchEnv, StorePortOverridesMasterPortUnderRfabRun) {
  // rfab run: MASTER_PORT belongs to PyTorch's TCPStore, rfab's store is at RFAB_STORE_PORT.
  auto li = detect_launch(env_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "127.0.0.1"},
                                  {"MASTER_PORT", "29501"}, {"RFAB_STORE_PORT", "40123"}}));
  EXPECT_EQ(li.master_port, 40123);
  try {
    detect_launch(env_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"},
                          {"RFAB_STORE_PORT", "0"}}));
    ADD_FAILURE() << "RFAB_STORE_PORT=0 accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("RFAB_STORE_PORT"), std::string::npos) << e.what();
  }
}

TEST(LaunchEnv, OpenMpiSingleNodeUsesLoopbackAndAJobDerivedPort) {
  auto li = detect_launch(env_of({{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "4"},
                                  {"OMPI_COMM_WORLD_LOCAL_RANK", "1"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "4"},
                                  {"PMIX_NAMESPACE", "prterun-x-123@1"}}));
  EXPECT_EQ(li.source, "openmpi");
  EXPECT_EQ(li.rank, 1);
  EXPECT_EQ(li.world_size, 4);
  EXPECT_EQ(li.master_addr, "127.0.0.1");
  auto li2 = detect_launch(env_of({{"OMPI_COMM_WORLD_RANK", "0"}, {"OMPI_COMM_WORLD_SIZE", "4"},
                                   {"PMIX_NAMESPACE", "prterun-x-123@1"}}));
  EXPECT_EQ(li.master_port, li2.master_port);  // every rank derives the same port
  EXPECT_THROW(detect_launch(env_of({{"OMPI_COMM_WORLD_RANK", "0"}, {"OMPI_COMM_WORLD_SIZE", "4"},
                                     {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"}})),
               Error);  // multi-node without MASTER_ADDR
}

TEST(LaunchEnv, SlurmFirstHostOfTheNodeList) {
  auto li = detect_launch(env_of({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "1"},
                                  {"SLURM_NTASKS_PER_NODE", "4(x2)"}, {"SLURM_JOB_NODELIST", "gpu[07-08]"},
                                  {"SLURM_JOB_ID", "4242"}}));
  EXPECT_EQ(li.source, "slurm");
  EXPECT_EQ(li.rank, 5);
  EXPECT_EQ(li.world_size, 8);
  EXPECT_EQ(li.local_rank, 1);
  EXPECT_EQ(li.local_world_size, 4);
  EXPECT_EQ(li.master_addr, "gpu07");
  EXPECT_EQ(slurm_first_host("a1,b[2-3]"), "a1");
  EXPECT_EQ(slurm_first_host("n[3,5-9]x"), "n3x");
}

TEST(LaunchEnv, NoLauncherIsOneRank) {
  auto li = detect_launch(env_of({}));
  EXPECT_EQ(li.source, "single");
  EXPECT_EQ(li.world_size, 1);
}

TEST(LaunchEnv, BadValuesNameTheVariable) {
  auto expect_msg = [](const std::map<std::string, std::string>& m, const std::string& needle) {
    try {
      detect_launch(env_of(m));
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), Status::InvalidArgument);
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_msg({{"RANK", "8"}, {"WORLD_SIZE", "8"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}}, "RANK");
  expect_msg({{"RANK", "x"}, {"WORLD_SIZE", "8"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}}, "RANK");
  expect_msg({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}}, "MASTER_PORT");
  expect_msg({{"RANK", "0"}, {"WORLD_SIZE", "2"}}, "MASTER_ADDR");
}
