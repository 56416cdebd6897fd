#include "perftest_session.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "commands.hpp"
#include "rfab/base/units.hpp"
#include "cpu_time.hpp"
#include "perf_data.hpp"
#include "perf_progress.hpp"
#include "perf_qps.hpp"
#include "perf_stats.hpp"
#include "rfab/sidechannel/perftest_protocol.hpp"
#include "rfab/sidechannel/tcp_channel.hpp"
#include "rfab/udp/address.hpp"
#include "rfab/udp/error.hpp"
#include "rfab/udp/wire_icrc.hpp"

namespace rfab::cli::perf {
namespace {

using namespace std::chrono_literals;
using sidechannel::PerftestDest;
using sidechannel::PerftestSysData;
using sidechannel::TcpChannel;

constexpr uint64_t kGuard = 4096;          // untouched bytes behind every WRITE target region (server)
constexpr uint32_t kOutReads = 16;         // READs we accept in flight per QP (our responder's resources)
constexpr uint64_t kMaxBuffer = 1ull << 30;
// Buffers this side allocates at most: 1 GiB, or less with --max-memory.
uint64_t buffer_limit(const Options& o) { return std::min(kMaxBuffer, o.max_memory); }
// Unacknowledged packets over all QPs (rfab's engine): rxe in a small guest drains its socket slowly, and
// more in flight only overflows it into go-back-N retransmissions.
constexpr uint32_t kInflightPackets = 128;

class PerftestSession {
 public:
  PerftestSession(const Options& o, TcpChannel ch)
      : o_(o), ch_(std::move(ch)), conv_(ch_, std::chrono::milliseconds(static_cast<int64_t>(o.timeout * 1000))) {}

  // Everything before the transfer. What the peer sends wrong here (a version, system data, an MTU, a key
  // message, a buffer it makes us exceed --max-memory with) is an ExchangeError.
  void handshake() {
    // rxe and RNICs write arbitrary IPv4 IDs: the ICRC check accepts any.
    qps_ = open_perf_device(o_, o_.local.empty() ? ch_.local_ip() : o_.local, udp::kAnyIpv4Id);
    // perftest's order: versions, system data, MTU (main() of *_bw.c before any verbs object exists).
    peer_version_ = conv_.exchange_versions();
    sys_ = conv_.exchange_sys_data({});
    mtu_ = conv_.exchange_mtu(qps_.dev->max_mtu(o_.mtu));
    setup();
    connect_all();
  }

  Result transfer() {
    Result r = client() ? drive() : serve();
    finish(r);
    return r;
  }

  // Bytes of buffers for a peer whose cycle buffer is `cycle_buffer` (perftest's default: 4096).
  uint64_t buffer_bytes(uint32_t cycle_buffer) {
    sys_.cycle_buffer = cycle_buffer;
    return uint64_t{qps()} * slots() * stride();
  }

 private:
  bool client() const { return !o_.server; }
  uint32_t qps() const { return o_.qps; }
  // A WRITE target / READ source per QP: perftest addresses up to max(size, cycle buffer) bytes from the
  // vaddr we announce (it walks a cycle buffer for small messages).
  uint64_t region() const { return (std::max<uint64_t>(o_.size, sys_.cycle_buffer) + 63) & ~uint64_t{63}; }
  // Local buffers of the client: READ lands in `slots` rotating buffers per QP, WRITE/SEND send one.
  uint32_t slots() const {
    if (!client() && o_.verb == Verb::send) return static_cast<uint32_t>(std::min<uint64_t>(o_.iters, 512));
    if (client() && o_.verb == Verb::read) return static_cast<uint32_t>(std::min<uint64_t>(o_.iters, o_.tx_depth));
    return 1;
  }
  uint64_t stride() const { return client() || o_.verb == Verb::send ? std::max<uint64_t>(o_.size, 8) : region() + kGuard; }
  uint8_t* at(uint32_t q, uint32_t s) { return buf_.data() + (uint64_t{q} * slots() + s) * stride(); }
  uint64_t seed(uint32_t q, uint32_t s) const { return seed_ ^ (0xA24BAED4963EE407ull * (uint64_t{q} * slots() + s + 1)); }

  void setup() {
    const uint64_t bytes = uint64_t{qps()} * slots() * stride();
    // This side's own options were checked before it listened: only the peer's cycle buffer can get here.
    if (bytes > buffer_limit(o_))
      throw sidechannel::ExchangeError("the peer's cycle buffer of " + std::to_string(sys_.cycle_buffer) + " B makes " +
                                       format_size(bytes) + " of buffers, above the limit of " +
                                       format_size(buffer_limit(o_)));
    buf_.assign(bytes, 0);
    std::random_device rd;
    seed_ = (uint64_t{rd()} << 32) | rd();
    // Every buffer starts with a known pattern: what must change (WRITE/READ targets) or must not (READ
    // source, guards) is checked against it at the end.
    for (uint32_t q = 0; q < qps(); ++q)
      for (uint32_t s = 0; s < slots(); ++s) fill_pattern(at(q, s), stride(), seed(q, s));
    if (!o_.verbs && !o_.local.empty() && udp::Address::parse(o_.local) &&
        udp::Address::parse(o_.local)->v6 != udp::Address::parse(ch_.peer_ip())->v6)
      throw ExitError{2, "--perftest: the RoCE address and the side channel must both be IPv4 or both IPv6 "
                         "(perftest refuses mixed GID types)"};
    QpSizes sizes;
    sizes.qps = qps();
    sizes.send_depth = o_.tx_depth;
    sizes.recv_depth = slots();
    sizes.max_outstanding = std::max<uint32_t>(kInflightPackets / qps(), 16);
    create_perf_qps(qps_, buf_.data(), buf_.size(), rc::kLocalWrite | rc::kRemoteWrite | rc::kRemoteRead, sizes);
    for (uint32_t i = 0; i < qps(); ++i) {
      PerftestDest d;
      d.out_reads = kOutReads;
      d.qpn = qps_.qpn[i];
      d.psn = qps_.psn[i];
      d.rkey = qps_.mr.rkey;
      d.vaddr = reinterpret_cast<uint64_t>(at(i, 0));
      d.gid = qps_.dev->gid();
      mine_.push_back(d);
    }
  }

  // perftest's key exchanges: one per QP, QPs to RTS, the same messages once more (perftest prints the
  // remote side then), one barrier after RTR, and for SEND one more once the server's receives are posted.
  void connect_all() {
    for (uint32_t i = 0; i < qps(); ++i) theirs_.push_back(conv_.hand_shake(mine_[i], "perftest QP key exchange"));
    for (uint32_t i = 0; i < qps(); ++i) {
      if (theirs_[i].gid != theirs_[0].gid)
        throw sidechannel::ExchangeError("perftest peer uses different GIDs per QP; rfab sends every QP to one address");
      if (theirs_[i].out_reads < 1) throw sidechannel::ExchangeError("the perftest peer announced no READ resources");
      endpoint::ConnectParams c;
      c.peer = udp::Address::from_gid(theirs_[i].gid, o_.udp_port);
      if (const std::string bad = peer_address_problem(c.peer, qps_.dev->address()); !bad.empty())
        throw sidechannel::ExchangeError("perftest QP key exchange: " + ch_.peer() + ": " + bad);
      c.remote_qpn = theirs_[i].qpn;
      c.remote_psn = theirs_[i].psn;
      c.local_psn = mine_[i].psn;
      c.mtu = mtu_;
      c.access = rc::kRemoteWrite | rc::kRemoteRead;
      c.max_dest_rd_atomic = kOutReads;
      // Never more READs in flight than the peer's responder takes (its out_reads).
      c.max_rd_atomic = static_cast<uint8_t>(std::clamp<uint32_t>(theirs_[i].out_reads, 1, kOutReads));
      c.min_rnr_timer = 12;  // 0.64 ms: perftest's clients retry RNR forever (rnr_retry 7)
      c.ack_timeout = o_.ack_timeout;
      c.retry_cnt = o_.retry_cnt;
      c.rnr_retry = 7;
      connect_perf_qp(qps_, i, c);
    }
    for (uint32_t i = 0; i < qps(); ++i) {
      const PerftestDest again = conv_.hand_shake(mine_[i], "perftest QP key exchange (second round)");
      if (again != theirs_[i])
        throw sidechannel::ExchangeError("perftest peer changed its QP keys between the two rounds");
    }
    conv_.hand_shake(mine_[0], "perftest barrier after RTR");
    if (o_.verb == Verb::send) {
      if (!client())
        for (uint32_t q = 0; q < qps(); ++q)
          for (uint32_t s = 0; s < slots(); ++s) post_recv(q, s);
      conv_.hand_shake(mine_[0], "perftest barrier after posting receives");
    }
  }

  void post_recv(uint32_t q, uint32_t s) {
    rc::Sge sge{reinterpret_cast<uint64_t>(at(q, s)), static_cast<uint32_t>(stride()), qps_.mr.lkey};
    rc::RecvWr wr;
    wr.wr_id = (uint64_t{q} << 32) | s;
    wr.sg_list = {&sge, 1};
    const rc::Status st = qps_.dev->post_recv(qps_.qpn[q], wr);
    if (!st.ok()) throw ExitError{1, std::string("post_recv: ") + st.what};
  }

  bool post(uint32_t q, uint64_t k) {
    rc::SendWr wr;
    const uint32_t s = static_cast<uint32_t>(k % slots());
    rc::Sge sge{reinterpret_cast<uint64_t>(at(q, s)), static_cast<uint32_t>(o_.size), qps_.mr.lkey};
    wr.wr_id = (uint64_t{q} << 32) | s;
    wr.send_flags = rc::kSignaled;
    wr.sg_list = {&sge, 1};
    switch (o_.verb) {
      case Verb::write: wr.opcode = rc::WrOpcode::rdma_write; break;
      case Verb::read: wr.opcode = rc::WrOpcode::rdma_read; break;
      default: wr.opcode = rc::WrOpcode::send; break;
    }
    wr.rdma.remote_addr = theirs_[q].vaddr;
    wr.rdma.rkey = theirs_[q].rkey;
    const rc::Status st = qps_.dev->post_send(qps_.qpn[q], wr);
    if (st.code == rc::Errc::queue_full) return false;
    if (!st.ok()) throw ExitError{1, std::string("post_send: ") + st.what};
    return true;
  }

  // A completed READ into slot s of QP q: every word must have been overwritten, and the bytes must equal
  // the QP's first READ. The slot gets its pattern back for the next READ that lands there.
  void check_read(uint32_t q, uint32_t s) {
    uint8_t* p = at(q, s);
    const size_t left = words_still_pattern(p, o_.size, seed(q, s));
    if (left > 0 && note_.empty())
      note_ = "QP " + std::to_string(q) + ": a READ left " + std::to_string(left) + " of its words unwritten";
    const uint32_t crc = checksum(p, o_.size);
    if (first_read_crc_.size() <= q) first_read_crc_.resize(qps(), 0), have_first_.resize(qps(), false);
    if (!have_first_[q]) {
      first_read_crc_[q] = crc;
      have_first_[q] = true;
    } else if (crc != first_read_crc_[q] && note_.empty()) {
      note_ = "QP " + std::to_string(q) + ": READs of the same remote bytes returned different data";
    }
    fill_pattern(p, o_.size, seed(q, s));
  }

  std::chrono::milliseconds timeout() const { return std::chrono::milliseconds(static_cast<int64_t>(o_.timeout * 1000)); }

  Result drive() {
    Result r;
    std::vector<uint64_t> posted(qps(), 0), done(qps(), 0);
    const uint32_t window = o_.verb == Verb::read ? slots() : o_.tx_depth;
    std::vector<rc::WorkCompletion> wcs(256);
    std::string failure;
    const double cpu0 = cpu_times().total();
    const Nanos t0 = qps_.dev->now();
    ProgressWatch watch(t0, o_.timeout);
    for (;;) {
      bool all = true;
      for (uint32_t q = 0; q < qps(); ++q) {
        while (failure.empty() && posted[q] < o_.iters && posted[q] - done[q] < window && post(q, posted[q])) ++posted[q];
        if (done[q] < posted[q] || (failure.empty() && posted[q] < o_.iters)) all = false;
      }
      if (all) break;
      qps_.dev->progress(1'000'000);
      const Nanos now = qps_.dev->now();
      const size_t n = qps_.dev->poll_send(wcs);
      for (size_t i = 0; i < n; ++i) {
        const uint32_t q = static_cast<uint32_t>(wcs[i].wr_id >> 32);
        if (wcs[i].status != rc::WcStatus::success) {
          if (failure.empty())
            failure = "QP " + std::to_string(q) + ": completion error " + rc::to_string(wcs[i].status) + " after " +
                      std::to_string(done[q]) + " operations";
        } else if (o_.verb == Verb::read) {
          check_read(q, static_cast<uint32_t>(wcs[i].wr_id & 0xFFFFFFFF));
        }
        ++done[q];
      }
      if (watch.stalled(now, n, *qps_.dev)) {
        failure = "no completion and no packet from the peer for " + std::to_string(static_cast<int>(o_.timeout)) +
                  " s (is the peer alive?)";
        break;
      }
    }
    r.seconds = static_cast<double>(qps_.dev->now() - t0) / 1e9;
    r.cpu_seconds = cpu_times().total() - cpu0;
    for (uint64_t d : done) r.iterations += d;
    if (!failure.empty()) throw ExitError{1, failure};
    summarize_average(r);
    if (o_.verb != Verb::send) {
      // Non-duplex WRITE/READ: a barrier, then the client's result line goes to the server for printing.
      conv_.hand_shake(mine_[0], "perftest barrier after the test");
      // perftest counts iterations over all QPs (-n x -q) in its report.
      conv_.exchange_bw_reports({o_.size, r.iterations, r.bw_peak_gbps, r.bw_avg_gbps, r.msg_rate_mpps});
    }
    if (o_.verb == Verb::read) {
      r.verified = note_.empty();
      r.verify_note = r.verified ? "every READ overwrote its whole buffer and all READs of a QP returned the same bytes"
                                 : note_;
    } else {
      r.verified = true;
      r.verify_note = std::to_string(r.iterations) + (o_.verb == Verb::write ? " WRITEs" : " SENDs") +
                      " of " + std::to_string(o_.size) + " B acknowledged by the peer (its memory is not visible from here)";
    }
    return r;
  }

  Result serve() {
    Result r;
    std::vector<uint64_t> got(qps(), 0);
    std::vector<rc::WorkCompletion> wcs(256);
    const double cpu0 = cpu_times().total();
    const Nanos t0 = qps_.dev->now();
    Nanos last = t0, first = t0;
    uint64_t last_rx = 0, loops = 0;
    auto received_all = [&] {
      for (uint64_t g : got)
        if (g < o_.iters) return false;
      return true;
    };
    // The client's next side-channel message (its barrier, or for SEND its close handshake) comes once it
    // has every completion, which needs our ACKs and READ responses: keep the driver running until then.
    for (;;) {
      const bool busy = qps_.dev->progress(1'000'000);
      const size_t n = qps_.dev->poll_recv(wcs);
      for (size_t i = 0; i < n; ++i) on_recv(wcs[i], got);
      qps_.dev->poll_send(wcs);
      const Nanos now = qps_.dev->now();
      // Over verbs the device hides the packets (WRITE/READ make no completion here): a dead client then
      // shows as the side channel closing, which ends the loop below.
      const endpoint::DeviceCounters dc = qps_.dev->counters();
      const uint64_t rx = dc.sees_packets ? dc.rx_packets : last_rx + (n > 0);
      if (rx != last_rx) {
        if (last_rx == 0) first = now;  // the transfer's time starts with its first packet, not our wait
        last_rx = rx;
        last = now;
      } else if (dc.sees_packets && now - last > static_cast<Nanos>(o_.timeout * 1e9) && !ch_.readable(0ms)) {
        throw ExitError{1, "no packets from the perftest client for " + std::to_string(static_cast<int>(o_.timeout)) + " s"};
      }
      if ((!busy || ++loops % 256 == 0) && ch_.readable(0ms)) break;
    }
    if (o_.verb == Verb::send && !received_all() && note_.empty()) {
      std::string counts;
      for (uint64_t g : got) counts += " " + std::to_string(g);
      note_ = "the client finished, but per QP only" + counts + " of " + std::to_string(o_.iters) + " messages arrived";
    }
    r.seconds = static_cast<double>((qps_.dev->counters().sees_packets ? last : qps_.dev->now()) - first) / 1e9;
    r.cpu_seconds = cpu_times().total() - cpu0;
    if (o_.verb == Verb::send) {
      for (uint64_t g : got) r.iterations += g;
      r.verified = note_.empty();
      r.verify_note = r.verified ? std::to_string(o_.iters) + " messages of " + std::to_string(o_.size) +
                                       " B on each of " + std::to_string(qps()) + " QPs"
                                 : note_;
      summarize_average(r);
      return r;
    }
    conv_.hand_shake(mine_[0], "perftest barrier after the test");
    const auto rep = conv_.exchange_bw_reports({});  // perftest's server sends its (unused) report too
    r.iterations = rep.iters;
    r.bw_peak_gbps = rep.bw_peak;  // as the client measured them, in the client's unit
    r.bw_avg_gbps = rep.bw_avg;
    r.msg_rate_mpps = rep.msg_rate;
    if (rep.size != o_.size || rep.iters != o_.iters * qps())  // perftest reports -n x -q iterations
      note_ = "the client ran -s " + std::to_string(rep.size) + " and " + std::to_string(rep.iters) +
              " iterations in all, this server expects -s " + std::to_string(o_.size) + " and " +
              std::to_string(o_.iters * qps()) + " (-n " + std::to_string(o_.iters) + " x -q " + std::to_string(qps()) + ")";
    else
      check_memory();
    r.verified = note_.empty();
    r.verify_note = r.verified ? (o_.verb == Verb::write
                                      ? "every 8-byte word of each QP's target region was overwritten, its guard was not"
                                      : "our READ source is unchanged")
                               : note_;
    return r;
  }

  void on_recv(const rc::WorkCompletion& wc, std::vector<uint64_t>& got) {
    const uint32_t q = static_cast<uint32_t>(wc.wr_id >> 32);
    const uint32_t s = static_cast<uint32_t>(wc.wr_id & 0xFFFFFFFF);
    if (wc.status != rc::WcStatus::success) {
      if (note_.empty()) note_ = std::string("receive completion error ") + rc::to_string(wc.status);
      return;
    }
    if (wc.byte_len != o_.size && note_.empty())
      note_ = "QP " + std::to_string(q) + " message " + std::to_string(got[q]) + " has " + std::to_string(wc.byte_len) +
              " bytes, expected " + std::to_string(o_.size);
    if (++got[q] > o_.iters && note_.empty()) note_ = "QP " + std::to_string(q) + " received more than -n messages";
    post_recv(q, s);
  }

  void check_memory() {
    for (uint32_t q = 0; q < qps(); ++q) {
      uint8_t* p = at(q, 0);
      if (o_.verb == Verb::write) {
        const size_t left = words_still_pattern(p, o_.size, seed(q, 0));
        if (left > 0)
          return void(note_ = "QP " + std::to_string(q) + ": " + std::to_string(left) + " of " + std::to_string(o_.size / 8) +
                              " words of the WRITE target were not written");
        // The guard behind the region perftest may address must still hold its pattern.
        std::vector<uint8_t> full(stride());
        fill_pattern(full.data(), full.size(), seed(q, 0));
        if (std::memcmp(p + region(), full.data() + region(), kGuard) != 0)
          return void(note_ = "QP " + std::to_string(q) + ": a WRITE landed in the " + std::to_string(kGuard) +
                              "-byte guard behind its " + std::to_string(region()) + "-byte target region");
      } else {
        std::vector<uint8_t> full(stride());
        fill_pattern(full.data(), full.size(), seed(q, 0));
        if (std::memcmp(p, full.data(), full.size()) != 0)
          return void(note_ = "QP " + std::to_string(q) + ": the READ source changed");
      }
    }
  }

  // Average figures only: perftest's dialect reports no 10 ms peak.
  void summarize_average(Result& r) const {
    std::vector<double> no_latencies;
    summarize(r, o_.size, CompletionBuckets{}, no_latencies, static_cast<Nanos>(r.seconds * 1e9));
  }

  void finish(Result& r) {
    conv_.close(mine_[0]);
    r.verb = o_.verb;
    r.bytes = o_.size;
    r.qps = qps();
    r.mtu = mtu_;
    r.spray = 1;
    fill_counters(qps_, r);
    r.verify_note += "; peer speaks perftest " + peer_version_ + ", path MTU " + std::to_string(mtu_);
    if (!r.verified) throw ExitError{1, "data check failed: " + r.verify_note};
  }

  const Options& o_;
  TcpChannel ch_;
  sidechannel::PerftestConversation conv_;
  std::string peer_version_;
  sidechannel::PerftestSysData sys_;
  uint32_t mtu_ = 1024;
  std::vector<uint8_t> buf_;
  uint64_t seed_ = 0;
  PerfQps qps_;
  std::vector<PerftestDest> mine_, theirs_;
  std::vector<uint32_t> first_read_crc_;
  std::vector<bool> have_first_;
  std::string note_;
};

}  // namespace

Result run_perftest_session(const Options& o) {
  if (o.verb == Verb::atomic) throw ExitError{2, "--perftest: atomic is not supported (ib_atomic_bw is not paired yet)"};
  if (o.latency) throw ExitError{2, "--perftest: only the bandwidth tests (ib_*_bw) are supported, not --latency"};
  if (o.duration > 0) throw ExitError{2, "--perftest: use -n ITERS (perftest's -D mode is not supported)"};
  if (o.spray > 1) throw ExitError{2, "--perftest: --spray needs an rfab peer (perftest places packets in order)"};
  if (!o.faults.empty()) throw ExitError{2, "--perftest: --faults is for rfab peers only"};
  if (o.size == 0 || o.size > (1ull << 31)) throw ExitError{2, "--perftest: -s must be 1 B .. 2 GiB"};
  if (o.qps > 64) throw ExitError{2, "--perftest: at most 64 QPs"};
  check_local_options(o);
  const auto t = std::chrono::milliseconds(static_cast<int64_t>(o.timeout * 1000));
  try {
    // This side's own -s/-q must fit with the smallest cycle buffer a peer can have, before it connects
    // or listens.
    {
      PerftestSession probe(o, TcpChannel{});
      if (const uint64_t b = probe.buffer_bytes(PerftestSysData{}.cycle_buffer); b > buffer_limit(o))
        throw ExitError{2, "--perftest: -s x -q needs " + format_size(b) + " of buffers, above the limit of " +
                               format_size(buffer_limit(o)) + " (--max-memory, at most 1 GiB)"};
    }
    if (!o.server) {
      PerftestSession s(o, TcpChannel::connect(o.host, o.tcp_port, t));
      s.handshake();
      return s.transfer();
    }
    // A peer that breaks the conversation before the transfer is dropped; the server waits for the next.
    sidechannel::TcpListener listener(o.local, o.tcp_port);
    const auto accept_wait = std::chrono::milliseconds(static_cast<int64_t>(std::max(o.timeout, 60.0) * 1000));
    for (;;) {
      TcpChannel ch = listener.accept(accept_wait);
      const std::string who = ch.peer();
      PerftestSession s(o, std::move(ch));
      try {
        s.handshake();
      } catch (const sidechannel::ExchangeError& e) {
        std::fprintf(stderr, "rfab perf: refused perftest client %s: %s; waiting for the next client\n", who.c_str(),
                     e.what());
        continue;
      }
      return s.transfer();
    }
  } catch (const sidechannel::ExchangeError& e) {
    throw ExitError{2, e.what()};
  } catch (const udp::UdpError& e) {
    throw ExitError{2, e.what()};
  }
}

}  // namespace rfab::cli::perf
