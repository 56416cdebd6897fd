#include "rfab/telemetry/json_lines.hpp"

#include <charconv>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace rfab::telemetry {
namespace {

constexpr size_t kBufferBytes = 1 << 16;

// Bytes nlohmann::json's dump() writes as they are (no escape, no UTF-8 check needed).
bool plain(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') return false;
  return true;
}

}  // namespace

JsonLineWriter::JsonLineWriter(std::ostream& out) : out_(out) { buf_.reserve(kBufferBytes + 4096); }

JsonLineWriter::~JsonLineWriter() {
  if (!buf_.empty()) out_.write(buf_.data(), static_cast<std::streamsize>(buf_.size()));
}

void JsonLineWriter::spill() {
  if (buf_.size() >= kBufferBytes) flush();
}

void JsonLineWriter::flush() {
  out_.write(buf_.data(), static_cast<std::streamsize>(buf_.size()));
  buf_.clear();
  if (!out_) throw std::runtime_error("writing the JSON-lines records failed");
}

void JsonLineWriter::string(std::string_view s) {
  if (plain(s)) {
    buf_ += '"';
    buf_ += s;
    buf_ += '"';
  } else {
    buf_ += nlohmann::json(std::string(s)).dump();  // its escapes and its UTF-8 check, exactly
  }
}

void JsonLineWriter::number(double v) {
  // Counters are integral: keep them exact in JSON.
  if (v >= 0 && v < 18446744073709551616.0 && v == static_cast<double>(static_cast<uint64_t>(v))) {
    char b[24];
    buf_.append(b, std::to_chars(b, b + sizeof b, static_cast<uint64_t>(v)).ptr);
  } else {
    buf_ += nlohmann::json(v).dump();
  }
}

void JsonLineWriter::begin_record(uint64_t ts_ms) {
  in_metrics_ = in_family_ = false;
  buf_ += "{\"ts_ms\":";
  char b[24];
  buf_.append(b, std::to_chars(b, b + sizeof b, ts_ms).ptr);
}

void JsonLineWriter::field(std::string_view key, uint64_t value) {
  buf_ += ',';
  string(key);
  buf_ += ':';
  char b[24];
  buf_.append(b, std::to_chars(b, b + sizeof b, value).ptr);
}

void JsonLineWriter::field(std::string_view key, std::string_view value) {
  buf_ += ',';
  string(key);
  buf_ += ':';
  string(value);
}

void JsonLineWriter::family(std::string_view name) {
  if (in_family_) buf_ += "],";
  else if (!in_metrics_) buf_ += ",\"metrics\":{";
  in_metrics_ = in_family_ = true;
  first_sample_ = true;
  string(name);
  buf_ += ":[";
}

void JsonLineWriter::sample(std::span<const LabelView> labels, double value) {
  if (!in_family_) throw std::logic_error("JsonLineWriter: a sample outside a family");
  buf_ += first_sample_ ? "{\"labels\":{" : ",{\"labels\":{";
  first_sample_ = false;
  bool first_label = true;
  for (size_t i = 0; i < labels.size(); ++i) {
    bool repeated = false;
    for (size_t j = 0; j < i && !repeated; ++j) repeated = labels[j].first == labels[i].first;
    if (repeated) continue;
    std::string_view v = labels[i].second;
    for (size_t j = i + 1; j < labels.size(); ++j)
      if (labels[j].first == labels[i].first) v = labels[j].second;
    if (!first_label) buf_ += ',';
    first_label = false;
    string(labels[i].first);
    buf_ += ':';
    string(v);
  }
  buf_ += "},\"value\":";
  number(value);
  buf_ += '}';
  spill();
}

void JsonLineWriter::end_record(std::string_view terminator) {
  buf_ += in_family_ ? "]}}" : in_metrics_ ? "}}" : ",\"metrics\":{}}";
  buf_ += terminator;
  in_metrics_ = in_family_ = false;
  spill();
}

std::string render_json_line(const Metrics& m, uint64_t unix_ms) {
  std::ostringstream out;
  {
    JsonLineWriter w(out);
    w.begin_record(unix_ms);
    std::vector<LabelView> labels;
    for (const auto& f : m.families()) {
      w.family(f.name);
      for (const auto& s : f.samples) {
        labels.assign(s.labels.begin(), s.labels.end());
        w.sample(labels, s.value);
      }
    }
    w.end_record("");
    w.flush();
  }
  return out.str();
}

}  // namespace rfab::telemetry
