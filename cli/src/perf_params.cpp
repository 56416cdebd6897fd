#include "perf_params.hpp"

#include <algorithm>
#include <map>
#include <random>
#include <sstream>

#include "commands.hpp"

namespace rfab::cli::perf {

std::string encode(const Params& p) {
  std::ostringstream s;
  s << "rfab-perf/1 verb=" << to_string(p.verb) << " size=" << p.size << " iters=" << p.iters
    << " duration=" << p.duration << " qps=" << p.qps << " mtu=" << p.mtu << " spray=" << p.spray
    << " depth=" << p.depth << " slots=" << p.slots << " rx_depth=" << p.rx_depth << " latency=" << p.latency
    << " seed=" << p.seed
    << " recovery=" << (p.recovery == rc::LossRecovery::selective ? "selective" : "go-back-n");
  return s.str();
}

Params decode(const std::string& text) {
  std::istringstream in(text);
  std::string magic;
  in >> magic;
  if (magic != "rfab-perf/1") throw ExitError{2, "the client is not an rfab perf peer of this version ('" + magic + "')"};
  std::map<std::string, std::string> kv;
  for (std::string tok; in >> tok;) {
    const auto eq = tok.find('=');
    if (eq != std::string::npos) kv[tok.substr(0, eq)] = tok.substr(eq + 1);
  }
  auto num = [&](const char* k) -> uint64_t {
    auto it = kv.find(k);
    if (it == kv.end()) throw ExitError{2, std::string("client parameters lack '") + k + "'"};
    try {
      return std::stoull(it->second);
    } catch (const std::exception&) {
      throw ExitError{2, std::string("client parameter '") + k + "' is not a number: '" + it->second + "'"};
    }
  };
  Params p;
  const std::string verb = kv["verb"];
  if (verb == "write") p.verb = Verb::write;
  else if (verb == "read") p.verb = Verb::read;
  else if (verb == "send") p.verb = Verb::send;
  else if (verb == "atomic") p.verb = Verb::atomic;
  else throw ExitError{2, "client asked for unknown verb '" + verb + "'"};
  p.size = num("size");
  p.iters = num("iters");
  try {
    p.duration = std::stod(kv["duration"].empty() ? "0" : kv["duration"]);
  } catch (const std::exception&) {
    throw ExitError{2, "client parameter 'duration' is not a number: '" + kv["duration"] + "'"};
  }
  p.qps = static_cast<uint32_t>(num("qps"));
  p.mtu = static_cast<uint32_t>(num("mtu"));
  p.spray = static_cast<uint32_t>(num("spray"));
  p.depth = static_cast<uint32_t>(num("depth"));
  p.slots = static_cast<uint32_t>(num("slots"));
  p.rx_depth = static_cast<uint32_t>(num("rx_depth"));
  p.latency = num("latency") != 0;
  p.seed = num("seed");
  if (auto it = kv.find("recovery"); it != kv.end()) {
    if (it->second == "selective") p.recovery = rc::LossRecovery::selective;
    else if (it->second != "go-back-n") throw ExitError{2, "client asked for unknown loss recovery '" + it->second + "'"};
  }
  return p;
}

Params from_options(const Options& o) {
  Params p;
  p.verb = o.verb;
  p.size = o.verb == Verb::atomic ? 8 : o.size;
  p.iters = o.iters;
  p.duration = o.duration;
  p.qps = o.qps;
  p.mtu = o.mtu;
  p.spray = o.spray;
  p.depth = o.latency ? 1 : o.tx_depth;
  const uint64_t per = std::max<uint64_t>(1, p.size) * p.qps;
  p.slots = static_cast<uint32_t>(std::clamp<uint64_t>(kPerfMemCap / per, 1, p.depth));
  p.rx_depth = p.slots;
  p.latency = o.latency;
  p.recovery = o.recovery;
  std::random_device rd;
  p.seed = (uint64_t{rd()} << 32) | rd();
  return p;
}

}  // namespace rfab::cli::perf
