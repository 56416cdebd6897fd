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

std::string format_cpu_list(const std::vector<uint32_t>& cpus) {
  std::string out;
  for (size_t i = 0; i < cpus.size();) {
    size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(cpus[i]);
    if (j > i) out += "-" + std::to_string(cpus[j]);
    i = j + 1;
  }
  return out;
}

std::vector<uint32_t> parse_cpu_list(std::string_view text) {
  std::vector<uint32_t> cpus;
  if (text.empty()) return cpus;
  size_t pos = 0;
  for (;;) {
    const size_t comma = text.find(',', pos);
    const std::string_view item = text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    const size_t dash = item.find('-');
    const auto lo = static_cast<uint32_t>(parse_u64(item.substr(0, dash), "CPU", 0, kMaxCpu - 1));
    const auto hi = dash == std::string_view::npos ? lo
                                                   : static_cast<uint32_t>(parse_u64(item.substr(dash + 1), "CPU", 0, kMaxCpu - 1));
    if (hi < lo) throw ParseError("CPU range '" + std::string(item) + "' is reversed");
    if (!cpus.empty() && lo <= cpus.back())
      throw ParseError("CPU list '" + std::string(text) + "' is not ascending");
    for (uint32_t c = lo; c <= hi; ++c) cpus.push_back(c);
    if (comma == std::string_view::npos) return cpus;
    pos = comma + 1;
  }
}

std::string PeerRecord::encode() const {
  for (const std::string* f : {&host, &machine, &segment})
    if (f->find('\n') != std::string::npos)
      throw Error(Status::InvalidArgument, "rendezvous record field '" + *f + "' contains a newline");
  return host + "\n" + machine + "\n" + std::to_string(pid) + "\n" + segment + "\n" + std::to_string(nranks) + "\n" +
         format_cpu_list(cpus);
}

PeerRecord PeerRecord::decode(const std::string& text, int rank) {
  const std::string who = "malformed rendezvous record of rank " + std::to_string(rank);
  const std::vector<std::string> f = lines(text);
  if (f.size() != 6)
    throw Error(Status::Internal, who + ": expected 6 lines (host, machine, pid, segment, nranks, cpus), got " +
                                      std::to_string(f.size()));
  PeerRecord r;
  r.host = f[0];
  r.machine = f[1];
  r.segment = f[3];
  try {
    r.pid = static_cast<int>(parse_u64(f[2], "pid", 1, 0x7fffffff));
    r.nranks = static_cast<int>(parse_u64(f[4], "nranks", 1, 0x7fffffff));
    r.cpus = parse_cpu_list(f[5]);
  } catch (const ParseError& e) {
    throw Error(Status::Internal, who + ": " + e.what());
  }
  if (r.host.empty() || r.machine.empty() || r.segment.empty())
    throw Error(Status::Internal, who + ": empty host, machine or segment");
  return r;
}

}  // namespace rfab::coll
