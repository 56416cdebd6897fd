// pcap/pcapng files through libpcap: a reader that hands out frames positioned at their IP header (for
// Ethernet, raw IP and Linux cooked captures alike) and a writer for Ethernet captures.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "rfab/wire/packet.hpp"

namespace rfab::pcap {

struct Record {
  uint64_t time_ns = 0;                // capture timestamp
  std::span<const uint8_t> data;       // captured bytes (valid until the next read)
  uint32_t wire_len = 0;               // original length on the wire
  wire::LinkType link = wire::LinkType::ethernet;
  size_t l2_skip = 0;                  // bytes before `data` can be decoded as `link`
};

class Reader {
 public:
  // Throws std::runtime_error naming the file and libpcap's reason.
  explicit Reader(const std::string& path);
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // False at end of file. Throws on a read error (truncated file).
  bool next(Record& out);
  // Keep only frames matching a tcpdump/libpcap filter expression. Throws on a bad expression.
  void set_filter(const std::string& expression);
  int datalink() const { return dlt_; }
  std::string datalink_name() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int dlt_ = 0;
};

class Writer {
 public:
  // Ethernet (DLT_EN10MB) capture with nanosecond timestamps. Every call throws std::runtime_error naming
  // the file on failure (a full disk included); call close() to learn whether the file is complete.
  explicit Writer(const std::string& path);
  ~Writer();  // closes without reporting: call close() first
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;
  void write(uint64_t time_ns, std::span<const uint8_t> frame);
  void flush();
  void close();  // flushes, syncs and closes; throws if any of it failed

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rfab::pcap
