// run_flow_scenario: the scenario runner for the flow-level engine. It reads the same spec strings as the
// packet-level runner and fills the same Report, leaving at 0 what a fluid model has no notion of (drops,
// PFC pauses, ECN marks, CNPs, queue depth).
#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "rfab/base/units.hpp"
#include "rfab/emu/budget.hpp"
#include "rfab/emu/flow_engine.hpp"
#include "rfab/emu/scenario.hpp"
#include "rfab/emu/timeline.hpp"
#include "rfab/emu/traffic.hpp"
#include "rfab/topology/fat_tree.hpp"
#include "rfab/topology/spec.hpp"

namespace rfab::emu {
namespace {

// What the flow engine keeps: per flow its record, ~6 link entries per plane and heap entries; per link
// (every plane's) its capacity, scratch and active-flow list.
// With counters, the set the engine builds from that state (moved into the report).
uint64_t flow_engine_estimate(const topo::FatTree& tree, uint64_t flows, bool counters) {
  const uint64_t planes = tree.planes();
  return (16ull << 20) + flows * (320 + (planes - 1) * 112) + uint64_t(tree.ports()) * planes * 64 +
         estimate_counter_memory(tree, flows, counters ? 1 : 0);
}

}  // namespace

Report run_flow_scenario(const ScenarioSpec& spec, const std::function<void(double)>& progress) {
  topo::FatTree tree(topo::parse_fat_tree(spec.topology));
  // The fluid model has no queues, pauses, marks or congestion control: refuse what it would ignore
  // rather than print figures that look as if it modelled them.
  // A calibrated run's sample modelled the congestion control and the AR view; its efficiency carries them.
  if (spec.cc != "none" && !spec.calibrated)
    throw std::invalid_argument("engine flow: models no congestion control; use --cc none or --engine packet");
  if (!spec.pfc) throw std::invalid_argument("engine flow: models a lossless fabric; use --pfc on or --engine packet");
  if (spec.hosts != "paced")
    throw std::invalid_argument("engine flow: hosts are fluid flows; --hosts " + spec.hosts + " needs --engine packet");
  if (spec.routing == Routing::flowlet)
    throw std::invalid_argument("engine flow: flowlet routing depends on packet gaps; use ecmp or ar, or --engine packet");
  if (spec.adaptive) throw std::invalid_argument("engine flow: --adaptive steers on packet feedback; use --engine packet");
  if (!spec.failures.empty())
    throw std::invalid_argument("engine flow: failed links are routed around by the packet engine only; use --engine packet");
  if (spec.warmup > 0)
    throw std::invalid_argument("engine flow: fluid flows have no start-up transient to leave out; drop --warmup");
  if (spec.routing == Routing::ar && spec.ar_view != ArView::local && !spec.calibrated)
    throw std::invalid_argument("engine flow: AR is ideal equal splitting there; ar:view= applies to --engine packet");
  if (spec.mtu < 256 || spec.mtu > 9000) throw std::invalid_argument("mtu: " + std::to_string(spec.mtu) + " must be 256..9000");
  if (spec.spray > kMaxSprayPaths)
    throw std::invalid_argument("spray: " + std::to_string(spec.spray) + " paths; must be 0.." + std::to_string(kMaxSprayPaths));
  if (spec.duration == 0) throw std::invalid_argument("time: the simulated time must be > 0");
  if (!(spec.link_efficiency > 0 && spec.link_efficiency <= 1))
    throw std::invalid_argument("link efficiency: " + std::to_string(spec.link_efficiency) + " must be in (0, 1]");
  EmuConfig cfg;
  cfg.link_efficiency = spec.link_efficiency;
  cfg.routing = spec.routing;
  cfg.seed = spec.seed;
  cfg.mtu = spec.mtu;
  cfg.spray_paths = uint16_t(spec.spray);
  if (spec.spray_cover && spec.spray < 2) throw std::invalid_argument("spray-cover: picks a spray's ports; give spray >= 2");
  cfg.spray_cover = spec.spray_cover;

  const std::string what = "the flow-level emulation of " + std::to_string(tree.hosts()) + " hosts";
  if (spec.memory_limit.bytes) {
    const uint64_t n = traffic_flow_count(spec.traffic, tree);
    spec.memory_limit.check(flow_engine_estimate(tree, n, spec.counters), what + " with " + std::to_string(n) + " flows");
  }
  Traffic traffic = make_any_traffic(spec.traffic, tree, spec.seed);
  const uint64_t estimate = flow_engine_estimate(tree, traffic.flows.size(), spec.counters);
  if (spec.memory_limit.bytes)
    spec.memory_limit.check(estimate, what + " with " + std::to_string(traffic.flows.size()) + " flows");
  Report r;
  r.memory_estimate = estimate;
  r.topology = tree.describe();
  r.hosts = tree.hosts();
  r.flows = traffic.flows.size();
  {
    std::vector<bool> sends(tree.hosts(), false);
    for (size_t i = 0; i < traffic.flows.size(); ++i)
      if (!traffic.is_local(i)) sends[traffic.flows[i].src] = true;
    r.sending_hosts = uint32_t(std::count(sends.begin(), sends.end(), true));
  }

  const double cpu0 = process_cpu_seconds();
  const auto wall0 = std::chrono::steady_clock::now();
  FlowEngine engine(tree, cfg, traffic);
  // The engine keeps its own copy; a step's dependencies and phases stay for its breakdown.
  if (traffic.phase_names.empty()) traffic = Traffic{};
  auto check = [&](Picos now) {
    if (spec.memory_limit.bytes) {
      const uint64_t rss = current_rss_bytes();
      if (rss > spec.memory_limit.bytes)
        throw ResourceError(what + ": resident memory " + human_bytes(rss) + " exceeds the memory limit of " +
                            human_bytes(spec.memory_limit.bytes) + " (" + spec.memory_limit.source + ")");
    }
    if (spec.max_events && engine.stats().events > spec.max_events)
      throw ResourceError(what + ": stopped after " + std::to_string(engine.stats().events) +
                          " flow events, more than the limit of " + std::to_string(spec.max_events) + " (--max-events)");
    if (progress) progress(double(now) / double(spec.duration));
  };
  if (spec.samples == 0) {
    engine.run_until(spec.duration, check);
  } else {
    // Sampled between run_until() steps, as the packet engine is; each sample is O(flows x path length).
    const TimelineRecorder recorder(tree);
    r.class_links = recorder.links();
    r.class_bps = recorder.link_bps();
    // Each link's class, from its first port (a bundle's ports are of one class).
    std::vector<uint8_t> link_class(engine.links(), uint8_t(kLinkClasses));
    for (uint32_t l = 0; l < engine.links(); ++l) {
      const std::vector<topo::PortId> ports = engine.link_ports(l);
      if (!ports.empty()) link_class[l] = uint8_t(recorder.class_of(ports.front()));
    }
    std::vector<double> link_bytes;
    auto take = [&](Picos t) {
      engine.link_wire_bytes(link_bytes);
      std::array<double, kLinkClasses> by_class{};
      for (uint32_t l = 0; l < link_bytes.size(); ++l)
        if (link_class[l] < kLinkClasses) by_class[link_class[l]] += link_bytes[l];
      r.timeline.push_back(recorder.sample(t, by_class, engine.payload_delivered(), engine.stats().flows_completed));
      if (spec.counters && spec.on_counters) spec.on_counters(t, engine.counters());
    };
    take(0);
    for (uint32_t i = 1; i <= spec.samples; ++i) {
      const Picos t = Picos(double(spec.duration) * i / spec.samples);
      engine.run_until(t, check);
      take(t);
    }
  }
  r.cpu_seconds = process_cpu_seconds() - cpu0;
  r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();

  r.simulated = spec.duration;
  r.payload_delivered = engine.payload_delivered();
  r.offered_bits = engine.offered_bits(spec.duration);
  r.throughput = r.offered_bits > 0 ? double(r.payload_delivered) * 8.0 / r.offered_bits : 0;
  r.goodput_ceiling = double(cfg.mtu) / double(cfg.mtu + cfg.header_bytes + cfg.framing_bytes);
  std::vector<Picos> fct = engine.completion_times();
  r.flows_completed = fct.size();
  if (spec.samples) r.completion_times = fct;
  for (uint32_t f = 0; f < engine.flow_count(); ++f)
    if (Picos d = engine.flow_done(f); d != kNeverPs && d <= spec.duration) r.last_done = std::max(r.last_done, d);
  r.fct_p50 = percentile(fct, 50);
  r.fct_p99 = percentile(fct, 99);
  r.fct_max = fct.empty() ? 0 : fct.back();
  r.events = engine.stats().events;
  r.refills = engine.stats().refills;
  r.refilled_flows = engine.stats().refilled_flows;
  r.events_per_second = r.cpu_seconds > 0 ? double(r.events) / r.cpu_seconds : 0;
  if (spec.counters) r.counters = engine.counters();
  for (uint32_t f = 0; f < engine.flow_count(); ++f) {
    if (engine.flow_local(f)) continue;
    const uint64_t payload = engine.flow_delivered(f);
    r.packets_sent += (payload + cfg.mtu - 1) / cfg.mtu;
  }
  r.packets_delivered = r.packets_sent;
  if (!traffic.phase_names.empty() && r.flows_completed == r.flows) {
    std::vector<Picos> started(engine.flow_count()), done(engine.flow_count());
    for (uint32_t f = 0; f < engine.flow_count(); ++f) {
      started[f] = engine.flow_started(f);
      done[f] = engine.flow_done(f);
    }
    r.step = step_breakdown(traffic, started, done);
  }
  r.peak_rss_bytes = peak_rss_bytes();
  return r;
}

}  // namespace rfab::emu
