// Feeds arbitrary bytes to the collectives' rendezvous store as its clients would send them: split over two
// connections of a store with a job id and one without, in chunks (as TCP delivers them), then to the
// record decoder a rank applies to values read from the store (PeerRecord). Checks, besides
// no crash or sanitizer report: a refused connection reads nothing more, and a store with a job id is never
// changed by a connection that did not name it, and a decoded record's CPU list encodes back to itself.
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>

#include "peer_record.hpp"
#include "rfab/collectives/types.hpp"
#include "store_protocol.hpp"

using namespace rfab::coll;
using namespace rfab::coll::store_proto;

namespace {

void drive(const std::string& job, const uint8_t* data, size_t size) {
  StoreState state(job);
  std::map<int, Conn> conns;
  conns[1].fd = 1;
  conns[2].fd = 2;
  size_t pos = 0;
  while (pos < size) {
    // Each chunk: one byte choosing the connection and the chunk length, then the bytes.
    const uint8_t ctl = data[pos++];
    const int fd = 1 + (ctl & 1);
    const size_t len = std::min<size_t>(size - pos, (ctl >> 1) + 1);
    auto it = conns.find(fd);
    if (it == conns.end()) {
      pos += len;
      continue;
    }
    Conn& c = it->second;
    const bool refused_before = c.close_after;
    const size_t keys_before = state.keys();
    c.in.append(reinterpret_cast<const char*>(data + pos), len);
    pos += len;
    try {
      state.feed(c, conns);
    } catch (const std::runtime_error&) {
      state.forget(fd);
      conns.erase(fd);
      continue;
    }
    if (refused_before && state.keys() != keys_before) std::abort();
    if (!job.empty() && !c.greeted && state.keys() != keys_before) std::abort();
    if (c.in.size() > 2 * size_t{kMaxField} + 9 || state.bytes() > kMaxStoreBytes) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  drive("", data, size);
  drive("job", data, size);
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const PeerRecord r = PeerRecord::decode(text, 0);
    if (PeerRecord::decode(r.encode(), 0).cpus != r.cpus) std::abort();  // the CPU list round-trips
  } catch (const Error&) {
  }
  try {
    (void)parse_add_operand(text);
  } catch (const std::runtime_error&) {
  }
  return 0;
}
