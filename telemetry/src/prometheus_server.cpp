// The /metrics endpoint: one thread running a poll loop over non-blocking sockets. The collector thread
// publishes text; the loop only copies it under a mutex, so a slow scraper never stalls collection, and an
// idle or slow client costs a slot, not a thread: others are served while it waits.
//
// Bounds: at most kMaxConnections at once (at the limit, the connection idle the longest is closed to make
// room for a new one); a request head must arrive within kRequestTimeout of the connection opening (or of
// the previous response, on a kept-alive connection) and is at most kMaxHttpRequestHead bytes
// (http_request.hpp); a response must be taken within kWriteTimeout. A client past any bound is closed.
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "rfab/telemetry/collector.hpp"
#include "rfab/telemetry/http_request.hpp"
#include "rfab/telemetry/prometheus.hpp"

namespace rfab::telemetry {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxConnections = 64;
constexpr auto kRequestTimeout = std::chrono::seconds(5);
constexpr auto kWriteTimeout = std::chrono::seconds(5);

struct Conn {
  std::string in, out;
  Clock::time_point deadline;  // of the request being read, or of the response being written
  Clock::time_point idle_since;
  bool close_after = false;    // after `out` is delivered
};

const char* reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
  }
  return "Error";
}

std::string response(int status, const std::string& type, const std::string& body, bool head_only, bool keep_alive) {
  std::string r = "HTTP/1.1 " + std::to_string(status) + " " + reason(status) + "\r\nContent-Type: " + type +
                  "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  if (status == 405) r += "Allow: GET, HEAD\r\n";
  r += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  if (!head_only) r += body;
  return r;
}

}  // namespace

struct PrometheusServer::Impl {
  int listen_fd = -1;
  int wake[2] = {-1, -1};
  std::thread thread;
  std::mutex mu;
  std::string text;
  bool published = false;
  uint16_t port = 0;

  // The response to one parsed request.
  std::string answer(const HttpRequest& req) {
    const bool head_only = req.method == "HEAD";
    if (req.path == "/metrics") {
      std::lock_guard lock(mu);
      // Until the collector has published once, an empty 200 would read as "no series"; say not ready.
      if (!published)
        return response(503, "text/plain", "rfab collector: starting, no metrics yet\n", head_only, req.keep_alive);
      return response(200, "text/plain; version=0.0.4; charset=utf-8", text, head_only, req.keep_alive);
    }
    if (req.path == "/") return response(200, "text/plain", "rfab collector: metrics at /metrics\n", head_only, req.keep_alive);
    return response(404, "text/plain", "not found; metrics at /metrics\n", head_only, req.keep_alive);
  }

  // Reads what `fd` sent and answers every complete request in it. False when the connection is done.
  bool on_readable(int fd, Conn& c) {
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) return false;
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    if (c.close_after) return true;  // a refused client's further bytes are ignored
    c.in.append(buf, static_cast<size_t>(n));
    for (;;) {
      const HttpRequest req = parse_http_request(c.in);
      if (req.state == HttpRequest::State::incomplete) break;
      if (req.state == HttpRequest::State::bad) {
        c.out += response(req.error_status, "text/plain", req.error + "\n", false, false);
        c.close_after = true;
        c.in.clear();
        break;
      }
      c.out += answer(req);
      c.in.erase(0, req.consumed);
      if (!req.keep_alive) {
        c.close_after = true;
        c.in.clear();
        break;
      }
    }
    if (!c.out.empty()) c.deadline = Clock::now() + kWriteTimeout;
    return true;
  }

  void loop() {
    std::map<int, Conn> conns;
    auto drop = [&](int fd) {
      ::close(fd);
      conns.erase(fd);
    };
    for (;;) {
      std::vector<pollfd> fds{{wake[0], POLLIN, 0}, {listen_fd, POLLIN, 0}};
      for (auto& [fd, c] : conns) fds.push_back({fd, static_cast<short>(c.out.empty() ? POLLIN : POLLIN | POLLOUT), 0});
      if (::poll(fds.data(), fds.size(), 200) < 0 && errno != EINTR) break;
      if (fds[0].revents != 0) break;
      const auto now = Clock::now();
      for (size_t i = 2; i < fds.size(); ++i) {
        const int fd = fds[i].fd;
        Conn& c = conns[fd];
        bool keep = true;
        if (fds[i].revents & POLLOUT) {
          const ssize_t n = ::send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
          if (n > 0) c.out.erase(0, static_cast<size_t>(n));
          else if (n < 0 && errno != EAGAIN && errno != EINTR) keep = false;
          if (keep && c.out.empty()) {
            if (c.close_after) keep = false;
            c.deadline = now + kRequestTimeout;  // the next request of a kept-alive connection
            c.idle_since = now;
          }
        }
        if (keep && (fds[i].revents & (POLLIN | POLLHUP | POLLERR))) keep = on_readable(fd, c);
        if (keep && now > c.deadline) keep = false;  // too slow to send its request or take its response
        if (!keep) drop(fd);
      }
      if (fds[1].revents & POLLIN)
        for (int i = 0; i < 64 && accept_one(conns, now); ++i) {
        }
    }
    for (auto& [fd, c] : conns) ::close(fd);
  }

  // Accepts one waiting connection; false when none was waiting.
  bool accept_one(std::map<int, Conn>& conns, Clock::time_point now) {
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return false;
    if (conns.size() >= kMaxConnections) {
      // Full: the connection that has waited longest without a request in progress makes room.
      auto victim = conns.end();
      for (auto it = conns.begin(); it != conns.end(); ++it)
        if (it->second.out.empty() && (victim == conns.end() || it->second.idle_since < victim->second.idle_since))
          victim = it;
      if (victim == conns.end()) {
        ::close(fd);  // every slot is busy answering: this client retries
        return true;
      }
      ::close(victim->first);
      conns.erase(victim);
    }
    Conn& c = conns[fd];
    c.deadline = now + kRequestTimeout;
    c.idle_since = now;
    return true;
  }
};

PrometheusServer::PrometheusServer(const std::string& host, uint16_t port) : impl_(std::make_unique<Impl>()) {
  Impl* impl = impl_.get();
  const std::string where = host + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  if (::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res) != 0 || res == nullptr)
    throw TelemetryError("cannot listen on " + where + " for Prometheus (address in use or not local?)");
  for (addrinfo* ai = res; ai != nullptr && impl->listen_fd < 0; ai = ai->ai_next) {
    const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) continue;
    // SO_REUSEADDR (quick restarts) but not SO_REUSEPORT, which would let a second collector share the port
    // and split the scrapes between them: a clash is an error.
    int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, 128) == 0) {
      impl->listen_fd = fd;
    } else {
      ::close(fd);
    }
  }
  ::freeaddrinfo(res);
  if (impl->listen_fd < 0)
    throw TelemetryError("cannot listen on " + where + " for Prometheus (address in use or not local?)");
  sockaddr_storage ss{};
  socklen_t sl = sizeof ss;
  ::getsockname(impl->listen_fd, reinterpret_cast<sockaddr*>(&ss), &sl);
  impl->port = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                              : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (::pipe2(impl->wake, O_CLOEXEC) != 0) {
    ::close(impl->listen_fd);
    throw TelemetryError(std::string("Prometheus endpoint: pipe: ") + std::strerror(errno));
  }
  impl->thread = std::thread([impl] { impl->loop(); });
}

PrometheusServer::~PrometheusServer() {
  const char c = 0;
  (void)!::write(impl_->wake[1], &c, 1);
  if (impl_->thread.joinable()) impl_->thread.join();
  ::close(impl_->wake[0]);
  ::close(impl_->wake[1]);
  ::close(impl_->listen_fd);
}

void PrometheusServer::publish(std::string text) {
  std::lock_guard lock(impl_->mu);
  impl_->text = std::move(text);
  impl_->published = true;
}

uint16_t PrometheusServer::port() const { return impl_->port; }

}  // namespace rfab::telemetry
