// Feeds arbitrary packets to an RC QP in RTS that has registered MRs, posted receives and outstanding
// requests of its own (so ACKs and responses reach the completer too). Checks, after every input:
//  - no crash / sanitizer report;
//  - no byte outside the MRs that remote peers may write changed (guards around and between regions, and
//    a REMOTE_READ-only region);
//  - every packet the QP emits decodes with the wire codec.
// Input: packets, each prefixed by a 2-byte big-endian length; when a prefix does not fit, the rest of the
// input (prefix included) is one packet, so raw UDP payload seeds (corpus/roce) work as single packets.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "rfab/endpoint/connect.hpp"
#include "rfab/rc/rc.hpp"
#include "rfab/wire/bytes.hpp"
#include "rfab/wire/packet.hpp"

using namespace rfab;
using namespace rfab::rc;

namespace {

constexpr size_t kGuard = 64, kRegion = 4096;
constexpr uint8_t kGuardByte = 0xA5, kReadOnlyByte = 0x5A;
constexpr uint32_t kQpn = 0x11, kPeer = 0x22;

// Layout: guard | W (remote write/read/atomic) | guard | R (local write: receives, READ/atomic targets) |
//         guard | C (remote read only) | guard
struct Memory {
  std::vector<uint8_t> bytes = std::vector<uint8_t>(4 * kGuard + 3 * kRegion, kGuardByte);
  uint8_t* region(int i) { return bytes.data() + kGuard + size_t(i) * (kRegion + kGuard); }
  bool intact() {
    for (int g = 0; g < 4; ++g) {
      const uint8_t* p = bytes.data() + size_t(g) * (kRegion + kGuard);
      for (size_t i = 0; i < kGuard; ++i)
        if (p[i] != kGuardByte) return false;
    }
    const uint8_t* c = region(2);
    for (size_t i = 0; i < kRegion; ++i)
      if (c[i] != kReadOnlyByte) return false;
    return true;
  }
};

void drain(QueuePair& qp, Nanos now, std::vector<uint8_t>& buf) {
  TxPacket pkt;
  pkt.buf = buf;
  for (int i = 0; i < 100000 && qp.poll_transmit(now, pkt); ++i) {
    auto dec = wire::decode_roce(std::span<const uint8_t>(buf.data(), pkt.len));
    if (!dec) std::abort();  // we emitted something our own decoder rejects
    if (dec->f.bth.dest_qp != kPeer) std::abort();
  }
}

// Random rkeys and addresses almost never name our MRs. When the top bit of the rkey is set, the RETH /
// AtomicETH is re-aimed at one of the three MRs (chosen by the low bits), at an offset that may start
// up to 64 bytes before it or run past its end, so the bounds and access checks are what gets fuzzed.
void aim(uint8_t* p, size_t len, const uint32_t keys[3], const uint64_t bases[3]) {
  if (len < 12 + 16) return;
  const wire::OpcodeInfo* info = wire::opcode_info(p[0]);
  if (info == nullptr || !(info->headers & (wire::kReth | wire::kAtomicEth))) return;
  uint8_t* eth = p + 12;  // RC: RETH / AtomicETH follow the BTH directly
  const uint32_t rkey = wire::load_be32(eth + 8);
  if (!(rkey & 0x80000000u)) return;
  const unsigned which = (rkey & 0xFF) % 3;
  const uint64_t off = wire::load_be64(eth) % (kRegion + 128);
  wire::store_be64(eth, bases[which] + off - 64);
  wire::store_be32(eth + 8, keys[which]);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 12) return 0;
  // Split into packets.
  std::vector<std::span<const uint8_t>> pkts;
  size_t pos = 0;
  while (pos < size && pkts.size() < 64) {
    if (size - pos >= 2) {
      const size_t len = wire::load_be16(data + pos);
      if (len <= size - pos - 2) {
        pkts.emplace_back(data + pos + 2, len);
        pos += 2 + len;
        continue;
      }
    }
    pkts.emplace_back(data + pos, size - pos);
    break;
  }
  const uint32_t first_psn = pkts[0].size() >= 12 ? wire::load_be24(pkts[0].data() + 9) : 0;

  Memory mem;
  std::memset(mem.region(0), 0, kRegion);
  std::memset(mem.region(1), 0, kRegion);
  std::memset(mem.region(2), kReadOnlyByte, kRegion);
  ProtectionDomain pd;
  MemoryRegion* w = pd.reg_mr(mem.region(0), kRegion, kLocalWrite | kRemoteWrite | kRemoteRead | kRemoteAtomic);
  MemoryRegion* r = pd.reg_mr(mem.region(1), kRegion, kLocalWrite);
  MemoryRegion* c = pd.reg_mr(mem.region(2), kRegion, kRemoteRead);
  CompletionQueue cq(1024);
  QpInit init;
  init.pd = &pd;
  init.send_cq = init.recv_cq = &cq;
  init.qp_num = kQpn;
  init.tuning.reorder_window = 16;
  QueuePair qp(init);
  endpoint::ConnectParams cp;
  cp.remote_qpn = kPeer;
  cp.remote_psn = first_psn;
  cp.local_psn = first_psn;
  cp.mtu = 256;
  cp.access = kRemoteWrite | kRemoteRead | kRemoteAtomic;
  cp.max_dest_rd_atomic = 4;
  cp.max_rd_atomic = 4;
  cp.min_rnr_timer = 1;
  cp.ack_timeout = 1;
  cp.retry_cnt = 2;
  cp.rnr_retry = 2;
  // The last input byte picks spraying, and the one before it selective recovery, so the reorder window
  // and the selective responder are fuzzed too.
  if (data[size - 1] & 1) cp.entropy = {EntropyPolicy::Kind::spray, 4, 0};
  if (size > 1 && (data[size - 2] & 1)) cp.loss_recovery = LossRecovery::selective;
  try {
    endpoint::connect(qp, cp);
  } catch (...) {
    std::abort();  // a fixed, valid set-up: refusing it is a bug
  }

  // Receives into R; our own READ / atomic / WRITE requests outstanding (their results land in R).
  for (uint64_t i = 0; i < 4; ++i) {
    const Sge s{r->iova() + i * 512, 512, r->lkey()};
    if (!qp.post_recv(RecvWr{i, {&s, 1}})) std::abort();
  }
  const Sge rd{r->iova() + 2048, 1000, r->lkey()};
  const Sge at{r->iova() + 3072, 8, r->lkey()};
  SendWr wr;
  wr.opcode = WrOpcode::rdma_read;
  wr.sg_list = {&rd, 1};
  wr.rdma = {0x1000, 0x1};
  if (!qp.post_send(wr)) std::abort();
  wr.opcode = WrOpcode::atomic_fetch_and_add;
  wr.sg_list = {&at, 1};
  wr.atomic = {0x2000, 1, 0, 0x1};
  if (!qp.post_send(wr)) std::abort();
  wr.opcode = WrOpcode::rdma_write;
  wr.sg_list = {&rd, 1};
  if (!qp.post_send(wr)) std::abort();

  const uint32_t keys[3] = {w->rkey(), r->rkey(), c->rkey()};
  const uint64_t bases[3] = {w->iova(), r->iova(), c->iova()};
  std::vector<uint8_t> buf(kMaxPacketBytes);
  std::vector<uint8_t> pkt(65536);
  Nanos now = 1000;
  drain(qp, now, buf);
  for (size_t i = 0; i < pkts.size(); ++i) {
    // Address the packet to our QP (otherwise almost every input stops at the QPN check).
    std::memcpy(pkt.data(), pkts[i].data(), pkts[i].size());
    if (pkts[i].size() >= 12) wire::store_be24(pkt.data() + 5, kQpn);
    aim(pkt.data(), pkts[i].size(), keys, bases);
    const bool ce = (i + size) % 3 == 0;
    qp.handle_packet(now, std::span<const uint8_t>(pkt.data(), pkts[i].size()), RxMeta{ce, 0});
    drain(qp, now, buf);
    now += 20'000;
    if (qp.next_deadline() <= now) qp.handle_timeout(now);
    drain(qp, now, buf);
    if (!mem.intact()) std::abort();
  }
  WorkCompletion wc[64];
  while (poll_cq(cq, 64, wc) > 0) {
  }
  return 0;
}
