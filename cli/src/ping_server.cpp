#include "ping_server.hpp"

#include <nlohmann/json.hpp>

namespace rfab::cli::ping {
namespace {
using namespace std::chrono_literals;
constexpr auto kMessageDeadline = 2s;
}  // namespace

SideChannelServer::SideChannelServer(const std::string& ip, uint16_t port, size_t n_hosts, ConnectHandler on_connect)
    : listener_(ip, port), n_hosts_(n_hosts), on_connect_(std::move(on_connect)) {
  thread_ = std::thread([this] { run(); });
}

SideChannelServer::~SideChannelServer() {
  stop_ = true;
  thread_.join();
}

std::map<size_t, Report> SideChannelServer::reports() const {
  std::lock_guard lk(mu_);
  return reports_;
}

size_t SideChannelServer::report_count() const {
  std::lock_guard lk(mu_);
  return reports_.size();
}

void SideChannelServer::run() {
  while (!stop_) {
    try {
      sidechannel::TcpChannel ch = listener_.accept(100ms);
      serve_one(ch);
    } catch (const std::exception&) {
      // No peer within the poll period, or a peer that broke the protocol: it gets nothing more.
    }
  }
}

void SideChannelServer::serve_one(sidechannel::TcpChannel& ch) {
  const std::string text = ch.recv_message(kMessageDeadline, "ping request", 1u << 20);
  const std::string op = op_of(text);
  if (op == "connect") {
    ConnectReply reply;
    try {
      reply = on_connect_(decode_connect(text, n_hosts_));
    } catch (const std::exception& e) {
      reply.ok = false;
      reply.error = e.what();
    }
    ch.send_message(encode(reply), kMessageDeadline, "connect reply");
  } else if (op == "report") {
    Report r;
    std::string error;
    try {
      r = decode_report(text, n_hosts_);
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (error.empty()) {
      std::lock_guard lk(mu_);
      reports_[r.from] = std::move(r);
    }
    ch.send_message(nlohmann::json{{"op", "ack"}, {"ok", error.empty()}, {"error", error}}.dump(), kMessageDeadline,
                    "report acknowledgement");
  } else {
    ch.send_message(nlohmann::json{{"op", "ack"}, {"ok", false}, {"error", "unknown op '" + op + "'"}}.dump(),
                    kMessageDeadline, "refusal");
  }
}

void send_report(const std::string& ip, uint16_t port, const Report& report, std::chrono::milliseconds timeout) {
  auto ch = sidechannel::TcpChannel::connect(ip, port, timeout);
  ch.send_message(encode(report), kMessageDeadline, "report");
  const auto ack = nlohmann::json::parse(ch.recv_message(kMessageDeadline, "report acknowledgement"), nullptr, false);
  if (!ack.is_object() || !ack.value("ok", false))
    throw std::invalid_argument("report refused: " + (ack.is_object() ? ack.value("error", std::string("?")) : std::string("malformed answer")));
}

}  // namespace rfab::cli::ping
