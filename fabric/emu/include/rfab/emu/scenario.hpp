// One emulation run from spec strings, as `rfab emulate` and bench_emu take them, and its report.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "rfab/base/memory_limit.hpp"
#include "rfab/emu/config.hpp"
#include "rfab/emu/event_queue.hpp"
#include "rfab/emu/fabric_counters.hpp"
#include "rfab/emu/step_breakdown.hpp"
#include "rfab/emu/timeline.hpp"

namespace rfab::emu {

class PartitionComm;

struct ScenarioSpec {
  std::string topology = "fat-tree:k=16,tiers=3,speed=400G";
  std::string traffic = "permutation:bytes=2M";
  std::string cc = "none";  // "none" | "dcqcn[:k=v,...]" (rfab::cc::make_controller)
  Routing routing = Routing::ecmp;
  ArView ar_view = ArView::local;  // with Routing::ar
  uint64_t ar_quantum_bytes = 0;   // with Routing::ar; 0 = EmuConfig's default
  uint32_t ar_choices = 2;         // with ArView::path (EmuConfig::ar_choices)
  std::string failures;            // failed links and switches (failures.hpp); empty: none
  bool pfc = true;
  Picos duration = 500'000'000;  // 500 us
  // Throughput is measured over (warmup, duration]: what the hosts offered and what was delivered after
  // the start-up transient (queues filling, the first PFC and CC reactions). 0 = the whole run.
  Picos warmup = 0;
  uint64_t seed = 1;
  uint32_t mtu = 4096;
  uint64_t buffer_bytes = 0;  // per switch; 0 = EmuConfig default
  // Host stack: "paced" (PacedFlowStack, scales to 100k hosts) or "rc" (the rc/ queue-pair engine).
  std::string hosts = "paced";
  uint32_t spray = 0;  // NIC-side spraying over this many UDP source ports (EmuConfig::spray_paths)
  bool spray_cover = false;  // the spray's entropies one per distinct path (EmuConfig::spray_cover)
  bool adaptive = false;  // the spray steered by path feedback (rc hosts: EntropyPolicy::Kind::adaptive)
  // Refuse a run whose set-up estimate (budget.hpp) exceeds this, and stop one whose resident memory grows
  // past it; bytes == 0: no limit (library callers such as bench_emu that size their own runs).
  MemoryLimit memory_limit;
  uint64_t max_events = 0;  // stop with an error after this many events; 0: no limit
  bool counters = false;    // keep per-port and per-flow counters (Report::counters)
  uint32_t samples = 0;     // sample the run this many times, evenly (Report::timeline); 0: not at all
  // With counters and samples: called with the counters so far at time 0 and at every sample (a live
  // exposition of the run, e.g. Prometheus).
  std::function<void(Picos, const FabricCounters&)> on_counters;
  // "packet" (the discrete-event fabric) or "flow" (flow_engine.hpp: max-min fair fluid flows over the same
  // paths; lossless, no queues or congestion control).
  std::string engine = "packet";
  // Split the packet-level fabric by pods into this many parts that run side by side, each on a thread of
  // this process (partition.hpp); results are those of the single-queue run. 1: one queue, no split.
  uint32_t partitions = 1;
  // Run as one part of a fabric split over processes (MPI ranks, partition_comm.hpp): every process calls
  // run_scenario with the same spec and its own comm, and every one gets the whole run's report.
  PartitionComm* comm = nullptr;
  // Flow engine: every fabric link's capacity times this (EmuConfig::link_efficiency), in (0, 1].
  double link_efficiency = 1;
  // Flow engine: the run is calibrated (flow_calibration.hpp) by a packet-level sample that modelled the
  // congestion control and the AR view, so it takes --cc and ar:view= instead of refusing them.
  bool calibrated = false;
};

struct Report {
  std::string topology;  // FatTree::describe()
  uint32_t hosts = 0;
  uint32_t sending_hosts = 0;   // hosts that are the source of at least one flow
  uint64_t flows = 0, flows_completed = 0;
  Picos simulated = 0;
  uint64_t payload_delivered = 0;
  double offered_bits = 0;
  double throughput = 0;        // delivered payload / offered line rate, after the warm-up
  Picos warmup = 0;             // ScenarioSpec::warmup
  double goodput_ceiling = 0;   // payload / (payload + headers + preamble/IFG) for a full packet
  uint64_t drops = 0, pfc_pauses = 0, ecn_marks = 0, cnps = 0;
  uint64_t unroutable = 0;      // of the drops: no way left to the destination (failed links)
  uint32_t failed_links = 0, failed_switches = 0;
  uint64_t packets_sent = 0, packets_delivered = 0;  // by the hosts' NICs / to the hosts (data and control)
  uint64_t retransmits = 0;     // always 0 with the paced stack, which does not retransmit
  Picos fct_p50 = 0, fct_p99 = 0, fct_max = 0;
  Picos last_done = 0;          // when the last completed flow completed (a step's time when all did)
  uint64_t max_queue_bytes = 0;
  uint64_t events = 0;
  uint64_t refills = 0, refilled_flows = 0;  // flow engine: rate recomputations, and the flows they covered
  double cpu_seconds = 0, wall_seconds = 0;
  double events_per_second = 0;  // per CPU second
  uint64_t peak_rss_bytes = 0;
  uint64_t memory_estimate = 0;  // estimate_memory() of the run, before it started
  FabricCounters counters;       // empty unless ScenarioSpec::counters
  // With ScenarioSpec::samples: the run over time (a sample at 0 and one per interval), the links of each
  // class and their rate, and every completed flow's completion time.
  std::vector<TimelineSample> timeline;
  std::array<uint32_t, kLinkClasses> class_links{};
  std::array<double, kLinkClasses> class_bps{};
  std::vector<Picos> completion_times;
  // Flow engine, step traffic whose every flow completed: the critical path by phase.
  StepBreakdown step;
};

// Throws topo::TopologyError, TrafficError or std::invalid_argument (cc) with a message naming the problem,
// and ResourceError when the run does not fit spec.memory_limit or spec.max_events.
// `progress` (may be empty) is called with the fraction of simulated time done.
Report run_scenario(const ScenarioSpec& spec, const std::function<void(double)>& progress = {});
// The packet-level engine split into parts (ScenarioSpec::partitions or ::comm; run_scenario calls it).
// Throws std::invalid_argument naming what a partitioned run cannot do: rc hosts, ar:view=path, flows
// that start when another completes, timeline samples.
Report run_partitioned_scenario(const ScenarioSpec& spec, const std::function<void(double)>& progress = {});
// The same with the flow-level engine (run_scenario calls it for engine "flow").
Report run_flow_scenario(const ScenarioSpec& spec, const std::function<void(double)>& progress = {});

// Nearest-rank percentile of `v` (sorted in place); 0 for empty input.
Picos percentile(std::vector<Picos>& v, double p);
uint64_t peak_rss_bytes();  // VmHWM of this process
uint64_t current_rss_bytes();  // resident memory of this process now
double process_cpu_seconds();

}  // namespace rfab::emu
