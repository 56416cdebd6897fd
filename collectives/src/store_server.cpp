#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <unordered_map>

#include "rfab/collectives/store.hpp"
#include "rfab/collectives/types.hpp"
#include "store_protocol.hpp"

namespace rfab::coll {
using namespace store_proto;

StoreServer::StoreServer(const std::string& bind_addr, uint16_t port, std::string job_id) : job_(std::move(job_id)) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string ps = std::to_string(port);
  int rc = getaddrinfo(bind_addr.empty() ? nullptr : bind_addr.c_str(), ps.c_str(), &hints, &res);
  if (rc != 0)
    throw Error(Status::InvalidArgument, "store: cannot resolve '" + bind_addr + "': " + gai_strerror(rc));
  std::string last_err = "no address";
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0) {
      listen_fd_ = fd;
      break;
    }
    last_err = std::strerror(errno);
    close(fd);
  }
  freeaddrinfo(res);
  if (listen_fd_ < 0)
    throw Error(Status::System, "store: cannot listen on " + bind_addr + ":" + ps + ": " + last_err);
  sockaddr_storage ss{};
  socklen_t sl = sizeof ss;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &sl);
  port_ = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                         : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (pipe2(wake_fd_, O_CLOEXEC) != 0) {
    close(listen_fd_);
    throw_errno("store: pipe");
  }
  thread_ = std::thread([this] { loop(); });
}


StoreServer::~StoreServer() {
  char c = 0;
  if (write(wake_fd_[1], &c, 1) < 0) { /* the loop also ends when the pipe closes */ }
  if (thread_.joinable()) thread_.join();
  close(wake_fd_[0]);
  close(wake_fd_[1]);
  close(listen_fd_);
}

void StoreServer::loop() {
  StoreState state(job_);
  std::map<int, Conn> conns;
  auto drop = [&](int fd) {
    state.forget(fd);
    close(fd);
    conns.erase(fd);
  };
  // On shutdown, replies already owed (e.g. the last barrier's) are still delivered, for up to 2 s.
  bool stopping = false;
  Clock::time_point stop_deadline{};
  auto owes = [&] {
    for (auto& [fd, c] : conns)
      if (!c.out.empty()) return true;
    return false;
  };
  for (;;) {
    if (stopping && (!owes() || Clock::now() > stop_deadline)) break;
    std::vector<pollfd> fds;
    fds.push_back({stopping ? -1 : wake_fd_[0], POLLIN, 0});  // negative fd: ignored by poll
    fds.push_back({listen_fd_, POLLIN, 0});
    for (auto& [fd, c] : conns)
      fds.push_back({fd, static_cast<short>(POLLIN | (c.out.empty() ? 0 : POLLOUT)), 0});
    if (poll(fds.data(), fds.size(), stopping ? 50 : -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents != 0 && !stopping) {
      stopping = true;
      stop_deadline = Clock::now() + std::chrono::seconds(2);
    }
    if (fds[1].revents & POLLIN) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conns[fd].fd = fd;
      }
    }
    for (size_t i = 2; i < fds.size(); ++i) {
      int fd = fds[i].fd;
      auto it = conns.find(fd);
      if (it == conns.end()) continue;
      Conn& c = it->second;
      if (fds[i].revents & POLLOUT) {
        ssize_t n = ::send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
        if (n > 0) c.out.erase(0, static_cast<size_t>(n));
        if (c.close_after && c.out.empty()) {
          drop(fd);
          continue;
        }
      }
      if (c.close_after) continue;  // nothing more is read from a refused client
      if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
        char buf[65536];
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) {
          if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
          drop(fd);
          continue;
        }
        c.in.append(buf, static_cast<size_t>(n));
        try {
          state.feed(c, conns);
        } catch (const std::exception&) {
          drop(fd);  // a malformed client is disconnected; others are unaffected
          continue;
        }
      }
    }
  }
}

}  // namespace rfab::coll
