// The device-like checks of ibv_modify_qp / ibv_post_send / ibv_reg_mr arguments (qp_rules.hpp).
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "qp_rules.hpp"

using namespace rfab;
using namespace rfab::uverbs;

namespace {

PortLimits v4_port() { return PortLimits{IBV_MTU_1024, 1, false}; }

ibv_qp_attr init_attr() {
  ibv_qp_attr a{};
  a.qp_state = IBV_QPS_INIT;
  a.port_num = 1;
  a.pkey_index = 0;
  a.qp_access_flags = IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ;
  return a;
}
constexpr int kInitMask = IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS;

ibv_qp_attr rtr_attr() {
  ibv_qp_attr a{};
  a.qp_state = IBV_QPS_RTR;
  a.path_mtu = IBV_MTU_1024;
  a.dest_qp_num = 0x1234;
  a.rq_psn = 77;
  a.max_dest_rd_atomic = 16;
  a.min_rnr_timer = 12;
  a.ah_attr.is_global = 1;
  a.ah_attr.port_num = 1;
  const uint8_t gid[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 2};
  std::memcpy(a.ah_attr.grh.dgid.raw, gid, 16);
  return a;
}
constexpr int kRtrMask = IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
                         IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER;

ibv_qp_attr rts_attr() {
  ibv_qp_attr a{};
  a.qp_state = IBV_QPS_RTS;
  a.sq_psn = 5;
  a.timeout = 14;
  a.retry_cnt = 7;
  a.rnr_retry = 7;
  a.max_rd_atomic = 16;
  return a;
}
constexpr int kRtsMask = IBV_QP_STATE | IBV_QP_SQ_PSN | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
                         IBV_QP_MAX_QP_RD_ATOMIC;

int modify_err(rc::QpState cur, const ibv_qp_attr& a, int mask, PortLimits lim = v4_port()) {
  ModifyPlan plan;
  return plan_modify(cur, a, mask, lim, plan).err;
}

}  // namespace

TEST(UverbsModifyRules, TheLadderPassesWithTheRequiredAttributes) {
  ModifyPlan plan;
  ASSERT_EQ(plan_modify(rc::QpState::reset, init_attr(), kInitMask, v4_port(), plan).err, 0);
  EXPECT_EQ(plan.attr.qp_state, rc::QpState::init);
  EXPECT_EQ(plan.mask, static_cast<uint32_t>(kInitMask));
  ASSERT_EQ(plan_modify(rc::QpState::init, rtr_attr(), kRtrMask, v4_port(), plan).err, 0);
  ASSERT_TRUE(plan.peer.has_value());
  EXPECT_EQ(plan.peer->to_string(), "10.0.0.2:4791");
  EXPECT_EQ(plan.mask & IBV_QP_AV, 0u) << "the address vector stays with the provider";
  ASSERT_EQ(plan_modify(rc::QpState::rtr, rts_attr(), kRtsMask, v4_port(), plan).err, 0);
  EXPECT_EQ(plan.attr.sq_psn, 5u);
}

TEST(UverbsModifyRules, TransitionsTheStateMachineLacksAreEinval) {
  ibv_qp_attr a = rtr_attr();
  EXPECT_EQ(modify_err(rc::QpState::reset, a, kRtrMask), EINVAL);  // RESET -> RTR skips INIT
  a = rts_attr();
  EXPECT_EQ(modify_err(rc::QpState::init, a, kRtsMask), EINVAL);   // INIT -> RTS skips RTR
  EXPECT_EQ(modify_err(rc::QpState::err, a, kRtsMask), EINVAL);    // ERR leaves only to RESET
  a.qp_state = IBV_QPS_RESET;
  EXPECT_EQ(modify_err(rc::QpState::err, a, IBV_QP_STATE), 0);
  a.qp_state = IBV_QPS_ERR;
  EXPECT_EQ(modify_err(rc::QpState::rts, a, IBV_QP_STATE), 0);
  a.qp_state = IBV_QPS_UNKNOWN;  // a value past IBV_QPS_ERR
  EXPECT_EQ(modify_err(rc::QpState::rts, a, IBV_QP_STATE), EINVAL);
}

TEST(UverbsModifyRules, MissingAndForeignAttributesAreEinval) {
  EXPECT_EQ(modify_err(rc::QpState::reset, init_attr(), kInitMask & ~IBV_QP_PORT), EINVAL);
  EXPECT_EQ(modify_err(rc::QpState::init, rtr_attr(), kRtrMask & ~IBV_QP_AV), EINVAL);
  EXPECT_EQ(modify_err(rc::QpState::init, rtr_attr(), kRtrMask & ~IBV_QP_MIN_RNR_TIMER), EINVAL);
  EXPECT_EQ(modify_err(rc::QpState::rtr, rts_attr(), kRtsMask & ~IBV_QP_SQ_PSN), EINVAL);
  // RTR -> RTS does not take the port; RESET -> INIT does not take a path MTU.
  EXPECT_EQ(modify_err(rc::QpState::rtr, rts_attr(), kRtsMask | IBV_QP_PORT), EINVAL);
  EXPECT_EQ(modify_err(rc::QpState::reset, init_attr(), kInitMask | IBV_QP_PATH_MTU), EINVAL);
  EXPECT_EQ(modify_err(rc::QpState::reset, init_attr(), kInitMask | IBV_QP_RATE_LIMIT), EINVAL);
  // Optional attributes a transition does take.
  EXPECT_EQ(modify_err(rc::QpState::rtr, rts_attr(), kRtsMask | IBV_QP_MIN_RNR_TIMER), 0);
  EXPECT_EQ(modify_err(rc::QpState::init, rtr_attr(), kRtrMask | IBV_QP_ACCESS_FLAGS), 0);
}

TEST(UverbsModifyRules, ValuesADeviceRefusesAreEinval) {
  ibv_qp_attr a = init_attr();
  a.port_num = 2;
  EXPECT_EQ(modify_err(rc::QpState::reset, a, kInitMask), EINVAL);
  a = init_attr();
  a.pkey_index = 1;
  EXPECT_EQ(modify_err(rc::QpState::reset, a, kInitMask), EINVAL);
  a = init_attr();
  a.qp_access_flags |= IBV_ACCESS_ZERO_BASED;
  EXPECT_EQ(modify_err(rc::QpState::reset, a, kInitMask), EINVAL);

  a = rtr_attr();
  a.ah_attr.is_global = 0;  // RoCE needs a GRH
  EXPECT_EQ(modify_err(rc::QpState::init, a, kRtrMask), EINVAL);
  a = rtr_attr();
  a.ah_attr.grh.sgid_index = 1;  // past the one-entry GID table
  EXPECT_EQ(modify_err(rc::QpState::init, a, kRtrMask), EINVAL);
  a = rtr_attr();
  std::memset(a.ah_attr.grh.dgid.raw, 0, 16);
  EXPECT_EQ(modify_err(rc::QpState::init, a, kRtrMask), EINVAL);
  a = rtr_attr();
  a.ah_attr.grh.dgid.raw[10] = 0x12;  // an IPv6 GID on an IPv4 port
  EXPECT_EQ(modify_err(rc::QpState::init, a, kRtrMask), EINVAL);
  a = rtr_attr();
  a.path_mtu = IBV_MTU_2048;  // above the port's active MTU (1024)
  EXPECT_EQ(modify_err(rc::QpState::init, a, kRtrMask), EINVAL);
  EXPECT_EQ(modify_err(rc::QpState::init, a, kRtrMask, PortLimits{IBV_MTU_4096, 1, false}), 0);
  a = rtr_attr();
  a.max_dest_rd_atomic = 129;
  EXPECT_EQ(modify_err(rc::QpState::init, a, kRtrMask), EINVAL);

  ibv_qp_attr r = rts_attr();
  r.retry_cnt = 8;
  EXPECT_EQ(modify_err(rc::QpState::rtr, r, kRtsMask), EINVAL);
  r = rts_attr();
  r.timeout = 32;
  EXPECT_EQ(modify_err(rc::QpState::rtr, r, kRtsMask), EINVAL);
  r = rts_attr();
  r.max_rd_atomic = 200;
  EXPECT_EQ(modify_err(rc::QpState::rtr, r, kRtsMask), EINVAL);
  r = rts_attr();
  r.cur_qp_state = IBV_QPS_INIT;  // not the state the QP is in
  EXPECT_EQ(modify_err(rc::QpState::rtr, r, kRtsMask | IBV_QP_CUR_STATE), EINVAL);
  r.cur_qp_state = IBV_QPS_RTR;
  EXPECT_EQ(modify_err(rc::QpState::rtr, r, kRtsMask | IBV_QP_CUR_STATE), 0);
}

TEST(UverbsModifyRules, AlternatePathsAreNotSupported) {
  ibv_qp_attr a = rtr_attr();
  EXPECT_EQ(modify_err(rc::QpState::init, a, kRtrMask | IBV_QP_ALT_PATH), EOPNOTSUPP);
}

TEST(UverbsModifyRules, PsnsAndQpnsKeepTheir24Bits) {
  ibv_qp_attr a = rtr_attr();
  a.rq_psn = 0xAB123456;
  a.dest_qp_num = 0xFF000042;
  ModifyPlan plan;
  ASSERT_EQ(plan_modify(rc::QpState::init, a, kRtrMask, v4_port(), plan).err, 0);
  EXPECT_EQ(plan.attr.rq_psn, 0x123456u);
  EXPECT_EQ(plan.attr.dest_qp_num, 0x42u);
}

TEST(UverbsSendRules, OpcodesFlagsAndSgeCountsAreChecked) {
  std::array<rc::Sge, kMaxSge> sges{};
  rc::SendWr out;
  uint8_t buf[64] = {};
  ibv_sge sge{reinterpret_cast<uint64_t>(buf), 64, 7};
  ibv_send_wr wr{};
  wr.sg_list = &sge;
  wr.num_sge = 1;
  wr.opcode = IBV_WR_LOCAL_INV;
  EXPECT_EQ(convert_send(wr, false, 0, {}, sges, out).err, EINVAL);
  wr.opcode = IBV_WR_SEND;
  wr.send_flags = IBV_SEND_IP_CSUM;
  EXPECT_EQ(convert_send(wr, false, 0, {}, sges, out).err, EINVAL);
  wr.send_flags = 0;
  wr.num_sge = 33;
  EXPECT_EQ(convert_send(wr, false, 0, {}, sges, out).err, EINVAL);
  wr.num_sge = -1;
  EXPECT_EQ(convert_send(wr, false, 0, {}, sges, out).err, EINVAL);
  wr.num_sge = 1;
  ASSERT_EQ(convert_send(wr, true, 0, {}, sges, out).err, 0);
  EXPECT_TRUE(out.send_flags & rc::kSignaled) << "sq_sig_all signals every WR";
  ASSERT_EQ(out.sg_list.size(), 1u);
  EXPECT_EQ(out.sg_list[0].lkey, 7u);
}

TEST(UverbsSendRules, ImmediateDataIsNetworkOrderInIbverbs) {
  std::array<rc::Sge, kMaxSge> sges{};
  rc::SendWr out;
  ibv_send_wr wr{};
  wr.opcode = IBV_WR_RDMA_WRITE_WITH_IMM;
  wr.imm_data = htonl(0x01020304);
  ASSERT_EQ(convert_send(wr, false, 0, {}, sges, out).err, 0);
  EXPECT_EQ(out.imm, 0x01020304u);
  rc::WorkCompletion wc;
  wc.wc_flags = rc::kWcWithImm;
  wc.imm = 0x0A0B0C0D;
  ibv_wc iwc;
  convert_wc(wc, iwc);
  EXPECT_EQ(iwc.imm_data, htonl(0x0A0B0C0D));
  EXPECT_EQ(iwc.wc_flags, static_cast<unsigned>(IBV_WC_WITH_IMM));
}

TEST(UverbsSendRules, InlineDataIsCopiedAndBounded) {
  std::array<rc::Sge, kMaxSge> sges{};
  rc::SendWr out;
  std::vector<uint8_t> slot(64, 0);
  uint8_t a[10], b[6];
  std::memset(a, 0x11, sizeof a);
  std::memset(b, 0x22, sizeof b);
  ibv_sge list[2] = {{reinterpret_cast<uint64_t>(a), 10, 0}, {reinterpret_cast<uint64_t>(b), 6, 0}};
  ibv_send_wr wr{};
  wr.opcode = IBV_WR_SEND;
  wr.send_flags = IBV_SEND_INLINE;
  wr.sg_list = list;
  wr.num_sge = 2;
  ASSERT_EQ(convert_send(wr, false, 64, InlineSlot{slot, 99}, sges, out).err, 0);
  ASSERT_EQ(out.sg_list.size(), 1u);
  EXPECT_EQ(out.sg_list[0].length, 16u);
  EXPECT_EQ(out.sg_list[0].lkey, 99u);
  EXPECT_EQ(slot[9], 0x11);
  EXPECT_EQ(slot[10], 0x22);
  EXPECT_EQ(convert_send(wr, false, 8, InlineSlot{slot, 99}, sges, out).err, EINVAL) << "longer than max_inline";
  wr.opcode = IBV_WR_RDMA_READ;
  EXPECT_EQ(convert_send(wr, false, 64, InlineSlot{slot, 99}, sges, out).err, EINVAL) << "inline READ";
}

TEST(UverbsMrRules, AccessFlags) {
  uint32_t acc = 0;
  EXPECT_EQ(mr_access(IBV_ACCESS_REMOTE_WRITE, acc).err, EINVAL) << "REMOTE_WRITE needs LOCAL_WRITE";
  EXPECT_EQ(mr_access(IBV_ACCESS_REMOTE_ATOMIC, acc).err, EINVAL);
  EXPECT_EQ(mr_access(IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_ZERO_BASED, acc).err, EINVAL);
  EXPECT_EQ(mr_access(IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_ON_DEMAND, acc).err, EINVAL);
  ASSERT_EQ(mr_access(IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ | IBV_ACCESS_RELAXED_ORDERING, acc).err, 0);
  EXPECT_EQ(acc, static_cast<uint32_t>(rc::kLocalWrite | rc::kRemoteRead)) << "optional flags are dropped";
  EXPECT_EQ(mr_access(IBV_ACCESS_REMOTE_READ, acc).err, 0);
}
