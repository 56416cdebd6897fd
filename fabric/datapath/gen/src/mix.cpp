#include <charconv>

#include "rfab/gen/config.hpp"

namespace rfab::gen {

OpMix parse_mix(std::string_view text) {
  OpMix m{0, 0, 0};
  bool seen_write = false, seen_send = false, seen_read = false;
  if (text.empty()) throw GenError("--mix is empty (e.g. write=70,send=20,read=10)");
  while (!text.empty()) {
    const auto comma = text.find(',');
    const std::string_view part = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    const auto eq = part.find('=');
    if (eq == std::string_view::npos)
      throw GenError("--mix: '" + std::string(part) + "' is not op=weight (ops: write, send, read)");
    const std::string_view op = part.substr(0, eq), w = part.substr(eq + 1);
    uint32_t weight = 0;
    auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), weight);
    if (ec != std::errc{} || end != w.data() + w.size() || w.empty() || weight > 1'000'000)
      throw GenError("--mix: weight '" + std::string(w) + "' of " + std::string(op) +
                     " is not an integer from 0 to 1000000");
    bool* seen = op == "write" ? &seen_write : op == "send" ? &seen_send : op == "read" ? &seen_read : nullptr;
    if (seen == nullptr) throw GenError("--mix: unknown operation '" + std::string(op) + "' (write, send, read)");
    if (*seen) throw GenError("--mix: " + std::string(op) + " is given twice");
    *seen = true;
    (op == "write" ? m.write : op == "send" ? m.send : m.read) = weight;
  }
  if (m.total() == 0) throw GenError("--mix: every weight is 0");
  return m;
}

std::string to_string(const OpMix& m) {
  return "write=" + std::to_string(m.write) + ",send=" + std::to_string(m.send) + ",read=" + std::to_string(m.read);
}

void GenConfig::check() const {
  if (mix.total() == 0) throw GenError("--mix: every weight is 0");
  if (qps == 0 || qps > 65536) throw GenError("--qps must be 1 to 65536");
  if (mtu != 256 && mtu != 512 && mtu != 1024 && mtu != 2048 && mtu != 4096)
    throw GenError("--mtu must be a RoCE MTU: 256, 512, 1024, 2048 or 4096, not " + std::to_string(mtu));
  for (auto [rate, name] : {std::pair{gap_rate, "--gap-rate"}, {ecn_ce_rate, "--ecn-ce-rate"},
                            {cnp_rate, "--cnp-rate"}, {nak_rate, "--nak-rate"}})
    if (!(rate >= 0 && rate < 1)) throw GenError(std::string(name) + " must be at least 0 and below 1");
  if (src_ip.v6 != dst_ip.v6) throw GenError("--src-ip and --dst-ip must both be IPv4 or both IPv6");
  if (uint32_t{sport_base} + qps - 1 > 65535)
    throw GenError("--sport-base " + std::to_string(sport_base) + " + --qps " + std::to_string(qps) +
                   " runs past UDP port 65535");
  if (requester_qpn == 0 || requester_qpn + qps - 1 > 0xFFFFFF || responder_qpn == 0 ||
      responder_qpn + qps - 1 > 0xFFFFFF)
    throw GenError("QP numbers must be 1 .. 0xFFFFFF for every QP (--qpn, --remote-qpn, --qps)");
  if (start_psn > 0xFFFFFF) throw GenError("--start-psn must be below 2^24");
}

}  // namespace rfab::gen
