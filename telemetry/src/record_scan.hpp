// Reads a records file (records.hpp) line by line as it streams by: each metrics record is checked for the
// shape json_lines.hpp writes and reduced to the sums the gates read, without holding the line or a JSON
// document of it. Memory is bounded whatever the size of a record (a line of a fabric's records holds
// millions of samples). The checks, and the message for a line that fails them, are those of a reader that
// parses the whole line into a JSON document first (the first problem in that reading order is named).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rfab::telemetry {

// The sums of one family over a record's samples, in sample order.
struct FamilySums {
  bool present = false;
  double total = 0;                        // every sample
  double dir[2] = {0, 0};                  // by RFAB_DIR_*: samples labelled dir rx or tx
  std::array<double, 4> rx_class{};        // dir rx and class send / write / read_request / atomic
  double max = 0;                          // the largest value, 0 when none is larger
};

// The request classes whose rx packets rx_class sums, in its order.
inline constexpr std::array<std::string_view, 4> kRequestClasses{"send", "write", "read_request", "atomic"};

// The families the gates read (records.cpp); every other family is checked and skipped.
inline constexpr std::array<std::string_view, 16> kGatedFamilies{
    "rfab_iface_roce_packets_total",  "rfab_iface_roce_bytes_total",       "rfab_roce_opcode_packets_total",
    "rfab_iface_lost_packets_total",  "rfab_iface_psn_late_total",         "rfab_iface_reordered_packets_total",
    "rfab_iface_psn_duplicates_total", "rfab_iface_psn_too_old_total",     "rfab_iface_nak_total",
    "rfab_iface_cnp_total",           "rfab_iface_flow_map_full_total",    "rfab_iface_unsplit_gso_total",
    "rfab_iface_psn_outstanding",     "rfab_roce_reorder_distance_max",    "rfab_roce_reorder_delay_max_seconds",
    "rfab_iface_speed_bps"};

struct RecordSums {
  size_t line = 0;
  uint64_t ts_ms = 0;
  std::optional<uint64_t> ts_ns;
  bool fabric = false;  // "scope":"fabric"
  std::array<FamilySums, kGatedFamilies.size()> families{};
  // The sums of a family of kGatedFamilies (throws std::logic_error for another name).
  const FamilySums& operator[](std::string_view family) const;
};

class RecordScanner {
 public:
  // `name` is the file name in error messages.
  RecordScanner(std::istream& in, std::string name);
  ~RecordScanner();

  // Reads up to the next metrics record, skipping blank lines and events; false at the end of the file.
  // Throws RecordsError naming the file and line for a line that is not a record or an event, or on a
  // read error.
  bool next(RecordSums& out);

 private:
  struct Handler;
  enum class Line { end, blank, object };
  Line read_line();

  std::istream& in_;
  std::string name_;
  std::vector<char> buf_;
  size_t pos_ = 0, len_ = 0;
  size_t line_ = 0;
  std::unique_ptr<Handler> handler_;

  // The next character (EOF at the end of the file), read through buf_: inline, it is called per byte.
  int peek() { return pos_ < len_ ? static_cast<unsigned char>(buf_[pos_]) : refill(); }
  int refill();
  void advance() { ++pos_; }
  friend class LineChars;
};

}  // namespace rfab::telemetry
