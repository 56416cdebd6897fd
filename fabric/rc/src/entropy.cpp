// UDP source-port (ECMP entropy) selection; see docs/multipath.md.
#include "qp_impl.hpp"

#include <vector>

namespace rfab::rc {
uint16_t rxe_src_port(uint32_t local_qpn, uint32_t remote_qpn) {
  // include/rdma/ib_verbs.h: rdma_calc_flow_label + rdma_flow_label_to_udp_sport.
  uint64_t v = uint64_t{local_qpn} * remote_qpn;
  v ^= v >> 20;
  v ^= v >> 40;
  const uint32_t fl = static_cast<uint32_t>(v & 0xFFFFF);
  const uint32_t low = (fl & 0x3FFF) ^ ((fl & 0xFC000) >> 14);
  return static_cast<uint16_t>(low | 0xC000);
}

uint16_t entropy_port(uint32_t local_qpn, uint32_t remote_qpn, uint32_t index) {
  const uint32_t base = rxe_src_port(local_qpn, remote_qpn) & 0x3FFF;
  return static_cast<uint16_t>(0xC000 | ((base + index * 0x9E5u) & 0x3FFF));
}

uint16_t QueuePair::Impl::request_port(Nanos now, uint32_t psn, bool resend) {
  const EntropyPolicy& e = attr.entropy;
  uint32_t index = 0;
  switch (e.kind) {
    case EntropyPolicy::Kind::fixed: break;  // index 0 is rxe_src_port
    case EntropyPolicy::Kind::flowlet:
      // A gap longer than the path-delay skew means packets on the new path cannot overtake older ones.
      if (any_req_tx && now >= last_req_tx && now - last_req_tx > e.flowlet_gap)
        flowlet_idx = (flowlet_idx + 1) % paths.paths();
      index = flowlet_idx;
      break;
    case EntropyPolicy::Kind::spray:
    case EntropyPolicy::Kind::adaptive: index = paths.choose(now); break;
  }
  paths.sent(psn, index, now, resend);
  return paths.port(index);
}

std::vector<PathStats> QueuePair::path_stats() const { return impl_->paths.snapshot(); }

}  // namespace rfab::rc
