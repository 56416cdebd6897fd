#include "rfab/emu/flow_engine.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "rfab/emu/flow_list.hpp"

namespace rfab::emu {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

template <class T>
void heap_push(std::vector<T>& h, T v) {
  h.push_back(v);
  std::push_heap(h.begin(), h.end(), std::greater<T>());
}
template <class T>
T heap_pop(std::vector<T>& h) {
  std::pop_heap(h.begin(), h.end(), std::greater<T>());
  T v = h.back();
  h.pop_back();
  return v;
}

}  // namespace

FlowEngine::FlowEngine(const topo::FatTree& tree, const EmuConfig& cfg, const Traffic& traffic, Picos batch_ps)
    : tree_(tree), cfg_(cfg), paths_(tree, cfg_), batch_ps_(double(std::max<Picos>(batch_ps, 1))) {
  const std::vector<FlowSpec>& specs = traffic.flows;
  if (traffic.local.empty()) {
    check_flows(specs, tree.hosts());
  } else {
    if (traffic.local.size() != specs.size()) throw TrafficError("traffic: local-flow marks do not match the flows");
    if (traffic.local_bps <= 0) throw TrafficError("traffic: local flows need a rate above 0");
    for (size_t i = 0; i < specs.size(); ++i)
      if (specs[i].src >= tree.hosts() || specs[i].dst >= tree.hosts() || (!traffic.is_local(i) && specs[i].src == specs[i].dst))
        throw TrafficError("traffic: flow " + std::to_string(i) + " has a bad src/dst pair");
      else if (specs[i].after != kNoFlow && specs[i].after >= specs.size())
        throw TrafficError("traffic: flow " + std::to_string(i) + " waits for a flow that does not exist");
  }
  local_Bps_ = traffic.local_bps / 8.0 * 1e-12;
  if (traffic.has_extra_deps() && traffic.dep_first.size() != specs.size() + 1)
    throw TrafficError("traffic: dependency list does not match the flows");
  for (uint32_t d : traffic.deps)
    if (d >= specs.size()) throw TrafficError("traffic: a flow waits for flow " + std::to_string(d) + ", which does not exist");
  flows_.resize(specs.size());
  for (uint32_t i = 0; i < specs.size(); ++i) {
    Flow& f = flows_[i];
    f.spec = specs[i];
    f.wire = specs[i].bytes == kUnlimited ? kInf : wire_bytes(specs[i].bytes);
    f.first_link = flow_links_.size();
    f.local = traffic.is_local(i);
    if (!f.local) paths_.path(i, f.spec.src, f.spec.dst, flow_links_);
    f.links = uint32_t(flow_links_.size() - f.first_link);
  }
  link_pos_.assign(flow_links_.size(), 0);
  const uint32_t L = paths_.links();
  on_link_.resize(L);
  capacity_.resize(L);
  for (uint32_t l = 0; l < L; ++l) capacity_[l] = paths_.capacity(l) * cfg_.link_efficiency;
  link_stamp_.assign(L, 0);
  frozen_load_.assign(L, 0);
  open_share_.assign(L, 0);
  levels_.resize(L);
  member_.assign(flows_.size(), 0);
  open_.assign(flows_.size(), 0);
  bottleneck_.assign(flows_.size(), 0);

  // Dependents (CSR), counting FlowSpec::after and the extra list alike.
  auto for_each_dep = [&](uint32_t i, auto&& fn) {
    if (specs[i].after != kNoFlow) fn(specs[i].after);
    if (traffic.has_extra_deps())
      for (uint64_t k = traffic.dep_first[i]; k < traffic.dep_first[i + 1]; ++k) fn(traffic.deps[k]);
  };
  dependents_first_.assign(flows_.size() + 1, 0);
  for (uint32_t i = 0; i < flows_.size(); ++i)
    for_each_dep(i, [&](uint32_t d) {
      ++dependents_first_[d + 1];
      ++flows_[i].deps_left;
    });
  for (size_t i = 0; i < flows_.size(); ++i) dependents_first_[i + 1] += dependents_first_[i];
  dependents_.resize(dependents_first_.back());
  std::vector<uint64_t> fill(dependents_first_.begin(), dependents_first_.end() - 1);
  for (uint32_t i = 0; i < flows_.size(); ++i) for_each_dep(i, [&](uint32_t d) { dependents_[fill[d]++] = i; });

  // A cycle would leave its flows waiting forever, a silent wrong answer: refuse it (Kahn's algorithm).
  std::vector<uint32_t> left(flows_.size()), ready;
  for (uint32_t i = 0; i < flows_.size(); ++i)
    if ((left[i] = flows_[i].deps_left) == 0) ready.push_back(i);
  size_t reached = 0;
  while (!ready.empty()) {
    uint32_t f = ready.back();
    ready.pop_back();
    ++reached;
    for (uint64_t k = dependents_first_[f]; k < dependents_first_[f + 1]; ++k)
      if (--left[dependents_[k]] == 0) ready.push_back(dependents_[k]);
  }
  if (reached != flows_.size())
    throw TrafficError("traffic: " + std::to_string(flows_.size() - reached) + " flows wait for each other in a cycle");

  for (uint32_t i = 0; i < flows_.size(); ++i)
    if (flows_[i].deps_left == 0) heap_push(starts_, Timed{double(flows_[i].spec.start), i});
  finishes_.resize(flows_.size());
}

double FlowEngine::wire_bytes(uint64_t payload) const {
  const uint64_t packets = (payload + cfg_.mtu - 1) / cfg_.mtu;
  return double(payload) + double(packets) * double(cfg_.header_bytes + cfg_.framing_bytes);
}

void FlowEngine::start(uint32_t id, double t, std::vector<uint32_t>& seeds) {
  Flow& f = flows_[id];
  f.active = true;
  f.started = Picos(t + 0.5);
  f.settled = t;
  f.rate = 0;
  if (f.local) {  // off the fabric: its own rate, no sharing
    f.rate = local_Bps_;
    finishes_.set(id, t + f.wire / f.rate);
    return;
  }
  for (uint32_t k = 0; k < f.links; ++k) {
    const uint64_t e = f.first_link + k;
    const uint32_t l = flow_links_[e].link;
    link_pos_[e] = uint32_t(on_link_[l].size());
    on_link_[l].push_back(id);
    seeds.push_back(l);
  }
}

void FlowEngine::finish(uint32_t id, double t, std::vector<uint32_t>& seeds) {
  Flow& f = flows_[id];
  f.active = false;
  f.sent = f.wire;
  f.rate = 0;
  f.settled = t;
  finishes_.erase(id);
  for (uint32_t k = 0; k < f.links; ++k) {
    const uint64_t e = f.first_link + k;
    const uint32_t l = flow_links_[e].link;
    auto& list = on_link_[l];
    // Swap-remove, fixing the moved flow's recorded position on this link.
    const uint32_t pos = link_pos_[e], moved = list.back();
    list[pos] = moved;
    list.pop_back();
    if (moved != id) {
      const Flow& m = flows_[moved];
      for (uint32_t j = 0; j < m.links; ++j)
        if (flow_links_[m.first_link + j].link == l) link_pos_[m.first_link + j] = pos;
    }
    seeds.push_back(l);
  }
  f.done = Picos(t + 0.5) + (f.local ? 0 : paths_.delay(f.spec.src, f.spec.dst));
  ++stats_.flows_completed;
  release_dependents(id);
}

void FlowEngine::release_dependents(uint32_t id) {
  const Flow& f = flows_[id];
  for (uint64_t k = dependents_first_[id]; k < dependents_first_[id + 1]; ++k) {
    Flow& d = flows_[dependents_[k]];
    // Dependencies finish in order of their last byte sent, but are done a path delay later, and path
    // delays differ: the flow waits for the latest done, not the last to finish.
    d.ready = std::max(d.ready, f.done);
    if (--d.deps_left == 0) heap_push(starts_, Timed{double(d.ready) + double(d.spec.start), dependents_[k]});
  }
}

// Max-min fair rates after flows started or ended on `seed_links`, by progressive filling: all open flows
// rise together (the water level); the link that fills first freezes its flows at that level; repeat. The
// level at which a link fills is (capacity - load of its frozen flows) / (sum of its open flows' shares).
//
// Only a set of flows is filled, the others' rates held as load: first the flows on the seed links, then
// whoever the result shows cannot keep its rate, until every flow has a bottleneck again (a full link on
// which no flow is faster). An allocation in which every flow has a bottleneck is the max-min one, so this
// is exact, and it usually stops long before the connected component: an end frees capacity that few
// flows can take. If the set keeps growing, the whole component is filled at once.
void FlowEngine::refill(const std::vector<uint32_t>& seed_links, double t) {
  ++stamp_;
  set_.clear();
  set_links_.clear();
  for (uint32_t l : seed_links)
    for (uint32_t id : on_link_[l]) join(id, t);
  for (uint32_t round = 0; !set_.empty(); ++round) {
    if (round == kMaxRounds || whole_component_) {
      // The component: flows on the set's links, their links, and so on; filled once, nothing held.
      for (size_t i = 0; i < set_links_.size(); ++i)
        for (uint32_t id : on_link_[set_links_[i]]) join(id, t);
      fill();
      break;
    }
    fill();
    if (!join_unsettled(t)) break;
  }
  ++stats_.refills;
  stats_.refilled_flows += set_.size();
  for (uint32_t id : set_) {
    Flow& f = flows_[id];
    if (f.wire < kInf && f.rate > 0) finishes_.set(id, t + (f.wire - f.sent) / f.rate);
    else finishes_.erase(id);
  }
  if (stamp_ > 0x7FFFFFF0u) {
    std::fill(link_stamp_.begin(), link_stamp_.end(), 0);
    std::fill(member_.begin(), member_.end(), 0);
    stamp_ = 0;
  }
}

void FlowEngine::join(uint32_t id, double t) {
  if (member_[id] == stamp_) return;
  member_[id] = stamp_;
  Flow& f = flows_[id];
  f.sent = std::min(f.wire, f.sent + f.rate * (t - f.settled));  // what went at the old rate
  f.settled = t;
  set_.push_back(id);
  for (uint32_t k = 0; k < f.links; ++k) {
    const uint32_t l = flow_links_[f.first_link + k].link;
    if (link_stamp_[l] != stamp_) {
      link_stamp_[l] = stamp_;
      set_links_.push_back(l);
    }
  }
}

double FlowEngine::share_on(uint32_t id, uint32_t link) const {
  const Flow& f = flows_[id];
  for (uint32_t k = 0; k < f.links; ++k)
    if (flow_links_[f.first_link + k].link == link) return flow_links_[f.first_link + k].share;
  return 0;
}

void FlowEngine::fill() {
  for (uint32_t l : set_links_) {
    open_share_[l] = 0;
    double held = 0;  // the flows outside the set keep their rates
    for (uint32_t id : on_link_[l])
      if (member_[id] != stamp_) held += share_on(id, l) * flows_[id].rate;
    frozen_load_[l] = held;
  }
  if (++open_mark_ == 0) {  // wrapped: no flow may carry a stale mark equal to a new one
    std::fill(open_.begin(), open_.end(), 0);
    open_mark_ = 1;
  }
  for (uint32_t id : set_) {
    const Flow& f = flows_[id];
    open_[id] = open_mark_;
    for (uint32_t k = 0; k < f.links; ++k) open_share_[flow_links_[f.first_link + k].link] += flow_links_[f.first_link + k].share;
  }
  // Each link once, keyed by the level at which it fills. Freezing a flow at the lowest level can only raise
  // the level of its other links (it takes no more than their level from them), so a link's key moves in
  // place and the heap never holds more than the set's links.
  auto level_of = [&](uint32_t l) { return (capacity_[l] - frozen_load_[l]) / open_share_[l]; };
  for (uint32_t l : set_links_)
    if (open_share_[l] > 1e-12) levels_.set(l, level_of(l));
  while (!levels_.empty()) {
    const uint32_t l = levels_.top();
    const double level = levels_.top_key();
    levels_.erase(l);
    for (uint32_t id : on_link_[l]) {
      if (open_[id] != open_mark_) continue;  // outside the set, or frozen already
      open_[id] = 0;
      Flow& f = flows_[id];
      f.rate = std::max(level, 0.0);
      bottleneck_[id] = l;
      for (uint32_t k = 0; k < f.links; ++k) {
        const LinkShare& s = flow_links_[f.first_link + k];
        frozen_load_[s.link] += s.share * f.rate;
        open_share_[s.link] -= s.share;
        if (s.link == l) continue;
        if (open_share_[s.link] > 1e-12) levels_.set(s.link, level_of(s.link));
        else levels_.erase(s.link);
      }
    }
    open_share_[l] = 0;
  }
}

// Joins the flows outside the set whose rate the last fill made wrong: a flow faster than a set flow on
// that flow's bottleneck (it must yield), and a flow whose own bottleneck is a set link that is no longer
// full or now carries a faster flow (it may rise). Relative slack absorbs rounding. Only what the last fill
// set is scanned; flows joined here are filled, and scanned, in the next round. False if none joined.
bool FlowEngine::join_unsettled(double t) {
  constexpr double kSlack = 1e-9;
  const size_t flows = set_.size(), links = set_links_.size();
  auto take = [&](uint32_t id) {
    if (member_[id] != stamp_) join(id, t);
  };
  for (size_t i = 0; i < flows; ++i) {
    const uint32_t f = set_[i];
    const double limit = flows_[f].rate * (1 + kSlack);
    for (uint32_t g : on_link_[bottleneck_[f]])
      if (member_[g] != stamp_ && flows_[g].rate > limit) take(g);
  }
  for (size_t i = 0; i < links; ++i) {
    const uint32_t l = set_links_[i];
    bool load_known = false;
    double load = 0, fastest = 0;
    for (uint32_t g : on_link_[l]) {
      if (member_[g] == stamp_ || bottleneck_[g] != l) continue;
      if (!load_known) {
        for (uint32_t h : on_link_[l]) {
          load += share_on(h, l) * flows_[h].rate;
          fastest = std::max(fastest, flows_[h].rate);
        }
        load_known = true;
      }
      if (load < capacity_[l] * (1 - kSlack) || flows_[g].rate < fastest * (1 - kSlack)) take(g);
    }
  }
  return set_.size() > flows;
}

void FlowEngine::run_until(Picos end, const std::function<void(Picos)>& progress) {
  std::vector<uint32_t> seeds;
  const double horizon = double(end);
  uint64_t next_report = 4096;
  for (;;) {
    const double t_start = starts_.empty() ? kInf : starts_.front().at;
    const double t_finish = finishes_.empty() ? kInf : finishes_.top_key();
    const double t = std::min(t_start, t_finish);
    if (t > horizon || t == kInf) break;
    seeds.clear();
    // Everything due within the batch window is handled in one refill at the last of those times: finishes
    // at their own times (their bytes are all sent by then), starts at theirs but at rate 0 until then.
    const double batch_end = std::min(horizon, t + batch_ps_);
    double last = t;
    while (!finishes_.empty() && finishes_.top_key() <= batch_end) {
      const uint32_t id = finishes_.top();
      last = std::max(last, finishes_.top_key());
      finish(id, std::max(t, finishes_.top_key()), seeds);  // takes it off the heap
      ++stats_.events;
    }
    while (!starts_.empty() && starts_.front().at <= batch_end) {
      Timed e = heap_pop(starts_);
      last = std::max(last, e.at);
      start(e.flow, std::max(t, e.at), seeds);
      ++stats_.events;
    }
    now_ = Picos(last);
    if (!seeds.empty()) refill(seeds, last);
    if (progress && stats_.events >= next_report) {
      next_report = stats_.events + 4096;
      progress(now_);
    }
  }
  now_ = end;
}

uint64_t FlowEngine::flow_delivered(uint32_t id) const {
  const Flow& f = flows_[id];
  if (f.started == kNeverPs) return 0;
  if (f.done != kNeverPs && f.done <= now_) return f.spec.bytes;
  // What the sender had sent a path delay ago has arrived by now.
  const double t = double(now_) - double(f.local ? 0 : paths_.delay(f.spec.src, f.spec.dst));
  const double sent = f.active ? std::min(f.wire, f.sent + f.rate * std::max(0.0, t - f.settled)) : f.sent;
  const double payload = sent * double(cfg_.mtu) / double(cfg_.mtu + cfg_.header_bytes + cfg_.framing_bytes);
  return f.spec.bytes == kUnlimited ? uint64_t(payload) : std::min<uint64_t>(f.spec.bytes, uint64_t(payload));
}

uint64_t FlowEngine::payload_delivered() const {
  uint64_t sum = 0;
  for (uint32_t i = 0; i < flows_.size(); ++i)
    if (!flows_[i].local) sum += flow_delivered(i);
  return sum;
}

namespace {
// The per-flow record flow_list.hpp's report helpers read.
struct TimedRecord {
  FlowSpec spec;
  Picos started, done;
};
}  // namespace

std::vector<Picos> FlowEngine::completion_times() const {
  std::vector<TimedRecord> r;
  r.reserve(flows_.size());
  for (const Flow& f : flows_) r.push_back({f.spec, f.started, f.done <= now_ ? f.done : kNeverPs});
  return emu::completion_times(r);
}

double FlowEngine::offered_bits(Picos end) const {
  std::vector<TimedRecord> r;
  r.reserve(flows_.size());
  for (const Flow& f : flows_)
    if (!f.local) r.push_back({f.spec, f.started, f.done <= end ? f.done : kNeverPs});
  return emu::offered_bits(r, tree_.hosts(), tree_.nic_bps(), end);
}

FabricCounters FlowEngine::counters() const {
  FabricCounters c;
  c.ports.resize(tree_.ports());
  c.flows.resize(flows_.size());
  const uint32_t per_packet = cfg_.header_bytes;
  std::vector<double> link_payload(paths_.links(), 0), link_packets(paths_.links(), 0);
  for (uint32_t i = 0; i < flows_.size(); ++i) {
    const Flow& f = flows_[i];
    if (f.started == kNeverPs || f.local) continue;  // NVLink transfers pass no NIC or fabric port
    const uint64_t payload = flow_delivered(i);
    const uint64_t packets = (payload + cfg_.mtu - 1) / cfg_.mtu;
    FlowCounters& fc = c.flows[i];
    fc.src = f.spec.src;
    fc.dst = f.spec.dst;
    fc.seen = true;
    fc.packets_sent = fc.packets_delivered = packets;
    fc.bytes_sent = fc.bytes_delivered = payload + packets * per_packet;
    for (uint32_t k = 0; k < f.links; ++k) {
      const LinkShare& s = flow_links_[f.first_link + k];
      link_payload[s.link] += s.share * double(payload);
      link_packets[s.link] += s.share * double(packets);
    }
    PortCounters& rx = c.ports[f.spec.dst];
    rx.rx_packets += packets;
    rx.rx_bytes += payload + packets * per_packet;
  }
  for (uint32_t l = 0; l < paths_.links(); ++l) {
    if (link_packets[l] == 0) continue;
    const std::vector<topo::PortId> ports = paths_.ports_of(l);
    if (ports.empty()) continue;
    const double n = double(ports.size());
    for (topo::PortId p : ports) {
      c.ports[p].packets += uint64_t(std::llround(link_packets[l] / n));
      c.ports[p].bytes += uint64_t(std::llround((link_payload[l] + link_packets[l] * per_packet) / n));
    }
  }
  return c;
}

void FlowEngine::link_wire_bytes(std::vector<double>& out) const {
  out.assign(paths_.links(), 0);
  const double per_packet = cfg_.header_bytes;
  for (uint32_t i = 0; i < flows_.size(); ++i) {
    const Flow& f = flows_[i];
    if (f.started == kNeverPs || f.local) continue;
    const uint64_t payload = flow_delivered(i);
    const double wire = double(payload) + double((payload + cfg_.mtu - 1) / cfg_.mtu) * per_packet;
    for (uint32_t k = 0; k < f.links; ++k) {
      const LinkShare& s = flow_links_[f.first_link + k];
      out[s.link] += s.share * wire;
    }
  }
}

size_t FlowEngine::memory_bytes() const {
  size_t b = flows_.capacity() * sizeof(Flow) + flow_links_.capacity() * sizeof(LinkShare) +
             link_pos_.capacity() * 4 + dependents_.capacity() * 4 + dependents_first_.capacity() * 8 +
             capacity_.capacity() * 8 * 3 + link_stamp_.capacity() * 4 + member_.capacity() * 4 + open_.capacity() * 4 + bottleneck_.capacity() * 4 +
             starts_.capacity() * sizeof(Timed) + finishes_.memory_bytes() + levels_.memory_bytes();
  for (const auto& l : on_link_) b += l.capacity() * 4 + sizeof(l);
  return b;
}

}  // namespace rfab::emu
