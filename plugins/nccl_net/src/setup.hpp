// Connection set-up without blocking NCCL: listen() opens a side-channel TCP listener and writes its
// address into the handle; connect() and accept() start a worker thread on their first call that does
// the blocking part (TCP connect/accept, creating the RC QP, exchanging ConnRecords, INIT -> RTR -> RTS,
// a final barrier so neither side sends before the other is ready) and return NULL until it is done.
// The side-channel connection stays open for the comm's lifetime: its end tells a comm that the peer is
// gone (comm.hpp).
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "comm.hpp"
#include "handle.hpp"
#include "rfab/sidechannel/tcp_channel.hpp"

namespace rfab::ncclnet {

// A connection being set up: the worker thread and what it produced.
class Handshake {
 public:
  static constexpr uint64_t kMagic = 0x52464E4348414E44ull;  // "RFNCHAND"
  ~Handshake();  // asks the worker to stop and joins it
  bool done() const { return done_.load(std::memory_order_acquire); }
  // After done(): the comm (ownership passes to the caller), or nullptr with error() set.
  std::unique_ptr<Comm> take() { return std::move(comm_); }
  const std::string& error() const { return error_; }
  uint64_t magic = kMagic;

 private:
  friend std::unique_ptr<Handshake> start_connect(NetDevice&, const ListenHandle&, std::chrono::milliseconds);
  friend class ListenComm;
  std::thread worker_;
  std::atomic<bool> done_{false};
  std::atomic<bool> cancel_{false};
  std::unique_ptr<Comm> comm_;
  std::string error_;
};

// Starts connecting to the listener `h` names; the handshake makes a SendComm.
std::unique_ptr<Handshake> start_connect(NetDevice& dev, const ListenHandle& h, std::chrono::milliseconds timeout);

class ListenComm {
 public:
  static constexpr uint64_t kMagic = 0x52464E434C495354ull;  // "RFNCLIST"
  // Listens on the device's address; throws sidechannel::ExchangeError.
  ListenComm(NetDevice& dev, std::chrono::milliseconds timeout);
  ~ListenComm();  // stops a pending accept
  ListenHandle handle() const { return handle_; }
  // accept(): nullptr until the next peer's connection is up; throws std::runtime_error when set-up failed.
  std::unique_ptr<Comm> poll_accept();
  NetDevice& device() { return dev_; }
  uint64_t magic = kMagic;

 private:
  NetDevice& dev_;
  std::chrono::milliseconds timeout_;
  sidechannel::TcpListener listener_;
  ListenHandle handle_;
  std::unique_ptr<Handshake> pending_;
};

}  // namespace rfab::ncclnet
