#include "rfab/base/tcp_connect.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

namespace rfab {
namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return ms < 0 ? 0 : static_cast<int>(std::min<long long>(ms, 1 << 30));
}

// One non-blocking connect() bounded by `wait_ms`; the connected fd, or -1 with errno set.
int try_connect(const addrinfo* ai, int wait_ms) {
  const int fd = ::socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  int r = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
  if (r != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, wait_ms) == 1) {
      int soerr = 0;
      socklen_t sl = sizeof soerr;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
      r = soerr == 0 ? 0 : -1;
      errno = soerr;
    } else {
      errno = ETIMEDOUT;
    }
  }
  if (r != 0) {
    const int err = errno;
    ::close(fd);
    errno = err;
    return -1;
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

}  // namespace

int tcp_connect(const std::string& host, uint16_t port, std::chrono::milliseconds timeout,
                const TcpConnectOptions& opt) {
  const auto deadline = Clock::now() + timeout;
  const std::string service = std::to_string(port);
  int last_err = 0;
  for (;;) {
    // Resolved every round: a name may start resolving once the server's container is up.
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* res = nullptr;
    const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
    if (rc != 0) throw TcpConnectError(TcpConnectError::Kind::Resolve, ::gai_strerror(rc), 0);
    for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
      const int wait = std::max(1, std::min(remaining_ms(deadline), static_cast<int>(opt.max_attempt.count())));
      const int fd = try_connect(ai, wait);
      if (fd >= 0) {
        ::freeaddrinfo(res);
        return fd;
      }
      last_err = errno;
    }
    ::freeaddrinfo(res);
    // The server may not be listening yet: retry until the deadline.
    if (remaining_ms(deadline) <= 0) break;
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::min(static_cast<int>(opt.retry_every.count()), remaining_ms(deadline))));
  }
  throw TcpConnectError(TcpConnectError::Kind::Timeout, last_err != 0 ? std::strerror(last_err) : "no address",
                        last_err);
}

}  // namespace rfab
