#include "rfab/topology/spec.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace rfab::topo {
namespace {

[[noreturn]] void bad(std::string_view what, std::string_view v, std::string_view why) {
  throw TopologyError(std::string(what) + ": '" + std::string(v) + "' " + std::string(why));
}

// Splits a number from its unit suffix: "51.2T" -> (51.2, "T").
std::pair<double, std::string_view> number_and_suffix(std::string_view v, std::string_view what) {
  if (v.empty()) bad(what, v, "is empty");
  std::string s(v);
  char* end = nullptr;
  errno = 0;
  double x = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || errno == ERANGE || !std::isfinite(x)) bad(what, v, "is not a number");
  if (x < 0) bad(what, v, "must not be negative");
  return {x, v.substr(size_t(end - s.c_str()))};
}

}  // namespace

uint64_t parse_uint(std::string_view v, std::string_view what) {
  if (v.empty()) bad(what, v, "is empty");
  uint64_t x = 0;
  for (char c : v) {
    if (c < '0' || c > '9') bad(what, v, "is not a non-negative integer");
    if (x > (std::numeric_limits<uint64_t>::max() - 9) / 10) bad(what, v, "is too large");
    x = x * 10 + uint64_t(c - '0');
  }
  return x;
}

double parse_double(std::string_view v, std::string_view what) {
  auto [x, suffix] = number_and_suffix(v, what);
  if (!suffix.empty()) bad(what, v, "has trailing characters");
  return x;
}

double parse_bps(std::string_view v, std::string_view what) {
  auto [x, s] = number_and_suffix(v, what);
  if (!s.empty() && (s.back() == 'b' || s.back() == 'B')) s.remove_suffix(1);  // "400Gb"
  if (s == "bps") s = "";
  double mul = 1;
  if (s == "" ) mul = 1;
  else if (s == "K" || s == "k") mul = 1e3;
  else if (s == "M") mul = 1e6;
  else if (s == "G") mul = 1e9;
  else if (s == "T") mul = 1e12;
  else bad(what, v, "has an unknown unit (use K, M, G or T bits/s, e.g. 400G)");
  double r = x * mul;
  if (r <= 0) bad(what, v, "must be positive");
  return r;
}

uint64_t parse_bytes(std::string_view v, std::string_view what) {
  auto [x, s] = number_and_suffix(v, what);
  if (!s.empty() && (s.back() == 'B' || s.back() == 'b')) s.remove_suffix(1);  // "2MB", "4KiB" -> "Ki"
  if (!s.empty() && s.back() == 'i') s.remove_suffix(1);
  double mul = 1;
  if (s == "") mul = 1;
  else if (s == "K" || s == "k") mul = 1024.0;
  else if (s == "M") mul = 1024.0 * 1024;
  else if (s == "G") mul = 1024.0 * 1024 * 1024;
  else bad(what, v, "has an unknown unit (use K, M or G: binary multiples, e.g. 2M)");
  double r = std::round(x * mul);
  if (r > 9.0e18) bad(what, v, "is too large");
  return uint64_t(r);
}

uint64_t parse_duration_ps(std::string_view v, std::string_view what) {
  auto [x, s] = number_and_suffix(v, what);
  double mul;
  if (s == "ps") mul = 1;
  else if (s == "ns") mul = 1e3;
  else if (s == "us") mul = 1e6;
  else if (s == "ms") mul = 1e9;
  else if (s == "s") mul = 1e12;
  else bad(what, v, "needs a unit: ps, ns, us, ms or s (e.g. 500us)");
  double r = std::round(x * mul);
  if (r > 9.0e18) bad(what, v, "is too long");
  return uint64_t(r);
}

KeyValues parse_key_values(std::string_view text, std::string_view what) {
  KeyValues kv;
  auto colon = text.find(':');
  kv.kind = std::string(text.substr(0, colon));
  if (kv.kind.empty()) bad(what, text, "has no kind before ':'");
  if (colon == std::string_view::npos) return kv;
  std::string_view rest = text.substr(colon + 1);
  while (!rest.empty()) {
    auto comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    auto eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == item.size())
      bad(what, item, "is not key=value");
    std::string key(item.substr(0, eq));
    if (!kv.values.emplace(key, std::string(item.substr(eq + 1))).second) bad(what, key, "is given twice");
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
    if (rest.empty()) bad(what, text, "ends with ','");
  }
  return kv;
}

FatTreeSpec parse_fat_tree(std::string_view text) {
  KeyValues kv = parse_key_values(text, "topology");
  if (kv.kind != "fat-tree" && kv.kind != "fattree" && kv.kind != "rail")
    bad("topology", kv.kind, "is not a known topology (use fat-tree:... or rail:...)");
  FatTreeSpec s;
  if (kv.kind == "rail") s.rails = 8;
  for (const auto& [key, v] : kv.values) {
    std::string what = "topology key '" + key + "'";
    if (key == "k" || key == "radix") s.radix = unsigned(parse_uint(v, what));
    else if (key == "tiers") s.tiers = unsigned(parse_uint(v, what));
    else if (key == "hosts") s.hosts = parse_uint(v, what);
    else if (key == "speed") s.link_bps = parse_bps(v, what);
    else if (key == "host-speed") s.host_bps = parse_bps(v, what);
    else if (key == "switch") s.switch_bps = parse_bps(v, what);
    else if (key == "oversub") s.oversub = unsigned(parse_uint(v, what));
    else if (key == "rails") s.rails = unsigned(parse_uint(v, what));
    else if (key == "latency") s.latency_ps = parse_duration_ps(v, what);
    else
      throw TopologyError("topology: unknown key '" + key +
                          "' (known: k, tiers, hosts, speed, host-speed, switch, oversub, rails, latency)");
  }
  return s;
}

}  // namespace rfab::topo
