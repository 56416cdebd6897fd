// The provider's ibv_* entry points, called in-process on the loopback interface: queries, argument
// errors as errno, and real traffic between two QPs of the device (loopback through kernel UDP).
#include <arpa/inet.h>
#include <infiniband/verbs.h>
#include <poll.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "rfab/base/env.hpp"

namespace {

// A 127.x address of this process's own (127.0.0.0/8 is local), so parallel runs do not share a port.
std::string own_loopback() {
  const unsigned p = static_cast<unsigned>(::getpid());
  return "127." + std::to_string(100 + (p >> 16) % 100) + "." + std::to_string((p >> 8) & 255) + "." +
         std::to_string(1 + (p & 255) % 254);
}

class LoopbackEnv : public ::testing::Environment {
 public:
  void SetUp() override {
    address = own_loopback();
    lookup = std::make_unique<rfab::env::ScopedLookup>(
        std::map<std::string, std::string>{{"RFAB_VERBS_IFACE", "lo@" + address}});
  }
  void TearDown() override { lookup.reset(); }
  static inline std::string address;
  std::unique_ptr<rfab::env::ScopedLookup> lookup;
};
const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new LoopbackEnv);

struct Device {
  ibv_context* ctx = nullptr;
  ibv_pd* pd = nullptr;
  Device() {
    int n = 0;
    ibv_device** list = ibv_get_device_list(&n);
    if (list != nullptr && n == 1) ctx = ibv_open_device(list[0]);
    ibv_free_device_list(list);
    if (ctx != nullptr) pd = ibv_alloc_pd(ctx);
  }
  ~Device() {
    if (pd != nullptr) ibv_dealloc_pd(pd);
    if (ctx != nullptr) ibv_close_device(ctx);
  }
};

ibv_qp* make_qp(ibv_pd* pd, ibv_cq* scq, ibv_cq* rcq, uint32_t inline_bytes = 0) {
  ibv_qp_init_attr ia{};
  ia.send_cq = scq;
  ia.recv_cq = rcq;
  ia.qp_type = IBV_QPT_RC;
  ia.cap.max_send_wr = 64;
  ia.cap.max_recv_wr = 64;
  ia.cap.max_send_sge = 2;
  ia.cap.max_recv_sge = 2;
  ia.cap.max_inline_data = inline_bytes;
  return ibv_create_qp(pd, &ia);
}

int to_init(ibv_qp* qp) {
  ibv_qp_attr a{};
  a.qp_state = IBV_QPS_INIT;
  a.port_num = 1;
  a.qp_access_flags = IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_ATOMIC;
  return ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS);
}

int connect(ibv_context* ctx, ibv_qp* qp, uint32_t peer_qpn) {
  ibv_qp_attr a{};
  a.qp_state = IBV_QPS_RTR;
  a.path_mtu = IBV_MTU_1024;
  a.dest_qp_num = peer_qpn;
  a.rq_psn = 100;
  a.max_dest_rd_atomic = 4;
  a.min_rnr_timer = 1;
  a.ah_attr.is_global = 1;
  a.ah_attr.port_num = 1;
  if (ibv_query_gid(ctx, 1, 0, &a.ah_attr.grh.dgid) != 0) return -1;  // the peer is on this device
  int r = ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
                                    IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER);
  if (r != 0) return r;
  a = ibv_qp_attr{};
  a.qp_state = IBV_QPS_RTS;
  a.sq_psn = 100;
  a.timeout = 14;
  a.retry_cnt = 7;
  a.rnr_retry = 7;
  a.max_rd_atomic = 4;
  return ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_SQ_PSN | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
                                   IBV_QP_MAX_QP_RD_ATOMIC);
}

// Polls until one completion arrives (5 s at most).
bool poll_one(ibv_cq* cq, ibv_wc& wc) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < end)
    if (ibv_poll_cq(cq, 1, &wc) == 1) return true;
  return false;
}

}  // namespace

TEST(UverbsLoopback, OneRoceV2DevicePerChosenInterface) {
  int n = 0;
  ibv_device** list = ibv_get_device_list(&n);
  ASSERT_NE(list, nullptr);
  ASSERT_EQ(n, 1);
  EXPECT_STREQ(ibv_get_device_name(list[0]), "rfab_lo");
  ibv_free_device_list(list);

  Device d;
  ASSERT_NE(d.ctx, nullptr);
  ibv_port_attr port{};
  ASSERT_EQ(ibv_query_port(d.ctx, 1, &port), 0);
  EXPECT_EQ(port.state, IBV_PORT_ACTIVE);
  EXPECT_EQ(port.link_layer, IBV_LINK_LAYER_ETHERNET);
  EXPECT_EQ(port.active_mtu, IBV_MTU_4096) << "lo's 65536-byte MTU carries 4096-byte RoCE packets";
  EXPECT_EQ(port.gid_tbl_len, 1);
  EXPECT_NE(ibv_query_port(d.ctx, 2, &port), 0);

  ibv_gid gid{};
  ASSERT_EQ(ibv_query_gid(d.ctx, 1, 0, &gid), 0);
  char text[INET6_ADDRSTRLEN];
  ASSERT_NE(inet_ntop(AF_INET6, gid.raw, text, sizeof text), nullptr);
  EXPECT_EQ(std::string(text), "::ffff:" + LoopbackEnv::address);
  EXPECT_EQ(ibv_query_gid(d.ctx, 1, 1, &gid), -1);

  ibv_gid_entry entry{};
  ASSERT_EQ(ibv_query_gid_ex(d.ctx, 1, 0, &entry, 0), 0);
  EXPECT_EQ(entry.gid_type, IBV_GID_TYPE_ROCE_V2);

  __be16 pkey = 0;
  ASSERT_EQ(ibv_query_pkey(d.ctx, 1, 0, &pkey), 0);
  EXPECT_EQ(ntohs(pkey), 0xffff);

  ibv_device_attr attr{};
  ASSERT_EQ(ibv_query_device(d.ctx, &attr), 0);
  EXPECT_EQ(attr.phys_port_cnt, 1);
  EXPECT_EQ(attr.atomic_cap, IBV_ATOMIC_HCA);
  ibv_device_attr_ex ex{};
  ASSERT_EQ(ibv_query_device_ex(d.ctx, nullptr, &ex), 0);
  EXPECT_EQ(ex.orig_attr.max_qp_rd_atom, attr.max_qp_rd_atom);
}

TEST(UverbsLoopback, BadArgumentsFailWithErrno) {
  Device d;
  ASSERT_NE(d.pd, nullptr);
  uint8_t buf[256];
  errno = 0;
  EXPECT_EQ(ibv_reg_mr(d.pd, buf, sizeof buf, IBV_ACCESS_REMOTE_WRITE), nullptr);
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(ibv_create_cq(d.ctx, 0, nullptr, nullptr, 0), nullptr);
  EXPECT_EQ(errno, EINVAL);

  ibv_cq* cq = ibv_create_cq(d.ctx, 64, nullptr, nullptr, 0);
  ASSERT_NE(cq, nullptr);
  ibv_qp_init_attr ia{};
  ia.send_cq = cq;
  ia.recv_cq = cq;
  ia.qp_type = IBV_QPT_UD;
  ia.cap.max_send_wr = ia.cap.max_recv_wr = 4;
  errno = 0;
  EXPECT_EQ(ibv_create_qp(d.pd, &ia), nullptr);
  EXPECT_EQ(errno, EOPNOTSUPP);
  ia.qp_type = IBV_QPT_RC;
  ia.cap.max_send_sge = 33;
  errno = 0;
  EXPECT_EQ(ibv_create_qp(d.pd, &ia), nullptr);
  EXPECT_EQ(errno, EINVAL);

  ibv_qp* qp = make_qp(d.pd, cq, cq);
  ASSERT_NE(qp, nullptr);
  EXPECT_EQ(qp->state, IBV_QPS_RESET);
  ibv_qp_attr a{};
  a.qp_state = IBV_QPS_RTS;
  EXPECT_EQ(ibv_modify_qp(qp, &a, IBV_QP_STATE), EINVAL) << "RESET -> RTS";
  EXPECT_EQ(qp->state, IBV_QPS_RESET);
  a.qp_state = IBV_QPS_INIT;
  EXPECT_EQ(ibv_modify_qp(qp, &a, IBV_QP_STATE), EINVAL) << "INIT without port, P_Key index, access";

  ibv_mr* mr = ibv_reg_mr(d.pd, buf, sizeof buf, IBV_ACCESS_LOCAL_WRITE);
  ASSERT_NE(mr, nullptr);
  ibv_sge sge{reinterpret_cast<uint64_t>(buf), 16, mr->lkey};
  ibv_send_wr wr{}, *bad = nullptr;
  wr.sg_list = &sge;
  wr.num_sge = 1;
  wr.opcode = IBV_WR_SEND;
  EXPECT_EQ(ibv_post_send(qp, &wr, &bad), EINVAL) << "post_send in RESET";
  EXPECT_EQ(bad, &wr);
  ASSERT_EQ(to_init(qp), 0);
  bad = nullptr;
  wr.opcode = IBV_WR_BIND_MW;
  EXPECT_EQ(ibv_post_send(qp, &wr, &bad), EINVAL);
  EXPECT_EQ(bad, &wr);

  EXPECT_EQ(ibv_destroy_cq(cq), EBUSY) << "a QP still uses it";
  EXPECT_EQ(ibv_dealloc_pd(d.pd), EBUSY) << "an MR and a QP still use it";
  ASSERT_EQ(ibv_destroy_qp(qp), 0);
  ASSERT_EQ(ibv_dereg_mr(mr), 0);
  ASSERT_EQ(ibv_destroy_cq(cq), 0);
}

TEST(UverbsLoopback, WriteSendReadAndAtomicsBetweenTwoQps) {
  Device d;
  ASSERT_NE(d.pd, nullptr);
  ibv_cq* scq = ibv_create_cq(d.ctx, 256, nullptr, nullptr, 0);
  ibv_cq* rcq = ibv_create_cq(d.ctx, 256, nullptr, nullptr, 0);
  ASSERT_NE(scq, nullptr);
  ASSERT_NE(rcq, nullptr);
  ibv_qp* a = make_qp(d.pd, scq, rcq, 64);
  ibv_qp* b = make_qp(d.pd, scq, rcq);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_EQ(to_init(a), 0);
  ASSERT_EQ(to_init(b), 0);
  ASSERT_EQ(connect(d.ctx, a, b->qp_num), 0);
  ASSERT_EQ(connect(d.ctx, b, a->qp_num), 0);
  EXPECT_EQ(a->state, IBV_QPS_RTS);

  constexpr size_t kLen = 256 * 1024;
  std::vector<uint8_t> src(kLen), dst(kLen, 0);
  for (size_t i = 0; i < kLen; ++i) src[i] = static_cast<uint8_t>(i * 7 + 3);
  const int acc = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_ATOMIC;
  ibv_mr* smr = ibv_reg_mr(d.pd, src.data(), kLen, acc);
  ibv_mr* dmr = ibv_reg_mr(d.pd, dst.data(), kLen, acc);
  ASSERT_NE(smr, nullptr);
  ASSERT_NE(dmr, nullptr);

  // RDMA WRITE a -> b's memory.
  ibv_sge sge{reinterpret_cast<uint64_t>(src.data()), kLen, smr->lkey};
  ibv_send_wr wr{}, *bad = nullptr;
  wr.wr_id = 1;
  wr.sg_list = &sge;
  wr.num_sge = 1;
  wr.opcode = IBV_WR_RDMA_WRITE;
  wr.send_flags = IBV_SEND_SIGNALED;
  wr.wr.rdma.remote_addr = reinterpret_cast<uint64_t>(dst.data());
  wr.wr.rdma.rkey = dmr->rkey;
  ASSERT_EQ(ibv_post_send(a, &wr, &bad), 0);
  ibv_wc wc{};
  ASSERT_TRUE(poll_one(scq, wc));
  EXPECT_EQ(wc.status, IBV_WC_SUCCESS);
  EXPECT_EQ(wc.opcode, IBV_WC_RDMA_WRITE);
  EXPECT_EQ(wc.wr_id, 1u);
  EXPECT_EQ(wc.qp_num, a->qp_num);
  EXPECT_EQ(dst, src);

  // SEND with immediate, inline: the source changes right after the post, the receiver sees the original.
  uint8_t msg[48];
  std::memset(msg, 0x5a, sizeof msg);
  std::vector<uint8_t> rbuf(64, 0);
  ibv_mr* rmr = ibv_reg_mr(d.pd, rbuf.data(), rbuf.size(), IBV_ACCESS_LOCAL_WRITE);
  ASSERT_NE(rmr, nullptr);
  ibv_sge rsge{reinterpret_cast<uint64_t>(rbuf.data()), 64, rmr->lkey};
  ibv_recv_wr rwr{}, *rbad = nullptr;
  rwr.wr_id = 7;
  rwr.sg_list = &rsge;
  rwr.num_sge = 1;
  ASSERT_EQ(ibv_post_recv(b, &rwr, &rbad), 0);
  ibv_sge msge{reinterpret_cast<uint64_t>(msg), sizeof msg, 0};
  wr = ibv_send_wr{};
  wr.wr_id = 2;
  wr.sg_list = &msge;
  wr.num_sge = 1;
  wr.opcode = IBV_WR_SEND_WITH_IMM;
  wr.send_flags = IBV_SEND_SIGNALED | IBV_SEND_INLINE;
  wr.imm_data = htonl(0xC0FFEE);
  ASSERT_EQ(ibv_post_send(a, &wr, &bad), 0);
  std::memset(msg, 0, sizeof msg);
  ASSERT_TRUE(poll_one(rcq, wc));
  EXPECT_EQ(wc.status, IBV_WC_SUCCESS);
  EXPECT_EQ(wc.opcode, IBV_WC_RECV);
  EXPECT_EQ(wc.wr_id, 7u);
  EXPECT_EQ(wc.byte_len, 48u);
  EXPECT_TRUE(wc.wc_flags & IBV_WC_WITH_IMM);
  EXPECT_EQ(ntohl(wc.imm_data), 0xC0FFEEu);
  EXPECT_EQ(rbuf[0], 0x5a);
  EXPECT_EQ(rbuf[47], 0x5a);
  ASSERT_TRUE(poll_one(scq, wc));
  EXPECT_EQ(wc.opcode, IBV_WC_SEND);

  // RDMA READ back from b's memory into a fresh buffer of a.
  std::vector<uint8_t> back(4096, 0);
  ibv_mr* bmr = ibv_reg_mr(d.pd, back.data(), back.size(), IBV_ACCESS_LOCAL_WRITE);
  ASSERT_NE(bmr, nullptr);
  ibv_sge bsge{reinterpret_cast<uint64_t>(back.data()), 4096, bmr->lkey};
  wr = ibv_send_wr{};
  wr.wr_id = 3;
  wr.sg_list = &bsge;
  wr.num_sge = 1;
  wr.opcode = IBV_WR_RDMA_READ;
  wr.send_flags = IBV_SEND_SIGNALED;
  wr.wr.rdma.remote_addr = reinterpret_cast<uint64_t>(dst.data()) + 1000;
  wr.wr.rdma.rkey = dmr->rkey;
  ASSERT_EQ(ibv_post_send(a, &wr, &bad), 0);
  ASSERT_TRUE(poll_one(scq, wc));
  EXPECT_EQ(wc.status, IBV_WC_SUCCESS);
  EXPECT_EQ(wc.opcode, IBV_WC_RDMA_READ);
  EXPECT_EQ(0, std::memcmp(back.data(), src.data() + 1000, 4096));

  // FETCH_AND_ADD and COMPARE_AND_SWAP on an 8-byte word of b's memory.
  uint64_t* word = reinterpret_cast<uint64_t*>(dst.data() + 4096);
  *word = 40;
  uint64_t* old = reinterpret_cast<uint64_t*>(back.data());
  ibv_sge osge{reinterpret_cast<uint64_t>(old), 8, bmr->lkey};
  wr = ibv_send_wr{};
  wr.wr_id = 4;
  wr.sg_list = &osge;
  wr.num_sge = 1;
  wr.opcode = IBV_WR_ATOMIC_FETCH_AND_ADD;
  wr.send_flags = IBV_SEND_SIGNALED;
  wr.wr.atomic.remote_addr = reinterpret_cast<uint64_t>(word);
  wr.wr.atomic.rkey = dmr->rkey;
  wr.wr.atomic.compare_add = 2;
  ASSERT_EQ(ibv_post_send(a, &wr, &bad), 0);
  ASSERT_TRUE(poll_one(scq, wc));
  EXPECT_EQ(wc.status, IBV_WC_SUCCESS);
  EXPECT_EQ(wc.opcode, IBV_WC_FETCH_ADD);
  EXPECT_EQ(*old, 40u);
  EXPECT_EQ(*word, 42u);
  wr.wr_id = 5;
  wr.opcode = IBV_WR_ATOMIC_CMP_AND_SWP;
  wr.wr.atomic.compare_add = 42;
  wr.wr.atomic.swap = 1000;
  ASSERT_EQ(ibv_post_send(a, &wr, &bad), 0);
  ASSERT_TRUE(poll_one(scq, wc));
  EXPECT_EQ(wc.opcode, IBV_WC_COMP_SWAP);
  EXPECT_EQ(*old, 42u);
  EXPECT_EQ(*word, 1000u);

  // A WRITE to a key the peer never registered: remote access error, and the QP moves to ERR.
  wr = ibv_send_wr{};
  wr.wr_id = 6;
  wr.sg_list = &sge;
  wr.num_sge = 1;
  wr.opcode = IBV_WR_RDMA_WRITE;
  wr.send_flags = IBV_SEND_SIGNALED;
  wr.wr.rdma.remote_addr = reinterpret_cast<uint64_t>(dst.data());
  wr.wr.rdma.rkey = dmr->rkey ^ 0x5500;
  ASSERT_EQ(ibv_post_send(a, &wr, &bad), 0);
  ASSERT_TRUE(poll_one(scq, wc));
  EXPECT_EQ(wc.status, IBV_WC_REM_ACCESS_ERR);
  ibv_qp_attr qa{};
  ibv_qp_init_attr qi{};
  ASSERT_EQ(ibv_query_qp(a, &qa, IBV_QP_STATE, &qi), 0);
  EXPECT_EQ(qa.qp_state, IBV_QPS_ERR);
  EXPECT_EQ(qi.cap.max_inline_data, 64u);

  ASSERT_EQ(ibv_destroy_qp(a), 0);
  ASSERT_EQ(ibv_destroy_qp(b), 0);
  for (ibv_mr* m : {smr, dmr, rmr, bmr}) ASSERT_EQ(ibv_dereg_mr(m), 0);
  ASSERT_EQ(ibv_destroy_cq(scq), 0);
  ASSERT_EQ(ibv_destroy_cq(rcq), 0);
}

TEST(UverbsLoopback, CompletionChannelWakesAWaiter) {
  Device d;
  ASSERT_NE(d.pd, nullptr);
  ibv_comp_channel* ch = ibv_create_comp_channel(d.ctx);
  ASSERT_NE(ch, nullptr);
  int tag = 0;
  ibv_cq* rcq = ibv_create_cq(d.ctx, 16, &tag, ch, 0);
  ibv_cq* scq = ibv_create_cq(d.ctx, 16, nullptr, nullptr, 0);
  ASSERT_NE(rcq, nullptr);
  ibv_qp* a = make_qp(d.pd, scq, rcq);
  ibv_qp* b = make_qp(d.pd, scq, rcq);
  ASSERT_EQ(to_init(a), 0);
  ASSERT_EQ(to_init(b), 0);
  ASSERT_EQ(connect(d.ctx, a, b->qp_num), 0);
  ASSERT_EQ(connect(d.ctx, b, a->qp_num), 0);
  std::vector<uint8_t> buf(128, 1);
  ibv_mr* mr = ibv_reg_mr(d.pd, buf.data(), buf.size(), IBV_ACCESS_LOCAL_WRITE);
  ibv_sge rs{reinterpret_cast<uint64_t>(buf.data() + 64), 64, mr->lkey};
  ibv_recv_wr rwr{}, *rbad = nullptr;
  rwr.sg_list = &rs;
  rwr.num_sge = 1;
  ASSERT_EQ(ibv_post_recv(b, &rwr, &rbad), 0);
  ASSERT_EQ(ibv_req_notify_cq(rcq, 0), 0);

  ibv_sge ss{reinterpret_cast<uint64_t>(buf.data()), 32, mr->lkey};
  ibv_send_wr wr{}, *bad = nullptr;
  wr.sg_list = &ss;
  wr.num_sge = 1;
  wr.opcode = IBV_WR_SEND;
  ASSERT_EQ(ibv_post_send(a, &wr, &bad), 0);
  // Nobody polls: the provider's progress thread moves the packets and raises the event.
  pollfd p{ch->fd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1) << "no completion event within 5 s";
  ibv_cq* ev_cq = nullptr;
  void* ev_ctx = nullptr;
  ASSERT_EQ(ibv_get_cq_event(ch, &ev_cq, &ev_ctx), 0);
  EXPECT_EQ(ev_cq, rcq);
  EXPECT_EQ(ev_ctx, &tag);
  ibv_ack_cq_events(ev_cq, 1);
  // Re-armed before it is drained (as programs do): the completion it already holds raises no new event.
  ASSERT_EQ(ibv_req_notify_cq(rcq, 0), 0);
  EXPECT_EQ(::poll(&p, 1, 200), 0) << "an event for a completion that was there before the CQ was armed";
  ibv_wc wc{};
  ASSERT_EQ(ibv_poll_cq(rcq, 1, &wc), 1);
  EXPECT_EQ(wc.byte_len, 32u);
  EXPECT_EQ(ibv_destroy_comp_channel(ch), EBUSY) << "a CQ still uses it";

  ASSERT_EQ(ibv_destroy_qp(a), 0);
  ASSERT_EQ(ibv_destroy_qp(b), 0);
  ASSERT_EQ(ibv_dereg_mr(mr), 0);
  ASSERT_EQ(ibv_destroy_cq(rcq), 0);
  ASSERT_EQ(ibv_destroy_cq(scq), 0);
  ASSERT_EQ(ibv_destroy_comp_channel(ch), 0);
}
