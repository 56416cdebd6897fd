// rfab perf write|read|send|atomic: perftest-style bandwidth and latency tests over the user-space RC engine
// and the kernel-UDP datapath. `--server` on one side, the server's address on the other.
#include <cstdio>
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>

#include "checked_options.hpp"
#include "commands.hpp"
#include "rfab/base/units.hpp"
#include "rfab/congestion/factory.hpp"
#include "perf_options.hpp"
#include "perf_session.hpp"
#include "perftest_session.hpp"

namespace rfab::cli {
namespace {

using perf::Verb;

const char* title(Verb v) {
  switch (v) {
    case Verb::write: return "RDMA_Write";
    case Verb::read: return "RDMA_Read";
    case Verb::send: return "Send";
    case Verb::atomic: return "Atomic (fetch-and-add)";
  }
  return "";
}

const char* kLine = "---------------------------------------------------------------------------------------\n";

void print_text(const perf::Options& o, const perf::Result& r) {
  std::printf("%s", kLine);
  std::printf("                    %s %s Test (rfab, %s%s)\n", title(r.verb), o.latency ? "Latency" : "BW",
              r.datapath.empty() ? "kernel UDP datapath" : r.datapath.c_str(), o.perftest ? ", perftest side channel" : "");
  std::printf(" Number of qps   : %-6u Transport type : RoCE v2 over UDP\n", r.qps);
  std::printf(" Mtu             : %-6u Spray entropies: %u%s\n", r.mtu, r.spray, r.adaptive ? " (adaptive)" : "");
  std::printf(" Loss recovery   : %s\n", r.recovery == rc::LossRecovery::selective ? "selective" : "go-back-N");
  std::printf(" Role            : %s\n", o.server ? "server" : "client");
  std::printf("%s", kLine);
  if (o.latency && !o.server) {
    std::printf(" #bytes #iterations    t_min[usec]    t_max[usec]  t_typical[usec]    t_avg[usec]    t_stdev[usec]"
                "   99%% percentile[usec]   99.9%% percentile[usec]\n");
    std::printf(" %-7llu %-10llu       %-7.2f        %-7.2f      %-7.2f            %-7.2f        %-7.2f"
                "            %-7.2f                 %-7.2f\n",
                static_cast<unsigned long long>(r.bytes), static_cast<unsigned long long>(r.iterations), r.t_min,
                r.t_max, r.t_typical, r.t_avg, r.t_stdev, r.p99, r.p999);
  } else {
    std::printf(" #bytes     #iterations    BW peak[Gb/sec]    BW average[Gb/sec]   MsgRate[Mpps]\n");
    std::printf(" %-10llu %-10llu       %-7.2f            %-7.2f              %-7.6f\n",
                static_cast<unsigned long long>(r.bytes), static_cast<unsigned long long>(r.iterations),
                r.bw_peak_gbps, r.bw_avg_gbps, r.msg_rate_mpps);
  }
  std::printf("%s", kLine);
  std::printf(" data check      : %s (%s)\n", r.verified ? "ok" : "FAILED", r.verify_note.c_str());
  std::printf(" packets tx/rx   : %llu / %llu   retransmits: %llu   timeouts: %llu   bad ICRC dropped: %llu\n",
              static_cast<unsigned long long>(r.tx_packets), static_cast<unsigned long long>(r.rx_packets),
              static_cast<unsigned long long>(r.retransmits), static_cast<unsigned long long>(r.timeouts),
              static_cast<unsigned long long>(r.rx_bad_icrc));
  if (o.cc != "none" || r.ecn_ce_received + r.cnps_sent + r.cnps_received > 0)
    std::printf(" congestion      : %s; ECN-CE rx %llu, CNPs tx/rx %llu / %llu (%llu steered around), rate cuts %llu, "
                "rate now %.2f Gb/s (lowest %.2f)\n",
                o.cc.c_str(), static_cast<unsigned long long>(r.ecn_ce_received),
                static_cast<unsigned long long>(r.cnps_sent), static_cast<unsigned long long>(r.cnps_received),
                static_cast<unsigned long long>(r.cnps_steered), static_cast<unsigned long long>(r.rate_cuts),
                r.rate_gbps, r.min_rate_gbps);
  if (!r.datapath_counters.empty()) {
    std::printf(" datapath        :");
    for (const auto& [k, v] : r.datapath_counters) std::printf(" %s=%llu", k.c_str(), static_cast<unsigned long long>(v));
    std::printf("\n");
  }
  if (!r.paths.empty()) {
    std::printf(" per entropy (port k of every QP): tx = request packets sent, rx = received, CE = of those marked,\n"
                " CNP/NAK = feedback that named the port, aside = times the adaptive policy set it aside\n");
    std::printf("   k        tx        rx        CE      CNP      NAK    aside   probes  aside-now\n");
    for (size_t k = 0; k < r.paths.size(); ++k) {
      const perf::Result::Path& p = r.paths[k];
      std::printf(" %3zu %9llu %9llu %9llu %8llu %8llu %8llu %8llu  %u/%u QPs\n", k,
                  static_cast<unsigned long long>(p.tx_packets), static_cast<unsigned long long>(p.rx_packets),
                  static_cast<unsigned long long>(p.rx_ecn_ce), static_cast<unsigned long long>(p.cnps),
                  static_cast<unsigned long long>(p.naks), static_cast<unsigned long long>(p.set_aside),
                  static_cast<unsigned long long>(p.probes), p.avoided_qps, r.qps);
    }
  }
}

void print_json(const perf::Options& o, const perf::Result& r) {
  nlohmann::ordered_json j{
      {"verb", perf::to_string(r.verb)},
      {"role", o.server ? "server" : "client"},
      {"bytes", r.bytes},
      {"iterations", r.iterations},
      {"qps", r.qps},
      {"mtu", r.mtu},
      {"spray", r.spray},
      {"recovery", r.recovery == rc::LossRecovery::selective ? "selective" : "go-back-n"},
      {"seconds", r.seconds},
      {"bw_peak_gbps", r.bw_peak_gbps},
      {"bw_avg_gbps", r.bw_avg_gbps},
      {"msg_rate_mpps", r.msg_rate_mpps},
      {"verified", r.verified},
      {"datapath", r.datapath.empty() ? "kernel UDP datapath" : r.datapath},
      {"verify_note", r.verify_note},
      {"tx_packets", r.tx_packets},
      {"rx_packets", r.rx_packets},
      {"tx_syscalls", r.tx_syscalls},
      {"rx_syscalls", r.rx_syscalls},
      {"retransmits", r.retransmits},
      {"timeouts", r.timeouts},
      {"duplicates", r.duplicates},
      {"out_of_order", r.out_of_order},
      {"rx_bad_icrc", r.rx_bad_icrc},
      {"cpu_seconds", r.cpu_seconds},
      {"cc", o.cc},
      {"ecn_ce_received", r.ecn_ce_received},
      {"cnps_sent", r.cnps_sent},
      {"cnps_received", r.cnps_received},
      {"cnps_steered", r.cnps_steered},
      {"rate_cuts", r.rate_cuts},
      {"rate_gbps", r.rate_gbps},
      {"min_rate_gbps", r.min_rate_gbps},
      {"adaptive", r.adaptive},
  };
  nlohmann::ordered_json paths = nlohmann::ordered_json::array();
  for (const perf::Result::Path& p : r.paths)
    paths.push_back({{"tx_packets", p.tx_packets}, {"rx_packets", p.rx_packets}, {"rx_ecn_ce", p.rx_ecn_ce},
                     {"cnps", p.cnps}, {"naks", p.naks}, {"slow_samples", p.slow_samples},
                     {"set_aside", p.set_aside}, {"probes", p.probes}, {"avoided_qps", p.avoided_qps}});
  j["paths"] = paths;
  nlohmann::ordered_json dc = nlohmann::ordered_json::object();
  for (const auto& [k, v] : r.datapath_counters) dc[k] = v;
  j["datapath_counters"] = dc;
  if (o.latency)
    j["latency_us"] = {{"min", r.t_min}, {"max", r.t_max}, {"typical", r.t_typical}, {"avg", r.t_avg},
                       {"stdev", r.t_stdev}, {"p99", r.p99}, {"p99.9", r.p999}};
  std::cout << j.dump() << "\n";
}

// "65536", "64K", "4M", "1G" (powers of 1024, docs/units.md).
uint64_t size_arg(const std::string& s) {
  try {
    return parse_size(s, "-s/--size");
  } catch (const ParseError& e) {
    throw ExitError{2, e.what()};
  }
}

double parse_line_rate(const std::string& s) {
  try {
    const double bps = parse_rate_bps(s, "--line-rate");
    if (!(bps > 0)) throw ParseError("--line-rate: must be above 0 bit/s");
    return bps;
  } catch (const ParseError& e) {
    throw ExitError{2, e.what()};
  }
}

// A bad --cc fails here, with the spec parser's message, before any connection is made.
void check_cc(const std::string& spec, double line_bps) {
  try {
    (void)cc::make_controller(spec, line_bps);
  } catch (const std::exception& e) {
    throw ExitError{2, std::string("--cc: ") + e.what()};
  }
}

void add_verb(CLI::App& perf_app, Verb verb, const char* help) {
  auto o = std::make_shared<perf::Options>();
  auto size = std::make_shared<std::string>("65536");
  auto line = std::make_shared<std::string>("100G");
  auto reorder = std::make_shared<std::string>();
  auto max_memory = std::make_shared<std::string>("4G");
  o->verb = verb;
  CLI::App* c = perf_app.add_subcommand(perf::to_string(verb), help);
  c->add_option("host", o->host, "server address (client side)");
  c->add_flag("--server", o->server, "wait for a client");
  add_size(c, "-s,--size", *size,
           "message size in bytes (K/M/G suffixes, at most 2G; 0: zero-length operations); atomics are always 8 bytes",
           0, uint64_t{1} << 31);
  add_integer(c, "-n,--iters", o->iters, "operations per QP", 1, 1'000'000'000'000);
  add_seconds(c, "-D,--duration", o->duration, "run for this many seconds (or 500ms, 2m) instead of --iters", 0,
              1e6, true);
  add_integer(c, "-q,--qps", o->qps, "queue pairs", 1, 1024);
  add_integer(c, "-m,--mtu", o->mtu, "path MTU: 256, 512, 1024, 2048 or 4096", 256, 4096)
      ->check(CLI::IsMember({256u, 512u, 1024u, 2048u, 4096u}));
  add_integer(c, "--spray", o->spray, "entropies (UDP source ports) per QP; > 1 sprays packets over them", 1, 256);
  c->add_flag("--adaptive", o->adaptive,
              "with --spray N (client): steer away from ports whose packets draw CNPs, NAKs or long round trips, "
              "probing them until they recover (docs/multipath.md)");
  add_integer(c, "-t,--tx-depth", o->tx_depth, "outstanding operations per QP", 1, 4096);
  add_integer(c, "-p,--port", o->tcp_port, "TCP side-channel port (perftest's default 18515)", 1, 65535);
  add_integer(c, "--udp-port", o->udp_port, "RoCE v2 UDP port (4791)", 1, 65535);
  c->add_option("--local", o->local, "local RoCE address (default: the side channel's local address)");
  c->add_flag("--latency", o->latency, "latency mode: one operation in flight per QP, percentiles");
  c->add_flag("--json", o->json, "one JSON object instead of the table");
  c->add_flag("!--no-gso", o->gso, "send every packet with its own datagram (no UDP GSO)");
  c->add_flag("!--no-gather", o->gather, "copy payloads into packet buffers instead of sending them from the MR");
  add_integer(c, "--busy-poll", o->busy_poll_us, "SO_BUSY_POLL microseconds on the UDP or AF_XDP sockets (AF_XDP also polls this long before sleeping)", 0, 1000000);
  c->add_option("--faults", o->faults, "receive-side fault injection, e.g. drop=1%,reorder=2%,seed=7");
  c->add_option("--cc", o->cc, "congestion control of this side's QPs: none, dcqcn or dcqcn:key=value,... "
                               "(as rfab emulate --cc; docs/dcqcn.md)");
  c->add_option("--recovery", o->recovery, "loss recovery with an rfab peer: selective (resend only lost packets) "
                                           "or go-back-n (IBTA; what perftest/verbs peers use)")
      ->transform(CLI::CheckedTransformer(std::map<std::string, rc::LossRecovery>{
          {"selective", rc::LossRecovery::selective}, {"go-back-n", rc::LossRecovery::go_back_n}}));
  add_duration(c, "--reorder-time", *reorder,
               "selective recovery, as the receiver: how long a hole may stay open before it is NAKed as lost, to "
               "start with (e.g. 10ms; adapted to the reordering seen afterwards)",
               1, 60'000'000'000ull);
  add_size(c, "--max-memory", *max_memory,
           "the most message-buffer memory this side allocates (K/M/G); a server refuses clients that need more "
           "(docs/udp-datapath.md)",
           1, UINT64_MAX);
  add_rate(c, "--line-rate", *line, "the rate congestion control starts from and never exceeds (bits/s, e.g. 25G)",
           0, 1e15, true);
  add_seconds(c, "--timeout", o->timeout, "seconds (or 500ms, 2m) without progress before giving up", 0, 86400,
              true);
  add_integer(c, "--retry-cnt", o->retry_cnt, "RC retry count 0..7", 0, 7);
  add_integer(c, "--ack-timeout", o->ack_timeout, "RC local ACK timeout code (4.096 us * 2^n)", 1, 31);
  c->add_flag("--perftest", o->perftest,
              "pair with perftest's ib_write_bw/ib_read_bw/ib_send_bw (its TCP exchange; same -s/-n/-q on both sides)");
  c->add_flag("--verbs", o->verbs,
              "run the QPs on an RDMA device (RNIC or rxe) through libibverbs; speaks perftest's side channel");
  c->add_option("--datapath", o->datapath,
                "what moves the packets: udp (kernel UDP sockets), afxdp (AF_XDP sockets), dpdk (a DPDK port), "
                "verbs (an RDMA device, as --verbs); docs/kernel-bypass.md")
      ->check(CLI::IsMember({"udp", "afxdp", "dpdk", "verbs"}));
  c->add_option("--iface", o->iface, "--datapath afxdp: interface (default: the one holding the local address)");
  c->add_option("--xdp-mode", o->xdp_mode, "--datapath afxdp: auto, native or generic XDP")
      ->check(CLI::IsMember({"auto", "native", "generic"}));
  c->add_option("--xsk-copy", o->copy_mode, "--datapath afxdp: auto (zero-copy when the driver has it), zero-copy or copy")
      ->check(CLI::IsMember({"auto", "zero-copy", "copy"}));
  add_integer(c, "--xsk-queue", o->xsk_queue, "--datapath afxdp: use only this receive queue (default: all)", 0, 255);
  c->add_option("--dpdk-args", o->dpdk_args,
                "--datapath dpdk: EAL arguments, e.g. '--no-huge -m 512 --no-pci --no-shconf "
                "--vdev=net_af_packet0,iface=veth0' (default: RFAB_DPDK_ARGS)");
  add_integer(c, "--dpdk-port", o->dpdk_port, "--datapath dpdk: ethdev port id", 0, 65535);
  c->add_option("--device", o->device, "--verbs: RDMA device (default: first usable; RFAB_VERBS_DEVICE)");
  add_integer(c, "--gid-index", o->gid_index, "--verbs: GID index (default: the RoCE v2 IPv4 one; RFAB_VERBS_GID_INDEX)",
              0, 255);
  c->callback([o, size, line, max_memory, reorder] {
    o->size = size_arg(*size);
    try {
      o->max_memory = parse_size(*max_memory, "--max-memory");
    } catch (const ParseError& e) {
      throw ExitError{2, e.what()};
    }
    if (o->max_memory == 0) throw ExitError{2, "--max-memory: must be above 0"};
    o->line_bps = parse_line_rate(*line);
    if (!reorder->empty()) {
      try {
        o->reorder_time = parse_duration_ns(*reorder, "--reorder-time");
      } catch (const ParseError& e) {
        throw ExitError{2, e.what()};
      }
      if (o->reorder_time == 0 || o->reorder_time > 60'000'000'000ull)
        throw ExitError{2, "--reorder-time: must be above 0 and at most 60 s"};
    }
    check_cc(o->cc, o->line_bps);
    if (o->size > (1ull << 31)) throw ExitError{2, "-s/--size: at most 2 GiB per message"};
    if (!o->server && o->host.empty()) throw ExitError{2, "give the server's address, or --server on the server side"};
    if (o->server && !o->host.empty()) throw ExitError{2, "--server takes no host argument"};
    if (o->adaptive && o->spray < 2) throw ExitError{2, "--adaptive steers a spray: give --spray N with N >= 2"};
    if (o->adaptive && o->server) throw ExitError{2, "--adaptive is the client's choice (the server only answers)"};
    if (o->datapath == "verbs") o->verbs = true;  // --verbs is the older spelling
    else if (o->verbs && o->datapath != "udp")
      throw ExitError{2, "--verbs and --datapath " + o->datapath + " contradict each other"};
    if (o->verbs) o->datapath = "verbs";
    if (o->datapath != "afxdp" && (!o->iface.empty() || o->xdp_mode != "auto" || o->copy_mode != "auto" || o->xsk_queue >= 0))
      throw ExitError{2, "--iface/--xdp-mode/--xsk-copy/--xsk-queue need --datapath afxdp"};
    if (o->datapath != "dpdk" && (!o->dpdk_args.empty() || o->dpdk_port != 0))
      throw ExitError{2, "--dpdk-args/--dpdk-port need --datapath dpdk"};
    if (o->verbs) o->perftest = true;  // the verbs backend runs in the perftest-protocol session
    if (!o->verbs && (!o->device.empty() || o->gid_index >= 0)) throw ExitError{2, "--device/--gid-index need --verbs"};
    const perf::Result r = o->perftest ? perf::run_perftest_session(*o) : perf::run_session(*o);
    if (o->json) print_json(*o, r);
    else print_text(*o, r);
  });
}

}  // namespace

void add_perf(CLI::App& app) {
  CLI::App* p = app.add_subcommand("perf", "perftest-style RDMA tests over the user-space RoCE v2 stack (UDP)");
  p->require_subcommand(1);
  add_verb(*p, Verb::write, "RDMA WRITE bandwidth / latency");
  add_verb(*p, Verb::read, "RDMA READ bandwidth / latency");
  add_verb(*p, Verb::send, "SEND bandwidth / latency (every message checked: exactly once, in order)");
  add_verb(*p, Verb::atomic, "fetch-and-add bandwidth / latency (exactly-once checked)");
}

}  // namespace rfab::cli
