#include "ping_agent.hpp"

#include <algorithm>
#include <array>
#include <random>
#include <unordered_map>

#include "rfab/endpoint/connect.hpp"
#include "rfab/endpoint/engine_device.hpp"
#include "rfab/endpoint/verbs_device.hpp"
#include "rfab/rc/qp.hpp"
#include "rfab/sidechannel/tcp_channel.hpp"

namespace rfab::cli::ping {
namespace {

using namespace std::chrono_literals;

// Probes are single-packet WRITEs: one MTU suffices, and 1024 is every device's.
constexpr uint32_t kMtu = 1024;
// Peers' QPs an agent serves at most (each costs engine state); a mesh of 512 hosts at 8 entropies.
constexpr size_t kMaxServedQps = 4096;

uint32_t random_psn() {
  static thread_local std::mt19937 g{std::random_device{}()};
  return g() & 0xFFFFFF;
}

std::unique_ptr<endpoint::Device> open_device(const AgentConfig& c) {
  if (c.verbs) {
    endpoint::VerbsConfig vc;
    vc.device = c.device;
    vc.sleep = true;
    return endpoint::make_verbs_device(vc);
  }
  udp::DriverConfig dc;
  dc.local = udp::Address::parse_or_throw(c.ip, c.roce_port, "host address");
  return endpoint::make_udp_device(dc);
}

}  // namespace

struct Agent::ProbeQp {
  uint32_t qpn = 0;
  uint32_t psn = 0;      // the first PSN it sends
  bool busy = false;     // a probe is in flight
  bool counted = false;  // ... and its outcome is already counted (lost at its deadline)
  bool dead = false;
  Nanos posted = 0;
  uint64_t resends_before = 0;
  EntropyResult res;
  std::deque<double> rtts;
};

struct Agent::Link {
  Target t;
  enum class State { idle, connecting, up, failed } state = State::idle;
  std::vector<ProbeQp> qps;
  std::future<ConnectReply> exchange;
  std::string error;
  bool reached = false;
  udp::Address peer;
  uint32_t rkey = 0;
  uint64_t raddr = 0;
  uint64_t rounds = 0;
  Nanos next_round = 0, retry_at = 0;
  std::vector<EntropyResult> carried;  // counts of QPs replaced by a reconnection
};

struct Agent::Pending {
  ConnectRequest req;
  std::promise<ConnectReply> reply;
};

Agent::Agent(const AgentConfig& cfg) : cfg_(cfg), buf_(2 * kProbeArea) {
  dev_ = open_device(cfg_);
  mr_ = dev_->reg_mr(buf_.data(), buf_.size(), rc::kLocalWrite | rc::kRemoteWrite);
  const size_t cq = std::max<size_t>(256, 2 * cfg_.n_hosts * cfg_.entropies);
  dev_->create_cqs(cq, 64);
  server_ = std::make_unique<SideChannelServer>(cfg_.ip, cfg_.tcp_port, cfg_.n_hosts,
                                                [this](const ConnectRequest& r) { return serve_connect(r); });
}

Agent::~Agent() {
  server_.reset();  // no more requests
  for (auto& l : links_)
    if (l->exchange.valid()) l->exchange.wait();
}

std::string Agent::roce_address() const { return dev_->address().to_string(); }

ConnectReply Agent::serve_connect(const ConnectRequest& r) {
  auto p = std::make_shared<Pending>();
  p->req = r;
  auto fut = p->reply.get_future();
  {
    std::lock_guard lk(mu_);
    pending_.push_back(p);
  }
  dev_->wake();
  if (fut.wait_for(2s) != std::future_status::ready) return refused("the agent did not take the request in time");
  return fut.get();
}

// Device thread: create the peer's QPs and connect them to the prober's.
void Agent::handle_pending() {
  std::deque<std::shared_ptr<Pending>> work;
  {
    std::lock_guard lk(mu_);
    work.swap(pending_);
  }
  for (auto& p : work) {
    ConnectReply rep;
    try {
      const auto peer = parse_roce_address(p->req.roce);
      if (!peer) throw std::invalid_argument("bad RoCE address '" + p->req.roce + "'");
      if (served_qps_ + p->req.qps.size() > kMaxServedQps)
        throw std::runtime_error("this agent already serves " + std::to_string(served_qps_) + " QPs");
      for (const QpEnd& theirs : p->req.qps) {
        endpoint::QpConfig qc;
        qc.cap = {4, 4, 1, 1};
        const uint32_t qpn = endpoint::open_qp(*dev_, qc, rc::kRemoteWrite);
        ++served_qps_;
        endpoint::ConnectParams cp;
        cp.peer = *peer;
        cp.remote_qpn = theirs.qpn;
        cp.remote_psn = theirs.psn;
        cp.local_psn = random_psn();
        cp.mtu = dev_->max_mtu(kMtu);
        cp.ack_timeout = cfg_.ack_timeout;
        endpoint::connect(*dev_, qpn, cp);
        rep.qps.push_back({qpn, cp.local_psn});
      }
      rep.ok = true;
      rep.roce = dev_->address().to_string();
      rep.rkey = mr_.rkey;
      rep.addr = mr_.addr;
    } catch (const std::exception& e) {
      rep = refused(e.what());
    }
    p->reply.set_value(rep);
  }
}

void Agent::start_probing(const std::vector<Target>& targets, const Schedule& s) {
  sched_ = s;
  for (const Target& t : targets) {
    auto l = std::make_unique<Link>();
    l->t = t;
    begin_exchange(*l);
    links_.push_back(std::move(l));
  }
}

// Creates this side's QPs (device thread) and asks the peer for its own on a background thread.
void Agent::begin_exchange(Link& l) {
  for (ProbeQp& q : l.qps) {  // a reconnection: keep the old QPs' counts, retire the QPs
    if (l.carried.size() < l.qps.size()) l.carried.resize(l.qps.size());
    EntropyResult& c = l.carried[&q - l.qps.data()];
    c.sent += q.res.sent;
    c.lost += q.res.lost;
    c.resent += q.res.resent;
    c.late += q.res.late;
    c.failed += q.res.failed;
    endpoint::fail_qp(*dev_, q.qpn);
  }
  l.qps.assign(cfg_.entropies, ProbeQp{});
  ConnectRequest req{cfg_.self, dev_->address().to_string(), {}};
  try {
    for (ProbeQp& q : l.qps) {
      endpoint::QpConfig qc;
      qc.cap = {4, 4, 1, 1};
      q.qpn = endpoint::open_qp(*dev_, qc, 0);
      q.psn = random_psn();
      req.qps.push_back({q.qpn, q.psn});
    }
  } catch (const std::exception& e) {
    l.state = Link::State::failed;
    l.error = e.what();
    return;
  }
  l.state = Link::State::connecting;
  const Target t = l.t;
  const auto wait = cfg_.wait;
  const size_t k = cfg_.entropies;
  l.exchange = std::async(std::launch::async, [t, wait, k, req] {
    try {
      auto ch = sidechannel::TcpChannel::connect(t.ip, t.port, wait);
      ch.send_message(encode(req), 2s, "connect request");
      return decode_reply(ch.recv_message(5s, "connect reply"), k);
    } catch (const std::exception& e) {
      return refused(std::string("side channel ") + t.ip + ":" + std::to_string(t.port) + ": " + e.what());
    }
  });
}

void Agent::finish_exchange(Link& l) {
  const ConnectReply rep = l.exchange.get();
  if (!rep.ok) {
    l.state = Link::State::failed;
    l.error = rep.error;
    l.retry_at = dev_->now() + sched_.reconnect_every;
    return;
  }
  try {
    const auto peer = parse_roce_address(rep.roce);
    if (!peer) throw std::invalid_argument("peer sent a bad RoCE address '" + rep.roce + "'");
    for (size_t i = 0; i < l.qps.size(); ++i) {
      ProbeQp& q = l.qps[i];
      endpoint::ConnectParams cp;
      cp.peer = *peer;
      cp.remote_qpn = rep.qps[i].qpn;
      cp.remote_psn = rep.qps[i].psn;
      cp.local_psn = q.psn;
      cp.mtu = dev_->max_mtu(kMtu);
      cp.ack_timeout = cfg_.ack_timeout;
      endpoint::connect(*dev_, q.qpn, cp);
      q.res.src_port = rc::rxe_src_port(q.qpn, rep.qps[i].qpn);
    }
    l.peer = *peer;
    l.rkey = rep.rkey;
    l.raddr = rep.addr;
    l.reached = true;
    l.error.clear();
    l.state = Link::State::up;
    l.next_round = dev_->now();
  } catch (const std::exception& e) {
    l.state = Link::State::failed;
    l.error = e.what();
    l.retry_at = dev_->now() + sched_.reconnect_every;
  }
}

void Agent::run_round(Link& l, Nanos now) {
  const rc::Sge sge{mr_.addr + kProbeArea, cfg_.size, mr_.lkey};
  for (ProbeQp& q : l.qps) {
    // The previous probe is still out (late, or being resent after a loss already counted): no new probe
    // on this entropy this round, and nothing counted, so a slow path is not counted lost twice.
    if (q.busy) continue;
    ++q.res.sent;
    if (q.dead || l.state != Link::State::up) {  // the path's QP failed (or the peer is unreachable): lost
      ++q.res.lost;
      ++q.res.failed;
      continue;
    }
    rc::SendWr wr;
    wr.wr_id = q.qpn;
    wr.opcode = rc::WrOpcode::rdma_write;
    wr.sg_list = {&sge, 1};
    wr.rdma.remote_addr = l.raddr;
    wr.rdma.rkey = l.rkey;
    const rc::QpStats st = dev_->qp_stats(q.qpn);
    q.resends_before = st.retransmits + st.timeouts;
    q.posted = now;
    if (auto s = dev_->post_send(q.qpn, wr); !s.ok()) {
      ++q.res.lost;
      ++q.res.failed;
      q.dead = true;
      l.error = std::string("post_send: ") + s.what;
      continue;
    }
    q.busy = true;
    q.counted = false;
  }
  ++l.rounds;
  l.next_round = now + sched_.interval;
}

void Agent::on_completion(const rc::WorkCompletion& wc, Nanos now) {
  for (auto& l : links_)
    for (ProbeQp& q : l->qps) {
      if (q.qpn != wc.qp_num || !q.busy) continue;
      q.busy = false;
      if (wc.status != rc::WcStatus::success) {
        q.dead = true;
        l->error = std::string("probe QP failed: ") + rc::to_string(wc.status);
        if (!q.counted) {
          ++q.res.lost;
          ++q.res.failed;
        }
        return;
      }
      if (q.counted) return;  // already lost at its deadline
      const rc::QpStats st = dev_->qp_stats(q.qpn);
      if (st.retransmits + st.timeouts > q.resends_before) {
        ++q.res.lost;
        ++q.res.resent;
        return;
      }
      q.rtts.push_back(static_cast<double>(now - q.posted) / 1e3);
      if (cfg_.rtt_window && q.rtts.size() > cfg_.rtt_window) q.rtts.pop_front();
      return;
    }
}

void Agent::expire(Nanos now) {
  for (auto& l : links_)
    for (ProbeQp& q : l->qps)
      if (q.busy && !q.counted && now - q.posted > cfg_.probe_timeout) {
        q.counted = true;
        ++q.res.lost;
        ++q.res.late;
      }
}

void Agent::turn(Nanos max_wait) {
  handle_pending();
  Nanos now = dev_->now();
  Nanos wake = now + max_wait;
  for (auto& lp : links_) {
    Link& l = *lp;
    if (l.state == Link::State::connecting && l.exchange.wait_for(0s) == std::future_status::ready) finish_exchange(l);
    const bool more = sched_.count == 0 || l.rounds < sched_.count;
    // Continuous mode counts the rounds a peer cannot be probed as lost, so a dead host shows in the
    // metrics - once its first connection attempt has failed, or after it had been reached: not while the
    // agents are still starting up.
    const bool slots = l.state == Link::State::up ||
                       (sched_.reconnect && (l.state == Link::State::failed || l.reached));
    if (slots && more && now >= l.next_round) run_round(l, now);
    if (slots && more) wake = std::min(wake, l.next_round);
    const bool broken = l.state == Link::State::failed ||
                        (l.state == Link::State::up && std::all_of(l.qps.begin(), l.qps.end(), [](const ProbeQp& q) { return q.dead; }));
    if (sched_.reconnect && broken && now >= l.retry_at) {
      l.retry_at = now + sched_.reconnect_every;
      begin_exchange(l);
    }
  }
  dev_->progress(std::max<Nanos>(0, std::min(wake - now, Nanos{1'000'000})));
  now = dev_->now();
  std::array<rc::WorkCompletion, 64> wc;
  for (size_t n; (n = dev_->poll_send(wc)) > 0;)
    for (size_t i = 0; i < n; ++i) on_completion(wc[i], now);
  std::array<rc::WorkCompletion, 16> rwc;  // probes are WRITEs: nothing lands here, but keep it drained
  while (dev_->poll_recv(rwc) > 0) {
  }
  expire(now);
}

bool Agent::probing_done() const {
  if (sched_.count == 0) return false;
  for (const auto& l : links_) {
    if (l->state == Link::State::connecting || l->state == Link::State::idle) return false;
    if (l->state == Link::State::failed) continue;
    if (l->rounds < sched_.count) return false;
    for (const ProbeQp& q : l->qps)
      if (q.busy && !q.counted) return false;
  }
  return true;
}

std::vector<PairResult> Agent::row() const {
  std::vector<PairResult> out;
  for (const auto& lp : links_) {
    const Link& l = *lp;
    PairResult p;
    p.src = cfg_.self;
    p.dst = l.t.index;
    p.reached = l.reached;
    p.error = l.error;
    std::vector<double> all;
    for (size_t k = 0; k < l.qps.size(); ++k) {
      const ProbeQp& q = l.qps[k];
      EntropyResult e;
      e.src_port = q.res.src_port;
      const EntropyResult none;
      const EntropyResult& c = k < l.carried.size() ? l.carried[k] : none;
      e.lost = q.res.lost + c.lost;
      e.resent = q.res.resent + c.resent;
      e.late = q.res.late + c.late;
      e.failed = q.res.failed + c.failed;
      e.sent = q.res.sent + c.sent;
      e.rtt = summarize({q.rtts.begin(), q.rtts.end()});
      all.insert(all.end(), q.rtts.begin(), q.rtts.end());
      p.entropies.push_back(e);
    }
    // A peer never reached: every probe slot it should have had is lost.
    if (!l.reached && sched_.count != 0)
      for (auto& e : p.entropies) {
        e.sent = e.lost = e.failed = sched_.count;
        e.resent = e.late = 0;
      }
    p.rtt = summarize(all);
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace rfab::cli::ping
