#include "perf_session.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <memory>
#include <optional>
#include <random>
#include <sstream>

#include "commands.hpp"
#include "rfab/base/units.hpp"
#include "cpu_time.hpp"
#include "perf_data.hpp"
#include "perf_params.hpp"
#include "perf_progress.hpp"
#include "perf_qps.hpp"
#include "perf_stats.hpp"
#include "rfab/sidechannel/perftest_dest.hpp"
#include "rfab/sidechannel/tcp_channel.hpp"
#include "rfab/udp/error.hpp"
#include "rfab/udp/wire_icrc.hpp"

namespace rfab::cli::perf {
namespace {

using namespace std::chrono_literals;
using sidechannel::TcpChannel;

constexpr uint32_t kInflightPackets = 512;   // unacknowledged packets, summed over the QPs

class Session {
 public:
  Session(const Options& o, TcpChannel ch, const Params& p) : o_(o), ch_(std::move(ch)), p_(p) {}

  // The transfer, the data check and the result.
  Result finish() {
    Result r = o_.server ? serve() : drive();
    fill_result(r);
    return r;
  }

  std::chrono::milliseconds timeout() const { return std::chrono::milliseconds(static_cast<int64_t>(o_.timeout * 1000)); }
  bool client() const { return !o_.server; }

  // Buffers, device, MR, QPs; then the perftest-format key exchange and the QP bring-up. A peer's bad
  // key message or a broken side channel is an ExchangeError.
  void setup() {
    const uint64_t size = p_.size;
    // Both sides checked the size against --max-memory before they got here (check_params on a server).
    buf_.assign(*buffer_bytes(p_, !client()), 0);
    if ((p_.verb == Verb::write && client()) || (p_.verb == Verb::read && !client())) fill_pattern(buf_.data(), size, p_.seed);
    if (p_.verb == Verb::send && client())
      for (uint32_t q = 0; q < p_.qps; ++q)
        for (uint32_t s = 0; s < p_.slots; ++s)
          if (size > 8) fill_pattern(slot(q, s) + 8, size - 8, slot_seed(p_, s));
    if (rc::Mtu m; !rc::mtu_from_bytes(p_.mtu, m)) throw ExitError{2, "--mtu must be 256, 512, 1024, 2048 or 4096"};
    // Local RoCE address: as given, else the address the side channel uses on this host.
    const std::string local_ip = o_.local.empty() ? ch_.local_ip() : o_.local;
    QpSizes sizes;
    sizes.qps = p_.qps;
    sizes.send_depth = p_.depth;
    sizes.recv_depth = p_.rx_depth;
    // Without a congestion controller the only limit on data in flight is this window. Keep the sum over
    // all QPs near kInflightPackets, which the receiver's socket buffer absorbs: more only turns into drops
    // and go-back-N retransmissions.
    sizes.max_outstanding = std::clamp<uint32_t>(kInflightPackets / p_.qps, 32, 1024);
    // The peer is rfab, whose IPv4 IDs are GSO segment indexes: accepting only those keeps a corrupted
    // packet's false-accept rate at 2^-26 instead of the 2^-16 of any ID (wire_icrc.hpp).
    qps_ = open_perf_device(o_, local_ip, udp::kMaxGsoSegments);
    create_perf_qps(qps_, buf_.data(), buf_.size(),
                    rc::kLocalWrite | rc::kRemoteWrite | rc::kRemoteRead | rc::kRemoteAtomic, sizes);

    // perftest's per-QP key message, one exchange per QP in order (client writes first).
    for (uint32_t i = 0; i < p_.qps; ++i) {
      sidechannel::PerftestDest mine;
      mine.out_reads = 16;
      mine.qpn = qps_.qpn[i];
      mine.psn = qps_.psn[i];
      mine.rkey = qps_.mr.rkey;
      mine.vaddr = qps_.mr.addr;
      mine.gid = qps_.dev->gid();
      const auto msg = sidechannel::encode_dest_gid(mine);
      std::array<char, sidechannel::kKeyMsgSizeGid> theirs{};
      ch_.exchange(msg, theirs, timeout(), "QP key exchange");
      std::string err;
      auto peer = sidechannel::parse_dest(theirs, err);
      if (!peer) throw sidechannel::ExchangeError("QP key exchange: bad key message from " + ch_.peer() + ": " + err);
      endpoint::ConnectParams c;
      c.peer = udp::Address::from_gid(peer->gid, o_.udp_port);
      if (const std::string bad = peer_address_problem(c.peer, qps_.dev->address()); !bad.empty())
        throw sidechannel::ExchangeError("QP key exchange: " + ch_.peer() + ": " + bad);
      c.remote_qpn = peer->qpn;
      c.remote_psn = peer->psn;
      c.local_psn = mine.psn;
      c.mtu = p_.mtu;
      c.access = rc::kRemoteWrite | rc::kRemoteRead | rc::kRemoteAtomic;
      c.max_dest_rd_atomic = 16;
      c.max_rd_atomic = 16;
      c.min_rnr_timer = 1;  // 0.01 ms: the server reposts receives quickly
      c.ack_timeout = o_.ack_timeout;
      c.retry_cnt = o_.retry_cnt;
      c.rnr_retry = 7;
      c.loss_recovery = p_.recovery;
      if (p_.spray > 1) {
        // Only a requester chooses ports; the server's QPs answer (and echo ports) either way.
        c.entropy.kind = client() && o_.adaptive ? rc::EntropyPolicy::Kind::adaptive : rc::EntropyPolicy::Kind::spray;
        c.entropy.paths = static_cast<uint16_t>(p_.spray);
      }
      connect_perf_qp(qps_, i, c);
      remote_.push_back(*peer);
    }
    if (p_.verb == Verb::send && !client())
      for (uint32_t q = 0; q < p_.qps; ++q)
        for (uint32_t s = 0; s < p_.rx_depth; ++s) post_recv(q, s);
  }

 private:
  uint8_t* slot(uint32_t q, uint32_t s) {
    const uint32_t per = client() ? p_.slots : p_.rx_depth;
    return buf_.data() + (uint64_t{q} * per + s) * p_.size;
  }

  void post_recv(uint32_t q, uint32_t s) {
    rc::Sge sge{reinterpret_cast<uint64_t>(slot(q, s)), static_cast<uint32_t>(p_.size), qps_.mr.lkey};
    rc::RecvWr wr;
    wr.wr_id = (uint64_t{q} << 32) | s;
    wr.sg_list = {&sge, 1};
    const rc::Status st = qps_.dev->post_recv(qps_.qpn[q], wr);
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
        sge = {qps_.mr.addr, static_cast<uint32_t>(p_.size), qps_.mr.lkey};
        wr.rdma.remote_addr = remote_[q].vaddr + reg;
        wr.rdma.rkey = remote_[q].rkey;
        break;
      case Verb::read:
        wr.opcode = rc::WrOpcode::rdma_read;
        sge = {qps_.mr.addr + reg, static_cast<uint32_t>(p_.size), qps_.mr.lkey};
        wr.rdma.remote_addr = remote_[q].vaddr;
        wr.rdma.rkey = remote_[q].rkey;
        break;
      case Verb::send: {
        uint8_t* s = slot(q, static_cast<uint32_t>(k % p_.slots));
        const uint64_t seq = k;
        std::memcpy(s, &seq, std::min<uint64_t>(8, p_.size));
        wr.opcode = rc::WrOpcode::send;
        sge = {reinterpret_cast<uint64_t>(s), static_cast<uint32_t>(p_.size), qps_.mr.lkey};
        break;
      }
      case Verb::atomic:
        wr.opcode = rc::WrOpcode::atomic_fetch_and_add;
        sge = {qps_.mr.addr + (uint64_t{q} * p_.depth + k % p_.depth) * 8, 8, qps_.mr.lkey};
        wr.atomic.remote_addr = remote_[q].vaddr + uint64_t{q} * 8;
        wr.atomic.rkey = remote_[q].rkey;
        wr.atomic.compare_add = 1;
        break;
    }
    wr.sg_list = {&sge, 1};
    const rc::Status st = qps_.dev->post_send(qps_.qpn[q], wr);
    if (st.code == rc::Errc::queue_full) return false;
    if (!st.ok()) throw ExitError{1, std::string("post_send: ") + st.what};
    return true;
  }

  Result drive() {
    ch_.barrier(timeout(), "start barrier");
    Result r;
    const uint32_t window = p_.verb == Verb::send ? std::min(p_.depth, p_.slots) : p_.depth;
    std::vector<uint64_t> posted(p_.qps, 0), done(p_.qps, 0);
    std::vector<Nanos> post_time(size_t{p_.qps} * std::max<uint32_t>(window, 1), 0);
    std::vector<double> lat_us;
    CompletionBuckets buckets;
    BusyIntervals busy(p_.qps);
    std::vector<uint32_t> batch(p_.qps, 0);  // completions per QP in one poll, for the peak bandwidth
    std::string failure;
    const double cpu0 = cpu_times().total();
    const Nanos t0 = qps_.dev->now();
    const Nanos end = p_.duration > 0 ? t0 + static_cast<Nanos>(p_.duration * 1e9) : kNever;
    ProgressWatch watch(t0, o_.timeout);
    std::vector<rc::WorkCompletion> wcs(256);
    for (;;) {
      Nanos now = qps_.dev->now();
      const bool stop = !failure.empty() || now >= end;
      bool all_done = true;
      for (uint32_t q = 0; q < p_.qps; ++q) {
        while (!stop && posted[q] - done[q] < window && (end != kNever || posted[q] < p_.iters)) {
          if (!post(q, posted[q])) break;
          busy.posted(q, now - t0);
          if (p_.latency) post_time[q] = qps_.dev->now();
          ++posted[q];
        }
        if (done[q] < posted[q] || (!stop && end == kNever && posted[q] < p_.iters) || (!stop && end != kNever))
          all_done = false;
      }
      if (all_done) break;
      qps_.dev->progress(1'000'000);
      now = qps_.dev->now();
      const size_t n = qps_.dev->poll_send(wcs);
      std::fill(batch.begin(), batch.end(), 0u);
      for (size_t i = 0; i < n; ++i) {
        const auto& wc = wcs[i];
        const uint32_t q = static_cast<uint32_t>(wc.wr_id >> 32);
        if (wc.status != rc::WcStatus::success) {
          if (failure.empty())
            failure = "QP " + std::to_string(qps_.qpn[q]) + ": completion error " + rc::to_string(wc.status) +
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
        ++batch[q];
      }
      for (uint32_t q = 0; q < p_.qps; ++q)
        if (batch[q] > 0)
          busy.completed(buckets, q, now - t0, static_cast<double>(batch[q]) * static_cast<double>(p_.size),
                         done[q] == posted[q]);
      buckets.polled(now - t0);
      if (watch.stalled(now, n, *qps_.dev)) {
        if (failure.empty())
          failure = "no completion and no packet from the peer for " + std::to_string(static_cast<int>(o_.timeout)) +
                    " s (is the peer alive?)";
        break;
      }
    }
    const Nanos t1 = qps_.dev->now();
    r.cpu_seconds = cpu_times().total() - cpu0;
    r.seconds = static_cast<double>(t1 - t0) / 1e9;
    uint64_t total = 0;
    for (uint64_t d : done) total += d;
    r.iterations = total;
    summarize(r, p_.size, buckets, lat_us, t1 - t0);
    // Tell the server and let it verify what it received.
    // The server prints the bandwidth figures too.
    const ResultLine line{failure.empty(), done, r.bw_peak_gbps, r.bw_avg_gbps, r.msg_rate_mpps};
    try {
      ch_.send_message(encode_result(line), timeout(), "result exchange");
      verdict(r, ch_.recv_message(timeout(), "result exchange"), done);
    } catch (const sidechannel::ExchangeError& e) {
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

  uint32_t checksum_of_pattern() const { return pattern_checksum(p_.size, p_.seed); }

  Result serve() {
    ch_.barrier(timeout(), "start barrier");
    Result r;
    std::vector<uint64_t> next(p_.qps, 0);
    std::vector<uint32_t> slot_crc(p_.slots);
    if (p_.verb == Verb::send && p_.size > 8)
      for (uint32_t s = 0; s < p_.slots; ++s) slot_crc[s] = pattern_checksum(p_.size - 8, slot_seed(p_, s));
    std::string bad;
    std::vector<rc::WorkCompletion> wcs(256);
    const double cpu0 = cpu_times().total();
    const Nanos t0 = qps_.dev->now();
    Nanos last_rx = t0;
    uint64_t last_rx_count = 0;
    uint64_t loops = 0;
    for (;;) {
      const bool busy = qps_.dev->progress(1'000'000);
      const size_t n = qps_.dev->poll_recv(wcs);
      for (size_t i = 0; i < n; ++i) check_recv(wcs[i], next, slot_crc, bad);
      qps_.dev->poll_send(wcs);
      const Nanos now = qps_.dev->now();
      if (const uint64_t rx = qps_.dev->counters().rx_packets; rx != last_rx_count) {
        last_rx_count = rx;
        last_rx = now;
      } else if (now - last_rx > static_cast<Nanos>(o_.timeout * 1e9) && !ch_.readable(0ms)) {
        throw ExitError{1, "no packets from the client for " + std::to_string(static_cast<int>(o_.timeout)) + " s"};
      }
      if ((!busy || ++loops % 256 == 0) && ch_.readable(0ms)) break;
    }
    const std::string msg = ch_.recv_message(timeout(), "result exchange");
    // Drain what is still queued (nothing new can arrive: the client saw every completion).
    for (size_t n; (n = qps_.dev->poll_recv(wcs)) > 0;)
      for (size_t i = 0; i < n; ++i) check_recv(wcs[i], next, slot_crc, bad);
    r.seconds = static_cast<double>(qps_.dev->now() - t0) / 1e9;
    r.cpu_seconds = cpu_times().total() - cpu0;
    ResultLine line;
    std::string note;
    bool parsed = true;
    try {
      // Operations per QP cannot exceed what the client may post: its iterations, or without a count
      // (a timed run) what 64 bits hold.
      line = decode_result(msg, p_.qps, p_.duration > 0 ? UINT64_MAX : p_.iters);
    } catch (const ParamsError& e) {
      note = std::string("fail ") + e.what();
      parsed = false;
      line.completed.assign(p_.qps, 0);
    }
    const std::vector<uint64_t>& done = line.completed;
    for (uint64_t d : done) r.iterations += d;
    r.bw_peak_gbps = line.bw_peak_gbps;  // as the client measured them
    r.bw_avg_gbps = line.bw_avg_gbps;
    r.msg_rate_mpps = line.msg_rate_mpps;
    if (note.empty()) note = server_check(done, next, bad);
    r.verified = note.rfind("ok", 0) == 0;
    r.verify_note = note.size() > 3 ? note.substr(3) : note;
    try {
      ch_.send_message(note, timeout(), "result exchange");
    } catch (const sidechannel::ExchangeError&) {
    }
    if (parsed && !line.done) throw ExitError{1, "the client reported a failed transfer"};
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

  void fill_result(Result& r) const {
    r.verb = p_.verb;
    r.bytes = p_.size;
    r.qps = p_.qps;
    r.mtu = p_.mtu;
    r.spray = p_.spray;
    r.recovery = p_.recovery;
    r.adaptive = client() && o_.adaptive && p_.spray > 1;
    fill_counters(qps_, r);
  }

  const Options& o_;
  TcpChannel ch_;
  Params p_;
  std::vector<uint8_t> buf_;
  PerfQps qps_;
  std::vector<sidechannel::PerftestDest> remote_;
  std::string atomic_note_;
};

// Server: a client whose parameters are malformed, out of range or above --max-memory, or whose side
// channel breaks before the transfer, is refused (told why when it still listens) and the server waits for
// the next one. The first client that gets through setup ends the server with its result.
Result serve_clients(const Options& o) {
  const auto t = std::chrono::milliseconds(static_cast<int64_t>(o.timeout * 1000));
  const auto accept_wait = std::chrono::milliseconds(static_cast<int64_t>(std::max(o.timeout, 60.0) * 1000));
  sidechannel::TcpListener listener(o.local, o.tcp_port);
  for (;;) {
    TcpChannel ch = listener.accept(accept_wait);
    const std::string who = ch.peer();
    std::optional<Session> s;
    try {
      Params p;
      try {
        p = decode(ch.recv_message(t, "parameter exchange", kMaxParamsMessage));
        if (p.verb != o.verb)
          throw ParamsError(std::string("this server runs ") + to_string(o.verb) + ", the client asked for " +
                            to_string(p.verb));
        check_params(p, o.max_memory);
      } catch (const std::exception& e) {
        // Tell the client why (it prints the reason and exits 2); it may already be gone.
        try {
          ch.send_message(std::string("error: ") + e.what(), t, "parameter exchange");
        } catch (const sidechannel::ExchangeError&) {
        }
        throw sidechannel::ExchangeError(e.what());
      }
      ch.send_message("ok", t, "parameter exchange");
      s.emplace(o, std::move(ch), p);
      s->setup();
    } catch (const sidechannel::ExchangeError& e) {
      std::fprintf(stderr, "rfab perf: refused client %s: %s; waiting for the next client\n", who.c_str(), e.what());
      continue;
    }
    return s->finish();
  }
}

}  // namespace

Result run_session(const Options& o) {
  check_local_options(o);
  const auto t = std::chrono::milliseconds(static_cast<int64_t>(o.timeout * 1000));
  try {
    if (o.server) return serve_clients(o);
    const Params p = from_options(o);
    if (const auto need = memory_bytes(p, false); !need || *need > o.max_memory)
      throw ExitError{2, "this test needs " + (need ? approx_size(*need) : std::string("more than 16 EiB")) +
                             " of buffers and queues, above --max-memory " + format_size(o.max_memory)};
    TcpChannel ch = TcpChannel::connect(o.host, o.tcp_port, t);
    ch.send_message(encode(p), t, "parameter exchange");
    const std::string reply = ch.recv_message(t, "parameter exchange");
    if (reply != "ok")
      throw ExitError{2, "server refused: " + (reply.rfind("error: ", 0) == 0 ? reply.substr(7) : reply)};
    Session s(o, std::move(ch), p);
    s.setup();
    return s.finish();
  } catch (const sidechannel::ExchangeError& e) {
    throw ExitError{2, e.what()};
  } catch (const udp::UdpError& e) {
    throw ExitError{2, e.what()};
  }
}

}  // namespace rfab::cli::perf
