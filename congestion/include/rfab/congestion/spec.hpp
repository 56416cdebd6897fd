// Parsing of "key=value,key=value" specs with units, shared by every rfab component that takes a spec
// string on the command line (DCQCN parameters, fault injection, ...). Errors are SpecError exceptions
// whose message names the spec, the key and the offending value: configuration is parsed once, at startup,
// so exceptions are the simplest way to get one clear message up to the CLI.
//
// Units (all SI, case-insensitive suffixes):
//   durations  "300ns", "55us", "1.5ms", "2s"            (a unit is required: "55" is ambiguous)
//   bytes      "1500", "1500B", "5KB" (=5000), "5KiB" (=5120), "10MB", "10MiB", "1GB", "1GiB"
//   rates      "40Mbps", "40M", "100Gbps", "100G", "1.5Gb/s", "400000000" (bits per second)
//   fractions  "0.01", "1%"
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "rfab/congestion/time.hpp"

namespace rfab::spec {

class SpecError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

struct KeyValue {
  std::string key;
  std::string value;
};

// Splits "a=1,b=2" into pairs (whitespace around keys and values is trimmed). `what` names the spec in
// error messages, e.g. "fault spec". Throws on an item without '=', an empty key or a repeated key.
std::vector<KeyValue> split(std::string_view text, std::string_view what);

// Value parsers. They throw SpecError with a message about the value only ("expected a duration such as
// 10us"); use value_error() to add the key and the spec.
double parse_number(std::string_view v);
Nanos parse_duration(std::string_view v);
uint64_t parse_bytes(std::string_view v);
double parse_rate_bps(std::string_view v);
double parse_fraction(std::string_view v);  // [0, 1], accepts "1%"
uint64_t parse_uint(std::string_view v);
bool parse_bool(std::string_view v);        // on/off, true/false, yes/no, 1/0

// Formatting that parses back to the same value (used by describe() functions).
std::string format_duration(Nanos d);
std::string format_bytes(uint64_t b);
std::string format_rate(double bps);
std::string format_number(double v);  // shortest text that round-trips

// "<what>: bad value "<value>" for key "<key>": <why>"
[[noreturn]] void value_error(std::string_view what, std::string_view key, std::string_view value,
                              std::string_view why);
// "<what>: unknown key "<key>" (valid keys: a, b, c)"
[[noreturn]] void unknown_key(std::string_view what, std::string_view key, std::string_view valid);

// Runs `parse(value)` and rethrows its SpecError with the key and spec named.
template <class F>
auto parse_value(std::string_view what, const KeyValue& kv, F&& parse) {
  try {
    return parse(std::string_view(kv.value));
  } catch (const SpecError& e) {
    value_error(what, kv.key, kv.value, e.what());
  }
}

}  // namespace rfab::spec
