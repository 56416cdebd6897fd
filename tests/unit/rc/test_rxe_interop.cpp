// Wire-exactness against Linux soft-RoCE: the requests rdma_rxe sent in tests/data/rxe are fed to an rfab
// responder, and rfab's replies must be byte-identical (BTH .. payload; the ICRC is the driver's) to the
// replies rxe itself sent. rfab's requester must also produce rxe's request bytes for the same WR.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "rfab/endpoint/connect.hpp"
#include "rfab/pcap/pcap_file.hpp"
#include "rfab/rc/rc.hpp"
#include "rfab/wire/packet.hpp"

namespace rfab::rc {
namespace {

struct Captured {
  uint32_t src_ip;
  std::vector<uint8_t> roce;  // UDP payload
  uint16_t src_port;
  wire::RocePacket pkt() const { return *wire::decode_roce(roce); }
};

std::vector<Captured> read_capture(const std::string& name) {
  pcap::Reader r(std::string(RFAB_SOURCE_DIR) + "/tests/data/rxe/" + name);
  std::vector<Captured> out;
  pcap::Record rec;
  while (r.next(rec)) {
    auto fr = wire::decode_frame(rec.data, rec.link);
    if (!fr) continue;  // perftest's TCP exchange
    auto roce = rec.data.subspan(fr->roce_offset, fr->roce.length);
    out.push_back(Captured{fr->ip4.src, std::vector<uint8_t>(roce.begin(), roce.end()), fr->udp.src_port});
  }
  return out;
}

// Everything but the 4-byte ICRC slot.
std::vector<uint8_t> body(std::span<const uint8_t> b) { return std::vector<uint8_t>(b.begin(), b.end() - 4); }

struct Responder {
  explicit Responder(uint32_t qpn, uint32_t peer, uint32_t rq_psn, uint32_t sq_psn) : cq(1024), mem(1 << 16) {
    mr = pd.reg_mr(mem.data(), mem.size(), kLocalWrite | kRemoteRead | kRemoteWrite);
    QpInit init;
    init.pd = &pd;
    init.send_cq = init.recv_cq = &cq;
    init.qp_num = qpn;
    qp = std::make_unique<QueuePair>(init);
    endpoint::ConnectParams c;  // the engine's defaults otherwise, as when rxe's captures were compared
    c.remote_qpn = peer;
    c.remote_psn = rq_psn;
    c.local_psn = sq_psn;
    c.mtu = 1024;
    c.access = kRemoteRead | kRemoteWrite;
    c.max_dest_rd_atomic = 16;
    c.max_rd_atomic = 16;
    c.min_rnr_timer = 12;
    endpoint::connect(*qp, c);
  }
  ProtectionDomain pd;
  CompletionQueue cq;
  std::vector<uint8_t> mem;
  MemoryRegion* mr;
  std::unique_ptr<QueuePair> qp;
};

TEST(RxeInterop, SendOnlyIsAckedExactlyLikeRxe) {
  const auto cap = read_capture("mtu1024_send_64.pcap");
  ASSERT_GE(cap.size(), 100u);
  const uint32_t client = cap[0].src_ip;
  const auto first = cap[0].pkt();
  ASSERT_EQ(first.f.bth.opcode, wire::op::RC_SEND_ONLY);
  // The server's QPN is the requests' destination; the client's is the ACKs' destination.
  uint32_t client_qpn = 0;
  for (const auto& c : cap)
    if (c.src_ip != client) client_qpn = c.pkt().f.bth.dest_qp;
  Responder srv(first.f.bth.dest_qp, client_qpn, first.f.bth.psn, 0);
  for (uint64_t i = 0; i < 64; ++i) {
    const Sge s{srv.mr->iova() + i * 64, 64, srv.mr->lkey()};
    ASSERT_TRUE(srv.qp->post_recv(RecvWr{i, {&s, 1}}).ok());
  }
  std::vector<uint8_t> buf(kMaxPacketBytes);
  TxPacket pkt;
  pkt.buf = buf;
  // rxe answers every request with one packet, in order: the k-th reply goes with the k-th request
  // (the capture interleaves them, perftest keeps several in flight).
  std::vector<const Captured*> reqs, replies;
  for (const auto& c : cap) (c.src_ip == client ? reqs : replies).push_back(&c);
  ASSERT_EQ(reqs.size(), replies.size());
  size_t compared = 0;
  for (size_t k = 0; k < reqs.size(); ++k) {
    ASSERT_EQ(srv.qp->handle_packet(0, reqs[k]->roce, {}), RxResult::accepted) << k;
    ASSERT_TRUE(srv.qp->poll_transmit(0, pkt));
    EXPECT_EQ(body({buf.data(), pkt.len}), body(replies[k]->roce)) << "reply to request " << k;
    EXPECT_EQ(pkt.src_port, replies[k]->src_port);  // rxe's source port for this QP pair
    EXPECT_FALSE(srv.qp->poll_transmit(0, pkt));
    ++compared;
  }
  EXPECT_EQ(compared, 50u);
  WorkCompletion wc[64];
  EXPECT_EQ(poll_cq(srv.cq, 64, wc), 50);
  EXPECT_EQ(0, std::memcmp(srv.mem.data(), cap[0].pkt().payload.data(), 64));
}

TEST(RxeInterop, RequesterSendsRxeBytes) {
  const auto cap = read_capture("mtu1024_send_64.pcap");
  const auto req = cap[0].pkt();
  uint32_t client_qpn = 0;
  for (const auto& c : cap)
    if (c.src_ip != cap[0].src_ip) client_qpn = c.pkt().f.bth.dest_qp;
  Responder cli(client_qpn, req.f.bth.dest_qp, 0, req.f.bth.psn);
  std::memcpy(cli.mem.data(), req.payload.data(), req.payload.size());
  const Sge s{cli.mr->iova(), static_cast<uint32_t>(req.payload.size()), cli.mr->lkey()};
  SendWr wr;
  wr.sg_list = {&s, 1};
  ASSERT_TRUE(cli.qp->post_send(wr).ok());
  std::vector<uint8_t> buf(kMaxPacketBytes);
  TxPacket pkt;
  pkt.buf = buf;
  ASSERT_TRUE(cli.qp->poll_transmit(0, pkt));
  EXPECT_EQ(body({buf.data(), pkt.len}), body(cap[0].roce));
  EXPECT_EQ(pkt.src_port, cap[0].src_port);
}

TEST(RxeInterop, ReadResponseMatchesRxe) {
  const auto cap = read_capture("mtu1024_read_64.pcap");
  ASSERT_GE(cap.size(), 2u);
  const uint32_t client = cap[0].src_ip;
  const auto first = cap[0].pkt();
  ASSERT_EQ(first.f.bth.opcode, wire::op::RC_READ_REQUEST);
  uint32_t client_qpn = 0;
  for (const auto& c : cap)
    if (c.src_ip != client) client_qpn = c.pkt().f.bth.dest_qp;
  Responder srv(first.f.bth.dest_qp, client_qpn, first.f.bth.psn, 0);
  std::vector<uint8_t> buf(kMaxPacketBytes);
  TxPacket pkt;
  pkt.buf = buf;
  std::vector<const Captured*> reqs, replies;
  for (const auto& c : cap) (c.src_ip == client ? reqs : replies).push_back(&c);
  ASSERT_EQ(reqs.size(), replies.size());
  size_t compared = 0;
  for (size_t k = 0; k < reqs.size(); ++k) {
    const auto reply = replies[k]->pkt();
    // Our MR has other addresses and keys than the server's: point the request at ours and put the bytes
    // rxe returned where it reads.
    std::vector<uint8_t> req = reqs[k]->roce;
    auto r = reqs[k]->pkt();
    std::memcpy(srv.mem.data() + 128, reply.payload.data(), reply.payload.size());
    r.f.reth.va = srv.mr->iova() + 128;
    r.f.reth.rkey = srv.mr->rkey();
    ASSERT_TRUE(wire::encode_roce(r.f, {}, req).ok());
    ASSERT_EQ(srv.qp->handle_packet(0, req, {}), RxResult::accepted) << k;
    ASSERT_TRUE(srv.qp->poll_transmit(0, pkt));
    EXPECT_EQ(body({buf.data(), pkt.len}), body(replies[k]->roce)) << "reply to request " << k;
    EXPECT_EQ(pkt.src_port, replies[k]->src_port);
    ++compared;
  }
  EXPECT_GE(compared, 50u);
}

}  // namespace
}  // namespace rfab::rc
