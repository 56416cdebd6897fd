// A TCP connection to a server that may not be listening yet (a rendezvous store, a perftest side
// channel): resolve the host, try every address, and retry until a deadline.
#pragma once
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace rfab {

// Why tcp_connect() gave up. The callers turn it into their own error type (coll::Error with a Status,
// ExchangeError) with their own wording, so what() is only the cause.
class TcpConnectError : public std::runtime_error {
 public:
  enum class Kind { Resolve, Timeout };
  TcpConnectError(Kind kind, const std::string& cause, int last_errno)
      : std::runtime_error(cause), kind_(kind), last_errno_(last_errno) {}
  Kind kind() const noexcept { return kind_; }
  // The errno of the last failed attempt (ECONNREFUSED, ETIMEDOUT, ...); 0 when none was made.
  int last_errno() const noexcept { return last_errno_; }

 private:
  Kind kind_;
  int last_errno_;
};

struct TcpConnectOptions {
  std::chrono::milliseconds retry_every{20};     // pause between rounds over all addresses
  std::chrono::milliseconds max_attempt{1000};   // longest wait for one connect() to complete
};

// Returns a connected, blocking socket with TCP_NODELAY and close-on-exec. Throws TcpConnectError:
// Kind::Resolve at once when `host` does not resolve (what() is the resolver's message), Kind::Timeout
// when no address accepted before `timeout` (what() is strerror of the last attempt).
int tcp_connect(const std::string& host, uint16_t port, std::chrono::milliseconds timeout,
                const TcpConnectOptions& opt = {});

}  // namespace rfab
