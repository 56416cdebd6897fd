#include "checked_options.hpp"

#include <cmath>
#include <string_view>
#include <vector>

#include "rfab/base/units.hpp"

namespace rfab::cli {
namespace {

// The specs of every option declared, indexed by the number in the name of the option's validator
// ("rfab-checked#12"): the option carries its own key, so an app built and destroyed (as tests do) leaves
// nothing that a later option at the same address could be mistaken for.
std::vector<CheckedOption>& registry() {
  static std::vector<CheckedOption> r;
  return r;
}
constexpr std::string_view kValidatorPrefix = "rfab-checked#";

std::string bounds_text(const CheckedOption& s) {
  if (s.kind == ValueKind::duration)
    return "[" + format_duration(static_cast<Nanos>(s.int_lo)) + ", " + format_duration(static_cast<Nanos>(s.int_hi)) + "]";
  if (s.kind == ValueKind::integer || s.kind == ValueKind::size)
    return "[" + std::to_string(s.int_lo) + ", " + std::to_string(s.int_hi) + "]";
  return std::string(s.lo_open ? "(" : "[") + format_number(s.lo) + ", " + format_number(s.hi) + "]";
}

// Parses `v` as `s` says; returns the canonical text CLI11 converts into the variable. Throws ParseError
// (with an empty `what`: CLI11 puts the flag's name in front).
std::string check_value(const CheckedOption& s, const std::string& v) {
  auto in_range = [&](double x) {
    const bool low = s.lo_open ? x <= s.lo : x < s.lo;
    if (low || x > s.hi) throw_parse_error("", v, "out of range: expected a value in " + bounds_text(s));
  };
  switch (s.kind) {
    case ValueKind::integer:
      return std::to_string(parse_u64(v, "", s.int_lo, s.int_hi));
    case ValueKind::size: {
      const uint64_t b = parse_size(v);
      if (b < s.int_lo || b > s.int_hi)
        throw_parse_error("", v, "out of range: expected a size in " + bounds_text(s) + " bytes");
      return std::to_string(b);
    }
    case ValueKind::duration: {
      const auto ns = static_cast<uint64_t>(parse_duration_ns(v));
      if (ns < s.int_lo || ns > s.int_hi) throw_parse_error("", v, "out of range: expected a duration in " + bounds_text(s));
      return format_duration(static_cast<Nanos>(ns));
    }
    case ValueKind::number: {
      const double x = parse_number(v);
      in_range(x);
      return format_number(x);
    }
    case ValueKind::rate: {
      const double x = parse_rate_bps(v);
      in_range(x);
      return format_rate(x);
    }
    case ValueKind::fraction:
      return format_number(parse_fraction(v));
    case ValueKind::seconds: {
      double x = 0;
      const bool plain = !v.empty() && v.find_first_not_of("0123456789.eE") == std::string::npos;
      if (plain) {
        x = parse_number(v);
      } else {
        try {
          x = static_cast<double>(parse_duration_ps(v)) / 1e12;
        } catch (const ParseError&) {
          throw_parse_error("", v, "expected seconds such as 10 or 1.5, or a duration such as 500ms or 2m");
        }
      }
      in_range(x);
      return format_number(x);
    }
  }
  return v;
}

const char* type_name(ValueKind k) {
  switch (k) {
    case ValueKind::integer: return "UINT";
    case ValueKind::number: return "NUMBER";
    case ValueKind::fraction: return "FRACTION";
    case ValueKind::seconds: return "SECONDS";
    case ValueKind::size: return "SIZE";
    case ValueKind::duration: return "DURATION";
    case ValueKind::rate: return "RATE";
  }
  return "VALUE";
}

}  // namespace

const CheckedOption* checked_option(CLI::Option* opt) {
  for (int i = 0;; ++i) {
    const CLI::Validator* v = nullptr;
    try {
      v = opt->get_validator(i);
    } catch (const CLI::OptionNotFound&) {
      return nullptr;
    }
    const std::string& name = v->get_name();
    if (name.rfind(kValidatorPrefix, 0) == 0) {
      const uint64_t id = parse_u64(std::string_view(name).substr(kValidatorPrefix.size()));
      return id < registry().size() ? &registry()[id] : nullptr;
    }
  }
}

namespace detail {

CLI::Option* finish(CLI::Option* opt, const CheckedOption& spec, bool canonical) {
  CLI::Validator v(
      [spec, canonical](std::string& value) -> std::string {
        try {
          std::string c = check_value(spec, value);
          if (canonical) value = std::move(c);
          return {};
        } catch (const ParseError& e) {
          return e.what();
        }
      },
      std::string(type_name(spec.kind)) + " in " + bounds_text(spec),
      std::string(kValidatorPrefix) + std::to_string(registry().size()));
  registry().push_back(spec);
  opt->transform(v)->type_name(type_name(spec.kind));
  return opt;
}

}  // namespace detail

CLI::Option* add_number(CLI::App* app, const std::string& name, double& var, const std::string& help, double lo,
                        double hi, bool lo_open) {
  return detail::finish(app->add_option(name, var, help), {ValueKind::number, 0, 0, lo, hi, lo_open});
}

CLI::Option* add_number(CLI::App* app, const std::string& name, std::optional<double>& var, const std::string& help,
                        double lo, double hi, bool lo_open) {
  return detail::finish(app->add_option(name, var, help), {ValueKind::number, 0, 0, lo, hi, lo_open});
}

CLI::Option* add_fraction(CLI::App* app, const std::string& name, double& var, const std::string& help) {
  return detail::finish(app->add_option(name, var, help), {ValueKind::fraction, 0, 0, 0, 1});
}

CLI::Option* add_fraction(CLI::App* app, const std::string& name, std::optional<double>& var,
                          const std::string& help) {
  return detail::finish(app->add_option(name, var, help), {ValueKind::fraction, 0, 0, 0, 1});
}

CLI::Option* add_seconds(CLI::App* app, const std::string& name, double& var, const std::string& help, double lo,
                         double hi, bool lo_open) {
  return detail::finish(app->add_option(name, var, help), {ValueKind::seconds, 0, 0, lo, hi, lo_open});
}

CLI::Option* add_size(CLI::App* app, const std::string& name, std::string& var, const std::string& help, uint64_t lo,
                      uint64_t hi) {
  return detail::finish(app->add_option(name, var, help),
                        {ValueKind::size, lo, hi}, false);
}

CLI::Option* add_size(CLI::App* app, const std::string& name, uint64_t& var, const std::string& help, uint64_t lo,
                      uint64_t hi) {
  return detail::finish(app->add_option(name, var, help),
                        {ValueKind::size, lo, hi});
}

CLI::Option* add_duration(CLI::App* app, const std::string& name, std::string& var, const std::string& help,
                          uint64_t lo_ns, uint64_t hi_ns) {
  return detail::finish(app->add_option(name, var, help), {ValueKind::duration, lo_ns, hi_ns}, false);
}

CLI::Option* add_rate(CLI::App* app, const std::string& name, std::string& var, const std::string& help, double lo,
                      double hi, bool lo_open) {
  return detail::finish(app->add_option(name, var, help), {ValueKind::rate, 0, 0, lo, hi, lo_open}, false);
}

}  // namespace rfab::cli
