// Rendezvous key-value store over TCP, like torch's TCPStore: one server (hosted by rank 0, or by the
// launcher) and a client per rank with set / get (waits for the key) / add / check / wait, every call with a
// deadline. Used only to bootstrap a communicator (exchange addresses, shm names) and for barriers there.
//
// Job identity: a store created with a job id serves only clients that open with the same id (StoreClient's
// `job_id`); a rank of another job that reaches the same port (two jobs given one MASTER_PORT) is refused
// with an error naming both jobs, instead of joining the wrong job. An empty id on the server checks nothing.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace rfab::coll {

class StoreServer {
 public:
  // Listens on bind_addr:port (IPv4 or IPv6 literal or name; port 0 picks a free port).
  StoreServer(const std::string& bind_addr, uint16_t port, std::string job_id = {});
  ~StoreServer();
  StoreServer(const StoreServer&) = delete;
  StoreServer& operator=(const StoreServer&) = delete;
  uint16_t port() const { return port_; }

 private:
  void loop();
  std::string job_;
  int listen_fd_ = -1;
  int wake_fd_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::thread thread_;
};

class StoreClient {
 public:
  // Connects, retrying until `timeout` (the server may not be up yet). Every later call also uses `timeout`.
  // With a `job_id`, the connection opens with it; a store of another job refuses: Error(InvalidArgument).
  StoreClient(const std::string& host, uint16_t port, std::chrono::milliseconds timeout, std::string job_id = {});
  ~StoreClient();
  StoreClient(const StoreClient&) = delete;
  StoreClient& operator=(const StoreClient&) = delete;

  void set(const std::string& key, const std::string& value);
  // Waits until the key exists.
  std::string get(const std::string& key);
  int64_t add(const std::string& key, int64_t delta);
  bool check(const std::string& key);
  void wait(const std::vector<std::string>& keys);
  // Every one of n callers with the same name returns once all n arrived.
  void barrier(const std::string& name, int n);
  std::string endpoint() const;
  // The local address of the connection to the store (getsockname): the address this host uses towards
  // the store's host, a good default for other traffic to the job's ranks.
  std::string local_ip() const;

 private:
  std::string call(uint8_t cmd, const std::string& key, const std::string& value, bool* found = nullptr);
  void connect();
  void send_all(const void* p, size_t n);
  void recv_all(void* p, size_t n, const std::string& what);
  int fd_ = -1;
  std::string host_;
  uint16_t port_;
  std::chrono::milliseconds timeout_;
  std::string job_;
};

// rfab::tcp_connect (rfab/base/tcp_connect.hpp) with the store's errors: Error(InvalidArgument) naming the
// host when it does not resolve, Error(Timeout) naming host:port when nothing accepted before `timeout`.
int tcp_connect(const std::string& host, uint16_t port, std::chrono::milliseconds timeout);

}  // namespace rfab::coll
