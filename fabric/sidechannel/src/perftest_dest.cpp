#include "rfab/sidechannel/perftest_dest.hpp"

#include <cstdio>
#include <cstring>
#include <string_view>

namespace rfab::sidechannel {

std::array<char, kKeyMsgSizeGid> encode_dest_gid(const PerftestDest& d) {
  std::array<char, kKeyMsgSizeGid> m{};
  const auto& g = d.gid;
  std::snprintf(m.data(), m.size(),
                "%04x:%04x:%06x:%06x:%08x:%016llx:%02x:%02x:%02x:%02x:%02x:%02x:%02x:%02x:%02x:%02x:%02x:%02x:"
                "%02x:%02x:%02x:%02x:%08x:",
                d.lid, d.out_reads, d.qpn & 0xFFFFFF, d.psn & 0xFFFFFF, d.rkey,
                static_cast<unsigned long long>(d.vaddr), g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8],
                g[9], g[10], g[11], g[12], g[13], g[14], g[15], d.srqn);
  return m;
}

std::array<char, kKeyMsgSize> encode_dest(const PerftestDest& d) {
  std::array<char, kKeyMsgSize> m{};
  std::snprintf(m.data(), m.size(), "%04x:%04x:%06x:%06x:%08x:%016llx:%08x", d.lid, d.out_reads,
                d.qpn & 0xFFFFFF, d.psn & 0xFFFFFF, d.rkey, static_cast<unsigned long long>(d.vaddr), d.srqn);
  return m;
}

namespace {

// Reads one ':'-terminated (or end-terminated) hex field of exactly `width` digits.
bool field(std::string_view& s, size_t width, const char* name, uint64_t& out, std::string& error, bool last) {
  const size_t end = s.find(':');
  const std::string_view f = s.substr(0, end);
  if (f.size() != width) {
    error = std::string(name) + ": '" + std::string(f) + "' should be " + std::to_string(width) + " hex digits";
    return false;
  }
  uint64_t v = 0;
  for (char c : f) {
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else {
      error = std::string(name) + ": '" + std::string(f) + "' is not hex";
      return false;
    }
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  out = v;
  if (end == std::string_view::npos) {
    if (!last) {
      error = std::string("message ends before ") + name + " is complete";
      return false;
    }
    s = {};
  } else {
    s.remove_prefix(end + 1);
  }
  return true;
}

}  // namespace

std::optional<PerftestDest> parse_dest(std::span<const char> msg, std::string& error) {
  if (msg.size() != kKeyMsgSize && msg.size() != kKeyMsgSizeGid) {
    error = "message is " + std::to_string(msg.size()) + " bytes, expected " + std::to_string(kKeyMsgSize) +
            " or " + std::to_string(kKeyMsgSizeGid);
    return std::nullopt;
  }
  const bool with_gid = msg.size() == kKeyMsgSizeGid;
  const void* nul = std::memchr(msg.data(), '\0', msg.size());
  if (nul == nullptr) {
    error = "message is not NUL-terminated";
    return std::nullopt;
  }
  std::string_view s(msg.data(), static_cast<size_t>(static_cast<const char*>(nul) - msg.data()));
  PerftestDest d;
  uint64_t v = 0;
  if (!field(s, 4, "lid", v, error, false)) return std::nullopt;
  d.lid = static_cast<uint16_t>(v);
  if (!field(s, 4, "out_reads", v, error, false)) return std::nullopt;
  d.out_reads = static_cast<uint16_t>(v);
  if (!field(s, 6, "qpn", v, error, false)) return std::nullopt;
  d.qpn = static_cast<uint32_t>(v);
  if (!field(s, 6, "psn", v, error, false)) return std::nullopt;
  d.psn = static_cast<uint32_t>(v);
  if (!field(s, 8, "rkey", v, error, false)) return std::nullopt;
  d.rkey = static_cast<uint32_t>(v);
  if (!field(s, 16, "vaddr", v, error, false)) return std::nullopt;
  d.vaddr = v;
  if (with_gid) {
    for (size_t i = 0; i < 16; ++i) {
      if (!field(s, 2, "gid", v, error, false)) return std::nullopt;
      d.gid[i] = static_cast<uint8_t>(v);
    }
  }
  if (!field(s, 8, "srqn", v, error, true)) return std::nullopt;
  d.srqn = static_cast<uint32_t>(v);
  if (!s.empty()) {
    error = "unexpected trailing text '" + std::string(s) + "'";
    return std::nullopt;
  }
  return d;
}

}  // namespace rfab::sidechannel
