#include <nlohmann/json.hpp>

#include "rfab/telemetry/json_lines.hpp"

namespace rfab::telemetry {

std::string render_json_line(const Metrics& m, uint64_t unix_ms) {
  nlohmann::ordered_json metrics = nlohmann::ordered_json::object();
  for (const auto& f : m.families()) {
    auto arr = nlohmann::ordered_json::array();
    for (const auto& s : f.samples) {
      nlohmann::ordered_json labels = nlohmann::ordered_json::object();
      for (const auto& [k, v] : s.labels) labels[k] = v;
      nlohmann::ordered_json o;
      o["labels"] = std::move(labels);
      // Counters are integral: keep them exact in JSON.
      if (s.value >= 0 && s.value < 18446744073709551616.0 && s.value == static_cast<double>(static_cast<uint64_t>(s.value)))
        o["value"] = static_cast<uint64_t>(s.value);
      else
        o["value"] = s.value;
      arr.push_back(std::move(o));
    }
    metrics[f.name] = std::move(arr);
  }
  nlohmann::ordered_json line;
  line["ts_ms"] = unix_ms;
  line["metrics"] = std::move(metrics);
  return line.dump();
}

}  // namespace rfab::telemetry
