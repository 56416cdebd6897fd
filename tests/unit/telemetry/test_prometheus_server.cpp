// The Prometheus endpoint against clients that misbehave: idle connections, a client that trickles its
// request, oversized or malformed requests. None of them may delay a scrape; each is answered with a
// status or closed within the timeouts; the request parser refuses what a scraper never sends.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "rfab/telemetry/http_request.hpp"
#include "rfab/telemetry/prometheus.hpp"

namespace {
using namespace rfab::telemetry;
using namespace std::chrono_literals;
using State = HttpRequest::State;

int connect_to(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Everything the server sends until it closes or `timeout` passes.
std::string read_all(int fd, std::chrono::milliseconds timeout) {
  std::string out;
  const auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    if (left.count() <= 0) return out + "<timeout>";
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) != 1) continue;
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

std::string ask(uint16_t port, const std::string& raw) {
  const int fd = connect_to(port);
  if (fd < 0) return "<no connection>";
  (void)!::send(fd, raw.data(), raw.size(), MSG_NOSIGNAL);
  std::string r = read_all(fd, 3s);
  ::close(fd);
  return r;
}

// One scrape through cpp-httplib (as Prometheus would); returns the status and how long it took.
std::pair<int, double> scrape(uint16_t port) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(2, 0);
  c.set_read_timeout(2, 0);
  const auto t0 = std::chrono::steady_clock::now();
  auto res = c.Get("/metrics");
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return {res ? res->status : -1, s};
}

TEST(PrometheusServer, IdleConnectionsDoNotDelayAScrape) {
  PrometheusServer server("127.0.0.1", 0);
  server.publish("rfab_up 1\n");
  std::vector<int> idle;
  for (int i = 0; i < 200; ++i) idle.push_back(connect_to(server.port()));  // more than the connection limit
  // Some with a request started and never finished.
  for (size_t i = 0; i < idle.size(); i += 3) (void)!::send(idle[i], "GET /metr", 9, MSG_NOSIGNAL);
  for (int i = 0; i < 5; ++i) {
    const auto [status, seconds] = scrape(server.port());
    EXPECT_EQ(status, 200);
    EXPECT_LT(seconds, 1.0);
  }
  for (int fd : idle) ::close(fd);
}

TEST(PrometheusServer, SlowClientIsClosedAfterTheRequestTimeout) {
  PrometheusServer server("127.0.0.1", 0);
  server.publish("rfab_up 1\n");
  const int fd = connect_to(server.port());
  ASSERT_GE(fd, 0);
  const auto t0 = std::chrono::steady_clock::now();
  // One byte a second: the request never completes within the 5 s the server allows.
  std::string got;
  for (int i = 0; i < 12 && got.empty(); ++i) {
    if (::send(fd, "G", 1, MSG_NOSIGNAL) != 1) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 1000) == 1) {
      char c;
      if (::recv(fd, &c, 1, 0) <= 0) got = "closed";
    }
  }
  EXPECT_EQ(got, "closed");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 8s);
  ::close(fd);
}

TEST(PrometheusServer, BadRequestsGetAStatusAndKeepAliveWorks) {
  PrometheusServer server("127.0.0.1", 0);
  server.publish("rfab_up 1\n");
  EXPECT_EQ(ask(server.port(), "POST /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 405", 0), 0u);
  EXPECT_EQ(ask(server.port(), "GET /metrics HTTP/2.0\r\n\r\n").rfind("HTTP/1.1 505", 0), 0u);
  EXPECT_EQ(ask(server.port(), "GET /nothing HTTP/1.1\r\nConnection: close\r\n\r\n").rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_EQ(ask(server.port(), "GET /metrics HTTP/1.1\r\nX: " + std::string(9000, 'a') + "\r\n\r\n").rfind("HTTP/1.1 431", 0),
            0u);
  EXPECT_EQ(ask(server.port(), "GET /metrics HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n").rfind("HTTP/1.1 413", 0), 0u);
  EXPECT_EQ(ask(server.port(), "garbage\r\n\r\n").rfind("HTTP/1.1 400", 0), 0u);
  // Two pipelined requests on one connection, the second closing it: both answered.
  const std::string two = ask(server.port(), "GET /metrics HTTP/1.1\r\n\r\nHEAD /metrics HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(two.rfind("HTTP/1.1 200", 0), 0u) << two;
  EXPECT_NE(two.find("rfab_up 1\n" "HTTP/1.1 200"), std::string::npos) << two;
  EXPECT_EQ(two.find("<timeout>"), std::string::npos) << two;
}

TEST(HttpRequestParser, AcceptsWhatScrapersSend) {
  HttpRequest r = parse_http_request("GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\nrest");
  ASSERT_EQ(r.state, State::complete);
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.path, "/metrics");
  EXPECT_TRUE(r.keep_alive);
  EXPECT_EQ(r.consumed, 51u);
  r = parse_http_request("GET / HTTP/1.0\n\n");
  ASSERT_EQ(r.state, State::complete);
  EXPECT_FALSE(r.keep_alive);
  EXPECT_EQ(parse_http_request("GET /metrics HTTP/1.1\r\nHost: a\r\n").state, State::incomplete);
  EXPECT_EQ(parse_http_request("").state, State::incomplete);
}

TEST(HttpRequestParser, RefusesWhatScrapersNeverSend) {
  const struct {
    std::string raw;
    int status;
  } rows[] = {
      {"GET /metrics HTTP/1.1\r\n" + std::string(kMaxHttpRequestHead, 'a'), 431},
      {"DELETE / HTTP/1.1\r\n\r\n", 405},
      {"GET / HTTP/9\r\n\r\n", 505},
      {"GET metrics HTTP/1.1\r\n\r\n", 400},
      {"GET  / HTTP/1.1\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nno colon here\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 413},
      {"GET /" + std::string(3000, 'x') + " HTTP/1.1\r\n\r\n", 414},
      {std::string("GET /\x01 HTTP/1.1\r\n\r\n"), 400},
  };
  for (const auto& row : rows) {
    const HttpRequest r = parse_http_request(row.raw);
    EXPECT_EQ(r.state, State::bad) << row.raw.substr(0, 60);
    EXPECT_EQ(r.error_status, row.status) << row.raw.substr(0, 60);
  }
}

}  // namespace
