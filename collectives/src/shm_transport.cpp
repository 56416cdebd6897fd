#include "rfab/collectives/shm_transport.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "env_config.hpp"
#include "rfab/collectives/types.hpp"

namespace rfab::coll {

namespace {
constexpr uint64_t kMagic = 0x52464142'53484d31ull;  // "RFABSHM1"
constexpr uint32_t kVersion = 2;  // 2: inline-message flags (ll_salt)
constexpr size_t kPage = 4096;
constexpr uint64_t kAlign = 64;  // every message starts 64-byte aligned in the ring
enum : uint32_t { kLive = 0, kAborted = 1, kClosed = 2 };

size_t round_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14
#endif
// Maps a ring's pages into this process and touches every one before the first message. Left to the first
// lap around the ring, each new 4 KiB costs a fault in both processes, and on a guest whose hypervisor
// fills shadow page tables lazily several microseconds per page per process (the guest counts no extra
// page faults): most of a short benchmark's time. MADV_POPULATE_WRITE alone fills only the guest's page tables, hence
// the touch. `writable`: the ring we produce into (nothing of ours is in it yet, so writing is safe); the
// ring we consume from is only read (its producer may already be writing to it).
void populate(std::byte* p, size_t n, bool writable) {
  (void)madvise(p, n, MADV_POPULATE_WRITE);  // best effort: older kernels fault below instead
  for (size_t off = 0; off < n; off += kPage) {
    volatile std::byte* b = p + off;
    if (writable) {
      *b = std::byte{0};
    } else {
      (void)*b;
    }
  }
}
}  // namespace

struct ShmSegmentHeader {
  uint64_t magic;
  uint32_t version;
  int32_t rank;
  int32_t nranks;
  int32_t pid;
  uint64_t ring_bytes;
  uint64_t ll_salt;  // random, top bit set: inline-message flags of the rings in this segment (ShmPair)
  char host[64];
  alignas(64) Doorbell bell;
  alignas(64) std::atomic<uint32_t> state;
};

struct RingCtl {
  alignas(64) std::atomic<uint64_t> tail;  // written by the producer only
  alignas(64) std::atomic<uint64_t> head;  // written by the consumer only
};

namespace {
size_t header_bytes() { return round_up(sizeof(ShmSegmentHeader), kPage); }
size_t ctl_bytes(int nranks) { return round_up(sizeof(RingCtl) * static_cast<size_t>(nranks), kPage); }
size_t segment_bytes(int nranks, size_t ring) {
  return header_bytes() + ctl_bytes(nranks) + ring * static_cast<size_t>(nranks);
}
}  // namespace

std::string shm_segment_name(const std::string& prefix, int rank) {
  std::string seg = "/rfab-" + prefix + "-" + std::to_string(rank);
  std::replace(seg.begin() + 1, seg.end(), '/', '_');
  return seg;
}

int remove_segments(const std::string& prefix, int nranks) {
  int removed = 0;
  for (int r = 0; r < nranks; ++r) removed += shm_unlink(shm_segment_name(prefix, r).c_str()) == 0 ? 1 : 0;
  return removed;
}

std::unique_ptr<ShmSegment> ShmSegment::create(const std::string& name, int rank, int nranks, size_t ring_bytes,
                                               const std::string& host) {
  std::unique_ptr<ShmSegment> s(new ShmSegment);
  s->name_ = name;
  s->nranks_ = nranks;
  s->ring_bytes_ = ring_bytes;
  s->size_ = segment_bytes(nranks, ring_bytes);
  int fd = shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  if (fd < 0) throw_errno("shm_open(" + name + ")");
  s->owner_ = true;
  if (ftruncate(fd, static_cast<off_t>(s->size_)) != 0) {
    int e = errno;
    close(fd);
    shm_unlink(name.c_str());
    errno = e;
    throw_errno("ftruncate(" + name + ")");
  }
  s->base_ = mmap(nullptr, s->size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int e = errno;
  close(fd);
  if (s->base_ == MAP_FAILED) {
    s->base_ = nullptr;
    shm_unlink(name.c_str());
    errno = e;
    throw_errno("mmap(" + name + ")");
  }
  // The file is zero-filled, so the atomics start at 0; placement-new makes them objects.
  auto* h = new (s->base_) ShmSegmentHeader{};
  h->magic = kMagic;
  h->version = kVersion;
  h->rank = rank;
  h->nranks = nranks;
  h->pid = static_cast<int32_t>(getpid());
  h->ring_bytes = ring_bytes;
  uint64_t salt = 0;
  if (getrandom(&salt, sizeof salt, 0) != static_cast<ssize_t>(sizeof salt))
    salt = static_cast<uint64_t>(getpid()) * 0x9E3779B97F4A7C15ull ^ reinterpret_cast<uintptr_t>(s->base_);
  h->ll_salt = (salt | (1ull << 63)) & ~uint64_t{63};
  std::snprintf(h->host, sizeof(h->host), "%s", host.c_str());
  h->state.store(kLive);
  auto* ctl = reinterpret_cast<RingCtl*>(static_cast<std::byte*>(s->base_) + header_bytes());
  for (int i = 0; i < nranks; ++i) new (&ctl[i]) RingCtl{};
  s->header_ = h;
  return s;
}

std::unique_ptr<ShmSegment> ShmSegment::open(const std::string& name, int rank, int nranks) {
  std::unique_ptr<ShmSegment> s(new ShmSegment);
  s->name_ = name;
  s->nranks_ = nranks;
  int fd = shm_open(name.c_str(), O_RDWR, 0600);
  if (fd < 0) throw_errno("shm_open(" + name + ") of rank " + std::to_string(rank));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    close(fd);
    throw_errno("fstat(" + name + ")");
  }
  s->size_ = static_cast<size_t>(st.st_size);
  s->base_ = mmap(nullptr, s->size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int e = errno;
  close(fd);
  if (s->base_ == MAP_FAILED) {
    s->base_ = nullptr;
    errno = e;
    throw_errno("mmap(" + name + ")");
  }
  s->header_ = static_cast<ShmSegmentHeader*>(s->base_);
  const auto& h = *s->header_;
  if (s->size_ < header_bytes() || h.magic != kMagic || h.version != kVersion || h.rank != rank ||
      h.nranks != nranks || s->size_ != segment_bytes(nranks, h.ring_bytes))
    throw Error(Status::Internal, "shared-memory segment " + name + " does not belong to rank " +
                                      std::to_string(rank) + " of " + std::to_string(nranks));
  s->ring_bytes_ = h.ring_bytes;
  return s;
}

ShmSegment::~ShmSegment() {
  if (base_ != nullptr) munmap(base_, size_);
  if (owner_) unlink();
}

void ShmSegment::unlink() {
  if (owner_) {
    shm_unlink(name_.c_str());
    owner_ = false;
  }
}

Doorbell& ShmSegment::doorbell() { return header_->bell; }

RingCtl* ShmSegment::ring_ctl(int src) {
  return reinterpret_cast<RingCtl*>(static_cast<std::byte*>(base_) + header_bytes()) + src;
}

std::byte* ShmSegment::ring_data(int src) {
  return static_cast<std::byte*>(base_) + header_bytes() + ctl_bytes(nranks_) +
         ring_bytes_ * static_cast<size_t>(src);
}

// One direction pair with a peer: we produce into the peer's ring for us and consume from our ring for it.
//
// Inline messages (at most kInlineLines * 56 bytes): k = ceil(size / 56) cache lines, each holding 56 payload
// bytes and, in its last 8, a flag stored after that payload. The consumer polls the flags instead of the
// tail, so the message costs one round of cache-line transfers instead of two dependent ones (tail, then
// data); a line transfer between cores costs a few hundred nanoseconds. One line is
// read in place; more are gathered into staging_ (at most 448 bytes). flag = ((line offset << 3) | size)
// ^ salt: an older lap's flag never matches (offsets only grow), stale payload bytes match with
// probability 2^-63 (random salt). An inline message never straddles the ring's end (both ends skip to the
// ring's start by the same rule) and takes 64k bytes of the stream; the tail is published after the flags
// (buffered() and dead-peer checks still work).
class ShmTransport::ShmPair final : public Pair {
 public:
  static constexpr size_t kLinePayload = 56;
  static constexpr size_t kInlineLines = 8;
  static constexpr size_t kInline = kLinePayload * kInlineLines;
  static_assert(kInline == kShmInlineBytes);

  ShmPair(ShmSegment& own, ShmSegment& peer_seg, int me, int peer)
      : out_ctl_(peer_seg.ring_ctl(me)),
        out_data_(peer_seg.ring_data(me)),
        in_ctl_(own.ring_ctl(peer)),
        in_data_(own.ring_data(peer)),
        cap_(own.ring_bytes()),
        peer_bell_(&peer_seg.doorbell()),
        out_salt_(peer_seg.header().ll_salt),
        in_salt_(own.header().ll_salt) {
    tail_ = out_ctl_->tail.load(std::memory_order_relaxed);
    head_ = in_ctl_->head.load(std::memory_order_relaxed);
    peer_head_ = out_ctl_->head.load(std::memory_order_relaxed);
    populate(out_data_, cap_, true);
    populate(const_cast<std::byte*>(in_data_), cap_, false);
  }

  void begin_send() override {
    // Padding is only written by inline flags: both ends skip to the same aligned offset. The aligned tail
    // is published with the first data (the consumer aligns its head itself).
    tail_ = round_up(tail_, kAlign);
    inline_out_ = 0;
  }
  void begin_recv() override {
    head_ = round_up(head_, kAlign);
    in_ctl_->head.store(head_, std::memory_order_release);
    inline_in_ = 0;
  }
  void begin_send_msg(size_t bytes) override {
    begin_send();
    inline_out_ = bytes <= kInline ? bytes : 0;
    if (inline_out_ != 0) tail_ = skip_wrap(tail_, inline_out_);
    tail_ = phase(tail_, bytes);
    msg_out_ = tail_;
  }
  void begin_recv_msg(size_t bytes) override {
    begin_recv();
    if (bytes >= kPhaseMin) {
      head_ = phase(head_, bytes);
      in_ctl_->head.store(head_, std::memory_order_release);
    }
    inline_in_ = bytes <= kInline ? bytes : 0;
    if (inline_in_ != 0) {
      head_ = skip_wrap(head_, inline_in_);  // nothing is published: the producer skips by the same rule
      lines_seen_ = 0;
    }
    inline_seen_ = false;
    msg_in_ = head_;
  }

  size_t try_send(const std::byte* src, size_t n, size_t granule) override {
    // The consumer's head is read only when the last value we saw leaves too little room: the line it lives
    // on is written by the consumer on every consume(), so reading it on every send was one more cache miss
    // on the critical path of every small message.
    // An inline-sized message goes whole with its flag or not at all (0 until the caller offers all of it
    // and the line is free): the consumer then never needs the tail line, and an op gated on this one
    // waits for at most 56 bytes more. Gates form chains that end at ungated sends, so this cannot deadlock.
    bool whole_inline = inline_out_ != 0;
    if (whole_inline && n != inline_out_) return 0;
    size_t need = whole_inline ? lines(n) * kAlign : n;  // inline: every line, flags included
    size_t free = space();
    if (free < need) {
      peer_head_ = out_ctl_->head.load(std::memory_order_acquire);
      free = space();
    }
    if (whole_inline) {
      if (free < need) return 0;
      inline_out_ = 0;
      for (size_t i = 0, k = lines(n); i < k; ++i) {
        std::byte* line = out_data_ + ((tail_ + i * kAlign) & (cap_ - 1));
        std::memcpy(line, src + i * kLinePayload, std::min(kLinePayload, n - i * kLinePayload));
        __atomic_store_n(reinterpret_cast<uint64_t*>(line + kFlagAt), flag(out_salt_, tail_ + i * kAlign, n),
                         __ATOMIC_RELEASE);
      }
      tail_ += lines(n) * kAlign;
      out_ctl_->tail.store(tail_, std::memory_order_release);
      peer_bell_->ring();
      return n;
    }
    // The consumer's head may sit at any byte (earlier messages of other datatypes), so free space is
    // not a multiple of the element size: round down.
    if (free < n) n = free - free % (granule == 0 ? 1 : granule);
    if (n == 0) return 0;
    size_t off = tail_ & (cap_ - 1);
    size_t first = std::min(n, cap_ - off);
    std::memcpy(out_data_ + off, src, first);
    if (first < n) std::memcpy(out_data_, src + first, n - first);
    tail_ += n;
    out_ctl_->tail.store(tail_, std::memory_order_release);
    peer_bell_->ring();
    return n;
  }

  std::span<const std::byte> readable() override {
    if (inline_in_ != 0) {
      // Inline-sized messages always come inline (see try_send): poll the flag only, never the tail line.
      const std::byte* first = in_data_ + (msg_in_ & (cap_ - 1));
      size_t k = lines(inline_in_);
      if (!inline_seen_) {
        for (; lines_seen_ < k; ++lines_seen_) {
          const std::byte* line = first + lines_seen_ * kAlign;  // never past the ring's end (skip_wrap)
          if (__atomic_load_n(reinterpret_cast<const uint64_t*>(line + kFlagAt), __ATOMIC_ACQUIRE) !=
              flag(in_salt_, msg_in_ + lines_seen_ * kAlign, inline_in_))
            return {};
        }
        for (size_t i = 0; k > 1 && i < k; ++i)
          std::memcpy(staging_.data() + i * kLinePayload, first + i * kAlign,
                      std::min(kLinePayload, inline_in_ - i * kLinePayload));
        inline_seen_ = true;
      }
      size_t done = static_cast<size_t>(head_ - msg_in_);  // the receiver may take it in pieces
      if (done >= inline_in_) return {};
      return {(k > 1 ? staging_.data() : first) + done, inline_in_ - done};
    }
    int64_t avail = static_cast<int64_t>(in_ctl_->tail.load(std::memory_order_acquire) - head_);
    if (avail <= 0) return {};
    size_t off = head_ & (cap_ - 1);
    size_t n = std::min(static_cast<size_t>(avail), cap_ - off);
    return {in_data_ + off, n};
  }

  size_t buffered() override {
    int64_t avail = static_cast<int64_t>(in_ctl_->tail.load(std::memory_order_acquire) - head_);
    return avail > 0 ? static_cast<size_t>(avail) : 0;
  }

  void consume(size_t n) override {
    head_ += n;
    // A fully read inline message frees all its lines at once.
    if (inline_in_ != 0 && head_ - msg_in_ >= inline_in_) head_ = msg_in_ + lines(inline_in_) * kAlign;
    in_ctl_->head.store(head_, std::memory_order_release);
    peer_bell_->ring();  // the peer (our producer) may be waiting for space
  }

 private:
  static constexpr size_t kFlagAt = kAlign - sizeof(uint64_t);
  static uint64_t flag(uint64_t salt, uint64_t offset, size_t bytes) { return ((offset << 3) | bytes) ^ salt; }
  static size_t lines(size_t bytes) { return (bytes + kLinePayload - 1) / kLinePayload; }
  // An inline message starting at `pos` (64-aligned) that would cross the ring's end starts at the next lap.
  uint64_t skip_wrap(uint64_t pos, size_t bytes) const {
    return (pos & (cap_ - 1)) + lines(bytes) * kAlign > cap_ ? round_up(pos, cap_) : pos;
  }

  // Messages of at least kPhaseMin start at byte kPhase of a ring page (both ends skip by the same rule,
  // like the 64-byte alignment). Left at offset 0, a ring message and a malloc'd (mmap'd) buffer, which
  // starts 16 bytes into its page, were 16 bytes apart modulo 4 KiB, and copies and reductions between
  // them ran up to 2-3x slower depending on the buffers' addresses (presumably 4K aliasing between the
  // loads of one and the stores to the other): 4 MiB allreduce out of place 1.0-1.15 ms as the first size
  // of a benchmark, 0.34-0.55 ms with the offset. RFAB_SHM_MSG_PHASE overrides it (0: off; A/B only).
  static size_t phase_setting() {
    const auto v = from_env([] { return env::get_unsigned("RFAB_SHM_MSG_PHASE"); });
    if (!v) return kPhase;
    return static_cast<size_t>(*v) % kPage & ~size_t{63};  // keep 64-byte alignment
  }
  static constexpr size_t kPhase = 2048;
  static constexpr size_t kPhaseMin = size_t{64} << 10;
  uint64_t phase(uint64_t pos, size_t bytes) const {
    static const size_t ph = phase_setting();
    if (bytes < kPhaseMin || ph == 0 || cap_ < 8 * kPage) return pos;
    uint64_t p = (pos & ~uint64_t{kPage - 1}) + ph;
    return p >= pos ? p : p + kPage;
  }

  size_t space() const {
    // Signed: after the consumer aligns its head past an unpadded tail, head may briefly exceed tail.
    int64_t used = static_cast<int64_t>(tail_ - peer_head_);
    if (used < 0) used = 0;
    return cap_ > static_cast<size_t>(used) ? cap_ - static_cast<size_t>(used) : 0;
  }

  RingCtl* out_ctl_;
  std::byte* out_data_;
  RingCtl* in_ctl_;
  const std::byte* in_data_;
  size_t cap_;
  Doorbell* peer_bell_;
  uint64_t tail_ = 0;
  uint64_t head_ = 0;
  uint64_t peer_head_ = 0;  // the consumer's head as last read (a lower bound: it only grows)
  uint64_t out_salt_, in_salt_;
  size_t inline_out_ = 0, inline_in_ = 0;  // size of the current message if it may go inline, else 0
  uint64_t msg_out_ = 0, msg_in_ = 0;      // where the current message starts in each stream
  bool inline_seen_ = false;               // every flag of the current incoming inline message was seen
  size_t lines_seen_ = 0;                  // flags seen so far (they are polled in order)
  std::array<std::byte, kInline> staging_{};  // a multi-line inline message, gathered
};

struct ShmTransport::Peer {
  ShmPeer info;
  std::unique_ptr<ShmSegment> seg;
  std::unique_ptr<ShmPair> pair;
  int pidfd = -1;
  ~Peer() {
    if (pidfd >= 0) close(pidfd);
  }
};

size_t ShmTransport::default_ring_bytes(int local_ranks) {
  const auto ring = from_env([] {
    const auto b = env::get_unsigned("RFAB_SHM_RING_BYTES", 4096, 1ull << 30);
    if (b && (*b & (*b - 1)) != 0)
      env::fail("RFAB_SHM_RING_BYTES", env::raw("RFAB_SHM_RING_BYTES"), "expected a power of two in [4096, 2^30]");
    return b;
  });
  if (ring) return static_cast<size_t>(*ring);
  // 4 MiB per ring for a pair of ranks, shrinking with the number of peers (memory is n^2 rings).
  size_t r = size_t{16} << 20;
  int peers = std::max(1, local_ranks - 1);
  size_t b = size_t{4} << 20;
  while (b > (size_t{256} << 10) && b * static_cast<size_t>(peers) > r) b >>= 1;
  return b;
}

ShmTransport::ShmTransport(int rank, int nranks, const std::string& segment_name, size_t ring_bytes,
                           const std::string& host)
    : rank_(rank), nranks_(nranks), segment_name_(segment_name) {
  if (ring_bytes < 4096 || (ring_bytes & (ring_bytes - 1)) != 0)
    throw Error(Status::InvalidArgument, "shm ring size must be a power of two >= 4096");
  own_ = ShmSegment::create(segment_name, rank, nranks, ring_bytes, host);
  peers_.resize(static_cast<size_t>(nranks));
}

ShmTransport::~ShmTransport() {
  peers_.clear();
  own_.reset();
}

Doorbell& ShmTransport::doorbell() { return own_->doorbell(); }

void ShmTransport::connect(const ShmPeer& info) {
  if (info.rank < 0 || info.rank >= nranks_ || info.rank == rank_)
    throw Error(Status::Internal, "shm connect: bad peer rank " + std::to_string(info.rank));
  auto p = std::make_unique<Peer>();
  p->info = info;
  p->seg = ShmSegment::open(info.segment, info.rank, nranks_);
  if (p->seg->ring_bytes() != own_->ring_bytes())
    throw Error(Status::Internal, "shm ring size differs between rank " + std::to_string(rank_) + " and rank " +
                                      std::to_string(info.rank));
  p->pidfd = static_cast<int>(syscall(SYS_pidfd_open, info.pid, 0));
  if (p->pidfd < 0)
    throw Error(Status::Remote, "rank " + std::to_string(info.rank) + " (pid " + std::to_string(info.pid) +
                                    " on " + info.host + ") is not running");
  p->pair = std::make_unique<ShmPair>(*own_, *p->seg, rank_, info.rank);
  peers_[static_cast<size_t>(info.rank)] = std::move(p);
}

void ShmTransport::unlink_segment() { own_->unlink(); }

Pair* ShmTransport::pair(int peer) {
  if (peer < 0 || peer >= nranks_) return nullptr;
  auto& p = peers_[static_cast<size_t>(peer)];
  return p ? p->pair.get() : nullptr;
}

void ShmTransport::check_peers(std::span<const PeerNeed> needs) {
  for (const PeerNeed& need : needs) {
    int r = need.peer;
    if (r < 0 || r >= nranks_) continue;
    auto& p = peers_[static_cast<size_t>(r)];
    if (!p) continue;
    std::string who = "rank " + std::to_string(r) + " (pid " + std::to_string(p->info.pid) + " on host " +
                      p->info.host + ")";
    uint32_t st = p->seg->header().state.load(std::memory_order_acquire);
    if (st == kAborted) throw Error(Status::Remote, who + " aborted its communicator");
    bool gone = st == kClosed;
    pollfd pfd{p->pidfd, POLLIN, 0};
    bool dead = poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLIN | POLLHUP)) != 0;
    if (!gone && !dead) continue;
    // Everything it owed us may already be in the ring (it finished and left): not an error.
    if (!need.sends_pending && p->pair->buffered() >= need.recv_bytes) continue;
    if (dead) throw Error(Status::Remote, who + " exited or was killed");
    throw Error(Status::Remote, who + " destroyed its communicator while a peer waited on it");
  }
}

void ShmTransport::announce(uint32_t state) {
  own_->header().state.store(state, std::memory_order_release);
  for (auto& p : peers_)
    if (p) p->seg->doorbell().ring();
}

void ShmTransport::announce_abort() { announce(kAborted); }
void ShmTransport::announce_close() {
  // An abort stays visible as an abort: that is what peers should report.
  if (own_->header().state.load(std::memory_order_acquire) == kLive) announce(kClosed);
}

}  // namespace rfab::coll
