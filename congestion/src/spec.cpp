#include "rfab/congestion/spec.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <span>

namespace rfab::spec {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; });
  return out;
}

// Splits "12.5us" into 12.5 and "us". The number must be finite and non-negative.
std::pair<double, std::string_view> number_and_suffix(std::string_view v, const char* expected) {
  v = trim(v);
  double x = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc{} || ptr == v.data()) throw SpecError(std::string("expected ") + expected);
  if (!std::isfinite(x) || x < 0) throw SpecError(std::string("expected ") + expected + " (finite, >= 0)");
  return {x, trim(std::string_view(ptr, static_cast<size_t>(v.data() + v.size() - ptr)))};
}

struct Unit {
  const char* suffix;
  double scale;
};

double scaled(std::string_view v, const char* expected, std::span<const Unit> units, bool unit_required) {
  auto [x, suffix] = number_and_suffix(v, expected);
  if (suffix.empty()) {
    if (unit_required) throw SpecError(std::string("missing unit: expected ") + expected);
    return x;
  }
  const std::string s = lower(suffix);
  for (const Unit& u : units) {
    if (s == u.suffix) return x * u.scale;
  }
  throw SpecError("unknown unit \"" + std::string(suffix) + "\": expected " + expected);
}

constexpr std::array<Unit, 4> kTimeUnits{{{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}}};
constexpr std::array<Unit, 7> kByteUnits{{{"b", 1},
                                          {"kb", 1e3},
                                          {"kib", 1024.0},
                                          {"mb", 1e6},
                                          {"mib", 1048576.0},
                                          {"gb", 1e9},
                                          {"gib", 1073741824.0}}};
constexpr std::array<Unit, 14> kRateUnits{{{"bps", 1},    {"b/s", 1},     {"k", 1e3},     {"kbps", 1e3},
                                           {"kb/s", 1e3}, {"m", 1e6},     {"mbps", 1e6},  {"mb/s", 1e6},
                                           {"g", 1e9},    {"gbps", 1e9},  {"gb/s", 1e9},  {"t", 1e12},
                                           {"tbps", 1e12}, {"tb/s", 1e12}}};

// Largest double that converts to uint64_t without overflow.
constexpr double kMaxU64 = 18446744073709549568.0;

}  // namespace

std::vector<KeyValue> split(std::string_view text, std::string_view what) {
  std::vector<KeyValue> out;
  text = trim(text);
  if (text.empty()) return out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = trim(text.substr(pos, comma - pos));
    const size_t eq = item.find('=');
    if (item.empty()) {
      throw SpecError(std::string(what) + ": empty item at character " + std::to_string(pos + 1) +
                      " (stray comma?)");
    }
    if (eq == std::string_view::npos) {
      throw SpecError(std::string(what) + ": \"" + std::string(item) + "\" is not key=value");
    }
    KeyValue kv{lower(trim(item.substr(0, eq))), std::string(trim(item.substr(eq + 1)))};
    if (kv.key.empty()) throw SpecError(std::string(what) + ": missing key before '=' in \"" + std::string(item) + "\"");
    if (kv.value.empty()) {
      throw SpecError(std::string(what) + ": missing value for key \"" + kv.key + "\"");
    }
    for (const KeyValue& prev : out) {
      if (prev.key == kv.key) throw SpecError(std::string(what) + ": key \"" + kv.key + "\" given twice");
    }
    out.push_back(std::move(kv));
    pos = comma + 1;
  }
  return out;
}

double parse_number(std::string_view v) {
  auto [x, suffix] = number_and_suffix(v, "a number");
  if (!suffix.empty()) throw SpecError("expected a number, found trailing \"" + std::string(suffix) + "\"");
  return x;
}

Nanos parse_duration(std::string_view v) {
  const double ns = scaled(v, "a duration such as 10us (units ns, us, ms, s)", kTimeUnits, true);
  if (ns > kMaxU64 / 2) throw SpecError("duration too large");
  return static_cast<Nanos>(std::llround(ns));
}

uint64_t parse_bytes(std::string_view v) {
  const double b = scaled(v, "a size such as 5KB (units B, KB, KiB, MB, MiB, GB, GiB)", kByteUnits, false);
  if (b > kMaxU64) throw SpecError("size too large");
  if (b != std::floor(b)) throw SpecError("size is not a whole number of bytes");
  return static_cast<uint64_t>(b);
}

double parse_rate_bps(std::string_view v) {
  // Rates are bits per second; an upper-case 'B' (bytes) is a likely mistake, so refuse it.
  auto [x, suffix] = number_and_suffix(v, "a rate such as 40Mbps");
  (void)x;
  if (suffix.find('B') != std::string_view::npos) {
    throw SpecError("rates are in bits per second: write e.g. 40Mbps, not 40MB/s");
  }
  return scaled(v, "a rate such as 40Mbps or 100G (units bps, Kbps, Mbps, Gbps, Tbps)", kRateUnits, false);
}

double parse_fraction(std::string_view v) {
  std::string_view t = trim(v);
  double scale = 1.0;
  if (!t.empty() && t.back() == '%') {
    t.remove_suffix(1);
    scale = 0.01;
  }
  double x = 0;
  try {
    x = parse_number(t) * scale;
  } catch (const SpecError&) {
    throw SpecError("expected a probability such as 0.01 or 1%");
  }
  if (x > 1.0) throw SpecError("expected a probability between 0 and 1 (or 0% and 100%)");
  return x;
}

uint64_t parse_uint(std::string_view v) {
  v = trim(v);
  uint64_t x = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec == std::errc::result_out_of_range) throw SpecError("integer too large");
  if (ec != std::errc{} || ptr != v.data() + v.size() || v.empty()) {
    throw SpecError("expected a non-negative integer");
  }
  return x;
}

bool parse_bool(std::string_view v) {
  const std::string s = lower(trim(v));
  if (s == "on" || s == "true" || s == "yes" || s == "1") return true;
  if (s == "off" || s == "false" || s == "no" || s == "0") return false;
  throw SpecError("expected on/off (or true/false, yes/no, 1/0)");
}

std::string format_number(double v) {
  std::array<char, 64> buf{};
  auto [ptr, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  return ec == std::errc{} ? std::string(buf.data(), ptr) : std::string("nan");
}

std::string format_duration(Nanos d) {
  if (d != 0 && d % 1000000000 == 0) return std::to_string(d / 1000000000) + "s";
  if (d != 0 && d % 1000000 == 0) return std::to_string(d / 1000000) + "ms";
  if (d != 0 && d % 1000 == 0) return std::to_string(d / 1000) + "us";
  return std::to_string(d) + "ns";
}

std::string format_bytes(uint64_t b) {
  if (b != 0 && b % 1000000000 == 0) return std::to_string(b / 1000000000) + "GB";
  if (b != 0 && b % 1000000 == 0) return std::to_string(b / 1000000) + "MB";
  if (b != 0 && b % 1000 == 0) return std::to_string(b / 1000) + "KB";
  return std::to_string(b) + "B";
}

std::string format_rate(double bps) {
  if (bps == std::floor(bps) && bps > 0 && bps < kMaxU64) {
    const auto u = static_cast<uint64_t>(bps);
    if (u % 1000000000000 == 0) return std::to_string(u / 1000000000000) + "Tbps";
    if (u % 1000000000 == 0) return std::to_string(u / 1000000000) + "Gbps";
    if (u % 1000000 == 0) return std::to_string(u / 1000000) + "Mbps";
    if (u % 1000 == 0) return std::to_string(u / 1000) + "Kbps";
  }
  return format_number(bps) + "bps";
}

void value_error(std::string_view what, std::string_view key, std::string_view value, std::string_view why) {
  throw SpecError(std::string(what) + ": bad value \"" + std::string(value) + "\" for key \"" + std::string(key) +
                  "\": " + std::string(why));
}

void unknown_key(std::string_view what, std::string_view key, std::string_view valid) {
  throw SpecError(std::string(what) + ": unknown key \"" + std::string(key) + "\" (valid keys: " +
                  std::string(valid) + ")");
}

}  // namespace rfab::spec
