#include "harness.hpp"

#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace rfab::test {
namespace {

void must(const std::string& cmd) {
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("command failed: " + cmd);
}

void write_sysctl(const std::string& path, const char* v) {
  std::ofstream f(path);
  f << v;
}

int temp_fd(std::string& path, const char* tag) {
  char tmpl[] = "/tmp/rft-XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  path = tmpl;
  (void)tag;
  return fd;
}

}  // namespace

bool enter_test_netns(std::string& why) {
  if (geteuid() != 0) {
    why = "needs root (network namespaces, eBPF)";
    return false;
  }
  if (unshare(CLONE_NEWNET) != 0) {
    why = std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno);
    return false;
  }
  write_sysctl("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
  write_sysctl("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
  must("ip link set lo up");
  must("ip link add rft0a type veth peer name rft0b");
  must("ip link set rft0a up");
  must("ip link set rft0b up");
  return true;
}

void inject(const std::string& iface, const std::vector<std::vector<uint8_t>>& frames) {
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);  // protocol 0: send only, receive nothing
  if (fd < 0) throw std::runtime_error(std::string("AF_PACKET socket: ") + std::strerror(errno));
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_ifindex = static_cast<int>(if_nametoindex(iface.c_str()));
  sll.sll_halen = 6;
  if (sll.sll_ifindex == 0) {
    close(fd);
    throw std::runtime_error("no interface " + iface);
  }
  for (const auto& f : frames) {
    for (int attempt = 0;; ++attempt) {
      ssize_t n = sendto(fd, f.data(), f.size(), 0, reinterpret_cast<sockaddr*>(&sll), sizeof sll);
      if (n == static_cast<ssize_t>(f.size())) break;
      // A full veth queue says ENOBUFS: back off briefly and resend, so the count stays exact.
      if (n < 0 && errno == ENOBUFS && attempt < 1000) {
        std::this_thread::sleep_for(std::chrono::microseconds(100));
        continue;
      }
      int e = errno;
      close(fd);
      throw std::runtime_error(std::string("sendto on ") + iface + ": " + std::strerror(e));
    }
  }
  close(fd);
}

bool link_running(const std::string& iface) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, iface.c_str(), IFNAMSIZ - 1);
  bool up = ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_RUNNING);
  close(fd);
  return up;
}

Child::Child(const std::vector<std::string>& argv) {
  int out = temp_fd(out_path_, "out"), err = temp_fd(err_path_, "err");
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    dup2(out, 1);
    dup2(err, 2);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(out);
  close(err);
}

Child::~Child() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (!out_path_.empty()) unlink(out_path_.c_str());
  if (!err_path_.empty()) unlink(err_path_.c_str());
}

bool Child::wait_for_stderr(const std::string& text, std::chrono::milliseconds deadline) {
  auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (read_file(err_path_).find(text) != std::string::npos) return true;
    int st = 0;
    if (pid_ > 0 && waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      return read_file(err_path_).find(text) != std::string::npos;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

RunResult Child::finish(std::chrono::milliseconds deadline) {
  RunResult r;
  auto end = std::chrono::steady_clock::now() + deadline;
  int st = 0;
  while (pid_ > 0) {
    pid_t w = waitpid(pid_, &st, WNOHANG);
    if (w == pid_) {
      pid_ = -1;
      r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      break;
    }
    if (std::chrono::steady_clock::now() >= end) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &st, 0);
      pid_ = -1;
      r.timed_out = true;
      r.rc = 128 + SIGKILL;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  r.out = read_file(out_path_);
  r.err = read_file(err_path_);
  return r;
}

RunResult Child::stop(int sig, std::chrono::milliseconds deadline) {
  if (pid_ > 0) kill(pid_, sig);
  return finish(deadline);
}

RunResult Child::wait(std::chrono::milliseconds deadline) { return finish(deadline); }

RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds deadline) {
  Child c(argv);
  return c.wait(deadline);
}

std::string rfab_binary() { return std::string(RFAB_BINARY_DIR) + "/cli/rfab"; }

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace rfab::test
