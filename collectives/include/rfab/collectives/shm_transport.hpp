// Shared-memory transport between ranks of one machine.
//
// Every rank owns one segment in /dev/shm holding its Doorbell and one single-producer/single-consumer
// ring per possible sender. A sender copies into the receiver's ring for it and rings the receiver's
// doorbell; the receiver reads (or reduces) straight out of the ring and rings the sender's doorbell when it
// frees space. Rings are lock-free: the producer owns `tail`, the consumer owns `head`, each on its own cache
// line. Segments are unlinked as soon as every peer has mapped them, so nothing is left behind even if a
// process is killed. A peer's death is seen through a pidfd.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rfab/collectives/transport.hpp"

namespace rfab::coll {

struct ShmSegmentHeader;

// The name of rank `rank`'s segment in a communicator whose store keys start with `prefix`
// ("/rfab-<prefix>-<rank>"; '/' in the prefix becomes '_').
std::string shm_segment_name(const std::string& prefix, int rank);
// Removes the segments ranks 0..nranks-1 of `prefix` may have left (a rank killed during set-up, before
// every peer had mapped it, cannot remove its own); returns how many were there. For a launcher after its
// ranks exited, and for a rank whose set-up failed.
int remove_segments(const std::string& prefix, int nranks);

// A mapping of one rank's segment (our own, or a peer's).
class ShmSegment {
 public:
  // Creates and maps the segment `name` (e.g. "/rfab-<id>-<rank>"), sized for `nranks` incoming rings.
  static std::unique_ptr<ShmSegment> create(const std::string& name, int rank, int nranks, size_t ring_bytes,
                                            const std::string& host);
  // Maps an existing segment and checks it belongs to `rank` of a communicator of `nranks`.
  static std::unique_ptr<ShmSegment> open(const std::string& name, int rank, int nranks);
  ~ShmSegment();
  ShmSegment(const ShmSegment&) = delete;
  ShmSegment& operator=(const ShmSegment&) = delete;

  void unlink();  // removes the name; the mappings stay valid
  ShmSegmentHeader& header() { return *header_; }
  Doorbell& doorbell();
  size_t ring_bytes() const { return ring_bytes_; }
  struct RingCtl* ring_ctl(int src);
  std::byte* ring_data(int src);

 private:
  ShmSegment() = default;
  std::string name_;
  bool owner_ = false;
  void* base_ = nullptr;
  size_t size_ = 0;
  size_t ring_bytes_ = 0;
  int nranks_ = 0;
  ShmSegmentHeader* header_ = nullptr;
};

struct ShmPeer {
  int rank = -1;
  int pid = 0;
  std::string host;
  std::string segment;
};

// A message of at most this many bytes goes inline: whole or not at all (try_send returns all of it or 0),
// in cache lines the receiver polls (see ShmPair in shm_transport.cpp).
inline constexpr size_t kShmInlineBytes = 448;

class ShmTransport final : public Transport {
 public:
  // Ring size per (sender, receiver): RFAB_SHM_RING_BYTES or a default from the rank count; a power of two.
  static size_t default_ring_bytes(int local_ranks);

  ShmTransport(int rank, int nranks, const std::string& segment_name, size_t ring_bytes, const std::string& host);
  ~ShmTransport() override;

  const std::string& segment_name() const { return segment_name_; }
  Doorbell& doorbell();  // this rank's doorbell, shared with other transports
  // Maps a peer's segment (after it has been created) and opens a pidfd on the peer.
  void connect(const ShmPeer& peer);
  // Removes our segment's name once every peer has mapped it.
  void unlink_segment();

  std::string_view name() const override { return "shm"; }
  Pair* pair(int peer) override;
  void check_peers(std::span<const PeerNeed> needs) override;
  void announce_abort() override;
  // Marks this rank as gone (communicator destroyed) so a peer still waiting on it fails fast.
  void announce_close();

 private:
  class ShmPair;
  struct Peer;
  void announce(uint32_t state);

  int rank_;
  int nranks_;
  std::string segment_name_;
  std::unique_ptr<ShmSegment> own_;
  std::vector<std::unique_ptr<Peer>> peers_;  // indexed by rank; null when not connected
};

}  // namespace rfab::coll
