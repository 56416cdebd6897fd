// rfab emulate: packet-level emulation of a fat-tree fabric (ECMP / adaptive / flowlet routing, PFC, ECN,
// DCQCN) in virtual time, or flow-level (--engine flow: max-min fair fluid flows over the same paths).
// Prints throughput, loss, PFC/ECN/CNP counts, FCTs and emulator speed.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "checked_options.hpp"
#include "commands.hpp"
#include "emu_records.hpp"
#include "rfab/emu/scenario.hpp"
#include "rfab/emu/traffic.hpp"
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
  std::string buffer;
  std::string hosts = "paced";
  std::string engine = "packet";
  uint64_t seed = 1;
  uint32_t mtu = 4096;
  uint32_t spray = 0;
  bool adaptive = false;
  uint64_t max_memory = 0;  // 0: MemoryLimit::default_limit()
  uint64_t max_events = 0;  // 0: none
  bool json = false;
  bool quiet = false;
  std::string telemetry;  // records file (emu_records.hpp); empty: none
};

// The run's counters as the collector's records; a file that cannot be written fails the run.
void write_telemetry(const EmulateOptions& o, const emu::Report& r) {
  std::ofstream f(o.telemetry, std::ios::trunc);
  if (!f) throw ExitError{2, "cannot open --telemetry '" + o.telemetry + "' for writing: " + std::strerror(errno)};
  topo::FatTree tree(topo::parse_fat_tree(o.topo));
  write_emulator_records(f, tree, r.counters, r.simulated);
  f.close();
  if (!f) throw ExitError{1, "--telemetry '" + o.telemetry + "': write failed: " + std::strerror(errno)};
}

double us(emu::Picos p) { return double(p) / 1e6; }

void print_text(const EmulateOptions& o, const emu::Report& r) {
  std::printf("topology    %s\n", r.topology.c_str());
  std::printf("scenario    traffic %s (%llu flows), routing %s, cc %s, pfc %s, hosts %s, engine %s", o.traffic.c_str(),
              (unsigned long long)r.flows, o.routing.c_str(), o.cc.c_str(), o.pfc.c_str(), o.hosts.c_str(),
              o.engine.c_str());
  if (o.spray > 1) std::printf(" %sspraying over %u ports", o.adaptive ? "adaptive " : "", o.spray);
  std::printf(", %.1f us simulated, seed %llu\n", us(r.simulated), (unsigned long long)o.seed);
  std::printf("throughput  %.4f of offered line rate (delivered payload %.3f GB; header ceiling %.4f)\n",
              r.throughput, double(r.payload_delivered) / 1e9, r.goodput_ceiling);
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
  std::printf("max queue   %.1f KiB\n", double(r.max_queue_bytes) / 1024.0);
  std::printf("emulator    %llu events in %.2f CPU-s (%.2f M events/s), wall %.2f s, peak RSS %.1f MiB\n",
              (unsigned long long)r.events, r.cpu_seconds, r.events_per_second / 1e6, r.wall_seconds,
              double(r.peak_rss_bytes) / (1024.0 * 1024.0));
}

void print_json(const EmulateOptions& o, const emu::Report& r) {
  nlohmann::json j = {
      {"topology", r.topology},       {"topo_spec", o.topo},
      {"traffic", o.traffic},         {"routing", o.routing},
      {"cc", o.cc},                   {"pfc", o.pfc == "on"},
      {"seed", o.seed},               {"hosts", r.hosts},
      {"flows", r.flows},             {"flows_completed", r.flows_completed},
      {"simulated_us", us(r.simulated)},
      {"throughput", r.throughput},   {"goodput_ceiling", r.goodput_ceiling},
      {"payload_delivered_bytes", r.payload_delivered},
      {"drops", r.drops},             {"pfc_pauses", r.pfc_pauses},
      {"ecn_marks", r.ecn_marks},     {"cnps", r.cnps},
      {"hosts_stack", o.hosts},       {"retransmits", r.retransmits},
      {"spray", o.spray},
      {"adaptive", o.adaptive},
      {"fct_us", {{"p50", us(r.fct_p50)}, {"p99", us(r.fct_p99)}, {"max", us(r.fct_max)}}},
      {"engine", o.engine},           {"last_done_us", us(r.last_done)},
      {"refills", r.refills},         {"refilled_flows", r.refilled_flows},
      {"max_queue_bytes", r.max_queue_bytes},
      {"events", r.events},           {"events_per_second", r.events_per_second},
      {"cpu_seconds", r.cpu_seconds}, {"wall_seconds", r.wall_seconds},
      {"peak_rss_bytes", r.peak_rss_bytes},
      {"memory_estimate_bytes", r.memory_estimate}};
  std::cout << j.dump() << "\n";
}

void run_emulate(const EmulateOptions& o) {
  emu::ScenarioSpec s;
  s.topology = o.topo;
  s.traffic = o.traffic;
  s.cc = o.cc;
  s.seed = o.seed;
  s.mtu = o.mtu;
  s.hosts = o.hosts;
  s.engine = o.engine;
  s.spray = o.spray;
  s.adaptive = o.adaptive;
  s.memory_limit = MemoryLimit::from_flag(o.max_memory, "--max-memory");
  s.max_events = o.max_events;
  s.counters = !o.telemetry.empty();
  if (o.pfc != "on" && o.pfc != "off") throw ExitError{2, "--pfc: '" + o.pfc + "' must be on or off"};
  s.pfc = o.pfc == "on";
  emu::Report r;
  try {
    s.routing = emu::parse_routing(o.routing);
    s.duration = parse_duration_ps(o.time, "--time");
    if (!o.buffer.empty()) s.buffer_bytes = parse_size(o.buffer, "--buffer");
    const bool bar = !o.quiet && isatty(STDERR_FILENO);
    int shown = -1;
    auto progress = [&](double f) {
      int pct = int(f * 100.0);
      if (pct == shown || pct > 100) return;
      shown = pct;
      int w = pct * 40 / 100;
      std::fprintf(stderr, "\r[%.*s%*s] %3d%%", w, "########################################", 40 - w, "", pct);
      std::fflush(stderr);
    };
    r = emu::run_scenario(s, bar ? std::function<void(double)>(progress) : std::function<void(double)>());
    if (bar) std::fprintf(stderr, "\r%*s\r", 48, "");
  } catch (const topo::TopologyError& e) {
    throw ExitError{2, e.what()};
  } catch (const emu::TrafficError& e) {
    throw ExitError{2, e.what()};
  } catch (const std::invalid_argument& e) {  // ParseError, ResourceError, bad cc/routing/hosts
    throw ExitError{2, e.what()};
  }
  if (!o.telemetry.empty()) write_telemetry(o, r);
  if (o.json)
    print_json(o, r);
  else
    print_text(o, r);
}

}  // namespace

void add_emulate(CLI::App& app) {
  auto o = std::make_shared<EmulateOptions>();
  auto* sub = app.add_subcommand("emulate", "Packet-level emulation of a fat-tree RoCE fabric in virtual time");
  sub->add_option("--topo", o->topo,
                  "fat-tree:k=16,tiers=3,speed=400G (keys: k tiers hosts speed host-speed switch oversub rails latency)")
      ->capture_default_str();
  sub->add_option("--routing", o->routing, "ecmp | ar (per-packet adaptive) | flowlet (in the switches)")->capture_default_str();
  sub->add_option("--cc", o->cc, "none | dcqcn[:preset=paper|connectx,key=value,...]")->capture_default_str();
  sub->add_option("--pfc", o->pfc, "on (lossless) | off (lossy, tail drop)")->capture_default_str();
  sub->add_option("--traffic", o->traffic,
                  "permutation:bytes=2M | all-to-all:bytes=64K | incast:n=8,bytes=1M | ring:bytes=64M | file:PATH | "
                  "step:allreduce=ring|rhd|rd|tree|hier,bytes=1G[,inter=ALGO,gpus-per-server=G] | "
                  "step:alltoall=pairwise,bytes=B (steps: the collective library's schedule; --engine flow)")
      ->capture_default_str();
  add_duration(sub, "--time", o->time, "simulated time (e.g. 500us, 2ms)", 1, 60'000'000'000)->capture_default_str();
  add_integer(sub, "--seed", o->seed, "seed (traffic, hashing, marking)", 0, UINT64_MAX)->capture_default_str();
  add_integer(sub, "--spray", o->spray,
              "NIC-side per-packet spraying: each flow rotates over N UDP source ports (entropies) that ECMP "
              "switches hash onto different paths (0 = one port per flow; at most 256)",
              0, 256)
      ->capture_default_str();
  sub->add_flag("--adaptive", o->adaptive,
                "with --spray N and --hosts rc: the NIC steers its spray away from ports that draw CNPs, NAKs or "
                "long round trips (the rc engine's adaptive policy)");
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
  sub->add_option("--telemetry", o->telemetry,
                  "write per-flow (QP) and per-link records to this file in the JSON lines of `rfab collect "
                  "--json` (gate them with `rfab validate --from FILE`)");
  sub->callback([o] { run_emulate(*o); });
}

}  // namespace rfab::cli
