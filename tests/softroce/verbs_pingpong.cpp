// rfab_verbs_pingpong: two processes (normally two soft-RoCE lab guests) connect RC queue pairs of the
// endpoint layer's verbs device (fabric/endpoint) over TCP-exchanged addresses, then
//   1. SEND ping-pong (64 B, payload checked both ways), round-trip time reported;
//   2. client RDMA WRITEs a patterned buffer into the server's MR, then SEND-with-immediate; server checks it;
//   3. client RDMA READs a buffer the server patterned; client checks it.
// Exit 0 only when every completion succeeded and every byte matched. Every wait has a deadline.
// Usage: rfab_verbs_pingpong server|client [SERVER_IP] [--port P] [--iters N] [--size BYTES]
//        [--device D] [--gid-index I]   (device/port/GID also from RFAB_VERBS_DEVICE/_PORT/_GID_INDEX)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "rfab/endpoint/connect.hpp"
#include "rfab/endpoint/verbs_device.hpp"

using namespace rfab;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

constexpr milliseconds kWait{15000};

struct Fail : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Args {
  bool server = false;
  std::string peer;
  uint16_t port = 18600;
  int iters = 1000;
  size_t size = 1 << 20;
  endpoint::VerbsConfig sel;
};

// What each side tells the other over TCP: its QP address and the MR the peer may WRITE/READ.
struct Wire {
  uint32_t qpn, psn;
  uint8_t gid[16];
  uint64_t addr;
  uint32_t rkey;
  uint32_t len;
};

void write_all(int fd, const void* p, size_t n) {
  if (::send(fd, p, n, MSG_NOSIGNAL) != static_cast<ssize_t>(n)) throw Fail("TCP exchange: send failed");
}
void read_all(int fd, void* p, size_t n) {
  auto* b = static_cast<uint8_t*>(p);
  const auto until = Clock::now() + kWait;
  while (n) {
    pollfd pf{fd, POLLIN, 0};
    if (Clock::now() >= until || ::poll(&pf, 1, 1000) < 0) throw Fail("TCP exchange: peer silent for 15 s");
    if (!(pf.revents & POLLIN)) continue;
    ssize_t r = ::recv(fd, b, n, 0);
    if (r <= 0) throw Fail("TCP exchange: peer closed the connection");
    b += r;
    n -= static_cast<size_t>(r);
  }
}

int tcp_connect(const Args& a) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(a.port);
  if (inet_pton(AF_INET, a.peer.c_str(), &sa.sin_addr) != 1) throw Fail("'" + a.peer + "' is not an IPv4 address");
  const auto until = Clock::now() + milliseconds(60000);
  for (;;) {  // the server may still be booting
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) return fd;
    ::close(fd);
    if (Clock::now() >= until) throw Fail("cannot reach " + a.peer + ":" + std::to_string(a.port) + " for 60 s");
    std::this_thread::sleep_for(milliseconds(200));
  }
}

int tcp_accept(const Args& a) {
  int ls = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int on = 1;
  ::setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(a.port);
  if (::bind(ls, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0 || ::listen(ls, 1) < 0)
    throw Fail("listen on TCP port " + std::to_string(a.port) + ": " + std::strerror(errno));
  pollfd pf{ls, POLLIN, 0};
  if (::poll(&pf, 1, 60000) <= 0) throw Fail("no client within 60 s");
  int fd = ::accept(ls, nullptr, nullptr);
  ::close(ls);
  if (fd < 0) throw Fail("accept failed");
  return fd;
}

uint8_t pattern(size_t i, uint32_t seed) { return static_cast<uint8_t>((i * 2654435761u + seed) >> 7); }

// The next completion of the send queue (receive: false) or the receive queue, which must be of kind `op`.
// Busy-polls: rxe and RNICs complete in microseconds. Every wait has a deadline.
rc::WorkCompletion expect(endpoint::Device& dev, rc::WcOpcode op, const char* what) {
  const bool recv = op == rc::WcOpcode::recv || op == rc::WcOpcode::recv_rdma_with_imm;
  const auto until = Clock::now() + kWait;
  rc::WorkCompletion wc;
  for (uint64_t spins = 0;; ++spins) {
    if ((recv ? dev.poll_recv({&wc, 1}) : dev.poll_send({&wc, 1})) == 1) break;
    dev.progress(0);
    if ((spins & 1023) == 0 && Clock::now() >= until) throw Fail(std::string(what) + ": no completion within 15 s");
  }
  if (wc.status != rc::WcStatus::success) throw Fail(std::string(what) + ": completion status " + rc::to_string(wc.status));
  if (wc.opcode != op) throw Fail(std::string(what) + ": a completion of another kind arrived");
  return wc;
}

void check(rc::Status s, const char* what) {
  if (!s) throw Fail(std::string(what) + ": " + s.what);
}

int run(const Args& a) {
  endpoint::VerbsConfig vc = a.sel;
  vc.sleep = false;
  auto dev = endpoint::make_verbs_device(vc);
  std::printf("verbs: %s (%s), path MTU up to %u\n", dev->name().c_str(), dev->address().ip_string().c_str(),
              dev->max_mtu(4096));
  // One MR: [0,size) the region the peer writes/reads, [size,2size) local bulk, then 64 B send + 64 B recv.
  std::vector<uint8_t> buf(2 * a.size + 128);
  const endpoint::MemoryKey mr = dev->reg_mr(buf.data(), buf.size(), rc::kLocalWrite | rc::kRemoteWrite | rc::kRemoteRead);
  dev->create_cqs(16, 16);
  endpoint::QpConfig qc;
  qc.cap = {4, 4, 1, 1};
  const uint32_t qpn = endpoint::open_qp(*dev, qc, rc::kRemoteWrite | rc::kRemoteRead);
  const uint32_t psn = static_cast<uint32_t>(Clock::now().time_since_epoch().count()) & 0xFFFFFF;
  const size_t send_off = 2 * a.size, recv_off = send_off + 64;
  auto sge = [&](size_t off, uint32_t len) { return rc::Sge{mr.addr + off, len, mr.lkey}; };

  int fd = a.server ? tcp_accept(a) : tcp_connect(a);
  Wire mine{qpn, psn, {}, mr.addr, mr.rkey, static_cast<uint32_t>(a.size)};
  std::memcpy(mine.gid, dev->gid().data(), 16);
  Wire theirs{};
  write_all(fd, &mine, sizeof mine);
  read_all(fd, &theirs, sizeof theirs);
  if (theirs.len != a.size) throw Fail("peer uses --size " + std::to_string(theirs.len));
  endpoint::Gid their_gid;
  std::memcpy(their_gid.data(), theirs.gid, 16);
  endpoint::ConnectParams cp;
  cp.peer = udp::Address::from_gid(their_gid, 4791);
  cp.remote_qpn = theirs.qpn;
  cp.remote_psn = theirs.psn;
  cp.local_psn = psn;
  cp.mtu = dev->max_mtu(4096);  // both guests' rxe ports run at the same active MTU
  cp.access = rc::kRemoteWrite | rc::kRemoteRead;
  cp.max_dest_rd_atomic = 16;
  cp.max_rd_atomic = 16;
  cp.min_rnr_timer = 12;
  endpoint::connect(*dev, qpn, cp);
  // Both sides post their first receive before saying "ready", so no SEND meets an empty receive queue.
  const rc::Sge rsge = sge(recv_off, 64), ssge = sge(send_off, 64);
  auto post_recv = [&] { check(dev->post_recv(qpn, {1, std::span(&rsge, 1)}), "post_recv"); };
  post_recv();
  char ready = 'R';
  write_all(fd, &ready, 1);
  read_all(fd, &ready, 1);
  std::printf("connected: local QP 0x%x <-> remote QP 0x%x\n", qpn, theirs.qpn);

  // 1. ping-pong
  auto t0 = Clock::now();
  for (int i = 0; i < a.iters; ++i) {
    const bool my_turn_first = !a.server;
    auto send_ping = [&] {
      for (size_t k = 0; k < 64; ++k) buf[send_off + k] = pattern(k, static_cast<uint32_t>(i));
      rc::SendWr w;
      w.wr_id = 2;
      w.opcode = rc::WrOpcode::send;
      w.sg_list = std::span(&ssge, 1);
      check(dev->post_send(qpn, w), "post_send ping");
      expect(*dev, rc::WcOpcode::send, "ping send");
    };
    auto recv_ping = [&] {
      auto wc = expect(*dev, rc::WcOpcode::recv, "ping receive");
      if (wc.byte_len != 64) throw Fail("ping " + std::to_string(i) + ": received " + std::to_string(wc.byte_len) + " B");
      for (size_t k = 0; k < 64; ++k)
        if (buf[recv_off + k] != pattern(k, static_cast<uint32_t>(i)))
          throw Fail("ping " + std::to_string(i) + ": payload byte " + std::to_string(k) + " differs");
      post_recv();
    };
    if (my_turn_first) {
      send_ping();
      recv_ping();
    } else {
      recv_ping();
      send_ping();
    }
  }
  const double rtt_us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / a.iters;
  std::printf("ping-pong: %d round trips of 64 B, payload verified, average RTT %.1f us\n", a.iters, rtt_us);

  // 2. WRITE (client -> server) + SEND_WITH_IMM; 3. READ (client <- server).
  if (!a.server) {
    for (size_t k = 0; k < a.size; ++k) buf[a.size + k] = pattern(k, 1);
    const rc::Sge bulk = sge(a.size, static_cast<uint32_t>(a.size));
    rc::SendWr w;
    w.wr_id = 3;
    w.opcode = rc::WrOpcode::rdma_write;
    w.sg_list = std::span(&bulk, 1);
    w.rdma.remote_addr = theirs.addr;
    w.rdma.rkey = theirs.rkey;
    t0 = Clock::now();
    check(dev->post_send(qpn, w), "post_send WRITE");
    expect(*dev, rc::WcOpcode::rdma_write, "RDMA WRITE");
    const double wsec = std::chrono::duration<double>(Clock::now() - t0).count();
    rc::SendWr n;
    n.wr_id = 4;
    n.opcode = rc::WrOpcode::send_with_imm;
    n.imm = 0xC0FFEE;
    n.sg_list = std::span(&ssge, 1);
    check(dev->post_send(qpn, n), "post_send notify");
    expect(*dev, rc::WcOpcode::send, "notify send");
    auto v = expect(*dev, rc::WcOpcode::recv, "server's verdict");  // imm 1 = server verified the WRITE
    if (!(v.wc_flags & rc::kWcWithImm) || v.imm != 1) throw Fail("server found the RDMA WRITE data wrong");
    post_recv();
    std::printf("RDMA WRITE: %zu B, verified by the server, %.1f Mbit/s\n", a.size, static_cast<double>(a.size) * 8 / wsec / 1e6);

    std::memset(buf.data() + a.size, 0, a.size);
    rc::SendWr r;
    r.wr_id = 5;
    r.opcode = rc::WrOpcode::rdma_read;
    r.sg_list = std::span(&bulk, 1);
    r.rdma.remote_addr = theirs.addr;
    r.rdma.rkey = theirs.rkey;
    t0 = Clock::now();
    check(dev->post_send(qpn, r), "post_send READ");
    auto rwc = expect(*dev, rc::WcOpcode::rdma_read, "RDMA READ");
    const double rsec = std::chrono::duration<double>(Clock::now() - t0).count();
    for (size_t k = 0; k < a.size; ++k)
      if (buf[a.size + k] != pattern(k, 2)) throw Fail("RDMA READ: byte " + std::to_string(k) + " differs");
    std::printf("RDMA READ: %u B, verified, %.1f Mbit/s\n", rwc.byte_len, static_cast<double>(a.size) * 8 / rsec / 1e6);
    n.imm = 2;  // tell the server we are done
    check(dev->post_send(qpn, n), "post_send bye");
    expect(*dev, rc::WcOpcode::send, "bye send");
  } else {
    auto wc = expect(*dev, rc::WcOpcode::recv, "WRITE notification");
    if (!(wc.wc_flags & rc::kWcWithImm) || wc.imm != 0xC0FFEE) throw Fail("notification without the expected immediate");
    post_recv();
    bool ok = true;
    for (size_t k = 0; k < a.size && ok; ++k) ok = buf[k] == pattern(k, 1);
    for (size_t k = 0; k < a.size; ++k) buf[k] = pattern(k, 2);  // what the client will READ
    rc::SendWr v;
    v.wr_id = 6;
    v.opcode = rc::WrOpcode::send_with_imm;
    v.imm = ok ? 1 : 0;
    v.sg_list = std::span(&ssge, 1);
    check(dev->post_send(qpn, v), "post_send verdict");
    expect(*dev, rc::WcOpcode::send, "verdict send");
    if (!ok) throw Fail("RDMA WRITE data differs from the client's pattern");
    std::printf("RDMA WRITE: %zu B received and verified\n", a.size);
    auto bye = expect(*dev, rc::WcOpcode::recv, "client's bye");
    if (bye.imm != 2) throw Fail("unexpected final message");
  }
  ::close(fd);
  std::printf("verbs pingpong: PASS\n");
  return 0;
}

Args parse(int argc, char** argv) {
  Args a;
  if (argc < 2) throw Fail("usage: rfab_verbs_pingpong server|client [SERVER_IP] [--port P] [--iters N] [--size B] "
                           "[--device D] [--gid-index I]");
  std::string mode = argv[1];
  if (mode != "server" && mode != "client") throw Fail("first argument must be server or client, not '" + mode + "'");
  a.server = mode == "server";
  int i = 2;
  if (!a.server) {
    if (argc < 3) throw Fail("client needs the server's IPv4 address");
    a.peer = argv[i++];
  }
  for (; i < argc; ++i) {
    std::string k = argv[i];
    if (i + 1 >= argc) throw Fail("option " + k + " needs a value");
    std::string v = argv[++i];
    try {
      if (k == "--port") a.port = static_cast<uint16_t>(std::stoul(v));
      else if (k == "--iters") a.iters = std::stoi(v);
      else if (k == "--size") a.size = std::stoul(v);
      else if (k == "--device") a.sel.device = v;
      else if (k == "--gid-index") a.sel.gid_index = std::stoi(v);
      else throw Fail("unknown option " + k);
    } catch (const std::logic_error&) {
      throw Fail("option " + k + ": '" + v + "' is not a number");
    }
  }
  if (a.iters < 1 || a.size < 64 || a.size > (1u << 30)) throw Fail("--iters >= 1 and 64 <= --size <= 1 GiB");
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rfab_verbs_pingpong: %s\n", e.what());
    return 1;
  }
}
