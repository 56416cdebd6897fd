// The schedule step_traffic records is the one the collective library runs: the same algorithm run for real
// (threads as ranks, data moved through an in-memory transport that logs every message) sends the same
// messages, peer by peer and in the same order, and computes the right sums.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "rfab/collectives/algorithms.hpp"
#include "rfab/collectives/doorbell.hpp"
#include "rfab/collectives/reduce.hpp"
#include "rfab/emu/step_traffic.hpp"

using namespace rfab;

namespace {

using Message = std::pair<int, size_t>;  // (peer, bytes)

// One direction between two ranks: a buffer large enough for everything the collective sends that way,
// written by the sender and read by the receiver (positions published with release/acquire).
struct Lane {
  explicit Lane(size_t cap) : buf(cap) {}
  std::vector<std::byte> buf;
  std::atomic<size_t> written{0};
  size_t read = 0;
};

class MemPair : public coll::Pair {
 public:
  MemPair(Lane& out, Lane& in, coll::Doorbell& peer_bell, int peer, std::vector<Message>& log)
      : out_(out), in_(in), peer_bell_(peer_bell), peer_(peer), log_(log) {}
  void begin_send() override {}
  void begin_recv() override {}
  void begin_send_msg(size_t bytes) override { log_.emplace_back(peer_, bytes); }
  size_t try_send(const std::byte* src, size_t n, size_t) override {
    const size_t w = out_.written.load(std::memory_order_relaxed);
    if (w + n > out_.buf.size()) throw std::runtime_error("test lane overflow");
    std::memcpy(out_.buf.data() + w, src, n);
    out_.written.store(w + n, std::memory_order_release);
    peer_bell_.ring();
    return n;
  }
  std::span<const std::byte> readable() override {
    return {in_.buf.data() + in_.read, in_.written.load(std::memory_order_acquire) - in_.read};
  }
  void consume(size_t n) override { in_.read += n; }
  size_t buffered() override { return in_.written.load(std::memory_order_acquire) - in_.read; }

 private:
  Lane &out_, &in_;
  coll::Doorbell& peer_bell_;
  int peer_;
  std::vector<Message>& log_;
};

class MemTransport : public coll::Transport {
 public:
  std::string_view name() const override { return "memory"; }
  coll::Pair* pair(int peer) override { return pairs[size_t(peer)].get(); }
  void check_peers(std::span<const coll::PeerNeed>) override {}
  void announce_abort() override {}
  std::vector<std::unique_ptr<MemPair>> pairs;
};

// Runs the algorithm on `ranks` threads with real data; returns each rank's messages in the order sent.
std::vector<std::vector<Message>> run_for_real(const std::string& algo, int ranks, size_t count) {
  const size_t bytes = count * 4;
  std::vector<std::unique_ptr<Lane>> lanes;  // lanes[a * ranks + b]: a -> b
  for (int i = 0; i < ranks * ranks; ++i) lanes.push_back(std::make_unique<Lane>(4 * bytes));
  std::vector<coll::Doorbell> bells(static_cast<size_t>(ranks));
  std::vector<std::vector<Message>> logs(static_cast<size_t>(ranks));
  std::vector<MemTransport> transports(static_cast<size_t>(ranks));
  for (int a = 0; a < ranks; ++a)
    for (int b = 0; b < ranks; ++b)
      transports[size_t(a)].pairs.push_back(a == b ? nullptr
                                                   : std::make_unique<MemPair>(*lanes[size_t(a * ranks + b)],
                                                                               *lanes[size_t(b * ranks + a)],
                                                                               bells[size_t(b)], b, logs[size_t(a)]));
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int r = 0; r < ranks; ++r)
    threads.emplace_back([&, r] {
      coll::EngineEnv env;
      env.transports = {&transports[size_t(r)]};
      env.bell = &bells[size_t(r)];
      env.timeout = std::chrono::milliseconds(20000);
      std::vector<std::vector<std::byte>> scratch(4);
      coll::AlgoCtx ctx;
      ctx.env = &env;
      ctx.dtype = coll::DataType::F32;
      ctx.elem = 4;
      ctx.fn = coll::reduce_fn(coll::DataType::F32, coll::RedOp::Sum);
      ctx.what = "allreduce";
      ctx.scratch = [&](size_t n, int slot) {
        scratch[size_t(slot)].resize(n);
        return scratch[size_t(slot)].data();
      };
      coll::Group g;
      for (int i = 0; i < ranks; ++i) g.ranks.push_back(i);
      g.me = r;
      std::vector<float> data(count);
      for (size_t i = 0; i < count; ++i) data[i] = float(r + 1) + float(i % 7);
      if (algo == "ring") coll::allreduce_ring(ctx, g, data.data(), data.data(), count);
      if (algo == "rhd") coll::allreduce_rhd(ctx, g, data.data(), data.data(), count);
      if (algo == "tree") coll::allreduce_tree(ctx, g, data.data(), data.data(), count);
      for (size_t i = 0; i < count; ++i)
        if (data[i] != float(ranks * (ranks + 1) / 2) + float(ranks) * float(i % 7)) {
          ++wrong;
          break;
        }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0) << algo << ": wrong sums";
  return logs;
}

std::vector<std::vector<Message>> recorded(const std::string& algo, int ranks, size_t count) {
  emu::StepSpec s = emu::parse_step("step:allreduce=" + algo + ",bytes=" + std::to_string(count * 4));
  emu::RecordedSchedule sched = emu::record_step(s, uint32_t(ranks), 1);
  std::vector<std::vector<Message>> out(static_cast<size_t>(ranks));
  for (size_t e = 0; e < sched.exchange_rank.size(); ++e)
    for (uint64_t i = sched.exchange_first[e]; i < sched.exchange_first[e + 1]; ++i)
      if (sched.ops[i].send && sched.ops[i].bytes > 0)
        out[sched.exchange_rank[e]].emplace_back(sched.ops[i].peer, sched.ops[i].bytes);
  return out;
}

// Messages to one peer keep their order on its channel; messages to different peers of one exchange may
// begin in any order, so compare per peer.
std::vector<std::vector<size_t>> by_peer(const std::vector<Message>& log, int ranks) {
  std::vector<std::vector<size_t>> out(static_cast<size_t>(ranks));
  for (auto [peer, bytes] : log) out[size_t(peer)].push_back(bytes);
  return out;
}

}  // namespace

TEST(StepLibraryRun, RecordedScheduleIsTheMessagesTheLibrarySends) {
  const int ranks = 6;  // not a power of two: rhd folds
  const size_t count = 6000;
  for (const char* algo : {"ring", "rhd", "tree"}) {
    auto real = run_for_real(algo, ranks, count);
    auto rec = recorded(algo, ranks, count);
    for (int r = 0; r < ranks; ++r) {
      EXPECT_EQ(real[size_t(r)].size(), rec[size_t(r)].size()) << algo << " rank " << r;
      EXPECT_EQ(by_peer(real[size_t(r)], ranks), by_peer(rec[size_t(r)], ranks)) << algo << " rank " << r;
    }
  }
  // The ring's closed form, as the library ran it: 2(H-1) messages of bytes/H to the next rank.
  auto real = run_for_real("ring", ranks, count);
  for (int r = 0; r < ranks; ++r) {
    ASSERT_EQ(real[size_t(r)].size(), size_t(2 * (ranks - 1)));
    for (auto [peer, bytes] : real[size_t(r)]) {
      EXPECT_EQ(peer, (r + 1) % ranks);
      EXPECT_EQ(bytes, count * 4 / ranks);
    }
  }
}
