// run_scenario with the packet-level fabric split into parts (partition.hpp): every part runs this same
// code on its own thread or process (SPMD) and they meet at every window's end (partition_comm.hpp).
#include <time.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>

#include "packet_scenario.hpp"
#include "rfab/base/memory_limit.hpp"
#include "rfab/base/units.hpp"
#include "rfab/emu/flow_list.hpp"
#include "rfab/emu/partition.hpp"
#include "rfab/emu/partition_comm.hpp"

namespace rfab::emu {
namespace {

using Op = PartitionComm::Op;

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// What a partitioned run cannot do, named by the option that asks for it. Every part checks the same spec,
// so every part refuses it alike before any of them waits for another.
void check_partitionable(const ScenarioSpec& spec, const PacketScenario& setup) {
  if (spec.hosts != "paced")
    throw std::invalid_argument("hosts: '" + spec.hosts + "' does not run partitioned; a partitioned run has paced hosts "
                                "(the rc engine's queue pairs span both ends of a flow)");
  if (setup.cfg.routing == Routing::ar && setup.cfg.ar_view == ArView::path)
    throw std::invalid_argument("routing: ar:view=path reads the queues of switches in other parts without delay, "
                                "which a partitioned run cannot; use ar (view=local), ecmp or flowlet");
  if (spec.samples || spec.on_counters)
    throw std::invalid_argument("samples: a partitioned run keeps no timeline (the HTML report, the live Prometheus "
                                "exposition); run those in one part");
  if (!flow_dependents(setup.flows).empty())
    throw std::invalid_argument("traffic: '" + spec.traffic + "' has flows that start when another completes, "
                                "which a partitioned run does not carry between parts; run it in one part");
}

// Limits and progress, looked at every so many windows from totals every part agrees on, so that every part
// stops at the same window with the same error (a part that stopped alone would leave the others waiting).
class RunWatch {
 public:
  RunWatch(const ScenarioSpec& spec, const PacketScenario& setup, PartitionComm& comm,
           const std::function<void(double)>& progress)
      : spec_(spec), setup_(setup), comm_(comm), progress_(progress) {}

  void window_done(const Fabric& fabric) {
    if (++windows_ % kEvery) return;
    if (!spec_.memory_limit.bytes && !spec_.max_events && !progress_) return;
    std::vector<uint64_t> events{fabric.stats().events}, rss{current_rss_bytes()};
    comm_.reduce(events, Op::sum);
    comm_.reduce(rss, comm_.separate_processes() ? Op::sum : Op::max);  // threads share one resident set
    const std::vector<uint64_t> v{events[0], rss[0]};
    const Picos now = fabric.now();
    if (spec_.memory_limit.bytes && v[1] > spec_.memory_limit.bytes)
      throw ResourceError(setup_.what + ": stopped at " + format_number(double(now) / 1e6) + " us simulated: resident memory " +
                          human_bytes(v[1]) + " over all parts exceeds the memory limit of " +
                          human_bytes(spec_.memory_limit.bytes) + " (" + spec_.memory_limit.source + ")");
    if (spec_.max_events && v[0] > spec_.max_events)
      throw ResourceError(setup_.what + ": stopped at " + format_number(double(now) / 1e6) + " us simulated after " +
                          std::to_string(v[0]) + " events, more than the limit of " + std::to_string(spec_.max_events) +
                          " (--max-events)");
    if (progress_ && comm_.rank() == 0) progress_(double(now) / double(spec_.duration));
  }

 private:
  static constexpr uint64_t kEvery = 256;
  const ScenarioSpec& spec_;
  const PacketScenario& setup_;
  PartitionComm& comm_;
  const std::function<void(double)>& progress_;
  uint64_t windows_ = 0;
};

// Runs every part's events up to and including `until`, window by window: all parts agree on the earliest
// pending event T, run everything before T + lookahead, and hand over what crossed parts.
void advance(Fabric& fabric, Partition& part, PartitionComm& comm, RunWatch& watch, Picos until) {
  for (;;) {
    std::vector<uint64_t> next{fabric.next_event_time()};
    comm.reduce(next, Op::min);
    if (next[0] == kNeverPs || next[0] > until) break;
    const Picos end = std::min(next[0] + part.lookahead(), until + 1);  // the first time not in this window
    fabric.run_until(end - 1);
    for (const RemoteEvent& e : comm.exchange(part.take_outbox())) fabric.inject(e);
    watch.window_done(fabric);
  }
  fabric.run_until(until);  // nothing is left at or before `until`: this moves the clock
}

// The per-port and per-flow counters of all parts together: each event counted in the part that ran it.
void reduce_counters(FabricCounters& c, PartitionComm& comm) {
  std::vector<uint64_t> v;
  v.reserve(c.ports.size() * 7 + c.flows.size() * 7);
  for (const PortCounters& p : c.ports)
    v.insert(v.end(), {p.packets, p.bytes, p.drops, p.ecn_marks, p.pfc_pauses, p.rx_packets, p.rx_bytes});
  for (const FlowCounters& f : c.flows)
    v.insert(v.end(), {f.packets_sent, f.bytes_sent, f.packets_delivered, f.bytes_delivered, f.ce_delivered, f.drops,
                       f.cnps_delivered});
  comm.reduce(v, Op::sum);
  size_t i = 0;
  for (PortCounters& p : c.ports)
    for (uint64_t* x : {&p.packets, &p.bytes, &p.drops, &p.ecn_marks, &p.pfc_pauses, &p.rx_packets, &p.rx_bytes}) *x = v[i++];
  for (FlowCounters& f : c.flows)
    for (uint64_t* x : {&f.packets_sent, &f.bytes_sent, &f.packets_delivered, &f.bytes_delivered, &f.ce_delivered,
                        &f.drops, &f.cnps_delivered})
      *x = v[i++];
  // A flow's src/dst are set by its first packet, in the part of its sender.
  std::vector<uint64_t> seen;
  seen.reserve(c.flows.size());
  for (const FlowCounters& f : c.flows) seen.push_back(f.seen ? (uint64_t{f.src} << 32 | f.dst) + 1 : 0);
  comm.reduce(seen, Op::max);
  for (size_t f = 0; f < c.flows.size(); ++f) {
    c.flows[f].seen = seen[f] != 0;
    if (seen[f]) {
      c.flows[f].src = uint32_t((seen[f] - 1) >> 32);
      c.flows[f].dst = uint32_t(seen[f] - 1);
    }
  }
}

// A flow's start (the same in every part: partitioned runs have no flows that wait for others) and its
// completion (in its receiver's part), the record flow_list.hpp computes FCTs and offered load from.
struct FlowTimes {
  FlowSpec spec;
  Picos started = kNeverPs, done = kNeverPs;
};

Report run_part(const ScenarioSpec& spec, PartitionComm& comm, const std::function<void(double)>& progress) {
  PacketScenario setup = prepare_packet_scenario(spec);
  check_partitionable(spec, setup);
  Partition part(setup.tree, comm.size(), comm.rank());
  Report r = setup.report;
  const double cpu0 = thread_cpu_seconds();
  const auto wall0 = std::chrono::steady_clock::now();
  const std::vector<FlowSpec> specs = setup.flows;
  PacedFlowStack stack(setup.tree, setup.cfg, std::move(setup.flows), setup.factory, setup.cnp_interval);
  Fabric fabric(setup.tree, setup.cfg, stack, &part);
  if (spec.counters) fabric.enable_counters(stack.flow_count());
  RunWatch watch(spec, setup, comm, progress);

  uint64_t delivered_at_warmup = 0;
  if (spec.warmup > 0) {
    advance(fabric, part, comm, watch, spec.warmup);
    delivered_at_warmup = stack.stats().payload_delivered;
  }
  advance(fabric, part, comm, watch, spec.duration);
  const double cpu = thread_cpu_seconds() - cpu0;
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();

  const FabricStats& fs = fabric.stats();
  const StackStats& ss = stack.stats();
  std::vector<uint64_t> sums{fs.events,          fs.packets_sent,     fs.packets_delivered, fs.drops,
                             fs.unroutable,      fs.pfc_pauses,       fs.pfc_resumes,       fs.ecn_marks,
                             ss.payload_sent,    ss.payload_delivered, ss.cnps_sent,        ss.cnps_received,
                             ss.flows_completed, delivered_at_warmup, uint64_t(cpu * 1e9)};
  comm.reduce(sums, Op::sum);
  std::vector<uint64_t> maxes{fs.max_queue_bytes, uint64_t(wall * 1e9)};
  comm.reduce(maxes, Op::max);
  std::vector<uint64_t> rss{peak_rss_bytes()};
  comm.reduce(rss, comm.separate_processes() ? Op::sum : Op::max);
  std::vector<uint64_t> done(stack.flow_count());
  for (uint32_t f = 0; f < done.size(); ++f) done[f] = stack.flow_done(f);
  comm.reduce(done, Op::min);
  if (spec.counters) {
    FabricCounters c = fabric.counters();
    reduce_counters(c, comm);
    r.counters = std::move(c);
  }

  RunTotals t;
  size_t i = 0;
  for (uint64_t* x : {&t.fabric.events, &t.fabric.packets_sent, &t.fabric.packets_delivered, &t.fabric.drops,
                      &t.fabric.unroutable, &t.fabric.pfc_pauses, &t.fabric.pfc_resumes, &t.fabric.ecn_marks,
                      &t.stack.payload_sent, &t.stack.payload_delivered, &t.stack.cnps_sent, &t.stack.cnps_received,
                      &t.stack.flows_completed, &t.delivered_at_warmup})
    *x = sums[i++];
  t.fabric.max_queue_bytes = maxes[0];
  std::vector<FlowTimes> flows(specs.size());
  for (uint32_t f = 0; f < flows.size(); ++f) flows[f] = {specs[f], stack.flow_started(f), done[f]};
  const uint32_t hosts = setup.tree.hosts();
  const double bps = setup.tree.host_bps();
  if (spec.warmup > 0) t.offered_at_warmup = emu::offered_bits(flows, hosts, bps, spec.warmup);
  t.offered = emu::offered_bits(flows, hosts, bps, spec.duration);
  t.fct = emu::completion_times(flows);
  for (const FlowTimes& f : flows)
    if (f.done != kNeverPs) t.last_done = std::max(t.last_done, f.done);
  r.cpu_seconds = double(sums[14]) * 1e-9;
  r.wall_seconds = double(maxes[1]) * 1e-9;
  fill_report(r, spec, setup, std::move(t));
  r.peak_rss_bytes = rss[0];
  return r;
}

}  // namespace

Report run_partitioned_scenario(const ScenarioSpec& spec, const std::function<void(double)>& progress) {
  if (spec.engine != "packet")
    throw std::invalid_argument("engine: '" + spec.engine + "' does not run partitioned; only the packet engine does");
  if (spec.comm) return run_part(spec, *spec.comm, progress);
  if (spec.partitions == 0) throw std::invalid_argument("partitions: must be at least 1");
  std::vector<Report> reports(spec.partitions);
  run_on_threads(spec.partitions, [&](PartitionComm& comm) { reports[comm.rank()] = run_part(spec, comm, progress); });
  return std::move(reports[0]);
}

}  // namespace rfab::emu
