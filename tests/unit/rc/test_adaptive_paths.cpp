// Adaptive entropy: a sprayed QP steers away from the port whose path is slow, marks ECN-CE or loses
// packets, probes it, and takes it back once it behaves; per-port counters on both sides.
#include <cstring>
#include <map>

#include "harness.hpp"
#include "rfab/wire/packet.hpp"

namespace rfab::rc::test {
namespace {

constexpr uint16_t kPaths = 4;
constexpr uint32_t kChunk = 128 << 10;

uint16_t port_of(uint32_t index) { return entropy_port(0x11, 0x22, index); }

struct Transfer {
  Nanos took = 0;
  std::map<uint16_t, uint64_t> sent;  // A's request packets per source port, from the wire log
  std::map<uint16_t, uint64_t> sent_last_quarter;  // the same over the last quarter of the transfer
  std::vector<PathStats> a, b;
  QpStats a_stats, b_stats;
};

// A WRITEs `kBytes` to B in kChunk messages over kPaths ports; `fate` decides each packet's path behaviour.
Transfer transfer(EntropyPolicy::Kind kind, std::function<Fate(const WirePacket&, Nanos)> fate,
                  LossRecovery recovery = LossRecovery::go_back_n, uint32_t kBytes = 2 << 20) {
  ConnectOpts o;
  o.entropy = {kind, kPaths, 0};
  o.loss_recovery = recovery;
  o.mtu = Mtu::mtu1024;
  Pair p(2 * kBytes, o);
  p.fate = [&](const WirePacket& w) { return fate(w, p.now); };
  const auto data = pattern(kBytes, 21);
  std::memcpy(p.a.buf(), data.data(), data.size());
  std::vector<Sge> sges;
  for (uint32_t off = 0; off < kBytes; off += kChunk) sges.push_back(sge(p.a, off, kChunk));
  for (uint32_t i = 0; i < sges.size(); ++i) {
    const SendWr wr = write_wr(p, sges[i], size_t(i) * kChunk, i);
    EXPECT_TRUE(p.a.qp->post_send(wr).ok());
  }
  const Nanos start = p.now;
  auto wc = drain(p, p.a, sges.size());
  Transfer r;
  r.took = p.now - start;
  EXPECT_EQ(wc.size(), sges.size());
  for (const auto& w : wc) EXPECT_EQ(w.status, WcStatus::success) << to_string(w.status);
  EXPECT_EQ(0, std::memcmp(p.b.buf(), data.data(), kBytes)) << "data differs";
  std::vector<uint16_t> ports;
  for (const WirePacket& w : p.log)
    if (w.from == 0 && w.opcode != wire::op::CNP) ports.push_back(w.src_port);
  for (size_t i = 0; i < ports.size(); ++i) {
    r.sent[ports[i]]++;
    if (i >= ports.size() * 3 / 4) r.sent_last_quarter[ports[i]]++;
  }
  r.a = p.a.qp->path_stats();
  r.b = p.b.qp->path_stats();
  r.a_stats = p.a.qp->stats();
  r.b_stats = p.b.qp->stats();
  return r;
}

double share(const std::map<uint16_t, uint64_t>& sent, uint16_t port) {
  uint64_t all = 0;
  for (const auto& [_, n] : sent) all += n;
  return all ? double(sent.count(port) ? sent.at(port) : 0) / double(all) : 0;
}
double share(const Transfer& r, uint16_t port) { return share(r.sent, port); }

TEST(AdaptivePaths, SteersAwayFromASlowPathAndFinishesSooner) {
  const uint16_t slow = port_of(2);
  auto fate = [&](const WirePacket& w, Nanos) {
    Fate f;
    if (w.from == 0 && w.src_port == slow) f.delay = 300'000;
    return f;
  };
  // Long enough for several probes (a slow port stays aside for two of its round trips at least).
  const Transfer spray = transfer(EntropyPolicy::Kind::spray, fate, LossRecovery::go_back_n, 16 << 20);
  const Transfer adaptive = transfer(EntropyPolicy::Kind::adaptive, fate, LossRecovery::go_back_n, 16 << 20);
  std::printf("slow path share: spray %.3f in %.2f ms, adaptive %.3f in %.2f ms (%llu probes)\n", share(spray, slow),
              double(spray.took) / 1e6, share(adaptive, slow), double(adaptive.took) / 1e6,
              static_cast<unsigned long long>(adaptive.a[2].probes));
  EXPECT_NEAR(share(spray, slow), 0.25, 0.01);
  EXPECT_LT(share(adaptive, slow), 0.03);
  EXPECT_GT(adaptive.a[2].probes, 0u);      // it kept asking whether the path recovered
  EXPECT_GT(adaptive.a[2].slow_samples, 0u);
  EXPECT_GT(adaptive.a[2].set_aside, 0u);
  EXPECT_TRUE(adaptive.a[2].avoided);
  for (uint32_t i : {0u, 1u, 3u}) EXPECT_EQ(adaptive.a[i].set_aside, 0u) << "port " << i;
  EXPECT_LT(adaptive.took * 3, spray.took);
  EXPECT_EQ(adaptive.a_stats.retransmits, 0u);
}

TEST(AdaptivePaths, SteersAwayFromAPathThatMarksEcn) {
  const uint16_t marked = port_of(1);
  auto fate = [&](const WirePacket& w, Nanos) {
    Fate f;
    if (w.from == 0 && w.src_port == marked) f.ce = true;
    return f;
  };
  const Transfer spray = transfer(EntropyPolicy::Kind::spray, fate);
  const Transfer adaptive = transfer(EntropyPolicy::Kind::adaptive, fate);
  std::printf("marked path share: spray %.3f (%llu CNPs), adaptive %.3f (%llu CNPs)\n", share(spray, marked),
              static_cast<unsigned long long>(spray.a_stats.cnps_received), share(adaptive, marked),
              static_cast<unsigned long long>(adaptive.a_stats.cnps_received));
  EXPECT_NEAR(share(spray, marked), 0.25, 0.01);
  EXPECT_LT(share(adaptive, marked), 0.10);
  // Every CNP named the marked port (the responder echoes it), on both policies.
  EXPECT_EQ(spray.a[1].cnps, spray.a_stats.cnps_received);
  EXPECT_GT(adaptive.a[1].cnps, 0u);
  EXPECT_EQ(adaptive.a[1].cnps, adaptive.a_stats.cnps_received);
  // The responder counted the marks on that port only.
  EXPECT_EQ(adaptive.b[1].rx_ecn_ce, adaptive.b[1].rx_packets);
  for (uint32_t i : {0u, 2u, 3u}) EXPECT_EQ(adaptive.b[i].rx_ecn_ce, 0u);
}

TEST(AdaptivePaths, SteersAwayFromALossyPath) {
  const uint16_t lossy = port_of(3);
  std::mt19937 rng(9);
  auto fate = [&](const WirePacket& w, Nanos) {
    Fate f;
    if (w.from == 0 && w.src_port == lossy) f.drop = rng() % 10 == 0;
    return f;
  };
  const Transfer spray = transfer(EntropyPolicy::Kind::spray, fate, LossRecovery::selective);
  const Transfer adaptive = transfer(EntropyPolicy::Kind::adaptive, fate, LossRecovery::selective);
  std::printf("lossy path share: spray %.3f (%llu resends), adaptive %.3f (%llu resends, %llu NAKs on it)\n",
              share(spray, lossy), static_cast<unsigned long long>(spray.a_stats.selective_resends), share(adaptive, lossy),
              static_cast<unsigned long long>(adaptive.a_stats.selective_resends),
              static_cast<unsigned long long>(adaptive.a[3].naks));
  EXPECT_LT(share(adaptive, lossy), 0.10);
  EXPECT_GT(adaptive.a[3].naks, 0u);
  EXPECT_LT(adaptive.a_stats.selective_resends * 3, spray.a_stats.selective_resends);
}

TEST(AdaptivePaths, TakesARecoveredPathBack) {
  const uint16_t flaky = port_of(1);
  Nanos healed_at = kNever;
  auto fate = [&](const WirePacket& w, Nanos now) {
    Fate f;
    if (healed_at == kNever && w.index > 400) healed_at = now;  // slow for the first 400 packets only
    if (w.from == 0 && w.src_port == flaky && now < healed_at) f.delay = 300'000;
    return f;
  };
  const Transfer adaptive = transfer(EntropyPolicy::Kind::adaptive, fate, LossRecovery::go_back_n, 16 << 20);
  std::printf("flaky path: %llu packets, %llu probes, set aside %llu times\n",
              static_cast<unsigned long long>(adaptive.a[1].tx_packets),
              static_cast<unsigned long long>(adaptive.a[1].probes),
              static_cast<unsigned long long>(adaptive.a[1].set_aside));
  EXPECT_GT(adaptive.a[1].set_aside, 0u);
  EXPECT_FALSE(adaptive.a[1].avoided);
  EXPECT_NEAR(share(adaptive.sent_last_quarter, flaky), 0.25, 0.02);  // back in the rotation
}

TEST(AdaptivePaths, BothSidesCountEveryPacketPerPort) {
  const Transfer r = transfer(EntropyPolicy::Kind::spray, [](const WirePacket&, Nanos) { return Fate{}; });
  ASSERT_EQ(r.a.size(), kPaths);
  ASSERT_EQ(r.b.size(), kPaths);
  for (uint32_t i = 0; i < kPaths; ++i) {
    EXPECT_EQ(r.a[i].src_port, port_of(i));
    EXPECT_EQ(r.b[i].src_port, port_of(i));  // the peer's set is the same (the flow label is symmetric)
    EXPECT_EQ(r.a[i].tx_packets, r.sent.at(port_of(i)));
    EXPECT_EQ(r.b[i].rx_packets, r.a[i].tx_packets);
    EXPECT_FALSE(r.a[i].avoided);
  }
}

// Toward a fixed-port peer (rxe, an RNIC) the CNP leaves with the QP's rxe port, as rxe sends it.
TEST(AdaptivePaths, FixedPortQpSendsCnpsWithTheRxePort) {
  ConnectOpts o;
  Pair p(1 << 20, o);
  p.fate = [](const WirePacket& w) {
    Fate f;
    f.ce = w.from == 0;
    return f;
  };
  post_send_and_recv(p, 10000, 10000);
  ASSERT_EQ(drain(p, p.a, 1).size(), 1u);
  int cnps = 0;
  for (const WirePacket& w : p.log)
    if (w.opcode == wire::op::CNP) {
      ++cnps;
      EXPECT_EQ(w.src_port, rxe_src_port(0x22, 0x11));
    }
  EXPECT_GT(cnps, 0);
}

}  // namespace
}  // namespace rfab::rc::test
