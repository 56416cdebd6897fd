#include "rfab/sidechannel/tcp_channel.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "rfab/base/tcp_connect.hpp"

namespace rfab::sidechannel {
namespace {

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

std::string numeric(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET6) {
    const auto* s6 = reinterpret_cast<const sockaddr_in6*>(sa);
    if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
      inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], buf, sizeof buf);
    } else {
      inet_ntop(AF_INET6, &s6->sin6_addr, buf, sizeof buf);
    }
  } else {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
  }
  return buf;
}

void fill_names(int fd, std::string& local_ip, std::string& peer_ip) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) local_ip = numeric(reinterpret_cast<sockaddr*>(&ss));
  len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) peer_ip = numeric(reinterpret_cast<sockaddr*>(&ss));
}

[[noreturn]] void fail(const std::string& msg, int err) {
  throw ExchangeError(err != 0 ? msg + ": " + std::strerror(err) : msg);
}

void set_nodelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

}  // namespace

TcpListener::TcpListener(const std::string& bind_ip, uint16_t port)
    : where_((bind_ip.empty() ? std::string("*") : bind_ip) + ":" + std::to_string(port)) {
  addrinfo hints{};
  hints.ai_family = bind_ip.empty() ? AF_INET6 : AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  int rc = ::getaddrinfo(bind_ip.empty() ? nullptr : bind_ip.c_str(), service.c_str(), &hints, &res);
  if (rc != 0 && bind_ip.empty()) {  // no IPv6 on this host: IPv4 any
    hints.ai_family = AF_INET;
    rc = ::getaddrinfo(nullptr, service.c_str(), &hints, &res);
  }
  if (rc != 0) throw ExchangeError("listen address '" + where_ + "': " + ::gai_strerror(rc));
  const int lfd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd < 0) {
    ::freeaddrinfo(res);
    fail("socket", errno);
  }
  int one = 1, zero = 0;
  ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (res->ai_family == AF_INET6) ::setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  if (::bind(lfd, res->ai_addr, res->ai_addrlen) != 0 || ::listen(lfd, 4) != 0) {
    const int err = errno;
    ::freeaddrinfo(res);
    ::close(lfd);
    fail("cannot listen on " + where_, err);
  }
  ::freeaddrinfo(res);
  fd_ = lfd;
}

bool TcpListener::pending(std::chrono::milliseconds timeout) const {
  pollfd p{fd_, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1;
}

uint16_t TcpListener::port() const {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) fail("getsockname on " + where_, errno);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port);
  return ntohs(reinterpret_cast<const sockaddr_in*>(&ss)->sin_port);
}

TcpListener::~TcpListener() {
  if (fd_ >= 0) ::close(fd_);
}

TcpChannel TcpListener::accept(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    pollfd p{fd_, POLLIN, 0};
    const int pr = ::poll(&p, 1, remaining_ms(deadline));
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0)
      fail("no client connected to " + where_ + " within " + std::to_string(timeout.count() / 1000) + " s", 0);
    sockaddr_storage peer{};
    socklen_t plen = sizeof peer;
    const int fd = ::accept4(fd_, reinterpret_cast<sockaddr*>(&peer), &plen, SOCK_CLOEXEC);
    if (fd < 0) {
      // The peer may have given up between poll and accept: wait for the next one.
      if (errno == ECONNABORTED || errno == EINTR || errno == EAGAIN) continue;
      fail("accept on " + where_, errno);
    }
    set_nodelay(fd);
    TcpChannel c;
    c.fd_ = fd;
    c.client_ = false;
    fill_names(fd, c.local_ip_, c.peer_ip_);
    c.peer_ = c.peer_ip_;
    return c;
  }
}

TcpChannel TcpChannel::accept_one(const std::string& bind_ip, uint16_t port, std::chrono::milliseconds timeout) {
  TcpListener l(bind_ip, port);
  return l.accept(timeout);
}

TcpChannel TcpChannel::connect(const std::string& host, uint16_t port, std::chrono::milliseconds timeout) {
  const std::string where = host + ":" + std::to_string(port);
  int fd = -1;
  try {
    // 100 ms between rounds: a perftest server takes a moment to listen; one attempt may use the whole budget.
    fd = rfab::tcp_connect(host, port, timeout, TcpConnectOptions{std::chrono::milliseconds(100), timeout});
  } catch (const TcpConnectError& e) {
    if (e.kind() == TcpConnectError::Kind::Resolve)
      throw ExchangeError("cannot resolve server '" + host + "': " + e.what());
    fail("cannot connect to server " + where + " within " + std::to_string(timeout.count() / 1000) + " s",
         e.last_errno());
  }
  TcpChannel c;
  c.fd_ = fd;
  c.client_ = true;
  c.peer_ = where;
  fill_names(fd, c.local_ip_, c.peer_ip_);
  return c;
}

TcpChannel::~TcpChannel() {
  if (fd_ >= 0) ::close(fd_);
}

TcpChannel::TcpChannel(TcpChannel&& o) noexcept
    : fd_(o.fd_), client_(o.client_), peer_(std::move(o.peer_)), local_ip_(std::move(o.local_ip_)),
      peer_ip_(std::move(o.peer_ip_)) {
  o.fd_ = -1;
}

TcpChannel& TcpChannel::operator=(TcpChannel&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    client_ = o.client_;
    peer_ = std::move(o.peer_);
    local_ip_ = std::move(o.local_ip_);
    peer_ip_ = std::move(o.peer_ip_);
    o.fd_ = -1;
  }
  return *this;
}

void TcpChannel::send_all(std::span<const char> data, std::chrono::milliseconds timeout, const char* stage) {
  const auto deadline = Clock::now() + timeout;
  size_t off = 0;
  while (off < data.size()) {
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) != 1)
      fail(std::string(stage) + ": timed out sending to " + peer_, 0);
    const ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      fail(std::string(stage) + ": sending to " + peer_, errno);
    }
    off += static_cast<size_t>(n);
  }
}

void TcpChannel::recv_exact(std::span<char> data, std::chrono::milliseconds timeout, const char* stage) {
  const auto deadline = Clock::now() + timeout;
  size_t off = 0;
  while (off < data.size()) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) != 1)
      fail(std::string(stage) + ": timed out after " + std::to_string(timeout.count() / 1000) +
               " s waiting for " + peer_,
           0);
    const ssize_t n = ::recv(fd_, data.data() + off, data.size() - off, 0);
    if (n == 0) fail(std::string(stage) + ": " + peer_ + " closed the connection", 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      fail(std::string(stage) + ": receiving from " + peer_, errno);
    }
    off += static_cast<size_t>(n);
  }
}

void TcpChannel::exchange(std::span<const char> mine, std::span<char> theirs, std::chrono::milliseconds timeout,
                          const char* stage) {
  if (client_) {
    send_all(mine, timeout, stage);
    recv_exact(theirs, timeout, stage);
  } else {
    recv_exact(theirs, timeout, stage);
    send_all(mine, timeout, stage);
  }
}

void TcpChannel::barrier(std::chrono::milliseconds timeout, const char* stage) {
  const char mine[1] = {'S'};
  char theirs[1] = {0};
  exchange(mine, theirs, timeout, stage);
  if (theirs[0] != 'S') fail(std::string(stage) + ": unexpected byte from " + peer_, 0);
}

}  // namespace rfab::sidechannel

namespace rfab::sidechannel {

void TcpChannel::enable_keepalive(std::chrono::seconds idle, std::chrono::seconds interval, int count) {
  const int on = 1, idle_s = static_cast<int>(idle.count()), interval_s = static_cast<int>(interval.count());
  // Unacknowledged data (a send into the void) gives up on the same schedule.
  const unsigned user_timeout_ms = static_cast<unsigned>((idle_s + interval_s * count) * 1000);
  if (::setsockopt(fd_, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on) != 0 ||
      ::setsockopt(fd_, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof idle_s) != 0 ||
      ::setsockopt(fd_, IPPROTO_TCP, TCP_KEEPINTVL, &interval_s, sizeof interval_s) != 0 ||
      ::setsockopt(fd_, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count) != 0 ||
      ::setsockopt(fd_, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms) != 0)
    throw ExchangeError(std::string("side channel: cannot enable TCP keepalives: ") + std::strerror(errno));
}

bool TcpChannel::readable(std::chrono::milliseconds timeout) const {
  pollfd p{fd_, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1;
}

void TcpChannel::send_message(const std::string& text, std::chrono::milliseconds timeout, const char* stage) {
  const auto n = static_cast<uint32_t>(text.size());
  const char len[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                       static_cast<char>(n)};
  send_all(len, timeout, stage);
  send_all(text, timeout, stage);
}

std::string TcpChannel::recv_message(std::chrono::milliseconds timeout, const char* stage, size_t max_bytes) {
  char len[4];
  recv_exact(len, timeout, stage);
  const uint32_t n = (uint32_t{static_cast<uint8_t>(len[0])} << 24) | (uint32_t{static_cast<uint8_t>(len[1])} << 16) |
                     (uint32_t{static_cast<uint8_t>(len[2])} << 8) | uint32_t{static_cast<uint8_t>(len[3])};
  if (n > max_bytes)
    fail(std::string(stage) + ": " + peer_ + " sent a " + std::to_string(n) + "-byte message (not an rfab peer?)", 0);
  std::string text(n, '\0');
  recv_exact(text, timeout, stage);
  return text;
}

}  // namespace rfab::sidechannel
