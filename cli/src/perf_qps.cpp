#include "perf_qps.hpp"

#include <algorithm>
#include <random>

#include "commands.hpp"
#include "rfab/base/env.hpp"
#include "rfab/endpoint/bypass_drivers.hpp"
#include "rfab/endpoint/engine_device.hpp"
#include "rfab/endpoint/verbs_device.hpp"
#include "rfab/fault/fault_config.hpp"

namespace rfab::cli::perf {
namespace {

endpoint::AfxdpOptions afxdp_options(const Options& o) {
  endpoint::AfxdpOptions a;
  a.iface = o.iface;
  a.xdp_mode = o.xdp_mode;
  a.copy_mode = o.copy_mode;
  a.queue = o.xsk_queue;
  a.busy_poll_us = static_cast<unsigned>(o.busy_poll_us);
  return a;
}

endpoint::DpdkOptions dpdk_options(const Options& o) {
  endpoint::DpdkOptions d;
  d.eal_args = o.dpdk_args.empty() ? env::get_string("RFAB_DPDK_ARGS").value_or("") : o.dpdk_args;
  d.port = o.dpdk_port;
  return d;
}

std::unique_ptr<endpoint::Device> open_device(const Options& o, const std::string& local_ip, unsigned ipv4_id_window) {
  if (o.verbs) {
    endpoint::VerbsConfig vc;
    vc.device = o.device;
    vc.gid_index = o.gid_index;
    vc.sleep = false;  // a benchmark polls
    return endpoint::make_verbs_device(vc);
  }
  if (o.datapath == "afxdp" || o.datapath == "dpdk") {
    endpoint::FrameDatapathConfig fc;
    fc.local = udp::Address::parse_or_throw(local_ip, o.udp_port, "--local");
    if (!o.faults.empty()) fc.rx_faults = fault::parse_fault(o.faults);
    if (o.datapath == "dpdk") return endpoint::make_engine_device(endpoint::make_dpdk_packet_driver(fc, dpdk_options(o)));
    return endpoint::make_engine_device(endpoint::make_afxdp_packet_driver(fc, afxdp_options(o)));
  }
  udp::DriverConfig dc;
  dc.local = udp::Address::parse_or_throw(local_ip, o.udp_port, "--local");
  dc.gso = o.gso;
  dc.gather = o.gather;
  dc.ipv4_id_window = ipv4_id_window;
  dc.socket.busy_poll_us = o.busy_poll_us;
  if (!o.faults.empty()) dc.rx_faults = fault::parse_fault(o.faults);
  return endpoint::make_udp_device(dc);
}

}  // namespace

std::string peer_address_problem(const udp::Address& peer, const udp::Address& local) {
  const std::string shown = peer.ip_string();
  if (peer.v6 != local.v6)
    return "the peer's address " + shown + " and this side's " + local.ip_string() + " differ in IP version";
  const auto& ip = peer.ip;
  bool zero = true;
  for (size_t i = 0; i < peer.ip_len(); ++i) zero &= ip[i] == 0;
  if (zero) return "the peer announced the unspecified address " + shown;
  // IPv6 ff00::/8; IPv4 224/4 (multicast), 240/4 and the broadcast address.
  if (peer.v6 ? ip[0] == 0xff : ip[0] >= 224) return "the peer announced " + shown + ", not a unicast address";
  return "";
}

void check_local_options(const Options& o) {
  if (!o.faults.empty()) {
    try {
      (void)fault::parse_fault(o.faults);
    } catch (const std::exception& e) {
      throw ExitError{2, std::string("--faults: ") + e.what()};
    }
  }
  try {
    if (o.datapath == "afxdp") endpoint::check_afxdp_options(afxdp_options(o));
    if (o.datapath == "dpdk") endpoint::check_dpdk_options(dpdk_options(o));
  } catch (const endpoint::EndpointError& e) {
    throw ExitError{2, "--datapath " + o.datapath + ": " + e.what()};
  }
  if (!o.verbs && !o.local.empty() && !udp::Address::parse(o.local))
    throw ExitError{2, "--local: '" + o.local + "' is not an IPv4 or IPv6 address"};
}

PerfQps open_perf_device(const Options& o, const std::string& local_ip, unsigned ipv4_id_window) {
  try {
    PerfQps q;
    q.dev = open_device(o, local_ip, ipv4_id_window);
    q.cc = o.cc;
    q.line_bps = o.line_bps;
    q.reorder_time = o.reorder_time;
    return q;
  } catch (const std::exception& e) {
    throw ExitError{2, (o.verbs ? "--verbs: " : o.datapath != "udp" ? "--datapath " + o.datapath + ": " : "") +
                           std::string(e.what())};
  }
}

void create_perf_qps(PerfQps& q, uint8_t* buf, size_t len, uint32_t access, const QpSizes& sz) {
  try {
    q.mr = q.dev->reg_mr(buf, len, access);
    const size_t cq = size_t{sz.qps} * (sz.send_depth + sz.recv_depth) + 16;
    q.dev->create_cqs(cq, cq);
    std::random_device rd;
    for (uint32_t i = 0; i < sz.qps; ++i) {
      endpoint::QpConfig c;
      c.cap = {std::max<uint32_t>(sz.send_depth, 1), std::max<uint32_t>(sz.recv_depth, 1), 1, 1};
      c.max_outstanding = sz.max_outstanding;
      // The receiver holds what a hole keeps waiting (spraying, selective recovery): as many packets as the
      // sender may have in flight, so the window never stalls on the peer's buffer.
      c.reorder_window = static_cast<uint16_t>(std::clamp<uint32_t>(sz.max_outstanding, 64, 1024));
      c.cc = q.cc;
      c.line_bps = q.line_bps;
      c.reorder_time = q.reorder_time;
      q.qpn.push_back(endpoint::open_qp(*q.dev, c, access & ~uint32_t{rc::kLocalWrite}));
      q.psn.push_back(rd() & 0xFFFFFF);
    }
  } catch (const endpoint::EndpointError& e) {
    throw ExitError{2, e.what()};
  }
}

void connect_perf_qp(PerfQps& q, uint32_t i, const endpoint::ConnectParams& params) {
  try {
    endpoint::connect(*q.dev, q.qpn[i], params);
  } catch (const endpoint::EndpointError& e) {
    throw ExitError{2, std::string("QP setup: ") + e.what()};
  }
}

void fill_counters(const PerfQps& q, Result& r) {
  const endpoint::DeviceCounters c = q.dev->counters();
  r.tx_packets = c.tx_packets;
  r.rx_packets = c.rx_packets;
  r.tx_syscalls = c.tx_syscalls;
  r.rx_syscalls = c.rx_syscalls;
  r.rx_bad_icrc = c.rx_bad_icrc;
  rc::QpStats s;
  for (uint32_t qpn : q.qpn) s += q.dev->qp_stats(qpn);
  r.retransmits = s.retransmits;
  r.timeouts = s.timeouts;
  r.duplicates = s.duplicates;
  r.out_of_order = s.out_of_order;
  r.ecn_ce_received = s.ecn_ce_received;
  r.cnps_sent = s.cnps_sent;
  r.cnps_received = s.cnps_received;
  r.cnps_steered = s.cnps_steered;
  for (uint32_t qpn : q.qpn) {
    const cc::ControllerStats cs = q.dev->qp_cc(qpn);
    r.rate_cuts += cs.rate_cuts;
    r.rate_gbps += cs.rate_bps / 1e9;
    r.min_rate_gbps = r.min_rate_gbps == 0 ? cs.min_rate_bps / 1e9 : std::min(r.min_rate_gbps, cs.min_rate_bps / 1e9);
  }
  r.datapath = q.dev->name();
  r.datapath_counters = c.datapath;
  r.paths.clear();
  for (uint32_t qpn : q.qpn) {
    const std::vector<rc::PathStats> ps = q.dev->qp_paths(qpn);
    if (ps.size() <= 1) continue;  // one port: nothing to break down
    if (r.paths.size() < ps.size()) r.paths.resize(ps.size());
    for (size_t i = 0; i < ps.size(); ++i) {
      Result::Path& p = r.paths[i];
      p.tx_packets += ps[i].tx_packets;
      p.probes += ps[i].probes;
      p.rx_packets += ps[i].rx_packets;
      p.rx_ecn_ce += ps[i].rx_ecn_ce;
      p.cnps += ps[i].cnps;
      p.naks += ps[i].naks;
      p.slow_samples += ps[i].slow_samples;
      p.set_aside += ps[i].set_aside;
      if (ps[i].avoided) ++p.avoided_qps;
    }
  }
}

}  // namespace rfab::cli::perf
