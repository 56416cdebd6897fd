#include "rfab/base/units.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <span>
#include <utility>

namespace rfab {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; });
  return out;
}

// A number split from its unit suffix: "12.5us" -> 12.5 and "us". `whole` holds the exact value when the
// number is plain decimal digits (so "18446744073709551615" is not rounded through a double).
struct Number {
  double x = 0;
  bool is_integer = false;
  uint64_t whole = 0;
  std::string_view suffix;
};

Number split_number(std::string_view v, std::string_view what, std::string_view expected) {
  const std::string expect = "expected " + std::string(expected);
  if (v.empty()) throw_parse_error(what, v, "empty: " + expect);
  if (v.front() == '-') throw_parse_error(what, v, "must not be negative");
  if (v.front() == '+' || v.front() == ' ' || v.front() == '\t') throw_parse_error(what, v, expect);
  Number n;
  const char* end = v.data() + v.size();
  auto [ptr, ec] = std::from_chars(v.data(), end, n.x);
  if (ptr == v.data()) throw_parse_error(what, v, expect);
  if (ec == std::errc::result_out_of_range || !std::isfinite(n.x)) throw_parse_error(what, v, "not a finite number");
  if (ec != std::errc{}) throw_parse_error(what, v, expect);
  const std::string_view digits(v.data(), static_cast<size_t>(ptr - v.data()));
  n.is_integer = std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (n.is_integer) {
    auto [p2, ec2] = std::from_chars(digits.data(), digits.data() + digits.size(), n.whole);
    if (ec2 != std::errc{} || p2 != digits.data() + digits.size()) n.is_integer = false;  // beyond 2^64: use x
  }
  n.suffix = std::string_view(ptr, static_cast<size_t>(end - ptr));
  return n;
}

struct Unit {
  const char* suffix;
  uint64_t scale;
};

// Lower-case suffixes; the scale is exact in 64 bits.
constexpr uint64_t kKi = 1024;
constexpr std::array<Unit, 14> kSizeUnits{{{"", 1},
                                           {"b", 1},
                                           {"k", kKi},
                                           {"kb", kKi},
                                           {"kib", kKi},
                                           {"m", kKi * kKi},
                                           {"mb", kKi * kKi},
                                           {"mib", kKi * kKi},
                                           {"g", kKi * kKi * kKi},
                                           {"gb", kKi * kKi * kKi},
                                           {"gib", kKi * kKi * kKi},
                                           {"t", kKi * kKi * kKi * kKi},
                                           {"tb", kKi * kKi * kKi * kKi},
                                           {"tib", kKi * kKi * kKi * kKi}}};
constexpr std::array<Unit, 7> kPicoUnits{{{"ps", 1},
                                          {"ns", 1000},
                                          {"us", 1000000},
                                          {"ms", 1000000000},
                                          {"s", 1000000000000},
                                          {"m", 60000000000000},
                                          {"h", 3600000000000000}}};

const Unit* find_unit(std::span<const Unit> units, std::string_view suffix) {
  const std::string s = lower(suffix);
  for (const Unit& u : units)
    if (s == u.suffix) return &u;
  return nullptr;
}

// n * scale as an exact integer, or a ParseError if it is not whole or does not fit in 64 bits.
uint64_t scale_exact(const Number& n, uint64_t scale, std::string_view v, std::string_view what,
                     std::string_view noun) {
  if (n.is_integer) {
    uint64_t r = 0;
    if (__builtin_mul_overflow(n.whole, scale, &r)) throw_parse_error(what, v, std::string(noun) + " too large");
    return r;
  }
  const double r = n.x * static_cast<double>(scale);
  if (r >= 18446744073709551616.0) throw_parse_error(what, v, std::string(noun) + " too large");
  return static_cast<uint64_t>(std::round(r));
}

constexpr const char* kSizeExpect = "a size such as 4096, 64K, 4M or 1G (K, M, G, T: powers of 1024)";
constexpr const char* kRateExpect = "a rate in bits/s such as 100M, 400G, 1.5Gbps or 51.2T";
constexpr const char* kDurationExpect = "a duration with a unit such as 500ns, 10us, 1.5ms or 2s (ps, ns, us, ms, s, m, h)";

// A duration's number and its unit's length in picoseconds (a unit is required).
std::pair<Number, uint64_t> duration_parts(std::string_view v, std::string_view what) {
  const Number n = split_number(v, what, kDurationExpect);
  if (n.suffix.empty()) throw_parse_error(what, v, std::string("missing unit: expected ") + kDurationExpect);
  const Unit* u = find_unit(kPicoUnits, n.suffix);
  if (u == nullptr)
    throw_parse_error(what, v, "unknown unit \"" + std::string(n.suffix) + "\": expected " + kDurationExpect);
  return {n, u->scale};
}

uint64_t duration_ps(std::string_view v, std::string_view what) {
  if (v == "0") return 0;  // zero is zero in every unit
  const auto [n, scale] = duration_parts(v, what);
  return scale_exact(n, scale, v, what, "duration");
}

}  // namespace

uint64_t parse_size(std::string_view v, std::string_view what) {
  const Number n = split_number(v, what, kSizeExpect);
  const Unit* u = find_unit(kSizeUnits, n.suffix);
  if (u == nullptr) throw_parse_error(what, v, "unknown unit \"" + std::string(n.suffix) + "\": expected " + kSizeExpect);
  if (!n.is_integer && n.x * static_cast<double>(u->scale) != std::floor(n.x * static_cast<double>(u->scale)))
    throw_parse_error(what, v, "not a whole number of bytes");
  return scale_exact(n, u->scale, v, what, "size");
}

double parse_rate_bps(std::string_view v, std::string_view what) {
  const Number n = split_number(v, what, kRateExpect);
  std::string_view s = n.suffix;
  if (s.find('B') != std::string_view::npos)
    throw_parse_error(what, v, "rates are in bits per second: write e.g. 40Mbps or 40M, not 40MB/s");
  double scale = 1;
  if (!s.empty()) {
    switch (s.front()) {
      case 'k': case 'K': scale = 1e3; s.remove_prefix(1); break;
      case 'm': case 'M': scale = 1e6; s.remove_prefix(1); break;
      case 'g': case 'G': scale = 1e9; s.remove_prefix(1); break;
      case 't': case 'T': scale = 1e12; s.remove_prefix(1); break;
      default: break;
    }
  }
  const std::string rest = lower(s);
  if (!(rest.empty() || rest == "b" || rest == "bps" || rest == "b/s"))
    throw_parse_error(what, v, "unknown unit \"" + std::string(n.suffix) + "\": expected " + kRateExpect);
  const double r = n.x * scale;
  if (!std::isfinite(r)) throw_parse_error(what, v, "rate too large");
  return r;
}

uint64_t parse_duration_ps(std::string_view v, std::string_view what) { return duration_ps(v, what); }

Nanos parse_duration_ns(std::string_view v, std::string_view what) {
  if (v == "0") return 0;  // zero is zero in every unit
  const auto [n, scale] = duration_parts(v, what);
  // In nanoseconds directly, so durations up to 584 years fit (picoseconds stop at 213 days).
  if (scale >= 1000) return scale_exact(n, scale / 1000, v, what, "duration");
  const double ns = n.x * static_cast<double>(scale) / 1000.0;
  return static_cast<Nanos>(std::llround(ns));
}

uint64_t parse_u64(std::string_view v, std::string_view what, uint64_t lo, uint64_t hi) {
  const std::string range = "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  if (v.empty()) throw_parse_error(what, v, "empty: expected an integer in " + range);
  if (v.front() == '-') throw_parse_error(what, v, "must not be negative");
  int base = 10;
  std::string_view digits = v;
  if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
    base = 16;
    digits.remove_prefix(2);
  }
  uint64_t x = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), x, base);
  if (ec == std::errc::result_out_of_range) throw_parse_error(what, v, "out of range: expected an integer in " + range);
  if (ec != std::errc{} || ptr != digits.data() + digits.size())
    throw_parse_error(what, v, "expected an integer in " + range);
  if (x < lo || x > hi) throw_parse_error(what, v, "out of range: expected an integer in " + range);
  return x;
}

uint32_t parse_u32(std::string_view v, std::string_view what, uint32_t lo, uint32_t hi) {
  return static_cast<uint32_t>(parse_u64(v, what, lo, hi));
}

double parse_number(std::string_view v, std::string_view what) {
  const Number n = split_number(v, what, "a number");
  if (!n.suffix.empty()) throw_parse_error(what, v, "expected a number, found trailing \"" + std::string(n.suffix) + "\"");
  return n.x;
}

double parse_fraction(std::string_view v, std::string_view what) {
  std::string_view t = v;
  double scale = 1.0;
  if (!t.empty() && t.back() == '%') {
    t.remove_suffix(1);
    scale = 0.01;
  }
  double x = 0;
  try {
    x = parse_number(t) * scale;
  } catch (const ParseError&) {
    throw_parse_error(what, v, "expected a probability such as 0.01 or 1%");
  }
  if (x > 1.0) throw_parse_error(what, v, "expected a probability between 0 and 1 (or 0% and 100%)");
  return x;
}

bool parse_bool(std::string_view v, std::string_view what) {
  const std::string s = lower(v);
  if (s == "on" || s == "true" || s == "yes" || s == "1") return true;
  if (s == "off" || s == "false" || s == "no" || s == "0") return false;
  throw_parse_error(what, v, "expected on/off (or true/false, yes/no, 1/0)");
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

std::string format_size(uint64_t b) {
  if (b != 0 && b % (kKi * kKi * kKi) == 0) return std::to_string(b / (kKi * kKi * kKi)) + "GiB";
  if (b != 0 && b % (kKi * kKi) == 0) return std::to_string(b / (kKi * kKi)) + "MiB";
  if (b != 0 && b % kKi == 0) return std::to_string(b / kKi) + "KiB";
  return std::to_string(b) + "B";
}

std::string format_rate(double bps) {
  if (bps == std::floor(bps) && bps > 0 && bps < 1.8e19) {
    const auto u = static_cast<uint64_t>(bps);
    if (u % 1000000000000 == 0) return std::to_string(u / 1000000000000) + "Tbps";
    if (u % 1000000000 == 0) return std::to_string(u / 1000000000) + "Gbps";
    if (u % 1000000 == 0) return std::to_string(u / 1000000) + "Mbps";
    if (u % 1000 == 0) return std::to_string(u / 1000) + "Kbps";
  }
  return format_number(bps) + "bps";
}

}  // namespace rfab
