#include "rfab/gen/sinks.hpp"

#include <algorithm>
#include <chrono>

#include "rfab/pcap/pcap_file.hpp"

namespace rfab::gen {
namespace {

// A FramePort hands out one transmit buffer at a time (the same one until it is committed).
class PortSink final : public FrameSink {
 public:
  explicit PortSink(std::unique_ptr<frame::FramePort> p) : port_(std::move(p)) {}
  std::string describe() const override { return port_->describe(); }
  std::optional<frame::Mac> mac() const override { return port_->mac(); }
  size_t frame_room() const override { return port_->max_frame(); }
  size_t reserve(std::span<uint8_t*> bufs) override {
    if (bufs.empty()) return 0;
    const std::span<uint8_t> slot = port_->tx_slot();
    if (slot.empty()) return 0;
    bufs[0] = slot.data();
    return 1;
  }
  void commit(std::span<const uint32_t> lens) override {
    if (!lens.empty()) port_->tx_commit(lens[0]);
  }
  void flush() override { port_->tx_flush(); }
  bool pending() const override { return port_->tx_pending(); }
  void close() override {}
  std::vector<std::pair<std::string, uint64_t>> counters() const override { return port_->counters(); }

 private:
  std::unique_ptr<frame::FramePort> port_;
};

class PcapSink final : public FrameSink {
 public:
  PcapSink(const std::string& path, size_t max_frame)
      : path_(path), writer_(path), room_(max_frame), buf_(max_frame * kBuffers) {}
  std::string describe() const override { return "pcap file " + path_; }
  size_t frame_room() const override { return room_; }
  bool keeps_frames() const override { return true; }  // its own buffers, only read when committed
  size_t reserve(std::span<uint8_t*> bufs) override {
    const size_t n = std::min(bufs.size(), kBuffers);
    for (size_t i = 0; i < n; ++i) bufs[i] = buf_.data() + i * room_;
    return n;
  }
  void commit(std::span<const uint32_t> lens) override {
    for (size_t i = 0; i < lens.size() && i < kBuffers; ++i) {
      const auto now = std::chrono::system_clock::now().time_since_epoch();
      writer_.write(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count()),
                    std::span<const uint8_t>(buf_.data() + i * room_, lens[i]));
    }
  }
  void flush() override {}
  bool pending() const override { return false; }
  void close() override { writer_.close(); }
  std::vector<std::pair<std::string, uint64_t>> counters() const override { return {}; }

 private:
  static constexpr size_t kBuffers = 64;
  std::string path_;
  pcap::Writer writer_;
  size_t room_;
  std::vector<uint8_t> buf_;  // kBuffers frames of room_ bytes
};

}  // namespace

std::unique_ptr<FrameSink> port_sink(std::unique_ptr<frame::FramePort> port) {
  return std::make_unique<PortSink>(std::move(port));
}

std::unique_ptr<FrameSink> pcap_sink(const std::string& path, size_t max_frame) {
  return std::make_unique<PcapSink>(path, max_frame);
}

}  // namespace rfab::gen
