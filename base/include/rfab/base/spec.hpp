// "key=value,key=value" and "kind:key=value,..." specs, the syntax every rfab component that takes a spec
// on the command line uses (DCQCN parameters, fault injection, topologies, traffic patterns). Values are
// parsed with the unit parsers of rfab/base/units.hpp. Errors are SpecError (= ParseError) whose message
// names the spec, the key and the offending value.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "rfab/base/error.hpp"
#include "rfab/base/units.hpp"

namespace rfab::spec {

using SpecError = ParseError;

struct KeyValue {
  std::string key;
  std::string value;
};

// Splits "a=1,b=2" into pairs in order (whitespace around keys and values is trimmed, keys lower-cased).
// `what` names the spec in error messages, e.g. "fault spec". Throws on an item without '=', an empty
// key or value, an empty item (stray comma) or a repeated key. An empty text gives no pairs.
std::vector<KeyValue> split(std::string_view text, std::string_view what);

// "kind:a=1,b=2" -> kind "kind" and the pairs of split(); "kind" alone has no pairs. Throws on an empty kind.
struct KindSpec {
  std::string kind;
  std::vector<KeyValue> values;
};
KindSpec split_kind(std::string_view text, std::string_view what);

// "<what>: bad value "<value>" for key "<key>": <why>"
[[noreturn]] void value_error(std::string_view what, std::string_view key, std::string_view value,
                              std::string_view why);
// "<what>: unknown key "<key>" (valid keys: a, b, c)"
[[noreturn]] void unknown_key(std::string_view what, std::string_view key, std::string_view valid);

// Runs `parse(value)` (a unit parser of rfab/base/units.hpp, or any function throwing ParseError) and
// rethrows its error with the key and the spec named.
template <class F>
auto parse_value(std::string_view what, const KeyValue& kv, F&& parse) {
  try {
    return parse(std::string_view(kv.value));
  } catch (const ParseError& e) {
    value_error(what, kv.key, kv.value, e.reason());
  }
}

// Unit parsers with the one-argument signature parse_value() takes.
inline Nanos parse_duration(std::string_view v) { return parse_duration_ns(v); }
inline uint64_t parse_bytes(std::string_view v) { return parse_size(v); }
inline double parse_rate_bps(std::string_view v) { return rfab::parse_rate_bps(v); }
inline double parse_number(std::string_view v) { return rfab::parse_number(v); }
inline double parse_fraction(std::string_view v) { return rfab::parse_fraction(v); }
inline uint64_t parse_uint(std::string_view v) { return parse_u64(v); }
inline bool parse_bool(std::string_view v) { return rfab::parse_bool(v); }

// Formatting that parses back to the same value (describe() functions).
using rfab::format_duration;
using rfab::format_number;
using rfab::format_rate;
inline std::string format_bytes(uint64_t b) { return format_size(b); }

}  // namespace rfab::spec
