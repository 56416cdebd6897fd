#include "record_scan.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "rfab/telemetry/addr.hpp"
#include "rfab/telemetry/bpf_types.h"
#include "rfab/telemetry/records.hpp"

namespace rfab::telemetry {

// The characters of the current line as an input iterator for nlohmann's parser: it ends before the
// line's '\n' (or at the end of the file), so the parser reads one line and stops there.
class LineChars {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = char;

  LineChars() = default;  // the end of the line
  explicit LineChars(RecordScanner* s) : s_(s) {}
  char operator*() const { return static_cast<char>(s_->peek()); }
  LineChars& operator++() {
    s_->advance();
    return *this;
  }
  LineChars operator++(int) {
    LineChars old = *this;
    s_->advance();
    return old;
  }
  bool operator==(const LineChars& o) const { return at_end() == o.at_end(); }

 private:
  bool at_end() const {
    if (!s_) return true;
    const int c = s_->peek();
    return c == '\n' || c == EOF;
  }
  RecordScanner* s_ = nullptr;
};

namespace {

constexpr size_t kReadBytes = 1 << 20;

}  // namespace

const FamilySums& RecordSums::operator[](std::string_view family) const {
  for (size_t i = 0; i < kGatedFamilies.size(); ++i)
    if (kGatedFamilies[i] == family) return families[i];
  throw std::logic_error("not a gated family: " + std::string(family));
}

// nlohmann's SAX interface over one line: follows where in the record each value sits, sums the samples of
// the gated families, and keeps the first problem of each kind so the line's message can be chosen once
// the whole line has parsed (a line that is not JSON is "not JSON" whatever else is wrong with it).
struct RecordScanner::Handler {
  using json = nlohmann::json;
  enum class Frame { top, metrics, family, sample, labels, skip };
  enum class TopKey { ts_ms, ts_ns, scope, event, metrics, other };
  enum class SampleKey { labels, value, other };
  enum class Field { missing, ok, bad };
  enum class Value { string, unsigned_number, other_number, other_scalar, object, array };

  // --- per line ---
  std::vector<Frame> frames;
  bool not_object = false;
  TopKey top_key = TopKey::other;
  Field ts_ms = Field::missing, ts_ns = Field::missing, scope = Field::missing;
  uint64_t ts_ms_value = 0, ts_ns_value = 0;
  bool event = false, event_string = false;
  bool metrics = false, metrics_object = false;
  std::map<std::string, std::string> family_errors;  // family -> its first problem (only bad families)
  RecordSums sums;
  // --- the family being read ---
  std::string family;
  FamilySums* gated = nullptr;  // its sums, when the gates read it
  // --- the sample being read ---
  SampleKey sample_key = SampleKey::other;
  bool labels_seen = false, labels_object = false;
  bool value_number = false;
  double value = 0;
  int dir = -1;     // RFAB_DIR_* of its "dir" label, -1: none or another
  int cls = -1;     // index in kRequestClasses of its "class" label, -1: none or another
  std::string label_key;
  std::vector<std::string> bad_labels;  // label keys whose (last) value is not a string

  void reset() {
    frames.clear();
    not_object = false;
    top_key = TopKey::other;
    ts_ms = ts_ns = scope = Field::missing;
    event = event_string = false;
    metrics = metrics_object = false;
    family_errors.clear();
    sums = RecordSums{};
  }

  void family_error(const std::string& what) { family_errors.emplace(family, what); }  // keeps the first

  // A value (or the start of a container) at the current place in the record.
  bool value_at(Value v, std::string_view text = {}, uint64_t u = 0, double number = 0) {
    const bool container = v == Value::object || v == Value::array;
    Frame next = Frame::skip;
    if (frames.empty()) {
      if (v == Value::object) next = Frame::top;
      else not_object = true;
    } else {
      switch (frames.back()) {
        case Frame::top:
          switch (top_key) {
            case TopKey::ts_ms:
              ts_ms = v == Value::unsigned_number ? Field::ok : Field::bad;
              ts_ms_value = u;
              break;
            case TopKey::ts_ns:
              ts_ns = v == Value::unsigned_number ? Field::ok : Field::bad;
              ts_ns_value = u;
              break;
            case TopKey::scope: scope = v == Value::string && text == "fabric" ? Field::ok : Field::bad; break;
            case TopKey::event:
              event = true;
              event_string = v == Value::string;
              break;
            case TopKey::metrics:  // given twice, the last one is the record's
              metrics = true;
              metrics_object = v == Value::object;
              family_errors.clear();
              sums.families = {};
              if (metrics_object) next = Frame::metrics;
              break;
            case TopKey::other: break;
          }
          break;
        case Frame::metrics:
          if (v == Value::array) next = Frame::family;
          else family_error("metric " + family + " is not an array of samples");
          break;
        case Frame::family:
          if (v == Value::object) {
            next = Frame::sample;
            sample_key = SampleKey::other;
            labels_seen = labels_object = value_number = false;
            dir = cls = -1;
            bad_labels.clear();
          } else {
            family_error("a sample of " + family + " is not an object");
          }
          break;
        case Frame::sample:
          if (sample_key == SampleKey::labels) {  // given twice, the last one is the sample's
            labels_seen = true;
            labels_object = v == Value::object;
            dir = cls = -1;
            bad_labels.clear();
            if (labels_object) next = Frame::labels;
          } else if (sample_key == SampleKey::value) {
            value_number = v == Value::unsigned_number || v == Value::other_number;
            value = number;
          }
          break;
        case Frame::labels: label(v, text); break;
        case Frame::skip: break;
      }
    }
    if (container) frames.push_back(next);
    return true;
  }

  void label(Value v, std::string_view text) {
    const auto bad = std::find(bad_labels.begin(), bad_labels.end(), label_key);
    if (v != Value::string) {
      if (bad == bad_labels.end()) bad_labels.push_back(label_key);
      if (label_key == "dir") dir = -1;
      if (label_key == "class") cls = -1;
      return;
    }
    if (bad != bad_labels.end()) bad_labels.erase(bad);
    if (label_key == "dir") dir = text == dir_name(RFAB_DIR_INGRESS) ? RFAB_DIR_INGRESS
                                  : text == dir_name(RFAB_DIR_EGRESS) ? RFAB_DIR_EGRESS : -1;
    if (label_key == "class") {
      cls = -1;
      for (size_t i = 0; i < kRequestClasses.size(); ++i)
        if (text == kRequestClasses[i]) cls = static_cast<int>(i);
    }
  }

  // A sample read whole: its first problem, or its value into the family's sums.
  void end_sample() {
    if (family_errors.count(family)) return;  // only a family's first problem is named
    if (!labels_seen || !labels_object) return family_error("a sample of " + family + " has no \"labels\" object");
    if (!bad_labels.empty())
      return family_error("label " + *std::min_element(bad_labels.begin(), bad_labels.end()) + " of " + family +
                          " is not a string");
    if (!value_number) return family_error("a sample of " + family + " has no numeric \"value\"");
    if (!std::isfinite(value)) return family_error("a sample of " + family + " is not finite");
    if (!gated) return;
    gated->total += value;
    if (dir >= 0) gated->dir[dir] += value;
    if (dir == RFAB_DIR_INGRESS && cls >= 0) gated->rx_class[cls] += value;
    gated->max = std::max(gated->max, value);
  }

  // nlohmann's SAX interface.
  bool null() { return value_at(Value::other_scalar); }
  bool boolean(bool) { return value_at(Value::other_scalar); }
  bool number_integer(json::number_integer_t v) { return value_at(Value::other_number, {}, 0, double(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return value_at(Value::unsigned_number, {}, v, double(v)); }
  bool number_float(json::number_float_t v, const std::string&) { return value_at(Value::other_number, {}, 0, v); }
  bool string(std::string& s) { return value_at(Value::string, s); }
  bool binary(json::binary_t&) { return value_at(Value::other_scalar); }
  bool start_object(size_t) { return value_at(Value::object); }
  bool start_array(size_t) { return value_at(Value::array); }
  bool end_array() {
    frames.pop_back();
    return true;
  }
  bool end_object() {
    const Frame f = frames.back();
    frames.pop_back();
    if (f == Frame::sample) end_sample();
    return true;
  }
  bool key(std::string& k) {
    switch (frames.back()) {
      case Frame::top:
        top_key = k == "ts_ms"     ? TopKey::ts_ms
                  : k == "ts_ns"   ? TopKey::ts_ns
                  : k == "scope"   ? TopKey::scope
                  : k == "event"   ? TopKey::event
                  : k == "metrics" ? TopKey::metrics
                                   : TopKey::other;
        break;
      case Frame::metrics: {  // a family given twice: the last one is the record's
        family = k;
        family_errors.erase(family);
        gated = nullptr;
        for (size_t i = 0; i < kGatedFamilies.size(); ++i)
          if (kGatedFamilies[i] == k) gated = &sums.families[i];
        if (gated) *gated = FamilySums{.present = true};
        break;
      }
      case Frame::sample:
        sample_key = k == "labels" ? SampleKey::labels : k == "value" ? SampleKey::value : SampleKey::other;
        break;
      case Frame::labels: label_key = k; break;
      default: break;
    }
    return true;
  }
  bool parse_error(size_t, const std::string&, const nlohmann::detail::exception&) { return false; }
};

RecordScanner::RecordScanner(std::istream& in, std::string name)
    : in_(in), name_(std::move(name)), buf_(kReadBytes), handler_(std::make_unique<Handler>()) {}

RecordScanner::~RecordScanner() = default;

int RecordScanner::refill() {
  if (!in_) return EOF;
  in_.read(buf_.data(), static_cast<std::streamsize>(buf_.size()));
  len_ = static_cast<size_t>(in_.gcount());
  pos_ = 0;
  if (in_.bad()) throw RecordsError(name_ + ": read error: " + std::strerror(errno));
  return len_ ? static_cast<unsigned char>(buf_[0]) : EOF;
}

namespace {

[[noreturn]] void fail(const std::string& name, size_t line, const std::string& what) {
  throw RecordsError(name + ":" + std::to_string(line) + ": " + what);
}

}  // namespace

// One line, parsed: its record (or event) is in the handler. Throws for a line that is not a JSON object.
RecordScanner::Line RecordScanner::read_line() {
  if (peek() == EOF) return Line::end;
  ++line_;
  Handler& h = *handler_;
  h.reset();
  int c = peek();
  while (c == ' ' || c == '\t' || c == '\r') {
    advance();
    c = peek();
  }
  const bool blank = c == '\n' || c == EOF;
  const bool parsed = blank || nlohmann::json::sax_parse(LineChars(this), LineChars(), &h);
  // The rest of the line (what follows a parse error) and its '\n'.
  for (c = peek(); c != '\n' && c != EOF; c = peek()) advance();
  if (c == '\n') advance();
  if (blank) return Line::blank;
  if (!parsed) fail(name_, line_, "not JSON");
  if (h.not_object) fail(name_, line_, "not a JSON object");
  return Line::object;
}

bool RecordScanner::next(RecordSums& out) {
  const Handler& h = *handler_;
  for (Line l = read_line(); l != Line::end; l = read_line()) {
    if (l == Line::blank) continue;
    if (h.event) {  // the collector's events: notable moments, not counters
      if (!h.event_string) fail(name_, line_, "\"event\" is not a string");
      continue;
    }
    if (!h.metrics) fail(name_, line_, "neither a metrics record (\"metrics\") nor an event (\"event\")");
    if (h.ts_ms == Handler::Field::missing) fail(name_, line_, "missing field \"ts_ms\"");
    if (h.ts_ms == Handler::Field::bad) fail(name_, line_, "\"ts_ms\" is not a non-negative integer");
    if (h.ts_ns == Handler::Field::bad) fail(name_, line_, "\"ts_ns\" is not a non-negative integer");
    if (h.scope == Handler::Field::bad) fail(name_, line_, "\"scope\" is not \"fabric\"");
    if (!h.metrics_object) fail(name_, line_, "\"metrics\" is not an object");
    if (!h.family_errors.empty()) fail(name_, line_, h.family_errors.begin()->second);  // the first family by name
    out = h.sums;
    out.line = line_;
    out.ts_ms = h.ts_ms_value;
    if (h.ts_ns == Handler::Field::ok) out.ts_ns = h.ts_ns_value;
    else out.ts_ns.reset();
    out.fabric = h.scope == Handler::Field::ok;
    return true;
  }
  return false;
}

}  // namespace rfab::telemetry
