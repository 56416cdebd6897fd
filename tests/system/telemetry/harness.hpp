// Test plumbing: a private network namespace with a veth pair, raw-socket injection, and child processes
// with deadlines.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace rfab::test {

// Moves the calling process into a new, unnamed network namespace (it disappears with the process, so
// nothing leaks even if a test crashes) and creates veth rft0a <-> rft0b, both up, IPv6 autoconf off so
// the kernel sends nothing on its own. Returns false with `why` set when that is impossible (not root).
bool enter_test_netns(std::string& why);

// Sends every frame out of `iface` through an AF_PACKET socket, in order. Throws on failure.
void inject(const std::string& iface, const std::vector<std::vector<uint8_t>>& frames);

// IFF_RUNNING (carrier) as the calling thread's network namespace sees it (sysfs would show the host's).
bool link_running(const std::string& iface);

struct RunResult {
  int rc = -1;  // exit code, or 128+signal
  std::string out, err;
  bool timed_out = false;
};

// Runs argv, killing it (SIGKILL) past the deadline.
RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds deadline);

// A child left running: stdout/stderr go to files; stop() sends `sig` and waits (then SIGKILL).
std::string read_file(const std::string& path);

class Child {
 public:
  explicit Child(const std::vector<std::string>& argv);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  // Waits until stderr contains `text` or the deadline passes; false if the child died or time ran out.
  bool wait_for_stderr(const std::string& text, std::chrono::milliseconds deadline);
  RunResult stop(int sig, std::chrono::milliseconds deadline);
  RunResult wait(std::chrono::milliseconds deadline);  // for a child that ends by itself
  pid_t pid() const { return pid_; }
  std::string stderr_text() const { return read_file(err_path_); }

 private:
  RunResult finish(std::chrono::milliseconds deadline);
  pid_t pid_ = -1;
  std::string out_path_, err_path_;
};

std::string rfab_binary();  // the rfab built next to this test
std::string read_file(const std::string& path);

}  // namespace rfab::test
