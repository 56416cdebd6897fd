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

namespace {

struct Conn {
  int fd;
  std::string in;
  std::string out;
  bool greeted = false;      // sent the HELLO of this store's job
  bool close_after = false;  // refused: close once `out` is delivered
};

void put_u32(std::string& s, uint32_t v) { s.append(reinterpret_cast<const char*>(&v), 4); }

std::string reply(uint8_t status, const std::string& payload) {
  std::string r;
  r.push_back(static_cast<char>(status));
  put_u32(r, static_cast<uint32_t>(payload.size()));
  r += payload;
  return r;
}

}  // namespace

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
  std::unordered_map<std::string, std::string> data;
  std::map<int, Conn> conns;
  std::multimap<std::string, int> waiters;  // key -> fd of a client blocked in GET
  auto drop = [&](int fd) {
    for (auto it = waiters.begin(); it != waiters.end();)
      it = it->second == fd ? waiters.erase(it) : std::next(it);
    close(fd);
    conns.erase(fd);
  };
  auto on_set = [&](const std::string& key) {
    auto range = waiters.equal_range(key);
    for (auto it = range.first; it != range.second; ++it) conns[it->second].out += reply(kOk, data[key]);
    waiters.erase(range.first, range.second);
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
        conns[fd] = Conn{fd, {}, {}};
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
        Request req;
        try {
          for (size_t used; !c.close_after && (used = parse_request(c.in, req)) > 0;) {
            c.in.erase(0, used);
            const std::string& key = req.key;
            const std::string& value = req.value;
            if (req.cmd == kHello) {
              if (!job_.empty() && key != job_) {
                c.out += reply(kRefused, "this store serves job '" + job_ + "', not job '" + key + "'");
                c.close_after = true;
              } else {
                c.greeted = true;
                c.out += reply(kOk, {});
              }
              continue;
            }
            if (!job_.empty() && !c.greeted) {
              c.out += reply(kRefused, "this store serves job '" + job_ + "'; a client must name its job first");
              c.close_after = true;
              continue;
            }
            switch (req.cmd) {
              case kSet:
                data[key] = value;
                c.out += reply(kOk, {});
                on_set(key);
                break;
              case kGet: {
                auto d = data.find(key);
                if (d != data.end()) {
                  c.out += reply(kOk, d->second);
                } else {
                  waiters.emplace(key, fd);
                }
                break;
              }
              case kAdd: {
                long long v = 0;
                if (auto d = data.find(key); d != data.end()) v = parse_add_operand(d->second);
                if (__builtin_add_overflow(v, parse_add_operand(value), &v)) throw std::runtime_error("add overflows");
                data[key] = std::to_string(v);
                c.out += reply(kOk, data[key]);
                on_set(key);
                break;
              }
              case kCheck: c.out += reply(data.count(key) != 0 ? kOk : kMissing, {}); break;
              default: throw std::runtime_error("unknown command");  // parse_request let it through
            }
          }
        } catch (const std::exception&) {
          drop(fd);  // a malformed client is disconnected; others are unaffected
          continue;
        }
      }
    }
  }
}

}  // namespace rfab::coll
