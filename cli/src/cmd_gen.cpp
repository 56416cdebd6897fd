// rfab gen: a RoCE v2 traffic generator. Puts byte-exact frames (ICRC right) on a DPDK port, AF_XDP sockets
// or into a pcap file, with the operation mix, QPs, sizes, rate and injected faults asked for, and prints
// exactly what it sent per flow (the ground truth a collector or a switch is checked against).
#include <csignal>
#include <cstdio>
#include <iostream>

#include "checked_options.hpp"
#include "commands.hpp"
#include "rfab/base/units.hpp"
#include "rfab/frame/error.hpp"
#include "rfab/gen/generator.hpp"
#include "rfab/gen/ports.hpp"

namespace rfab::cli {
namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

struct GenOptions {
  std::string pcap_out, dpdk_args, afxdp;
  uint16_t dpdk_port = 0;
  std::string mix = "write=100";
  uint32_t qps = 1;
  uint64_t size = 4096;
  uint32_t mtu = 1024;
  uint64_t count = 0;
  std::string duration;
  std::optional<double> pps;
  std::string rate;
  uint32_t burst = 32;
  double gap_rate = 0, ecn_ce_rate = 0, cnp_rate = 0, nak_rate = 0;
  uint64_t seed = 1;
  std::string src_mac, dst_mac, src_ip = "10.0.0.1", dst_ip = "10.0.0.2";
  uint16_t sport_base = 49152, roce_port = 4791;
  uint32_t qpn = 0x11, remote_qpn = 0x211, start_psn = 0;
  bool json = false;
};

frame::Mac mac_arg(const std::string& flag, const std::string& v) {
  auto m = frame::Mac::parse(v);
  if (!m) throw ExitError{2, flag + ": '" + v + "' is not a MAC address (aa:bb:cc:dd:ee:ff)"};
  return *m;
}

udp::Address ip_arg(const std::string& flag, const std::string& v) {
  auto a = udp::Address::parse(v);
  if (!a) throw ExitError{2, flag + ": '" + v + "' is not a numeric IPv4 or IPv6 address"};
  return *a;
}

gen::GenConfig config_of(const GenOptions& o) {
  gen::GenConfig c;
  try {
    c.mix = gen::parse_mix(o.mix);
  } catch (const gen::GenError& e) {
    throw ExitError{2, e.what()};
  }
  c.qps = o.qps;
  c.msg_size = static_cast<uint32_t>(o.size);
  c.mtu = o.mtu;
  c.seed = o.seed;
  c.gap_rate = o.gap_rate;
  c.ecn_ce_rate = o.ecn_ce_rate;
  c.cnp_rate = o.cnp_rate;
  c.nak_rate = o.nak_rate;
  if (!o.src_mac.empty()) c.src_mac = mac_arg("--src-mac", o.src_mac);
  if (!o.dst_mac.empty()) c.dst_mac = mac_arg("--dst-mac", o.dst_mac);
  c.src_ip = ip_arg("--src-ip", o.src_ip);
  c.dst_ip = ip_arg("--dst-ip", o.dst_ip);
  c.sport_base = o.sport_base;
  c.roce_port = o.roce_port;
  c.requester_qpn = o.qpn;
  c.responder_qpn = o.remote_qpn;
  c.start_psn = o.start_psn;
  try {
    c.check();
  } catch (const gen::GenError& e) {
    throw ExitError{2, e.what()};
  }
  return c;
}

std::unique_ptr<gen::FrameSink> open_sink(const GenOptions& o, gen::GenConfig& c) {
  const int outputs = !o.pcap_out.empty() + !o.dpdk_args.empty() + !o.afxdp.empty();
  if (outputs != 1) throw ExitError{2, "give exactly one output: --pcap-out FILE, --dpdk-args EAL_ARGS or --afxdp IFACE"};
  if (o.dpdk_args.empty() && o.dpdk_port != 0) throw ExitError{2, "--dpdk-port needs --dpdk-args"};
  if (!o.pcap_out.empty()) {
    try {
      return gen::pcap_sink(o.pcap_out, 4096 + 256);
    } catch (const std::runtime_error& e) {
      throw ExitError{2, std::string("--pcap-out: ") + e.what()};
    }
  }
  std::unique_ptr<gen::FrameSink> sink;
  try {
    sink = !o.dpdk_args.empty() ? gen::open_dpdk(o.dpdk_args, o.dpdk_port)
                                : gen::open_afxdp(o.afxdp, c.src_ip.with_port(c.roce_port));
  } catch (const std::runtime_error& e) {  // GenError (not built in) and frame::FrameError
    throw ExitError{2, e.what()};
  }
  if (o.src_mac.empty()) c.src_mac = sink->mac().value_or(c.src_mac);
  return sink;
}

void run_gen(const GenOptions& o) {
  gen::GenConfig c = config_of(o);
  gen::RunLimits lim;
  lim.count = o.count;
  if (!o.duration.empty()) lim.duration = std::chrono::nanoseconds(parse_duration_ns(o.duration, "--duration"));
  if (lim.count == 0 && lim.duration.count() == 0) throw ExitError{2, "give --count N or --duration D"};
  lim.pps = o.pps.value_or(0);
  if (!o.rate.empty()) lim.bps = parse_rate_bps(o.rate, "--rate");
  lim.burst = o.burst;
  auto sink = open_sink(o, c);
  gen::TrafficModel model(c);
  gen::FrameBuilder builder(c);
  gen::Truth truth(c);
  g_stop = false;
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  gen::RunResult r;
  try {
    r = gen::run(model, builder, *sink, truth, lim, g_stop);
    sink->close();
  } catch (const gen::GenError& e) {
    throw ExitError{1, e.what()};
  } catch (const std::runtime_error& e) {  // the pcap writer: write failed (disk full)
    throw ExitError{1, e.what()};
  }
  const double pps = r.seconds > 0 ? static_cast<double>(truth.packets()) / r.seconds : 0;
  const double bps = r.seconds > 0 ? static_cast<double>(truth.bytes()) * 8 / r.seconds : 0;
  if (o.json) {
    std::string extra = "\"seconds\":" + format_number(r.seconds) + ",\"pps\":" + format_number(pps) +
                        ",\"bps\":" + format_number(bps) + ",\"sink_full_waits\":" + std::to_string(r.sink_full_waits) +
                        ",\"mix\":\"" + gen::to_string(c.mix) + "\",\"seed\":" + std::to_string(c.seed);
    std::string counters;
    for (const auto& [name, v] : sink->counters())
      counters += (counters.empty() ? "" : ",") + ("\"" + name + "\":" + std::to_string(v));
    extra += ",\"device\":{" + counters + "}";
    std::cout << truth.json(extra) << "\n";
  } else {
    char line[160];
    std::snprintf(line, sizeof line, "%llu packets in %.6f s (%.0f packets/s, %.3f Gbit/s)",
                  static_cast<unsigned long long>(truth.packets()), r.seconds, pps, bps / 1e9);
    std::cout << "rfab gen: " << sink->describe() << ": " << line << "\n" << truth.text();
  }
}

}  // namespace

void add_gen(CLI::App& app) {
  auto o = std::make_shared<GenOptions>();
  auto* sub = app.add_subcommand("gen", "Generate RoCE v2 traffic (DPDK, AF_XDP or pcap) and report exactly what was sent");
  sub->add_option("--pcap-out", o->pcap_out, "write the frames to this pcap file");
  sub->add_option("--dpdk-args", o->dpdk_args,
                  "send on a DPDK port: EAL arguments, e.g. '--no-huge -m 512 --no-pci --no-shconf "
                  "--vdev=net_af_packet0,iface=veth0'");
  add_integer(sub, "--dpdk-port", o->dpdk_port, "--dpdk-args: ethdev port id (default 0)", 0, 65535);
  sub->add_option("--afxdp", o->afxdp, "send on this interface through AF_XDP sockets");
  sub->add_option("--mix", o->mix, "operation weights, e.g. write=70,send=20,read=10 (default write=100)");
  add_integer(sub, "--qps", o->qps, "queue pairs, messages round-robin over them (default 1)", 1, 65536);
  add_size(sub, "-s,--size", o->size, "message size in bytes, K/M suffixes (default 4096)", 0, 1ull << 30);
  add_integer(sub, "--mtu", o->mtu, "RoCE path MTU: 256, 512, 1024, 2048, 4096 (default 1024)", 256, 4096);
  add_integer(sub, "--count", o->count, "frames to send", 1, UINT64_MAX);
  add_duration(sub, "--duration", o->duration, "send for this long", 1'000'000, uint64_t{366} * 86400 * 1'000'000'000);
  add_number(sub, "--pps", o->pps, "packets per second (default: as fast as the port takes them)", 0, 1e10, true);
  add_rate(sub, "--rate", o->rate, "bits per second of frames, e.g. 10G (default: as fast as the port takes them)", 0,
           1e13, true);
  add_integer(sub, "--burst", o->burst, "frames built and handed to the device together (default 32)", 1, 4096);
  add_fraction(sub, "--gap-rate", o->gap_rate, "fraction of request packets dropped, their PSNs skipped");
  add_fraction(sub, "--ecn-ce-rate", o->ecn_ce_rate, "fraction of request packets marked ECN CE");
  add_fraction(sub, "--cnp-rate", o->cnp_rate, "per request packet, chance of a CNP back to its QP");
  add_fraction(sub, "--nak-rate", o->nak_rate, "per request packet, chance of a NAK (PSN sequence error) back");
  add_integer(sub, "--seed", o->seed, "seed of every random choice (default 1)", 0, UINT64_MAX);
  sub->add_option("--src-mac", o->src_mac, "source MAC (default: the port's; pcap 02:00:00:00:00:01)");
  sub->add_option("--dst-mac", o->dst_mac, "destination MAC (default 02:00:00:00:00:02)");
  sub->add_option("--src-ip", o->src_ip, "requester IP address (default 10.0.0.1)");
  sub->add_option("--dst-ip", o->dst_ip, "responder IP address (default 10.0.0.2)");
  add_integer(sub, "--sport-base", o->sport_base, "UDP source port of QP 0; QP i uses this + i (default 49152)", 1,
              65535);
  add_integer(sub, "--roce-port", o->roce_port, "UDP destination port (default 4791)", 1, 65535);
  add_integer(sub, "--qpn", o->qpn, "requester QP number of QP 0 (default 0x11)", 1, 0xFFFFFF);
  add_integer(sub, "--remote-qpn", o->remote_qpn, "responder QP number of QP 0 (default 0x211)", 1, 0xFFFFFF);
  add_integer(sub, "--start-psn", o->start_psn, "first PSN of every QP (default 0)", 0, 0xFFFFFF);
  sub->add_flag("--json", o->json, "one JSON object: totals, rates, and per flow what was sent");
  sub->callback([o] { run_gen(*o); });
}

}  // namespace rfab::cli
