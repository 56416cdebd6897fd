// A communicator: the ranks of one job, their transports, and the collectives over them. Created
// collectively (every rank calls create() with the same store and key prefix); every collective call must
// be made by every rank in the same order. After a transport error (dead peer, timeout, abort) the
// communicator is broken: every later call fails with that error, as NCCL does.
#pragma once
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "rfab/collectives/algorithms.hpp"
#include "rfab/collectives/exchange.hpp"
#include "rfab/collectives/launch_env.hpp"
#include "rfab/collectives/store.hpp"
#include "rfab/collectives/types.hpp"

namespace rfab::coll {

class ShmTransport;
class RoceTransport;

struct CommConfig {
  std::string store_host;
  uint16_t store_port = 0;
  std::string key_prefix;  // unique per communicator: names store keys and shm segments
  std::string job_id;      // the job the store must serve ("": unchecked), store.hpp
  int nranks = 1;
  int rank = 0;
  std::chrono::milliseconds timeout = default_timeout();
  std::unique_ptr<StoreServer> hosted_store;  // rank 0 hosting the store keeps it alive with the comm
};

// One queued point-to-point transfer (rfabSend / rfabRecv inside a group).
struct P2POp {
  bool is_send;
  int peer;
  void* buf;  // const for sends
  size_t bytes;
};

class Communicator {
 public:
  static std::unique_ptr<Communicator> create(CommConfig cfg);
  // Under torchrun / OpenMPI / Slurm / rfab run: rank 0 hosts the store at MASTER_ADDR:MASTER_PORT
  // (unless RFAB_STORE_EXTERNAL says the launcher does).
  static std::unique_ptr<Communicator> create_from_env();
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return rank_; }
  int size() const { return nranks_; }
  int nhosts() const { return static_cast<int>(host_groups_.size()); }
  const std::string& host_of(int rank) const { return hosts_[static_cast<size_t>(rank)]; }

  // `algo` overrides RFAB_ALGO and the selector for this call.
  void all_reduce(const void* send, void* recv, size_t count, DataType t, RedOp op, Algo algo = Algo::Auto);
  void broadcast(const void* send, void* recv, size_t count, DataType t, int root, Algo algo = Algo::Auto);
  void reduce(const void* send, void* recv, size_t count, DataType t, RedOp op, int root, Algo algo = Algo::Auto);
  void all_gather(const void* send, void* recv, size_t sendcount, DataType t, Algo algo = Algo::Auto);
  void reduce_scatter(const void* send, void* recv, size_t recvcount, DataType t, RedOp op,
                      Algo algo = Algo::Auto);
  void all_to_all(const void* send, void* recv, size_t count, DataType t, Algo algo = Algo::Auto);
  void p2p(std::span<const P2POp> ops);  // all progress together
  void barrier();

  // The algorithm a call would use (for reports such as `rfab coll`).
  Algo algo_for(Coll coll, size_t bytes, Algo algo = Algo::Auto) const;

  // Makes every blocked or later call fail with Status::Aborted, tells peers, never blocks.
  void abort();
  // Ok, or the error that broke the communicator.
  Status async_error() const { return broken_.load(); }
  std::string async_error_message() const;

  // Non-blocking: runs `fn` (which calls the methods above) on the progress thread in issue order.
  struct Request {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    Status status = Status::Ok;
    std::string message;
  };
  std::shared_ptr<Request> submit(std::function<void(Communicator&)> fn);
  void wait(Request& r);

 private:
  Communicator() = default;
  void bootstrap(CommConfig& cfg);
  void build_groups();
  AlgoCtx ctx(DataType t, RedOp op, Coll coll) const;
  Algo forced(Coll coll, Algo call) const;
  std::byte* scratch(size_t bytes, int slot);
  void tune_for(size_t bytes);
  Pair* tiny_allreduce_pair(size_t bytes, Algo algo) const;
  // Runs one operation: waits for queued async work, rejects a broken communicator, records failures.
  template <class F>
  void guarded(Coll coll, F&& body);
  void worker_loop();

  int rank_ = 0, nranks_ = 1;
  std::string prefix_;
  std::vector<std::string> hosts_;
  std::vector<Group> host_groups_;
  Group world_, leaders_;
  int my_host_ = 0;
  std::unique_ptr<StoreServer> hosted_store_;
  std::unique_ptr<ShmTransport> shm_;
  std::unique_ptr<RoceTransport> roce_;  // after shm_: destroyed first (it rings shm_'s doorbell)
  EngineEnv env_;
  std::atomic<bool> abort_{false};
  std::atomic<Status> broken_{Status::Ok};
  mutable std::mutex err_mu_;
  std::string broken_msg_;
  Algo env_algo_[8] = {};
  std::chrono::nanoseconds base_spin_{0};
  std::vector<std::vector<std::byte>> scratch_;

  // Progress thread for non-blocking requests.
  std::mutex q_mu_;
  std::condition_variable q_cv_;
  std::deque<std::pair<std::function<void(Communicator&)>, std::shared_ptr<Request>>> queue_;
  int in_flight_ = 0;  // queued + running
  bool stopping_ = false;
  std::thread worker_;
  std::mutex exec_mu_;  // one operation at a time on the transports
};

}  // namespace rfab::coll
