// A c10d::ProcessGroup over an rfab communicator (librfab.so's C API).
//
// Rendezvous: group rank 0 makes an rfabUniqueId (which starts rfab's store in that process), puts it in the
// c10d store torch hands the backend, the others read it there; then every rank joins the communicator with
// the group's timeout as rfab's no-progress timeout.
//
// Execution: every operation is queued to one worker thread that runs it with rfab's blocking calls, in
// issue order (rfab runs one operation of a communicator at a time, and every rank must issue collectives in
// the same order anyway). The caller gets an RfabWork at once; wait() and the future complete when the
// worker is done. Point-to-point operations queued back to back run as one rfab group, so an exchange
// (isend + irecv on both sides) of any size cannot deadlock: the worker holds them back until the caller
// shows it issued the whole exchange: it waits on one of them, issues a collective, ends a coalescing block
// (batch_isend_irecv), or issues nothing more for 10 ms.
// A failure (dead peer, timeout) fails that Work with rfab's message, which names the peer; rfab then fails
// every later operation of the communicator with the same error.
#pragma once
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "rfab/rfab.h"
#include "rfab_work.hpp"

namespace rfab_torch {

class RfabProcessGroup : public c10d::ProcessGroup {
 public:
  // `store_host`: the address the other ranks reach group rank 0 at ("" lets rfab choose: RFAB_STORE_ADDR or
  // this host's name).
  RfabProcessGroup(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                   std::chrono::milliseconds timeout, const std::string& store_host);
  ~RfabProcessGroup() override;

  const std::string getBackendName() const override { return "rfab"; }

  c10::intrusive_ptr<c10d::Work> broadcast(std::vector<at::Tensor>& tensors,
                                           const c10d::BroadcastOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> allreduce(std::vector<at::Tensor>& tensors,
                                           const c10d::AllreduceOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> allreduce_coalesced(std::vector<at::Tensor>& tensors,
                                                     const c10d::AllreduceCoalescedOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> reduce(std::vector<at::Tensor>& tensors,
                                        const c10d::ReduceOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> allgather(std::vector<std::vector<at::Tensor>>& outputs,
                                           std::vector<at::Tensor>& inputs,
                                           const c10d::AllgatherOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> _allgather_base(at::Tensor& output, at::Tensor& input,
                                                 const c10d::AllgatherOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> gather(std::vector<std::vector<at::Tensor>>& outputs,
                                        std::vector<at::Tensor>& inputs,
                                        const c10d::GatherOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> scatter(std::vector<at::Tensor>& outputs,
                                         std::vector<std::vector<at::Tensor>>& inputs,
                                         const c10d::ScatterOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> reduce_scatter(std::vector<at::Tensor>& outputs,
                                                std::vector<std::vector<at::Tensor>>& inputs,
                                                const c10d::ReduceScatterOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> _reduce_scatter_base(at::Tensor& output, at::Tensor& input,
                                                      const c10d::ReduceScatterOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> alltoall_base(at::Tensor& output, at::Tensor& input,
                                               std::vector<int64_t>& output_splits,
                                               std::vector<int64_t>& input_splits,
                                               const c10d::AllToAllOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> alltoall(std::vector<at::Tensor>& outputs, std::vector<at::Tensor>& inputs,
                                          const c10d::AllToAllOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> send(std::vector<at::Tensor>& tensors, int dst, int tag) override;
  c10::intrusive_ptr<c10d::Work> recv(std::vector<at::Tensor>& tensors, int src, int tag) override;
  c10::intrusive_ptr<c10d::Work> barrier(const c10d::BarrierOptions& opts) override;

  void startCoalescing() override;
  void endCoalescing(std::vector<c10::intrusive_ptr<c10d::Work>>& reqs) override;

 private:
  // One queued operation. `run` calls rfab (p2p operations only queue rfabSend/rfabRecv: the worker wraps
  // consecutive ones in rfabGroupStart/End); `done` writes results back (non-contiguous outputs).
  struct Job {
    c10d::OpType type;
    bool p2p = false;
    std::function<void()> run;
    std::function<void()> done;
    c10::intrusive_ptr<RfabWork> work;
  };

  c10::intrusive_ptr<c10d::Work> enqueue(c10d::OpType type, std::vector<at::Tensor> outputs, bool p2p,
                                         std::function<void()> run, std::function<void()> done = nullptr);
  void worker_loop();
  void run_batch(std::vector<Job>& batch);
  // Throws a RuntimeError naming the operation and rfab's reason when `rc` is not rfabSuccess.
  void check(rfabResult_t rc, c10d::OpType type) const;
  void check_peer(int peer, const char* what) const;

  // Shared with the Works of point-to-point operations, whose wait() releases held-back jobs (a Work may
  // outlive the process group).
  struct Queue {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<Job> jobs;
    bool stopping = false;
    bool flush = false;  // run the held-back point-to-point jobs now
    bool coalescing = false;
    std::vector<Job> coalesced;
  };

  rfabComm_t comm_ = nullptr;
  std::shared_ptr<Queue> q_ = std::make_shared<Queue>();
  std::thread worker_;
};

// The backend's creator: what torch.distributed calls for init_process_group(backend="rfab").
c10::intrusive_ptr<c10d::ProcessGroup> create_process_group(const c10::intrusive_ptr<c10d::Store>& store,
                                                            int rank, int size,
                                                            std::chrono::milliseconds timeout,
                                                            const std::string& store_host);

}  // namespace rfab_torch
