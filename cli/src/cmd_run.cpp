// rfab run -n N [--timeout S] -- PROGRAM ARGS: starts N local ranks of PROGRAM with the environment
// torchrun gives its workers (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT),
// hosts rfab's rendezvous store itself (at RFAB_STORE_PORT: MASTER_PORT is a free port left for a PyTorch
// program's rank 0 to bind its TCPStore, as without torchrun's agent store), forwards their output line by line with a "[rank] " prefix, stops
// the other ranks as soon as one fails, and exits with the worst exit code of the ranks that failed on their
// own (128+signal for a signal), so a failure is never masked by the ranks rfab stopped.
//
// No rank outlives the launcher: SIGINT, SIGTERM or SIGHUP to `rfab run` is forwarded to every rank's
// process group, and what is still running after a grace period is killed; a launcher that dies without
// that chance (SIGKILL) takes its ranks with it through PR_SET_PDEATHSIG.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <thread>
#include <vector>

#include "checked_options.hpp"
#include "commands.hpp"
#include "rfab/base/units.hpp"
#include "rfab/collectives/shm_transport.hpp"
#include "rfab/collectives/store.hpp"

namespace rfab::cli {
namespace {

// Seconds between forwarding a stop signal (or SIGTERM) to the ranks and killing what still runs.
constexpr int kGraceSeconds = 3;

// The first of SIGINT / SIGTERM / SIGHUP the launcher received (0: none), set by its handler.
volatile sig_atomic_t g_stop_signal = 0;
void on_stop_signal(int sig) {
  if (g_stop_signal == 0) g_stop_signal = sig;
}

// Installs on_stop_signal for the three stop signals; the destructor restores what was there.
class StopSignals {
 public:
  StopSignals() {
    g_stop_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < 3; ++i) sigaction(kSignals[i], &sa, &old_[i]);
  }
  ~StopSignals() {
    for (size_t i = 0; i < 3; ++i) sigaction(kSignals[i], &old_[i], nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  static constexpr int kSignals[3] = {SIGINT, SIGTERM, SIGHUP};
  struct sigaction old_[3] {};
};

// "run-" and 16 random hex digits: two launchers on one host never share an id.
std::string random_job_id() {
  std::random_device rd;
  char buf[32];
  std::snprintf(buf, sizeof buf, "run-%08x%08x", rd(), rd());
  return buf;
}

// A TCP port nothing listens on now, for a PyTorch rank 0 to bind MASTER_PORT (torchrun picks its
// MASTER_PORT the same way; another process could take it in between, as with torchrun).
std::string free_tcp_port() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw ExitError{2, std::string("run: socket: ") + std::strerror(errno)};
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    const int e = errno;
    close(fd);
    throw ExitError{2, std::string("run: finding a free port for MASTER_PORT: ") + std::strerror(e)};
  }
  close(fd);
  return std::to_string(ntohs(a.sin_port));
}

struct RunOptions {
  int nranks = 1;
  double timeout = 0;  // whole-job limit in seconds; 0: none
  bool prefix = true;
  std::string bind = "core";  // core: rank i runs on CPU i mod ncpus (like mpirun --bind-to core); none
  std::vector<std::string> argv;
};

struct Rank {
  pid_t pid = -1;
  int out = -1, err = -1;
  std::string out_buf, err_buf;
  bool done = false;
  int code = 0;
  bool stopped_by_us = false;
};

void emit(int rank, bool prefix, std::string& buf, FILE* to, bool flush_all) {
  size_t pos;
  while ((pos = buf.find('\n')) != std::string::npos || (flush_all && !buf.empty())) {
    size_t n = pos == std::string::npos ? buf.size() : pos + 1;
    if (prefix) std::fprintf(to, "[%d] ", rank);
    std::fwrite(buf.data(), 1, n, to);
    if (pos == std::string::npos) std::fputc('\n', to);
    buf.erase(0, n);
  }
  std::fflush(to);
}

// This process's environment with the torchrun-style variables of rank `r` set (replacing any already there).
// rfab's store is at RFAB_STORE_PORT; MASTER_PORT is `torch_port`, where a PyTorch rank 0 hosts its own
// TCPStore (TORCHELASTIC_USE_AGENT_STORE=False: there is no torchrun agent store to join).
std::vector<std::string> rank_environment(int r, int nranks, const std::string& store_port,
                                          const std::string& torch_port, const std::string& job) {
  const std::pair<const char*, std::string> vars[] = {
      {"RANK", std::to_string(r)},         {"WORLD_SIZE", std::to_string(nranks)},
      {"LOCAL_RANK", std::to_string(r)},   {"LOCAL_WORLD_SIZE", std::to_string(nranks)},
      {"GROUP_RANK", "0"},                 {"MASTER_ADDR", "127.0.0.1"},
      {"MASTER_PORT", torch_port},         {"TORCHELASTIC_USE_AGENT_STORE", "False"},
      {"RFAB_STORE_PORT", store_port},     {"RFAB_STORE_EXTERNAL", "1"},
      {"RFAB_JOB_ID", job}};
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view kv(*e);
    bool replaced = false;
    for (const auto& [k, v] : vars)
      if (kv.size() > std::strlen(k) && kv.substr(0, std::strlen(k)) == k && kv[std::strlen(k)] == '=') replaced = true;
    if (!replaced) env.emplace_back(kv);
  }
  for (const auto& [k, v] : vars) env.push_back(std::string(k) + "=" + v);
  return env;
}

int run_job(const RunOptions& o) {
  if (o.argv.empty()) throw ExitError{2, "run: no program given (rfab run -n N -- PROGRAM ARGS)"};
  // A random job id: the store refuses ranks of any other job that reach its port (store.hpp).
  const std::string job = random_job_id();
  coll::StoreServer store("127.0.0.1", 0, job);
  const std::string port = std::to_string(store.port());
  const std::string torch_port = free_tcp_port();
  signal(SIGPIPE, SIG_IGN);
  StopSignals stop_signals;  // before the first fork: a signal from now on reaches the ranks
  const pid_t launcher = getpid();

  std::vector<Rank> ranks(static_cast<size_t>(o.nranks));
  for (int r = 0; r < o.nranks; ++r) {
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) throw ExitError{2, "run: pipe failed"};
    // Everything the child needs is built here: the store's thread is running, so between fork and exec
    // the child must not allocate (a lock held by that thread at fork time would never be released).
    std::vector<std::string> env_strings = rank_environment(r, o.nranks, port, torch_port, job);
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::vector<char*> args;
    for (const auto& a : o.argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = fork();
    if (pid < 0) throw ExitError{2, std::string("run: fork failed: ") + std::strerror(errno)};
    if (pid == 0) {
      // Die with the launcher even when it is killed outright; if it already died between fork and here,
      // the parent is no longer the launcher and the signal would never come.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != launcher) _exit(128 + SIGKILL);
      // The launcher's stop handlers are not the rank's (exec would reset them too; a signal that comes
      // before exec must still end the child).
      signal(SIGINT, SIG_DFL);
      signal(SIGTERM, SIG_DFL);
      signal(SIGHUP, SIG_DFL);
      setpgid(0, 0);  // own process group: stopping a rank stops what it started too
      if (o.bind == "core") {
        // Pinned ranks keep their own cores: without it, futex wake-ups pull communicating ranks onto one
        // core (wake-affine scheduling), where a waiting rank's spin only delays the rank it waits for.
        cpu_set_t allowed;
        if (sched_getaffinity(0, sizeof allowed, &allowed) == 0) {
          int cpus = CPU_COUNT(&allowed), want = r % std::max(1, cpus), seen = 0;
          for (int c = 0; c < CPU_SETSIZE; ++c) {
            if (!CPU_ISSET(c, &allowed)) continue;
            if (seen++ == want) {
              cpu_set_t one;
              CPU_ZERO(&one);
              CPU_SET(c, &one);
              sched_setaffinity(0, sizeof one, &one);
              break;
            }
          }
        }
      }
      dup2(out[1], 1);
      dup2(err[1], 2);
      execvpe(args[0], args.data(), envp.data());
      const char* why = std::strerror(errno);
      (void)!write(2, "rfab run: cannot execute ", 25);
      (void)!write(2, args[0], std::strlen(args[0]));
      (void)!write(2, ": ", 2);
      (void)!write(2, why, std::strlen(why));
      (void)!write(2, "\n", 1);
      _exit(127);
    }
    setpgid(pid, pid);
    close(out[1]);
    close(err[1]);
    auto& rk = ranks[static_cast<size_t>(r)];
    rk.pid = pid;
    rk.out = out[0];
    rk.err = err[0];
  }

  auto start = std::chrono::steady_clock::now();
  bool stopping = false;
  std::chrono::steady_clock::time_point kill_at{};
  int stop_signal = 0;  // the signal that stopped the launcher, if one did
  auto stop_all = [&](const char* why, int sig = SIGTERM, const char* what = "the other ranks") {
    if (stopping) return;
    stopping = true;
    std::fprintf(stderr, "rfab run: %s; stopping %s\n", why, what);
    for (auto& rk : ranks)
      if (!rk.done) {
        rk.stopped_by_us = true;
        kill(-rk.pid, sig);
      }
    kill_at = std::chrono::steady_clock::now() + std::chrono::seconds(kGraceSeconds);
  };

  for (;;) {
    std::vector<pollfd> fds;
    std::vector<std::pair<size_t, bool>> who;  // rank index, is stdout
    for (size_t i = 0; i < ranks.size(); ++i) {
      if (ranks[i].out >= 0) {
        fds.push_back({ranks[i].out, POLLIN, 0});
        who.emplace_back(i, true);
      }
      if (ranks[i].err >= 0) {
        fds.push_back({ranks[i].err, POLLIN, 0});
        who.emplace_back(i, false);
      }
    }
    if (!fds.empty()) poll(fds.data(), fds.size(), 20);
    for (size_t k = 0; k < fds.size(); ++k) {
      if (fds[k].revents == 0) continue;
      auto& rk = ranks[who[k].first];
      char buf[65536];
      ssize_t n = read(fds[k].fd, buf, sizeof buf);
      std::string& b = who[k].second ? rk.out_buf : rk.err_buf;
      FILE* to = who[k].second ? stdout : stderr;
      if (n > 0) {
        b.append(buf, static_cast<size_t>(n));
        emit(static_cast<int>(who[k].first), o.prefix, b, to, false);
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        emit(static_cast<int>(who[k].first), o.prefix, b, to, true);
        close(fds[k].fd);
        (who[k].second ? rk.out : rk.err) = -1;
      }
    }
    int status;
    pid_t p;
    while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
      for (size_t i = 0; i < ranks.size(); ++i) {
        auto& rk = ranks[i];
        if (rk.pid != p) continue;
        rk.done = true;
        rk.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        // A rank we signalled that still exited by itself reports its own result.
        if (WIFEXITED(status)) rk.stopped_by_us = false;
        if (rk.code != 0 && !rk.stopped_by_us) {
          std::string why = "rank " + std::to_string(i) + " exited with code " + std::to_string(rk.code);
          stop_all(why.c_str());
        }
      }
    }
    if (const int sig = g_stop_signal; sig != 0 && stop_signal == 0) {
      stop_signal = sig;
      const std::string why = std::string("received ") + strsignal(sig);
      stopping = false;  // a signal overrides a stop already under way: forward it, restart the grace period
      stop_all(why.c_str(), sig, "every rank");
    }
    bool all_done = true, pipes_open = false;
    for (auto& rk : ranks) {
      all_done &= rk.done;
      pipes_open |= rk.out >= 0 || rk.err >= 0;
    }
    if (all_done && !pipes_open) break;
    auto now = std::chrono::steady_clock::now();
    if (o.timeout > 0 && !stopping && now - start > std::chrono::duration<double>(o.timeout)) {
      std::string why = "job exceeded --timeout " + std::to_string(o.timeout) + " s";
      stop_all(why.c_str());
      for (auto& rk : ranks) rk.stopped_by_us = false;  // a timeout is everyone's failure
    }
    if (stopping && now > kill_at) {
      for (auto& rk : ranks)
        if (!rk.done) kill(-rk.pid, SIGKILL);
    }
    if (all_done && pipes_open && stopping && now > kill_at) {
      // Grandchildren may hold the pipes open; do not wait for them forever.
      for (auto& rk : ranks) {
        if (rk.out >= 0) close(rk.out);
        if (rk.err >= 0) close(rk.err);
        rk.out = rk.err = -1;
      }
    }
  }
  // Ranks killed during set-up (by us, by a signal, by the OOM killer) cannot unlink their shared-memory
  // segments; every rank has exited now, so none of this job's is in use.
  if (const int left = coll::remove_segments(job, o.nranks); left > 0)
    std::fprintf(stderr, "rfab run: removed %d shared-memory segment%s the ranks left in /dev/shm\n", left,
                 left == 1 ? "" : "s");
  if (stop_signal != 0) return 128 + stop_signal;
  int worst = 0;
  for (auto& rk : ranks)
    if (!rk.stopped_by_us || o.timeout > 0) worst = std::max(worst, rk.code);
  if (worst == 0)
    for (auto& rk : ranks) worst = std::max(worst, rk.code);
  return worst;
}

}  // namespace

void add_run(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  auto* sub = app.add_subcommand("run", "Start N local ranks of a program with torchrun-style environment");
  add_integer(sub, "-n,--nranks", o->nranks, "number of ranks", 1, 1024)->required();
  add_seconds(sub, "--timeout", o->timeout,
              "stop the whole job after this long: seconds, or a duration such as 90s or 10m (0: no limit)", 0, 1e7,
              false);
  sub->add_flag("!--no-prefix", o->prefix, "do not prefix output lines with [rank]");
  sub->add_option("--bind-to", o->bind, "core: pin rank i to CPU i mod ncpus (default); none")
      ->check(CLI::IsMember({"core", "none"}));
  sub->add_option("program", o->argv, "program and its arguments (after --)")->required();
  sub->callback([o] {
    int rc = run_job(*o);
    if (rc != 0) throw ExitError{rc, ""};
  });
}

}  // namespace rfab::cli
