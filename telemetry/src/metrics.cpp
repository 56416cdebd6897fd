#include "rfab/telemetry/metrics.hpp"

#include <stdexcept>

namespace rfab::telemetry {
namespace {

bool name_ok(const std::string& n, bool allow_colon) {
  if (n.empty()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':');
    bool digit = c >= '0' && c <= '9';
    if (!(alpha || (i > 0 && digit))) return false;
  }
  return true;
}

}  // namespace

void check_metric_name(const std::string& name) {
  if (!name_ok(name, true)) throw std::invalid_argument("invalid metric name '" + name + "'");
}

void check_label_name(const std::string& name) {
  if (!name_ok(name, false) || name.rfind("__", 0) == 0)
    throw std::invalid_argument("invalid label name '" + name + "'");
}

MetricFamily& Metrics::family(const std::string& name, const std::string& help, MetricType type) {
  for (auto& f : families_) {
    if (f.name != name) continue;
    if (f.type != type) throw std::invalid_argument("metric '" + name + "' registered with two types");
    return f;
  }
  check_metric_name(name);
  families_.push_back(MetricFamily{name, help, type, {}});
  return families_.back();
}

void Metrics::add(const std::string& name, const std::string& help, MetricType type, Labels labels,
                  double value) {
  for (const auto& [k, v] : labels) check_label_name(k);
  family(name, help, type).samples.push_back(Sample{std::move(labels), value});
}

const MetricFamily* Metrics::find(const std::string& name) const {
  for (const auto& f : families_)
    if (f.name == name) return &f;
  return nullptr;
}

}  // namespace rfab::telemetry
