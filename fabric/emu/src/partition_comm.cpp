#include "rfab/emu/partition_comm.hpp"

#include <algorithm>
#include <atomic>
#include <barrier>
#include <exception>
#include <stdexcept>
#include <thread>

namespace rfab::emu {
namespace {

// What the threads share: a barrier, and the mail and vectors they leave for each other between two of its
// phases.
struct ThreadHub {
  explicit ThreadHub(uint32_t parts) : barrier(parts), mail(parts), slots(parts, nullptr) {}
  std::barrier<> barrier;
  std::atomic<bool> failed{false};
  std::vector<std::vector<std::vector<RemoteEvent>>> mail;  // [from][to]
  std::vector<const std::vector<uint64_t>*> slots;          // each part's reduce operand
};

// Thrown in the parts that did not fail when one did: not the error to report.
struct OtherPartFailed : std::runtime_error {
  OtherPartFailed() : std::runtime_error("partitions: another part of the run failed") {}
};

class ThreadComm final : public PartitionComm {
 public:
  ThreadComm(ThreadHub& hub, uint32_t rank) : hub_(hub), rank_(rank) {}
  uint32_t rank() const override { return rank_; }
  uint32_t size() const override { return uint32_t(hub_.mail.size()); }
  bool separate_processes() const override { return false; }

  std::vector<RemoteEvent> exchange(std::vector<std::vector<RemoteEvent>> out) override {
    hub_.mail[rank_] = std::move(out);
    sync();
    std::vector<RemoteEvent> in;
    for (auto& from : hub_.mail) in.insert(in.end(), from[rank_].begin(), from[rank_].end());
    sync();
    return in;
  }

  void reduce(std::vector<uint64_t>& v, Op op) override {
    hub_.slots[rank_] = &v;
    sync();
    std::vector<uint64_t> r = *hub_.slots[0];
    for (size_t p = 1; p < hub_.slots.size(); ++p) {
      const std::vector<uint64_t>& o = *hub_.slots[p];
      for (size_t i = 0; i < r.size(); ++i)
        r[i] = op == Op::sum ? r[i] + o[i] : op == Op::min ? std::min(r[i], o[i]) : std::max(r[i], o[i]);
    }
    sync();  // every part has read every operand before any is overwritten
    v = std::move(r);
  }

  // This part stops taking part: the barrier stops counting it and the others learn why at their next sync.
  void leave(bool failed) {
    if (left_) return;
    left_ = true;
    if (failed) hub_.failed = true;
    hub_.barrier.arrive_and_drop();
  }

 private:
  void sync() {
    hub_.barrier.arrive_and_wait();
    if (hub_.failed) {
      leave(false);
      throw OtherPartFailed();
    }
  }

  ThreadHub& hub_;
  uint32_t rank_;
  bool left_ = false;
};

}  // namespace

void run_on_threads(uint32_t parts, const std::function<void(PartitionComm&)>& body) {
  ThreadHub hub(parts);
  std::vector<std::exception_ptr> errors(parts);
  std::vector<uint8_t> secondary(parts, 0);  // not vector<bool>: each thread writes its own element
  std::vector<std::thread> threads;
  for (uint32_t r = 0; r < parts; ++r) {
    threads.emplace_back([&, r] {
      ThreadComm comm(hub, r);
      try {
        body(comm);
        comm.leave(false);
      } catch (const OtherPartFailed&) {
        errors[r] = std::current_exception();
        secondary[r] = 1;
      } catch (...) {
        errors[r] = std::current_exception();
        comm.leave(true);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (uint32_t r = 0; r < parts; ++r)
    if (errors[r] && !secondary[r]) std::rethrow_exception(errors[r]);
  for (uint32_t r = 0; r < parts; ++r)
    if (errors[r]) std::rethrow_exception(errors[r]);
}

}  // namespace rfab::emu
