// `rfab emulate --partitions`: the same scenario in one queue, split over threads, and split over MPI ranks
// (mpirun -np 2 and -np 4 on this host) must print the same report and write the same --telemetry file,
// byte for byte; and what a partitioned run cannot do is refused, naming the option.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "test_support.hpp"

namespace {

const std::string kRfab = RFAB_CLI;

struct Outcome {
  int rc = 0;
  std::string out;
};

Outcome run_rfab(const std::string& args, const std::string& launcher = "") {
  Outcome r;
  r.out = rfab::test::run_command(launcher + kRfab + " " + args + " 2>&1 </dev/null", &r.rc);
  return r;
}

std::string mpirun(uint32_t ranks) {
#ifdef RFAB_MPIRUN
  // The MPI library's own allocations outlive MPI_Finalize: in a sanitizer build they are not rfab's leaks.
  return "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 " + std::string(RFAB_MPIRUN) +
         " --allow-run-as-root --oversubscribe -np " + std::to_string(ranks) + " ";
#else
  (void)ranks;
  return "";
#endif
}

std::string tmp(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("rfab-emuparts-" + std::to_string(getpid()) + "-" + name)).string();
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// The JSON report without what measures the emulator rather than the fabric (time, memory).
std::string fabric_figures(const std::string& out) {
  nlohmann::json j = nlohmann::json::parse(out);
  // The estimate differs too: a split run with --telemetry also holds the reduced counters (budget.hpp).
  for (const char* k : {"cpu_seconds", "wall_seconds", "peak_rss_bytes", "events_per_second", "memory_estimate_bytes"})
    j.erase(k);
  return j.dump();
}

// Runs `args` in one queue and then as `launcher` + `extra`, and expects the same report and records.
void expect_same_run(const std::string& args, const std::string& launcher, const std::string& extra, const std::string& what) {
  SCOPED_TRACE(what);
  const std::string t1 = tmp("one.jsonl"), t2 = tmp("split.jsonl");
  const Outcome one = run_rfab("emulate " + args + " --json --quiet --telemetry " + t1);
  ASSERT_EQ(one.rc, 0) << one.out;
  const Outcome split = run_rfab("emulate " + args + " --json --quiet --telemetry " + t2 + extra, launcher);
  ASSERT_EQ(split.rc, 0) << split.out;
  EXPECT_EQ(fabric_figures(one.out), fabric_figures(split.out));
  EXPECT_GT(nlohmann::json::parse(split.out)["memory_estimate_bytes"].get<uint64_t>(),
            nlohmann::json::parse(one.out)["memory_estimate_bytes"].get<uint64_t>());
  const std::string rec1 = slurp(t1), rec2 = slurp(t2);
  EXPECT_GT(rec1.size(), 1000u);
  EXPECT_TRUE(rec1 == rec2) << "--telemetry records differ (" << rec1.size() << " and " << rec2.size() << " bytes)";
  std::filesystem::remove(t1);
  std::filesystem::remove(t2);
}

const std::string kPfcDcqcn =
    "--topo fat-tree:k=8,tiers=3,speed=100G --traffic permutation:bytes=256K --time 60us --warmup 5us --cc dcqcn";
const std::string kAr = kPfcDcqcn + " --routing ar";

}  // namespace

TEST(EmuPartitions, ThreadsMatchOneQueue) {
  expect_same_run(kPfcDcqcn, "", " --partitions 3", "pfc + dcqcn, 3 threads");
  expect_same_run(kAr, "", " --partitions 8", "ar, 8 threads");
}

TEST(EmuPartitions, MpiRanksMatchOneQueue) {
#ifndef RFAB_MPIRUN
  GTEST_SKIP() << "rfab was built without MPI";
#endif
  const Outcome one = run_rfab("emulate " + kPfcDcqcn + " --json --quiet");
  ASSERT_EQ(one.rc, 0) << one.out;
  const nlohmann::json j = nlohmann::json::parse(one.out);
  ASSERT_GT(j["pfc_pauses"].get<uint64_t>() + j["cnps"].get<uint64_t>(), 0u) << "the scenario must pause or notify";
  for (uint32_t ranks : {2u, 4u}) {
    expect_same_run(kPfcDcqcn, mpirun(ranks), "", "pfc + dcqcn, mpirun -np " + std::to_string(ranks));
    expect_same_run(kAr, mpirun(ranks), " --partitions mpi", "ar, mpirun -np " + std::to_string(ranks));
  }
}

TEST(EmuPartitions, MpiRanksAgreeOnErrors) {
#ifndef RFAB_MPIRUN
  GTEST_SKIP() << "rfab was built without MPI";
#endif
  // Every rank refuses alike; the error is printed once, by rank 0.
  const Outcome r = run_rfab("emulate " + kPfcDcqcn + " --hosts rc --quiet", mpirun(2));
  EXPECT_EQ(r.rc, 2) << r.out;
  const size_t first = r.out.find("hosts: 'rc' does not run partitioned");
  ASSERT_NE(first, std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("hosts: 'rc' does not run partitioned", first + 1), std::string::npos) << r.out;
}

TEST(EmuPartitions, RefusesWhatItCannotRun) {
  auto refused = [](const std::string& extra, const std::string& word) {
    const Outcome r = run_rfab("emulate --topo fat-tree:k=4,tiers=3 --time 5us --quiet --partitions 2 " + extra);
    EXPECT_EQ(r.rc, 2) << extra << ": " << r.out;
    EXPECT_NE(r.out.find(word), std::string::npos) << extra << ": " << r.out;
  };
  refused("--report " + tmp("r.html"), "--report");
  refused("--prometheus 127.0.0.1:0", "--prometheus");
  refused("--engine flow", "engine");
  refused("--hosts rc", "hosts");
  refused("--routing ar:view=path", "view=path");
  refused("--traffic ring:bytes=1M,steps=2", "traffic");
  const Outcome many = run_rfab("emulate --topo fat-tree:k=4,tiers=3 --time 5us --quiet --partitions 5");
  EXPECT_EQ(many.rc, 2);
  EXPECT_NE(many.out.find("4 pods"), std::string::npos) << many.out;
  for (const char* bad : {"0", "257", "two", "-1"}) {
    const Outcome r = run_rfab(std::string("emulate --time 5us --quiet --partitions ") + bad);
    EXPECT_EQ(r.rc, 2) << bad;
    EXPECT_NE(r.out.find("--partitions"), std::string::npos) << r.out;
  }
}
