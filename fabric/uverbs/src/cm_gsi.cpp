// QP1 packets of the provider's CM (cm_gsi.hpp).
#include "cm_gsi.hpp"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>

#include "rfab/udp/error.hpp"
#include "rfab/udp/socket.hpp"
#include "rfab/udp/wire_icrc.hpp"
#include "rfab/wire/bytes.hpp"
#include "rfab/wire/headers.hpp"
#include "rfab/wire/opcode.hpp"

namespace rfab::uverbs::gsi {

std::vector<uint8_t> frame(std::span<const uint8_t, ibcm::kMadSize> mad, uint32_t psn, const udp::Address& src,
                           const udp::Address& dst) {
  std::vector<uint8_t> p(kPacketSize, 0);
  wire::Bth bth;
  bth.opcode = wire::op::UD_SEND_ONLY;
  bth.pkey = 0xffff;
  bth.dest_qp = kGsiQpn;
  bth.psn = psn & 0xffffff;
  wire::encode_bth(bth, p.data());
  wire::encode_deth(wire::Deth{kGsiQkey, kGsiQpn}, p.data() + wire::kBthLen);
  std::copy(mad.begin(), mad.end(), p.begin() + wire::kBthLen + wire::kDethLen);
  udp::fill_icrc(src, dst, 0, p);
  return p;
}

std::optional<std::span<const uint8_t>> mad_of(std::span<const uint8_t> b, const char** why) {
  const char* unused = nullptr;
  if (!why) why = &unused;
  if (b.size() != kPacketSize) { *why = "QP1 packet is not BTH + DETH + 256-byte MAD + ICRC"; return std::nullopt; }
  const wire::Bth bth = wire::decode_bth(b.data());
  if (bth.opcode != wire::op::UD_SEND_ONLY) { *why = "QP1 packet is not a UD SEND_ONLY"; return std::nullopt; }
  if (bth.dest_qp != kGsiQpn) { *why = "packet is not for QP 1"; return std::nullopt; }
  if (bth.pad != 0) { *why = "QP1 packet has pad bytes"; return std::nullopt; }
  const wire::Deth deth = wire::decode_deth(b.data() + wire::kBthLen);
  if (deth.qkey != kGsiQkey) { *why = "QP1 packet's Q_Key is not the GSI Q_Key 0x80010000"; return std::nullopt; }
  return b.subspan(wire::kBthLen + wire::kDethLen, ibcm::kMadSize);
}

Inbox::Inbox() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

void Inbox::push(const udp::Address& local, const udp::Address& src, std::span<const uint8_t> packet) {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (queue_.size() >= kMaxQueued) return;
    queue_.push_back(Received{local, src, std::vector<uint8_t>(packet.begin(), packet.end())});
  }
  const uint64_t one = 1;
  (void)!::write(fd_, &one, sizeof one);
}

std::deque<Received> Inbox::take() {
  uint64_t n = 0;
  (void)!::read(fd_, &n, sizeof n);
  std::lock_guard<std::mutex> g(mu_);
  std::deque<Received> out;
  out.swap(queue_);
  return out;
}

Inbox& inbox() {
  static auto* in = new Inbox();  // lives for the process, as the datapath threads that fill it do
  return *in;
}

bool send(const udp::Address& local, const udp::Address& peer, const std::array<uint8_t, ibcm::kMadSize>& mad,
          const char** why) {
  const char* unused = nullptr;
  if (!why) why = &unused;
  static std::mutex mu;
  static auto* sockets = new std::map<udp::Address, udp::UdpSocket>();  // one per device address
  std::lock_guard<std::mutex> g(mu);
  const udp::Address here = local.with_port(0);
  auto it = sockets->find(here);
  if (it == sockets->end()) {
    try {
      udp::SocketOptions opt;
      opt.gro = false;
      opt.buffer_bytes = 1 << 16;
      it = sockets->emplace(here, udp::UdpSocket::bind(here, opt)).first;
    } catch (const udp::UdpError&) {
      *why = "cannot bind a UDP socket on the device address for CM MADs";
      return false;
    }
  }
  const udp::Address src = it->second.local();
  const udp::Address dst = peer.with_port(kRoceV2Port);
  const std::vector<uint8_t> p = frame(mad, 0, src, dst);
  sockaddr_storage sa{};
  const socklen_t len = dst.to_sockaddr(sa);
  if (::sendto(it->second.fd(), p.data(), p.size(), 0, reinterpret_cast<sockaddr*>(&sa), len) !=
      static_cast<ssize_t>(p.size())) {
    *why = "the kernel refused the CM MAD datagram";
    return false;
  }
  return true;
}

}  // namespace rfab::uverbs::gsi
