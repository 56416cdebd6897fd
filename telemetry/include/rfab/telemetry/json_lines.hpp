// Metrics as one JSON object per line: {"ts_ms":..,"metrics":{"name":[{"labels":{..},"value":v},..]}}.
//
// JsonLineWriter writes such a record sample by sample through a small buffer, so writing a record of
// millions of samples costs no memory proportional to them; render_json_line is the same bytes for a
// Metrics held whole. Numbers and strings are formatted as nlohmann::json's dump() formats them (the
// records' reader and earlier files agree byte for byte): integral values as exact integers.
#pragma once
#include <cstdint>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "rfab/telemetry/metrics.hpp"

namespace rfab::telemetry {

std::string render_json_line(const Metrics& m, uint64_t unix_ms);  // no trailing newline

using LabelView = std::pair<std::string_view, std::string_view>;

class JsonLineWriter {
 public:
  explicit JsonLineWriter(std::ostream& out);
  ~JsonLineWriter();  // flushes what is buffered (call flush() to see a failure: it throws then)
  JsonLineWriter(const JsonLineWriter&) = delete;
  JsonLineWriter& operator=(const JsonLineWriter&) = delete;

  // A record: begin_record, then any further top-level fields, then families and their samples, then
  // end_record (which writes the closing braces and `terminator`).
  void begin_record(uint64_t ts_ms);
  void field(std::string_view key, uint64_t value);
  void field(std::string_view key, std::string_view value);
  // Starts the next family (names must not repeat within a record); its samples follow.
  void family(std::string_view name);
  // A label key given twice keeps its first position and its last value (as a JSON object assigned twice).
  void sample(std::span<const LabelView> labels, double value);
  void end_record(std::string_view terminator = "\n");
  // Hands the buffer to the stream; throws std::runtime_error if the stream has failed.
  void flush();

 private:
  void string(std::string_view s);
  void number(double v);
  void spill();

  std::ostream& out_;
  std::string buf_;
  bool in_metrics_ = false, in_family_ = false, first_sample_ = true;
};

}  // namespace rfab::telemetry
