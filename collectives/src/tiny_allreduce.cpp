#include "tiny_allreduce.hpp"

#include <immintrin.h>

#include <string>

#include "rfab/collectives/shm_transport.hpp"

namespace rfab::coll {

namespace {
// Polls of the peer's message before the general engine takes over: a peer already in its call answers
// within a few cross-core line transfers; a later one is waited for by the engine, which can sleep.
constexpr int kPolls = 256;
}  // namespace

void tiny_pair_allreduce(const EngineEnv& env, Pair& pair, int peer, const void* send, void* recv, size_t bytes,
                         size_t elem, ReduceFn fn, std::string_view what) {
  if (bytes > kShmInlineBytes) throw Error(Status::Internal, std::string(what) + ": tiny allreduce of " +
                                                               std::to_string(bytes) + " bytes");
  const auto* src = static_cast<const std::byte*>(send);
  auto* dst = static_cast<std::byte*>(recv);
  pair.begin_send_msg(bytes);
  const bool sent = pair.try_send(src, bytes, elem) == bytes;  // inline: all of it, or nothing yet
  pair.begin_recv_msg(bytes);
  if (sent) {
    for (int i = 0; i < kPolls; ++i) {
      const auto view = pair.readable();
      if (view.size() >= bytes) {  // an inline message is readable whole once all its lines are there
        fn(dst, src, view.data(), bytes / elem);
        pair.consume(bytes);
        return;
      }
      _mm_pause();
    }
  }
  // Beginning a message again before any of it moved leaves the pair as it is, so the engine carries on
  // from here. The reduction waits for the send (gate) when send == recv.
  Exchange x(env, std::string(what), elem, fn);
  const int s = sent ? -1 : x.send(peer, src, bytes);
  x.recv_reduce(peer, src, dst, bytes, s);
  x.run();
}

}  // namespace rfab::coll
