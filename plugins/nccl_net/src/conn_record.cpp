#include "conn_record.hpp"

#include <cstring>

#include "byte_order.hpp"

namespace rfab::ncclnet {
namespace {

constexpr uint32_t kMagic = 0x52464E52;  // "RFNR"
constexpr uint8_t kVersion = 1;

}  // namespace

RecordBytes encode_record(const ConnRecord& r) {
  RecordBytes out{};
  auto* b = reinterpret_cast<uint8_t*>(out.data());
  put_be32(b, kMagic);
  b[4] = kVersion;
  b[5] = static_cast<uint8_t>(r.role);
  b[6] = r.selective_recovery ? 1 : 0;
  b[7] = r.roce.v6 ? 6 : 4;
  put_be32(b + 8, r.nonce);
  put_be32(b + 12, r.qpn);
  put_be32(b + 16, r.psn);
  put_be32(b + 20, r.mtu);
  std::memcpy(b + 24, r.roce.ip.data(), 16);
  put_be16(b + 40, r.roce.port);
  return out;
}

std::optional<ConnRecord> decode_record(const RecordBytes& in, std::string& why) {
  const auto* b = reinterpret_cast<const uint8_t*>(in.data());
  auto bad = [&](std::string w) -> std::optional<ConnRecord> {
    why = std::move(w);
    return std::nullopt;
  };
  if (get_be32(b) != kMagic) return bad("not an rfab NCCL plugin peer (bad magic)");
  if (b[4] != kVersion) return bad("peer speaks record version " + std::to_string(b[4]));
  if (b[5] != 1 && b[5] != 2) return bad("role " + std::to_string(b[5]));
  if (b[6] > 1) return bad("capability flags " + std::to_string(b[6]));
  if (b[7] != 4 && b[7] != 6) return bad("IP version " + std::to_string(b[7]));
  ConnRecord r;
  r.role = static_cast<Role>(b[5]);
  r.selective_recovery = b[6] == 1;
  r.roce.v6 = b[7] == 6;
  r.nonce = get_be32(b + 8);
  r.qpn = get_be32(b + 12);
  r.psn = get_be32(b + 16);
  r.mtu = get_be32(b + 20);
  std::memcpy(r.roce.ip.data(), b + 24, 16);
  r.roce.port = get_be16(b + 40);
  if (r.qpn == 0 || r.qpn >= (1u << 24)) return bad("QP number " + std::to_string(r.qpn));
  if (r.psn >= (1u << 24)) return bad("PSN " + std::to_string(r.psn));
  if (r.mtu < 256 || r.mtu > 4096 || (r.mtu & (r.mtu - 1)) != 0) return bad("path MTU " + std::to_string(r.mtu));
  if (r.roce.port == 0) return bad("RoCE UDP port 0");
  return r;
}

}  // namespace rfab::ncclnet
