#include "rfab/collectives/communicator.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <thread>

#include "env_config.hpp"
#include "host_identity.hpp"
#include "peer_record.hpp"
#include "rendezvous.hpp"
#include "rfab/collectives/roce_transport.hpp"
#include "rfab/collectives/shm_transport.hpp"
#include "spin_tuning.hpp"
#include "tiny_allreduce.hpp"
#include "transport_builders.hpp"

namespace rfab::coll {

namespace {

thread_local bool t_in_worker = false;

// Per-collective algorithm from RFAB_ALGO: "ring" (every collective that has it) or
// "allreduce=rhd,broadcast=chain".
void parse_algo_env(Algo (&out)[8]) {
  const std::optional<std::string> v = env::get_string("RFAB_ALGO");
  if (!v) return;
  const std::string& s = *v;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    std::string item = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? s.size() + 1 : comma + 1;
    if (item.empty()) continue;
    auto eq = item.find('=');
    std::string name = eq == std::string::npos ? item : item.substr(eq + 1);
    auto a = parse_algo(name);
    if (!a)
      throw Error(Status::InvalidArgument, "RFAB_ALGO: unknown algorithm '" + name +
                                               "' (ring, rhd, rd, tree, chain, bruck, pairwise, hier, auto)");
    if (eq == std::string::npos) {
      for (int c = 0; c < 6; ++c) {
        try {
          out[c] = select_algo(static_cast<Coll>(c), 0, 2, 1, *a);
        } catch (const Error&) {  // a bare name applies where it makes sense
        }
      }
      continue;
    }
    std::string coll = item.substr(0, eq);
    bool found = false;
    for (int c = 0; c < 6; ++c)
      if (coll_name(static_cast<Coll>(c)) == coll) {
        out[c] = select_algo(static_cast<Coll>(c), 0, 2, 1, *a);  // throws if it does not apply
        found = true;
      }
    if (!found) throw Error(Status::InvalidArgument, "RFAB_ALGO: unknown collective '" + coll + "'");
  }
}

// RFAB_PROTO: pipelining granularity. LL favours latency (small chunks), Simple bandwidth.
size_t chunk_for(size_t bytes) {
  static const int proto = [] {
    const auto v = from_env([] { return env::get_choice("RFAB_PROTO", {"LL", "ll", "Simple", "simple"}); });
    if (!v) return 0;
    return *v == "LL" || *v == "ll" ? 1 : 2;
  }();
  if (proto == 1) return size_t{16} << 10;
  if (proto == 2) return size_t{256} << 10;
  return bytes <= (size_t{512} << 10) ? size_t{32} << 10 : size_t{128} << 10;
}

}  // namespace

std::unique_ptr<Communicator> Communicator::create(CommConfig cfg) {
  if (cfg.nranks < 1) throw Error(Status::InvalidArgument, "nranks must be >= 1, got " + std::to_string(cfg.nranks));
  if (cfg.rank < 0 || cfg.rank >= cfg.nranks)
    throw Error(Status::InvalidArgument,
                "rank " + std::to_string(cfg.rank) + " is outside [0, " + std::to_string(cfg.nranks) + ")");
  std::unique_ptr<Communicator> c(new Communicator);
  c->bootstrap(cfg);
  return c;
}

std::unique_ptr<Communicator> Communicator::create_from_env() {
  LaunchInfo li = detect_launch();
  CommConfig cfg;
  cfg.nranks = li.world_size;
  cfg.rank = li.rank;
  cfg.store_host = li.master_addr;
  cfg.store_port = li.master_port;
  cfg.key_prefix = "env-" + std::to_string(li.master_port);
  if (auto id = env::get_string("RFAB_JOB_ID")) cfg.key_prefix = *id;
  cfg.job_id = li.job_id;
  if (li.world_size == 1) {
    // No launcher: a private store on an ephemeral loopback port.
    cfg.hosted_store = std::make_unique<StoreServer>("127.0.0.1", 0);
    cfg.store_host = "127.0.0.1";
    cfg.store_port = cfg.hosted_store->port();
    cfg.key_prefix = "single-" + std::to_string(getpid());
  } else if (li.rank == 0 && !li.store_external) {
    cfg.hosted_store = std::make_unique<StoreServer>(li.master_addr, li.master_port, li.job_id);
  }
  return create(std::move(cfg));
}

// Rendezvous (who is where), host groups, transports (shared memory on this machine, RoCE to others),
// spin tuning. Each step lives in its own file; this is the order they run in.
void Communicator::bootstrap(CommConfig& cfg) {
  rank_ = cfg.rank;
  nranks_ = cfg.nranks;
  prefix_ = cfg.key_prefix;
  hosted_store_ = std::move(cfg.hosted_store);
  parse_algo_env(env_algo_);
  env_.timeout = cfg.timeout;
  env_.abort_flag = &abort_;
  scratch_.resize(4);

  StoreClient store(cfg.store_host, cfg.store_port, cfg.timeout, cfg.job_id);
  PeerRecord mine;
  mine.host = logical_host();
  mine.machine = machine_id(rank_);
  mine.pid = static_cast<int>(getpid());
  mine.segment = shm_segment_name(prefix_, rank_);
  mine.nranks = nranks_;
  mine.cpus = affinity_cpus();
  const std::vector<PeerRecord> records = exchange_records(store, prefix_, rank_, nranks_, mine);
  for (const PeerRecord& r : records) hosts_.push_back(r.host);
  build_groups();

  const Placement place{rank_, nranks_, prefix_, &records, &records[static_cast<size_t>(rank_)]};
  try {
    shm_ = build_shm(store, place);
    roce_ = build_roce(store, place, hosts_, cfg.timeout, shm_->doorbell());
    store.barrier(prefix_ + "/mapped", nranks_);
  } catch (...) {
    // Set-up failed: this communicator will never run, so no segment of it is still needed. Our own goes
    // with shm_; those of local peers killed before they could unlink theirs go here.
    shm_.reset();
    for (const PeerRecord& r : records)
      if (r.machine == mine.machine) shm_unlink(r.segment.c_str());
    throw;
  }
  shm_->unlink_segment();

  env_.transports = {shm_.get()};
  if (roce_) env_.transports.push_back(roce_.get());
  env_.bell = &shm_->doorbell();
  env_.hosts = hosts_;
  const SpinTuning spin = tune_spin(ranks_on_this_kernel(records, mine.machine),
                                    cores_of_kernel(records, mine.machine, usable_cores()), roce_ != nullptr,
                                    roce_ && roce_->inline_progress());
  base_spin_ = spin.spin;
  env_.spin = base_spin_;
  env_.drive_spin = spin.drive_spin;
}

// Host groups (logical hosts, in order of first rank), the leaders group (first rank of each host) and
// the world group, from hosts_.
void Communicator::build_groups() {
  std::map<std::string, int> host_index;
  for (int r = 0; r < nranks_; ++r) {
    auto [it, fresh] = host_index.emplace(hosts_[static_cast<size_t>(r)], static_cast<int>(host_groups_.size()));
    if (fresh) host_groups_.emplace_back();
    Group& g = host_groups_[static_cast<size_t>(it->second)];
    if (r == rank_) {
      g.me = g.size();
      my_host_ = it->second;
    }
    g.ranks.push_back(r);
  }
  for (size_t h = 0; h < host_groups_.size(); ++h) {
    if (static_cast<int>(h) == my_host_) leaders_.me = leaders_.size();
    leaders_.ranks.push_back(host_groups_[h].ranks[0]);
  }
  for (int r = 0; r < nranks_; ++r) world_.ranks.push_back(r);
  world_.me = rank_;
}

Communicator::~Communicator() {
  {
    std::unique_lock l(q_mu_);
    stopping_ = true;
    // Finish what the user already queued, unless the communicator is broken (then it fails fast).
    q_cv_.notify_all();
  }
  if (worker_.joinable()) worker_.join();
  roce_.reset();  // delivers what we still owe peers over RoCE (bounded), then tells them we left
  if (shm_) shm_->announce_close();
}

std::string Communicator::async_error_message() const {
  std::lock_guard l(err_mu_);
  return broken_msg_;
}

void Communicator::abort() {
  abort_.store(true);
  {
    std::lock_guard l(err_mu_);
    if (broken_.load() == Status::Ok) {
      broken_.store(Status::Aborted);
      broken_msg_ = "communicator aborted (rank " + std::to_string(rank_) + ")";
    }
  }
  if (roce_) roce_->announce_abort();
  if (shm_) {
    shm_->announce_abort();
    shm_->doorbell().ring();  // our own waiter, if another thread is blocked in a collective
  }
}

// Pipelining chunk and spinning per call. Large transfers wait for whole chunks to be copied (tens of
// microseconds): sleeping costs little there, while spinning steals the core from the peer that is copying
// when cores are shared. Small ones are latency-bound and spin.
void Communicator::tune_for(size_t bytes) {
  env_.chunk = chunk_for(bytes);
  env_.spin = bytes > (size_t{256} << 10) ? std::chrono::nanoseconds(0) : base_spin_;
}

// The shared-memory pair to the only other rank when an allreduce of `bytes` would run recursive doubling
// over one inline message each way (tiny_allreduce.hpp); null otherwise.
Pair* Communicator::tiny_allreduce_pair(size_t bytes, Algo algo) const {
  if (nranks_ != 2 || bytes == 0 || bytes > kShmInlineBytes || algo != Algo::RecursiveDoubling ||
      env_.recorder != nullptr)
    return nullptr;
  return shm_->pair(1 - rank_);
}

std::byte* Communicator::scratch(size_t bytes, int slot) {
  auto& v = scratch_[static_cast<size_t>(slot)];
  if (v.size() < bytes) v.resize(bytes);
  return v.data();
}

Algo Communicator::forced(Coll coll, Algo call) const {
  return call != Algo::Auto ? call : env_algo_[static_cast<int>(coll)];
}

Algo Communicator::algo_for(Coll coll, size_t bytes, Algo algo) const {
  return select_algo(coll, bytes, nranks_, nhosts(), forced(coll, algo));
}

AlgoCtx Communicator::ctx(DataType t, RedOp op, Coll coll) const {
  AlgoCtx c;
  c.env = &env_;
  c.dtype = t;
  c.elem = dtype_size(t);
  c.fn = reduce_fn(t, op);
  c.what = std::string(coll_name(coll));
  auto* self = const_cast<Communicator*>(this);
  c.scratch = [self](size_t bytes, int slot) { return self->scratch(bytes, slot); };
  return c;
}

template <class F>
void Communicator::guarded(Coll coll, F&& body) {
  if (!t_in_worker) {
    std::unique_lock l(q_mu_);
    q_cv_.wait(l, [&] { return in_flight_ == 0; });
  }
  std::lock_guard exec(exec_mu_);
  if (Status s = broken_.load(); s != Status::Ok) throw Error(s, async_error_message());
  try {
    body();
  } catch (const Error& e) {
    if (e.status() == Status::Remote || e.status() == Status::Timeout || e.status() == Status::Aborted ||
        e.status() == Status::System) {
      {
        std::lock_guard l(err_mu_);
        if (broken_.load() == Status::Ok) {
          broken_.store(e.status());
          broken_msg_ = "rank " + std::to_string(rank_) + ": " + e.what();
        }
      }
      // The communicator is unusable now; telling the peers makes ranks that wait on us (rather than on
      // the failed rank) fail at once instead of after their own timeout.
      if (shm_) shm_->announce_abort();
      if (roce_) roce_->announce_abort();
      throw Error(e.status(), async_error_message());
    }
    throw;
  }
  (void)coll;
}

namespace {
void need(bool ok, const std::string& msg) {
  if (!ok) throw Error(Status::InvalidArgument, msg);
}
// The message is built only on failure: building it on every call was a malloc and two string copies per
// collective, ~5% of an 8-byte allreduce.
void need_buf(const void* p, size_t count, const char* name) {
  if (p == nullptr && count != 0) need(false, std::string(name) + " is NULL with a non-zero count");
}
}  // namespace

void Communicator::all_reduce(const void* send, void* recv, size_t count, DataType t, RedOp op, Algo algo) {
  need_buf(send, count, "sendbuff");
  need_buf(recv, count, "recvbuff");
  guarded(Coll::AllReduce, [&] {
    size_t bytes = count * dtype_size(t);
    tune_for(bytes);
    Algo a = algo_for(Coll::AllReduce, bytes, algo);
    if (Pair* p = tiny_allreduce_pair(bytes, a)) {
      tiny_pair_allreduce(env_, *p, 1 - rank_, send, recv, bytes, dtype_size(t), reduce_fn(t, op), "allreduce");
      if (op == RedOp::Avg) finish_avg(recv, count, t, nranks_);
      return;
    }
    AlgoCtx c = ctx(t, op, Coll::AllReduce);
    switch (a) {
      case Algo::Rhd: allreduce_rhd(c, world_, send, recv, count); break;
      case Algo::RecursiveDoubling: allreduce_rd(c, world_, send, recv, count); break;
      case Algo::Tree: allreduce_tree(c, world_, send, recv, count); break;
      case Algo::Hier:
        allreduce_hier(c, host_groups_, leaders_, my_host_, send, recv, count,
                       select_algo(Coll::AllReduce, bytes, leaders_.size(), 1, Algo::Auto));
        break;
      default: allreduce_ring(c, world_, send, recv, count); break;
    }
    if (op == RedOp::Avg && count > 0) finish_avg(recv, count, t, nranks_);
  });
}

void Communicator::broadcast(const void* send, void* recv, size_t count, DataType t, int root, Algo algo) {
  if (root < 0 || root >= nranks_)
    need(false, "root " + std::to_string(root) + " outside [0, " + std::to_string(nranks_) + ")");
  need_buf(recv, count, "recvbuff");
  if (rank_ == root) need_buf(send, count, "sendbuff");
  guarded(Coll::Broadcast, [&] {
    size_t bytes = count * dtype_size(t);
    tune_for(bytes);
    if (rank_ == root && send != recv && bytes > 0) std::memcpy(recv, send, bytes);
    AlgoCtx c = ctx(t, RedOp::Sum, Coll::Broadcast);
    if (algo_for(Coll::Broadcast, bytes, algo) == Algo::Chain) {
      broadcast_chain(c, world_, root, recv, count);
    } else {
      broadcast_tree(c, world_, root, recv, count);
    }
  });
}

void Communicator::reduce(const void* send, void* recv, size_t count, DataType t, RedOp op, int root, Algo algo) {
  if (root < 0 || root >= nranks_)
    need(false, "root " + std::to_string(root) + " outside [0, " + std::to_string(nranks_) + ")");
  need_buf(send, count, "sendbuff");
  if (rank_ == root) need_buf(recv, count, "recvbuff");
  guarded(Coll::Reduce, [&] {
    size_t bytes = count * dtype_size(t);
    tune_for(bytes);
    AlgoCtx c = ctx(t, op, Coll::Reduce);
    if (algo_for(Coll::Reduce, bytes, algo) == Algo::Chain) {
      reduce_chain(c, world_, root, send, recv, count);
    } else {
      reduce_tree(c, world_, root, send, recv, count);
    }
    if (op == RedOp::Avg && rank_ == root && count > 0) finish_avg(recv, count, t, nranks_);
  });
}

void Communicator::all_gather(const void* send, void* recv, size_t sendcount, DataType t, Algo algo) {
  need_buf(send, sendcount, "sendbuff");
  need_buf(recv, sendcount, "recvbuff");
  guarded(Coll::AllGather, [&] {
    size_t bytes = sendcount * dtype_size(t) * static_cast<size_t>(nranks_);
    tune_for(bytes);
    algo_for(Coll::AllGather, bytes, algo);
    allgather_ring(ctx(t, RedOp::Sum, Coll::AllGather), world_, send, recv, sendcount);
  });
}

void Communicator::reduce_scatter(const void* send, void* recv, size_t recvcount, DataType t, RedOp op,
                                  Algo algo) {
  need_buf(send, recvcount, "sendbuff");
  need_buf(recv, recvcount, "recvbuff");
  guarded(Coll::ReduceScatter, [&] {
    size_t bytes = recvcount * dtype_size(t) * static_cast<size_t>(nranks_);
    tune_for(bytes);
    algo_for(Coll::ReduceScatter, bytes, algo);
    reducescatter_ring(ctx(t, op, Coll::ReduceScatter), world_, send, recv, recvcount);
    if (op == RedOp::Avg && recvcount > 0) finish_avg(recv, recvcount, t, nranks_);
  });
}

void Communicator::all_to_all(const void* send, void* recv, size_t count, DataType t, Algo algo) {
  need_buf(send, count, "sendbuff");
  need_buf(recv, count, "recvbuff");
  guarded(Coll::AllToAll, [&] {
    size_t bytes = count * dtype_size(t) * static_cast<size_t>(nranks_);
    tune_for(bytes);
    AlgoCtx c = ctx(t, RedOp::Sum, Coll::AllToAll);
    if (algo_for(Coll::AllToAll, bytes, algo) == Algo::Bruck) {
      alltoall_bruck(c, world_, send, recv, count);
    } else {
      alltoall_pairwise(c, world_, send, recv, count);
    }
  });
}

void Communicator::p2p(std::span<const P2POp> ops) {
  for (const auto& op : ops) {
    if (op.peer < 0 || op.peer >= nranks_)
      need(false, "peer " + std::to_string(op.peer) + " outside [0, " + std::to_string(nranks_) + ")");
    need_buf(op.buf, op.bytes, op.is_send ? "sendbuff" : "recvbuff");
  }
  // Sends to ourselves pair with receives from ourselves in order: plain copies.
  std::vector<const P2POp*> self_send, self_recv;
  for (const auto& op : ops)
    if (op.peer == rank_) (op.is_send ? self_send : self_recv).push_back(&op);
  if (self_send.size() != self_recv.size())
    throw Error(Status::InvalidUsage, "a send to self needs a matching receive from self in the same group");
  for (size_t i = 0; i < self_send.size(); ++i)
    if (self_send[i]->bytes != self_recv[i]->bytes)
      throw Error(Status::InvalidUsage, "send to self and receive from self differ in size");
  guarded(Coll::SendRecv, [&] {
    size_t total = 0;
    for (const auto& op : ops) total += op.bytes;
    tune_for(total);
    // A group may receive into memory it also sends from (in-place sendrecv, as nccl-tests runs it): the
    // send must carry the bytes as they were when the group started, but the exchange progresses sends
    // and receives together, and a receive can land before the send has read its source. Such sends go
    // from a snapshot taken before anything is received.
    std::vector<std::vector<uint8_t>> snapshots;
    std::vector<const void*> send_from(ops.size());
    for (size_t i = 0; i < ops.size(); ++i) {
      send_from[i] = ops[i].buf;
      if (!ops[i].is_send || ops[i].bytes == 0) continue;
      const auto* a = static_cast<const uint8_t*>(ops[i].buf);
      for (const auto& r : ops) {
        const auto* b = static_cast<const uint8_t*>(r.buf);
        if (r.is_send || r.bytes == 0 || a >= b + r.bytes || b >= a + ops[i].bytes) continue;
        snapshots.emplace_back(a, a + ops[i].bytes);
        send_from[i] = snapshots.back().data();
        break;
      }
    }
    for (size_t i = 0; i < self_send.size(); ++i)
      if (self_send[i]->bytes > 0)
        std::memmove(self_recv[i]->buf, send_from[static_cast<size_t>(self_send[i] - ops.data())], self_send[i]->bytes);
    Exchange x(env_, "sendrecv");
    for (size_t i = 0; i < ops.size(); ++i) {
      const auto& op = ops[i];
      if (op.peer == rank_) continue;
      if (op.is_send) {
        x.send(op.peer, send_from[i], op.bytes);
      } else {
        x.recv(op.peer, op.buf, op.bytes);
      }
    }
    x.run();
  });
}

void Communicator::barrier() {
  guarded(Coll::Barrier, [&] {
    tune_for(1);
    barrier_dissemination(ctx(DataType::U8, RedOp::Sum, Coll::Barrier), world_);
  });
}

std::shared_ptr<Communicator::Request> Communicator::submit(std::function<void(Communicator&)> fn) {
  auto req = std::make_shared<Request>();
  std::lock_guard l(q_mu_);
  if (!worker_.joinable()) worker_ = std::thread([this] { worker_loop(); });
  queue_.emplace_back(std::move(fn), req);
  ++in_flight_;
  q_cv_.notify_all();
  return req;
}

void Communicator::wait(Request& r) {
  std::unique_lock l(r.mu);
  r.cv.wait(l, [&] { return r.done; });
}

void Communicator::worker_loop() {
  t_in_worker = true;
  for (;;) {
    std::pair<std::function<void(Communicator&)>, std::shared_ptr<Request>> item;
    {
      std::unique_lock l(q_mu_);
      q_cv_.wait(l, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      item = std::move(queue_.front());
      queue_.pop_front();
    }
    Status st = Status::Ok;
    std::string msg;
    try {
      item.first(*this);
    } catch (const Error& e) {
      st = e.status();
      msg = e.what();
    } catch (const std::exception& e) {
      st = Status::Internal;
      msg = e.what();
    }
    {
      std::lock_guard l(item.second->mu);
      item.second->done = true;
      item.second->status = st;
      item.second->message = msg;
    }
    item.second->cv.notify_all();
    std::lock_guard l(q_mu_);
    --in_flight_;
    q_cv_.notify_all();
  }
}

}  // namespace rfab::coll
