// rfab ping: an all-pairs RoCE probe mesh (R-Pingmesh's idea over rfab's own RC endpoints). Every host of
// the list runs `rfab ping` with the same list; each agent serves probes, probes its targets over K
// entropies, shares its row with the others and prints the whole matrix with a verdict that localises
// faults to a host, a pair or a path. Exit 0 clean, 1 a fault found, 2 bad input or environment.
// Design and output: docs/bringup.md.
#include <atomic>
#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>

#include "checked_options.hpp"
#include "commands.hpp"
#include "ping_output.hpp"
#include "ping_plan.hpp"
#include "ping_session.hpp"
#include "ping_verdict.hpp"
#include "rfab/base/env.hpp"
#include "rfab/base/units.hpp"
#include "rfab/telemetry/prometheus.hpp"

namespace rfab::cli {
namespace {

using namespace ping;
std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

struct PingOptions {
  std::string hosts_file, nodelist, self;
  bool ranks = false, serve = false, continuous = false, json = false, verbs = false, count_given = false;
  std::string device, prometheus;
  uint16_t port = 18520, roce_port = 4791;
  unsigned entropies = 8;
  uint8_t ack_timeout = 13;
  uint64_t count = 20;
  std::string interval = "20ms", timeout = "100ms", wait = "10s", duration;
  uint64_t size = 64;
  size_t sample = 0;
  uint64_t seed = 1;
  double max_loss = 0;
};

std::vector<Host> host_list(const PingOptions& o) {
  const int sources = !o.hosts_file.empty() + !o.nodelist.empty() + o.ranks;
  if (sources != 1) throw ExitError{2, "give the hosts with exactly one of --hosts FILE, --nodelist LIST or --ranks"};
  try {
    std::vector<HostEntry> entries;
    if (!o.hosts_file.empty()) {
      std::ifstream f(o.hosts_file);
      if (!f) throw ExitError{2, "--hosts: cannot read '" + o.hosts_file + "'"};
      std::stringstream ss;
      ss << f.rdbuf();
      entries = parse_host_lines(ss.str(), o.port);
    } else if (!o.nodelist.empty()) {
      for (const std::string& n : expand_nodelist(o.nodelist)) entries.push_back({n, o.port, 0});
    } else {
      entries = rank_hosts(env::get_unsigned("WORLD_SIZE", 1, kMaxHosts).value_or(1), o.port, o.roce_port);
    }
    if (entries.size() < 2) throw ExitError{2, "the host list has " + std::to_string(entries.size()) + " host(s); a mesh needs at least 2"};
    return resolve_hosts(entries);
  } catch (const std::invalid_argument& e) {
    throw ExitError{2, std::string(o.hosts_file.empty() ? (o.nodelist.empty() ? "--ranks" : "--nodelist") : "--hosts") + ": " + e.what()};
  }
}

SessionOptions session_options(const PingOptions& o) {
  SessionOptions s;
  s.agent.roce_port = o.roce_port;
  s.agent.verbs = o.verbs;
  s.agent.device = o.device;
  s.agent.entropies = o.entropies;
  s.agent.size = static_cast<uint32_t>(o.size);
  s.agent.probe_timeout = parse_duration_ns(o.timeout, "--timeout");
  s.agent.ack_timeout = o.ack_timeout;
  s.agent.wait = std::chrono::milliseconds(parse_duration_ns(o.wait, "--wait") / 1'000'000);
  s.schedule.count = o.count;
  s.schedule.interval = parse_duration_ns(o.interval, "--interval");
  s.sample = o.sample;
  s.seed = o.seed;
  return s;
}

// Serves and probes until stopped (or --duration), publishing this host's row as Prometheus metrics
// and, with --json, one line per second.
int run_continuous(const PingOptions& o, const std::vector<Host>& hosts, size_t self, SessionOptions s) {
  std::unique_ptr<telemetry::PrometheusServer> prom;
  if (!o.prometheus.empty()) {
    try {
      auto [host, port] = telemetry::parse_listen_address(o.prometheus);
      prom = std::make_unique<telemetry::PrometheusServer>(host, port);
    } catch (const std::exception& e) {
      throw ExitError{2, std::string("--prometheus: ") + e.what()};
    }
  }
  s.agent.ip = hosts[self].ip;
  s.agent.tcp_port = hosts[self].port;
  if (hosts[self].roce_port) s.agent.roce_port = hosts[self].roce_port;
  s.agent.self = self;
  s.agent.n_hosts = hosts.size();
  s.agent.rtt_window = 1000;
  s.schedule.reconnect = true;
  if (!o.count_given) s.schedule.count = 0;
  Agent agent(s.agent);
  agent.start_probing([&] {
    std::vector<Target> t;
    for (size_t i : targets_of(hosts.size(), self, s.sample, s.seed)) t.push_back({i, hosts[i].ip, hosts[i].port});
    return t;
  }(), s.schedule);
  const auto start = std::chrono::steady_clock::now();
  const auto duration = std::chrono::nanoseconds(o.duration.empty() ? 0 : parse_duration_ns(o.duration, "--duration"));
  auto next_publish = start;
  bool final_printed = false;
  Matrix m;
  for (const Host& h : hosts) m.hosts.push_back(h.name);
  m.reported.assign(hosts.size(), true);  // one row: nothing to wait for
  Verdict v;
  while (!g_stop && (duration.count() == 0 || std::chrono::steady_clock::now() - start < duration)) {
    agent.turn(10'000'000);
    const auto now = std::chrono::steady_clock::now();
    if (now < next_publish) continue;
    next_publish = now + std::chrono::seconds(1);
    m.pairs = agent.row();
    v = judge(m, o.max_loss);
    if (prom) {
      telemetry::Metrics metrics;
      add_metrics(metrics, m);
      prom->publish(telemetry::render_prometheus(metrics));
    }
    const bool done = agent.probing_done();
    if (o.json && (!done || !final_printed)) {
      RunInfo info{self, o.entropies, s.schedule.count, static_cast<uint32_t>(o.size), agent.roce_address()};
      nlohmann::ordered_json j = to_json(m, v, info);
      j["probing_done"] = done;
      std::cout << j.dump() << std::endl;
    }
    final_printed = done;
  }
  return v.ok() ? 0 : 1;
}

void run_ping(const PingOptions& o) {
  g_stop = false;
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  SessionOptions s = session_options(o);
  if (o.serve) {
    if (o.self.empty()) throw ExitError{2, "--serve needs --self ADDRESS (the address this agent binds to)"};
    std::vector<Host> me;
    try {
      me = resolve_hosts({{o.self, o.port, o.roce_port}});
    } catch (const std::invalid_argument& e) {
      throw ExitError{2, std::string("--self: ") + e.what()};
    }
    s.agent.ip = me[0].ip;
    s.agent.tcp_port = o.port;
    s.agent.n_hosts = kMaxHosts;
    Agent agent(s.agent);
    std::cerr << "rfab ping: serving probes on " << agent.roce_address() << ", side channel " << me[0].ip << ":" << o.port << "\n";
    const auto start = std::chrono::steady_clock::now();
    const auto duration = std::chrono::nanoseconds(o.duration.empty() ? 0 : parse_duration_ns(o.duration, "--duration"));
    while (!g_stop && (duration.count() == 0 || std::chrono::steady_clock::now() - start < duration)) agent.turn(10'000'000);
    return;
  }
  const std::vector<Host> hosts = host_list(o);
  size_t self = 0;
  try {
    if (o.ranks) self = env::get_unsigned("RANK", 0, hosts.size() - 1).value_or(0);
    else self = find_self(hosts, o.self, local_addresses());
  } catch (const std::invalid_argument& e) {
    throw ExitError{2, e.what()};
  }
  if (o.sample >= hosts.size()) throw ExitError{2, "--sample " + std::to_string(o.sample) + " must be below the host count " + std::to_string(hosts.size())};
  if (o.continuous) {
    const int rc = run_continuous(o, hosts, self, s);
    if (rc != 0) throw ExitError{rc, ""};
    return;
  }
  std::string device;
  const Matrix m = run_mesh(hosts, self, s, g_stop, &device);
  const Verdict v = judge(m, o.max_loss);
  const RunInfo info{self, o.entropies, o.count, static_cast<uint32_t>(o.size), "rfab " + std::string(o.verbs ? "verbs" : "engine") + " " + device};
  if (o.json) std::cout << to_json(m, v, info).dump() << "\n";
  else print_text(std::cout, m, v, info);
  std::cout.flush();
  if (!v.ok()) throw ExitError{1, ""};
}

}  // namespace

void add_ping(CLI::App& app) {
  auto o = std::make_shared<PingOptions>();
  auto* sub = app.add_subcommand("ping", "All-pairs RoCE probe mesh: every host of the list probes every other over K "
                                         "entropies; latency matrix, loss per pair and entropy, fault localisation");
  sub->add_option("--hosts", o->hosts_file, "file with one host[:port] per line (the same file on every host)");
  sub->add_option("--nodelist", o->nodelist, "Slurm nodelist, e.g. node[01-04,07]");
  sub->add_flag("--ranks", o->ranks, "the ranks of `rfab run -n N -- rfab ping --ranks` (RANK, WORLD_SIZE)");
  sub->add_option("--self", o->self, "this host's name or address in the list (default: the entry with a local address)");
  sub->add_flag("--serve", o->serve, "only answer probes (for `rfab doctor --peers`), at --self ADDRESS");
  add_integer(sub, "--port", o->port, "agents' TCP side-channel port (for hosts without :port)", 1, 65535)->capture_default_str();
  add_integer(sub, "--roce-port", o->roce_port, "UDP port the agents' RoCE endpoints use", 1, 65535)->capture_default_str();
  add_integer(sub, "--entropies", o->entropies, "entropies (UDP source ports, one RC QP each) per pair", 1, kMaxEntropies)->capture_default_str();
  auto* count = add_integer(sub, "--count", o->count, "probes per entropy (continuous: stop probing after them)", 1, 10'000'000)->capture_default_str();
  add_duration(sub, "--interval", o->interval, "time between probe rounds", 100'000, 60'000'000'000ull)->capture_default_str();
  add_duration(sub, "--timeout", o->timeout, "a probe not completed within this is lost", 100'000, 60'000'000'000ull)->capture_default_str();
  add_integer(sub, "--ack-timeout", o->ack_timeout,
              "probe QPs' RC local ACK timeout code (4.096 us * 2^n): a probe is lost when it is resent after it", 1, 31)
      ->capture_default_str();
  add_duration(sub, "--wait", o->wait, "how long to wait for peers' agents to appear and for their reports", 100'000'000, 3'600'000'000'000ull)->capture_default_str();
  add_size(sub, "--size", o->size, "probe size (one RDMA WRITE packet)", 1, kProbeArea)->capture_default_str();
  add_integer(sub, "--sample", o->sample, "probe only this many peers per host (seeded, every host as often a target)", 1, kMaxHosts);
  add_integer(sub, "--seed", o->seed, "seed of --sample", 0, UINT64_MAX)->capture_default_str();
  add_fraction(sub, "--max-loss", o->max_loss, "loss an entropy may show and still pass (0.01 or 1%)")->capture_default_str();
  sub->add_flag("--json", o->json, "print the matrix and verdict as JSON (continuous: one line a second)");
  sub->add_flag("--continuous", o->continuous, "probe until stopped, reconnecting to peers; this host's row only");
  add_duration(sub, "--duration", o->duration, "continuous/serve: stop after this long", 10'000'000, 31'536'000'000'000'000ull);
  sub->add_option("--prometheus", o->prometheus, "continuous: serve Prometheus text on HOST:PORT/metrics");
  sub->add_flag("--verbs", o->verbs, "probe through an RDMA device (libibverbs) instead of rfab's engine over UDP");
  sub->add_option("--device", o->device, "with --verbs: the RDMA device (default: automatic)");
  sub->callback([o, count] {
    o->count_given = count->count() > 0;
    run_ping(*o);
  });
}

}  // namespace rfab::cli
