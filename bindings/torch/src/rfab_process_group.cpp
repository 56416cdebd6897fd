#include "rfab_process_group.hpp"

#include <c10/util/Exception.h>

#include <cstring>
#include <stdexcept>
#include <utility>

#include "tensor_args.hpp"

namespace rfab_torch {

using c10d::OpType;

namespace {

// The c10d store key group rank 0 publishes the unique id under (the store is already prefixed per group).
constexpr const char* kUniqueIdKey = "rfab_unique_id";

std::vector<int64_t> counts_from_splits(const std::vector<int64_t>& splits, const at::Tensor& t, int size,
                                        const char* what) {
  const int64_t rows = t.dim() == 0 ? 1 : t.size(0);
  const int64_t row_elems = rows == 0 ? 0 : t.numel() / rows;
  std::vector<int64_t> counts(static_cast<size_t>(size));
  if (splits.empty()) {
    TORCH_CHECK(rows % size == 0, "rfab backend: ", what, " has ", rows,
                " rows along dim 0, not divisible by the ", size, " ranks (give split sizes)");
    for (auto& c : counts) c = rows / size * row_elems;
    return counts;
  }
  TORCH_CHECK(static_cast<int>(splits.size()) == size, "rfab backend: ", what, " split sizes have ",
              splits.size(), " entries for ", size, " ranks");
  int64_t total = 0;
  for (size_t i = 0; i < splits.size(); ++i) {
    TORCH_CHECK(splits[i] >= 0, "rfab backend: ", what, " split size ", splits[i], " is negative");
    total += splits[i];
    counts[i] = splits[i] * row_elems;
  }
  TORCH_CHECK(total == rows, "rfab backend: ", what, " split sizes add up to ", total,
              " rows, the tensor has ", rows);
  return counts;
}

}  // namespace

RfabProcessGroup::RfabProcessGroup(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                                   std::chrono::milliseconds timeout, const std::string& store_host)
    : c10d::ProcessGroup(rank, size) {
  rfabUniqueId id;
  if (rank == 0) {
    TORCH_CHECK(rfabGetUniqueIdOnHost(&id, store_host.c_str()) == rfabSuccess,
                "rfab backend: could not start rfab's rendezvous store: ", rfabGetLastError(nullptr));
    store->set(kUniqueIdKey, std::vector<uint8_t>(id.internal, id.internal + sizeof id.internal));
  } else {
    // Blocks until rank 0 published it, within the store's own timeout.
    const std::vector<uint8_t> bytes = store->get(kUniqueIdKey);
    TORCH_CHECK(bytes.size() == sizeof id.internal, "rfab backend: the store holds a ", bytes.size(),
                "-byte unique id under '", kUniqueIdKey, "', expected ", sizeof id.internal);
    std::memcpy(id.internal, bytes.data(), sizeof id.internal);
  }
  rfabConfig_t cfg = RFAB_CONFIG_INITIALIZER;
  cfg.timeoutSeconds = std::chrono::duration<double>(timeout).count();
  const rfabResult_t rc = rfabCommInitRankConfig(&comm_, size, id, rank, &cfg);
  TORCH_CHECK(rc == rfabSuccess, "rfab backend: rank ", rank, " of ", size,
              " could not join the communicator: ", rfabGetLastError(nullptr));
  worker_ = std::thread([this] { worker_loop(); });
}

RfabProcessGroup::~RfabProcessGroup() {
  {
    std::lock_guard l(q_->mu);
    q_->stopping = true;
  }
  q_->cv.notify_all();
  if (worker_.joinable()) worker_.join();
  // A broken communicator (dead peer, timeout) is torn down without waiting for peers.
  rfabResult_t async = rfabSuccess;
  if (rfabCommGetAsyncError(comm_, &async) == rfabSuccess && async == rfabSuccess)
    rfabCommDestroy(comm_);
  else
    rfabCommAbort(comm_);
}

void RfabProcessGroup::check(rfabResult_t rc, OpType type) const {
  if (rc == rfabSuccess) return;
  throw std::runtime_error("rfab backend: " + c10d::opTypeToString(type) + " failed (" +
                           rfabGetErrorString(rc) + "): " + rfabGetLastError(comm_));
}

void RfabProcessGroup::check_peer(int peer, const char* what) const {
  TORCH_CHECK(peer >= 0 && peer < size_, "rfab backend: ", what, " rank ", peer, " is not in [0, ", size_,
              ")");
}

c10::intrusive_ptr<c10d::Work> RfabProcessGroup::enqueue(OpType type, std::vector<at::Tensor> outputs,
                                                         bool p2p, std::function<void()> run,
                                                         std::function<void()> done) {
  auto work = c10::make_intrusive<RfabWork>(rank_, type, std::move(outputs));
  if (p2p)
    // Waiting on a job that is still held back releases it with the ones queued before it. Only then:
    // a stale release would let the next exchange's first half run alone.
    work->set_wait_hook([q = std::weak_ptr<Queue>(q_), w = work.get()] {
      auto queue = q.lock();
      if (!queue) return;
      {
        std::lock_guard l(queue->mu);
        bool queued = false;
        for (const auto& j : queue->jobs) queued |= j.work.get() == w;
        if (!queued) return;
        queue->flush = true;
      }
      queue->cv.notify_all();
    });
  Job job{type, p2p, std::move(run), std::move(done), work};
  {
    std::lock_guard l(q_->mu);
    if (q_->coalescing)
      q_->coalesced.push_back(std::move(job));
    else
      q_->jobs.push_back(std::move(job));
  }
  q_->cv.notify_all();
  return work;
}

void RfabProcessGroup::startCoalescing() {
  std::lock_guard l(q_->mu);
  TORCH_CHECK(!q_->coalescing, "rfab backend: startCoalescing while already coalescing");
  q_->coalescing = true;
}

void RfabProcessGroup::endCoalescing(std::vector<c10::intrusive_ptr<c10d::Work>>& /*reqs*/) {
  {
    std::lock_guard l(q_->mu);
    TORCH_CHECK(q_->coalescing, "rfab backend: endCoalescing without startCoalescing");
    q_->coalescing = false;
    for (auto& j : q_->coalesced) q_->jobs.push_back(std::move(j));
    q_->coalesced.clear();
    q_->flush = true;  // the batch is complete
  }
  q_->cv.notify_all();
}

void RfabProcessGroup::worker_loop() {
  // How long point-to-point jobs wait for the rest of their exchange when nothing else releases them.
  constexpr auto kHoldP2P = std::chrono::milliseconds(10);
  Queue& q = *q_;
  for (;;) {
    std::vector<Job> batch;
    {
      std::unique_lock l(q.mu);
      for (;;) {
        q.cv.wait(l, [&] { return q.stopping || !q.jobs.empty(); });
        if (q.jobs.empty()) return;  // stopping, and everything issued has run
        if (!q.jobs.front().p2p) break;
        size_t leading = 0;
        while (leading < q.jobs.size() && q.jobs[leading].p2p) ++leading;
        if (leading < q.jobs.size() || q.flush || q.stopping) break;
        // Only point-to-point jobs so far: the matching ones may still come. Run them when released, or
        // after kHoldP2P without a new job (a caller that polls is_completed() instead of waiting).
        const size_t seen = q.jobs.size();
        if (!q.cv.wait_for(l, kHoldP2P, [&] { return q.flush || q.stopping || q.jobs.size() != seen; }))
          break;
      }
      q.flush = false;
      batch.push_back(std::move(q.jobs.front()));
      q.jobs.pop_front();
      if (batch.front().p2p)
        while (!q.jobs.empty() && q.jobs.front().p2p) {
          batch.push_back(std::move(q.jobs.front()));
          q.jobs.pop_front();
        }
    }
    run_batch(batch);
  }
}

void RfabProcessGroup::run_batch(std::vector<Job>& batch) {
  std::exception_ptr error;
  try {
    if (batch.front().p2p) {
      // Each run() queues its rfabSend/rfabRecv; rfabGroupEnd moves them all together. The group is closed
      // even when queueing failed, or every later group of this thread would nest inside it.
      check(rfabGroupStart(), batch.front().type);
      std::exception_ptr queueing;
      try {
        for (auto& j : batch) j.run();
      } catch (...) {
        queueing = std::current_exception();
      }
      const rfabResult_t rc = rfabGroupEnd();
      if (queueing) std::rethrow_exception(queueing);
      check(rc, batch.front().type);
    } else {
      batch.front().run();
    }
    for (auto& j : batch)
      if (j.done) j.done();
  } catch (...) {
    error = std::current_exception();
  }
  for (auto& j : batch) {
    if (error)
      j.work->fail(error);
    else
      j.work->succeed();
  }
}

// ---- collectives ----

c10::intrusive_ptr<c10d::Work> RfabProcessGroup::allreduce(std::vector<at::Tensor>& tensors,
                                                           const c10d::AllreduceOptions& opts) {
  const at::Tensor& t = single_tensor(tensors, "allreduce tensor");
  const rfabDataType_t dt = rfab_dtype(t, "allreduce tensor");
  const rfabRedOp_t op = rfab_op(opts.reduceOp);
  auto staged = std::make_shared<Staged>(t);
  return enqueue(
      OpType::ALLREDUCE, tensors, false,
      [this, staged, dt, op] {
        check(rfabAllReduce(staged->data(), staged->data(), staged->count(), dt, op, comm_),
              OpType::ALLREDUCE);
      },
      [staged] { staged->finish(); });
}

c10::intrusive_ptr<c10d::Work> RfabProcessGroup::allreduce_coalesced(
    std::vector<at::Tensor>& tensors, const c10d::AllreduceCoalescedOptions& opts) {
  TORCH_CHECK(!tensors.empty(), "rfab backend: allreduce_coalesced needs at least one tensor");
  for (const auto& t : tensors) {
    check_cpu(t, "allreduce_coalesced tensor");
    TORCH_CHECK(t.scalar_type() == tensors[0].scalar_type(),
                "rfab backend: allreduce_coalesced tensors must share one dtype");
  }
  const rfabDataType_t dt = rfab_dtype(tensors[0], "allreduce_coalesced tensor");
  const rfabRedOp_t op = rfab_op(opts.reduceOp);
  // One flat buffer, one allreduce, copied back.
  std::vector<at::Tensor> flat_parts;
  for (const auto& t : tensors) flat_parts.push_back(t.reshape({-1}));
  auto flat = std::make_shared<at::Tensor>(at::cat(flat_parts));
  std::vector<at::Tensor> outs = tensors;
  return enqueue(
      OpType::ALLREDUCE_COALESCED, tensors, false,
      [this, flat, dt, op] {
        check(rfabAllReduce(flat->data_ptr(), flat->data_ptr(), static_cast<size_t>(flat->numel()), dt, op,
                            comm_),
              OpType::ALLREDUCE_COALESCED);
      },
      [flat, outs]() mutable {
        int64_t off = 0;
        for (auto& t : outs) {
          t.copy_(flat->narrow(0, off, t.numel()).view(t.sizes()));
          off += t.numel();
        }
      });
}

c10::intrusive_ptr<c10d::Work> RfabProcessGroup::broadcast(std::vector<at::Tensor>& tensors,
                                                           const c10d::BroadcastOptions& opts) {
  const at::Tensor& t = single_tensor(tensors, "broadcast tensor");
  check_peer(static_cast<int>(opts.rootRank), "broadcast root");
  TORCH_CHECK(opts.rootTensor == 0, "rfab backend: broadcast rootTensor must be 0 (one tensor per process)");
  const rfabDataType_t dt = rfab_dtype(t, "broadcast tensor");
  const int root = static_cast<int>(opts.rootRank);
  auto staged = std::make_shared<Staged>(t);
  return enqueue(
      OpType::BROADCAST, tensors, false,
      [this, staged, dt, root] {
        check(rfabBroadcast(staged->data(), staged->data(), staged->count(), dt, root, comm_),
              OpType::BROADCAST);
      },
      [staged] { staged->finish(); });
}

c10::intrusive_ptr<c10d::Work> RfabProcessGroup::reduce(std::vector<at::Tensor>& tensors,
                                                        const c10d::ReduceOptions& opts) {
  const at::Tensor& t = single_tensor(tensors, "reduce tensor");
  check_peer(static_cast<int>(opts.rootRank), "reduce root");
  const rfabDataType_t dt = rfab_dtype(t, "reduce tensor");
  const rfabRedOp_t op = rfab_op(opts.reduceOp);
  const int root = static_cast<int>(opts.rootRank);
  auto staged = std::make_shared<Staged>(t);
  return enqueue(
      OpType::REDUCE, tensors, false,
      [this, staged, dt, op, root] {
        check(rfabReduce(staged->data(), staged->data(), staged->count(), dt, op, root, comm_),
              OpType::REDUCE);
      },
      [staged] { staged->finish(); });
}

c10::intrusive_ptr<c10d::Work> RfabProcessGroup::allgather(std::vector<std::vector<at::Tensor>>& outputs,
                                                           std::vector<at::Tensor>& inputs,
                                                           const c10d::AllgatherOptions& /*opts*/) {
  const at::Tensor& in = single_tensor(inputs, "allgather input");
  TORCH_CHECK(outputs.size() == 1, "rfab backend: allgather takes one output list per process, got ",
              outputs.size());
  TORCH_CHECK(static_cast<int>(outputs[0].size()) == size_, "rfab backend: allgather output list has ",
              outputs[0].size(), " tensors for ", size_, " ranks");
  check_same_shape(outputs[0], in, "allgather output");
  const rfabDataType_t dt = rfab_dtype(in, "allgather input");
  auto src = std::make_shared<at::Tensor>(in.contiguous());
  auto flat = std::make_shared<at::Tensor>(at::empty({in.numel() * size_}, in.options()));
  std::vector<at::Tensor> outs = outputs[0];
  return enqueue(
      OpType::ALLGATHER, outs, false,
      [this, src, flat, dt] {
        check(rfabAllGather(src->data_ptr(), flat->data_ptr(), static_cast<size_t>(src->numel()), dt, comm_),
              OpType::ALLGATHER);
      },
      [flat, outs, n = in.numel()]() mutable {
        for (size_t r = 0; r < outs.size(); ++r)
          outs[r].copy_(flat->narrow(0, static_cast<int64_t>(r) * n, n).view(outs[r].sizes()));
      });
}

c10::intrusive_ptr<c10d::Work> RfabProcessGroup::_allgather_base(at::Tensor& output, at::Tensor& input,
                                                                 const c10d::AllgatherOptions& /*opts*/) {
  check_cpu(input, "_allgather_base input");
  check_cpu(output, "_allgather_base output");
  TORCH_CHECK(output.scalar_type() == input.scalar_type(), "rfab backend: _allgather_base output dtype ",
              output.scalar_type(), " differs from the input's ", input.scalar_type());
  TORCH_CHECK(output.numel() == input.numel() * size_, "rfab backend: _allgather_base output has ",
              output.numel(), " elements, needs input size x ranks = ", input.numel() * size_);
  const rfabDataType_t dt = rfab_dtype(input, "_allgather_base input");
  auto src = std::make_shared<at::Tensor>(input.contiguous());
  auto staged = std::make_shared<Staged>(output);
  return enqueue(
      OpType::_ALLGATHER_BASE, {output}, false,
      [this, src, staged, dt] {
        check(rfabAllGather(src->data_ptr(), staged->data(), static_cast<size_t>(src->numel()), dt, comm_),
              OpType::_ALLGATHER_BASE);
      },
      [staged] { staged->finish(); });
}

c10::intrusive_ptr<c10d::Work> RfabProcessGroup::reduce_scatter(std::vector<at::Tensor>& outputs,
                                                                std::vector<std::vector<at::Tensor>>& inputs,
                                                                const c10d::ReduceScatterOptions& opts) {
  const at::Tensor& out = single_tensor(outputs, "reduce_scatter output");
  TORCH_CHECK(inputs.size() == 1, "rfab backend: reduce_scatter takes one input list per process, got ",
              inputs.size());
  TORCH_CHECK(static_cast<int>(inputs[0].size()) == size_, "rfab backend: reduce_scatter input list has ",
              inputs[0].size(), " tensors for ", size_, " ranks");
  check_same_shape(inputs[0], out, "reduce_scatter input");
  const rfabDataType_t dt = rfab_dtype(out, "reduce_scatter output");
  const rfabRedOp_t op = rfab_op(opts.reduceOp);
  std::vector<at::Tensor> parts;
  for (const auto& t : inputs[0]) parts.push_back(t.reshape({-1}));
  auto flat = std::make_shared<at::Tensor>(at::cat(parts));
  auto staged = std::make_shared<Staged>(out);
  return enqueue(
      OpType::REDUCE_SCATTER, outputs, false,
      [this, flat, staged, dt, op] {
        check(rfabReduceScatter(flat->data_ptr(), staged->data(), staged->count(), dt, op, comm_),
              OpType::REDUCE_SCATTER);
      },
      [staged] { staged->finish(); });
}

c10::intrusive_ptr<c10d::Work> RfabProcessGroup::_reduce_scatter_base(
    at::Tensor& output, at::Tensor& input, const c10d::ReduceScatterOptions& opts) {
  check_cpu(input, "_reduce_scatter_base input");
  check_cpu(output, "_reduce_scatter_base output");
  TORCH_CHECK(output.scalar_type() == input.scalar_type(), "rfab backend: _reduce_scatter_base output dtype ",
              output.scalar_type(), " differs from the input's ", input.scalar_type());
  TORCH_CHECK(input.numel() == output.numel() * size_, "rfab backend: _reduce_scatter_base input has ",
              input.numel(), " elements, needs output size x ranks = ", output.numel() * size_);
  const rfabDataType_t dt = rfab_dtype(input, "_reduce_scatter_base input");
  const rfabRedOp_t op = rfab_op(opts.reduceOp);
  auto src = std::make_shared<at::Tensor>(input.contiguous());
  auto staged = std::make_shared<Staged>(output);
  return enqueue(
      OpType::_REDUCE_SCATTER_BASE, {output}, false,
      [this, src, staged, dt, op] {
        check(rfabReduceScatter(src->data_ptr(), staged->data(), staged->count(), dt, op, comm_),
              OpType::_REDUCE_SCATTER_BASE);
      },
      [staged] { staged->finish(); });
}

c10::intrusive_ptr<c10d::Work> RfabProcessGroup::alltoall_base(at::Tensor& output, at::Tensor& input,
                                                               std::vector<int64_t>& output_splits,
                                                               std::vector<int64_t>& input_splits,
                                                               const c10d::AllToAllOptions& /*opts*/) {
  check_cpu(input, "alltoall input");
  check_cpu(output, "alltoall output");
  TORCH_CHECK(output.scalar_type() == input.scalar_type(), "rfab backend: alltoall output dtype ",
              output.scalar_type(), " differs from the input's ", input.scalar_type());
  const rfabDataType_t dt = rfab_dtype(input, "alltoall input");
  auto src = std::make_shared<at::Tensor>(input.contiguous());
  auto staged = std::make_shared<Staged>(output);
  if (output_splits.empty() && input_splits.empty()) {
    TORCH_CHECK(input.numel() == output.numel() && input.numel() % size_ == 0,
                "rfab backend: alltoall input (", input.numel(), " elements) and output (", output.numel(),
                ") must have the same size, divisible by the ", size_, " ranks");
    return enqueue(
        OpType::ALLTOALL_BASE, {output}, false,
        [this, src, staged, dt] {
          check(rfabAllToAll(src->data_ptr(), staged->data(), staged->count() / static_cast<size_t>(size_),
                             dt, comm_),
                OpType::ALLTOALL_BASE);
        },
        [staged] { staged->finish(); });
  }
  // Uneven splits: one grouped send and receive per peer (rfab's all-to-all takes equal counts only).
  const auto send_counts = counts_from_splits(input_splits, input, size_, "alltoall input");
  const auto recv_counts = counts_from_splits(output_splits, output, size_, "alltoall output");
  const size_t esize = input.element_size();
  return enqueue(
      OpType::ALLTOALL_BASE, {output}, true,
      [this, src, staged, dt, send_counts, recv_counts, esize] {
        auto* in = static_cast<char*>(src->data_ptr());
        auto* out = static_cast<char*>(staged->data());
        size_t soff = 0, roff = 0;
        for (int p = 0; p < size_; ++p) {
          const auto sc = static_cast<size_t>(send_counts[static_cast<size_t>(p)]);
          const auto rc = static_cast<size_t>(recv_counts[static_cast<size_t>(p)]);
          if (sc > 0) check(rfabSend(in + soff * esize, sc, dt, p, comm_), OpType::ALLTOALL_BASE);
          if (rc > 0) check(rfabRecv(out + roff * esize, rc, dt, p, comm_), OpType::ALLTOALL_BASE);
          soff += sc;
          roff += rc;
        }
      },
      [staged] { staged->finish(); });
}

c10::intrusive_ptr<c10d::Work> RfabProcessGroup::alltoall(std::vector<at::Tensor>& outputs,
                                                          std::vector<at::Tensor>& inputs,
                                                          const c10d::AllToAllOptions& /*opts*/) {
  TORCH_CHECK(static_cast<int>(inputs.size()) == size_ && static_cast<int>(outputs.size()) == size_,
              "rfab backend: alltoall takes one input and one output tensor per rank (", size_, "), got ",
              inputs.size(), " and ", outputs.size());
  std::vector<std::shared_ptr<at::Tensor>> srcs;
  std::vector<std::shared_ptr<Staged>> dsts;
  std::vector<rfabDataType_t> dts;
  for (int p = 0; p < size_; ++p) {
    check_cpu(inputs[static_cast<size_t>(p)], "alltoall input");
    check_cpu(outputs[static_cast<size_t>(p)], "alltoall output");
    TORCH_CHECK(inputs[static_cast<size_t>(p)].scalar_type() == outputs[static_cast<size_t>(p)].scalar_type(),
                "rfab backend: alltoall input and output ", p, " differ in dtype");
    dts.push_back(rfab_dtype(inputs[static_cast<size_t>(p)], "alltoall input"));
    srcs.push_back(std::make_shared<at::Tensor>(inputs[static_cast<size_t>(p)].contiguous()));
    dsts.push_back(std::make_shared<Staged>(outputs[static_cast<size_t>(p)]));
  }
  return enqueue(
      OpType::ALLTOALL, outputs, true,
      [this, srcs, dsts, dts] {
        for (int p = 0; p < size_; ++p) {
          const auto i = static_cast<size_t>(p);
          if (srcs[i]->numel() > 0)
            check(rfabSend(srcs[i]->data_ptr(), static_cast<size_t>(srcs[i]->numel()), dts[i], p, comm_),
                  OpType::ALLTOALL);
          if (dsts[i]->count() > 0)
            check(rfabRecv(dsts[i]->data(), dsts[i]->count(), dts[i], p, comm_), OpType::ALLTOALL);
        }
      },
      [dsts] {
        for (auto& d : dsts) d->finish();
      });
}

c10::intrusive_ptr<c10d::Work> RfabProcessGroup::gather(std::vector<std::vector<at::Tensor>>& outputs,
                                                        std::vector<at::Tensor>& inputs,
                                                        const c10d::GatherOptions& opts) {
  const at::Tensor& in = single_tensor(inputs, "gather input");
  const int root = static_cast<int>(opts.rootRank);
  check_peer(root, "gather root");
  const rfabDataType_t dt = rfab_dtype(in, "gather input");
  auto src = std::make_shared<at::Tensor>(in.contiguous());
  std::vector<std::shared_ptr<Staged>> dsts;
  std::vector<at::Tensor> outs;
  if (rank_ == root) {
    TORCH_CHECK(outputs.size() == 1 && static_cast<int>(outputs[0].size()) == size_,
                "rfab backend: gather's root needs one output list of ", size_, " tensors");
    check_same_shape(outputs[0], in, "gather output");
    outs = outputs[0];
    for (auto& t : outs) dsts.push_back(std::make_shared<Staged>(t));
  } else {
    TORCH_CHECK(outputs.empty() || (outputs.size() == 1 && outputs[0].empty()),
                "rfab backend: gather takes output tensors on the root only");
  }
  return enqueue(
      OpType::GATHER, outs, true,
      [this, src, dsts, dt, root] {
        if (rank_ != root) {
          check(rfabSend(src->data_ptr(), static_cast<size_t>(src->numel()), dt, root, comm_),
                OpType::GATHER);
          return;
        }
        for (int p = 0; p < size_; ++p) {
          auto& d = dsts[static_cast<size_t>(p)];
          if (p == rank_)
            d->buffer().copy_(src->view(d->buffer().sizes()));
          else if (d->count() > 0)
            check(rfabRecv(d->data(), d->count(), dt, p, comm_), OpType::GATHER);
        }
      },
      [dsts] {
        for (auto& d : dsts) d->finish();
      });
}

c10::intrusive_ptr<c10d::Work> RfabProcessGroup::scatter(std::vector<at::Tensor>& outputs,
                                                         std::vector<std::vector<at::Tensor>>& inputs,
                                                         const c10d::ScatterOptions& opts) {
  const at::Tensor& out = single_tensor(outputs, "scatter output");
  const int root = static_cast<int>(opts.rootRank);
  check_peer(root, "scatter root");
  const rfabDataType_t dt = rfab_dtype(out, "scatter output");
  std::vector<std::shared_ptr<at::Tensor>> srcs;
  if (rank_ == root) {
    TORCH_CHECK(inputs.size() == 1 && static_cast<int>(inputs[0].size()) == size_,
                "rfab backend: scatter's root needs one input list of ", size_, " tensors");
    check_same_shape(inputs[0], out, "scatter input");
    for (const auto& t : inputs[0]) srcs.push_back(std::make_shared<at::Tensor>(t.contiguous()));
  } else {
    TORCH_CHECK(inputs.empty() || (inputs.size() == 1 && inputs[0].empty()),
                "rfab backend: scatter takes input tensors on the root only");
  }
  auto staged = std::make_shared<Staged>(out);
  return enqueue(
      OpType::SCATTER, outputs, true,
      [this, srcs, staged, dt, root] {
        if (rank_ != root) {
          if (staged->count() > 0)
            check(rfabRecv(staged->data(), staged->count(), dt, root, comm_), OpType::SCATTER);
          return;
        }
        for (int p = 0; p < size_; ++p) {
          auto& s = srcs[static_cast<size_t>(p)];
          if (p == rank_)
            staged->buffer().copy_(s->view(staged->buffer().sizes()));
          else if (s->numel() > 0)
            check(rfabSend(s->data_ptr(), static_cast<size_t>(s->numel()), dt, p, comm_), OpType::SCATTER);
        }
      },
      [staged] { staged->finish(); });
}

c10::intrusive_ptr<c10d::Work> RfabProcessGroup::send(std::vector<at::Tensor>& tensors, int dst,
                                                      int /*tag*/) {
  const at::Tensor& t = single_tensor(tensors, "send tensor");
  check_peer(dst, "send destination");
  TORCH_CHECK(dst != rank_, "rfab backend: send to this rank itself (", dst, ")");
  const rfabDataType_t dt = rfab_dtype(t, "send tensor");
  auto src = std::make_shared<at::Tensor>(t.contiguous());
  return enqueue(OpType::SEND, tensors, true, [this, src, dt, dst] {
    check(rfabSend(src->data_ptr(), static_cast<size_t>(src->numel()), dt, dst, comm_), OpType::SEND);
  });
}

c10::intrusive_ptr<c10d::Work> RfabProcessGroup::recv(std::vector<at::Tensor>& tensors, int src,
                                                      int /*tag*/) {
  const at::Tensor& t = single_tensor(tensors, "recv tensor");
  check_peer(src, "recv source");
  TORCH_CHECK(src != rank_, "rfab backend: recv from this rank itself (", src, ")");
  const rfabDataType_t dt = rfab_dtype(t, "recv tensor");
  auto staged = std::make_shared<Staged>(t);
  return enqueue(
      OpType::RECV, tensors, true,
      [this, staged, dt, src] {
        check(rfabRecv(staged->data(), staged->count(), dt, src, comm_), OpType::RECV);
      },
      [staged] { staged->finish(); });
}

c10::intrusive_ptr<c10d::Work> RfabProcessGroup::barrier(const c10d::BarrierOptions& /*opts*/) {
  return enqueue(OpType::BARRIER, {}, false, [this] { check(rfabBarrier(comm_), OpType::BARRIER); });
}

c10::intrusive_ptr<c10d::ProcessGroup> create_process_group(const c10::intrusive_ptr<c10d::Store>& store,
                                                            int rank, int size,
                                                            std::chrono::milliseconds timeout,
                                                            const std::string& store_host) {
  return c10::make_intrusive<RfabProcessGroup>(store, rank, size, timeout, store_host);
}

}  // namespace rfab_torch
