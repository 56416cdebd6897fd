#include "netns.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <tuple>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace rfab::systest {
namespace {

std::atomic<int> g_counter{0};

std::string capture(const std::string& cmd, int& code) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) throw std::runtime_error("popen failed: " + cmd);
  char buf[512];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int st = ::pclose(p);
  code = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
  return out;
}

// Removes rfu<pid>-* namespaces whose creating process no longer exists (a killed earlier run).
void sweep_stale() {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/var/run/netns", ec)) {
    const std::string name = e.path().filename();
    if (name.rfind("rfu", 0) != 0) continue;
    const pid_t pid = static_cast<pid_t>(std::atoi(name.c_str() + 3));
    if (pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH) {
      int code;
      capture("ip netns del " + name, code);
    }
  }
}

}  // namespace

std::string run_capture(const std::string& cmd, int& code) { return capture(cmd, code); }

bool running_as_root() { return ::geteuid() == 0; }

bool have_program(const std::string& program) {
  int code = 0;
  capture("command -v " + program, code);
  return code == 0;
}

bool wait_tcp_listening(const std::string& ns, int port, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int code = 0;
    const std::string out = capture("ip netns exec " + ns + " ss -Hltn 'sport = :" + std::to_string(port) + "'", code);
    if (code == 0 && out.find("LISTEN") != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

void sh(const std::string& cmd) {
  int code = 0;
  const std::string out = capture(cmd, code);
  if (code != 0) throw std::runtime_error("command failed (" + std::to_string(code) + "): " + cmd + "\n" + out);
}

NetnsPair::NetnsPair(int mtu) {
  static std::once_flag swept;
  std::call_once(swept, sweep_stale);
  const int n = g_counter++;
  const std::string base = "rfu" + std::to_string(::getpid()) + "-" + std::to_string(n);
  ns_a = base + "a";
  ns_b = base + "b";
  if_a = ns_a;  // <= 15 characters for pids up to 7 digits and counters < 100
  if_b = ns_b;
  const int subnet = 1 + (::getpid() * 7 + n) % 250;
  ip4_a = "10.77." + std::to_string(subnet) + ".1";
  ip4_b = "10.77." + std::to_string(subnet) + ".2";
  ip6_a = "fd77:" + std::to_string(subnet) + "::1";
  ip6_b = "fd77:" + std::to_string(subnet) + "::2";
  try {
    sh("ip netns add " + ns_a);
    sh("ip netns add " + ns_b);
    sh("ip link add " + if_a + " netns " + ns_a + " type veth peer name " + if_b + " netns " + ns_b);
    for (const auto& [ns, ifn, v4, v6] : {std::tuple{ns_a, if_a, ip4_a, ip6_a}, std::tuple{ns_b, if_b, ip4_b, ip6_b}}) {
      const std::string x = "ip -n " + ns + " ";
      sh(x + "link set lo up");
      sh(x + "link set " + ifn + " mtu " + std::to_string(mtu) + " up");
      sh(x + "addr add " + v4 + "/24 dev " + ifn);
      sh(x + "-6 addr add " + v6 + "/64 dev " + ifn + " nodad");
    }
  } catch (...) {
    int code;
    capture("ip netns del " + ns_a, code);
    capture("ip netns del " + ns_b, code);
    throw;
  }
}

NetnsPair::~NetnsPair() {
  int code;
  capture("ip netns del " + ns_a, code);
  capture("ip netns del " + ns_b, code);
}

void NetnsPair::in(const std::string& ns, const std::function<void()>& fn) const {
  const int self = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  const int target = ::open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
  if (self < 0 || target < 0 || ::setns(target, CLONE_NEWNET) != 0) {
    if (self >= 0) ::close(self);
    if (target >= 0) ::close(target);
    throw std::runtime_error("cannot enter namespace " + ns);
  }
  ::close(target);
  try {
    fn();
  } catch (...) {
    ::setns(self, CLONE_NEWNET);
    ::close(self);
    throw;
  }
  ::setns(self, CLONE_NEWNET);
  ::close(self);
}

Child::Child(const std::string& ns, const std::vector<std::string>& argv, const std::string& log_path) : log_(log_path) {
  std::vector<std::string> full;
  if (!ns.empty()) full = {"ip", "netns", "exec", ns};
  full.insert(full.end(), argv.begin(), argv.end());
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<char*> args;
    for (auto& s : full) args.push_back(s.data());
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
}

Child::~Child() {
  if (pid_ > 0 && status_ < 0) {
    ::kill(pid_, SIGKILL);
    int st;
    ::waitpid(pid_, &st, 0);
  }
}

int Child::wait(std::chrono::milliseconds timeout) {
  if (status_ >= 0) return status_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int st = 0;
    const pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      return status_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void Child::kill_now(int sig) {
  if (pid_ > 0 && status_ < 0) ::kill(pid_, sig);
}

std::string Child::output() const {
  std::ifstream f(log_);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string rfab_binary() { return std::string(RFAB_BINARY_DIR) + "/cli/rfab"; }

nlohmann::json last_json(const std::string& out) {
  const auto pos = out.rfind("\n{");
  const std::string line = out.substr(pos == std::string::npos ? 0 : pos + 1);
  try {
    return nlohmann::json::parse(line.substr(0, line.find('\n')));
  } catch (...) {
    return nlohmann::json();
  }
}

}  // namespace rfab::systest
