// The metrics model every source feeds (eBPF flows, RNIC counters, netdev statistics) and every exporter
// reads (Prometheus text, JSON lines). Names and labels follow Prometheus conventions.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace rfab::telemetry {

using Labels = std::vector<std::pair<std::string, std::string>>;

struct Sample {
  Labels labels;
  double value = 0;
};

enum class MetricType { counter, gauge };

struct MetricFamily {
  std::string name;  // e.g. rfab_roce_packets_total
  std::string help;
  MetricType type = MetricType::counter;
  std::vector<Sample> samples;
};

class Metrics {
 public:
  // Returns the family with this name, creating it (name, help and type must be consistent).
  MetricFamily& family(const std::string& name, const std::string& help, MetricType type);
  void add(const std::string& name, const std::string& help, MetricType type, Labels labels, double value);
  const std::vector<MetricFamily>& families() const { return families_; }
  const MetricFamily* find(const std::string& name) const;

 private:
  std::vector<MetricFamily> families_;
};

// Throws std::invalid_argument unless `name` matches [a-zA-Z_:][a-zA-Z0-9_:]* (labels: no colon).
void check_metric_name(const std::string& name);
void check_label_name(const std::string& name);

}  // namespace rfab::telemetry
