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
  // True when data (or end-of-stream) is waiting; waits up to `timeout` (0 = just look).
  bool readable(std::chrono::milliseconds timeout) const;
  // Length-prefixed text messages (4-byte big-endian length, at most 1 MiB).
  void send_message(const std::string& text, std::chrono::milliseconds timeout, const char* stage);
  std::string recv_message(std::chrono::milliseconds timeout, const char* stage);
  // Both sides reach this point (a one-byte exchange); used as a start/stop barrier.
  void barrier(std::chrono::milliseconds timeout, const char* stage);

 private:
  int fd_ = -1;
  bool client_ = false;
  std::string peer_, local_ip_, peer_ip_;
};

}  // namespace rfab::sidechannel
