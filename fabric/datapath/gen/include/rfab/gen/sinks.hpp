// Where generated frames go: a FramePort (a DPDK ethdev, AF_XDP sockets) or a pcap file.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "rfab/frame/frame_port.hpp"

namespace rfab::gen {

class FrameSink {
 public:
  virtual ~FrameSink() = default;
  virtual std::string describe() const = 0;
  // A buffer for the next frame; empty when none is free right now (flush, then try again).
  virtual std::span<uint8_t> slot() = 0;
  virtual void commit(size_t len) = 0;
  virtual void flush() = 0;
  // Frames committed that the device has not taken yet.
  virtual bool pending() const = 0;
  // Finishes the output (a pcap file is synced and closed); throws on failure.
  virtual void close() = 0;
  virtual std::vector<std::pair<std::string, uint64_t>> counters() const = 0;
};

// Frames on a port (the port's MAC is not used: the generator writes the source MAC it was given).
std::unique_ptr<FrameSink> port_sink(std::unique_ptr<frame::FramePort> port);
// Frames into an Ethernet pcap file, time-stamped when committed. Throws std::runtime_error naming the file.
std::unique_ptr<FrameSink> pcap_sink(const std::string& path, size_t max_frame);

}  // namespace rfab::gen
