// The /metrics endpoint on cpp-httplib. The collector thread publishes text; httplib's worker threads
// only copy it under a mutex, so a slow scraper never stalls collection.
#include <httplib.h>

#include <mutex>
#include <thread>

#include "rfab/telemetry/collector.hpp"
#include "rfab/telemetry/prometheus.hpp"

namespace rfab::telemetry {

struct PrometheusServer::Impl {
  httplib::Server server;
  std::thread thread;
  std::mutex mu;
  std::string text;
  bool published = false;
  int port = 0;
};

PrometheusServer::PrometheusServer(const std::string& host, uint16_t port) : impl_(std::make_unique<Impl>()) {
  Impl* impl = impl_.get();
  impl->server.Get("/metrics", [impl](const httplib::Request&, httplib::Response& res) {
    std::string body;
    bool published;
    {
      std::lock_guard lock(impl->mu);
      body = impl->text;
      published = impl->published;
    }
    // Until the collector has published once, an empty 200 would read as "no series"; say not ready.
    if (!published) {
      res.status = 503;
      res.set_content("rfab collector: starting, no metrics yet\n", "text/plain");
      return;
    }
    res.set_content(body, "text/plain; version=0.0.4; charset=utf-8");
  });
  impl->server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("rfab collector: metrics at /metrics\n", "text/plain");
  });
  // httplib's default also sets SO_REUSEPORT, which would let a second collector share the port and
  // split the scrapes between them: only SO_REUSEADDR (quick restarts), so a clash is an error.
  impl->server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<const void*>(&yes), sizeof yes);
  });
  impl->server.set_read_timeout(5, 0);
  impl->server.set_write_timeout(5, 0);
  bool ok = port == 0 ? (impl->port = impl->server.bind_to_any_port(host)) > 0
                      : impl->server.bind_to_port(host, port);
  if (!ok)
    throw TelemetryError("cannot listen on " + host + ":" + std::to_string(port) +
                         " for Prometheus (address in use or not local?)");
  if (port != 0) impl->port = port;
  impl->thread = std::thread([impl] { impl->server.listen_after_bind(); });
}

PrometheusServer::~PrometheusServer() {
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

void PrometheusServer::publish(std::string text) {
  std::lock_guard lock(impl_->mu);
  impl_->text = std::move(text);
  impl_->published = true;
}

uint16_t PrometheusServer::port() const { return static_cast<uint16_t>(impl_->port); }

}  // namespace rfab::telemetry
