// The fabric's parts on their own: egress ports, the shared buffer with PFC accounting, ECN marking and
// the routing policies.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "rfab/emu/ecn_marker.hpp"
#include "rfab/emu/egress_port.hpp"
#include "rfab/emu/router.hpp"
#include "rfab/emu/shared_buffer.hpp"
#include "rfab/topology/spec.hpp"

using namespace rfab;
using namespace rfab::emu;

namespace {

constexpr Picos kUs = 1'000'000;
constexpr uint32_t kFrame = 4096 + kRoceHeaderBytes;  // a full data frame, 4158 bytes
constexpr uint32_t kNil = PacketPool::kNil;

topo::FatTree tree(const std::string& spec) {
  return topo::FatTree(topo::parse_fat_tree(spec));
}

uint32_t packet(PacketPool& pool, PacketKind kind, uint32_t frame) {
  uint32_t i = pool.alloc();
  pool[i] = Packet{};
  pool[i].kind = kind;
  pool[i].frame = frame;
  return i;
}

// A 2-tier k=4 tree: leaf 0 holds hosts 0 and 1 and has two uplinks; host 7 sits on another leaf.
struct TwoPaths {
  topo::FatTree t = tree("fat-tree:k=4,tiers=2,speed=400G,latency=1us");
  topo::NodeId leaf = t.leaf_of(0);
  topo::Route up = t.route(leaf, 7);
  PacketPool pool;
  EventQueue q;
};

}  // namespace

TEST(EgressPorts, ControlFramesGoFirstAndIgnorePause) {
  TwoPaths n;
  EgressPorts ports(n.t, EmuConfig{}, n.pool, n.q);
  const uint32_t port = n.t.port(n.leaf, 0);
  uint32_t d1 = packet(n.pool, PacketKind::data, kFrame), d2 = packet(n.pool, PacketKind::data, kFrame);
  uint32_t cnp = packet(n.pool, PacketKind::cnp, kCnpFrameBytes);
  EXPECT_EQ(ports.push_data(port, d1), kFrame);
  EXPECT_EQ(ports.push_data(port, d2), 2 * kFrame);
  ports.push_control(port, cnp);
  ports[port].paused = true;
  EXPECT_EQ(ports.pop_next(port), cnp);
  EXPECT_EQ(ports.pop_next(port), kNil);  // data waits for the XON
  ports[port].paused = false;
  EXPECT_EQ(ports.pop_next(port), d1);
  EXPECT_EQ(ports[port].queued, kFrame);
  EXPECT_EQ(ports[port].max_queued, 2 * kFrame);
  EXPECT_EQ(ports.pop_next(port), d2);
  EXPECT_EQ(ports.pop_next(port), kNil);
  EXPECT_EQ(ports[port].queued, 0u);
}

TEST(EgressPorts, TransmitSerialisesThenPropagates) {
  TwoPaths n;
  EgressPorts ports(n.t, EmuConfig{}, n.pool, n.q);
  const uint32_t port = n.t.port(n.leaf, n.up.first);
  uint32_t d = packet(n.pool, PacketKind::data, kFrame);
  ports.transmit(port, d, 1000);
  EXPECT_TRUE(ports[port].busy);
  EXPECT_EQ(ports[port].tx_bytes, kFrame);
  Event done = n.q.pop();  // 4178 bytes on the line at 400G: 83,560 ps exactly
  EXPECT_EQ(done.kind, kTxDone);
  EXPECT_EQ(done.target, port);
  EXPECT_EQ(done.time, 1000u + 83'560u);
  Event arrive = n.q.pop();
  EXPECT_EQ(arrive.kind, kArrive);
  EXPECT_EQ(arrive.target, n.t.peer(port));
  EXPECT_EQ(arrive.arg, d);
  EXPECT_EQ(arrive.time, 1000u + 83'560u + kUs);
  ports.signal_pfc(port, true, 2 * kUs);  // a 64-byte frame (84 on the line: 1,680 ps) plus the latency
  Event pause = n.q.pop();
  EXPECT_EQ(pause.kind, kPfc);
  EXPECT_EQ(pause.target, n.t.peer(port));
  EXPECT_EQ(pause.arg, 1u);
  EXPECT_EQ(pause.time, 3 * kUs + 1'680u);
}

TEST(SharedBuffer, PausesAboveXoffAndResumesHysteresisBelow) {
  TwoPaths n;
  EmuConfig cfg;
  cfg.switch_buffer_bytes = 16 << 20;
  cfg.pfc.headroom_bytes = 100 * 1024;
  SharedBuffer b(n.t, cfg);
  const uint32_t sw = n.leaf - n.t.hosts();
  IngressAccount in;
  EXPECT_EQ(b.headroom_bytes(), 100u * 1024u);
  // alpha x free is below xoff_min here, so the threshold stays at xoff_min = 256 KiB: the 64th frame
  // (266,112 bytes) crosses it.
  EXPECT_EQ(b.xoff_threshold(sw), cfg.pfc.xoff_min_bytes);
  for (int i = 1; i < 64; ++i) EXPECT_FALSE(b.charge(sw, in, kFrame)) << i;
  EXPECT_TRUE(b.charge(sw, in, kFrame));
  EXPECT_FALSE(b.charge(sw, in, kFrame));  // one XOFF per crossing
  // Resume once the ingress holds at most 256 KiB - 128 KiB: 31 frames (128,898 bytes).
  for (int left = 64; left > 31; --left) EXPECT_FALSE(b.release(sw, in, kFrame)) << left;
  EXPECT_TRUE(b.release(sw, in, kFrame));
  EXPECT_FALSE(b.release(sw, in, kFrame));
}

TEST(SharedBuffer, XoffThresholdFollowsFreeBuffer) {
  TwoPaths n;
  EmuConfig cfg;
  cfg.pfc.xoff_min_bytes = 1024;
  cfg.pfc.headroom_bytes = 64 * 1024;
  SharedBuffer b(n.t, cfg);
  const uint32_t sw = n.leaf - n.t.hosts();
  IngressAccount in;
  const uint64_t cap = cfg.switch_buffer_bytes - n.t.port_count(n.leaf) * cfg.pfc.headroom_bytes;
  EXPECT_EQ(b.xoff_threshold(sw), uint64_t(cfg.pfc.alpha * double(cap)));
  b.charge(sw, in, 1 << 20);
  EXPECT_EQ(b.xoff_threshold(sw), uint64_t(cfg.pfc.alpha * double(cap - (1 << 20))));
}

TEST(SharedBuffer, LossyAdmissionIsADynamicThreshold) {
  TwoPaths n;
  EmuConfig cfg;
  cfg.pfc.enabled = false;
  cfg.switch_buffer_bytes = 1 << 20;
  cfg.dt_alpha = 0.5;
  SharedBuffer b(n.t, cfg);
  const uint32_t sw = n.leaf - n.t.hosts();
  IngressAccount in;
  EXPECT_TRUE(b.admit(sw, (1 << 19) - kFrame, kFrame));  // an egress queue may hold half the free buffer
  EXPECT_FALSE(b.admit(sw, (1 << 19) - kFrame + 1, kFrame));
  EXPECT_FALSE(b.charge(sw, in, (1 << 20) - 100));  // lossy: never a pause
  EXPECT_FALSE(b.admit(sw, 0, kFrame));             // the buffer itself is full
}

TEST(SharedBuffer, RefusesABufferTooSmallForPfcHeadroom) {
  TwoPaths n;
  EmuConfig cfg;
  cfg.switch_buffer_bytes = 100 * 1024;
  try {
    SharedBuffer b(n.t, cfg);
    FAIL() << "a 100 KiB buffer was accepted";
  } catch (const topo::TopologyError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot hold PFC headroom"), std::string::npos) << e.what();
  }
  cfg.pfc.enabled = false;  // lossy switches need no headroom
  EXPECT_NO_THROW((SharedBuffer{n.t, cfg}));
}

TEST(EcnMarker, FollowsTheWredProfile) {
  EcnConfig e;  // kmin 100 KiB, kmax 400 KiB, pmax 0.2
  EcnMarker m(e, 1);
  int below = 0, above = 0, mid = 0;
  const int n = 100'000;
  for (int i = 0; i < n; ++i) {
    below += m.mark(e.kmin_bytes);
    above += m.mark(e.kmax_bytes);
    mid += m.mark((e.kmin_bytes + e.kmax_bytes) / 2);
  }
  EXPECT_EQ(below, 0);
  EXPECT_EQ(above, n);
  EXPECT_NEAR(double(mid) / n, e.pmax / 2, 0.005);
  e.enabled = false;
  EcnMarker off(e, 1);
  EXPECT_FALSE(off.mark(10 * e.kmax_bytes));
}

TEST(EcnMarker, DrawsDependOnlyOnTheSeed) {
  EcnConfig e;
  EcnMarker a(e, 7), b(e, 7), c(e, 8);
  bool same = true, differs = false;
  for (int i = 0; i < 1000; ++i) {
    bool x = a.mark(250 * 1024), y = b.mark(250 * 1024), z = c.mark(250 * 1024);
    same &= x == y;
    differs |= x != z;
  }
  EXPECT_TRUE(same);
  EXPECT_TRUE(differs);
}

TEST(Router, EcmpPinsAFlowAndSpreadsFlows) {
  TwoPaths n;
  ASSERT_EQ(n.up.count, 2u);
  EgressPorts ports(n.t, EmuConfig{}, n.pool, n.q);
  Router r(n.t, ports, EmuConfig{});
  Packet p;
  p.src = 0;
  p.dst = 7;
  std::set<uint32_t> used;
  for (uint16_t sport = 0xC000; sport < 0xC040; ++sport) {
    p.sport = sport;
    const uint32_t first = r.next_hop(n.leaf, n.up, p, 0);
    used.insert(first);
    EXPECT_EQ(first, n.up.first + flow_hash(n.t, n.leaf, p) % n.up.count);
    for (p.psn = 0; p.psn < 8; ++p.psn) EXPECT_EQ(r.next_hop(n.leaf, n.up, p, p.psn * kUs), first);
  }
  EXPECT_EQ(used.size(), 2u);
  topo::Route single{3, 1};
  EXPECT_EQ(r.next_hop(n.leaf, single, p, 0), 3u);
}

TEST(Router, AdaptiveAvoidsLoadedAndPausedPorts) {
  TwoPaths n;
  EmuConfig cfg;
  cfg.routing = Routing::ar;
  EgressPorts ports(n.t, cfg, n.pool, n.q);
  Router r(n.t, ports, cfg);
  Packet p;
  p.src = 0;
  p.dst = 7;
  std::set<uint32_t> used;
  for (p.psn = 0; p.psn < 64; ++p.psn) used.insert(r.next_hop(n.leaf, n.up, p, 0));
  EXPECT_EQ(used.size(), 2u);  // equal queues: packets spray
  EgressPort& a = ports[n.t.port(n.leaf, n.up.first)];
  a.queued = cfg.ar_quantum_bytes;  // one quantum deeper than the other port
  for (p.psn = 0; p.psn < 64; ++p.psn) EXPECT_EQ(r.next_hop(n.leaf, n.up, p, 0), n.up.first + 1);
  a.queued = 0;
  a.paused = true;
  for (p.psn = 0; p.psn < 64; ++p.psn) EXPECT_EQ(r.next_hop(n.leaf, n.up, p, 0), n.up.first + 1);
}

TEST(Router, FlowletRepicksOnlyAfterAGap) {
  TwoPaths n;
  EmuConfig cfg;
  cfg.routing = Routing::flowlet;
  cfg.flowlet_gap_ps = 2 * kUs;
  EgressPorts ports(n.t, cfg, n.pool, n.q);
  Router r(n.t, ports, cfg);
  Packet p;
  p.src = 0;
  p.dst = 7;
  const uint32_t first = r.next_hop(n.leaf, n.up, p, 0);
  const uint32_t other = first == n.up.first ? n.up.first + 1 : n.up.first;
  ports[n.t.port(n.leaf, first)].queued = 10 * cfg.ar_quantum_bytes;
  EXPECT_EQ(r.next_hop(n.leaf, n.up, p, 1 * kUs), first);  // within the gap: the flowlet stays
  EXPECT_EQ(r.next_hop(n.leaf, n.up, p, 3 * kUs), first);  // 2 us after the previous packet, not more
  EXPECT_EQ(r.next_hop(n.leaf, n.up, p, 5 * kUs + 1), other);
}
