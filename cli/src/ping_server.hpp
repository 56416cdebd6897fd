// The listening side of an `rfab ping` agent's side channel: accepts peers one at a time on its own
// thread (each message has a deadline, so a silent or slow peer costs at most that), hands connect
// requests to the agent and keeps the reports that arrive.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "ping_protocol.hpp"
#include "rfab/sidechannel/tcp_channel.hpp"

namespace rfab::cli::ping {

class SideChannelServer {
 public:
  // Called on the server's thread for each connect request; returns the reply to send.
  using ConnectHandler = std::function<ConnectReply(const ConnectRequest&)>;
  // Listens on ip:port (throws sidechannel::ExchangeError when it cannot) and starts the thread.
  SideChannelServer(const std::string& ip, uint16_t port, size_t n_hosts, ConnectHandler on_connect);
  ~SideChannelServer();
  SideChannelServer(const SideChannelServer&) = delete;
  SideChannelServer& operator=(const SideChannelServer&) = delete;

  std::map<size_t, Report> reports() const;
  size_t report_count() const;

 private:
  void run();
  void serve_one(sidechannel::TcpChannel& ch);
  sidechannel::TcpListener listener_;
  size_t n_hosts_;
  ConnectHandler on_connect_;
  mutable std::mutex mu_;
  std::map<size_t, Report> reports_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Sends `report` to the agent at ip:port and waits for its acknowledgement; throws
// sidechannel::ExchangeError (or std::invalid_argument on a malformed answer).
void send_report(const std::string& ip, uint16_t port, const Report& report, std::chrono::milliseconds timeout);

}  // namespace rfab::cli::ping
