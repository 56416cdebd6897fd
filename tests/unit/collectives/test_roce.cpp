// The RoCE transport without network namespaces: the ring/credit arithmetic on its own, two transports in
// one process over 127.0.0.1 (tiny rings, so every stream wraps and waits for credits many times; peer
// abort and departure), and whole communicators with RFAB_SHM=0 so that ranks on one machine talk RoCE
// over loopback.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstring>
#include <random>
#include <thread>

#include "harness.hpp"
#include "matrix.hpp"
#include "rfab/collectives/roce_transport.hpp"
#include "rfab/collectives/types.hpp"
#include "roce_window.hpp"

using namespace rfab::coll;
using namespace rfab::coll::test;
namespace roce = rfab::coll::roce;

// ---------------------------------------------------------------- arithmetic

TEST(RoceWindow, ImmediatesCarryKindAndLow30Bits) {
  uint32_t imm = roce::make_imm(roce::ImmKind::Credit, (uint64_t{7} << 40) | 12345);
  EXPECT_EQ(roce::imm_kind(imm), roce::ImmKind::Credit);
  EXPECT_EQ(roce::imm_value(imm), 12345u);
  EXPECT_EQ(roce::imm_kind(roce::make_imm(roce::ImmKind::Data, 0)), roce::ImmKind::Data);
  EXPECT_EQ(roce::imm_kind(roce::make_imm(roce::ImmKind::Control, roce::kAbort)), roce::ImmKind::Control);
}

TEST(RoceWindow, ExtendReconstructsOffsetsAcrossThe30BitWrap) {
  const uint64_t mask = roce::kImmMask;
  EXPECT_EQ(roce::extend(0, 100), 100u);
  EXPECT_EQ(roce::extend(mask - 10, 5), mask + 1 + 5);  // wrapped past 2^30
  const uint64_t base = (uint64_t{3} << 30) + 1000;
  EXPECT_EQ(roce::extend(base, static_cast<uint32_t>((base + 4096) & mask)), base + 4096);
  EXPECT_EQ(roce::extend(base, static_cast<uint32_t>(base & mask)), base);  // no advance
}

TEST(RoceWindow, SendSpaceCountsUnreleasedBytesAndToleratesAHeadAhead) {
  EXPECT_EQ(roce::send_space(0, 0, 65536), 65536u);
  EXPECT_EQ(roce::send_space(1000, 0, 65536), 64536u);
  EXPECT_EQ(roce::send_space(65536, 0, 65536), 0u);
  EXPECT_EQ(roce::send_space(100, 128, 65536), 65536u);  // receiver aligned its head past our tail
  EXPECT_EQ(roce::released(500, 300), 300u);             // credit given but our write not yet completed
  EXPECT_EQ(roce::released(300, 500), 300u);
}

TEST(RoceWindow, CreditsAreBatchedButAlwaysSentOnceTheReaderCaughtUp) {
  const size_t cap = 65536;
  EXPECT_FALSE(roce::credit_due(0, 0, 1000, cap));
  EXPECT_FALSE(roce::credit_due(100, 0, 1000, cap));       // small, and more is waiting to be read
  EXPECT_TRUE(roce::credit_due(cap / 4, 0, cap, cap));     // a quarter of the ring
  EXPECT_TRUE(roce::credit_due(100, 0, 100, cap));         // caught up: a blocked sender must hear
  EXPECT_TRUE(roce::credit_due(128, 0, 100, cap));         // head aligned past what arrived
  EXPECT_FALSE(roce::credit_due(100, 100, 100, cap));      // already reported
}

TEST(RoceWindow, WritesNeverCrossTheRingEnd) {
  const size_t cap = 65536;
  EXPECT_EQ(roce::next_write(0, 0, cap, 8192), 0u);
  EXPECT_EQ(roce::next_write(0, 100000, cap, 8192), 8192u);
  EXPECT_EQ(roce::next_write(cap - 100, cap + 500, cap, 8192), 100u);
  EXPECT_EQ(roce::next_write(cap, cap + 500, cap, 8192), 500u);
  EXPECT_EQ(roce::next_write(3 * cap + 10, 3 * cap + 20, cap, 8192), 10u);
}

TEST(RoceEndpointRecord, RoundTripsAndRejectsGarbage) {
  RoceEndpoint e;
  e.rank = 3;
  e.ip = "10.1.2.3";
  e.port = 40000;
  e.mtu = 4096;
  e.ring_bytes = 1 << 20;
  e.qps = {{0, 4, 0xABCDEF, 0x7f0000001000, 0x100}, {5, 6, 1, 2, 3}};
  RoceEndpoint d = RoceEndpoint::decode(e.encode());
  EXPECT_EQ(d.rank, 3);
  EXPECT_EQ(d.ip, "10.1.2.3");
  EXPECT_EQ(d.port, 40000);
  EXPECT_EQ(d.ring_bytes, uint64_t{1} << 20);
  ASSERT_EQ(d.qps.size(), 2u);
  ASSERT_NE(d.qp_to(0), nullptr);
  EXPECT_EQ(d.qp_to(0)->psn, 0xABCDEFu);
  EXPECT_EQ(d.qp_to(0)->ring_va, 0x7f0000001000u);
  EXPECT_EQ(d.qp_to(5)->rkey, 3u);
  EXPECT_EQ(d.qp_to(1), nullptr);
  EXPECT_THROW(RoceEndpoint::decode("roce1 3 10.1.2.3 40000 4096 1048576 2 0:4"), Error);
  EXPECT_THROW(RoceEndpoint::decode("hello"), Error);
}

TEST(RoceOptionsEnv, MalformedVariablesAreNamed) {
  auto expect_msg = [](const char* var, const char* val, const char* needle) {
    setenv(var, val, 1);
    try {
      RoceOptions::from_env("127.0.0.1", 0, std::chrono::seconds(5));
      ADD_FAILURE() << var << "=" << val << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
    unsetenv(var);
  };
  expect_msg("RFAB_ROCE_RING_BYTES", "100000", "RFAB_ROCE_RING_BYTES");
  expect_msg("RFAB_ROCE_RING_BYTES", "1024", "RFAB_ROCE_RING_BYTES");
  expect_msg("RFAB_ROCE_MTU", "1500", "RFAB_ROCE_MTU");
  expect_msg("RFAB_ROCE_ZERO_COPY_MIN", "lots", "RFAB_ROCE_ZERO_COPY_MIN");
  expect_msg("RFAB_ROCE_LANDING_MIN", "lots", "RFAB_ROCE_LANDING_MIN");
  expect_msg("RFAB_ROCE_LANDING_MIN", "0", "RFAB_ROCE_LANDING_MIN");
  expect_msg("RFAB_ROCE_FAULTS", "drop=2", "RFAB_ROCE_FAULTS");
  expect_msg("RFAB_ROCE_FAULTS", "losses=1%", "losses");
  expect_msg("RFAB_ROCE_PORT", "70000", "RFAB_ROCE_PORT");
  expect_msg("RFAB_ROCE_ADDR", "not-an-ip", "RFAB_ROCE_ADDR");
  expect_msg("RFAB_ROCE_IFACE", "nosuchif0", "nosuchif0");
  setenv("RFAB_ROCE_PORT", "40000", 1);
  EXPECT_EQ(RoceOptions::from_env("127.0.0.1", 3, std::chrono::seconds(5)).port, 40003);
  unsetenv("RFAB_ROCE_PORT");
  EXPECT_EQ(RoceOptions::from_env("127.0.0.1", 0, std::chrono::seconds(5)).mtu, 4096u);  // loopback: 64 KiB MTU
}

// ---------------------------------------------------------------- two transports over loopback

namespace {

struct LoopbackPair {
  Doorbell bell_a, bell_b;
  std::unique_ptr<RoceTransport> a, b;
  explicit LoopbackPair(size_t ring = 64 << 10, size_t ring_b = 0, size_t landing_min = size_t{256} << 10) {
    RoceOptions o;
    o.local_ip = "127.0.0.1";
    o.ring_bytes = ring;
    o.landing_min = landing_min;
    o.timeout = std::chrono::seconds(5);
    a = std::make_unique<RoceTransport>(0, 2, "hostA", std::vector<int>{1}, o, bell_a);
    if (ring_b != 0) o.ring_bytes = ring_b;
    b = std::make_unique<RoceTransport>(1, 2, "hostB", std::vector<int>{0}, o, bell_b);
    RoceEndpoint ea = a->local(), eb = b->local();
    ea.host = "hostA";
    eb.host = "hostB";
    if (ring_b != 0) {
      b->connect({ea});  // throws: the caller checks
      return;
    }
    a->connect({eb});
    b->connect({ea});
  }
};

// Drives both application sides from this thread: `msgs` messages of random sizes each way. With `plan`,
// each receiver lists its next messages (plan_recvs) at every eighth message boundary, as the exchange
// engine does when a call starts, offering every message's own buffer; bytes readable() shows in that
// buffer are landed there already and are only consumed.
void pump(LoopbackPair& lp, const std::vector<size_t>& sizes, size_t granule, bool plan = false) {
  Pair* pa = lp.a->pair(1);
  Pair* pb = lp.b->pair(0);
  ASSERT_NE(pa, nullptr);
  ASSERT_NE(pb, nullptr);
  EXPECT_EQ(lp.a->pair(0), nullptr);
  struct Dir {
    Pair* tx;
    Pair* rx;
    std::vector<std::vector<std::byte>> out, in;
    size_t smsg = 0, soff = 0, rmsg = 0, roff = 0, planned = 0;
  };
  std::mt19937 rng(7);
  Dir dirs[2] = {{pa, pb, {}, {}}, {pb, pa, {}, {}}};
  for (auto& d : dirs) {
    for (size_t s : sizes) {
      std::vector<std::byte> m(s);
      for (auto& x : m) x = static_cast<std::byte>(rng());
      d.out.push_back(std::move(m));
      d.in.emplace_back(s);
    }
  }
  auto deadline = Clock::now() + std::chrono::seconds(20);
  bool done = false;
  while (!done) {
    ASSERT_LT(Clock::now(), deadline) << "stream stalled";
    done = true;
    for (auto& d : dirs) {
      if (d.smsg < d.out.size()) {
        auto& m = d.out[d.smsg];
        if (d.soff == 0) d.tx->begin_send();
        size_t want = std::min<size_t>(m.size() - d.soff, 1 + rng() % 40000);
        if (want < m.size() - d.soff) want -= want % granule;
        d.soff += d.tx->try_send(m.data() + d.soff, want, granule);
        if (d.soff == m.size()) {
          ++d.smsg;
          d.soff = 0;
        }
      }
      if (d.rmsg < d.in.size()) {
        auto& m = d.in[d.rmsg];
        if (plan && d.roff == 0 && d.rmsg % 8 == 0 && d.planned <= d.rmsg) {
          std::vector<Pair::RecvPlan> next;
          for (size_t i = d.rmsg; i < std::min(d.in.size(), d.rmsg + 8); ++i) next.push_back({d.in[i].size(), d.in[i].data()});
          d.rx->plan_recvs(next);
          d.planned = d.rmsg + 8;
        }
        if (d.roff == 0) d.rx->begin_recv();
        auto v = d.rx->readable();
        size_t n = std::min(v.size(), m.size() - d.roff);
        if (n > 0) {
          if (v.data() != m.data() + d.roff) std::memcpy(m.data() + d.roff, v.data(), n);
          d.rx->consume(n);
          d.roff += n;
        }
        if (d.roff == m.size()) {
          ++d.rmsg;
          d.roff = 0;
        }
      }
      done &= d.rmsg == d.in.size();
    }
    std::this_thread::yield();
  }
  for (auto& d : dirs)
    for (size_t i = 0; i < d.out.size(); ++i) ASSERT_EQ(d.out[i], d.in[i]) << "message " << i;
}

}  // namespace

TEST(RoceLoopback, StreamsWrapTheRingAndWaitForCreditsBothWays) {
  LoopbackPair lp;  // 64 KiB rings: 3 MiB each way wraps ~50 times
  std::vector<size_t> sizes;
  std::mt19937 rng(1);
  size_t total = 0;
  while (total < (size_t{3} << 20)) {
    size_t s = 1 + rng() % 200000;
    s -= s % 8;
    if (s == 0) s = 8;
    sizes.push_back(s);
    total += s;
  }
  sizes.push_back(8);
  pump(lp, sizes, 8);
  auto st = lp.a->stats();
  EXPECT_GT(st.writes, 50u);
  EXPECT_GT(st.credits, 10u);
}

// Receiving in place: the peer writes planned messages straight into their buffers (landings); small
// rings make most land while the ring wraps for the others, and messages planned after their first bytes
// arrived (the pump sends ahead) go through the ring. Every byte is checked either way.
TEST(RoceLoopback, PlannedReceivesLandInTheCallersBuffers) {
  LoopbackPair lp(64 << 10, 0, 4096);
  std::vector<size_t> sizes;
  std::mt19937 rng(3);
  for (int i = 0; i < 120; ++i) {
    size_t s = 8 + rng() % 300000;
    sizes.push_back(s - s % 8);
  }
  pump(lp, sizes, 8, true);
  const auto a = lp.a->stats(), b = lp.b->stats();
  EXPECT_GT(a.landings + b.landings, 20u);
  EXPECT_GT(a.landed_bytes + b.landed_bytes, size_t{4} << 20) << "few messages landed";
}

TEST(RoceLoopback, TinyAndOddMessagesStayAligned) {
  LoopbackPair lp;
  std::vector<size_t> sizes;
  for (int i = 0; i < 500; ++i) sizes.push_back(1 + static_cast<size_t>(i * 37) % 301);
  pump(lp, sizes, 1);
}

TEST(RoceLoopback, PeerAbortIsReportedNamingIt) {
  LoopbackPair lp;
  lp.b->announce_abort();
  PeerNeed need{1, 100, false};
  auto deadline = Clock::now() + std::chrono::seconds(5);
  for (;;) {
    try {
      lp.a->check_peers({&need, 1});
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), Status::Remote);
      EXPECT_NE(std::string(e.what()).find("rank 1 (host hostB"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("aborted"), std::string::npos) << e.what();
      return;
    }
    ASSERT_LT(Clock::now(), deadline) << "abort never arrived";
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

TEST(RoceLoopback, PeerThatLeavesIsAnErrorOnlyIfWeStillNeedIt) {
  LoopbackPair lp;
  Pair* pb = lp.b->pair(0);
  pb->begin_send();
  const char msg[] = "last words";
  ASSERT_EQ(pb->try_send(reinterpret_cast<const std::byte*>(msg), sizeof msg, 1), sizeof msg);
  lp.b.reset();  // delivers "last words", then says goodbye
  PeerNeed satisfied{1, sizeof msg, false};
  PeerNeed wanting{1, sizeof msg + 1, false};
  auto deadline = Clock::now() + std::chrono::seconds(5);
  for (;;) {
    EXPECT_NO_THROW(lp.a->check_peers({&satisfied, 1}));
    try {
      lp.a->check_peers({&wanting, 1});
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("destroyed its communicator"), std::string::npos) << e.what();
      break;
    }
    ASSERT_LT(Clock::now(), deadline) << "departure never noticed";
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  Pair* pa = lp.a->pair(1);
  pa->begin_recv();
  auto v = pa->readable();
  ASSERT_EQ(v.size(), sizeof msg);
  EXPECT_EQ(std::memcmp(v.data(), msg, sizeof msg), 0);
}

TEST(RoceLoopback, MismatchedRingSizesAreRejectedNamingTheVariable) {
  try {
    LoopbackPair lp(64 << 10, 128 << 10);
    ADD_FAILURE() << "connected with different ring sizes";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("RFAB_ROCE_RING_BYTES"), std::string::npos) << e.what();
  }
}

TEST(RoceLoopback, LoopbackAddressFacingARemoteHostIsRejectedNamingTheFix) {
  Doorbell bell;
  RoceOptions o;
  o.local_ip = "127.0.0.1";
  RoceTransport t(0, 2, "hostA", {1}, o, bell);
  RoceEndpoint remote;
  remote.rank = 1;
  remote.ip = "10.11.12.13";
  remote.port = 4791;
  remote.mtu = 4096;
  remote.ring_bytes = o.ring_bytes;
  remote.qps = {{0, 1, 0, 0x1000, 0x100}};
  try {
    t.connect({remote});
    ADD_FAILURE() << "connected 127.0.0.1 to 10.11.12.13";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("RFAB_ROCE_ADDR"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("rank 0"), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------- communicators over loopback RoCE

class RoceComm : public ::testing::TestWithParam<int> {};

TEST_P(RoceComm, EveryCollectiveMatchesReference) {
  const int n = GetParam();
  Scope s{{Coll::AllReduce, Coll::Broadcast, Coll::Reduce, Coll::AllGather, Coll::ReduceScatter, Coll::AllToAll,
           Coll::SendRecv, Coll::Barrier},
          {DataType::I32, DataType::F32, DataType::BF16, DataType::U8},
          {RedOp::Sum, RedOp::Max},
          {0, 1, 13, 70001}};
  auto res = run_ranks(
      n,
      [&](int rank, const rfabUniqueId& id) {
        setenv("RFAB_SHM", "0", 1);
        setenv("RFAB_ROCE_RING_BYTES", "65536", 1);  // small rings: credits matter in every large case
        setenv("RFAB_TIMEOUT", "20", 1);
        return rank_body(rank, n, id, "roce", s);
      },
      std::chrono::seconds(60));
  EXPECT_TRUE(all_ok(res)) << describe(res);
}
INSTANTIATE_TEST_SUITE_P(Ranks, RoceComm, ::testing::Values(2, 3));

// Large messages go straight from the caller's buffer (no staging copy), and the RC engine resends from
// that buffer after a loss. So run() must wait for the acknowledgements, and a receive must not overwrite
// bytes a send may still resend (recursive doubling reduces into the very vector it is sending). Loss and
// reordering on every rank's receive path force resends throughout; every result of every rank is checked
// against the reference, for each algorithm (RFAB_ALGO) in turn.
class RoceZeroCopy : public ::testing::TestWithParam<const char*> {};

TEST_P(RoceZeroCopy, SendsFromTheCallersBufferSurviveLossAndReordering) {
  const int n = 3;
  const std::string algo = GetParam();
  Scope s{{Coll::AllReduce, Coll::AllGather, Coll::ReduceScatter, Coll::AllToAll, Coll::Broadcast},
          {DataType::I32, DataType::F64},
          {RedOp::Sum},
          {70001, 200003}};
  auto res = run_ranks(
      n,
      [&](int rank, const rfabUniqueId& id) {
        setenv("RFAB_SHM", "0", 1);
        setenv("RFAB_ALGO", algo.c_str(), 1);
        // 16 KiB chunks in a 2 MiB ring: up to 128 spans could be in flight, more than the 64 span
        // slots, so senders also wait for slots.
        setenv("RFAB_PROTO", "LL", 1);
        setenv("RFAB_ROCE_RING_BYTES", "2097152", 1);
        setenv("RFAB_ROCE_ZERO_COPY_MIN", "4096", 1);
        setenv("RFAB_ROCE_LANDING_MIN", "4096", 1);  // receives land in the callers' buffers, resends too
        const std::string faults = "drop=1%,reorder=1%,seed=" + std::to_string(rank + 11);
        setenv("RFAB_ROCE_FAULTS", faults.c_str(), 1);
        setenv("RFAB_TIMEOUT", "20", 1);
        return rank_body(rank, n, id, "roce-lossy-" + algo, s);
      },
      std::chrono::seconds(120));
  EXPECT_TRUE(all_ok(res)) << describe(res);
}
INSTANTIATE_TEST_SUITE_P(Algo, RoceZeroCopy, ::testing::Values("auto", "ring", "rd", "rhd", "tree"));
