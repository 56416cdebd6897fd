#include "rfab/emu/step_traffic.hpp"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "rfab/base/units.hpp"
#include "rfab/collectives/algorithms.hpp"
#include "rfab/collectives/reduce.hpp"
#include "rfab/topology/spec.hpp"
#include "step_recording.hpp"

namespace rfab::emu {

using detail::group_of;
using detail::kElem;
using detail::Recorder;
using detail::Reserved;

StepSpec parse_step(std::string_view text) {
  topo::KeyValues kv;
  try {
    kv = topo::parse_key_values(text, "traffic");
  } catch (const topo::TopologyError& e) {
    throw TrafficError(e.what());
  }
  if (kv.kind != "step") throw TrafficError("traffic: '" + std::string(text) + "' is not a step: spec");
  StepSpec s;
  auto take = [&](const char* key) -> std::string {
    auto it = kv.values.find(key);
    if (it == kv.values.end()) return {};
    std::string v = it->second;
    kv.values.erase(it);
    return v;
  };
  try {
    const std::string ar = take("allreduce"), a2a = take("alltoall"), train = take("train");
    if (int(!ar.empty()) + int(!a2a.empty()) + int(!train.empty()) != 1)
      throw TrafficError("traffic: a step is one of allreduce=ALGO, alltoall=ALGO or train=gpipe");
    if (!train.empty()) {
      s.collective = "train";
      s.algo = train;
      if (train != "gpipe") throw TrafficError("traffic: step train='" + train + "' is not gpipe");
      parse_train_keys(s, kv.values);
    } else if (!ar.empty()) {
      s.collective = "allreduce";
      s.algo = ar;
      if (ar != "ring" && ar != "rhd" && ar != "rd" && ar != "tree" && ar != "hier")
        throw TrafficError("traffic: step allreduce='" + ar + "' is not ring, rhd, rd, tree or hier");
    } else {
      s.collective = "alltoall";
      s.algo = a2a;
      if (a2a != "pairwise") throw TrafficError("traffic: step alltoall='" + a2a + "' is not pairwise");
    }
    const std::string inter = take("inter");
    if (!inter.empty()) {
      if (s.algo != "hier") throw TrafficError("traffic: step inter= applies to allreduce=hier only");
      if (inter != "ring" && inter != "rhd" && inter != "rd" && inter != "tree")
        throw TrafficError("traffic: step inter='" + inter + "' is not ring, rhd, rd or tree");
      s.inter = inter;
    }
    const std::string bytes = take("bytes");
    if (s.collective == "train") {
      if (!bytes.empty()) throw TrafficError("traffic: a train= step takes grad=, act=, moe= and tp-bytes=, not bytes=");
    } else {
      if (bytes.empty()) throw TrafficError("traffic: a step needs bytes= (per rank)");
      s.bytes = parse_size(bytes, "step bytes");
      if (s.bytes < kElem || s.bytes % kElem)
        throw TrafficError("traffic: step bytes=" + bytes + " must be a positive multiple of 4 (float32 elements)");
    }
    if (std::string g = take("gpus-per-server"); !g.empty())
      s.gpus_per_server = uint32_t(parse_u64(g, "step gpus-per-server", 1, 64));
    if (std::string n = take("nvlink"); !n.empty()) {
      s.nvlink_bps = parse_rate_bps(n, "step nvlink");
      if (s.nvlink_bps <= 0) throw TrafficError("traffic: step nvlink= must be above 0");
    }
  } catch (const ParseError& e) {
    throw TrafficError(e.what());
  }
  if (!kv.values.empty()) throw TrafficError("traffic: unknown key '" + kv.values.begin()->first + "' for step");
  return s;
}

RecordedSchedule record_step(const StepSpec& step, uint32_t ranks, uint32_t gpus_per_server) {
  if (ranks < 2) throw TrafficError("step: a collective needs at least 2 ranks");
  if (gpus_per_server == 0 || ranks % gpus_per_server)
    throw TrafficError("step: " + std::to_string(ranks) + " ranks are not whole servers of " + std::to_string(gpus_per_server));
  if (step.collective == "train") return record_training(step, ranks, gpus_per_server);
  RecordedSchedule sched;
  sched.ranks = ranks;
  sched.phase_names = {step.collective + " " + step.algo};
  Recorder rec(sched);
  coll::EngineEnv env;
  env.recorder = &rec;
  const size_t count = step.bytes / kElem;
  const bool a2a = step.collective == "alltoall";
  if (a2a && step.bytes < kElem * ranks)
    throw TrafficError("step: alltoall bytes=" + std::to_string(step.bytes) + " gives each of " + std::to_string(ranks) +
                       " ranks less than one element");
  // All-to-all sends `count / ranks` elements to every rank from a buffer of ranks blocks.
  const size_t block = a2a ? count / ranks : count;
  Reserved send(block * kElem * (a2a ? ranks : 1)), recv(block * kElem * (a2a ? ranks : 1));
  std::vector<std::unique_ptr<Reserved>> scratch;
  const coll::AlgoCtx ctx = detail::recording_ctx(env, step.collective, scratch);
  std::vector<int> all(ranks);
  for (uint32_t r = 0; r < ranks; ++r) all[r] = int(r);
  const uint32_t G = gpus_per_server, servers = ranks / G;
  std::vector<coll::Group> hosts;
  coll::Group leaders;
  if (step.algo == "hier") {
    for (uint32_t s = 0; s < servers; ++s) {
      std::vector<int> members(G);
      for (uint32_t i = 0; i < G; ++i) members[i] = int(s * G + i);
      hosts.push_back(group_of(std::move(members), 0));
      leaders.ranks.push_back(int(s * G));
    }
  }
  const std::optional<coll::Algo> inter = coll::parse_algo(step.inter);
  if (!inter) throw TrafficError("step: inter='" + step.inter + "' is not an algorithm of the library");
  for (uint32_t r = 0; r < ranks; ++r) {
    rec.rank = r;
    // In place (send == recv) for allreduce: the algorithms then make no local copy to skip.
    std::byte* in = a2a ? send.get() : recv.get();
    std::byte* out = recv.get();
    const coll::Group g = group_of(all, int(r));
    if (step.algo == "pairwise") coll::alltoall_pairwise(ctx, g, in, out, block);
    else if (step.algo == "hier") {
      const uint32_t s = r / G;
      hosts[s].me = int(r % G);
      leaders.me = int(s);
      coll::allreduce_hier(ctx, hosts, leaders, int(s), in, out, count, *inter);
    } else {
      detail::flat_allreduce(ctx, step.algo, g, in, out, count);
    }
    scratch.clear();
  }
  return sched;
}

uint32_t step_ranks(const StepSpec& step, const topo::FatTree& tree) {
  const uint32_t R = tree.spec().rails ? tree.spec().rails : 1;
  const uint32_t G = step.gpus_per_server ? step.gpus_per_server : R;
  if (tree.hosts() % R)
    throw TrafficError("step: " + std::to_string(tree.hosts()) + " NICs are not whole servers of " + std::to_string(R) + " rails");
  return tree.hosts() / R * G;
}

Traffic step_traffic(const StepSpec& step, const topo::FatTree& tree) {
  const uint32_t R = tree.spec().rails ? tree.spec().rails : 1;
  const uint32_t G = step.gpus_per_server ? step.gpus_per_server : R;
  const uint32_t ranks = step_ranks(step, tree);
  const RecordedSchedule s = record_step(step, ranks, G);
  auto server = [&](uint32_t r) { return r / G; };
  auto nic = [&](uint32_t r) { return server(r) * R + (r % G) * R / G; };

  Traffic t;
  t.local_bps = step.nvlink_bps;
  t.phase_names = s.phase_names;
  std::vector<uint32_t> op_flow(s.ops.size(), kNoFlow);
  // Sends in order per (src, dst): the k-th is matched to the destination's k-th receive from src.
  std::unordered_map<uint64_t, std::vector<uint32_t>> sent;
  const size_t exchanges = s.exchange_rank.size();
  for (size_t e = 0; e < exchanges; ++e) {
    const uint32_t r = s.exchange_rank[e];
    for (uint64_t i = s.exchange_first[e]; i < s.exchange_first[e + 1]; ++i) {
      const coll::RecordedOp& op = s.ops[i];
      if (!op.send || op.bytes == 0) continue;  // a zero-length op completes without a transfer
      const uint32_t q = uint32_t(op.peer);
      op_flow[i] = uint32_t(t.flows.size());
      t.flows.push_back(FlowSpec{nic(r), nic(q), op.bytes, 0, kNoFlow});
      t.local.push_back(server(r) == server(q));
      t.phase.push_back(s.exchange_phase[e]);
      sent[uint64_t{r} << 32 | q].push_back(op_flow[i]);
    }
  }
  std::unordered_map<uint64_t, size_t> taken;
  for (size_t e = 0; e < exchanges; ++e) {
    const uint32_t q = s.exchange_rank[e];
    for (uint64_t i = s.exchange_first[e]; i < s.exchange_first[e + 1]; ++i) {
      const coll::RecordedOp& op = s.ops[i];
      if (op.send || op.bytes == 0) continue;
      const uint64_t key = uint64_t(uint32_t(op.peer)) << 32 | q;
      auto it = sent.find(key);
      size_t& k = taken[key];
      if (it == sent.end() || k >= it->second.size() || t.flows[it->second[k]].bytes != op.bytes)
        throw TrafficError("step: rank " + std::to_string(q) + " receives " + std::to_string(op.bytes) +
                           " bytes from rank " + std::to_string(op.peer) + " that it never sends (schedule mismatch)");
      op_flow[i] = it->second[k++];
    }
  }
  for (const auto& [key, flows] : sent)
    if (taken[key] != flows.size())
      throw TrafficError("step: rank " + std::to_string(key >> 32) + " sends to rank " + std::to_string(uint32_t(key)) +
                         " more messages than it receives (schedule mismatch)");

  // Dependencies of each flow, in flow order (flows were numbered in exchange order above).
  t.dep_first.assign(1, 0);
  std::vector<uint32_t> barrier;  // flows of the rank's previous non-empty exchange
  uint32_t barrier_rank = ~0u;
  for (size_t e = 0; e < exchanges; ++e) {
    const uint32_t r = s.exchange_rank[e];
    if (r != barrier_rank) {
      barrier.clear();
      barrier_rank = r;
    }
    const uint64_t first = s.exchange_first[e], end = s.exchange_first[e + 1];
    for (uint64_t i = first; i < end; ++i) {
      const coll::RecordedOp& op = s.ops[i];
      if (!op.send || op_flow[i] == kNoFlow) continue;
      t.deps.insert(t.deps.end(), barrier.begin(), barrier.end());
      if (op.gate >= 0 && !s.ops[first + uint64_t(op.gate)].send && op_flow[first + uint64_t(op.gate)] != kNoFlow)
        t.deps.push_back(op_flow[first + uint64_t(op.gate)]);
      for (uint64_t j = i; j-- > first;)  // the previous send on this channel
        if (s.ops[j].send && s.ops[j].peer == op.peer && op_flow[j] != kNoFlow) {
          t.deps.push_back(op_flow[j]);
          break;
        }
      t.dep_first.push_back(t.deps.size());
    }
    // The next exchange starts when this one has returned: when its flows are done and, since it began
    // only after the previous one returned, when that one's were. An exchange that sends waits for the
    // previous one through its sends' dependencies; one that only receives does not, so the previous
    // barrier carries over (a pipeline stage's next send waits for its last send as well as the receive).
    std::vector<uint32_t> next;
    bool sends = false;
    for (uint64_t i = first; i < end; ++i)
      if (op_flow[i] != kNoFlow) {
        next.push_back(op_flow[i]);
        sends = sends || s.ops[i].send;
      }
    if (sends) barrier = std::move(next);
    else barrier.insert(barrier.end(), next.begin(), next.end());
  }
  if (t.flows.empty()) throw TrafficError("step: the schedule moves nothing across ranks");
  return t;
}

}  // namespace rfab::emu
