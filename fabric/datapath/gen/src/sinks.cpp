#include "rfab/gen/sinks.hpp"

#include <chrono>

#include "rfab/pcap/pcap_file.hpp"

namespace rfab::gen {
namespace {

class PortSink final : public FrameSink {
 public:
  explicit PortSink(std::unique_ptr<frame::FramePort> p) : port_(std::move(p)) {}
  std::string describe() const override { return port_->describe(); }
  std::span<uint8_t> slot() override { return port_->tx_slot(); }
  void commit(size_t len) override { port_->tx_commit(len); }
  void flush() override { port_->tx_flush(); }
  bool pending() const override { return port_->tx_pending(); }
  void close() override {}
  std::vector<std::pair<std::string, uint64_t>> counters() const override { return port_->counters(); }

 private:
  std::unique_ptr<frame::FramePort> port_;
};

class PcapSink final : public FrameSink {
 public:
  PcapSink(const std::string& path, size_t max_frame) : path_(path), writer_(path), buf_(max_frame) {}
  std::string describe() const override { return "pcap file " + path_; }
  std::span<uint8_t> slot() override { return buf_; }
  void commit(size_t len) override {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    writer_.write(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count()),
                  std::span<const uint8_t>(buf_.data(), len));
  }
  void flush() override {}
  bool pending() const override { return false; }
  void close() override { writer_.close(); }
  std::vector<std::pair<std::string, uint64_t>> counters() const override { return {}; }

 private:
  std::string path_;
  pcap::Writer writer_;
  std::vector<uint8_t> buf_;
};

}  // namespace

std::unique_ptr<FrameSink> port_sink(std::unique_ptr<frame::FramePort> port) {
  return std::make_unique<PortSink>(std::move(port));
}

std::unique_ptr<FrameSink> pcap_sink(const std::string& path, size_t max_frame) {
  return std::make_unique<PcapSink>(path, max_frame);
}

}  // namespace rfab::gen
