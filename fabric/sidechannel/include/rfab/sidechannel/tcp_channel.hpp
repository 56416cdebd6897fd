// The out-of-band TCP side channel used to set up RC connections (perftest's "ethernet" exchange, no
// rdma_cm). Every operation has a deadline; errors are ExchangeError naming the peer and the stage.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>

namespace rfab::sidechannel {

class ExchangeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using Clock = std::chrono::steady_clock;

class TcpChannel {
 public:
  // Server: listen on `bind_ip` ("" = any, IPv6 dual-stack when available) and `port`, accept one peer.
  // (TcpListener keeps listening across several peers.)
  static TcpChannel accept_one(const std::string& bind_ip, uint16_t port, std::chrono::milliseconds timeout);
  // Client: connect to host:port, retrying while the server is not listening yet, until `timeout`.
  static TcpChannel connect(const std::string& host, uint16_t port, std::chrono::milliseconds timeout);

  TcpChannel() = default;
  ~TcpChannel();
  TcpChannel(TcpChannel&& o) noexcept;
  TcpChannel& operator=(TcpChannel&& o) noexcept;
  TcpChannel(const TcpChannel&) = delete;
  TcpChannel& operator=(const TcpChannel&) = delete;

  bool is_client() const { return client_; }
  const std::string& peer() const { return peer_; }
  // Numeric addresses of the two ends of the TCP connection (used as the default RoCE addresses).
  const std::string& local_ip() const { return local_ip_; }
  const std::string& peer_ip() const { return peer_ip_; }

  void send_all(std::span<const char> data, std::chrono::milliseconds timeout, const char* stage);
  void recv_exact(std::span<char> data, std::chrono::milliseconds timeout, const char* stage);
  // perftest's ctx_xchg_data order: the client writes then reads, the server reads then writes.
  void exchange(std::span<const char> mine, std::span<char> theirs, std::chrono::milliseconds timeout,
                const char* stage);
  // True when data (or end-of-stream, or an error) is waiting; waits up to `timeout` (0 = just look).
  bool readable(std::chrono::milliseconds timeout) const;
  // TCP keepalives after `idle` without traffic, every `interval`, `count` unanswered ones end the
  // connection (readable() then reports it): a connection that carries nothing still notices a peer that
  // vanished without closing it (a dead host, a cut link). Throws ExchangeError if the socket refuses.
  void enable_keepalive(std::chrono::seconds idle, std::chrono::seconds interval, int count);
  // Length-prefixed text messages (4-byte big-endian length). A longer message than `max_bytes` is an
  // error before anything is allocated for it.
  static constexpr size_t kMaxMessage = 1u << 20;
  void send_message(const std::string& text, std::chrono::milliseconds timeout, const char* stage);
  std::string recv_message(std::chrono::milliseconds timeout, const char* stage, size_t max_bytes = kMaxMessage);
  // Both sides reach this point (a one-byte exchange); used as a start/stop barrier.
  void barrier(std::chrono::milliseconds timeout, const char* stage);

 private:
  friend class TcpListener;
  int fd_ = -1;
  bool client_ = false;
  std::string peer_, local_ip_, peer_ip_;
};

// A listening socket that hands out one server-side TcpChannel per accepted peer, so a server can refuse
// a bad client and keep listening for the next one.
class TcpListener {
 public:
  // Listens on `bind_ip` ("" = any, IPv6 dual-stack when available) and `port`; throws ExchangeError.
  TcpListener(const std::string& bind_ip, uint16_t port);
  ~TcpListener();
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;
  // The next peer; throws ExchangeError when none connects within `timeout`.
  TcpChannel accept(std::chrono::milliseconds timeout);
  // True when a peer is waiting to be accepted; waits up to `timeout` (0 = just look). Lets a caller
  // wait in slices and give up on its own condition.
  bool pending(std::chrono::milliseconds timeout) const;
  // The port it listens on (the kernel's choice when constructed with port 0).
  uint16_t port() const;
  const std::string& where() const { return where_; }

 private:
  int fd_ = -1;
  std::string where_;
};

}  // namespace rfab::sidechannel
