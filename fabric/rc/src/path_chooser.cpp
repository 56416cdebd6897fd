#include "path_chooser.hpp"

#include <algorithm>

#include "psn.hpp"
#include "rfab/rc/qp.hpp"

namespace rfab::rc {
namespace {

constexpr uint32_t kStride = 0x9E5;  // entropy_port's step through the 14-bit port space
constexpr uint32_t kPortMask = 0x3FFF;

// kStride^-1 modulo 2^14 (Newton's iteration doubles the correct low bits each round).
constexpr uint32_t inverse_stride() {
  uint32_t x = kStride;
  for (int i = 0; i < 4; ++i) x *= 2 - kStride * x;
  return x & kPortMask;
}
static_assert(((kStride * inverse_stride()) & kPortMask) == 1);

// A round trip is slow when it exceeds the best port's smoothed one by half again plus this much (ACK
// coalescing alone moves samples by a few packet times).
constexpr Nanos kSlowMargin = 10'000;

}  // namespace

void PathChooser::configure(uint32_t local_qpn, uint32_t remote_qpn, const EntropyPolicy& policy, uint32_t window) {
  policy_ = policy;
  const uint32_t n = policy.kind == EntropyPolicy::Kind::fixed ? 1 : std::max<uint32_t>(1, policy.paths);
  base_ = static_cast<uint16_t>(rxe_src_port(local_qpn, remote_qpn) & kPortMask);
  stats_.assign(n, PathStats{});
  for (uint32_t i = 0; i < n; ++i) stats_[i].src_port = entropy_port(local_qpn, remote_qpn, i);
  ports_.assign(n, Port{});
  cursor_ = not_active_ = 0;
  probe_next_ = -1;
  ring_.clear();
  if (adaptive()) {
    uint32_t size = 1;
    while (size < window) size <<= 1;
    ring_.assign(size, Sent{});
  }
}

int PathChooser::index_of(uint16_t src_port) const {
  if ((src_port & 0xC000) != 0xC000) return -1;
  const uint32_t i = ((static_cast<uint32_t>(src_port & kPortMask) - base_) * inverse_stride()) & kPortMask;
  return i < stats_.size() ? static_cast<int>(i) : -1;
}

uint32_t PathChooser::choose(Nanos now) {
  const uint32_t n = paths();
  if (n == 1) return 0;
  if (adaptive() && not_active_ > 0) {
    // A port whose time aside is up gets one probe packet.
    for (uint32_t i = 0; i < n; ++i) {
      Port& p = ports_[i];
      if (p.use == Use::aside && now >= p.until) {
        p.use = Use::probing;
        p.probe_at = 0;
        probe_next_ = static_cast<int>(i);
        stats_[i].probes++;
        return i;
      }
    }
    for (uint32_t k = 0; k < n; ++k) {
      const uint32_t i = (cursor_ + k) % n;
      if (ports_[i].use == Use::active) {
        cursor_ = (i + 1) % n;
        return i;
      }
    }
    // Every port is aside or probing: nothing is better than plain spraying.
  }
  const uint32_t i = cursor_;
  cursor_ = (cursor_ + 1) % n;
  return i;
}

void PathChooser::sent(uint32_t psn, uint32_t index, Nanos now, bool resend) {
  stats_[index].tx_packets++;
  if (ring_.empty()) return;
  ring_[psn & (ring_.size() - 1)] = Sent{now, psn, static_cast<uint16_t>(index), !resend, true};
  if (probe_next_ == static_cast<int>(index)) {
    ports_[index].probe_psn = psn;
    ports_[index].probe_at = now;
    probe_next_ = -1;
  }
}

const PathChooser::Sent* PathChooser::find(uint32_t psn) const {
  if (ring_.empty()) return nullptr;
  const Sent& s = ring_[psn & (ring_.size() - 1)];
  return s.valid && s.psn == psn ? &s : nullptr;
}

Nanos PathChooser::best_srtt() const {
  Nanos best = 0;
  for (uint32_t i = 0; i < stats_.size(); ++i)
    if (ports_[i].use == Use::active && stats_[i].srtt != 0 && (best == 0 || stats_[i].srtt < best)) best = stats_[i].srtt;
  return best;
}

bool PathChooser::slow(Nanos rtt) const {
  const Nanos best = best_srtt();
  return best != 0 && rtt > best + best / 2 + kSlowMargin;
}

void PathChooser::acked(uint32_t from, uint32_t to, uint16_t ack_port, Nanos now) {
  if (!adaptive()) return;
  const int trigger = index_of(ack_port);
  if (trigger >= 0) {
    // The latest packet on the trigger's port in [from, to).
    for (uint32_t psn = psn::add(to, psn::kMask), left = static_cast<uint32_t>(psn::diff(to, from));
         left > 0 && left <= ring_.size(); --left, psn = psn::add(psn, psn::kMask)) {
      const Sent* s = find(psn);
      if (!s) break;  // before the ring's memory
      if (s->index != static_cast<uint32_t>(trigger)) continue;
      if (s->clean && now >= s->at) sample(s->index, now - s->at, now);
      break;
    }
  }
  if (not_active_ == 0) return;
  for (uint32_t i = 0; i < ports_.size(); ++i) {
    const Port& p = ports_[i];
    if (p.use != Use::probing || p.probe_at == 0) continue;
    if (psn::diff(p.probe_psn, from) < 0 || psn::diff(p.probe_psn, to) >= 0) continue;
    judge_probe(i, now - p.probe_at, now);
  }
}

void PathChooser::sample(uint32_t i, Nanos rtt, Nanos now) {
  ports_[i].last_rtt = rtt;
  if (ports_[i].use != Use::active) return;
  PathStats& p = stats_[i];
  p.srtt = p.srtt == 0 ? rtt : (7 * p.srtt + rtt) / 8;
  if (slow(p.srtt)) {
    p.slow_samples++;
    set_aside(i, now);
  }
}

// `rtt` bounds the probe's round trip from above: taken back only if that is in time.
void PathChooser::judge_probe(uint32_t i, Nanos rtt, Nanos now) {
  ports_[i].last_rtt = rtt;
  if (slow(rtt)) {
    stats_[i].slow_samples++;
    set_aside(i, now);
  } else {
    take_back(i);
  }
}

void PathChooser::lost(uint32_t psn, Nanos now) {
  if (const Sent* s = find(psn)) {
    stats_[s->index].naks++;
    if (adaptive()) set_aside(s->index, now);
  }
}

bool PathChooser::cnp(uint16_t src_port, Nanos now) {
  const int i = index_of(src_port);
  if (i < 0) return false;
  stats_[static_cast<uint32_t>(i)].cnps++;
  if (!adaptive()) return false;
  set_aside(static_cast<uint32_t>(i), now);
  return 2 * (paths() - not_active_) >= paths();
}

void PathChooser::received(uint16_t src_port, bool ecn_ce) {
  const int i = index_of(src_port);
  if (i < 0) return;
  PathStats& p = stats_[static_cast<uint32_t>(i)];
  p.rx_packets++;
  if (ecn_ce) p.rx_ecn_ce++;
}

void PathChooser::set_aside(uint32_t i, Nanos now) {
  Port& p = ports_[i];
  if (p.use == Use::active) {
    ++not_active_;
    stats_[i].set_aside++;
  }
  if (probe_next_ == static_cast<int>(i)) probe_next_ = -1;
  p.use = Use::aside;
  Nanos hold = policy_.avoid_time;
  if (hold == 0) hold = std::clamp<Nanos>(std::max(8 * best_srtt(), 2 * p.last_rtt), 50'000, 10'000'000);
  p.until = now + hold;
  // Judged afresh when taken back: an old slow average would set it aside again at once.
  stats_[i].srtt = 0;
}

void PathChooser::take_back(uint32_t i) {
  if (ports_[i].use != Use::active) --not_active_;
  ports_[i].use = Use::active;
}

std::vector<PathStats> PathChooser::snapshot() const {
  std::vector<PathStats> out = stats_;
  for (uint32_t i = 0; i < out.size(); ++i) out[i].avoided = ports_[i].use != Use::active;
  return out;
}

}  // namespace rfab::rc
