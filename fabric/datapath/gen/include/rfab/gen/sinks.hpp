// Where generated frames go: a FramePort (a DPDK ethdev, AF_XDP sockets) or a pcap file. Frames are written
// a burst at a time: buffers for several frames reserved in one call, the frames built straight into them,
// and handed over in one call, so the sink's cost is paid per burst where the output allows it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
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
  // The port's own MAC address (the default source address of the frames); none for a file.
  virtual std::optional<frame::Mac> mac() const { return std::nullopt; }
  // Bytes every reserved buffer holds.
  virtual size_t frame_room() const = 0;
  // True when nothing but the caller ever writes into the buffers: a buffer reserved again still holds
  // what the caller last wrote into it (so a frame like the last one there needs only its differences).
  virtual bool keeps_frames() const { return false; }
  // Buffers of frame_room() bytes for the next frames, up to bufs.size() of them: how many (0 when none is
  // free right now: flush, then try again; a sink may give fewer than asked, e.g. one at a time).
  virtual size_t reserve(std::span<uint8_t*> bufs) = 0;
  // The first lens.size() buffers of the last reservation hold frames of these lengths: they go out (a
  // port's at the next flush); the rest of the reservation is given back.
  virtual void commit(std::span<const uint32_t> lens) = 0;
  virtual void flush() = 0;
  // Frames committed that the device has not taken yet.
  virtual bool pending() const = 0;
  // Finishes the output (a pcap file is synced and closed); throws on failure.
  virtual void close() = 0;
  virtual std::vector<std::pair<std::string, uint64_t>> counters() const = 0;
};

// Frames on a port, one reserved buffer at a time (the FramePort's tx_slot); the port's MAC is only the
// default source address: the generator writes the source MAC it was given.
std::unique_ptr<FrameSink> port_sink(std::unique_ptr<frame::FramePort> port);
// Frames into an Ethernet pcap file, time-stamped when committed. Throws std::runtime_error naming the file.
std::unique_ptr<FrameSink> pcap_sink(const std::string& path, size_t max_frame);

}  // namespace rfab::gen
