// Text exposition format 0.0.4: HELP and TYPE lines, then one line per sample.
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "rfab/telemetry/prometheus.hpp"

namespace rfab::telemetry {
namespace {

void escape(std::string& out, const std::string& s, bool quote_too) {
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (quote_too && c == '"') out += "\\\"";
    else out += c;
  }
}

void value(std::string& out, double v) {
  if (std::isnan(v)) { out += "NaN"; return; }
  if (std::isinf(v)) { out += v > 0 ? "+Inf" : "-Inf"; return; }
  char buf[64];
  // Integers (counters) print exactly up to 2^53; others with full precision.
  if (v == std::floor(v) && std::fabs(v) < 9007199254740992.0)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%.17g", v);
  out += buf;
}

}  // namespace

std::string render_prometheus(const Metrics& m) {
  std::string out;
  for (const auto& f : m.families()) {
    out += "# HELP " + f.name + " ";
    escape(out, f.help, false);
    out += "\n# TYPE " + f.name + (f.type == MetricType::counter ? " counter\n" : " gauge\n");
    for (const auto& s : f.samples) {
      out += f.name;
      if (!s.labels.empty()) {
        out += '{';
        for (size_t i = 0; i < s.labels.size(); ++i) {
          if (i) out += ',';
          out += s.labels[i].first + "=\"";
          escape(out, s.labels[i].second, true);
          out += '"';
        }
        out += '}';
      }
      out += ' ';
      value(out, s.value);
      out += '\n';
    }
  }
  return out;
}

std::pair<std::string, uint16_t> parse_listen_address(const std::string& s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == s.size())
    throw std::invalid_argument("listen address '" + s + "' is not HOST:PORT (e.g. 127.0.0.1:9464)");
  std::string host = s.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned long port = 0;
  for (size_t i = colon + 1; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') throw std::invalid_argument("port in '" + s + "' is not a number");
    port = port * 10 + static_cast<unsigned long>(s[i] - '0');
    if (port > 65535) throw std::invalid_argument("port in '" + s + "' is above 65535");
  }
  return {host, static_cast<uint16_t>(port)};
}

}  // namespace rfab::telemetry
