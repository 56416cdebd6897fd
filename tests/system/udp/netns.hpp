// Two network namespaces joined by a veth pair, created for one test and removed by the destructor (also
// when the test fails). Names carry the "rfu" prefix, the process id and a counter, so concurrent runs do
// not collide; namespaces left behind by a killed run (its pid is gone) are swept at the next start.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>
#include <vector>

namespace rfab::systest {

bool running_as_root();

// Runs a shell command; throws std::runtime_error with its output when it fails.
void sh(const std::string& cmd);
// Runs a shell command and returns its stdout+stderr; `code` receives the exit status.
std::string run_capture(const std::string& cmd, int& code);
// Whether `program` is on PATH.
bool have_program(const std::string& program);
// Waits up to `timeout` until something listens on TCP `port` in namespace `ns` (a server is ready).
bool wait_tcp_listening(const std::string& ns, int port, std::chrono::milliseconds timeout);

class NetnsPair {
 public:
  // MTU of both veth ends; IPv4 10.77.<n>.1/.2 and IPv6 fd77:<n>::1/::2 (no DAD).
  explicit NetnsPair(int mtu = 9000);
  ~NetnsPair();
  NetnsPair(const NetnsPair&) = delete;
  NetnsPair& operator=(const NetnsPair&) = delete;

  std::string ns_a, ns_b, if_a, if_b;
  std::string ip4_a, ip4_b, ip6_a, ip6_b;

  // Runs `fn` on the calling thread inside namespace `ns`, then returns to the original namespace.
  // Sockets opened inside stay in that namespace.
  void in(const std::string& ns, const std::function<void()>& fn) const;
};

// A child process (argv[0] searched in PATH), optionally inside a namespace; its stdout+stderr go to a file.
class Child {
 public:
  Child(const std::string& ns, const std::vector<std::string>& argv, const std::string& log_path);
  ~Child();  // kills (SIGKILL) and reaps if still running
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  // Waits up to `timeout` for exit; returns the exit code, or -1 on timeout (the child keeps running).
  int wait(std::chrono::milliseconds timeout);
  void kill_now(int sig);
  pid_t pid() const { return pid_; }
  std::string output() const;

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  std::string log_;
};

// Path of the rfab binary of this build tree.
std::string rfab_binary();

// The last line of `out` that starts with '{', parsed (rfab --json prints one object after any log lines);
// null when there is none or it does not parse.
nlohmann::json last_json(const std::string& out);

}  // namespace rfab::systest
