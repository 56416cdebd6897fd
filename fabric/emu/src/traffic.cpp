#include "rfab/emu/traffic.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "rfab/base/units.hpp"
#include "rfab/emu/step_traffic.hpp"
#include "rfab/topology/spec.hpp"

namespace rfab::emu {
namespace {

uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// A flow's size. 0 bytes is refused rather than read as "long-lived" (kUnlimited is 0 inside): a flow of
// nothing that never finishes would be a silent wrong answer; long-lived flows are written "inf".
uint64_t bytes_value(const std::string& v, std::string_view what) {
  if (v == "inf" || v == "unlimited") return kUnlimited;
  const uint64_t b = parse_size(v, what);
  if (b == 0) throw_parse_error(what, v, "a flow must carry at least 1 byte (write inf for a long-lived flow)");
  return b;
}

}  // namespace

std::vector<FlowSpec> permutation(uint32_t hosts, uint64_t bytes, uint64_t seed) {
  if (hosts < 2) throw TrafficError("traffic: a permutation needs at least 2 hosts");
  // Random derangement: shuffle, then repair fixed points by swapping with a neighbour (keeps it a
  // permutation and deterministic for a seed).
  std::vector<uint32_t> dst(hosts);
  for (uint32_t i = 0; i < hosts; ++i) dst[i] = i;
  uint64_t s = seed;
  for (uint32_t i = hosts - 1; i > 0; --i) std::swap(dst[i], dst[splitmix(s) % (i + 1)]);
  for (uint32_t i = 0; i < hosts; ++i)
    if (dst[i] == i) std::swap(dst[i], dst[(i + 1) % hosts]);
  std::vector<FlowSpec> flows(hosts);
  for (uint32_t i = 0; i < hosts; ++i) flows[i] = FlowSpec{i, dst[i], bytes, 0, kNoFlow};
  return flows;
}

std::vector<FlowSpec> all_to_all(uint32_t hosts, uint64_t bytes) {
  uint64_t n = uint64_t{hosts} * (hosts - 1);
  if (n > 10'000'000)
    throw TrafficError("traffic: all-to-all on " + std::to_string(hosts) + " hosts is " + std::to_string(n) +
                       " flows (limit 10M); use a smaller topology or a permutation");
  std::vector<FlowSpec> flows;
  flows.reserve(n);
  for (uint32_t s = 0; s < hosts; ++s)
    for (uint32_t k = 1; k < hosts; ++k) flows.push_back(FlowSpec{s, (s + k) % hosts, bytes, 0, kNoFlow});
  return flows;
}

std::vector<FlowSpec> incast(const topo::FatTree& tree, uint32_t senders, uint32_t dst, uint64_t bytes) {
  if (dst >= tree.hosts()) throw TrafficError("traffic: incast dst=" + std::to_string(dst) + " is not a host");
  if (senders == 0 || senders >= tree.hosts())
    throw TrafficError("traffic: incast n=" + std::to_string(senders) + " needs 1..hosts-1 senders");
  // Senders are taken one per leaf (other than the receiver's) before doubling up, so the fan-in happens at
  // the receiver's port rather than at a sender's leaf uplink.
  std::vector<FlowSpec> flows;
  const uint32_t per_leaf = tree.hosts_per_leaf();
  for (uint32_t slot = 0; slot < per_leaf && flows.size() < senders; ++slot) {
    for (uint32_t l = 0; l < tree.leaves() && flows.size() < senders; ++l) {
      uint32_t leaf = (tree.leaf_of(dst) - tree.hosts() + 1 + l) % tree.leaves();
      uint32_t h = tree.host_at(leaf, slot);
      if (h == topo::kNone || h == dst) continue;
      flows.push_back(FlowSpec{h, dst, bytes, 0, kNoFlow});
    }
  }
  if (flows.size() < senders) throw TrafficError("traffic: not enough hosts for incast n=" + std::to_string(senders));
  return flows;
}

std::vector<FlowSpec> ring_allreduce(uint32_t hosts, uint64_t bytes, uint32_t steps) {
  if (hosts < 2) throw TrafficError("traffic: a ring needs at least 2 hosts");
  if (bytes == kUnlimited) throw TrafficError("traffic: ring needs a finite bytes= (the all-reduce size)");
  uint64_t chunk = (bytes + hosts - 1) / hosts;
  uint32_t all = 2 * (hosts - 1);
  if (steps == 0 || steps > all) steps = all;
  if (uint64_t{steps} * hosts > 10'000'000) throw TrafficError("traffic: ring would create more than 10M flows; lower steps=");
  std::vector<FlowSpec> flows;
  flows.reserve(size_t(steps) * hosts);
  for (uint32_t s = 0; s < steps; ++s) {
    for (uint32_t h = 0; h < hosts; ++h) {
      FlowSpec f{h, (h + 1) % hosts, chunk, 0, kNoFlow};
      // Step s at host h forwards what host h received in step s-1 (from its left neighbour).
      if (s > 0) f.after = (s - 1) * hosts + (h + hosts - 1) % hosts;
      flows.push_back(f);
    }
  }
  return flows;
}

std::vector<FlowSpec> parse_matrix(std::string_view text, std::string_view name, uint32_t hosts) {
  if (text.size() > kMaxMatrixBytes)
    throw TrafficError(std::string(name) + ": larger than " + std::to_string(kMaxMatrixBytes >> 20) +
                       " MiB, the limit for a connection matrix");
  std::vector<FlowSpec> flows;
  std::istringstream in{std::string(text)};
  std::string line;
  size_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    auto where = std::string(name) + ":" + std::to_string(lineno) + ": ";
    if (line.size() > kMaxMatrixLineBytes)
      throw TrafficError(where + "line longer than " + std::to_string(kMaxMatrixLineBytes) + " bytes (not a connection matrix?)");
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream ls(line);
    std::vector<std::string> f;
    for (std::string tok; ls >> tok;) f.push_back(tok);
    if (f.empty()) continue;
    if (f.size() != 4)
      throw TrafficError(where + "expected 4 fields 'src dst bytes start_time', got " + std::to_string(f.size()));
    try {
      FlowSpec fs;
      uint64_t src = parse_u64(f[0], "src"), dst = parse_u64(f[1], "dst");
      if (src >= hosts) throw TrafficError("src " + f[0] + " is not a host (0.." + std::to_string(hosts - 1) + ")");
      if (dst >= hosts) throw TrafficError("dst " + f[1] + " is not a host (0.." + std::to_string(hosts - 1) + ")");
      if (src == dst) throw TrafficError("src and dst are the same host " + f[0]);
      fs.src = uint32_t(src);
      fs.dst = uint32_t(dst);
      fs.bytes = bytes_value(f[2], "bytes");
      fs.start = f[3] == "0" ? 0 : parse_duration_ps(f[3], "start_time");
      if (flows.size() == kMaxMatrixFlows)
        throw TrafficError("more than " + std::to_string(kMaxMatrixFlows) + " flows, the limit for a connection matrix");
      flows.push_back(fs);
    } catch (const std::exception& e) {  // TrafficError, or a ParseError from the unit parsers
      throw TrafficError(where + e.what());
    }
  }
  if (flows.empty()) throw TrafficError(std::string(name) + ": no flows");
  return flows;
}

std::vector<FlowSpec> read_matrix(const std::string& path, uint32_t hosts) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw TrafficError(path + ": cannot open connection matrix");
  // Read in chunks and stop at the first bound crossed: a device or a pipe (/dev/zero) has no size to
  // check beforehand, and one endless line must not be buffered whole.
  std::string text;
  std::vector<char> chunk(64 * 1024);
  size_t lines = 1, line_start = 0;
  while (f) {
    f.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    const auto got = static_cast<size_t>(f.gcount());
    if (got == 0) break;
    const size_t from = text.size();
    text.append(chunk.data(), got);
    for (size_t i = from; i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++lines;
        line_start = i + 1;
      }
    }
    if (text.size() - line_start > kMaxMatrixLineBytes)
      throw TrafficError(path + ":" + std::to_string(lines) + ": line longer than " +
                         std::to_string(kMaxMatrixLineBytes) + " bytes (not a connection matrix?)");
    if (text.size() > kMaxMatrixBytes)
      throw TrafficError(path + ": larger than " + std::to_string(kMaxMatrixBytes >> 20) +
                         " MiB, the limit for a connection matrix");
  }
  if (f.bad()) throw TrafficError(path + ": read error");
  return parse_matrix(text, path, hosts);
}

std::vector<FlowSpec> make_traffic(std::string_view spec, const topo::FatTree& tree, uint64_t seed) {
  if (spec.starts_with("file:")) return read_matrix(std::string(spec.substr(5)), tree.hosts());
  topo::KeyValues kv;
  try {
    kv = topo::parse_key_values(spec, "traffic");
  } catch (const topo::TopologyError& e) {
    throw TrafficError(e.what());
  }
  auto take = [&](const char* key, const std::string& def) {
    auto it = kv.values.find(key);
    if (it == kv.values.end()) return def;
    std::string v = it->second;
    kv.values.erase(it);
    return v;
  };
  std::vector<FlowSpec> flows;
  try {
    uint64_t bytes = bytes_value(take("bytes", kv.kind == "ring" ? "64M" : "inf"), "traffic bytes");
    if (kv.kind == "permutation") {
      flows = permutation(tree.hosts(), bytes, seed);
    } else if (kv.kind == "all-to-all" || kv.kind == "alltoall") {
      flows = all_to_all(tree.hosts(), bytes);
    } else if (kv.kind == "incast") {
      const uint64_t last = tree.hosts() - 1;
      const uint64_t n = parse_u64(take("n", "8"), "incast n", 1, std::max<uint64_t>(last, 1));
      const uint64_t dst = parse_u64(take("dst", "0"), "incast dst", 0, last);
      flows = incast(tree, uint32_t(n), uint32_t(dst), bytes);
    } else if (kv.kind == "ring") {
      // Absent: all 2(H-1) steps. An explicit 0 would silently mean the same, and more than 2(H-1) would be
      // cut to it: both refused.
      const uint64_t all = 2 * (uint64_t{tree.hosts()} - 1);
      const uint64_t steps =
          kv.values.count("steps") ? parse_u64(take("steps", "0"), "ring steps", 1, std::max<uint64_t>(all, 1)) : 0;
      flows = ring_allreduce(tree.hosts(), bytes, uint32_t(steps));
    } else {
      throw TrafficError("traffic: unknown pattern '" + kv.kind +
                         "' (use permutation, all-to-all, incast, ring or file:PATH)");
    }
  } catch (const ParseError& e) {  // the unit parsers' errors (and TopologyError, one of them)
    throw TrafficError(e.what());
  }
  if (!kv.values.empty())
    throw TrafficError("traffic: unknown key '" + kv.values.begin()->first + "' for " + kv.kind);
  return flows;
}

Traffic make_any_traffic(std::string_view spec, const topo::FatTree& tree, uint64_t seed) {
  if (spec.starts_with("step:")) return step_traffic(parse_step(spec), tree);
  Traffic t;
  t.flows = make_traffic(spec, tree, seed);
  return t;
}

}  // namespace rfab::emu
