#include "ping_protocol.hpp"

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace rfab::cli::ping {
namespace {

using nlohmann::json;

json qps_json(const std::vector<QpEnd>& qps) {
  json a = json::array();
  for (const auto& q : qps) a.push_back({{"qpn", q.qpn}, {"psn", q.psn}});
  return a;
}

std::vector<QpEnd> qps_from(const json& a) {
  if (!a.is_array() || a.empty() || a.size() > kMaxEntropies)
    throw std::invalid_argument("qps: expected 1.." + std::to_string(kMaxEntropies) + " entries");
  std::vector<QpEnd> out;
  for (const auto& q : a) {
    QpEnd e{q.at("qpn").get<uint32_t>(), q.at("psn").get<uint32_t>()};
    if (e.qpn == 0 || e.qpn >= (1u << 24) || e.psn >= (1u << 24)) throw std::invalid_argument("qps: QPN or PSN out of range");
    out.push_back(e);
  }
  return out;
}

json parse(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object()) throw std::invalid_argument("not a JSON object");
  return j;
}

template <class F>
auto checked(const char* what, F f) {
  try {
    return f();
  } catch (const json::exception& e) {
    throw std::invalid_argument(std::string(what) + ": " + e.what());
  }
}

}  // namespace

std::optional<udp::Address> parse_roce_address(const std::string& text) {
  std::string ip, port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find("]:");
    if (close == std::string::npos) return std::nullopt;
    ip = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string::npos) return std::nullopt;
    ip = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  const unsigned long p = std::stoul(port);
  if (p == 0 || p > 65535) return std::nullopt;
  return udp::Address::parse(ip, static_cast<uint16_t>(p));
}

std::string encode(const ConnectRequest& r) {
  return json{{"op", "connect"}, {"from", r.from}, {"roce", r.roce}, {"qps", qps_json(r.qps)}}.dump();
}

std::string encode(const ConnectReply& r) {
  return json{{"op", "reply"}, {"ok", r.ok}, {"error", r.error}, {"roce", r.roce}, {"qps", qps_json(r.qps)},
              {"rkey", r.rkey}, {"addr", r.addr}}
      .dump();
}

std::string encode(const Report& r) {
  json pairs = json::array();
  for (const auto& p : r.pairs) pairs.push_back(to_json(p));
  return json{{"op", "report"}, {"from", r.from}, {"pairs", pairs}}.dump();
}

std::string op_of(const std::string& text) {
  return checked("message", [&] { return parse(text).at("op").get<std::string>(); });
}

ConnectRequest decode_connect(const std::string& text, size_t n_hosts) {
  return checked("connect request", [&] {
    const json j = parse(text);
    ConnectRequest r;
    r.from = j.at("from").get<size_t>();
    if (r.from >= n_hosts) throw std::invalid_argument("connect request from host " + std::to_string(r.from) + " of " + std::to_string(n_hosts));
    r.roce = j.at("roce").get<std::string>();
    r.qps = qps_from(j.at("qps"));
    return r;
  });
}

ConnectReply decode_reply(const std::string& text, size_t entropies) {
  return checked("connect reply", [&] {
    const json j = parse(text);
    ConnectReply r;
    r.ok = j.at("ok").get<bool>();
    r.error = j.at("error").get<std::string>();
    if (!r.ok) return r;
    r.roce = j.at("roce").get<std::string>();
    r.qps = qps_from(j.at("qps"));
    if (r.qps.size() != entropies) throw std::invalid_argument("connect reply: " + std::to_string(r.qps.size()) + " QPs for " + std::to_string(entropies) + " entropies");
    r.rkey = j.at("rkey").get<uint32_t>();
    r.addr = j.at("addr").get<uint64_t>();
    return r;
  });
}

Report decode_report(const std::string& text, size_t n_hosts) {
  return checked("report", [&] {
    const json j = parse(text);
    Report r;
    r.from = j.at("from").get<size_t>();
    if (r.from >= n_hosts) throw std::invalid_argument("report from host " + std::to_string(r.from) + " of " + std::to_string(n_hosts));
    for (const auto& p : j.at("pairs")) {
      PairResult pr = pair_from_json(p, n_hosts);
      if (pr.src != r.from) throw std::invalid_argument("report from host " + std::to_string(r.from) + " holds a pair of host " + std::to_string(pr.src));
      r.pairs.push_back(std::move(pr));
    }
    return r;
  });
}

}  // namespace rfab::cli::ping
