// One training step of a model split over tensor (tp), pipeline (pp), data (dp) and expert (ep) parallelism,
// recorded from the collective library's own code: its point-to-point exchange for the pipeline, its ring
// allreduce for tensor parallelism, its pairwise all-to-all for the experts and the chosen flat allreduce
// for the data-parallel gradients. Every rank runs its program with the recording engine (step_recording.hpp),
// so the flows and their order are the library's, and step_traffic() turns them into dependent flows.
//
// A rank's program (GPipe: all forward microbatches, then all backward ones, then the gradient allreduce):
//   forward, each microbatch:  receive activations from the previous stage; tensor-parallel allreduce;
//                              expert dispatch and combine all-to-alls; send activations to the next stage
//   backward, each microbatch: receive gradients from the next stage; the same tensor and expert
//                              collectives; send gradients to the previous stage
//   then:                      allreduce grad / (tp x pp) bytes over the data-parallel group
// Compute takes no time: the step time is the communication's critical path.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "rfab/base/units.hpp"
#include "rfab/collectives/exchange.hpp"
#include "rfab/emu/step_traffic.hpp"
#include "step_recording.hpp"

namespace rfab::emu {
namespace {

using detail::kElem;

uint64_t elements_size(const std::string& key, const std::string& text) {
  const uint64_t v = parse_size(text, "step " + key);
  if (v % kElem) throw TrafficError("traffic: step " + key + "=" + text + " must be a multiple of 4 (float32 elements)");
  return v;
}

// Where rank r sits in the layout, and its groups as global ranks.
struct Place {
  uint32_t stage, d, t;  // pipeline stage, data-parallel index, tensor-parallel index
};

class Layout {
 public:
  Layout(const TrainSpec& s, uint32_t ranks) : s_(s), dp_(ranks / (s.tp * s.pp)) {}
  uint32_t dp() const { return dp_; }
  Place place(uint32_t r) const { return {r / (dp_ * s_.tp), r / s_.tp % dp_, r % s_.tp}; }
  int rank(uint32_t stage, uint32_t d, uint32_t t) const { return int((stage * dp_ + d) * s_.tp + t); }
  coll::Group tp_group(const Place& p) const {
    std::vector<int> g;
    for (uint32_t t = 0; t < s_.tp; ++t) g.push_back(rank(p.stage, p.d, t));
    return detail::group_of(std::move(g), int(p.t));
  }
  coll::Group dp_group(const Place& p) const {
    std::vector<int> g;
    for (uint32_t d = 0; d < dp_; ++d) g.push_back(rank(p.stage, d, p.t));
    return detail::group_of(std::move(g), int(p.d));
  }
  coll::Group ep_group(const Place& p) const {  // ep consecutive data-parallel ranks
    const uint32_t first = p.d / s_.ep * s_.ep;
    std::vector<int> g;
    for (uint32_t d = first; d < first + s_.ep; ++d) g.push_back(rank(p.stage, d, p.t));
    return detail::group_of(std::move(g), int(p.d - first));
  }

 private:
  const TrainSpec& s_;
  uint32_t dp_;
};

void check_layout(const TrainSpec& s, uint32_t ranks) {
  const std::string n = std::to_string(ranks);
  if (uint64_t{s.tp} * s.pp > ranks || ranks % (s.tp * s.pp))
    throw TrafficError("step: tp=" + std::to_string(s.tp) + " x pp=" + std::to_string(s.pp) + " does not divide the " + n +
                       " ranks");
  const uint32_t dp = ranks / (s.tp * s.pp);
  if (dp % s.ep)
    throw TrafficError("step: ep=" + std::to_string(s.ep) + " does not divide the data-parallel size " + std::to_string(dp) +
                       " (" + n + " ranks / tp " + std::to_string(s.tp) + " / pp " + std::to_string(s.pp) + ")");
  if (s.ep > 1 && s.moe > 0 && s.moe < kElem * s.ep)
    throw TrafficError("step: moe=" + std::to_string(s.moe) + " gives each of the ep=" + std::to_string(s.ep) +
                       " experts less than one element");
  if (dp > 1 && s.grad > 0 && s.grad / (uint64_t{s.tp} * s.pp) < kElem)
    throw TrafficError("step: grad=" + std::to_string(s.grad) + " over tp x pp = " + std::to_string(s.tp * s.pp) +
                       " shards is less than one element a rank");
}

}  // namespace

void parse_train_keys(StepSpec& step, std::map<std::string, std::string>& values) {
  TrainSpec& t = step.train;
  auto take = [&](const char* key) -> std::string {
    auto it = values.find(key);
    if (it == values.end()) return {};
    std::string v = it->second;
    values.erase(it);
    return v;
  };
  if (auto v = take("tp"); !v.empty()) t.tp = uint32_t(parse_u64(v, "step tp", 1, 1u << 20));
  if (auto v = take("pp"); !v.empty()) t.pp = uint32_t(parse_u64(v, "step pp", 1, 1u << 20));
  if (auto v = take("ep"); !v.empty()) t.ep = uint32_t(parse_u64(v, "step ep", 1, 1u << 20));
  if (auto v = take("microbatches"); !v.empty()) t.microbatches = uint32_t(parse_u64(v, "step microbatches", 1, 4096));
  if (auto v = take("grad"); !v.empty()) t.grad = parse_size(v, "step grad");
  if (auto v = take("act"); !v.empty()) t.act = elements_size("act", v);
  if (auto v = take("moe"); !v.empty()) t.moe = elements_size("moe", v);
  if (auto v = take("tp-bytes"); !v.empty()) t.tp_bytes = elements_size("tp-bytes", v);
  if (auto v = take("dp"); !v.empty()) {
    if (v != "ring" && v != "rhd" && v != "rd" && v != "tree")
      throw TrafficError("traffic: step dp='" + v + "' is not ring, rhd, rd or tree");
    t.dp_algo = v;
  }
  if (t.grad == 0 && t.act == 0 && t.moe == 0 && t.tp_bytes == 0)
    throw TrafficError("traffic: a train= step needs at least one of grad=, act=, moe=, tp-bytes=");
}

RecordedSchedule record_training(const StepSpec& step, uint32_t ranks, uint32_t gpus_per_server) {
  const TrainSpec& s = step.train;
  if (gpus_per_server == 0 || ranks % gpus_per_server)
    throw TrafficError("step: " + std::to_string(ranks) + " ranks are not whole servers of " + std::to_string(gpus_per_server));
  check_layout(s, ranks);
  const Layout layout(s, ranks);
  const uint32_t microbatches = s.microbatches ? s.microbatches : s.pp;
  const size_t grad_count = layout.dp() > 1 ? s.grad / (uint64_t{s.tp} * s.pp) / kElem : 0;

  RecordedSchedule sched;
  sched.ranks = ranks;
  enum Phase : uint8_t { forward, backward, tensor, experts, gradients };
  sched.phase_names = {"pipeline forward", "pipeline backward", "tensor-parallel allreduce", "expert all-to-all",
                       "data-parallel allreduce"};
  detail::Recorder rec(sched);
  coll::EngineEnv env;
  env.recorder = &rec;
  std::vector<std::unique_ptr<detail::Reserved>> scratch;
  const coll::AlgoCtx ctx = detail::recording_ctx(env, "train", scratch);
  const size_t largest = std::max({s.act, s.tp_bytes, s.moe, grad_count * kElem, uint64_t{kElem}});
  detail::Reserved in(largest), out(largest);

  auto p2p = [&](bool send, int peer, uint64_t bytes) {
    coll::Exchange x(env, "sendrecv");
    if (send) x.send(peer, in.get(), bytes);
    else x.recv(peer, out.get(), bytes);
    x.run();
  };
  for (uint32_t r = 0; r < ranks; ++r) {
    rec.rank = r;
    const Place p = layout.place(r);
    const coll::Group tp = layout.tp_group(p), ep = layout.ep_group(p);
    auto layer_collectives = [&](Phase pipeline) {
      rec.phase = tensor;
      if (s.tp > 1 && s.tp_bytes > 0) coll::allreduce_ring(ctx, tp, out.get(), out.get(), s.tp_bytes / kElem);
      rec.phase = experts;
      if (s.ep > 1 && s.moe > 0)
        for (int dispatch_then_combine = 0; dispatch_then_combine < 2; ++dispatch_then_combine)
          coll::alltoall_pairwise(ctx, ep, in.get(), out.get(), s.moe / kElem / s.ep);
      rec.phase = pipeline;
    };
    const bool first = p.stage == 0, last = p.stage + 1 == s.pp;
    for (uint32_t m = 0; m < microbatches; ++m) {  // forward
      rec.phase = forward;
      if (!first && s.act) p2p(false, layout.rank(p.stage - 1, p.d, p.t), s.act);
      layer_collectives(forward);
      if (!last && s.act) p2p(true, layout.rank(p.stage + 1, p.d, p.t), s.act);
    }
    for (uint32_t m = 0; m < microbatches; ++m) {  // backward
      rec.phase = backward;
      if (!last && s.act) p2p(false, layout.rank(p.stage + 1, p.d, p.t), s.act);
      layer_collectives(backward);
      if (!first && s.act) p2p(true, layout.rank(p.stage - 1, p.d, p.t), s.act);
    }
    rec.phase = gradients;
    if (grad_count > 0) detail::flat_allreduce(ctx, s.dp_algo, layout.dp_group(p), out.get(), out.get(), grad_count);
    scratch.clear();
  }
  if (sched.ops.empty()) throw TrafficError("step: the layout moves nothing between ranks (dp, pp, tp and ep are all 1?)");
  return sched;
}

}  // namespace rfab::emu
