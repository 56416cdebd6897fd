#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "rfab/base/tcp_connect.hpp"
#include "rfab/collectives/store.hpp"
#include "rfab/collectives/types.hpp"
#include "store_protocol.hpp"

namespace rfab::coll {
using namespace store_proto;

namespace {
int remaining_ms(Clock::time_point deadline) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return ms < 0 ? 0 : static_cast<int>(std::min<long long>(ms, 1 << 30));
}
}  // namespace

int tcp_connect(const std::string& host, uint16_t port, std::chrono::milliseconds timeout) {
  try {
    return rfab::tcp_connect(host, port, timeout);
  } catch (const TcpConnectError& e) {
    if (e.kind() == TcpConnectError::Kind::Resolve)
      throw Error(Status::InvalidArgument, "cannot resolve store host '" + host + "': " + e.what());
    throw Error(Status::Timeout, "cannot connect to store at " + host + ":" + std::to_string(port) + " within " +
                                     std::to_string(timeout.count() / 1000) + " s: " + e.what());
  }
}

StoreClient::StoreClient(const std::string& host, uint16_t port, std::chrono::milliseconds timeout, std::string job_id)
    : host_(host), port_(port), timeout_(timeout), job_(std::move(job_id)) {
  connect();
}

void StoreClient::connect() {
  fd_ = tcp_connect(host_, port_, timeout_);
  if (job_.empty()) return;
  bool ok = false;
  const std::string why = call(kHello, job_, {}, &ok);
  if (!ok) {
    close(fd_);
    fd_ = -1;
    throw Error(Status::InvalidArgument, "the store at " + endpoint() + " refused this rank of job '" + job_ + "': " +
                                             why + " (two jobs on one MASTER_ADDR:MASTER_PORT?)");
  }
}

StoreClient::~StoreClient() {
  if (fd_ >= 0) close(fd_);
}

std::string StoreClient::endpoint() const { return host_ + ":" + std::to_string(port_); }

std::string StoreClient::local_ip() const {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (fd_ < 0 || getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, buf, sizeof buf);
  } else if (ss.ss_family == AF_INET6) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
      inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], buf, sizeof buf);
    } else {
      inet_ntop(AF_INET6, &s6->sin6_addr, buf, sizeof buf);
    }
  }
  return buf;
}

void StoreClient::send_all(const void* p, size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    ssize_t k = ::send(fd_, c, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) throw Error(Status::Remote, "store at " + endpoint() + " closed the connection (rank 0 gone?)");
    c += k;
    n -= static_cast<size_t>(k);
  }
}

void StoreClient::recv_all(void* p, size_t n, const std::string& what) {
  auto deadline = Clock::now() + timeout_;
  char* c = static_cast<char*>(p);
  while (n > 0) {
    pollfd pfd{fd_, POLLIN, 0};
    int r = poll(&pfd, 1, remaining_ms(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) {
      // The reply may still arrive later and would desynchronise the stream: drop the connection.
      close(fd_);
      fd_ = -1;
      throw Error(Status::Timeout, "timed out after " + std::to_string(timeout_.count() / 1000) + " s waiting for " +
                                       what + " from store at " + endpoint());
    }
    ssize_t k = ::recv(fd_, c, n, 0);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) throw Error(Status::Remote, "store at " + endpoint() + " closed the connection (rank 0 gone?)");
    c += k;
    n -= static_cast<size_t>(k);
  }
}

std::string StoreClient::call(uint8_t cmd, const std::string& key, const std::string& value, bool* found) {
  if (fd_ < 0) connect();
  std::string req;
  req.push_back(static_cast<char>(cmd));
  auto k = static_cast<uint32_t>(key.size());
  auto v = static_cast<uint32_t>(value.size());
  req.append(reinterpret_cast<const char*>(&k), 4);
  req += key;
  req.append(reinterpret_cast<const char*>(&v), 4);
  req += value;
  send_all(req.data(), req.size());
  unsigned char hdr[5];
  recv_all(hdr, 5, "key '" + key + "'");
  uint32_t len;
  std::memcpy(&len, hdr + 1, 4);
  if (len > kMaxField) throw Error(Status::Internal, "store reply too long");
  std::string out(len, '\0');
  if (len > 0) recv_all(out.data(), len, "key '" + key + "'");
  if (hdr[0] == kRefused && cmd != kHello)
    throw Error(Status::InvalidArgument, "the store at " + endpoint() + " refused this rank: " + out);
  if (found != nullptr) *found = hdr[0] == kOk;
  return out;
}

void StoreClient::set(const std::string& key, const std::string& value) { call(kSet, key, value); }
std::string StoreClient::get(const std::string& key) { return call(kGet, key, {}); }
int64_t StoreClient::add(const std::string& key, int64_t delta) {
  const std::string r = call(kAdd, key, std::to_string(delta));
  try {
    return parse_add_operand(r);
  } catch (const std::runtime_error&) {
    throw Error(Status::Remote, "store at " + endpoint() + " answered ADD of '" + key + "' with a non-integer");
  }
}
bool StoreClient::check(const std::string& key) {
  bool found = false;
  call(kCheck, key, {}, &found);
  return found;
}
void StoreClient::wait(const std::vector<std::string>& keys) {
  for (const auto& k : keys) get(k);
}
void StoreClient::barrier(const std::string& name, int n) {
  if (add(name + "/count", 1) == n) set(name + "/done", "1");
  get(name + "/done");
}

}  // namespace rfab::coll
