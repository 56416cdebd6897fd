#include "rfab/congestion/dcqcn_params.hpp"

#include <cmath>
#include <stdexcept>

#include "rfab/base/spec.hpp"

namespace rfab::cc {
namespace {

constexpr std::string_view kWhat = "dcqcn spec";
constexpr std::string_view kKeys =
    "preset, g, alpha0, alpha_period, rate_period, byte_counter, f, rai, rhai, min_rate, reduce_period, "
    "clamp, cnp_interval, kmin, kmax, pmax";

void require(bool ok, const std::string& msg) {
  if (!ok) throw std::invalid_argument("dcqcn parameters: " + msg);
}

double gain(std::string_view v) {
  const double x = spec::parse_number(v);
  if (!(x > 0 && x <= 1)) throw spec::SpecError("expected a gain in (0, 1], e.g. 0.00390625 (= 1/256)");
  return x;
}

double alpha(std::string_view v) {
  const double x = spec::parse_number(v);
  if (x > 1) throw spec::SpecError("expected alpha in [0, 1]");
  return x;
}

double positive_rate(std::string_view v) {
  const double x = spec::parse_rate_bps(v);
  if (x <= 0) throw spec::SpecError("expected a rate > 0");
  return x;
}

Nanos positive_duration(std::string_view v) {
  const Nanos d = spec::parse_duration(v);
  if (d == 0) throw spec::SpecError("expected a duration > 0");
  return d;
}

uint32_t stages(std::string_view v) {
  const uint64_t x = spec::parse_uint(v);
  if (x > 1000) throw spec::SpecError("expected a small stage count (0..1000)");
  return static_cast<uint32_t>(x);
}

}  // namespace

void DcqcnParams::validate() const {
  require(g > 0 && g <= 1, "g must be in (0, 1], got " + spec::format_number(g));
  require(initial_alpha >= 0 && initial_alpha <= 1, "alpha0 must be in [0, 1]");
  require(alpha_period > 0, "alpha_period must be > 0");
  require(rate_period > 0, "rate_period must be > 0");
  require(std::isfinite(rai_bps) && rai_bps > 0, "rai must be > 0");
  require(std::isfinite(rhai_bps) && rhai_bps > 0, "rhai must be > 0");
  require(std::isfinite(min_rate_bps) && min_rate_bps > 0, "min_rate must be > 0");
  require(red.kmin_bytes <= red.kmax_bytes, "kmin (" + spec::format_bytes(red.kmin_bytes) +
                                                ") must not exceed kmax (" + spec::format_bytes(red.kmax_bytes) + ")");
  require(red.pmax >= 0 && red.pmax <= 1, "pmax must be in [0, 1]");
}

DcqcnParams dcqcn_paper() {
  return DcqcnParams{};  // the struct's defaults are the paper's values
}

DcqcnParams dcqcn_connectx() {
  DcqcnParams p;
  p.g = 5.0 / 1024;              // dce_tcp_g = 1019: alpha keeps 1019/1024 of itself per update
  p.initial_alpha = 1023.0 / 1024;  // initial_alpha_value = 1023 (10-bit fixed point)
  p.alpha_period = 1_us;         // dce_tcp_rtt = 1 us
  p.rate_period = 300_us;        // rpg_time_reset = 300 us
  p.byte_counter = 32767 * 64;   // rpg_byte_reset = 32767, read in 64-byte units (see docs/dcqcn.md)
  p.fast_recovery = 1;           // rpg_threshold = 1
  p.rai_bps = 5e6;               // rpg_ai_rate = 5 Mb/s
  p.rhai_bps = 50e6;             // rpg_hai_rate = 50 Mb/s
  p.min_rate_bps = 1e6;          // rpg_min_rate = 1 Mb/s
  p.reduce_period = 4_us;        // rate_reduce_monitor_period = 4 us
  p.clamp_target = false;        // clamp_tgt_rate = 0, clamp_tgt_rate_after_time_inc = 1
  p.cnp_interval = 4_us;         // min_time_between_cnps = 4 us
  return p;                      // switch-side RED keeps the paper's thresholds
}

DcqcnParams parse_dcqcn(std::string_view text) {
  std::string_view body = text;
  const size_t colon = body.find(':');
  const std::string_view name = body.substr(0, colon);
  if (name != "dcqcn") {
    throw spec::SpecError(std::string(kWhat) + ": \"" + std::string(text) +
                          "\" does not start with \"dcqcn\" (e.g. dcqcn:preset=paper,g=0.00390625)");
  }
  body = colon == std::string_view::npos ? std::string_view{} : body.substr(colon + 1);
  const auto items = spec::split(body, kWhat);

  DcqcnParams p = dcqcn_paper();
  for (const auto& kv : items) {
    if (kv.key != "preset") continue;
    if (kv.value == "paper") {
      p = dcqcn_paper();
    } else if (kv.value == "connectx" || kv.value == "cx") {
      p = dcqcn_connectx();
    } else {
      spec::value_error(kWhat, kv.key, kv.value, "expected paper or connectx");
    }
  }
  for (const auto& kv : items) {
    const std::string& k = kv.key;
    if (k == "preset") continue;
    if (k == "g") p.g = spec::parse_value(kWhat, kv, gain);
    else if (k == "alpha0") p.initial_alpha = spec::parse_value(kWhat, kv, alpha);
    else if (k == "alpha_period") p.alpha_period = spec::parse_value(kWhat, kv, positive_duration);
    else if (k == "rate_period") p.rate_period = spec::parse_value(kWhat, kv, positive_duration);
    else if (k == "byte_counter") p.byte_counter = spec::parse_value(kWhat, kv, spec::parse_bytes);
    else if (k == "f") p.fast_recovery = spec::parse_value(kWhat, kv, stages);
    else if (k == "rai") p.rai_bps = spec::parse_value(kWhat, kv, positive_rate);
    else if (k == "rhai") p.rhai_bps = spec::parse_value(kWhat, kv, positive_rate);
    else if (k == "min_rate") p.min_rate_bps = spec::parse_value(kWhat, kv, positive_rate);
    else if (k == "reduce_period") p.reduce_period = spec::parse_value(kWhat, kv, spec::parse_duration);
    else if (k == "clamp") p.clamp_target = spec::parse_value(kWhat, kv, spec::parse_bool);
    else if (k == "cnp_interval") p.cnp_interval = spec::parse_value(kWhat, kv, spec::parse_duration);
    else if (k == "kmin") p.red.kmin_bytes = spec::parse_value(kWhat, kv, spec::parse_bytes);
    else if (k == "kmax") p.red.kmax_bytes = spec::parse_value(kWhat, kv, spec::parse_bytes);
    else if (k == "pmax") p.red.pmax = spec::parse_value(kWhat, kv, spec::parse_fraction);
    else spec::unknown_key(kWhat, k, kKeys);
  }
  if (p.red.kmin_bytes > p.red.kmax_bytes) {
    throw spec::SpecError(std::string(kWhat) + ": kmin (" + spec::format_bytes(p.red.kmin_bytes) +
                          ") is larger than kmax (" + spec::format_bytes(p.red.kmax_bytes) + ")");
  }
  return p;
}

std::string describe(const DcqcnParams& p) {
  using spec::format_bytes;
  using spec::format_duration;
  using spec::format_number;
  using spec::format_rate;
  return "dcqcn:g=" + format_number(p.g) + ",alpha0=" + format_number(p.initial_alpha) +
         ",alpha_period=" + format_duration(p.alpha_period) + ",rate_period=" + format_duration(p.rate_period) +
         ",byte_counter=" + format_bytes(p.byte_counter) + ",f=" + std::to_string(p.fast_recovery) +
         ",rai=" + format_rate(p.rai_bps) + ",rhai=" + format_rate(p.rhai_bps) +
         ",min_rate=" + format_rate(p.min_rate_bps) + ",reduce_period=" + format_duration(p.reduce_period) +
         ",clamp=" + (p.clamp_target ? "on" : "off") + ",cnp_interval=" + format_duration(p.cnp_interval) +
         ",kmin=" + format_bytes(p.red.kmin_bytes) + ",kmax=" + format_bytes(p.red.kmax_bytes) +
         ",pmax=" + format_number(p.red.pmax);
}

}  // namespace rfab::cc
