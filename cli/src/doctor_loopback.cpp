// `rfab doctor`'s user-space RoCE check: two devices of the endpoint layer (rfab's RC engine over kernel
// UDP) on 127.0.0.1, one RC QP each, brought up through the one connect ladder, then a SEND and an RDMA
// WRITE with their payloads compared. Everything a real transfer needs runs: the wire codec, ICRCs over
// the real IP/UDP headers (verified on receipt), the RC engine's ACKs and completions.
#include <algorithm>
#include <array>
#include <vector>

#include "doctor_probes.hpp"
#include "rfab/endpoint/connect.hpp"
#include "rfab/endpoint/engine_device.hpp"

namespace rfab::cli::doctor {
namespace {

struct Side {
  std::unique_ptr<endpoint::Device> dev;
  std::vector<uint8_t> buf = std::vector<uint8_t>(8192);
  endpoint::MemoryKey mr;
  uint32_t qpn = 0;
};

Side open_side() {
  udp::DriverConfig dc;
  dc.local = *udp::Address::parse("127.0.0.1", 0);  // port 0: the kernel picks a free one
  Side s;
  s.dev = endpoint::make_udp_device(dc);
  s.mr = s.dev->reg_mr(s.buf.data(), s.buf.size(), rc::kLocalWrite | rc::kRemoteWrite);
  s.dev->create_cqs(8, 8);
  endpoint::QpConfig c;
  c.cap = {4, 4, 1, 1};
  s.qpn = endpoint::open_qp(*s.dev, c, rc::kRemoteWrite);
  return s;
}

// Moves both devices until `done` or the deadline; throws naming `what` on timeout.
template <class Done>
void run_until(Side& a, Side& b, std::chrono::steady_clock::time_point until, const char* what, Done done) {
  while (!done()) {
    if (std::chrono::steady_clock::now() >= until) throw std::runtime_error(std::string(what) + " did not complete in time");
    a.dev->progress(100'000);
    b.dev->progress(100'000);
  }
}

rc::WorkCompletion expect_one(Side& a, Side& b, Side& polled, bool recv, std::chrono::steady_clock::time_point until,
                              const char* what) {
  std::array<rc::WorkCompletion, 1> wc;
  run_until(a, b, until, what, [&] { return (recv ? polled.dev->poll_recv(wc) : polled.dev->poll_send(wc)) == 1; });
  if (wc[0].status != rc::WcStatus::success)
    throw std::runtime_error(std::string(what) + " completed with " + rc::to_string(wc[0].status));
  return wc[0];
}

}  // namespace

Check probe_userspace_loopback(std::chrono::milliseconds deadline) {
  Check c{"user-space RoCE loopback", Verdict::pass, "", ""};
  try {
    const auto until = std::chrono::steady_clock::now() + deadline;
    Side a = open_side(), b = open_side();
    for (Side* s : {&a, &b}) {
      Side& peer = s == &a ? b : a;
      endpoint::ConnectParams p;
      p.peer = peer.dev->address();
      p.remote_qpn = peer.qpn;
      p.remote_psn = 0x123456;
      p.local_psn = 0x123456;
      p.mtu = 1024;
      endpoint::connect(*s->dev, s->qpn, p);
    }
    for (size_t i = 0; i < a.buf.size(); ++i) a.buf[i] = static_cast<uint8_t>(i * 7 + 3);

    // SEND 256 B into B's posted receive.
    const rc::Sge rsge{b.mr.addr, 256, b.mr.lkey}, ssge{a.mr.addr, 256, a.mr.lkey};
    if (auto st = b.dev->post_recv(b.qpn, {1, {&rsge, 1}}); !st.ok()) throw std::runtime_error(std::string("post_recv: ") + st.what);
    rc::SendWr send;
    send.opcode = rc::WrOpcode::send;
    send.sg_list = {&ssge, 1};
    if (auto st = a.dev->post_send(a.qpn, send); !st.ok()) throw std::runtime_error(std::string("post_send: ") + st.what);
    const rc::WorkCompletion got = expect_one(a, b, b, true, until, "SEND (receive side)");
    expect_one(a, b, a, false, until, "SEND (acknowledgement)");
    if (got.byte_len != 256 || !std::equal(a.buf.begin(), a.buf.begin() + 256, b.buf.begin()))
      throw std::runtime_error("SEND arrived with different bytes");

    // RDMA WRITE 4 KiB (four 1024-byte packets) into B's buffer behind the SEND.
    const rc::Sge wsge{a.mr.addr + 256, 4096, a.mr.lkey};
    rc::SendWr write;
    write.opcode = rc::WrOpcode::rdma_write;
    write.sg_list = {&wsge, 1};
    write.rdma.remote_addr = b.mr.addr + 256;
    write.rdma.rkey = b.mr.rkey;
    if (auto st = a.dev->post_send(a.qpn, write); !st.ok()) throw std::runtime_error(std::string("post_send: ") + st.what);
    expect_one(a, b, a, false, until, "RDMA WRITE");
    if (!std::equal(a.buf.begin() + 256, a.buf.begin() + 256 + 4096, b.buf.begin() + 256))
      throw std::runtime_error("RDMA WRITE placed different bytes");

    const endpoint::DeviceCounters ca = a.dev->counters(), cb = b.dev->counters();
    if (ca.rx_bad_icrc + cb.rx_bad_icrc != 0) throw std::runtime_error("packets arrived with a bad ICRC");
    c.detail = "RC SEND (256 B) and RDMA WRITE (4 KiB) over UDP " + a.dev->address().to_string() + " <-> " +
               b.dev->address().to_string() + ": " + std::to_string(ca.tx_packets + cb.tx_packets) +
               " packets, ICRCs verified, payloads intact";
  } catch (const std::exception& e) {
    c.verdict = Verdict::fail;
    c.detail = e.what();
    c.hint = "UDP on loopback is broken or filtered (firewall?); rfab's user-space RoCE cannot work";
  }
  return c;
}

}  // namespace rfab::cli::doctor
