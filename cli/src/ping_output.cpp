#include "ping_output.hpp"

#include <algorithm>
#include <cstdio>

namespace rfab::cli::ping {
namespace {

std::string cell(const PairResult& p) {
  char buf[96];
  const double loss = p.sent() ? 100.0 * static_cast<double>(p.lost()) / static_cast<double>(p.sent()) : 100.0;
  if (p.rtt.samples == 0)
    std::snprintf(buf, sizeof buf, "-/-/- %.0f%%", loss);
  else
    std::snprintf(buf, sizeof buf, "%.0f/%.0f/%.0f %.*f%%", p.rtt.p50_us, p.rtt.p99_us, p.rtt.max_us, loss > 0 && loss < 1 ? 1 : 0, loss);
  return buf;
}

const PairResult* find(const Matrix& m, size_t s, size_t d) {
  for (const auto& p : m.pairs)
    if (p.src == s && p.dst == d) return &p;
  return nullptr;
}

}  // namespace

void print_text(std::ostream& os, const Matrix& m, const Verdict& v, const RunInfo& info) {
  const size_t n = m.hosts.size();
  os << "# rfab ping: " << n << " hosts, " << m.pairs.size() << " pairs measured, " << info.entropies
     << " entropies x " << info.count << " probes of " << info.size << " B (RDMA WRITE), " << info.device << "\n";
  os << "# cells: round trip p50/p99/max in us, then probes lost; row = source, column = destination\n";
  size_t w = 6;
  for (const auto& h : m.hosts) w = std::max(w, h.size() + 2);
  for (const auto& p : m.pairs) w = std::max(w, cell(p).size() + 2);
  auto pad = [&](const std::string& s) { return s + std::string(w > s.size() ? w - s.size() : 1, ' '); };
  os << pad("");
  for (const auto& h : m.hosts) os << pad(h);
  os << "\n";
  for (size_t s = 0; s < n; ++s) {
    os << pad(m.hosts[s]);
    for (size_t d = 0; d < n; ++d) {
      const PairResult* p = s == d ? nullptr : find(m, s, d);
      os << pad(s == d ? "." : p ? cell(*p) : (s < m.reported.size() && !m.reported[s] ? "no report" : "-"));
    }
    os << "\n";
  }
  bool header = false;
  for (const auto& p : m.pairs) {
    if (p.lost() == 0) continue;
    if (!header) os << "# loss per entropy (UDP source port: lost/sent), and why: resent, late (timeout), QP failed\n";
    header = true;
    os << m.hosts[p.src] << " -> " << m.hosts[p.dst] << ":";
    if (!p.reached) {
      os << " not reached: " << p.error << "\n";
      continue;
    }
    uint64_t resent = 0, late = 0, failed = 0;
    for (const auto& e : p.entropies) {
      os << " " << e.src_port << ":" << e.lost << "/" << e.sent;
      resent += e.resent;
      late += e.late;
      failed += e.failed;
    }
    os << "  (resent " << resent << ", late " << late << ", failed " << failed << ")\n";
  }
  if (v.ok()) {
    os << "verdict: OK (" << v.pairs << " pairs, every entropy clean)\n";
    return;
  }
  os << "verdict: FAULT (" << v.bad_pairs << " of " << v.pairs << " pairs bad)\n";
  for (const auto& f : v.findings) os << "  " << f.text << "\n";
}

nlohmann::ordered_json to_json(const Matrix& m, const Verdict& v, const RunInfo& info) {
  nlohmann::ordered_json pairs = nlohmann::ordered_json::array();
  for (const auto& p : m.pairs) {
    nlohmann::ordered_json j = to_json(p);
    j["src_host"] = m.hosts[p.src];
    j["dst_host"] = m.hosts[p.dst];
    pairs.push_back(j);
  }
  nlohmann::ordered_json findings = nlohmann::ordered_json::array();
  for (const auto& f : v.findings) {
    nlohmann::ordered_json j{{"kind", to_string(f.kind)}, {"text", f.text}};
    if (f.kind == Finding::Kind::host) j["host"] = m.hosts[f.host];
    if (f.kind != Finding::Kind::host) {
      j["src"] = m.hosts[f.src];
      j["dst"] = m.hosts[f.dst];
      j["entropies"] = f.entropies;
    }
    findings.push_back(j);
  }
  nlohmann::ordered_json reported = nlohmann::ordered_json::array();
  for (size_t i = 0; i < m.hosts.size(); ++i) reported.push_back(i < m.reported.size() && m.reported[i]);
  return {{"hosts", m.hosts},     {"self", info.self},     {"entropies", info.entropies}, {"count", info.count},
          {"size", info.size},    {"device", info.device}, {"reported", reported},        {"pairs", pairs},
          {"ok", v.ok()},         {"findings", findings}};
}

void add_metrics(telemetry::Metrics& out, const Matrix& m) {
  using telemetry::MetricType;
  for (const auto& p : m.pairs) {
    const std::string& s = m.hosts[p.src];
    const std::string& d = m.hosts[p.dst];
    out.add("rfab_ping_reached", "1 when the destination's agent answered on the side channel", MetricType::gauge,
            {{"src", s}, {"dst", d}}, p.reached ? 1 : 0);
    for (size_t k = 0; k < p.entropies.size(); ++k) {
      const EntropyResult& e = p.entropies[k];
      const telemetry::Labels l{{"src", s}, {"dst", d}, {"entropy", std::to_string(k)}, {"sport", std::to_string(e.src_port)}};
      out.add("rfab_ping_probes_total", "probe slots per entropy (UDP source port)", MetricType::counter, l, static_cast<double>(e.sent));
      out.add("rfab_ping_lost_total", "probes lost per entropy (UDP source port)", MetricType::counter, l, static_cast<double>(e.lost));
    }
    if (p.rtt.samples == 0) continue;
    for (const auto& [q, v] : {std::pair{"0.5", p.rtt.p50_us}, std::pair{"0.99", p.rtt.p99_us}, std::pair{"1", p.rtt.max_us}})
      out.add("rfab_ping_rtt_seconds", "probe round trip over the recent probes (quantile 1 = max)", MetricType::gauge,
              {{"src", s}, {"dst", d}, {"quantile", q}}, v / 1e6);
  }
}

}  // namespace rfab::cli::ping
