// One `rfab ping` agent: an RDMA device of the endpoint layer (rfab's RC engine over kernel UDP, or a
// verbs device), the side-channel server, the QPs it serves for peers and the QPs it probes them with.
// All device calls happen on the thread that calls turn(); the side-channel thread only queues work.
//
// A probe is an RDMA WRITE of `size` bytes on an RC QP of its own per (peer, entropy): the QPN pair fixes
// the QP's UDP source port (rxe's rule, as an RNIC's), so K QPs per peer are K ECMP entropies. The
// round-trip time is post to completion (the responder's ACK). A probe is lost when it completes with an
// error, does not complete within the probe timeout, or - on rfab's engine, which counts them - needed a
// retransmission; a round in which the entropy's QP has failed (or, continuously, the peer cannot be
// reached) counts as a lost probe too. A round in which the previous probe is still out sends nothing.
#pragma once
#include <chrono>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ping_protocol.hpp"
#include "ping_server.hpp"
#include "rfab/endpoint/device.hpp"

namespace rfab::cli::ping {

struct AgentConfig {
  std::string ip;            // this host's address: the device and the side channel bind to it
  uint16_t tcp_port = 0;     // side channel
  uint16_t roce_port = 4791;
  bool verbs = false;        // probe through an RDMA device (libibverbs) instead of rfab's engine
  std::string device;        // verbs device name ("" = automatic)
  size_t self = 0, n_hosts = 1;
  unsigned entropies = 8;
  uint32_t size = 64;
  Nanos probe_timeout = 100'000'000;
  // RC local ACK timeout code (4.096 us * 2^n) of the probe QPs. 13 (34 ms): a lost probe is resent, and
  // so counted lost, well within the default probe timeout, and a dead path fails its QP (7 retries) in
  // ~0.3 s. Shorter codes make an agent that loses the CPU for a few ms (the peer's engine ACKs from its
  // agent's thread) look like packet loss; a loaded host needs a longer one.
  uint8_t ack_timeout = 13;
  std::chrono::milliseconds wait{10000};  // how long a peer's side channel may take to appear
  size_t rtt_window = 0;     // keep the last N round trips per entropy (0 = all)
};

struct Target {
  size_t index = 0;
  std::string ip;
  uint16_t port = 0;
};

struct Schedule {
  uint64_t count = 20;              // probes per entropy (0 = until stopped)
  Nanos interval = 20'000'000;      // between rounds
  bool reconnect = false;           // try failed peers again (continuous mode)
  Nanos reconnect_every = 5'000'000'000;
};

class Agent {
 public:
  explicit Agent(const AgentConfig& cfg);  // throws std::runtime_error naming what could not be opened
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  std::string roce_address() const;
  // Starts connecting to `targets` in the background; their probes follow `s` once connected.
  void start_probing(const std::vector<Target>& targets, const Schedule& s);
  // Serves peers' connect requests, sends due probes, takes completions; returns after at most `max_wait`.
  void turn(Nanos max_wait);
  // Every target probed `count` times (or given up on); always false with count 0.
  bool probing_done() const;
  // This agent's row of the matrix, as of now.
  std::vector<PairResult> row() const;
  const SideChannelServer& server() const { return *server_; }

 private:
  struct ProbeQp;
  struct Link;
  struct Pending;
  ConnectReply serve_connect(const ConnectRequest& r);  // side-channel thread
  void handle_pending();
  void begin_exchange(Link& l);
  void finish_exchange(Link& l);
  void run_round(Link& l, Nanos now);
  void on_completion(const rc::WorkCompletion& wc, Nanos now);
  void expire(Nanos now);

  AgentConfig cfg_;
  Schedule sched_;
  std::vector<uint8_t> buf_;  // registered with dev_: outlives it
  std::unique_ptr<endpoint::Device> dev_;
  endpoint::MemoryKey mr_;
  std::vector<std::unique_ptr<Link>> links_;
  std::mutex mu_;  // guards pending_
  std::deque<std::shared_ptr<Pending>> pending_;
  size_t served_qps_ = 0;
  std::unique_ptr<SideChannelServer> server_;  // last: its thread calls serve_connect
};

}  // namespace rfab::cli::ping
