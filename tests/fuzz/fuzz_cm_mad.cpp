// Feeds arbitrary bytes to what the verbs provider's rdma_cm parses from a kernel rdma_cm peer on QP1
// (fabric/uverbs/src/cm_gsi.hpp, cm_mad.hpp): the packet framing (BTH/DETH/MAD), the CM MAD codec and
// rdma_cm's header in a REQ's private data. Besides no crash or sanitizer report: a MAD that decodes
// encodes back to a MAD that decodes to the same fields, and whatever is refused comes with a reason.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "cm_gsi.hpp"
#include "cm_mad.hpp"

using namespace rfab::uverbs;

namespace {

bool same(const ibcm::CmMad& a, const ibcm::CmMad& b) {
  return a.attr == b.attr && a.tid == b.tid && a.local_comm_id == b.local_comm_id &&
         a.remote_comm_id == b.remote_comm_id && a.service_id == b.service_id && a.local_qpn == b.local_qpn &&
         a.starting_psn == b.starting_psn && a.responder_resources == b.responder_resources &&
         a.initiator_depth == b.initiator_depth && a.path_mtu == b.path_mtu && a.reason == b.reason &&
         a.remote_qpn == b.remote_qpn && a.primary_local_gid == b.primary_local_gid &&
         a.primary_remote_gid == b.primary_remote_gid && a.private_data == b.private_data;
}

void mad(std::span<const uint8_t> bytes) {
  const char* why = nullptr;
  auto m = ibcm::decode(bytes, &why);
  if (!m) {
    if (why == nullptr) std::abort();  // refused without a reason
    return;
  }
  auto e = ibcm::encode(*m);
  if (!e) std::abort();  // decoded private data always fits its attribute
  auto back = ibcm::decode(*e, &why);
  if (!back || !same(*m, *back)) std::abort();
  if (m->attr == ibcm::Attr::kReq) (void)ibcm::decode_cma_header(m->private_data, &why);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> in(data, size);
  mad(in);  // the input as a MAD
  const char* why = nullptr;
  if (auto inner = gsi::mad_of(in, &why)) mad(*inner);  // the input as a QP1 packet
  else if (why == nullptr) std::abort();
  (void)ibcm::decode_cma_header(in, &why);
  return 0;
}
