#include "rfab/telemetry/events.hpp"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "rfab/telemetry/addr.hpp"

namespace rfab::telemetry {

std::string event_json(const Event& e, const std::string& iface) {
  const auto& r = e.raw;
  nlohmann::ordered_json j;
  j["event"] = event_type_name(r.type);
  j["iface"] = iface;
  j["dir"] = dir_name(r.key.dir);
  j["src"] = format_addr(r.key.src, r.key.family);
  j["dst"] = format_addr(r.key.dst, r.key.family);
  j["qp"] = r.key.qp;
  j["psn"] = r.psn;
  j["ktime_ns"] = r.ts_ns;
  switch (r.type) {
    case RFAB_EV_NAK: j["syndrome"] = r.value; break;
    case RFAB_EV_PSN_LOST: j["expected_psn"] = r.expected_psn; j["lost"] = r.value; break;
    case RFAB_EV_CNP_BURST: j["cnps_in_window"] = r.value; break;
    default: j["value"] = r.value;
  }
  return j.dump();
}

std::string event_text(const Event& e) {
  const auto& r = e.raw;
  std::string s = std::string(event_type_name(r.type)) + " " + dir_name(r.key.dir) + " " +
                  format_addr(r.key.src, r.key.family) + " > " + format_addr(r.key.dst, r.key.family) +
                  " qp " + std::to_string(r.key.qp) + " psn " + std::to_string(r.psn);
  switch (r.type) {
    case RFAB_EV_NAK: s += " syndrome 0x" + [&] { char b[8]; std::snprintf(b, sizeof b, "%02x", r.value); return std::string(b); }(); break;
    case RFAB_EV_PSN_LOST: s += " expected " + std::to_string(r.expected_psn) + " lost " + std::to_string(r.value); break;
    case RFAB_EV_CNP_BURST: s += " cnps " + std::to_string(r.value); break;
    default: break;
  }
  return s;
}

}  // namespace rfab::telemetry
