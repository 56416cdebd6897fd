// Numeric command-line flags read by rfab's one strict parser (rfab/base/units.hpp) instead of CLI11's own
// conversions, which wrap "-1" into 18446744073709551615 for an unsigned flag and let "nan" through every
// range check. Each add_* declares the flag with its bounds; the value is parsed and range-checked as the
// command line is read, rewritten to a canonical text, and only then converted into the variable. A bad
// value is a CLI11 ValidationError ("--seed: bad value "-1": must not be negative"), which main() turns
// into exit status 2.
//
// Every numeric flag of every subcommand is declared through these helpers, and records its kind and bounds
// (checked_option() reads it back from the option) so a test can walk the real option tables and feed each flag the values
// it must refuse.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

namespace rfab::cli {

enum class ValueKind {
  integer,   // decimal or 0x hex digits, in [lo, hi]
  number,    // a plain finite number, in [lo, hi]
  fraction,  // a number in [0, 1] or a percentage ("1%")
  seconds,   // a plain number of seconds (perftest's -D) or a duration with a unit ("1.5ms"), in [lo, hi] s
  size,      // bytes with an optional K/M/G/T suffix (powers of 1024), in [lo, hi]
  duration,  // a duration with a unit ("500ms", "10s"; a bare "0"), in [lo, hi] nanoseconds
  rate,      // bits per second with an optional SI suffix ("25G", "100Gbps"), in [lo, hi] (or (lo, hi])
};

struct CheckedOption {
  ValueKind kind;
  uint64_t int_lo = 0, int_hi = 0;  // integers, sizes and durations (ns): inclusive bounds
  double lo = 0, hi = 0;            // numbers and seconds: bounds, lo exclusive when lo_open
  bool lo_open = false;
};

// The registry entry of a flag declared here, or nullptr for any other option.
const CheckedOption* checked_option(CLI::Option* opt);

namespace detail {
CLI::Option* finish(CLI::Option* opt, const CheckedOption& spec, bool canonical = true);
template <class T>
struct integer_of {
  using type = T;
};
template <class T>
struct integer_of<std::optional<T>> {
  using type = T;
};
}  // namespace detail

// An integer flag into any integer variable (or std::optional of one), checked against [lo, hi] and the
// variable's own range.
template <class T>
CLI::Option* add_integer(CLI::App* app, const std::string& name, T& var, const std::string& help, uint64_t lo,
                         uint64_t hi) {
  using V = typename detail::integer_of<T>::type;
  static_assert(std::is_integral_v<V>);
  const uint64_t type_max = static_cast<uint64_t>(std::numeric_limits<V>::max());
  CheckedOption spec{ValueKind::integer};
  spec.int_lo = lo;
  spec.int_hi = std::min(hi, type_max);
  return detail::finish(app->add_option(name, var, help), spec);
}

// A plain number of any unit the help text names (Gbit/s, a factor), finite, in [lo, hi] (or (lo, hi]).
CLI::Option* add_number(CLI::App* app, const std::string& name, double& var, const std::string& help, double lo,
                        double hi, bool lo_open = false);
CLI::Option* add_number(CLI::App* app, const std::string& name, std::optional<double>& var, const std::string& help,
                        double lo, double hi, bool lo_open = false);
// A fraction in [0, 1]: "0.01" or "1%".
CLI::Option* add_fraction(CLI::App* app, const std::string& name, double& var, const std::string& help);
CLI::Option* add_fraction(CLI::App* app, const std::string& name, std::optional<double>& var,
                          const std::string& help);
// Seconds: "10" (as perftest and timeout(1) read it) or "1.5ms", "2m"; in [lo, hi] seconds, > lo if lo_open.
CLI::Option* add_seconds(CLI::App* app, const std::string& name, double& var, const std::string& help, double lo,
                         double hi, bool lo_open);
// A size into a text variable the command parses later (it keeps the user's spelling for reports), or
// into an integer; checked here against [lo, hi] bytes.
CLI::Option* add_size(CLI::App* app, const std::string& name, std::string& var, const std::string& help, uint64_t lo,
                      uint64_t hi);
CLI::Option* add_size(CLI::App* app, const std::string& name, uint64_t& var, const std::string& help, uint64_t lo,
                      uint64_t hi);
// A duration with a unit into a text variable the command parses later; checked here against [lo_ns, hi_ns].
CLI::Option* add_duration(CLI::App* app, const std::string& name, std::string& var, const std::string& help,
                          uint64_t lo_ns, uint64_t hi_ns);
// A rate into a text variable the command parses later; checked here against [lo, hi] (or (lo, hi]) bit/s.
CLI::Option* add_rate(CLI::App* app, const std::string& name, std::string& var, const std::string& help, double lo,
                      double hi, bool lo_open);

}  // namespace rfab::cli
