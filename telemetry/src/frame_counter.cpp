#include "rfab/telemetry/frame_counter.hpp"

#include <algorithm>
#include <cstring>

#include "rfab/telemetry/psn_window.hpp"

namespace rfab::telemetry {
namespace {

constexpr uint16_t kEthIpv4 = 0x0800, kEthIpv6 = 0x86DD, kEthVlan = 0x8100, kEthQinQ = 0x88A8;
constexpr uint8_t kIpProtoUdp = 17;

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t be32(const uint8_t* p) { return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3]; }

uint32_t nak_kind_of(uint8_t syndrome) {
  const uint8_t type = (syndrome >> 5) & 3, value = syndrome & 0x1F;
  if (type == 1) return RFAB_NAK_RNR;
  return value <= 4 ? uint32_t{value} : uint32_t{RFAB_NAK_OTHER};
}

uint32_t reorder_bucket(uint32_t d) {
  return d < 2 ? 0 : d < 4 ? 1 : d < 8 ? 2 : d < 16 ? 3 : d < 32 ? 4 : d < 64 ? 5 : d < 128 ? 6 : 7;
}

// The flow's word for source port `port` in its entropy table (claimed when new), or nullptr when full.
__u64* entropy_word(rfab_flow_stats& s, uint16_t port) {
  const __u64 tag = static_cast<uint64_t>(port + 1) << RFAB_ENTROPY_PORT_SHIFT;
  for (uint32_t k = 0; k < RFAB_ENTROPY_SLOTS; ++k) {
    __u64& w = s.entropy[(port + k) & (RFAB_ENTROPY_SLOTS - 1)];
    if ((w & ~RFAB_ENTROPY_COUNT_MASK) == tag) return &w;
    if (w == 0) {
      w = tag;
      return &w;
    }
  }
  return nullptr;
}

}  // namespace

size_t FrameCounter::KeyHash::operator()(const rfab_flow_key& k) const {
  uint64_t w[5];
  std::memcpy(w, &k, sizeof w);
  uint64_t h = 0x9E3779B97F4A7C15ull;
  for (uint64_t x : w) h = (h ^ x) * 0xBF58476D1CE4E5B9ull;
  return static_cast<size_t>(h ^ (h >> 31));
}

bool FrameCounter::KeyEq::operator()(const rfab_flow_key& a, const rfab_flow_key& b) const {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

FrameCounter::FrameCounter(const FrameCounterConfig& c) : c_(c) { flows_.reserve(std::min<uint32_t>(c.flow_capacity, 4096)); }

FrameCounter::Flow* FrameCounter::flow(rfab_totals& t, const rfab_flow_key& key) {
  if (last_ != UINT32_MAX && KeyEq{}(flows_[last_].stats.key, key)) return &flows_[last_];
  auto it = index_.find(key);
  if (it == index_.end()) {
    if (flows_.size() >= c_.flow_capacity) {
      ++t.flow_map_full;
      return nullptr;
    }
    it = index_.emplace(key, static_cast<uint32_t>(flows_.size())).first;
    Flow& f = flows_.emplace_back();
    f.stats.key = key;
    f.stats.owner_cpu_plus_one = 1;  // one counting thread: every add is the owner's
  }
  last_ = it->second;
  return &flows_[last_];
}

void FrameCounter::emit(const rfab_flow_key& key, uint32_t type, uint32_t psn, uint32_t expected, uint32_t value,
                        uint64_t now) {
  Event e;
  e.raw.ts_ns = now;
  e.raw.key = key;
  e.raw.type = type;
  e.raw.psn = psn;
  e.raw.expected_psn = expected;
  e.raw.value = value;
  events_.push_back(e);
}

void FrameCounter::track_psn(rfab_totals& t, Flow& f, const rfab_flow_key& key, uint32_t psn, bool is_read,
                             uint64_t now) {
  rfab_flow_stats& s = f.stats;
  const uint32_t expected = f.window.expected;
  rfab_psn_step st{};
  rfab_psn_window_step(&f.window, psn, is_read ? 1 : 0, now, c_.hole_timeout_ns, &st);
  auto lost = [&](uint32_t n) {
    s.lost += n;
    t.lost += n;
    emit(key, RFAB_EV_PSN_LOST, psn, expected, n, now);
  };
  switch (st.kind) {
    case RFAB_PSN_FORWARD:
      if (st.opened) {
        ++s.psn_gaps;
        s.psn_holes += st.opened;
        ++t.psn_gaps;
        t.psn_holes += st.opened;
      }
      if (st.lost) lost(st.lost);
      break;
    case RFAB_PSN_REORDERED:
      ++s.reordered;
      s.reorder_distance_sum += st.distance;
      ++s.reorder_hist[reorder_bucket(st.distance)];
      s.reorder_distance_max = std::max<uint64_t>(s.reorder_distance_max, st.distance);
      s.reorder_delay_max_ns = std::max<uint64_t>(s.reorder_delay_max_ns, st.age_ns);
      ++t.reordered;
      break;
    case RFAB_PSN_LATE:
      ++s.late;
      ++t.late;
      lost(1);
      break;
    case RFAB_PSN_DUPLICATE:
      ++s.duplicates;
      ++t.duplicates;
      break;
    case RFAB_PSN_TOO_OLD:
      ++s.too_old;
      ++t.too_old;
      break;
    default:
      return;  // the flow's first request
  }
  if (st.kind != RFAB_PSN_FORWARD) {
    ++s.psn_backwards;
    ++t.psn_backwards;
  }
}

void FrameCounter::count(std::span<const uint8_t> frame, uint64_t now, uint8_t dir) {
  rfab_totals& t = totals_[dir < RFAB_DIR_COUNT ? dir : RFAB_DIR_INGRESS];
  const uint8_t* d = frame.data();
  const size_t n = frame.size();
  ++t.frames;
  t.bytes += n;

  // Ethernet, VLAN tags, IP, UDP: the programs' rfab_parse_to_bth.
  if (n < 14) {
    ++t.not_roce;
    return;
  }
  uint16_t proto = be16(d + 12);
  size_t p = 14;
  for (int i = 0; i < 2 && (proto == kEthVlan || proto == kEthQinQ); ++i) {
    if (p + 4 > n) {
      ++t.not_roce;
      return;
    }
    proto = be16(d + p + 2);
    p += 4;
  }
  rfab_flow_key key{};
  key.dir = dir;
  uint8_t ecn = 0;
  if (proto == kEthIpv4) {
    const uint8_t ihl = d[p] & 0x0F;
    if (p + 20 > n || ihl < 5 || d[p + 9] != kIpProtoUdp || (be16(d + p + 6) & 0x3FFF)) {
      ++t.not_roce;
      return;
    }
    ecn = d[p + 1] & 3;
    key.family = 4;
    key.src[10] = key.src[11] = key.dst[10] = key.dst[11] = 0xFF;
    std::memcpy(&key.src[12], d + p + 12, 4);
    std::memcpy(&key.dst[12], d + p + 16, 4);
    p += size_t{ihl} * 4;
  } else if (proto == kEthIpv6) {
    if (p + 40 > n || d[p + 6] != kIpProtoUdp) {
      ++t.not_roce;
      return;
    }
    ecn = (be32(d + p) >> 20) & 3;
    key.family = 6;
    std::memcpy(key.src, d + p + 8, 16);
    std::memcpy(key.dst, d + p + 24, 16);
    p += 40;
  } else {
    ++t.not_roce;
    return;
  }
  if (p + 8 > n || be16(d + p + 2) != c_.roce_port) {
    ++t.not_roce;
    return;
  }
  const uint16_t sport = be16(d + p);
  const size_t bth = p + 8;
  if (bth + 12 > n) {
    ++t.malformed;
    return;
  }
  // The BTH (and an ACK's AETH): the programs' rfab_pkt_from_bth and rfab_account.
  const uint8_t opcode = d[bth];
  const uint32_t qp = be32(d + bth + 4) & 0xFFFFFF;
  const uint32_t psn = be32(d + bth + 8) & RFAB_PSN_MASK;
  const uint8_t cls = opcode_class(opcode);
  uint8_t syndrome = 0;
  if (cls == RFAB_OPC_ACK) {
    if (bth + 16 > n) {
      ++t.malformed;
      return;
    }
    syndrome = d[bth + 12];
  }
  key.qp = qp;
  ++t.roce_packets;
  t.roce_bytes += n;
  if (ecn == 3) ++t.ecn_ce;
  const bool is_nak = cls == RFAB_OPC_ACK && ((syndrome >> 5) & 1);
  if (is_nak) ++t.naks;
  Flow* f = flow(t, key);
  if (f == nullptr) {
    if (cls == RFAB_OPC_CNP) ++t.cnps;
    return;
  }
  rfab_flow_stats& s = f->stats;
  s.bytes += n;
  ++s.op_class[cls];
  if (__u64* w = entropy_word(s, sport)) ++*w;
  else ++s.entropy_other;
  if (ecn == 3) ++s.ecn_ce;
  if (is_nak) {
    ++s.naks[nak_kind_of(syndrome)];
    emit(key, RFAB_EV_NAK, psn, 0, syndrome, now);
  }
  if (cls == RFAB_OPC_CNP) {
    ++s.cnps;
    ++t.cnps;
    if (now - s.cnp_window_start_ns > c_.cnp_burst_window_ns) {
      s.cnp_window_start_ns = now;
      s.cnp_in_window = 0;
    }
    if (++s.cnp_in_window == c_.cnp_burst_threshold) emit(key, RFAB_EV_CNP_BURST, psn, 0, s.cnp_in_window, now);
  } else if (opcode_class_is_request(cls)) {
    track_psn(t, *f, key, psn, cls == RFAB_OPC_READ_REQUEST, now);
  }
}

CollectorSnapshot FrameCounter::snapshot() const {
  CollectorSnapshot s;
  s.taken = std::chrono::steady_clock::now();
  s.flow_map_entries = c_.flow_capacity;
  s.totals = totals_;
  s.flows.reserve(flows_.size());
  for (const Flow& f : flows_) {
    FlowRecord r;
    r.key = f.stats.key;
    r.stats = f.stats;
    r.stats.packets = 0;
    for (unsigned c = 0; c < RFAB_OPC_COUNT; ++c) r.stats.packets += r.stats.op_class[c];
    r.entropies = merge_entropy(r.stats);
    r.window = f.window;
    r.outstanding = outstanding_holes(r.window);
    s.flows.push_back(std::move(r));
  }
  std::sort(s.flows.begin(), s.flows.end(), [](const FlowRecord& a, const FlowRecord& b) {
    return std::memcmp(&a.key, &b.key, sizeof a.key) < 0;
  });
  return s;
}

std::vector<Event> FrameCounter::take_events() {
  std::vector<Event> out;
  out.swap(events_);
  return out;
}

}  // namespace rfab::telemetry
