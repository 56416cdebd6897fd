// rfab emulate: packet-level emulation of a fat-tree fabric (ECMP / adaptive / flowlet routing, PFC, ECN,
// DCQCN) in virtual time, or flow-level (--engine flow: max-min fair fluid flows over the same paths).
// Prints throughput, loss, PFC/ECN/CNP counts, FCTs and emulator speed.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>
#include <nlohmann/json.hpp>

#include "checked_options.hpp"
#include "commands.hpp"
#include "emu_partitions.hpp"
#include "emu_records.hpp"
#include "emu_report.hpp"
#include "listen_url.hpp"
#include "rfab/emu/flow_calibration.hpp"
#include "rfab/emu/scenario.hpp"
#include "rfab/emu/traffic.hpp"
#include "rfab/telemetry/collector.hpp"
#include "rfab/telemetry/prometheus.hpp"
#include "rfab/base/units.hpp"
#include "rfab/topology/fat_tree.hpp"
#include "rfab/topology/spec.hpp"

namespace rfab::cli {
namespace {

struct EmulateOptions {
  std::string topo = "fat-tree:k=16,tiers=3,speed=400G";
  std::string routing = "ecmp";
  std::string cc = "none";
  std::string pfc = "on";
  std::string traffic = "permutation:bytes=2M";
  std::string time = "500us";
  std::string warmup = "0s";
  std::string buffer;
  std::string hosts = "paced";
  std::string engine = "packet";
  uint64_t seed = 1;
  uint32_t mtu = 4096;
  uint32_t spray = 0;
  bool adaptive = false;
  bool spray_cover = false;
  uint64_t max_memory = 0;  // 0: MemoryLimit::default_limit()
  uint64_t max_events = 0;  // 0: none
  bool json = false;
  bool quiet = false;
  std::string telemetry;  // records file (emu_records.hpp); empty: none
  std::vector<std::string> fail;  // failure items (failures.hpp), joined with ';'
  std::string report;             // HTML report file; empty: none
  std::vector<std::string> compare;  // further routing modes run on the same scenario
  std::string prometheus;            // HOST:PORT to serve the run's counters on while it runs; empty: none
  std::string prometheus_hold = "0s";  // keep serving the final counters this long after the run
  std::string partitions;              // emu_partitions.hpp; empty: automatic
  std::string calibrate;                 // sample fat-tree for the flow engine's calibration; empty: none
  std::string calibrate_time = "300us";
  std::string calibrate_warmup = "100us";

};

// The run's counters as the collector's records; a file that cannot be written fails the run.
void write_telemetry(const EmulateOptions& o, const emu::Report& r) {
  std::ofstream f(o.telemetry, std::ios::trunc);
  if (!f) throw ExitError{2, "cannot open --telemetry '" + o.telemetry + "' for writing: " + std::strerror(errno)};
  topo::FatTree tree(topo::parse_fat_tree(o.topo));
  try {
    write_emulator_records(f, tree, r.counters, r.simulated);
  } catch (const std::runtime_error&) {  // the stream failed: stop formatting what cannot be written
    throw ExitError{1, "--telemetry '" + o.telemetry + "': write failed: " + std::strerror(errno)};
  }
  f.close();
  if (!f) throw ExitError{1, "--telemetry '" + o.telemetry + "': write failed: " + std::strerror(errno)};
}

double us(emu::Picos p) { return double(p) / 1e6; }

constexpr uint32_t kReportSamples = 100;

std::string format_eta(double seconds) {
  char b[32];
  if (seconds < 90) std::snprintf(b, sizeof b, "%.0f s", seconds);
  else if (seconds < 5400) std::snprintf(b, sizeof b, "%.0f min", seconds / 60);
  else std::snprintf(b, sizeof b, "%.1f h", seconds / 3600);
  return b;
}

// The run as a self-contained HTML page; a file that cannot be written fails the run.
void write_report(const EmulateOptions& o, const emu::Report& r, const std::vector<ComparedRun>& compared,
                  const std::optional<emu::FlowCalibration>& cal) {
  std::ofstream f(o.report, std::ios::trunc);
  if (!f) throw ExitError{2, "cannot open --report '" + o.report + "' for writing: " + std::strerror(errno)};
  ReportContext ctx;
  // The run's command, rebuilt from the options (what reproduces it).
  ctx.command = "rfab emulate --topo " + o.topo + " --routing " + o.routing + " --cc " + o.cc + " --pfc " + o.pfc +
                " --hosts " + o.hosts + " --traffic " + o.traffic + " --time " + o.time +
                (o.warmup != "0s" ? " --warmup " + o.warmup : "") + " --seed " + std::to_string(o.seed) +
                (o.spray ? " --spray " + std::to_string(o.spray) : "") + (o.adaptive ? " --adaptive" : "") + (o.spray_cover ? " --spray-cover" : "") +
                (o.engine != "packet" ? " --engine " + o.engine : "") +
                (o.calibrate.empty() ? "" : " --calibrate " + o.calibrate + " --calibrate-time " + o.calibrate_time +
                                                " --calibrate-warmup " + o.calibrate_warmup);
  for (const std::string& x : o.fail) ctx.command += " --fail " + x;
  for (const std::string& x : o.compare) ctx.command += " --compare " + x;
  ctx.settings = {{"traffic", o.traffic}, {"routing", o.routing}, {"cc", o.cc}, {"pfc", o.pfc}, {"hosts", o.hosts},
                  {"simulated", o.time + (o.warmup != "0s" ? " (warm-up " + o.warmup + ")" : "")},
                  {"seed", std::to_string(o.seed)}, {"engine", o.engine}};
  if (o.spray > 1) ctx.settings.emplace_back("spray", std::to_string(o.spray) + (o.adaptive ? " ports, adaptive" : o.spray_cover ? " ports, one per path" : " ports"));
  if (!o.fail.empty()) {
    std::string all;
    for (const std::string& x : o.fail) all += (all.empty() ? "" : "; ") + x;
    ctx.settings.emplace_back("failures", all);
  }
  if (cal) {
    char b[160];
    std::snprintf(b, sizeof b, "link efficiency %.4f (sample packet %.4f / flow %.4f of line)", cal->efficiency,
                  cal->packet_throughput, cal->flow_throughput);
    ctx.settings.emplace_back("calibration", cal->sample_topology + ": " + b);
  }
  ctx.routing = o.routing;
  ctx.compared = compared;
  ctx.fluid = o.engine == "flow";
  write_emulation_report(f, r, ctx);
  f.close();
  if (!f) throw ExitError{1, "--report '" + o.report + "': write failed: " + std::strerror(errno)};
}

void print_calibration(const emu::FlowCalibration& c) {
  std::printf("calibration sample %s, traffic %s", c.sample_topology.c_str(), c.traffic.c_str());
  if (!c.fallback.empty()) std::printf(" (instead of the scenario's: %s)", c.fallback.c_str());
  std::printf(", %.1f us with %.1f us warm-up\n", us(c.duration), us(c.warmup));
  std::printf("            packet %.4f / flow %.4f of offered line rate: link efficiency %.4f (CPU %.2f s + %.2f s)\n",
              c.packet_throughput, c.flow_throughput, c.efficiency, c.cpu_packet, c.cpu_flow);
}

void print_text(const EmulateOptions& o, const emu::Report& r) {
  std::printf("topology    %s\n", r.topology.c_str());
  std::printf("scenario    traffic %s (%llu flows), routing %s, cc %s, pfc %s, hosts %s, engine %s", o.traffic.c_str(),
              (unsigned long long)r.flows, o.routing.c_str(), o.cc.c_str(), o.pfc.c_str(), o.hosts.c_str(),
              o.engine.c_str());
  if (o.spray > 1)
    std::printf(" %sspraying over %u ports%s", o.adaptive ? "adaptive " : "", o.spray, o.spray_cover ? " (one per path)" : "");
  std::printf(", %.1f us simulated, seed %llu\n", us(r.simulated), (unsigned long long)o.seed);
  std::printf("throughput  %.4f of offered line rate", r.throughput);
  if (r.warmup > 0) std::printf(" after %.1f us warm-up", us(r.warmup));
  std::printf(" (delivered payload %.3f GB; header ceiling %.4f)\n", double(r.payload_delivered) / 1e9, r.goodput_ceiling);
  if (r.failed_links)
    std::printf("failures    %u links down (%u switches); %llu packets found no way to their destination\n",
                r.failed_links, r.failed_switches, (unsigned long long)r.unroutable);
  std::printf("loss        drops %llu, PFC pauses %llu, ECN marks %llu, CNPs %llu", (unsigned long long)r.drops,
              (unsigned long long)r.pfc_pauses, (unsigned long long)r.ecn_marks, (unsigned long long)r.cnps);
  if (o.hosts == "rc") std::printf(", retransmitted packets %llu", (unsigned long long)r.retransmits);
  std::printf("\n");
  if (r.flows_completed)
    std::printf("fct         p50 %.2f us, p99 %.2f us, max %.2f us (%llu of %llu flows completed)\n", us(r.fct_p50),
                us(r.fct_p99), us(r.fct_max), (unsigned long long)r.flows_completed, (unsigned long long)r.flows);
  else
    std::printf("fct         no flow completed (%llu flows)\n", (unsigned long long)r.flows);
  if (r.flows_completed == r.flows && r.flows > 0)
    std::printf("completion  every flow done at %.2f us (the step time of a collective's traffic)\n", us(r.last_done));
  if (!r.step.phases.empty()) {
    std::printf("step time   %.2f us; critical path by phase (the rest of each phase overlapped it):\n", us(r.step.step));
    for (const emu::PhaseTime& p : r.step.phases)
      std::printf("  %-38s %10.2f us %5.1f%% on the path (%u transfers); %llu flows, %.3f GB, %.2f-%.2f us\n",
                  p.phase.c_str(), us(p.critical), r.step.step ? 100.0 * double(p.critical) / double(r.step.step) : 0.0,
                  p.critical_flows, (unsigned long long)p.flows, double(p.bytes) / 1e9, us(p.first_start), us(p.last_done));
    if (r.step.waiting) std::printf("  %-38s %10.2f us\n", "waiting (start delays)", us(r.step.waiting));
  }
  std::printf("max queue   %.1f KiB\n", double(r.max_queue_bytes) / 1024.0);
  std::printf("emulator    %llu events in %.2f CPU-s (%.2f M events/s), wall %.2f s, peak RSS %.1f MiB\n",
              (unsigned long long)r.events, r.cpu_seconds, r.events_per_second / 1e6, r.wall_seconds,
              double(r.peak_rss_bytes) / (1024.0 * 1024.0));
}

void print_json(const EmulateOptions& o, const emu::Report& r, const std::vector<ComparedRun>& compared,
                const std::optional<emu::FlowCalibration>& cal) {
  nlohmann::json j = {
      {"topology", r.topology},       {"topo_spec", o.topo},
      {"traffic", o.traffic},         {"routing", o.routing},
      {"cc", o.cc},                   {"pfc", o.pfc == "on"},
      {"seed", o.seed},               {"hosts", r.hosts},
      {"flows", r.flows},             {"flows_completed", r.flows_completed},
      {"simulated_us", us(r.simulated)}, {"warmup_us", us(r.warmup)},
      {"throughput", r.throughput},   {"goodput_ceiling", r.goodput_ceiling},
      {"payload_delivered_bytes", r.payload_delivered},
      {"drops", r.drops},             {"pfc_pauses", r.pfc_pauses},
      {"unroutable", r.unroutable},   {"failed_links", r.failed_links},
      {"failed_switches", r.failed_switches},
      {"ecn_marks", r.ecn_marks},     {"cnps", r.cnps},
      {"hosts_stack", o.hosts},       {"retransmits", r.retransmits},
      {"spray", o.spray},
      {"adaptive", o.adaptive},       {"spray_cover", o.spray_cover},
      {"fct_us", {{"p50", us(r.fct_p50)}, {"p99", us(r.fct_p99)}, {"max", us(r.fct_max)}}},
      {"engine", o.engine},           {"last_done_us", us(r.last_done)},
      {"refills", r.refills},         {"refilled_flows", r.refilled_flows},
      {"max_queue_bytes", r.max_queue_bytes},
      {"events", r.events},           {"events_per_second", r.events_per_second},
      {"cpu_seconds", r.cpu_seconds}, {"wall_seconds", r.wall_seconds},
      {"peak_rss_bytes", r.peak_rss_bytes},
      {"memory_estimate_bytes", r.memory_estimate}};
  if (!r.step.phases.empty()) {
    nlohmann::json phases = nlohmann::json::array();
    for (const emu::PhaseTime& p : r.step.phases)
      phases.push_back({{"phase", p.phase},
                        {"critical_us", us(p.critical)},
                        {"critical_flows", p.critical_flows},
                        {"flows", p.flows},
                        {"bytes", p.bytes},
                        {"first_start_us", us(p.first_start)},
                        {"last_done_us", us(p.last_done)}});
    j["step_breakdown"] = {{"step_us", us(r.step.step)}, {"waiting_us", us(r.step.waiting)}, {"phases", phases}};
  }
  if (cal)
    j["calibration"] = {{"sample_topology", cal->sample_topology}, {"sample_topo_spec", o.calibrate},
                        {"sample_hosts", cal->sample_hosts},         {"traffic", cal->traffic},
                        {"fallback", cal->fallback},                 {"simulated_us", us(cal->duration)},
                        {"warmup_us", us(cal->warmup)},              {"packet_throughput", cal->packet_throughput},
                        {"flow_throughput", cal->flow_throughput},   {"efficiency", cal->efficiency},
                        {"cpu_seconds_packet", cal->cpu_packet},     {"cpu_seconds_flow", cal->cpu_flow}};
  for (const ComparedRun& c : compared)
    j["compare"].push_back({{"routing", c.routing},       {"throughput", c.report.throughput},
                            {"drops", c.report.drops},     {"pfc_pauses", c.report.pfc_pauses},
                            {"ecn_marks", c.report.ecn_marks}, {"cnps", c.report.cnps},
                            {"max_queue_bytes", c.report.max_queue_bytes},
                            {"flows_completed", c.report.flows_completed}, {"last_done_us", us(c.report.last_done)}});
  std::cout << j.dump() << "\n";
}

emu::ScenarioSpec with_routing(emu::ScenarioSpec s, const std::string& routing) {
  const emu::RoutingChoice rc = emu::parse_routing_choice(routing);
  s.routing = rc.routing;
  s.ar_view = rc.ar_view;
  s.ar_quantum_bytes = rc.ar_quantum_bytes;
  s.ar_choices = rc.ar_choices;
  return s;
}

// One run of `s` with the routing given as text; the progress bar (with its ETA) on a terminal.
emu::Report run_one(const EmulateOptions& o, emu::ScenarioSpec s, const std::string& routing) {
  s = with_routing(std::move(s), routing);
  const bool bar = !o.quiet && isatty(STDERR_FILENO);
  int shown = -1;
  const auto started = std::chrono::steady_clock::now();
  auto progress = [&](double f) {
    int pct = int(f * 100.0);
    if (pct == shown || pct > 100) return;
    shown = pct;
    int w = pct * 40 / 100;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::fprintf(stderr, "\r[%.*s%*s] %3d%%", w, "########################################", 40 - w, "", pct);
    // The remaining time assumes the rest of the run costs what the part done so far did per simulated us.
    if (f >= 0.02 && f < 1) std::fprintf(stderr, "  ETA %s   ", format_eta(elapsed * (1 - f) / f).c_str());
    std::fflush(stderr);
  };
  emu::Report r = emu::run_scenario(s, bar ? std::function<void(double)>(progress) : std::function<void(double)>());
  if (bar) std::fprintf(stderr, "\r%*s\r", 64, "");
  return r;
}

void print_compared(const std::vector<ComparedRun>& runs) {
  for (const ComparedRun& c : runs) {
    std::printf("compare     routing %s: throughput %.4f, drops %llu, PFC pauses %llu, ECN marks %llu, CNPs %llu, "
                "max queue %.1f KiB",
                c.routing.c_str(), c.report.throughput, (unsigned long long)c.report.drops,
                (unsigned long long)c.report.pfc_pauses, (unsigned long long)c.report.ecn_marks,
                (unsigned long long)c.report.cnps, double(c.report.max_queue_bytes) / 1024.0);
    if (c.report.flows > 0 && c.report.flows_completed == c.report.flows)
      std::printf(", every flow done at %.2f us", us(c.report.last_done));
    else if (c.report.flows > 0)
      std::printf(", %llu of %llu flows done", (unsigned long long)c.report.flows_completed, (unsigned long long)c.report.flows);
    std::printf("\n");
  }
}

void run_emulate(const EmulateOptions& o, const EmuPartitions& parts) {
  if (parts.partitioned() && !o.report.empty())
    throw ExitError{2, "--report: a partitioned run (--partitions) keeps no timeline to draw; run the report in one part"};
  if (parts.partitioned() && !o.prometheus.empty())
    throw ExitError{2, "--prometheus: a partitioned run (--partitions) has no live counters to serve; run it in one part"};
  emu::ScenarioSpec s;
  parts.apply(s);
  s.topology = o.topo;
  s.traffic = o.traffic;
  s.cc = o.cc;
  s.seed = o.seed;
  s.mtu = o.mtu;
  s.hosts = o.hosts;
  s.engine = o.engine;
  s.spray = o.spray;
  s.adaptive = o.adaptive;
  s.spray_cover = o.spray_cover;
  s.memory_limit = MemoryLimit::from_flag(o.max_memory, "--max-memory");
  s.max_events = o.max_events;
  if (o.pfc != "on" && o.pfc != "off") throw ExitError{2, "--pfc: '" + o.pfc + "' must be on or off"};
  s.pfc = o.pfc == "on";
  if (!o.calibrate.empty() && o.engine != "flow")
    throw ExitError{2, "--calibrate: calibrates the flow-level engine from a packet-level sample; give --engine flow"};
  if (!o.calibrate.empty() && !o.compare.empty())
    throw ExitError{2, "--calibrate: the sample is calibrated for one routing; drop --compare (run each routing on its own)"};
  emu::Report r;
  std::vector<ComparedRun> compared;
  std::optional<emu::FlowCalibration> cal;
  // Live exposition: the main run's counters as the collector's metrics, republished at every sample.
  std::unique_ptr<telemetry::PrometheusServer> prom;
  std::optional<topo::FatTree> prom_tree;
  emu::Picos hold = 0;
  if (!o.prometheus.empty()) {
    try {
      hold = parse_duration_ps(o.prometheus_hold, "--prometheus-hold");
      prom_tree.emplace(topo::parse_fat_tree(o.topo));
      auto [host, port] = telemetry::parse_listen_address(o.prometheus);
      prom = std::make_unique<telemetry::PrometheusServer>(host, port);
      std::fprintf(stderr, "rfab emulate: Prometheus on http://%s/metrics\n", listen_url(host, prom->port()).c_str());
      prom->publish(telemetry::render_prometheus(emulator_metrics(*prom_tree, emu::FabricCounters{}, true)));
    } catch (const topo::TopologyError& e) {
      throw ExitError{2, e.what()};
    } catch (const std::invalid_argument& e) {
      throw ExitError{2, std::string("--prometheus: ") + e.what()};
    } catch (const telemetry::TelemetryError& e) {
      throw ExitError{2, e.what()};
    }
  }
  try {
    for (const std::string& c : o.compare) (void)emu::parse_routing_choice(c);  // refuse a bad one before running
    s.duration = parse_duration_ps(o.time, "--time");
    s.warmup = parse_duration_ps(o.warmup, "--warmup");
    for (const std::string& f : o.fail) s.failures += (s.failures.empty() ? "" : ";") + f;
    if (!o.report.empty()) s.samples = kReportSamples;
    if (!o.buffer.empty()) s.buffer_bytes = parse_size(o.buffer, "--buffer");
    emu::ScenarioSpec primary = s;
    primary.counters = !o.telemetry.empty() || prom;
    if (prom) {
      primary.samples = std::max(primary.samples, kReportSamples);
      primary.on_counters = [&](emu::Picos, const emu::FabricCounters& c) {
        prom->publish(telemetry::render_prometheus(emulator_metrics(*prom_tree, c, false)));
      };
    }
    if (!o.calibrate.empty()) {
      emu::CalibrationSpec cs;
      cs.sample_topology = o.calibrate;
      cs.duration = parse_duration_ps(o.calibrate_time, "--calibrate-time");
      cs.warmup = parse_duration_ps(o.calibrate_warmup, "--calibrate-warmup");
      if (!o.quiet && isatty(STDERR_FILENO)) std::fprintf(stderr, "calibrating on %s ...\r", o.calibrate.c_str());
      cal = emu::calibrate_flow(with_routing(primary, o.routing), cs);
      primary = emu::calibrated(primary, *cal);
    }
    r = run_one(o, primary, o.routing);
    for (const std::string& c : o.compare) compared.push_back({c, run_one(o, s, c)});
  } catch (const topo::TopologyError& e) {
    throw ExitError{2, e.what()};
  } catch (const emu::TrafficError& e) {
    throw ExitError{2, e.what()};
  } catch (const std::invalid_argument& e) {  // ParseError, ResourceError, bad cc/routing/hosts
    throw ExitError{2, e.what()};
  }
  if (prom) prom->publish(telemetry::render_prometheus(emulator_metrics(*prom_tree, r.counters, false)));
  if (!o.telemetry.empty() && parts.root()) write_telemetry(o, r);  // every MPI rank has the same records
  if (!o.report.empty()) write_report(o, r, compared, cal);
  if (o.json) {
    print_json(o, r, compared, cal);
  } else {
    print_text(o, r);
    if (cal) print_calibration(*cal);
    print_compared(compared);
  }
  std::fflush(stdout);
  if (prom && hold > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(hold / 1000));
}

}  // namespace

void add_emulate(CLI::App& app) {
  auto o = std::make_shared<EmulateOptions>();
  auto* sub = app.add_subcommand("emulate", "Packet-level emulation of a fat-tree RoCE fabric in virtual time");
  sub->add_option("--topo", o->topo,
                  "fat-tree:k=16,tiers=3,speed=400G (keys: k tiers hosts speed host-speed switch oversub rails latency)")
      ->capture_default_str();
  sub->add_option("--routing", o->routing, "ecmp | ar[:view=local|path,quantum=SIZE] (per-packet adaptive: each switch's own queues, or the queues along each candidate path) | flowlet (in the switches)")->capture_default_str();
  sub->add_option("--cc", o->cc, "none | dcqcn[:preset=paper|connectx,key=value,...]")->capture_default_str();
  sub->add_option("--pfc", o->pfc, "on (lossless) | off (lossy, tail drop)")->capture_default_str();
  sub->add_option("--traffic", o->traffic,
                  "permutation:bytes=2M | all-to-all:bytes=64K | incast:n=8,bytes=1M | ring:bytes=64M | file:PATH | "
                  "step:allreduce=ring|rhd|rd|tree|hier,bytes=1G[,inter=ALGO,gpus-per-server=G] | "
                  "step:alltoall=pairwise,bytes=B | "
                  "step:train=gpipe,tp=T,pp=P,ep=E,microbatches=M,grad=G,act=A,moe=B,tp-bytes=X,dp=ALGO "
                  "(steps: the collective library's schedule; --engine flow)")
      ->capture_default_str();
  add_duration(sub, "--time", o->time, "simulated time (e.g. 500us, 2ms)", 1, 60'000'000'000)->capture_default_str();
  add_duration(sub, "--warmup", o->warmup,
               "measure throughput only after this much simulated time (the start-up transient left out; shorter than --time)",
               0, 60'000'000'000)
      ->capture_default_str();
  add_integer(sub, "--seed", o->seed, "seed (traffic, hashing, marking)", 0, UINT64_MAX)->capture_default_str();
  add_integer(sub, "--spray", o->spray,
              "NIC-side per-packet spraying: each flow rotates over N UDP source ports (entropies) that ECMP "
              "switches hash onto different paths (0 = one port per flow; at most 256)",
              0, 256)
      ->capture_default_str();
  sub->add_flag("--adaptive", o->adaptive,
                "with --spray N and --hosts rc: the NIC steers its spray away from ports that draw CNPs, NAKs or "
                "long round trips (the rc engine's adaptive policy)");
  sub->add_flag("--spray-cover", o->spray_cover,
                "with --spray N: pick the N ports one per distinct ECMP path (a NIC that knows the switches' hash) "
                "instead of hashed ports, which land on paths at random; paced hosts and --engine flow");
  add_integer(sub, "--mtu", o->mtu, "RoCE payload bytes per packet", 256, 9000)->capture_default_str();
  add_size(sub, "--buffer", o->buffer, "shared buffer per switch (default 64M; at least two frames)", 1,
           uint64_t{1} << 40);
  add_size(sub, "--max-memory", o->max_memory,
           "refuse a run whose estimated memory is larger, and stop one that grows past it "
           "(default: half of physical memory)",
           uint64_t{1} << 20, UINT64_MAX);
  add_integer(sub, "--max-events", o->max_events, "stop with an error after this many events (default: no limit)",
              1, UINT64_MAX);
  sub->add_option("--hosts", o->hosts,
                  "host stack: paced (MTU packets paced by the cc; scales to 100k hosts) | rc (the rc/ QP engine: "
                  "RDMA WRITEs; go-back-N on single-path ECMP, selective recovery when packets take several paths; a "
                  "few thousand flows)")
      ->capture_default_str();
  sub->add_option("--engine", o->engine,
                  "packet (discrete-event: queues, PFC, ECN, DCQCN) | flow (max-min fair fluid flows over the same "
                  "paths: lossless, no queues or cc; for 100k-host steps)")
      ->capture_default_str();
  sub->add_flag("--json", o->json, "one JSON object instead of text");
  sub->add_flag("--quiet", o->quiet, "no progress bar");
  sub->add_option("--fail", o->fail,
                  "failed links or switches, routed around from the start (repeatable): link:leaf3-agg1, "
                  "switch:core5, random-links:0.01 (a fraction of the switch-to-switch links), random-switches:2");
  sub->add_option("--compare", o->compare,
                  "also run the same scenario with this routing (repeatable; e.g. --compare ecmp): printed after the "
                  "main run and drawn beside it in --report's throughput chart");
  sub->add_option("--report", o->report,
                  "write the run as a self-contained HTML page with SVG charts (throughput, per-tier link "
                  "utilisation, queues, PFC/ECN/CNP over time, flow completion times)");
  sub->add_option("--telemetry", o->telemetry,
                  "write per-flow (QP) and per-link records to this file in the JSON lines of `rfab collect "
                  "--json` (gate them with `rfab validate --from FILE`)");
  sub->add_option("--prometheus", o->prometheus,
                  "serve the run's counters (the records of --telemetry) as Prometheus text on HOST:PORT/metrics while "
                  "it runs, updated 100 times over the simulated time (e.g. 127.0.0.1:9464; port 0: any)");
  sub->add_option("--calibrate", o->calibrate,
                  "with --engine flow: first run this smaller fat-tree of the same speed (e.g. fat-tree:k=8,speed=400G) "
                  "in the packet-level engine with the scenario's routing, cc, pfc and long-lived flows, and in the flow "
                  "engine; their throughput ratio scales every link of the flow run (so --cc and ar:view= are taken)");
  add_duration(sub, "--calibrate-time", o->calibrate_time, "with --calibrate: simulated time of each sample run", 1,
               60'000'000'000)
      ->capture_default_str();
  add_duration(sub, "--calibrate-warmup", o->calibrate_warmup,
               "with --calibrate: the packet-level sample's throughput is measured after this (shorter than "
               "--calibrate-time)",
               0, 60'000'000'000)
      ->capture_default_str();
  add_duration(sub, "--prometheus-hold", o->prometheus_hold,
               "with --prometheus: keep serving the final counters this long after the run, for a scraper",
               0, 3'600'000'000'000)
      ->capture_default_str();
  sub->add_option("--partitions", o->partitions,
                  "split the packet-level fabric by pods into parts that run side by side with the same results: N "
                  "threads of this process, or mpi: one part per rank of `mpirun -np N rfab emulate ...` (the "
                  "default under mpirun with several ranks); not with --engine flow, --hosts rc, ar:view=path, "
                  "--report, --prometheus or traffic whose flows wait for others");
  sub->callback([o] {
    EmuPartitions parts(o->partitions);
    parts.guard([&] { run_emulate(*o, parts); });
  });
}

}  // namespace rfab::cli
