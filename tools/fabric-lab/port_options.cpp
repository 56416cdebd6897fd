#include "port_options.hpp"

#include <cmath>
#include <cstdlib>

namespace rfab::lab {
namespace {

// Splits "800mbit" into 800 and "mbit"; throws when there is no leading number.
double leading_number(const std::string& what, const std::string& text, std::string& suffix) {
  const char* begin = text.c_str();
  char* end = nullptr;
  const double v = std::strtod(begin, &end);
  if (end == begin || !std::isfinite(v) || v < 0)
    throw BadValue(what + ": '" + text + "' is not a non-negative number with an optional unit");
  suffix = std::string(end);
  return v;
}

}  // namespace

uint64_t parse_rate_bytes_per_s(const std::string& what, const std::string& text) {
  std::string unit;
  const double v = leading_number(what, text, unit);
  double bits;
  if (unit == "bit") bits = v;
  else if (unit == "kbit") bits = v * 1e3;
  else if (unit == "mbit") bits = v * 1e6;
  else if (unit == "gbit") bits = v * 1e9;
  else throw BadValue(what + ": '" + text + "' needs a rate unit: bit, kbit, mbit or gbit (e.g. 800mbit)");
  if (bits > 1e12) throw BadValue(what + ": '" + text + "' is above 1000gbit");
  return static_cast<uint64_t>(bits / 8);
}

uint32_t parse_size_bytes(const std::string& what, const std::string& text) {
  std::string unit;
  const double v = leading_number(what, text, unit);
  double bytes;
  if (unit.empty() || unit == "b") bytes = v;
  else if (unit == "k" || unit == "K") bytes = v * 1024;
  else if (unit == "m" || unit == "M") bytes = v * 1024 * 1024;
  else throw BadValue(what + ": '" + text + "' has an unknown unit (bytes, or k / m)");
  if (bytes >= 4294967296.0) throw BadValue(what + ": '" + text + "' is 4 GiB or more");
  return static_cast<uint32_t>(bytes);
}

uint32_t parse_probability_p32(const std::string& what, const std::string& text) {
  std::string unit;
  double v = leading_number(what, text, unit);
  if (unit == "%") v /= 100;
  else if (!unit.empty()) throw BadValue(what + ": '" + text + "' is not a probability (0.01 or 1%)");
  if (v > 1) throw BadValue(what + ": '" + text + "' is above 1 (100%)");
  const double scaled = std::round(v * 4294967296.0);
  return scaled >= 4294967295.0 ? 4294967295u : static_cast<uint32_t>(scaled);
}

}  // namespace rfab::lab
