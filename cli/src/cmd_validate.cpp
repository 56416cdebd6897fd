// rfab validate: watch RoCE v2 traffic on an interface for a while with the eBPF collector, then gate on
// throughput, loss (PSNs that never arrived within the reorder window or the settle time; reordered
// packets are not loss), NAKs and CNPs. With --from FILE the same gates judge records read from a file
// (`rfab collect --json-file`, `rfab emulate --telemetry`) instead. Exit 0 PASS, 1 FAIL (with the reasons),
// 2 bad input.
#include <csignal>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "checked_options.hpp"
#include "hole_timeout_option.hpp"
#include "commands.hpp"
#include "rfab/telemetry/capabilities.hpp"
#include "rfab/telemetry/collector.hpp"
#include "rfab/telemetry/duration.hpp"
#include "rfab/telemetry/records.hpp"
#include "rfab/telemetry/validate.hpp"

namespace rfab::cli {
namespace {

namespace tm = rfab::telemetry;
using namespace std::chrono;

volatile std::sig_atomic_t g_interrupted = 0;
void on_signal(int) { g_interrupted = 1; }

struct ValidateOptions {
  std::string iface;
  std::string from;                  // records file instead of a live collector
  std::optional<double> line_gbps;   // line rate for --min-line-rate when the records carry none
  std::string hook = "tc";
  std::string duration = "10s";
  std::string settle = "200ms";
  std::string hole_timeout;  // empty: RFAB_TELEMETRY_HOLE_TIMEOUT, else the collector's default
  std::optional<double> min_gbps;
  std::optional<double> min_line_rate;
  double max_loss = 0;
  std::optional<uint64_t> max_naks;
  std::optional<uint64_t> max_cnps;
  uint16_t roce_port = 4791;
  uint32_t flow_map_entries = 65536;
  bool json = false;
};

void print(const ValidateOptions& o, const tm::Measurement& m, const tm::Verdict& v) {
  double rx = m.seconds > 0 ? static_cast<double>(m.bytes[RFAB_DIR_INGRESS]) * 8 / m.seconds / 1e9 : 0;
  double tx = m.seconds > 0 ? static_cast<double>(m.bytes[RFAB_DIR_EGRESS]) * 8 / m.seconds / 1e9 : 0;
  if (o.json) {
    nlohmann::ordered_json j;
    if (o.from.empty()) {
      j["iface"] = o.iface;
      j["hook"] = o.hook;
    } else {
      j["from"] = o.from;
    }
    j["seconds"] = m.seconds;
    j["gbps"] = m.gbps();
    if (m.received_only) j["gbps_of"] = "rx";
    j["rx_gbps"] = rx;
    j["tx_gbps"] = tx;
    j["line_gbps"] = m.line_gbps ? nlohmann::ordered_json(*m.line_gbps) : nlohmann::ordered_json(nullptr);
    j["roce_packets"] = m.roce_packets;
    j["request_packets"] = m.request_packets;
    j["lost"] = m.lost;
    j["late"] = m.late;
    j["reordered"] = m.reordered;
    j["reorder_distance_max"] = m.reorder_distance_max;
    j["reorder_delay_max_us"] = static_cast<double>(m.reorder_delay_max_ns) / 1e3;
    j["outstanding"] = m.outstanding;
    j["duplicates"] = m.duplicates;
    j["too_old"] = m.too_old;
    j["loss"] = m.loss();
    j["naks"] = m.naks;
    j["cnps"] = m.cnps;
    j["flow_map_full"] = m.flow_map_full;
    j["unsplit_gso"] = m.unsplit_gso;
    j["result"] = v.pass ? "PASS" : "FAIL";
    j["reasons"] = v.reasons;
    std::cout << j.dump() << "\n";
    return;
  }
  const std::string where = o.from.empty() ? o.iface : o.from;
  const std::string how = o.from.empty() ? o.hook : "records";
  // A live window is seconds long; an emulated one may be microseconds.
  if (o.from.empty())
    std::printf("%s: %.1f s on %s (%s): ", where.c_str(), m.seconds, where.c_str(), how.c_str());
  else
    std::printf("%s: %.6g s on %s (%s): ", where.c_str(), m.seconds, where.c_str(), how.c_str());
  std::printf("%.3f Gbit/s (rx %.3f, tx %.3f), %llu RoCE packets, loss %.6g "
              "(%llu lost of %llu requests), %llu NAKs, %llu CNPs\n",
              m.gbps(), rx, tx,
              (unsigned long long)m.roce_packets, m.loss(), (unsigned long long)m.lost,
              (unsigned long long)(m.request_packets + m.lost), (unsigned long long)m.naks,
              (unsigned long long)m.cnps);
  if (m.unsplit_gso)
    std::printf("%llu GSO/GRO skbs seen whole: their segments are not counted, so the loss figures above are not "
                "meaningful\n",
                (unsigned long long)m.unsplit_gso);
  std::printf("requests: %llu lost (%llu late), %llu reordered (max distance %llu), %llu outstanding, %llu duplicates, "
              "%llu below the window\n",
              (unsigned long long)m.lost, (unsigned long long)m.late, (unsigned long long)m.reordered, (unsigned long long)m.reorder_distance_max,
              (unsigned long long)m.outstanding, (unsigned long long)m.duplicates, (unsigned long long)m.too_old);
  std::printf("%s\n", v.pass ? "PASS" : "FAIL");
  for (const auto& r : v.reasons) std::printf("  %s\n", r.c_str());
  std::fflush(stdout);
}

tm::Gate gate_of(const ValidateOptions& o) {
  tm::Gate g;
  g.min_gbps = o.min_gbps;
  g.min_line_rate = o.min_line_rate;
  g.max_loss = o.max_loss;
  g.max_naks = o.max_naks;
  g.max_cnps = o.max_cnps;
  return g;
}

// The same gates on the window a records file holds.
void validate_records(const ValidateOptions& o) {
  tm::Measurement m;
  try {
    m = tm::measure_records_file(o.from);
  } catch (const tm::RecordsError& e) {
    throw ExitError{2, e.what()};
  }
  if (o.line_gbps) m.line_gbps = *o.line_gbps;
  if (o.min_line_rate && !m.line_gbps)
    throw ExitError{2, o.from + ": the records carry no link speed (rfab_iface_speed_bps): give --line-gbps or use --min-gbps"};
  tm::Verdict v = tm::evaluate(gate_of(o), m);
  print(o, m, v);
  if (!v.pass) throw ExitError{1, ""};
}

void run_validate(const ValidateOptions& o) {
  if (!o.min_gbps && !o.min_line_rate) throw ExitError{2, "give a throughput gate: --min-gbps X or --min-line-rate F"};
  if (o.max_loss < 0 || o.max_loss > 1) throw ExitError{2, "--max-loss is a fraction between 0 and 1"};
  if (o.iface.empty() == o.from.empty()) throw ExitError{2, "give one of --iface IFACE (live) or --from FILE (records)"};
  if (!o.from.empty()) return validate_records(o);
  if (o.line_gbps) throw ExitError{2, "--line-gbps goes with --from (a live run reads the interface's speed)"};
  tm::CollectorConfig cfg;
  cfg.iface = o.iface;
  auto hook = tm::parse_hook(o.hook);
  if (!hook) throw ExitError{2, "--hook must be xdp, xdp-generic or tc, not '" + o.hook + "'"};
  cfg.hook = *hook;
  cfg.roce_port = o.roce_port;
  cfg.flow_map_entries = o.flow_map_entries;
  if (!o.hole_timeout.empty()) cfg.hole_timeout_ns = hole_timeout_arg(o.hole_timeout);
  nanoseconds duration, settle;
  try {
    duration = tm::parse_duration(o.duration);
  } catch (const std::invalid_argument& e) {
    throw ExitError{2, std::string("--duration: ") + e.what()};
  }
  try {
    settle = tm::parse_duration(o.settle);
  } catch (const std::invalid_argument& e) {
    throw ExitError{2, std::string("--settle: ") + e.what()};
  }
  if (settle > seconds(60)) throw ExitError{2, "--settle must be at most 60s"};
  if (duration < milliseconds(100)) throw ExitError{2, "--duration must be at least 100ms"};
  auto missing = tm::missing_capabilities(tm::collector_capabilities());
  if (!missing.empty()) {
    std::string list;
    for (const auto& c : missing) list += (list.empty() ? "" : ", ") + c;
    throw ExitError{2, "rfab validate needs CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON; missing: " + list +
                           " (run as root)"};
  }
  std::unique_ptr<tm::Collector> col;
  try {
    col = tm::Collector::open(cfg);
  } catch (const tm::TelemetryError& e) {
    throw ExitError{2, e.what()};
  }
  g_interrupted = 0;
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  auto before = col->snapshot();
  // Announced after the first snapshot: whatever arrives from now on is measured.
  std::cerr << "rfab validate: measuring " << o.iface << " (" << o.hook << ") for " << o.duration << "\n";
  auto end = before.taken + duration;
  // Drain events as we go so the ring buffer never fills; the counters carry the verdict.
  while (!g_interrupted && steady_clock::now() < end) {
    auto left = duration_cast<milliseconds>(end - steady_clock::now());
    col->poll_events(std::clamp(left, milliseconds(0), milliseconds(100)));
  }
  auto after = col->snapshot();
  // Holes still open in the reorder windows now are PSNs either late or lost: those still open a settle
  // time later did not arrive and count as lost (exact once the traffic has finished).
  auto settle_end = after.taken + settle;
  while (!g_interrupted && steady_clock::now() < settle_end) {
    auto left = duration_cast<milliseconds>(settle_end - steady_clock::now());
    col->poll_events(std::clamp(left, milliseconds(0), milliseconds(100)));
  }
  auto settled = col->snapshot();
  col->detach();
  if (g_interrupted) throw ExitError{2, "interrupted before the measurement ended: no verdict"};

  tm::Measurement m = tm::measure(before, after, &settled);
  m.line_gbps = tm::link_speed_gbps(o.iface);
  tm::Verdict v = tm::evaluate(gate_of(o), m);
  print(o, m, v);
  if (!v.pass) throw ExitError{1, ""};
}

}  // namespace

void add_validate(CLI::App& app) {
  auto o = std::make_shared<ValidateOptions>();
  auto* sub = app.add_subcommand(
      "validate", "Measure RoCE v2 traffic on an interface, or read recorded records, and PASS/FAIL it (exit 0/1)");
  auto* iface = sub->add_option("--iface", o->iface, "network interface (live measurement)");
  auto* from = sub->add_option("--from", o->from,
                  "gate the records in this file instead (rfab collect --json-file, rfab emulate --telemetry)")
      ->excludes(iface);
  add_number(sub, "--line-gbps", o->line_gbps,
             "with --from: line rate for --min-line-rate when the records carry no link speed", 1e-3, 1e6);
  sub->add_option("--hook", o->hook, "xdp | xdp-generic | tc (default tc: sees both directions)");
  add_duration(sub, "--duration", o->duration, "how long to measure (default 10s)", 100'000'000,
               uint64_t{366} * 86400 * 1'000'000'000);
  add_duration(sub, "--settle", o->settle,
               "after the measurement, how long a PSN hole may stay open before it counts as lost (default 200ms)", 0,
               60'000'000'000);
  // 0 is a gate that only the loss, NAK and CNP limits can fail: "this link must be clean, at any rate".
  auto* gbps = add_number(sub, "--min-gbps", o->min_gbps,
                          "fail below this RoCE throughput (busier direction); 0: gate on loss, NAKs and CNPs only", 0,
                          1e6);
  add_fraction(sub, "--min-line-rate", o->min_line_rate, "fail below this fraction of the link speed")->excludes(gbps);
  add_hole_timeout(sub, o->hole_timeout);
  add_fraction(sub, "--max-loss", o->max_loss,
               "largest tolerated fraction of request packets lost: never arrived, reordered ones are not (default 0)");
  add_integer(sub, "--max-naks", o->max_naks, "fail above this many NAKs", 0, UINT64_MAX);
  add_integer(sub, "--max-cnps", o->max_cnps, "fail above this many CNPs", 0, UINT64_MAX);
  add_integer(sub, "--roce-port", o->roce_port, "UDP destination port of RoCE v2 (default 4791)", 1, 65535);
  add_integer(sub, "--flow-map-entries", o->flow_map_entries, "flows tracked (default 65536)", 1, 16u << 20);
  sub->add_flag("--json", o->json, "one JSON object instead of text");
  // What only a live measurement uses is refused with --from rather than silently ignored.
  for (const char* live : {"--hook", "--duration", "--settle", "--hole-timeout", "--roce-port", "--flow-map-entries"})
    from->excludes(sub->get_option(live));
  sub->callback([o] { run_validate(*o); });
}

}  // namespace rfab::cli
