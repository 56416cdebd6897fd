// `rfab run` owns its ranks: a stop signal to the launcher (SIGINT, SIGTERM, SIGHUP, also through
// `timeout`) reaches every rank, ranks that ignore it are killed after the grace period, a launcher killed
// outright takes its ranks with it, and no shared-memory segment of the job is left in /dev/shm when set-up
// fails. Ranks of two jobs on one MASTER_PORT are refused, not mixed. Every check is by PID or by name.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {
using namespace std::chrono_literals;

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A process started through /bin/sh with its output in a file.
class Proc {
 public:
  Proc(const std::string& cmd, const std::string& log) : log_(log) {
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);  // signals in a test go to this process only, as a terminal's would go to the launcher
      execl("/bin/sh", "sh", "-c", ("exec " + cmd + " > " + log + " 2>&1").c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~Proc() {
    if (status_ < 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status_, 0);
    }
    std::remove(log_.c_str());
  }
  pid_t pid() const { return pid_; }
  // Exit code (128+signal when killed), or -1 if still running after `timeout`.
  int wait(std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (status_ < 0) {
      int st;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        status_ = st;
        break;
      }
      if (std::chrono::steady_clock::now() > end) return -1;
      std::this_thread::sleep_for(20ms);
    }
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
  }
  std::string output() const { return slurp(log_); }

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  std::string log_;
};

bool alive(pid_t pid) {
  if (kill(pid, 0) != 0) return errno != ESRCH;
  // A zombie is dead; its parent (init after the launcher died) reaps it soon.
  const std::string st = slurp("/proc/" + std::to_string(pid) + "/stat");
  const size_t close = st.rfind(')');
  return close != std::string::npos && st.size() > close + 2 && st[close + 2] != 'Z';
}

// Waits until every PID is gone; the survivors after `timeout`.
std::vector<pid_t> survivors(const std::vector<pid_t>& pids, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::vector<pid_t> left;
    for (pid_t p : pids)
      if (alive(p)) left.push_back(p);
    if (left.empty() || std::chrono::steady_clock::now() > end) return left;
    std::this_thread::sleep_for(50ms);
  }
}

class RunProcesses : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = "/tmp/rfab-run-proc-" + std::to_string(getpid()) + "-" + std::to_string(counter_++);
    mkdir(dir_.c_str(), 0700);
  }
  void TearDown() override {
    for (pid_t p : pids_) kill(p, SIGKILL);
    std::system(("rm -rf " + dir_).c_str());
  }

  // `rfab run -n N` of ranks that write their PID to DIR/pid.RANK and then run `body`.
  std::string run_cmd(int n, const std::string& body, const std::string& prefix = "") const {
    return prefix + std::string(RFAB_CLI) + " run -n " + std::to_string(n) + " -- sh -c 'echo $$ > " + dir_ +
           "/pid.$RANK; " + body + "'";
  }

  // The ranks' PIDs once all N wrote them (empty after 10 s).
  std::vector<pid_t> rank_pids(int n) {
    const auto end = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < end) {
      std::vector<pid_t> out;
      for (int r = 0; r < n; ++r) {
        const std::string s = slurp(dir_ + "/pid." + std::to_string(r));
        if (!s.empty() && s.back() == '\n') out.push_back(static_cast<pid_t>(std::stol(s)));
      }
      if (static_cast<int>(out.size()) == n) {
        pids_ = out;
        return out;
      }
      std::this_thread::sleep_for(20ms);
    }
    return {};
  }

  std::string dir_;
  std::vector<pid_t> pids_;
  static inline int counter_ = 0;
};

TEST_F(RunProcesses, StopSignalsReachEveryRank) {
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    SCOPED_TRACE(strsignal(sig));
    SetUp();
    Proc launcher(run_cmd(3, "exec sleep 60"), dir_ + "/log");
    const std::vector<pid_t> ranks = rank_pids(3);
    ASSERT_EQ(ranks.size(), 3u) << launcher.output();
    kill(launcher.pid(), sig);
    EXPECT_EQ(launcher.wait(10s), 128 + sig) << launcher.output();
    EXPECT_TRUE(survivors(ranks, 5s).empty()) << "ranks outlived the launcher:\n" << launcher.output();
    EXPECT_NE(launcher.output().find("stopping every rank"), std::string::npos) << launcher.output();
  }
}

TEST_F(RunProcesses, RanksIgnoringTheSignalAreKilledAfterTheGracePeriod) {
  Proc launcher(run_cmd(2, "trap \"\" TERM INT HUP; sleep 60"), dir_ + "/log");
  const std::vector<pid_t> ranks = rank_pids(2);
  ASSERT_EQ(ranks.size(), 2u) << launcher.output();
  const auto t0 = std::chrono::steady_clock::now();
  kill(launcher.pid(), SIGTERM);
  EXPECT_EQ(launcher.wait(15s), 128 + SIGTERM) << launcher.output();
  EXPECT_TRUE(survivors(ranks, 5s).empty()) << launcher.output();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
}

TEST_F(RunProcesses, UnderTimeoutNoRankSurvives) {
  Proc launcher(run_cmd(3, "exec sleep 60", "timeout 2 "), dir_ + "/log");
  const std::vector<pid_t> ranks = rank_pids(3);
  ASSERT_EQ(ranks.size(), 3u) << launcher.output();
  EXPECT_EQ(launcher.wait(15s), 124) << launcher.output();
  EXPECT_TRUE(survivors(ranks, 5s).empty()) << launcher.output();
}

TEST_F(RunProcesses, RanksDieWithALauncherKilledOutright) {
  Proc launcher(run_cmd(3, "exec sleep 60"), dir_ + "/log");
  const std::vector<pid_t> ranks = rank_pids(3);
  ASSERT_EQ(ranks.size(), 3u) << launcher.output();
  kill(launcher.pid(), SIGKILL);
  EXPECT_EQ(launcher.wait(5s), 128 + SIGKILL);
  EXPECT_TRUE(survivors(ranks, 5s).empty()) << "PR_SET_PDEATHSIG did not take the ranks down";
}

TEST_F(RunProcesses, TimeoutMustBeAFiniteDuration) {
  for (const char* bad : {"nan", "inf", "-1", "1e400", "10x", "", "5 s"}) {
    Proc p(std::string(RFAB_CLI) + " run -n 1 --timeout '" + bad + "' -- true", dir_ + "/log");
    EXPECT_EQ(p.wait(10s), 2) << "--timeout '" << bad << "': " << p.output();
    EXPECT_NE(p.output().find("--timeout"), std::string::npos) << p.output();
  }
  for (const char* good : {"30", "2.5", "90s", "10m", "0"}) {
    Proc p(std::string(RFAB_CLI) + " run -n 1 --timeout " + good + " -- true", dir_ + "/log");
    EXPECT_EQ(p.wait(10s), 0) << "--timeout " << good << ": " << p.output();
  }
  // The limit applies: a job longer than --timeout 1s is stopped.
  Proc p(std::string(RFAB_CLI) + " run -n 2 --timeout 1s -- sleep 30", dir_ + "/log");
  EXPECT_NE(p.wait(10s), 0) << p.output();
  EXPECT_NE(p.output().find("exceeded --timeout"), std::string::npos) << p.output();
}

std::vector<std::string> shm_entries(const std::string& needle) {
  std::vector<std::string> out;
  if (DIR* d = opendir("/dev/shm")) {
    while (dirent* e = readdir(d))
      if (std::strstr(e->d_name, needle.c_str()) != nullptr) out.emplace_back(e->d_name);
    closedir(d);
  }
  return out;
}

// Rank 3 sees itself on its own machine (RFAB_SHM=0) and fails setting up RoCE (a malformed address)
// after the others created their segments; rfab run then stops them while they wait in set-up, where they
// cannot unlink. Nothing of the job may remain in /dev/shm, and every failing rank says why.
TEST_F(RunProcesses, FailedSetUpLeavesNoSharedMemory) {
  const std::string body = "echo job=$RFAB_JOB_ID; if [ $RANK = 3 ]; then export RFAB_SHM=0 RFAB_ROCE_ADDR=not-an-ip; fi; "
                           "exec " + std::string(RFAB_CLI) + " coll allreduce -b 1K -e 1K -n 1 -w 0";
  Proc launcher(std::string("env RFAB_TIMEOUT=20 ") + run_cmd(4, body), dir_ + "/log");
  EXPECT_NE(launcher.wait(60s), 0) << launcher.output();
  const std::string out = launcher.output();
  const size_t at = out.find("job=");
  ASSERT_NE(at, std::string::npos) << out;
  const std::string job = out.substr(at + 4, out.find('\n', at) - at - 4);
  ASSERT_FALSE(job.empty()) << out;
  EXPECT_TRUE(shm_entries("rfab-" + job + "-").empty()) << "left in /dev/shm: " << shm_entries("rfab-" + job + "-")[0];
  EXPECT_NE(out.find("RFAB_ROCE_ADDR"), std::string::npos) << out;
  EXPECT_EQ(out.find("rfab: \n"), std::string::npos) << "an empty error message:\n" << out;
}

// Two jobs given the same MASTER_PORT: a rank of the second must be refused, never join the first.
TEST_F(RunProcesses, RankOfAnotherJobOnTheSamePortIsRefused) {
  const std::string port = std::to_string(30000 + getpid() % 20000);
  const std::string coll = std::string(RFAB_CLI) + " coll allreduce -b 1K -e 1K -n 1 -w 0";
  const std::string env = "env RFAB_TIMEOUT=15 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + port + " WORLD_SIZE=3 ";
  {
    // With job ids (rfab run, Slurm, OpenMPI, or RFAB_JOB_ID): the store names both jobs.
    Proc a0(env + "RANK=0 RFAB_JOB_ID=job-a " + coll, dir_ + "/a0");
    std::this_thread::sleep_for(500ms);
    Proc b1(env + "RANK=1 RFAB_JOB_ID=job-b " + coll, dir_ + "/b1");
    EXPECT_EQ(b1.wait(20s), 2) << b1.output();
    EXPECT_NE(b1.output().find("serves job 'job-a', not job 'job-b'"), std::string::npos) << b1.output();
  }
  {
    // Without: the rank slot is taken, the late rank is refused.
    Proc a0(env + "RANK=0 " + coll, dir_ + "/c0");
    Proc a1(env + "RANK=1 " + coll, dir_ + "/c1");
    std::this_thread::sleep_for(1500ms);
    Proc b1(env + "RANK=1 " + coll, dir_ + "/d1");
    EXPECT_EQ(b1.wait(20s), 2) << b1.output();
    EXPECT_NE(b1.output().find("rank 1 of communicator 'env-" + port + "' already joined"), std::string::npos)
        << b1.output();
  }
}

}  // namespace
