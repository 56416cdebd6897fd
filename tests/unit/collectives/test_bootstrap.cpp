// The pieces of Communicator::bootstrap: typed peer records, rendezvous through the store, host identity,
// placement of ranks on machines and spin tuning (collectives/src, private headers).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <thread>

#include "host_identity.hpp"
#include "peer_record.hpp"
#include "rendezvous.hpp"
#include "rfab/base/env.hpp"
#include "rfab/collectives/store.hpp"
#include "rfab/collectives/types.hpp"
#include "spin_tuning.hpp"
#include "transport_builders.hpp"

namespace rfab::coll {
namespace {

using namespace std::chrono_literals;
using Vars = std::map<std::string, std::string>;

PeerRecord record(std::string host, std::string machine, int nranks = 2) {
  PeerRecord r;
  r.host = std::move(host);
  r.machine = std::move(machine);
  r.pid = 1234;
  r.segment = "/rfab-job-0";
  r.nranks = nranks;
  r.cpus = {0, 1};
  return r;
}

std::string error_of(auto&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(PeerRecord, RoundTrips) {
  const PeerRecord r = record("node1", "boot/node1/net:[1]", 4);
  const PeerRecord d = PeerRecord::decode(r.encode(), 3);
  EXPECT_EQ(d.host, r.host);
  EXPECT_EQ(d.machine, r.machine);
  EXPECT_EQ(d.pid, r.pid);
  EXPECT_EQ(d.segment, r.segment);
  EXPECT_EQ(d.nranks, 4);
  EXPECT_EQ(d.cpus, (std::vector<uint32_t>{0, 1}));
}

TEST(PeerRecord, CpuListsRoundTripAsLinuxWritesThem) {
  EXPECT_EQ(format_cpu_list({}), "");
  EXPECT_EQ(format_cpu_list({3}), "3");
  EXPECT_EQ(format_cpu_list({0, 1, 2, 3, 8, 10, 11}), "0-3,8,10-11");
  for (const char* text : {"", "0", "0-3,8,10-11", "5-5", "8191"})
    EXPECT_EQ(format_cpu_list(parse_cpu_list(text)), std::string(text) == "5-5" ? "5" : text) << text;
  auto err = [](const char* text) {
    try {
      parse_cpu_list(text);
    } catch (const ParseError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(err("3-1").find("reversed"), std::string::npos);
  EXPECT_NE(err("0-3,2").find("ascending"), std::string::npos);
  EXPECT_NE(err("0,0").find("ascending"), std::string::npos);
  EXPECT_NE(err("8192").find("CPU"), std::string::npos);
  EXPECT_NE(err("a").find("CPU"), std::string::npos);
  EXPECT_NE(err("1,").find("CPU"), std::string::npos);
  EXPECT_NE(err("-1").find("CPU"), std::string::npos);
}

TEST(PeerRecord, MalformedRecordsNameTheRankAndTheProblem) {
  EXPECT_EQ(error_of([] { PeerRecord::decode("node1\nm\n12", 5); }),
            "malformed rendezvous record of rank 5: expected 6 lines (host, machine, pid, segment, nranks, cpus), got 3");
  EXPECT_NE(error_of([] { PeerRecord::decode("h\nm\nabc\n/seg\n2\n0", 1); }).find("pid"), std::string::npos);
  EXPECT_NE(error_of([] { PeerRecord::decode("h\nm\n12\n/seg\n-2\n0", 1); }).find("nranks"), std::string::npos);
  EXPECT_NE(error_of([] { PeerRecord::decode("h\nm\n12\n/seg\n99999999999\n0", 1); }).find("nranks"), std::string::npos);
  EXPECT_NE(error_of([] { PeerRecord::decode("\nm\n12\n/seg\n2\n0", 1); }).find("empty"), std::string::npos);
  EXPECT_NE(error_of([] { PeerRecord::decode("h\nm\n12\n/seg\n2\n1-0", 1); }).find("CPU range"), std::string::npos);
  EXPECT_TRUE(PeerRecord::decode("h\nm\n12\n/seg\n2\n", 1).cpus.empty());  // unknown affinity
  PeerRecord bad = record("two\nlines", "m");
  EXPECT_NE(error_of([&] { (void)bad.encode(); }).find("newline"), std::string::npos);
}

TEST(Rendezvous, CollectsEveryRanksRecordAndChecksTheSize) {
  StoreServer server("127.0.0.1", 0);
  std::vector<PeerRecord> seen0, seen1;
  std::thread other([&] {
    StoreClient s("127.0.0.1", server.port(), 5s);
    seen1 = exchange_records(s, "rdv", 1, 2, record("b", "mb"));
  });
  StoreClient s("127.0.0.1", server.port(), 5s);
  seen0 = exchange_records(s, "rdv", 0, 2, record("a", "ma"));
  other.join();
  ASSERT_EQ(seen0.size(), 2u);
  ASSERT_EQ(seen1.size(), 2u);
  EXPECT_EQ(seen0[1].host, "b");
  EXPECT_EQ(seen1[0].machine, "ma");

  StoreClient c("127.0.0.1", server.port(), 5s);
  c.set("mismatch/info/1", record("b", "mb", 3).encode());
  const std::string m = error_of([&] { exchange_records(c, "mismatch", 0, 2, record("a", "ma")); });
  EXPECT_EQ(m, "rank 1 was started with nranks=3, this rank with 2");
}

TEST(HostIdentity, HostnameAndShmSwitch) {
  {
    env::ScopedLookup env(Vars{{"RFAB_HOSTNAME", "logical-7"}});
    EXPECT_EQ(logical_host(), "logical-7");
    const std::string m = machine_id(3);
    EXPECT_EQ(std::count(m.begin(), m.end(), '/'), 2) << m;  // boot_id/hostname/netns
  }
  {
    env::ScopedLookup env(Vars{{"RFAB_SHM", "0"}});
    EXPECT_NE(machine_id(3).find("/rank3"), std::string::npos);  // every rank its own machine
    EXPECT_TRUE(same_kernel(machine_id(3), machine_id(4)));
  }
  env::ScopedLookup env(Vars{{"RFAB_SHM", "sometimes"}});
  EXPECT_NE(error_of([] { machine_id(0); }).find("RFAB_SHM='sometimes'"), std::string::npos);
  EXPECT_FALSE(same_kernel("b1/h/n", "b2/h/n"));
}

TEST(Placement, LocalAndRemoteRanks) {
  const std::vector<PeerRecord> recs = {record("h0", "m0", 4), record("h1", "m1", 4), record("h0", "m0", 4),
                                        record("h1", "m1", 4)};
  const Placement p{2, 4, "job", &recs, &recs[2]};
  EXPECT_TRUE(p.local(0));
  EXPECT_FALSE(p.local(1));
  EXPECT_EQ(p.local_count(), 2);
  EXPECT_EQ(p.local_index(), 1);
  EXPECT_EQ(p.remote(), (std::vector<int>{1, 3}));
  EXPECT_EQ(shm_segment_name("a/b", 2), "/rfab-a_b-2");
}

TEST(SpinTuning, DefaultsOversubscriptionAndOverride) {
  env::ScopedLookup none(Vars{});
  SpinTuning t = tune_spin(2, 4, false, false);
  EXPECT_EQ(t.spin, 200us);
  EXPECT_EQ(t.drive_spin, 0us);
  t = tune_spin(4, 2, false, false);  // more application threads than cores
  EXPECT_EQ(t.spin, 2us);
  t = tune_spin(2, 2, true, true);  // datapath threads double the demand; inline progress spins 1 ms
  EXPECT_EQ(t.spin, 2us);
  EXPECT_EQ(t.drive_spin, 1000us);
  {
    env::ScopedLookup env(Vars{{"RFAB_SPIN_US", "50"}});
    t = tune_spin(2, 4, true, true);
    EXPECT_EQ(t.spin, 50us);
    EXPECT_EQ(t.drive_spin, 50us);
  }
  env::ScopedLookup env(Vars{{"RFAB_SPIN_US", "2000000"}});
  const std::string m = error_of([] { tune_spin(1, 1, false, false); });
  EXPECT_NE(m.find("RFAB_SPIN_US='2000000'"), std::string::npos) << m;
  const std::vector<PeerRecord> recs = {record("a", "b1/h/n1"), record("a", "b1/h/n2"), record("a", "b2/h/n1")};
  EXPECT_EQ(ranks_on_this_kernel(recs, "b1/h/n1"), 2u);
}

TEST(SpinTuning, RanksPinnedToTheirOwnCpusDoNotShareThem) {
  std::vector<PeerRecord> recs = {record("a", "b1/h/n1"), record("a", "b1/h/n2"), record("a", "b2/h/n1")};
  recs[0].cpus = {0};
  recs[1].cpus = {1};
  recs[2].cpus = {0};  // another kernel: not counted
  EXPECT_EQ(cores_of_kernel(recs, "b1/h/n1", 1), 2u);
  recs[1].cpus = {0};  // both pinned to CPU 0 (taskset on the whole job)
  EXPECT_EQ(cores_of_kernel(recs, "b1/h/n1", 1), 1u);
  recs[0].cpus = {0, 1, 2, 3};
  EXPECT_EQ(cores_of_kernel(recs, "b1/h/n1", 1), 4u);
  recs[1].cpus.clear();  // a record without CPUs: this process's own count
  EXPECT_EQ(cores_of_kernel(recs, "b1/h/n1", 7), 7u);
  EXPECT_FALSE(affinity_cpus().empty());
  EXPECT_EQ(affinity_cpus().size(), usable_cores());
}

}  // namespace
}  // namespace rfab::coll
