#include "peer_record.hpp"

#include <vector>

#include "rfab/base/units.hpp"
#include "rfab/collectives/types.hpp"

namespace rfab::coll {
namespace {

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  for (;;) {
    const size_t n = s.find('\n', pos);
    out.push_back(s.substr(pos, n == std::string::npos ? std::string::npos : n - pos));
    if (n == std::string::npos) return out;
    pos = n + 1;
  }
}

}  // namespace

std::string PeerRecord::encode() const {
  for (const std::string* f : {&host, &machine, &segment})
    if (f->find('\n') != std::string::npos)
      throw Error(Status::InvalidArgument, "rendezvous record field '" + *f + "' contains a newline");
  return host + "\n" + machine + "\n" + std::to_string(pid) + "\n" + segment + "\n" + std::to_string(nranks);
}

PeerRecord PeerRecord::decode(const std::string& text, int rank) {
  const std::string who = "malformed rendezvous record of rank " + std::to_string(rank);
  const std::vector<std::string> f = lines(text);
  if (f.size() != 5)
    throw Error(Status::Internal, who + ": expected 5 lines (host, machine, pid, segment, nranks), got " +
                                      std::to_string(f.size()));
  PeerRecord r;
  r.host = f[0];
  r.machine = f[1];
  r.segment = f[3];
  try {
    r.pid = static_cast<int>(parse_u64(f[2], "pid", 1, 0x7fffffff));
    r.nranks = static_cast<int>(parse_u64(f[4], "nranks", 1, 0x7fffffff));
  } catch (const ParseError& e) {
    throw Error(Status::Internal, who + ": " + e.what());
  }
  if (r.host.empty() || r.machine.empty() || r.segment.empty())
    throw Error(Status::Internal, who + ": empty host, machine or segment");
  return r;
}

}  // namespace rfab::coll
