// `rfab run` and `rfab coll` end to end: launching ranks, output prefixes, worst exit code, stopping the
// others when one fails, and nccl-tests-style results with validation, as text and JSON.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

namespace {

struct CliRun {
  int code;
  std::string out;
  double seconds;
};

CliRun run(const std::string& args) {
  std::string cmd = std::string("timeout 120 ") + RFAB_CLI + " " + args + " 2>&1";
  auto t0 = std::chrono::steady_clock::now();
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = pclose(p);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return {WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), out, s};
}

}  // namespace

TEST(RfabRun, SetsLauncherEnvironmentAndPrefixesOutput) {
  CliRun r = run("run -n 3 -- sh -c 'echo rank=$RANK size=$WORLD_SIZE local=$LOCAL_RANK port=$MASTER_PORT'");
  EXPECT_EQ(r.code, 0) << r.out;
  for (int i = 0; i < 3; ++i)
    EXPECT_NE(r.out.find("[" + std::to_string(i) + "] rank=" + std::to_string(i) + " size=3 local=" + std::to_string(i)),
              std::string::npos)
        << r.out;
}

// PyTorch's rank 0 binds a TCPStore at MASTER_PORT: it must be free, and not rfab's own store port.
TEST(RfabRun, LeavesMasterPortFreeForPyTorch) {
  CliRun r = run("run -n 2 -- sh -c 'echo agent=$TORCHELASTIC_USE_AGENT_STORE; "
                 "test -n \"$RFAB_STORE_PORT\" && test \"$MASTER_PORT\" != \"$RFAB_STORE_PORT\" && echo ports-differ'");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("[0] agent=False"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[1] ports-differ"), std::string::npos) << r.out;
}

TEST(RfabRun, ReturnsTheWorstExitCode) {
  // The ranks ignore rfab's SIGTERM, so every one exits with its own code.
  CliRun r = run("run -n 4 --no-prefix -- sh -c 'trap \"\" TERM; sleep 0.3; exit $RANK'");
  EXPECT_EQ(r.code, 3) << r.out;
}

TEST(RfabRun, OneFailingRankStopsTheOthersQuickly) {
  CliRun r = run("run -n 3 -- sh -c 'if [ $RANK = 1 ]; then exit 7; fi; sleep 60'");
  EXPECT_EQ(r.code, 7) << r.out;  // not the SIGTERM of the ranks rfab stopped
  EXPECT_LT(r.seconds, 20) << r.out;
  EXPECT_NE(r.out.find("rank 1 exited with code 7"), std::string::npos) << r.out;
}

TEST(RfabRun, MissingProgramIsAUsageError) {
  CliRun r = run("run -n 2 -- /nonexistent/program");
  EXPECT_EQ(r.code, 127) << r.out;
  EXPECT_NE(r.out.find("cannot execute"), std::string::npos) << r.out;
}

TEST(RfabColl, AllreduceTableUnderRfabRun) {
  CliRun r = run("run -n 3 -- " + std::string(RFAB_CLI) + " coll allreduce -b 8 -e 1M -f 16 -n 3 -w 1 -c 1 -d float -o sum");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("size        count     type  redop   root     time   algbw   busbw #wrong"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("# Avg bus bandwidth"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("# Out of bounds values : 0 OK"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("[1] "), std::string::npos) << "only rank 0 prints\n" << r.out;
}

TEST(RfabColl, EveryCollectiveValidatesAsJson) {
  double cpu_total = 0;  // the ranks spin while they wait, so the timed loops use CPU in every run
  for (std::string c : {"allreduce", "allgather", "reducescatter", "alltoall", "broadcast", "reduce", "sendrecv"}) {
    for (std::string d : {"int8", "half", "bfloat16", "double"}) {
      CliRun r = run("run -n 3 --no-prefix -- " + std::string(RFAB_CLI) + " coll " + c +
                  " -b 64 -e 256K -f 64 -n 2 -w 1 -c 1 -r 1 -o max -d " + d + " --json");
      ASSERT_EQ(r.code, 0) << c << " " << d << "\n" << r.out;
      auto j = nlohmann::json::parse(r.out);
      EXPECT_EQ(j["collective"], c);
      EXPECT_EQ(j["nranks"], 3);
      EXPECT_EQ(j["wrong"], 0);
      ASSERT_EQ(j["rows"].size(), 3u) << r.out;
      double factor = c == "allreduce" ? 4.0 / 3 : (c == "allgather" || c == "reducescatter" || c == "alltoall") ? 2.0 / 3 : 1.0;
      for (const auto& row : j["rows"]) {
        double alg = row["out_of_place"]["algbw_GBps"], bus = row["out_of_place"]["busbw_GBps"];
        EXPECT_NEAR(bus, alg * factor, 1e-9 + alg * 1e-9) << c;
        EXPECT_GT(row["out_of_place"]["time_us"].get<double>(), 0.0);
        for (const char* side : {"out_of_place", "in_place"}) {
          const double user = row[side]["cpu_user_us"], sys = row[side]["cpu_sys_us"];
          EXPECT_GE(user, 0.0) << c;
          EXPECT_GE(sys, 0.0) << c;
          cpu_total += user + sys;
        }
      }
    }
  }
  EXPECT_GT(cpu_total, 0.0);
}

TEST(RfabColl, BadFlagsAreUsageErrors) {
  EXPECT_EQ(run("coll allreduce -d float7").code, 2);
  EXPECT_EQ(run("coll allreduce -o mean").code, 2);
  EXPECT_EQ(run("coll allreduce -b 1Q").code, 2);
  EXPECT_EQ(run("coll gatherall").code, 2);
  EXPECT_EQ(run("coll alltoall -a ring").code, 2);
  CliRun r = run("coll allreduce -b 8 -e 64 -n 1 -w 0");  // no launcher: one rank
  EXPECT_EQ(r.code, 0) << r.out;
}
