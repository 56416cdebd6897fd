#include "rfab/emu/scenario.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <optional>
#include <stdexcept>

#include "rfab/base/spec.hpp"
#include "rfab/base/units.hpp"
#include "rfab/congestion/dcqcn_params.hpp"
#include "rfab/congestion/factory.hpp"
#include "rfab/emu/budget.hpp"
#include "rfab/emu/fabric.hpp"
#include "rfab/emu/failures.hpp"
#include "rfab/emu/paced_stack.hpp"
#include "rfab/emu/rc_stack.hpp"
#include "rfab/emu/traffic.hpp"
#include "packet_scenario.hpp"
#include "rfab/topology/fat_tree.hpp"
#include "rfab/topology/spec.hpp"

namespace rfab::emu {

Routing parse_routing(std::string_view s) {
  if (s == "ecmp") return Routing::ecmp;
  if (s == "ar" || s == "adaptive") return Routing::ar;
  if (s == "flowlet") return Routing::flowlet;
  throw std::invalid_argument("routing: '" + std::string(s) + "' is not one of ecmp, ar, flowlet");
}

const char* to_string(ArView v) { return v == ArView::path ? "path" : "local"; }

RoutingChoice parse_routing_choice(std::string_view text) {
  constexpr std::string_view what = "routing";
  const spec::KindSpec k = spec::split_kind(text, what);
  RoutingChoice c;
  c.routing = parse_routing(k.kind);
  if (!k.values.empty() && c.routing != Routing::ar)
    throw std::invalid_argument("routing: '" + k.kind + "' takes no options (only ar: view=local|path, quantum=SIZE, choices=N)");
  for (const spec::KeyValue& kv : k.values) {
    if (kv.key == "view") {
      if (kv.value == "local") c.ar_view = ArView::local;
      else if (kv.value == "path") c.ar_view = ArView::path;
      else spec::value_error(what, kv.key, kv.value, "must be local or path");
    } else if (kv.key == "quantum") {
      c.ar_quantum_bytes = spec::parse_value(what, kv, spec::parse_bytes);
      if (c.ar_quantum_bytes == 0 || c.ar_quantum_bytes > (1ull << 30))
        spec::value_error(what, kv.key, kv.value, "must be 1 byte .. 1G");
    } else if (kv.key == "choices") {
      const uint64_t n = spec::parse_value(what, kv, spec::parse_uint);
      if (n > 256) spec::value_error(what, kv.key, kv.value, "must be 0 (all ports) .. 256");
      c.ar_choices = uint32_t(n);
    } else {
      spec::unknown_key(what, kv.key, "view, quantum, choices");
    }
  }
  if (c.ar_view == ArView::local && text.find("choices") != std::string_view::npos)
    throw std::invalid_argument("routing: choices=N compares candidate paths; it needs view=path");
  return c;
}

const char* to_string(Routing r) {
  switch (r) {
    case Routing::ecmp: return "ecmp";
    case Routing::ar: return "ar";
    case Routing::flowlet: return "flowlet";
  }
  return "?";
}

Picos percentile(std::vector<Picos>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = size_t(std::ceil(p / 100.0 * double(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

uint64_t peak_rss_bytes() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
  return 0;
}

uint64_t current_rss_bytes() {
  std::ifstream f("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  if (!(f >> size >> resident)) return 0;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

PacketScenario prepare_packet_scenario(const ScenarioSpec& spec) {
  // A recorded collective step has flows that wait for several others; the packet-level host stacks start
  // a flow after one (FlowSpec::after).
  if (spec.traffic.rfind("step:", 0) == 0)
    throw TrafficError("traffic: step: schedules wait for several flows at once, which only --engine flow runs");
  PacketScenario s(topo::FatTree(topo::parse_fat_tree(spec.topology)));
  const topo::FatTree& tree = s.tree;
  if (tree.planes() > 1)
    throw topo::TopologyError("topology: planes=" + std::to_string(tree.planes()) +
                              " runs with --engine flow only; the packet-level engine runs one plane (drop planes= "
                              "and give the plane's speed)");
  EmuConfig& cfg = s.cfg;
  cfg.routing = spec.routing;
  cfg.ar_view = spec.ar_view;
  if (spec.ar_quantum_bytes) cfg.ar_quantum_bytes = spec.ar_quantum_bytes;
  cfg.ar_choices = spec.ar_choices;
  FailureSet& failures = s.failures;
  if (!spec.failures.empty()) failures = parse_failures(spec.failures, tree, spec.seed);
  cfg.failed_ports = failures.ports;
  cfg.pfc.enabled = spec.pfc;
  cfg.seed = spec.seed;
  cfg.mtu = spec.mtu;
  if (spec.mtu < 256 || spec.mtu > 9000) throw std::invalid_argument("mtu: " + std::to_string(spec.mtu) + " must be 256..9000");
  if (spec.buffer_bytes) cfg.switch_buffer_bytes = spec.buffer_bytes;
  // A switch that cannot hold two full frames drops (or, lossless, pauses) every packet: flows that never
  // finish would be the only result.
  const uint64_t two_frames = 2ull * (uint64_t{spec.mtu} + cfg.header_bytes);
  if (cfg.switch_buffer_bytes < two_frames)
    throw std::invalid_argument("buffer: " + std::to_string(cfg.switch_buffer_bytes) +
                                " bytes per switch cannot hold two frames of MTU " + std::to_string(spec.mtu) +
                                " (at least " + std::to_string(two_frames) + ")");
  if (spec.spray > kMaxSprayPaths)
    throw std::invalid_argument("spray: " + std::to_string(spec.spray) + " paths; must be 0.." +
                                std::to_string(kMaxSprayPaths) + " (0 or 1 = one UDP source port per flow)");
  cfg.spray_paths = uint16_t(spec.spray);
  if (spec.adaptive && spec.spray < 2) throw std::invalid_argument("adaptive: steers a spray; give spray >= 2");
  if (spec.adaptive && spec.hosts != "rc")
    throw std::invalid_argument("adaptive: needs the rc host stack (--hosts rc): the paced hosts have no feedback per port");
  cfg.spray_adaptive = spec.adaptive;
  if (spec.spray_cover && spec.spray < 2) throw std::invalid_argument("spray-cover: picks a spray's ports; give spray >= 2");
  if (spec.spray_cover && spec.hosts == "rc")
    throw std::invalid_argument("spray-cover: the rc hosts spray over their engine's own entropy set; use --hosts paced");
  if (spec.spray_cover && spec.adaptive) throw std::invalid_argument("spray-cover: --adaptive steers its own ports");
  cfg.spray_cover = spec.spray_cover;
  if (spec.duration == 0) throw std::invalid_argument("time: the simulated time must be > 0");
  if (spec.warmup >= spec.duration)
    throw std::invalid_argument("warmup: " + format_number(double(spec.warmup) / 1e6) +
                                " us leaves nothing to measure in a run of " +
                                format_number(double(spec.duration) / 1e6) + " us (it must be shorter than --time)");

  // DCQCN's congestion-point (RED) and notification-point settings come with its parameter set; without
  // DCQCN the switches still mark with the paper's RED profile (marks are reported) but nobody sends CNPs.
  const bool dcqcn = spec.cc.rfind("dcqcn", 0) == 0;
  if (!dcqcn && spec.cc != "none")
    throw std::invalid_argument("cc: '" + spec.cc + "' is not none or dcqcn[:key=value,...]");
  cc::DcqcnParams dp = dcqcn ? cc::parse_dcqcn(spec.cc) : cc::dcqcn_paper();
  cfg.ecn.kmin_bytes = dp.red.kmin_bytes;
  cfg.ecn.kmax_bytes = dp.red.kmax_bytes;
  cfg.ecn.pmax = dp.red.pmax;
  const std::string cc_spec = spec.cc;
  s.factory = [cc_spec](double line) { return cc::make_controller(cc_spec, line); };
  s.factory(tree.host_bps());  // surfaces a bad cc spec before any work
  s.cnp_interval = dcqcn ? dp.cnp_interval : 0;

  if (spec.hosts != "paced" && spec.hosts != "rc")
    throw std::invalid_argument("hosts: '" + spec.hosts + "' is not paced or rc");
  const StackKind stack_kind = spec.hosts == "rc" ? StackKind::rc : StackKind::paced;
  // Refuse before building the flow list: on a big tree the list alone can exhaust memory.
  s.what = "the emulation of " + std::to_string(tree.hosts()) + " hosts and " +
                           std::to_string(tree.switches()) + " switches";
  // With counters: the fabric's, the report's and, across partitions, the reduced set.
  const unsigned counter_copies = !spec.counters ? 0 : spec.partitions > 1 || spec.comm ? 3 : 2;
  auto estimate = [&](uint64_t flows) {
    return estimate_memory(tree, cfg, stack_kind, flows) + estimate_counter_memory(tree, flows, counter_copies);
  };
  const std::string& what = s.what;
  if (spec.memory_limit.bytes) {
    const uint64_t n = traffic_flow_count(spec.traffic, tree);
    spec.memory_limit.check(estimate(n), what + " with " + std::to_string(n) + " flows (" + spec.hosts + " hosts)");
  }
  s.flows = make_traffic(spec.traffic, tree, spec.seed);
  const std::vector<FlowSpec>& flows = s.flows;
  const uint64_t memory_estimate = estimate(flows.size());
  if (spec.memory_limit.bytes)
    spec.memory_limit.check(memory_estimate,
                            what + " with " + std::to_string(flows.size()) + " flows (" + spec.hosts + " hosts)");
  Report& r = s.report;
  r.memory_estimate = memory_estimate;
  r.topology = tree.describe();
  r.hosts = tree.hosts();
  r.flows = flows.size();
  {
    std::vector<bool> sends(tree.hosts(), false);
    for (const FlowSpec& f : flows) sends[f.src] = true;
    r.sending_hosts = uint32_t(std::count(sends.begin(), sends.end(), true));
  }
  return s;
}

Report run_scenario(const ScenarioSpec& spec, const std::function<void(double)>& progress) {
  if (spec.partitions > 1 || spec.comm) return run_partitioned_scenario(spec, progress);
  if (spec.engine == "flow") return run_flow_scenario(spec, progress);
  if (spec.engine != "packet") throw std::invalid_argument("engine: '" + spec.engine + "' is not packet or flow");
  PacketScenario setup = prepare_packet_scenario(spec);
  const topo::FatTree& tree = setup.tree;
  const EmuConfig& cfg = setup.cfg;
  const std::string& what = setup.what;
  const uint64_t memory_estimate = setup.report.memory_estimate;
  Report r = std::move(setup.report);

  double cpu0 = process_cpu_seconds();
  auto wall0 = std::chrono::steady_clock::now();
  std::unique_ptr<FlowStack> stack_ptr;
  if (spec.hosts == "paced") {
    stack_ptr = std::make_unique<PacedFlowStack>(tree, cfg, std::move(setup.flows), setup.factory, setup.cnp_interval);
  } else if (spec.hosts == "rc") {
    stack_ptr = std::make_unique<RcHostStack>(tree, cfg, std::move(setup.flows), setup.factory, setup.cnp_interval);
  }
  FlowStack& stack = *stack_ptr;
  Fabric fabric(tree, cfg, stack);
  if (spec.counters) fabric.enable_counters(stack.flow_count());
  // Called every 2^18 events: cheap enough to read the resident set, often enough to stop a run long
  // before it takes the machine's memory.
  if (progress || spec.memory_limit.bytes || spec.max_events) {
    fabric.set_progress([&](Picos now) {
      if (spec.memory_limit.bytes) {
        const uint64_t rss = current_rss_bytes();
        if (rss > spec.memory_limit.bytes)
          throw ResourceError(what + ": stopped at " + format_number(double(now) / 1e6) + " us simulated: resident memory " +
                              human_bytes(rss) + " exceeds the memory limit of " + human_bytes(spec.memory_limit.bytes) +
                              " (" + spec.memory_limit.source + "); packets in flight grew beyond the estimate of " +
                              human_bytes(memory_estimate));
      }
      if (spec.max_events && fabric.stats().events > spec.max_events)
        throw ResourceError(what + ": stopped at " + format_number(double(now) / 1e6) + " us simulated after " +
                            std::to_string(fabric.stats().events) + " events, more than the limit of " +
                            std::to_string(spec.max_events) + " (--max-events)");
      if (progress) progress(double(now) / double(spec.duration));
    });
  }
  uint64_t delivered_at_warmup = 0;
  double offered_at_warmup = 0;
  // Run in steps: to the warm-up's end (to read what was delivered by then) and to every sample time.
  std::vector<Picos> sample_times;
  for (uint32_t i = 1; i <= spec.samples; ++i)
    sample_times.push_back(Picos(double(spec.duration) * i / spec.samples));
  std::vector<Picos> stops = sample_times;
  if (spec.warmup > 0) stops.push_back(spec.warmup);
  stops.push_back(spec.duration);
  std::sort(stops.begin(), stops.end());
  stops.erase(std::unique(stops.begin(), stops.end()), stops.end());
  std::optional<TimelineRecorder> recorder;
  if (spec.samples) {
    recorder.emplace(tree);
    r.timeline.push_back(recorder->sample(fabric, stack.stats()));
    if (spec.counters && spec.on_counters) spec.on_counters(0, fabric.counters());
    r.class_links = recorder->links();
    r.class_bps = recorder->link_bps();
  }
  for (Picos t : stops) {
    fabric.run_until(t);
    if (t == spec.warmup) {
      delivered_at_warmup = stack.stats().payload_delivered;
      offered_at_warmup = stack.offered_bits(spec.warmup);
    }
    if (recorder && std::binary_search(sample_times.begin(), sample_times.end(), t)) {
      r.timeline.push_back(recorder->sample(fabric, stack.stats()));
      if (spec.counters && spec.on_counters) spec.on_counters(t, fabric.counters());
    }
  }
  r.cpu_seconds = process_cpu_seconds() - cpu0;
  r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();

  RunTotals totals;
  totals.fabric = fabric.stats();
  totals.stack = stack.stats();
  totals.delivered_at_warmup = delivered_at_warmup;
  totals.offered_at_warmup = offered_at_warmup;
  totals.offered = stack.offered_bits(spec.duration);
  totals.retransmits = stack.retransmits();
  totals.fct = stack.completion_times();
  for (uint32_t f = 0; f < stack.flow_count(); ++f)
    if (Picos d = stack.flow_done(f); d != kNeverPs) totals.last_done = std::max(totals.last_done, d);
  fill_report(r, spec, setup, std::move(totals));
  r.peak_rss_bytes = peak_rss_bytes();
  if (spec.counters) r.counters = fabric.counters();
  return r;
}

void fill_report(Report& r, const ScenarioSpec& spec, const PacketScenario& setup, RunTotals t) {
  const FabricStats& fs = t.fabric;
  const StackStats& ss = t.stack;
  const EmuConfig& cfg = setup.cfg;
  r.simulated = spec.duration;
  r.flows_completed = ss.flows_completed;
  r.payload_delivered = ss.payload_delivered;
  r.offered_bits = t.offered;
  const double offered_measured = r.offered_bits - t.offered_at_warmup;
  r.throughput = offered_measured > 0 ? double(r.payload_delivered - t.delivered_at_warmup) * 8.0 / offered_measured : 0;
  r.warmup = spec.warmup;
  r.goodput_ceiling = double(cfg.mtu) / double(cfg.mtu + cfg.header_bytes + cfg.framing_bytes);
  r.drops = fs.drops;
  r.unroutable = fs.unroutable;
  r.failed_links = setup.failures.links;
  r.failed_switches = setup.failures.switches;
  r.packets_sent = fs.packets_sent;
  r.packets_delivered = fs.packets_delivered;
  r.pfc_pauses = fs.pfc_pauses;
  r.ecn_marks = fs.ecn_marks;
  r.cnps = ss.cnps_sent;
  r.retransmits = t.retransmits;
  std::vector<Picos>& fct = t.fct;
  if (spec.samples) r.completion_times = fct;
  r.fct_p50 = percentile(fct, 50);
  r.fct_p99 = percentile(fct, 99);
  r.fct_max = fct.empty() ? 0 : fct.back();
  r.last_done = t.last_done;
  r.max_queue_bytes = fs.max_queue_bytes;
  r.events = fs.events;
  r.events_per_second = r.cpu_seconds > 0 ? double(r.events) / r.cpu_seconds : 0;
}

}  // namespace rfab::emu
