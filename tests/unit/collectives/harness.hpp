// Ranks as processes: run_ranks() forks n children that each run fn(rank), with a store hosted by the
// parent (rfabGetUniqueId). Children exit with fn's return value; the parent kills every child that is still
// running at the deadline, so a hang fails the test instead of blocking it.
#pragma once
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "rfab/rfab.h"

namespace rfab::coll::test {

struct RankExit {
  bool exited = false;  // false: killed by a signal (or by the deadline)
  int code = -1;        // exit code, or the signal number
  bool timed_out = false;
  double seconds = 0;   // when the rank finished, from the start
};

// The rendezvous store (rfabGetUniqueId starts a server thread in the calling process) runs in a process
// of its own, so the test process stays single-threaded when it forks ranks. Forking while a store thread
// is serving earlier ranks can copy a lock that thread holds (the ASan allocator's, which has no fork
// handler in GCC 12) into the child, which then hangs in its first malloc.
class StoreProcess {
 public:
  bool start(rfabUniqueId& id) {
    int fds[2];
    if (pipe(fds) != 0) return false;
    std::fflush(stdout);
    std::fflush(stderr);
    pid_ = fork();
    if (pid_ == 0) {
      close(fds[0]);
      rfabUniqueId mine;
      if (rfabGetUniqueId(&mine) != rfabSuccess) {
        std::fprintf(stderr, "rfabGetUniqueId: %s\n", rfabGetLastError(nullptr));
        _exit(1);
      }
      if (write(fds[1], &mine, sizeof mine) != static_cast<ssize_t>(sizeof mine)) _exit(1);
      for (;;) pause();  // serves until the test kills it
    }
    close(fds[1]);
    bool ok = pid_ > 0 && read(fds[0], &id, sizeof id) == static_cast<ssize_t>(sizeof id);
    close(fds[0]);
    if (!ok) std::fprintf(stderr, "store process did not start\n");
    return ok;
  }
  ~StoreProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

 private:
  pid_t pid_ = -1;
};

inline std::vector<RankExit> run_ranks(int n, const std::function<int(int rank, const rfabUniqueId& id)>& fn,
                                       std::chrono::seconds deadline,
                                       const std::function<void(int rank)>& child_setup = nullptr,
                                       const rfabUniqueId* given_id = nullptr) {
  rfabUniqueId id;
  StoreProcess store;
  if (given_id != nullptr) {
    id = *given_id;
  } else if (!store.start(id)) {
    return std::vector<RankExit>(static_cast<size_t>(n));
  }
  std::fflush(stdout);
  std::fflush(stderr);
  std::vector<pid_t> pids;
  auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < n; ++r) {
    pid_t pid = fork();
    if (pid == 0) {
      if (child_setup) child_setup(r);
      int rc = 99;
      try {
        rc = fn(r, id);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "rank %d: exception: %s\n", r, e.what());
      }
      std::fflush(stderr);
      _exit(rc);
    }
    pids.push_back(pid);
  }
  std::vector<RankExit> out(static_cast<size_t>(n));
  int left = n;
  while (left > 0) {
    int status = 0;
    pid_t p = waitpid(-1, &status, WNOHANG);
    auto now = std::chrono::steady_clock::now();
    if (p > 0) {
      for (int r = 0; r < n; ++r) {
        if (pids[static_cast<size_t>(r)] != p) continue;
        auto& e = out[static_cast<size_t>(r)];
        e.exited = WIFEXITED(status);
        e.code = e.exited ? WEXITSTATUS(status) : WTERMSIG(status);
        e.seconds = std::chrono::duration<double>(now - start).count();
        pids[static_cast<size_t>(r)] = -1;
        --left;
      }
      continue;
    }
    if (now - start > deadline) {
      for (int r = 0; r < n; ++r) {
        if (pids[static_cast<size_t>(r)] <= 0) continue;
        kill(pids[static_cast<size_t>(r)], SIGKILL);
        out[static_cast<size_t>(r)].timed_out = true;
      }
      // reap what we killed
      for (int r = 0; r < n; ++r)
        if (pids[static_cast<size_t>(r)] > 0) waitpid(pids[static_cast<size_t>(r)], nullptr, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return out;
}

inline std::string describe(const std::vector<RankExit>& v) {
  std::string s;
  for (size_t r = 0; r < v.size(); ++r) {
    s += "rank " + std::to_string(r) + ": ";
    if (v[r].timed_out) {
      s += "HUNG (killed at deadline)";
    } else if (v[r].exited) {
      s += "exit " + std::to_string(v[r].code);
    } else {
      s += "signal " + std::to_string(v[r].code);
    }
    s += "\n";
  }
  return s;
}

inline bool all_ok(const std::vector<RankExit>& v) {
  for (const auto& e : v)
    if (e.timed_out || !e.exited || e.code != 0) return false;
  return true;
}

}  // namespace rfab::coll::test
