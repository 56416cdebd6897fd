#include "perf_params.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <sstream>

#include "rfab/base/units.hpp"

namespace rfab::cli::perf {
namespace {

// The keys of the parameter message, in the order encode() writes them.
constexpr const char* kKeys[] = {"verb",  "size",  "iters",    "duration", "qps",  "mtu",     "spray",
                                 "depth", "slots", "rx_depth", "latency",  "seed", "recovery"};

[[noreturn]] void bad(const std::string& what) { throw ParamsError(what); }

std::string shown(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 64)) out.push_back(c >= 0x20 && c < 0x7F ? c : '?');
  return s.size() > 64 ? out + "..." : out;
}

std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == ' ') {
      ++i;
      continue;
    }
    const size_t end = std::min(s.find(' ', i), s.size());
    out.push_back(s.substr(i, end - i));
    i = end;
  }
  return out;
}

uint64_t number(const std::map<std::string_view, std::string_view>& kv, const char* key, uint64_t lo, uint64_t hi) {
  const auto it = kv.find(key);
  if (it == kv.end()) bad(std::string("client parameters lack '") + key + "'");
  try {
    return parse_u64(it->second, std::string("client parameter '") + key + "'", lo, hi);
  } catch (const ParseError& e) {
    bad(e.what());
  }
}

uint64_t mul(std::optional<uint64_t> a, uint64_t b) {
  uint64_t r = 0;
  if (!a || __builtin_mul_overflow(*a, b, &r)) return UINT64_MAX;
  return r;
}

}  // namespace

// "2.0 GiB", "128.1 MiB", "68.5 KiB": an estimate, so one decimal says enough.
std::string approx_size(uint64_t b) {
  char buf[32];
  const double x = static_cast<double>(b);
  if (b >= (1ull << 30)) std::snprintf(buf, sizeof buf, "%.1f GiB", x / (1ull << 30));
  else if (b >= (1ull << 20)) std::snprintf(buf, sizeof buf, "%.1f MiB", x / (1ull << 20));
  else std::snprintf(buf, sizeof buf, "%.1f KiB", x / (1ull << 10));
  return buf;
}

const char* to_string(Verb v) {
  switch (v) {
    case Verb::write: return "write";
    case Verb::read: return "read";
    case Verb::send: return "send";
    case Verb::atomic: return "atomic";
  }
  return "?";
}

std::string encode(const Params& p) {
  std::ostringstream s;
  s.precision(17);
  s << "rfab-perf/1 verb=" << to_string(p.verb) << " size=" << p.size << " iters=" << p.iters
    << " duration=" << p.duration << " qps=" << p.qps << " mtu=" << p.mtu << " spray=" << p.spray
    << " depth=" << p.depth << " slots=" << p.slots << " rx_depth=" << p.rx_depth << " latency=" << p.latency
    << " seed=" << p.seed
    << " recovery=" << (p.recovery == rc::LossRecovery::selective ? "selective" : "go-back-n");
  return s.str();
}

Params decode(std::string_view text) {
  if (text.size() > kMaxParamsMessage)
    bad("the parameter message is " + std::to_string(text.size()) + " bytes, at most " +
        std::to_string(kMaxParamsMessage));
  const std::vector<std::string_view> w = words(text);
  if (w.empty() || w[0] != "rfab-perf/1")
    bad("the client is not an rfab perf peer of this version ('" + shown(w.empty() ? "" : w[0]) + "')");
  std::map<std::string_view, std::string_view> kv;
  for (size_t i = 1; i < w.size(); ++i) {
    const size_t eq = w[i].find('=');
    if (eq == std::string_view::npos) bad("client parameter '" + shown(w[i]) + "' is not key=value");
    const std::string_view k = w[i].substr(0, eq);
    if (std::find(std::begin(kKeys), std::end(kKeys), k) == std::end(kKeys))
      bad("unknown client parameter '" + shown(k) + "'");
    if (!kv.emplace(k, w[i].substr(eq + 1)).second) bad("client parameter '" + shown(k) + "' given twice");
  }
  Params p;
  const std::string_view verb = kv.count("verb") ? kv["verb"] : "";
  if (verb == "write") p.verb = Verb::write;
  else if (verb == "read") p.verb = Verb::read;
  else if (verb == "send") p.verb = Verb::send;
  else if (verb == "atomic") p.verb = Verb::atomic;
  else bad("client asked for unknown verb '" + shown(verb) + "'");
  p.size = number(kv, "size", 0, kMaxMessageSize);
  p.iters = number(kv, "iters", 0, kMaxIters);
  if (!kv.count("duration")) bad("client parameters lack 'duration'");
  try {
    p.duration = parse_number(kv["duration"], "client parameter 'duration'");
  } catch (const ParseError& e) {
    bad(e.what());
  }
  if (p.duration > kMaxDurationSeconds)
    bad("client parameter 'duration' is " + shown(kv["duration"]) + " s, at most " +
        std::to_string(static_cast<int>(kMaxDurationSeconds)));
  p.qps = static_cast<uint32_t>(number(kv, "qps", 1, kMaxQps));
  p.mtu = static_cast<uint32_t>(number(kv, "mtu", 256, 4096));
  if (rc::Mtu m; !rc::mtu_from_bytes(p.mtu, m))
    bad("client parameter 'mtu' is " + std::to_string(p.mtu) + ", not 256, 512, 1024, 2048 or 4096");
  p.spray = static_cast<uint32_t>(number(kv, "spray", 1, kMaxSpray));
  p.depth = static_cast<uint32_t>(number(kv, "depth", 1, kMaxDepth));
  p.slots = static_cast<uint32_t>(number(kv, "slots", 1, kMaxDepth));
  p.rx_depth = static_cast<uint32_t>(number(kv, "rx_depth", 1, kMaxDepth));
  p.latency = number(kv, "latency", 0, 1) != 0;
  p.seed = number(kv, "seed", 0, UINT64_MAX);
  if (auto it = kv.find("recovery"); it != kv.end()) {
    if (it->second == "selective") p.recovery = rc::LossRecovery::selective;
    else if (it->second != "go-back-n") bad("client asked for unknown loss recovery '" + shown(it->second) + "'");
  }
  return p;
}

std::optional<uint64_t> buffer_bytes(const Params& p, bool server) {
  uint64_t b = 0;
  switch (p.verb) {
    case Verb::write: b = server ? mul(p.size, regions(p)) : p.size; break;
    case Verb::read: b = server ? p.size : mul(p.size, regions(p)); break;
    case Verb::send: b = mul(mul(p.size, p.qps), server ? p.rx_depth : p.slots); break;
    case Verb::atomic: b = mul(8ull * p.qps, server ? 1 : p.depth); break;
  }
  if (b == UINT64_MAX) return std::nullopt;
  return std::max<uint64_t>(b, 8);
}

uint64_t queue_bytes(const Params& p) {
  // Each factor is bounded by decode() (1024 QPs, 4096 entries), so this cannot overflow.
  return uint64_t{p.qps} * ((16ull << 10) + uint64_t{p.depth} * 256 + uint64_t{p.rx_depth} * 160);
}

std::optional<uint64_t> memory_bytes(const Params& p, bool server) {
  const auto b = buffer_bytes(p, server);
  uint64_t total = 0;
  if (!b || __builtin_add_overflow(*b, queue_bytes(p), &total)) return std::nullopt;
  return total;
}

void check_params(const Params& p, uint64_t max_memory) {
  if (p.verb == Verb::atomic && p.size != 8) bad("client asked for " + std::to_string(p.size) + "-byte atomics (always 8)");
  if (p.duration == 0 && p.iters == 0) bad("client asked for 0 iterations and no duration");
  if (p.slots > p.depth || p.rx_depth > p.depth)
    bad("client parameters slots=" + std::to_string(p.slots) + " / rx_depth=" + std::to_string(p.rx_depth) +
        " exceed depth=" + std::to_string(p.depth));
  const auto need = memory_bytes(p, true);
  if (!need || *need > max_memory)
    bad("the client's test needs " + (need ? approx_size(*need) : std::string("more than 16 EiB")) +
        " of buffers and queues on the server, its --max-memory is " + format_size(max_memory));
}

Params from_options(const Options& o) {
  Params p;
  p.verb = o.verb;
  p.size = o.verb == Verb::atomic ? 8 : o.size;
  p.iters = o.iters;
  p.duration = o.duration;
  p.qps = o.qps;
  p.mtu = o.mtu;
  p.spray = o.spray;
  p.depth = o.latency ? 1 : o.tx_depth;
  const uint64_t per = std::max<uint64_t>(1, p.size) * p.qps;
  p.slots = static_cast<uint32_t>(std::clamp<uint64_t>(kPerfMemCap / per, 1, p.depth));
  p.rx_depth = p.slots;
  p.latency = o.latency;
  p.recovery = o.recovery;
  std::random_device rd;
  p.seed = (uint64_t{rd()} << 32) | rd();
  return p;
}

std::string encode_result(const ResultLine& r) {
  std::ostringstream msg;
  msg << (r.done ? "done" : "failed");
  for (uint64_t d : r.completed) msg << ' ' << d;
  msg << ' ' << r.bw_peak_gbps << ' ' << r.bw_avg_gbps << ' ' << r.msg_rate_mpps;
  return msg.str();
}

ResultLine decode_result(std::string_view text, uint32_t qps, uint64_t max_per_qp) {
  const std::vector<std::string_view> w = words(text);
  if (w.size() != size_t{qps} + 4)
    bad("the client's result has " + std::to_string(w.size()) + " fields, expected " + std::to_string(qps + 4));
  ResultLine r;
  if (w[0] == "done") r.done = true;
  else if (w[0] != "failed") bad("the client's result starts with '" + shown(w[0]) + "', not done or failed");
  try {
    for (uint32_t q = 0; q < qps; ++q)
      r.completed.push_back(parse_u64(w[1 + q], "completed operations of QP " + std::to_string(q), 0, max_per_qp));
    r.bw_peak_gbps = parse_number(w[qps + 1], "peak bandwidth");
    r.bw_avg_gbps = parse_number(w[qps + 2], "average bandwidth");
    r.msg_rate_mpps = parse_number(w[qps + 3], "message rate");
  } catch (const ParseError& e) {
    bad(std::string("the client's result: ") + e.what());
  }
  return r;
}

}  // namespace rfab::cli::perf
