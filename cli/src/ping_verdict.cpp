#include "ping_verdict.hpp"

#include <cstdio>

namespace rfab::cli::ping {
namespace {

bool entropy_bad(const PairResult& p, const EntropyResult& e, double max_loss) {
  return !p.reached || e.sent == 0 || e.loss() > max_loss;
}

std::vector<size_t> bad_entropies(const PairResult& p, double max_loss) {
  std::vector<size_t> out;
  for (size_t k = 0; k < p.entropies.size(); ++k)
    if (entropy_bad(p, p.entropies[k], max_loss)) out.push_back(k);
  return out;
}

bool pair_bad(const PairResult& p, double max_loss) {
  return !p.reached || p.entropies.empty() || !bad_entropies(p, max_loss).empty();
}

std::string percent(uint64_t lost, uint64_t sent) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", sent ? 100.0 * static_cast<double>(lost) / static_cast<double>(sent) : 100.0);
  return buf;
}

}  // namespace

const char* to_string(Finding::Kind k) {
  switch (k) {
    case Finding::Kind::host: return "host";
    case Finding::Kind::pair: return "pair";
    case Finding::Kind::path: return "path";
  }
  return "?";
}

Verdict judge(const Matrix& m, double max_loss) {
  Verdict v;
  const size_t n = m.hosts.size();
  std::vector<bool> bad(m.pairs.size());
  for (size_t i = 0; i < m.pairs.size(); ++i) {
    bad[i] = pair_bad(m.pairs[i], max_loss);
    ++v.pairs;
    v.bad_pairs += bad[i];
  }

  std::vector<bool> host_fault(n, false);
  // Only one row arrived and every pair in it is bad: from here, one host cut off explains it better than
  // all the others down at once (with two hosts the two cannot be told apart, so the rules below apply).
  size_t reporters = 0, reporter = 0;
  for (size_t h = 0; h < n && h < m.reported.size(); ++h)
    if (m.reported[h]) ++reporters, reporter = h;
  if (n > 2 && reporters == 1 && v.bad_pairs == v.pairs && v.pairs > 0) {
    Finding f;
    f.kind = Finding::Kind::host;
    f.host = reporter;
    f.text = "host " + m.hosts[reporter] + ": reaches none of the other " + std::to_string(n - 1) +
             " hosts and none of them reported (this host is cut off, or all the others are down)";
    v.findings.push_back(f);
    return v;
  }
  for (size_t h = 0; h < n; ++h) {
    size_t touching = 0, touching_bad = 0, others_good = 0;
    for (size_t i = 0; i < m.pairs.size(); ++i) {
      const bool touches = m.pairs[i].src == h || m.pairs[i].dst == h;
      if (touches) {
        ++touching;
        touching_bad += bad[i];
      } else if (!bad[i]) {
        ++others_good;
      }
    }
    const bool silent = h < m.reported.size() && !m.reported[h];
    const bool all_bad = n > 2 && touching > 0 && touching_bad == touching && others_good > 0;
    if (!silent && !all_bad) continue;
    host_fault[h] = true;
    Finding f;
    f.kind = Finding::Kind::host;
    f.host = h;
    f.text = "host " + m.hosts[h] + ": ";
    if (all_bad)
      f.text += "all " + std::to_string(touching) + " of its measured pairs are bad";
    else
      f.text += "sent no report (its agent is not running, or cannot reach the others)";
    if (all_bad && silent) f.text += ", and it sent no report";
    v.findings.push_back(f);
  }

  for (size_t i = 0; i < m.pairs.size(); ++i) {
    const PairResult& p = m.pairs[i];
    if (!bad[i] || host_fault[p.src] || host_fault[p.dst]) continue;
    const std::vector<size_t> be = bad_entropies(p, max_loss);
    const std::string name = m.hosts[p.src] + " -> " + m.hosts[p.dst];
    if (!p.reached || p.entropies.empty() || be.size() == p.entropies.size()) {
      Finding f;
      f.kind = Finding::Kind::pair;
      f.src = p.src;
      f.dst = p.dst;
      f.entropies = be;
      f.text = "pair " + name + ": " +
               (p.reached ? "all " + std::to_string(p.entropies.size()) + " entropies lose probes (" +
                                percent(p.lost(), p.sent()) + " lost)"
                          : "not reached: " + p.error);
      v.findings.push_back(f);
    } else {
      Finding f;
      f.kind = Finding::Kind::path;
      f.src = p.src;
      f.dst = p.dst;
      f.entropies = be;
      f.text = "path " + name + ": " + std::to_string(be.size()) + " of " + std::to_string(p.entropies.size()) +
               " entropies lose probes (source port";
      for (size_t k = 0; k < be.size(); ++k) {
        const EntropyResult& e = p.entropies[be[k]];
        f.text += (k ? ", " : " ") + std::to_string(e.src_port) + " " + percent(e.lost, e.sent);
      }
      f.text += "); the others are clean";
      v.findings.push_back(f);
    }
  }
  return v;
}

}  // namespace rfab::cli::ping
