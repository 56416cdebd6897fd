#include "rfab/wire/opcode.hpp"

#include <array>

namespace rfab::wire {
namespace {

using enum MsgPos;
using K = OpKind;

constexpr OpcodeInfo kTable[] = {
    // RC
    {op::RC_SEND_FIRST, "RC_SEND_FIRST", "RC Send First", 0, true, first, K::send},
    {op::RC_SEND_MIDDLE, "RC_SEND_MIDDLE", "RC Send Middle", 0, true, middle, K::send},
    {op::RC_SEND_LAST, "RC_SEND_LAST", "RC Send Last", 0, true, last, K::send},
    {op::RC_SEND_LAST_IMM, "RC_SEND_LAST_WITH_IMMEDIATE", "RC Send Last Immediate", kImmDt, true, last, K::send},
    {op::RC_SEND_ONLY, "RC_SEND_ONLY", "RC Send Only", 0, true, only, K::send},
    {op::RC_SEND_ONLY_IMM, "RC_SEND_ONLY_WITH_IMMEDIATE", "RC Send Only Immediate", kImmDt, true, only, K::send},
    {op::RC_WRITE_FIRST, "RC_RDMA_WRITE_FIRST", "RC RDMA Write First", kReth, true, first, K::write},
    {op::RC_WRITE_MIDDLE, "RC_RDMA_WRITE_MIDDLE", "RC RDMA Write Middle", 0, true, middle, K::write},
    {op::RC_WRITE_LAST, "RC_RDMA_WRITE_LAST", "RC RDMA Write Last", 0, true, last, K::write},
    {op::RC_WRITE_LAST_IMM, "RC_RDMA_WRITE_LAST_WITH_IMMEDIATE", "RC RDMA Write Last Immediate", kImmDt, true,
     last, K::write},
    {op::RC_WRITE_ONLY, "RC_RDMA_WRITE_ONLY", "RC RDMA Write Only", kReth, true, only, K::write},
    {op::RC_WRITE_ONLY_IMM, "RC_RDMA_WRITE_ONLY_WITH_IMMEDIATE", "RC RDMA Write Only Immediate",
     kReth | kImmDt, true, only, K::write},
    {op::RC_READ_REQUEST, "RC_RDMA_READ_REQUEST", "RC RDMA Read Request", kReth, false, only, K::read_request},
    {op::RC_READ_RESPONSE_FIRST, "RC_RDMA_READ_RESPONSE_FIRST", "RC RDMA Read Response First", kAeth, true,
     first, K::read_response},
    {op::RC_READ_RESPONSE_MIDDLE, "RC_RDMA_READ_RESPONSE_MIDDLE", "RC RDMA Read Response Middle", 0, true,
     middle, K::read_response},
    {op::RC_READ_RESPONSE_LAST, "RC_RDMA_READ_RESPONSE_LAST", "RC RDMA Read Response Last", kAeth, true, last,
     K::read_response},
    {op::RC_READ_RESPONSE_ONLY, "RC_RDMA_READ_RESPONSE_ONLY", "RC RDMA Read Response Only", kAeth, true, only,
     K::read_response},
    {op::RC_ACK, "RC_ACKNOWLEDGE", "RC Acknowledge", kAeth, false, only, K::ack},
    {op::RC_ATOMIC_ACK, "RC_ATOMIC_ACKNOWLEDGE", "RC Atomic Acknowledge", kAeth | kAtomicAckEth, false, only,
     K::atomic_ack},
    {op::RC_CMP_SWAP, "RC_COMPARE_SWAP", "RC CmpSwap", kAtomicEth, false, only, K::atomic},
    {op::RC_FETCH_ADD, "RC_FETCH_ADD", "RC FetchAdd", kAtomicEth, false, only, K::atomic},
    {op::RC_SEND_LAST_INV, "RC_SEND_LAST_WITH_INVALIDATE", "RC Send Last Invalidate", kIeth, true, last,
     K::send},
    {op::RC_SEND_ONLY_INV, "RC_SEND_ONLY_WITH_INVALIDATE", "RC Send Only Invalidate", kIeth, true, only,
     K::send},
    // UC
    {op::UC_SEND_FIRST, "UC_SEND_FIRST", "UC Send First", 0, true, first, K::send},
    {op::UC_SEND_MIDDLE, "UC_SEND_MIDDLE", "UC Send Middle", 0, true, middle, K::send},
    {op::UC_SEND_LAST, "UC_SEND_LAST", "UC Send Last", 0, true, last, K::send},
    {op::UC_SEND_LAST_IMM, "UC_SEND_LAST_WITH_IMMEDIATE", "UC Send Last Immediate", kImmDt, true, last, K::send},
    {op::UC_SEND_ONLY, "UC_SEND_ONLY", "UC Send Only", 0, true, only, K::send},
    {op::UC_SEND_ONLY_IMM, "UC_SEND_ONLY_WITH_IMMEDIATE", "UC Send Only Immediate", kImmDt, true, only, K::send},
    {op::UC_WRITE_FIRST, "UC_RDMA_WRITE_FIRST", "UC RDMA Write First", kReth, true, first, K::write},
    {op::UC_WRITE_MIDDLE, "UC_RDMA_WRITE_MIDDLE", "UC RDMA Write Middle", 0, true, middle, K::write},
    {op::UC_WRITE_LAST, "UC_RDMA_WRITE_LAST", "UC RDMA Write Last", 0, true, last, K::write},
    {op::UC_WRITE_LAST_IMM, "UC_RDMA_WRITE_LAST_WITH_IMMEDIATE", "UC RDMA Write Last Immediate", kImmDt, true,
     last, K::write},
    {op::UC_WRITE_ONLY, "UC_RDMA_WRITE_ONLY", "UC RDMA Write Only", kReth, true, only, K::write},
    {op::UC_WRITE_ONLY_IMM, "UC_RDMA_WRITE_ONLY_WITH_IMMEDIATE", "UC RDMA Write Only Immediate",
     kReth | kImmDt, true, only, K::write},
    // UD
    {op::UD_SEND_ONLY, "UD_SEND_ONLY", "UD Send Only", kDeth, true, only, K::send},
    {op::UD_SEND_ONLY_IMM, "UD_SEND_ONLY_WITH_IMMEDIATE", "UD Send Only Immediate", kDeth | kImmDt, true, only,
     K::send},
    // RoCE v2 congestion notification
    {op::CNP, "CNP", "CNP", kCnpPad, false, only, K::cnp},
};

constexpr std::array<const OpcodeInfo*, 256> make_index() {
  std::array<const OpcodeInfo*, 256> idx{};
  for (const auto& e : kTable) idx[e.opcode] = &e;
  return idx;
}
constexpr auto kIndex = make_index();

}  // namespace

const OpcodeInfo* opcode_info(uint8_t opcode) { return kIndex[opcode]; }

size_t ext_headers_len(uint16_t h) {
  size_t n = 0;
  if (h & kDeth) n += kDethLen;
  if (h & kReth) n += kRethLen;
  if (h & kAtomicEth) n += kAtomicEthLen;
  if (h & kAeth) n += kAethLen;
  if (h & kAtomicAckEth) n += kAtomicAckEthLen;
  if (h & kImmDt) n += kImmDtLen;
  if (h & kIeth) n += kIethLen;
  if (h & kCnpPad) n += kCnpPadLen;
  return n;
}

const OpcodeInfo* opcode_table_begin() { return std::begin(kTable); }
const OpcodeInfo* opcode_table_end() { return std::end(kTable); }

}  // namespace rfab::wire
