// rfab collect: attach the eBPF RoCE v2 collector to an interface, or read a DPDK port with the same counting
// (--dpdk-args), and export what it counts (live table, JSON lines, Prometheus), until --duration ends or
// SIGINT/SIGTERM; the hook is detached (the port closed) on every exit path.
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>

#include "checked_options.hpp"
#include "hole_timeout_option.hpp"
#include "commands.hpp"
#include "rfab/telemetry/capabilities.hpp"
#include "rfab/telemetry/collector.hpp"
#ifdef RFAB_HAVE_DPDK_COLLECTOR
#include "rfab/telemetry/dpdk_collector.hpp"
#endif
#include "rfab/telemetry/duration.hpp"
#include "rfab/telemetry/events.hpp"
#include "rfab/telemetry/flow_metrics.hpp"
#include "rfab/telemetry/json_lines.hpp"
#include "rfab/telemetry/netdev_stats.hpp"
#include "listen_url.hpp"
#include "rfab/telemetry/prometheus.hpp"
#include "rfab/telemetry/rdma_counters.hpp"
#include "rfab/telemetry/table.hpp"

namespace rfab::cli {
namespace {

namespace tm = rfab::telemetry;
using namespace std::chrono;

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

struct CollectOptions {
  std::string iface;
  std::string hook;
  std::string dpdk_args;  // the DPDK collector instead of the eBPF hook
  uint16_t dpdk_port = 0;
  std::string interval = "1s";
  std::string duration;  // empty: until SIGINT/SIGTERM
  std::string prometheus;
  bool json = false;
  std::string json_file;
  bool events = false;
  uint16_t roce_port = 4791;
  uint32_t flow_map_entries = 16384;
  uint32_t ringbuf_bytes = 256 * 1024;
  uint32_t cnp_burst_threshold = 8;
  std::string cnp_burst_window = "1ms";
  std::string hole_timeout;  // empty: RFAB_TELEMETRY_HOLE_TIMEOUT, else the collector's default
  std::string rdma_sysfs = "/sys/class/infiniband";
};

nanoseconds duration_arg(const std::string& flag, const std::string& v) {
  try {
    return tm::parse_duration(v);
  } catch (const std::invalid_argument& e) {
    throw ExitError{2, flag + ": " + e.what()};
  }
}

// The collector, RNIC counters and netdev statistics of one interval, in the one metrics model.
tm::Metrics gather(const CollectOptions& o, const tm::CollectorSnapshot& s, bool& netdev_warned) {
  tm::Metrics m;
  tm::add_flow_metrics(m, o.iface, s);
  tm::add_rdma_metrics(m, tm::read_rdma_counters(o.rdma_sysfs, o.iface));
  try {
    tm::add_netdev_metrics(m, tm::read_netdev_stats(o.iface));
  } catch (const tm::TelemetryError& e) {
    // The interface may be gone for a moment (down/up, re-created); keep collecting.
    if (!netdev_warned) std::cerr << "rfab collect: netdev statistics unavailable: " << e.what() << "\n";
    netdev_warned = true;
  }
  return m;
}

// The DPDK collector, or ExitError when this rfab has none or the port cannot be opened.
std::unique_ptr<tm::Collector> open_dpdk(const CollectOptions& o, const tm::CollectorConfig& cfg) {
#ifdef RFAB_HAVE_DPDK_COLLECTOR
  tm::DpdkCollectorConfig d;
  d.eal_args = o.dpdk_args;
  d.port = o.dpdk_port;
  d.counting = cfg;
  try {
    return tm::open_dpdk_collector(d);
  } catch (const tm::TelemetryError& e) {
    throw ExitError{2, e.what()};
  }
#else
  (void)o;
  (void)cfg;
  throw ExitError{2, "this rfab was built without DPDK (needs libdpdk-dev and RFAB_WITH_DPDK=ON)"};
#endif
}

void run_collect(CollectOptions o) {
  tm::CollectorConfig cfg;
  const bool dpdk = !o.dpdk_args.empty();
  if (dpdk == !o.hook.empty()) throw ExitError{2, "give --hook (the eBPF collector) or --dpdk-args (a DPDK port), not both or neither"};
  if (!dpdk && o.dpdk_port != 0) throw ExitError{2, "--dpdk-port needs --dpdk-args"};
  if (dpdk && o.iface.empty()) {
#ifdef RFAB_HAVE_DPDK_COLLECTOR
    o.iface = tm::dpdk_vdev_iface(o.dpdk_args);  // the label of the series, and whose netdev counters to add
#endif
    if (o.iface.empty()) o.iface = "dpdk" + std::to_string(o.dpdk_port);
  }
  if (o.iface.empty()) throw ExitError{2, "--iface is required with --hook"};
  cfg.iface = o.iface;
  if (!dpdk) {
    auto hook = tm::parse_hook(o.hook);
    if (!hook) throw ExitError{2, "--hook must be xdp, xdp-generic or tc, not '" + o.hook + "'"};
    cfg.hook = *hook;
  }
  cfg.roce_port = o.roce_port;
  cfg.flow_map_entries = o.flow_map_entries;
  cfg.ringbuf_bytes = o.ringbuf_bytes;
  cfg.cnp_burst_threshold = o.cnp_burst_threshold;
  cfg.cnp_burst_window_ns = static_cast<uint64_t>(duration_arg("--cnp-burst-window", o.cnp_burst_window).count());
  if (!o.hole_timeout.empty()) cfg.hole_timeout_ns = hole_timeout_arg(o.hole_timeout);
  auto interval = duration_arg("--interval", o.interval);
  const auto duration = o.duration.empty() ? nanoseconds(0) : duration_arg("--duration", o.duration);
  if (interval < milliseconds(10)) throw ExitError{2, "--interval must be at least 10ms"};

  auto missing = dpdk ? std::vector<std::string>{} : tm::missing_capabilities(tm::collector_capabilities());
  if (!missing.empty()) {
    std::string list;
    for (const auto& c : missing) list += (list.empty() ? "" : ", ") + c;
    throw ExitError{2, "rfab collect needs CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON; missing: " + list +
                           " (run as root, or grant them: setcap cap_bpf,cap_net_admin,cap_perfmon+ep rfab)"};
  }

  std::unique_ptr<tm::PrometheusServer> prom;
  std::string prom_host;
  if (!o.prometheus.empty()) {
    try {
      auto [host, port] = tm::parse_listen_address(o.prometheus);
      prom = std::make_unique<tm::PrometheusServer>(host, port);
      prom_host = host;
    } catch (const std::invalid_argument& e) {
      throw ExitError{2, std::string("--prometheus: ") + e.what()};
    } catch (const tm::TelemetryError& e) {
      throw ExitError{2, e.what()};
    }
  }
  std::ofstream json_file;
  if (!o.json_file.empty()) {
    json_file.open(o.json_file, std::ios::app);
    if (!json_file) throw ExitError{2, "cannot open --json-file '" + o.json_file + "' for writing: " + std::strerror(errno)};
  }
  // A full disk must end the run with an error, not leave a file that silently stopped growing.
  auto to_file = [&](const std::string& line, bool flush) {
    if (!json_file.is_open()) return;
    json_file << line << "\n";
    if (flush) json_file.flush();
    if (!json_file) throw ExitError{1, "--json-file '" + o.json_file + "': write failed: " + std::strerror(errno)};
  };

  std::unique_ptr<tm::Collector> col;
  if (dpdk) {
    col = open_dpdk(o, cfg);
  } else {
    try {
      col = tm::Collector::open(cfg);
    } catch (const tm::TelemetryError& e) {
      throw ExitError{2, e.what()};
    }
  }
  const std::string source = dpdk ? "DPDK port " + std::to_string(o.dpdk_port) : std::string(tm::to_string(cfg.hook));
  g_stop = 0;
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  const bool tty = isatty(STDOUT_FILENO) && !o.json;
  const auto start = steady_clock::now();
  auto next = start + interval;
  tm::CollectorSnapshot prev = col->snapshot();
  bool netdev_warned = false;
  // Scrapes before the first interval already see every series (at zero). Published before "attached"
  // is announced, so anyone who waits for that line never scrapes an endpoint with nothing to serve.
  if (prom) prom->publish(tm::render_prometheus(gather(o, prev, netdev_warned)));
  std::cerr << "rfab collect: attached to " << o.iface << " (" << source << ")"
            << (prom ? ", Prometheus on http://" + listen_url(prom_host, prom->port()) + "/metrics" : std::string()) << "\n";

  auto emit = [&](bool last) {
    tm::CollectorSnapshot s = col->snapshot();
    tm::Metrics m = gather(o, s, netdev_warned);
    uint64_t ms = static_cast<uint64_t>(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
    std::string line = tm::render_json_line(m, ms);
    if (o.json) std::cout << line << "\n" << std::flush;
    to_file(line, true);
    if (prom) prom->publish(tm::render_prometheus(m));
    if (!o.json) {
      if (tty && !last) std::cout << "\033[H\033[2J";
      std::cout << tm::render_table(o.iface, s, &prev) << (tty ? "" : "\n") << std::flush;
    }
    prev = std::move(s);
  };
  while (!g_stop) {
    auto now = steady_clock::now();
    if (duration.count() > 0 && now >= start + duration) break;
    auto until = next;
    if (duration.count() > 0) until = std::min(until, start + duration);
    auto wait = duration_cast<milliseconds>(until - now);
    for (const auto& e : col->poll_events(std::clamp(wait, milliseconds(0), milliseconds(100)))) {
      if (o.json) std::cout << tm::event_json(e, o.iface) << "\n";
      to_file(tm::event_json(e, o.iface), false);
      if (o.events && !o.json) std::cerr << "event: " << tm::event_text(e) << "\n";
    }
    if (steady_clock::now() >= next) {
      emit(false);
      next += interval;
    }
  }
  // Drain what is left, print the final state, then detach (also done by the destructor on errors).
  for (const auto& e : col->poll_events(milliseconds(0))) {
    if (o.json) std::cout << tm::event_json(e, o.iface) << "\n";
    to_file(tm::event_json(e, o.iface), false);
  }
  emit(true);
  if (json_file.is_open()) {
    json_file.close();
    if (!json_file) throw ExitError{1, "--json-file '" + o.json_file + "': write failed: " + std::strerror(errno)};
  }
  col->detach();
  std::cerr << "rfab collect: detached from " << o.iface << (g_stop ? " (signal)" : "") << "\n";
}

}  // namespace

void add_collect(CLI::App& app) {
  auto o = std::make_shared<CollectOptions>();
  auto* sub = app.add_subcommand("collect", "Count RoCE v2 traffic on an interface with eBPF (XDP or tc) and export it");
  sub->add_option("--iface", o->iface, "network interface (with --dpdk-args: the name the series carry; default the vdev's iface=)");
  sub->add_option("--hook", o->hook, "eBPF collector: xdp | xdp-generic | tc (ingress and egress)");
  sub->add_option("--dpdk-args", o->dpdk_args,
                  "DPDK collector instead: EAL arguments, e.g. '--no-huge -m 512 --no-pci --no-shconf "
                  "--vdev=net_af_packet0,iface=veth1' (counts what the port receives, as ingress)");
  add_integer(sub, "--dpdk-port", o->dpdk_port, "--dpdk-args: ethdev port id (default 0)", 0, 65535);
  add_duration(sub, "--interval", o->interval, "reporting interval (default 1s)", 10'000'000, 86400'000'000'000);
  // No 0: "stop after nothing" would have to mean "never stop"; leave --duration out for that.
  add_duration(sub, "--duration", o->duration, "stop after this long (default: until SIGINT/SIGTERM)", 10'000'000,
               uint64_t{366} * 86400 * 1'000'000'000);
  sub->add_option("--prometheus", o->prometheus, "serve Prometheus text on HOST:PORT/metrics (e.g. 127.0.0.1:9464)");
  sub->add_flag("--json", o->json, "JSON lines on stdout (metrics every interval, and events)");
  sub->add_option("--json-file", o->json_file, "append JSON lines to this file");
  sub->add_flag("--events", o->events, "print notable events (NAK, PSNs lost, CNP burst) to stderr");
  add_integer(sub, "--roce-port", o->roce_port, "UDP destination port of RoCE v2 (default 4791)", 1, 65535);
  add_integer(sub, "--flow-map-entries", o->flow_map_entries, "flows tracked before the map is full (default 16384)",
              1, 16u << 20);
  add_integer(sub, "--ringbuf-bytes", o->ringbuf_bytes, "event ring buffer size, a power of two (default 262144)",
              4096, 1u << 30);
  add_integer(sub, "--cnp-burst-threshold", o->cnp_burst_threshold, "CNPs within the window that make a burst event",
              1, UINT32_MAX);
  add_duration(sub, "--cnp-burst-window", o->cnp_burst_window, "CNP burst window (default 1ms)", 1'000,
               10'000'000'000);
  add_hole_timeout(sub, o->hole_timeout);
  sub->add_option("--rdma-sysfs", o->rdma_sysfs, "where RDMA devices live (default /sys/class/infiniband)");
  sub->callback([o] { run_collect(*o); });
}

}  // namespace rfab::cli
