// A strict reader of the Prometheus text exposition format (0.0.4), for checking what /metrics serves.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace rfab::test {

struct PromSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// Throws std::runtime_error naming the line when the text is not valid exposition format: every sample
// belongs to a family announced by # TYPE before it, names and labels are well-formed, values parse.
std::vector<PromSample> parse_prometheus(const std::string& text);

// The value of the one sample with this name whose labels include `want`; throws if none or several.
double prom_value(const std::vector<PromSample>& s, const std::string& name,
                  const std::map<std::string, std::string>& want);

}  // namespace rfab::test
