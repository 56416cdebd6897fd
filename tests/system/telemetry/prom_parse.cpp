#include "prom_parse.hpp"

#include <cstdlib>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>

namespace rfab::test {

std::vector<PromSample> parse_prometheus(const std::string& text) {
  static const std::regex help(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*$)");
  static const std::regex type(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$)");
  static const std::regex sample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? ([^ ]+)( -?[0-9]+)?$)");
  static const std::regex label(R"(^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)\"(,|$))");
  std::vector<PromSample> out;
  std::set<std::string> typed;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  auto bad = [&](const std::string& why) {
    throw std::runtime_error("exposition line " + std::to_string(n) + ": " + why + ": '" + line + "'");
  };
  if (!text.empty() && text.back() != '\n') throw std::runtime_error("exposition text does not end in a newline");
  while (std::getline(in, line)) {
    ++n;
    std::smatch m;
    if (line.empty()) continue;
    if (line.rfind("# HELP ", 0) == 0) {
      if (!std::regex_match(line, m, help)) bad("malformed HELP");
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      if (!std::regex_match(line, m, type)) bad("malformed TYPE");
      if (!typed.insert(m[1]).second) bad("family typed twice");
      continue;
    }
    if (line[0] == '#') continue;
    if (!std::regex_match(line, m, sample)) bad("malformed sample");
    PromSample s;
    s.name = m[1];
    if (!typed.count(s.name)) bad("sample before its # TYPE");
    std::string labels = m[3];
    while (!labels.empty()) {
      std::smatch lm;
      if (!std::regex_search(labels, lm, label)) bad("malformed label set");
      if (!s.labels.emplace(lm[1], lm[2]).second) bad("duplicate label");
      labels = lm.suffix();
    }
    std::string v = m[4];
    char* end = nullptr;
    s.value = std::strtod(v.c_str(), &end);
    if (v != "NaN" && v != "+Inf" && v != "-Inf" && (end == v.c_str() || *end)) bad("value is not a number");
    out.push_back(std::move(s));
  }
  return out;
}

double prom_value(const std::vector<PromSample>& s, const std::string& name,
                  const std::map<std::string, std::string>& want) {
  const PromSample* hit = nullptr;
  for (const auto& x : s) {
    if (x.name != name) continue;
    bool ok = true;
    for (const auto& [k, v] : want) {
      auto it = x.labels.find(k);
      ok = ok && it != x.labels.end() && it->second == v;
    }
    if (!ok) continue;
    if (hit) throw std::runtime_error("several samples of " + name + " match");
    hit = &x;
  }
  if (!hit) throw std::runtime_error("no sample of " + name + " matches");
  return hit->value;
}

}  // namespace rfab::test
