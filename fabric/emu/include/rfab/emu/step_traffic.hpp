// One training step's collective as emulator traffic, recorded from the collective library's own
// algorithm code (rfab/collectives/algorithms.hpp), not a re-description of it:
//
//   step:allreduce=ring|rhd|rd|tree|hier,bytes=1G[,inter=ring|rhd|rd|tree][,gpus-per-server=G][,nvlink=3.6T]
//   step:alltoall=pairwise,bytes=B      (B per rank, B/ranks to every other rank: a mixture-of-experts dispatch)
//   step:train=gpipe,tp=T,pp=P[,ep=E][,microbatches=M][,grad=G][,act=A][,moe=B][,tp-bytes=X][,dp=ALGO]
//                                       (one training step of a model split over tensor, pipeline, data and
//                                        expert parallelism: step_training.cpp)
//
// Every rank runs the library's function with an EngineEnv whose recorder takes each Exchange::run()'s
// ops (peer, bytes, order, gates) instead of moving data; no buffer is touched (the buffers are reserved
// address space with no access). Rank r's k-th send to q is matched to q's k-th receive from r: one flow.
// A flow waits for (a) the receive its send is gated on, (b) the previous send to the same peer in the
// exchange (a channel moves one message at a time) and (c) every transfer of the rank's previous exchange
// (run() returned only when all were done), and of the receive-only exchanges before that back to the
// last one that sent (an exchange begins only when the one before it returned). A gate is taken as store-and-forward: the gated send starts
// when the op it waits for has completed, where the library forwards chunk by chunk (docs/emulator.md).
//
// Ranks are GPUs: GPU i of server s uses NIC s x R + i x R / G of the tree (R = the tree's rails, or 1;
// G = gpus-per-server, default R), so a rail-aligned tree gives each GPU its own NIC. Transfers between
// GPUs of one server go over NVLink: a fixed rate per transfer (nvlink=, default 3.6 Tbit/s, the
// 450 GB/s per direction of NVLink 4), no contention and no path delay; everything else crosses the fabric.
// `hier` is the library's hierarchical allreduce: reduce to the server's first GPU, allreduce among those
// (inter=, default ring), broadcast. Elements are 4-byte floats summed.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "rfab/collectives/exchange.hpp"
#include "rfab/emu/traffic.hpp"
#include "rfab/topology/fat_tree.hpp"

namespace rfab::emu {

// The recorded schedule of every rank: exchanges in order, each a run of ops.
struct RecordedSchedule {
  uint32_t ranks = 0;
  std::vector<coll::RecordedOp> ops;
  std::vector<uint64_t> exchange_first{0};  // exchange e's ops: [exchange_first[e], exchange_first[e + 1])
  std::vector<uint32_t> exchange_rank;      // the rank that ran exchange e; a rank's exchanges are contiguous
  std::vector<uint8_t> exchange_phase;      // the part of the step exchange e belongs to: phase_names' index
  std::vector<std::string> phase_names;
};

// A training step's layout and sizes (collective "train"). Ranks are numbered tensor-parallel first, then
// data-parallel, then pipeline stage: rank = (stage x dp + d) x tp + t, so a tensor-parallel group is
// tp consecutive GPUs (one server when tp <= gpus-per-server) and dp = ranks / (tp x pp).
struct TrainSpec {
  uint32_t tp = 1, pp = 1, ep = 1;  // ep: expert-parallel groups of ep consecutive data-parallel ranks
  uint32_t microbatches = 0;        // 0: pp
  uint64_t grad = 0;      // the model's gradient bytes: each rank allreduces grad / (tp x pp) over its dp group
  uint64_t act = 0;       // activation bytes a rank sends to the next stage per microbatch (and back, as gradients)
  uint64_t moe = 0;       // bytes a rank exchanges with its expert group per all-to-all (dispatch, combine)
  uint64_t tp_bytes = 0;  // bytes of each tensor-parallel allreduce (one per microbatch, forward and backward)
  std::string dp_algo = "ring";  // ring | rhd | rd | tree
};

struct StepSpec {
  std::string collective = "allreduce";  // "allreduce" | "alltoall" | "train"
  std::string algo = "ring";             // ring rhd rd tree hier | pairwise | gpipe
  std::string inter = "ring";            // hier: the algorithm among the servers' first GPUs
  uint64_t bytes = 0;                    // per rank (allreduce, alltoall)
  uint32_t gpus_per_server = 0;          // 0: the tree's rails (or 1)
  double nvlink_bps = 3.6e12;
  TrainSpec train;                       // collective "train"
};

// Parses "step:..." (throws TrafficError naming the problem).
StepSpec parse_step(std::string_view spec);
// Runs the library's algorithm for `ranks` ranks (servers of `gpus_per_server`) and records it. Throws
// TrafficError when the schedule would hold more than kMaxMatrixFlows transfers.
RecordedSchedule record_step(const StepSpec& step, uint32_t ranks, uint32_t gpus_per_server);
// The step as flows with dependencies on `tree`.
Traffic step_traffic(const StepSpec& step, const topo::FatTree& tree);
// Records one training step (collective "train"; step_training.cpp). Throws TrafficError when the layout
// does not fit `ranks`.
RecordedSchedule record_training(const StepSpec& step, uint32_t ranks, uint32_t gpus_per_server);
// Parses the keys of a train= step out of `values` (each key it knows is removed).
void parse_train_keys(StepSpec& step, std::map<std::string, std::string>& values);
// Ranks (GPUs) a step spec runs on `tree`.
uint32_t step_ranks(const StepSpec& step, const topo::FatTree& tree);

}  // namespace rfab::emu
