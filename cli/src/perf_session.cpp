#include "perf_session.hpp"
#include "perf_backend.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <sstream>

#include "commands.hpp"
#include "cpu_time.hpp"
#include "perf_data.hpp"
#include "rfab/exchange/perftest_dest.hpp"
#include "rfab/exchange/tcp_channel.hpp"
#include "rfab/fault/fault_config.hpp"
#include "rfab/rc/rc.hpp"
#include "rfab/udp/driver.hpp"
#include "rfab/udp/error.hpp"

namespace rfab::cli::perf {
namespace {

using namespace std::chrono_literals;
using exchange::TcpChannel;

constexpr uint64_t kMemCap = 256ull << 20;  // bytes of message buffers per side
constexpr Nanos kBucket = 10'000'000;        // peak bandwidth window: 10 ms
constexpr uint32_t kInflightPackets = 512;   // unacknowledged packets, summed over the QPs

// What the client decides and the server adopts (sent as "key=value" text).
struct Params {
  Verb verb = Verb::write;
  uint64_t size = 0, iters = 0;
  double duration = 0;
  uint32_t qps = 1, mtu = 4096, spray = 1, depth = 128, slots = 1, rx_depth = 1;
  bool latency = false;
  uint64_t seed = 1;
};

std::string encode(const Params& p) {
  std::ostringstream s;
  s << "rfab-perf/1 verb=" << to_string(p.verb) << " size=" << p.size << " iters=" << p.iters
    << " duration=" << p.duration << " qps=" << p.qps << " mtu=" << p.mtu << " spray=" << p.spray
    << " depth=" << p.depth << " slots=" << p.slots << " rx_depth=" << p.rx_depth << " latency=" << p.latency
    << " seed=" << p.seed;
  return s.str();
}

Params decode(const std::string& text) {
  std::istringstream in(text);
  std::string magic;
  in >> magic;
  if (magic != "rfab-perf/1") throw ExitError{2, "the client is not an rfab perf peer of this version ('" + magic + "')"};
  std::map<std::string, std::string> kv;
  for (std::string tok; in >> tok;) {
    const auto eq = tok.find('=');
    if (eq != std::string::npos) kv[tok.substr(0, eq)] = tok.substr(eq + 1);
  }
  auto num = [&](const char* k) -> uint64_t {
    auto it = kv.find(k);
    if (it == kv.end()) throw ExitError{2, std::string("client parameters lack '") + k + "'"};
    return std::stoull(it->second);
  };
  Params p;
  const std::string verb = kv["verb"];
  if (verb == "write") p.verb = Verb::write;
  else if (verb == "read") p.verb = Verb::read;
  else if (verb == "send") p.verb = Verb::send;
  else if (verb == "atomic") p.verb = Verb::atomic;
  else throw ExitError{2, "client asked for unknown verb '" + verb + "'"};
  p.size = num("size");
  p.iters = num("iters");
  p.duration = std::stod(kv["duration"].empty() ? "0" : kv["duration"]);
  p.qps = static_cast<uint32_t>(num("qps"));
  p.mtu = static_cast<uint32_t>(num("mtu"));
  p.spray = static_cast<uint32_t>(num("spray"));
  p.depth = static_cast<uint32_t>(num("depth"));
  p.slots = static_cast<uint32_t>(num("slots"));
  p.rx_depth = static_cast<uint32_t>(num("rx_depth"));
  p.latency = num("latency") != 0;
  p.seed = num("seed");
  return p;
}

Params from_options(const Options& o) {
  Params p;
  p.verb = o.verb;
  p.size = o.verb == Verb::atomic ? 8 : o.size;
  p.iters = o.iters;
  p.duration = o.duration;
  p.qps = o.qps;
  p.mtu = o.mtu;
  p.spray = o.spray;
  p.depth = o.latency ? 1 : o.tx_depth;
  const uint64_t per = std::max<uint64_t>(1, p.size) * p.qps;
  p.slots = static_cast<uint32_t>(std::clamp<uint64_t>(kMemCap / per, 1, p.depth));
  p.rx_depth = p.slots;
  p.latency = o.latency;
  std::random_device rd;
  p.seed = (uint64_t{rd()} << 32) | rd();
  return p;
}

uint64_t slot_seed(const Params& p, uint32_t slot) { return p.seed ^ (0x51ED5EEDull * (slot + 1)); }

// Regions of the side that is written to / read from: one per QP when they fit the memory cap.
uint32_t regions(const Params& p) { return p.size * p.qps <= kMemCap ? p.qps : 1; }

class Session {
 public:
  Session(const Options& o, TcpChannel ch, const Params& p) : o_(o), ch_(std::move(ch)), p_(p) {}

  Result run() {
    setup();
    Result r = o_.server ? serve() : drive();
    fill_counters(r);
    return r;
  }

 private:
  std::chrono::milliseconds timeout() const { return std::chrono::milliseconds(static_cast<int64_t>(o_.timeout * 1000)); }
  bool client() const { return !o_.server; }

  // Buffers, MR, CQs, QPs, driver; then the perftest key exchange and the QP state machine.
  void setup() {
    const uint64_t size = p_.size;
    uint64_t bytes = 0;
    switch (p_.verb) {
      case Verb::write: bytes = client() ? size : size * regions(p_); break;
      case Verb::read: bytes = client() ? size * regions(p_) : size; break;
      case Verb::send: bytes = size * p_.qps * (client() ? p_.slots : p_.rx_depth); break;
      case Verb::atomic: bytes = 8ull * p_.qps * (client() ? p_.depth : 1); break;
    }
    buf_.assign(std::max<uint64_t>(bytes, 8), 0);
    if ((p_.verb == Verb::write && client()) || (p_.verb == Verb::read && !client())) fill_pattern(buf_.data(), size, p_.seed);
    if (p_.verb == Verb::send && client())
      for (uint32_t q = 0; q < p_.qps; ++q)
        for (uint32_t s = 0; s < p_.slots; ++s)
          if (size > 8) fill_pattern(slot(q, s) + 8, size - 8, slot_seed(p_, s));
    try {
      mr_ = pd_.reg_mr(buf_.data(), buf_.size(), rc::kLocalWrite | rc::kRemoteWrite | rc::kRemoteRead | rc::kRemoteAtomic);
    } catch (const std::exception& e) {
      throw ExitError{2, std::string("memory registration: ") + e.what()};
    }
    const size_t cq_size = size_t{p_.qps} * std::max(p_.depth, p_.rx_depth) + 16;
    scq_ = std::make_unique<rc::CompletionQueue>(cq_size);
    rcq_ = std::make_unique<rc::CompletionQueue>(cq_size);

    // Local RoCE address: as given, else the address the side channel uses on this host.
    const std::string local_ip = o_.local.empty() ? ch_.local_ip() : o_.local;
    udp::DriverConfig dc;
    dc.local = udp::Address::parse_or_throw(local_ip, o_.udp_port, "--local");
    dc.gso = o_.gso;
    dc.gather = o_.gather;
    // The peer is rfab, whose IPv4 IDs are GSO segment indexes: accepting only those keeps a corrupted
    // packet's false-accept rate at 2^-26 instead of the 2^-16 of any ID (wire_icrc.hpp).
    dc.ipv4_id_window = udp::kMaxGsoSegments;
    dc.socket.busy_poll_us = o_.busy_poll_us;
    if (!o_.faults.empty()) dc.rx_faults = fault::parse_fault(o_.faults);
    driver_ = std::make_unique<udp::UdpDriver>(dc);

    rc::Mtu mtu;
    if (!rc::mtu_from_bytes(p_.mtu, mtu)) throw ExitError{2, "--mtu must be 256, 512, 1024, 2048 or 4096"};
    std::random_device rd;
    const uint32_t qpn_base = (rd() & 0xFFF) << 12;
    for (uint32_t i = 0; i < p_.qps; ++i) {
      rc::QpInit init;
      init.pd = &pd_;
      init.send_cq = scq_.get();
      init.recv_cq = rcq_.get();
      init.cap.max_send_wr = std::max<uint32_t>(p_.depth, 1);
      init.cap.max_recv_wr = std::max<uint32_t>(p_.rx_depth, 1);
      init.cap.max_send_sge = 1;
      init.cap.max_recv_sge = 1;
      init.qp_num = (qpn_base | (i + 1)) & 0xFFFFFF;
      // Without a congestion controller the only limit on data in flight is this window. Keep the sum
      // over all QPs near kInflightPackets, which the receiver's socket buffer absorbs: more only turns
      // into drops and go-back-N retransmissions.
      init.tuning.max_outstanding = std::clamp<uint32_t>(kInflightPackets / p_.qps, 32, 1024);
      qps_.push_back(std::make_unique<rc::QueuePair>(init));
    }

    // perftest's per-QP key message, one exchange per QP in order (client writes first).
    const udp::Gid gid = dc.local.gid();
    for (uint32_t i = 0; i < p_.qps; ++i) {
      exchange::PerftestDest mine;
      mine.out_reads = 16;
      mine.qpn = qps_[i]->qp_num();
      mine.psn = rd() & 0xFFFFFF;
      mine.rkey = mr_->rkey();
      mine.vaddr = mr_->iova();
      mine.gid = gid;
      const auto msg = exchange::encode_dest_gid(mine);
      std::array<char, exchange::kKeyMsgSizeGid> theirs{};
      ch_.exchange(msg, theirs, timeout(), "QP key exchange");
      std::string err;
      auto peer = exchange::parse_dest(theirs, err);
      if (!peer) throw ExitError{2, "bad QP key message from " + ch_.peer() + ": " + err};
      connect(*qps_[i], mine, *peer, mtu);
      remote_.push_back(*peer);
      driver_->attach(*qps_[i], udp::Address::from_gid(peer->gid, o_.udp_port));
    }
    if (p_.verb == Verb::send && !client())
      for (uint32_t q = 0; q < p_.qps; ++q)
        for (uint32_t s = 0; s < p_.rx_depth; ++s) post_recv(q, s);
  }

  void connect(rc::QueuePair& qp, const exchange::PerftestDest& mine, const exchange::PerftestDest& peer, rc::Mtu mtu) {
    rc::QpAttr a;
    a.qp_state = rc::QpState::init;
    a.qp_access_flags = rc::kRemoteWrite | rc::kRemoteRead | rc::kRemoteAtomic;
    check(qp.modify(a, rc::kQpState | rc::kQpAccessFlags | rc::kQpPkeyIndex | rc::kQpPort));
    a.qp_state = rc::QpState::rtr;
    a.path_mtu = mtu;
    a.dest_qp_num = peer.qpn;
    a.rq_psn = peer.psn;
    a.max_dest_rd_atomic = 16;
    a.min_rnr_timer = 1;  // 0.01 ms: the server reposts receives quickly
    uint32_t mask = rc::kQpState | rc::kQpPathMtu | rc::kQpDestQpn | rc::kQpRqPsn | rc::kQpMaxDestRdAtomic |
                    rc::kQpMinRnrTimer;
    if (p_.spray > 1) {
      a.entropy.kind = rc::EntropyPolicy::Kind::spray;
      a.entropy.paths = static_cast<uint16_t>(p_.spray);
      mask |= rc::kQpEntropy;
    }
    check(qp.modify(a, mask));
    a.qp_state = rc::QpState::rts;
    a.sq_psn = mine.psn;
    a.timeout = o_.ack_timeout;
    a.retry_cnt = o_.retry_cnt;
    a.rnr_retry = 7;
    a.max_rd_atomic = 16;
    check(qp.modify(a, rc::kQpState | rc::kQpTimeout | rc::kQpRetryCnt | rc::kQpRnrRetry | rc::kQpSqPsn |
                           rc::kQpMaxQpRdAtomic));
  }

  static void check(const rc::Status& s) {
    if (!s.ok()) throw ExitError{2, std::string("QP setup: ") + s.what};
  }

  uint8_t* slot(uint32_t q, uint32_t s) {
    const uint32_t per = client() ? p_.slots : p_.rx_depth;
    return buf_.data() + (uint64_t{q} * per + s) * p_.size;
  }

  void post_recv(uint32_t q, uint32_t s) {
    rc::Sge sge{reinterpret_cast<uint64_t>(slot(q, s)), static_cast<uint32_t>(p_.size), mr_->lkey()};
    rc::RecvWr wr;
    wr.wr_id = (uint64_t{q} << 32) | s;
    wr.sg_list = {&sge, 1};
    const rc::Status st = qps_[q]->post_recv(wr);
    if (!st.ok()) throw ExitError{1, std::string("post_recv: ") + st.what};
  }

  // Client: post operation k on QP q. False when the send queue is full.
  bool post(uint32_t q, uint64_t k) {
    rc::SendWr wr;
    rc::Sge sge{};
    wr.wr_id = (uint64_t{q} << 32) | (k & 0xFFFFFFFF);
    wr.send_flags = rc::kSignaled;
    const uint64_t reg = regions(p_) > 1 ? uint64_t{q} * p_.size : 0;
    switch (p_.verb) {
      case Verb::write:
        wr.opcode = rc::WrOpcode::rdma_write;
        sge = {mr_->iova(), static_cast<uint32_t>(p_.size), mr_->lkey()};
        wr.rdma.remote_addr = remote_[q].vaddr + reg;
        wr.rdma.rkey = remote_[q].rkey;
        break;
      case Verb::read:
        wr.opcode = rc::WrOpcode::rdma_read;
        sge = {mr_->iova() + reg, static_cast<uint32_t>(p_.size), mr_->lkey()};
        wr.rdma.remote_addr = remote_[q].vaddr;
        wr.rdma.rkey = remote_[q].rkey;
        break;
      case Verb::send: {
        uint8_t* s = slot(q, static_cast<uint32_t>(k % p_.slots));
        const uint64_t seq = k;
        std::memcpy(s, &seq, std::min<uint64_t>(8, p_.size));
        wr.opcode = rc::WrOpcode::send;
        sge = {reinterpret_cast<uint64_t>(s), static_cast<uint32_t>(p_.size), mr_->lkey()};
        break;
      }
      case Verb::atomic:
        wr.opcode = rc::WrOpcode::atomic_fetch_and_add;
        sge = {mr_->iova() + (uint64_t{q} * p_.depth + k % p_.depth) * 8, 8, mr_->lkey()};
        wr.atomic.remote_addr = remote_[q].vaddr + uint64_t{q} * 8;
        wr.atomic.rkey = remote_[q].rkey;
        wr.atomic.compare_add = 1;
        break;
    }
    wr.sg_list = {&sge, 1};
    const rc::Status st = qps_[q]->post_send(wr);
    if (st.code == rc::Errc::queue_full) return false;
    if (!st.ok()) throw ExitError{1, std::string("post_send: ") + st.what};
    return true;
  }

  uint32_t qp_index(uint32_t qpn) const {
    for (uint32_t i = 0; i < qps_.size(); ++i)
      if (qps_[i]->qp_num() == qpn) return i;
    return 0;
  }

  Result drive() {
    ch_.barrier(timeout(), "start barrier");
    Result r;
    const uint32_t window = p_.verb == Verb::send ? std::min(p_.depth, p_.slots) : p_.depth;
    std::vector<uint64_t> posted(p_.qps, 0), done(p_.qps, 0);
    std::vector<Nanos> post_time(size_t{p_.qps} * std::max<uint32_t>(window, 1), 0);
    std::vector<double> lat_us;
    std::vector<uint64_t> buckets;
    std::string failure;
    const double cpu0 = cpu_times().total();
    const Nanos t0 = driver_->now();
    const Nanos end = p_.duration > 0 ? t0 + static_cast<Nanos>(p_.duration * 1e9) : kNever;
    Nanos last_progress = t0;
    std::vector<rc::WorkCompletion> wcs(256);
    for (;;) {
      Nanos now = driver_->now();
      const bool stop = !failure.empty() || now >= end;
      bool all_done = true;
      for (uint32_t q = 0; q < p_.qps; ++q) {
        while (!stop && posted[q] - done[q] < window && (end != kNever || posted[q] < p_.iters)) {
          if (!post(q, posted[q])) break;
          if (p_.latency) post_time[q] = driver_->now();
          ++posted[q];
        }
        if (done[q] < posted[q] || (!stop && end == kNever && posted[q] < p_.iters) || (!stop && end != kNever))
          all_done = false;
      }
      if (all_done) break;
      driver_->progress(1'000'000);
      now = driver_->now();
      const size_t n = scq_->poll(wcs);
      for (size_t i = 0; i < n; ++i) {
        const auto& wc = wcs[i];
        const uint32_t q = static_cast<uint32_t>(wc.wr_id >> 32);
        if (wc.status != rc::WcStatus::success) {
          if (failure.empty())
            failure = "QP " + std::to_string(qps_[q]->qp_num()) + ": completion error " + rc::to_string(wc.status) +
                      " after " + std::to_string(done[q]) + " operations";
          ++done[q];
          continue;
        }
        if (p_.verb == Verb::atomic) {
          // Fetch-and-add by 1 on a counter only this QP touches: the k-th completion must return k.
          uint64_t orig;
          std::memcpy(&orig, buf_.data() + (uint64_t{q} * p_.depth + (wc.wr_id & 0xFFFFFFFF) % p_.depth) * 8, 8);
          if (orig != done[q] && atomic_note_.empty())
            atomic_note_ = "QP " + std::to_string(q) + " op " + std::to_string(done[q]) + " returned " + std::to_string(orig);
        }
        if (p_.latency) lat_us.push_back(static_cast<double>(now - post_time[q]) / 1e3);
        ++done[q];
        const size_t b = static_cast<size_t>((now - t0) / kBucket);
        if (buckets.size() <= b) buckets.resize(b + 1, 0);
        ++buckets[b];
      }
      if (n > 0) {
        last_progress = now;
      } else if (now - last_progress > static_cast<Nanos>(o_.timeout * 1e9)) {
        if (failure.empty())
          failure = "no completion for " + std::to_string(static_cast<int>(o_.timeout)) + " s (is the peer alive?)";
        break;
      }
    }
    const Nanos t1 = driver_->now();
    r.cpu_seconds = cpu_times().total() - cpu0;
    r.seconds = static_cast<double>(t1 - t0) / 1e9;
    uint64_t total = 0;
    for (uint64_t d : done) total += d;
    r.iterations = total;
    summarize(r, buckets, lat_us, t1 - t0);
    // Tell the server and let it verify what it received.
    std::ostringstream msg;
    msg << (failure.empty() ? "done" : "failed");
    for (uint64_t d : done) msg << ' ' << d;
    msg << ' ' << r.bw_peak_gbps << ' ' << r.bw_avg_gbps << ' ' << r.msg_rate_mpps;  // the server prints these too
    try {
      ch_.send_message(msg.str(), timeout(), "result exchange");
      verdict(r, ch_.recv_message(timeout(), "result exchange"), done);
    } catch (const exchange::ExchangeError& e) {
      if (failure.empty()) throw ExitError{1, e.what()};
    }
    if (!failure.empty()) throw ExitError{1, failure};
    if (!r.verified) throw ExitError{1, "data check failed: " + r.verify_note};
    return r;
  }

  // Client side of the verdict: the server's report plus our own checks (READ data, atomics).
  void verdict(Result& r, const std::string& reply, const std::vector<uint64_t>& done) {
    bool ok = reply.rfind("ok", 0) == 0;
    r.verify_note = reply.size() > 3 ? reply.substr(3) : reply;
    if (p_.verb == Verb::read) {
      const uint32_t want = checksum_of_pattern();
      for (uint32_t q = 0; q < regions(p_); ++q)
        if (done[q % p_.qps] > 0 && checksum(buf_.data() + uint64_t{q} * p_.size, p_.size) != want) {
          ok = false;
          r.verify_note = "READ data in region " + std::to_string(q) + " differs from the server's buffer";
        }
      if (ok) r.verify_note = "READ data matches the server's buffer (CRC-32)";
    }
    if (p_.verb == Verb::atomic && !atomic_note_.empty()) {
      ok = false;
      r.verify_note = "fetch-and-add not exactly-once: " + atomic_note_;
    }
    r.verified = ok;
  }

  uint32_t checksum_of_pattern() const {
    std::vector<uint8_t> tmp(p_.size);
    fill_pattern(tmp.data(), tmp.size(), p_.seed);
    return checksum(tmp.data(), tmp.size());
  }

  Result serve() {
    ch_.barrier(timeout(), "start barrier");
    Result r;
    std::vector<uint64_t> next(p_.qps, 0);
    std::vector<uint32_t> slot_crc(p_.slots);
    if (p_.verb == Verb::send && p_.size > 8)
      for (uint32_t s = 0; s < p_.slots; ++s) {
        std::vector<uint8_t> tmp(p_.size - 8);
        fill_pattern(tmp.data(), tmp.size(), slot_seed(p_, s));
        slot_crc[s] = checksum(tmp.data(), tmp.size());
      }
    std::string bad;
    std::vector<rc::WorkCompletion> wcs(256);
    const double cpu0 = cpu_times().total();
    const Nanos t0 = driver_->now();
    Nanos last_rx = t0;
    uint64_t last_rx_count = 0;
    uint64_t loops = 0;
    for (;;) {
      const bool busy = driver_->progress(1'000'000);
      const size_t n = rcq_->poll(wcs);
      for (size_t i = 0; i < n; ++i) check_recv(wcs[i], next, slot_crc, bad);
      scq_->poll(wcs);
      const Nanos now = driver_->now();
      if (driver_->stats().rx_packets != last_rx_count) {
        last_rx_count = driver_->stats().rx_packets;
        last_rx = now;
      } else if (now - last_rx > static_cast<Nanos>(o_.timeout * 1e9) && !ch_.readable(0ms)) {
        throw ExitError{1, "no packets from the client for " + std::to_string(static_cast<int>(o_.timeout)) + " s"};
      }
      if ((!busy || ++loops % 256 == 0) && ch_.readable(0ms)) break;
    }
    const std::string msg = ch_.recv_message(timeout(), "result exchange");
    // Drain what is still queued (nothing new can arrive: the client saw every completion).
    for (size_t n; (n = rcq_->poll(wcs)) > 0;)
      for (size_t i = 0; i < n; ++i) check_recv(wcs[i], next, slot_crc, bad);
    r.seconds = static_cast<double>(driver_->now() - t0) / 1e9;
    r.cpu_seconds = cpu_times().total() - cpu0;
    std::istringstream in(msg);
    std::string status;
    in >> status;
    std::vector<uint64_t> done(p_.qps, 0);
    for (auto& d : done) in >> d;
    for (uint64_t d : done) r.iterations += d;
    in >> r.bw_peak_gbps >> r.bw_avg_gbps >> r.msg_rate_mpps;  // as the client measured them
    std::string note = server_check(done, next, bad);
    r.verified = note.rfind("ok", 0) == 0;
    r.verify_note = note.size() > 3 ? note.substr(3) : note;
    try {
      ch_.send_message(note, timeout(), "result exchange");
    } catch (const exchange::ExchangeError&) {
    }
    if (status != "done") throw ExitError{1, "the client reported a failed transfer"};
    if (!r.verified) throw ExitError{1, "data check failed: " + r.verify_note};
    return r;
  }

  void check_recv(const rc::WorkCompletion& wc, std::vector<uint64_t>& next, const std::vector<uint32_t>& slot_crc,
                  std::string& bad) {
    const uint32_t q = static_cast<uint32_t>(wc.wr_id >> 32);
    const uint32_t s = static_cast<uint32_t>(wc.wr_id & 0xFFFFFFFF);
    if (wc.status != rc::WcStatus::success) {
      if (bad.empty()) bad = std::string("receive completion error ") + rc::to_string(wc.status);
      return;
    }
    // Exactly once, in order: message k of QP q carries k in its first bytes and slot k % slots' pattern.
    const uint64_t k = next[q]++;
    const uint8_t* m = slot(q, s);
    uint64_t seq = 0;
    std::memcpy(&seq, m, std::min<uint64_t>(8, p_.size));
    const uint64_t mask = p_.size >= 8 ? ~0ull : (1ull << (8 * p_.size)) - 1;
    if (bad.empty() && wc.byte_len != p_.size)
      bad = "QP " + std::to_string(q) + " message " + std::to_string(k) + " has " + std::to_string(wc.byte_len) + " bytes";
    if (bad.empty() && seq != (k & mask))
      bad = "QP " + std::to_string(q) + " expected message " + std::to_string(k) + ", got " + std::to_string(seq);
    if (bad.empty() && p_.size > 8 && checksum(m + 8, p_.size - 8) != slot_crc[k % p_.slots])
      bad = "QP " + std::to_string(q) + " message " + std::to_string(k) + " payload differs";
    post_recv(q, s);
  }

  std::string server_check(const std::vector<uint64_t>& done, const std::vector<uint64_t>& next, const std::string& bad) {
    switch (p_.verb) {
      case Verb::write: {
        const uint32_t want = checksum_of_pattern();
        for (uint32_t q = 0; q < regions(p_); ++q)
          if (done[q % p_.qps] > 0 && checksum(buf_.data() + uint64_t{q} * p_.size, p_.size) != want)
            return "fail WRITE data in region " + std::to_string(q) + " differs from the client's buffer";
        return "ok WRITE data matches the client's buffer (CRC-32)";
      }
      case Verb::read:
        return "ok";
      case Verb::send:
        if (!bad.empty()) return "fail " + bad;
        for (uint32_t q = 0; q < p_.qps; ++q)
          if (next[q] != done[q])
            return "fail QP " + std::to_string(q) + " received " + std::to_string(next[q]) + " messages, client completed " +
                   std::to_string(done[q]);
        return "ok every message received exactly once, in order, payload intact";
      case Verb::atomic:
        for (uint32_t q = 0; q < p_.qps; ++q) {
          uint64_t v;
          std::memcpy(&v, buf_.data() + uint64_t{q} * 8, 8);
          if (v != done[q])
            return "fail QP " + std::to_string(q) + " counter is " + std::to_string(v) + " after " + std::to_string(done[q]) +
                   " fetch-and-adds";
        }
        return "ok every fetch-and-add applied exactly once";
    }
    return "fail";
  }

  void summarize(Result& r, const std::vector<uint64_t>& buckets, std::vector<double>& lat, Nanos elapsed) {
    const double secs = static_cast<double>(elapsed) / 1e9;
    const double bytes = static_cast<double>(r.iterations) * static_cast<double>(p_.size);
    r.bw_avg_gbps = secs > 0 ? bytes * 8 / secs / 1e9 : 0;
    r.msg_rate_mpps = secs > 0 ? static_cast<double>(r.iterations) / secs / 1e6 : 0;
    r.bw_peak_gbps = r.bw_avg_gbps;
    if (buckets.size() >= 3) {  // full 10 ms windows only (the first and last are partial)
      uint64_t best = 0;
      for (size_t i = 1; i + 1 < buckets.size(); ++i) best = std::max(best, buckets[i]);
      r.bw_peak_gbps = std::max(r.bw_avg_gbps, static_cast<double>(best) * static_cast<double>(p_.size) * 8 /
                                                   (static_cast<double>(kBucket) / 1e9) / 1e9);
    }
    if (!lat.empty()) {
      std::sort(lat.begin(), lat.end());
      auto pct = [&](double p) { return lat[std::min(lat.size() - 1, static_cast<size_t>(p * static_cast<double>(lat.size())))]; };
      r.t_min = lat.front();
      r.t_max = lat.back();
      r.t_typical = pct(0.5);
      double sum = 0, sq = 0;
      for (double v : lat) sum += v;
      r.t_avg = sum / static_cast<double>(lat.size());
      for (double v : lat) sq += (v - r.t_avg) * (v - r.t_avg);
      r.t_stdev = std::sqrt(sq / static_cast<double>(lat.size()));
      r.p99 = pct(0.99);
      r.p999 = pct(0.999);
    }
  }

  void fill_counters(Result& r) const {
    r.verb = p_.verb;
    r.bytes = p_.size;
    r.qps = p_.qps;
    r.mtu = p_.mtu;
    r.spray = p_.spray;
    fill_udp_counters(driver_->stats(), qps_, r);
  }

  const Options& o_;
  TcpChannel ch_;
  Params p_;
  std::vector<uint8_t> buf_;
  rc::ProtectionDomain pd_;
  rc::MemoryRegion* mr_ = nullptr;
  std::unique_ptr<rc::CompletionQueue> scq_, rcq_;
  std::vector<std::unique_ptr<rc::QueuePair>> qps_;
  std::vector<exchange::PerftestDest> remote_;
  std::unique_ptr<udp::UdpDriver> driver_;
  std::string atomic_note_;
};

}  // namespace

const char* to_string(Verb v) {
  switch (v) {
    case Verb::write: return "write";
    case Verb::read: return "read";
    case Verb::send: return "send";
    case Verb::atomic: return "atomic";
  }
  return "?";
}

Result run_session(const Options& o) {
  const auto t = std::chrono::milliseconds(static_cast<int64_t>(o.timeout * 1000));
  try {
    if (o.server) {
      TcpChannel ch = TcpChannel::accept_one(o.local, o.tcp_port, std::chrono::milliseconds(static_cast<int64_t>(
                                                                    std::max(o.timeout, 60.0) * 1000)));
      Params p = decode(ch.recv_message(t, "parameter exchange"));
      if (p.verb != o.verb) {
        ch.send_message(std::string("error: this server runs ") + to_string(o.verb) + ", the client asked for " +
                            to_string(p.verb), t, "parameter exchange");
        throw ExitError{2, std::string("client asked for ") + to_string(p.verb) + ", this server runs " + to_string(o.verb)};
      }
      ch.send_message("ok", t, "parameter exchange");
      Session s(o, std::move(ch), p);
      return s.run();
    }
    TcpChannel ch = TcpChannel::connect(o.host, o.tcp_port, t);
    const Params p = from_options(o);
    ch.send_message(encode(p), t, "parameter exchange");
    const std::string reply = ch.recv_message(t, "parameter exchange");
    if (reply != "ok") throw ExitError{2, "server refused: " + reply};
    Session s(o, std::move(ch), p);
    return s.run();
  } catch (const exchange::ExchangeError& e) {
    throw ExitError{2, e.what()};
  } catch (const udp::UdpError& e) {
    throw ExitError{2, e.what()};
  }
}

}  // namespace rfab::cli::perf
