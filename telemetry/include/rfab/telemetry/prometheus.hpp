// Prometheus text exposition (format 0.0.4) and an HTTP endpoint serving it (its own poll loop, bounded:
// prometheus_server.cpp).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "rfab/telemetry/metrics.hpp"

namespace rfab::telemetry {

std::string render_prometheus(const Metrics& m);

// "127.0.0.1:9464" -> host, port. Throws std::invalid_argument naming what is wrong.
std::pair<std::string, uint16_t> parse_listen_address(const std::string& s);

// Serves GET /metrics from a background thread with the text last published. Stops when destroyed.
class PrometheusServer {
 public:
  PrometheusServer(const std::string& host, uint16_t port);  // throws TelemetryError if it cannot bind
  ~PrometheusServer();
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;
  void publish(std::string text);
  uint16_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rfab::telemetry
