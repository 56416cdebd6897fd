#include "roce_device.hpp"

#include <map>

#include "rfab/collectives/types.hpp"
#include "rfab/endpoint/bypass_drivers.hpp"
#include "rfab/endpoint/engine_device.hpp"
#include "rfab/endpoint/verbs_device.hpp"
#include "rfab/fault/fault_config.hpp"

namespace rfab::coll {
namespace {

// Without libibverbs, asking for verbs is a configuration mistake, not a system failure.
#ifdef RFAB_COLL_WITH_VERBS
constexpr Status kVerbsFailure = Status::System;
#else
constexpr Status kVerbsFailure = Status::InvalidArgument;
#endif

std::unique_ptr<endpoint::Device> open_udp(const RoceOptions& opt, int rank) {
  udp::DriverConfig dc;
  dc.verify_icrc = opt.verify_icrc;
  if (!opt.rx_faults.empty()) dc.rx_faults = fault::parse_fault(opt.rx_faults);  // checked when read
  try {
    dc.local = udp::Address::parse_or_throw(opt.local_ip, opt.port, "RoCE local address");
    return endpoint::make_udp_device(dc);
  } catch (const std::exception& e) {
    throw Error(Status::System, "RoCE transport of rank " + std::to_string(rank) + ": " + e.what());
  }
}

// AF_XDP or DPDK: a frame datapath owns its port, so it listens on the RoCE port itself (4791 unless
// RFAB_ROCE_PORT says otherwise: there is no kernel to pick a free one).
std::unique_ptr<endpoint::Device> open_frame(const RoceOptions& opt, int rank) {
  endpoint::FrameDatapathConfig fc;
  fc.verify_icrc = opt.verify_icrc;
  if (!opt.rx_faults.empty()) fc.rx_faults = fault::parse_fault(opt.rx_faults);
  try {
    fc.local = udp::Address::parse_or_throw(opt.local_ip, opt.port != 0 ? opt.port : 4791, "RoCE local address");
    if (opt.datapath == "dpdk") {
      endpoint::DpdkOptions d;
      d.eal_args = opt.dpdk_args;
      return endpoint::make_engine_device(endpoint::make_dpdk_packet_driver(fc, d));
    }
    endpoint::AfxdpOptions a;
    a.iface = opt.iface;
    return endpoint::make_engine_device(endpoint::make_afxdp_packet_driver(fc, a));
  } catch (const std::exception& e) {
    throw Error(Status::System, "RoCE transport of rank " + std::to_string(rank) + " (RFAB_DATAPATH=" + opt.datapath +
                                    "): " + e.what());
  }
}

std::unique_ptr<endpoint::Device> open_verbs(const RoceOptions& opt, int rank) {
  endpoint::VerbsConfig vc;
  vc.device = opt.device;
  vc.sleep = true;  // the datapath thread shares the rank's cores with the application
  try {
    auto dev = endpoint::make_verbs_device(vc);
    if (dev->address().v6)
      throw endpoint::EndpointError(dev->name() + ": the GID is not IPv4-mapped (the RoCE transport needs IPv4)");
    return dev;
  } catch (const endpoint::EndpointError& e) {
    throw Error(kVerbsFailure, "RoCE transport of rank " + std::to_string(rank) + ": " + e.what());
  }
}

}  // namespace

std::unique_ptr<endpoint::Device> open_roce_device(const RoceOptions& opt, int rank) {
  if (opt.datapath == "afxdp" || opt.datapath == "dpdk") return open_frame(opt, rank);
  if (opt.transport == "udp") return open_udp(opt, rank);
  if (opt.transport == "verbs" || !opt.device.empty()) return open_verbs(opt, rank);
  return endpoint::verbs_device_present() ? open_verbs(opt, rank) : open_udp(opt, rank);
}

void print_device_counters(std::FILE* f, const endpoint::Device& dev, int rank,
                           const std::unordered_map<uint32_t, int>& rank_of_qpn) {
  const endpoint::DeviceCounters c = dev.counters();
  if (!c.sees_packets) {
    std::fprintf(f, "rfab roce rank %d: %s (packet counters: `rdma statistic`)\n", rank, dev.name().c_str());
    return;
  }
  std::fprintf(f, "rfab roce rank %d: %s tx %llu pkts %llu syscalls %llu dropped, rx %llu pkts %llu syscalls "
               "%llu bad-icrc %llu unknown-qp\n",
               rank, dev.name().c_str(), (unsigned long long)c.tx_packets, (unsigned long long)c.tx_syscalls,
               (unsigned long long)c.tx_dropped, (unsigned long long)c.rx_packets, (unsigned long long)c.rx_syscalls,
               (unsigned long long)c.rx_bad_icrc, (unsigned long long)c.rx_unknown_qp);
  const std::map<int, uint32_t> by_rank = [&] {
    std::map<int, uint32_t> m;
    for (const auto& [qpn, r] : rank_of_qpn) m[r] = qpn;
    return m;
  }();
  for (const auto& [r, qpn] : by_rank) {
    const rc::QpStats q = dev.qp_stats(qpn);
    std::fprintf(f, "rfab roce rank %d -> rank %d: retransmits %llu timeouts %llu seq-naks %llu/%llu "
                 "rnr-naks %llu/%llu acks %llu\n",
                 rank, r, (unsigned long long)q.retransmits, (unsigned long long)q.timeouts,
                 (unsigned long long)q.seq_naks_sent, (unsigned long long)q.seq_naks_received,
                 (unsigned long long)q.rnr_naks_sent, (unsigned long long)q.rnr_naks_received,
                 (unsigned long long)q.acks_sent);
  }
}

}  // namespace rfab::coll
