#include "ping_stats.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace rfab::cli::ping {
namespace {

double rank_quantile(const std::vector<double>& sorted, double q) {
  const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

nlohmann::json latency_json(const Latency& l) {
  return {{"samples", l.samples}, {"p50_us", l.p50_us}, {"p99_us", l.p99_us}, {"max_us", l.max_us}};
}

Latency latency_from(const nlohmann::json& j) {
  Latency l;
  l.samples = j.at("samples").get<uint64_t>();
  l.p50_us = j.at("p50_us").get<double>();
  l.p99_us = j.at("p99_us").get<double>();
  l.max_us = j.at("max_us").get<double>();
  return l;
}

}  // namespace

Latency summarize(std::vector<double> rtt_us) {
  Latency l;
  if (rtt_us.empty()) return l;
  std::sort(rtt_us.begin(), rtt_us.end());
  l.samples = rtt_us.size();
  l.p50_us = rank_quantile(rtt_us, 0.5);
  l.p99_us = rank_quantile(rtt_us, 0.99);
  l.max_us = rtt_us.back();
  return l;
}

uint64_t PairResult::sent() const {
  uint64_t s = 0;
  for (const auto& e : entropies) s += e.sent;
  return s;
}

uint64_t PairResult::lost() const {
  uint64_t s = 0;
  for (const auto& e : entropies) s += e.lost;
  return s;
}

nlohmann::json to_json(const PairResult& p) {
  nlohmann::json ents = nlohmann::json::array();
  for (const auto& e : p.entropies)
    ents.push_back({{"src_port", e.src_port}, {"sent", e.sent}, {"lost", e.lost}, {"resent", e.resent}, {"late", e.late},
                    {"failed", e.failed}, {"rtt", latency_json(e.rtt)}});
  return {{"src", p.src}, {"dst", p.dst}, {"reached", p.reached}, {"error", p.error},
          {"sent", p.sent()}, {"lost", p.lost()}, {"rtt", latency_json(p.rtt)}, {"entropies", ents}};
}

PairResult pair_from_json(const nlohmann::json& j, size_t n_hosts) {
  try {
    PairResult p;
    p.src = j.at("src").get<size_t>();
    p.dst = j.at("dst").get<size_t>();
    if (p.src >= n_hosts || p.dst >= n_hosts || p.src == p.dst)
      throw std::invalid_argument("pair " + std::to_string(p.src) + " -> " + std::to_string(p.dst) + " is not a pair of " +
                                  std::to_string(n_hosts) + " hosts");
    p.reached = j.at("reached").get<bool>();
    p.error = j.at("error").get<std::string>();
    p.rtt = latency_from(j.at("rtt"));
    for (const auto& e : j.at("entropies")) {
      EntropyResult r;
      r.src_port = e.at("src_port").get<uint16_t>();
      r.sent = e.at("sent").get<uint64_t>();
      r.lost = e.at("lost").get<uint64_t>();
      r.resent = e.at("resent").get<uint64_t>();
      r.late = e.at("late").get<uint64_t>();
      r.failed = e.at("failed").get<uint64_t>();
      if (r.lost > r.sent) throw std::invalid_argument("more probes lost than sent");
      if (r.resent + r.late + r.failed != r.lost) throw std::invalid_argument("the reasons for loss do not add up to the loss");
      r.rtt = latency_from(e.at("rtt"));
      p.entropies.push_back(r);
    }
    return p;
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("malformed pair: ") + e.what());
  }
}

}  // namespace rfab::cli::ping
