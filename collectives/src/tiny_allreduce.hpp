// The allreduce of two ranks on one machine for messages that fit one inline shared-memory message: the
// schedule recursive doubling runs (each rank sends its vector and reduces the peer's into its result),
// executed without building an Exchange. At these sizes the call is latency-bound and the engine's set-up
// (op lists, channels, landing plans) sat on the critical path of every call.
#pragma once
#include <cstddef>
#include <string_view>

#include "rfab/collectives/exchange.hpp"

namespace rfab::coll {

// recv = send (op) the peer's send, through `pair` (a shared-memory pair: a message of at most
// kShmInlineBytes goes whole or not at all). Sends, polls briefly for the peer's message, and hands the rest
// to an Exchange (spin, sleep, abort, dead peer, timeout) if it has not come. The peer may run this or
// allreduce_rd: both put one message of `bytes` on the pair each way. send may equal recv.
void tiny_pair_allreduce(const EngineEnv& env, Pair& pair, int peer, const void* send, void* recv, size_t bytes,
                         size_t elem, ReduceFn fn, std::string_view what);

}  // namespace rfab::coll
