#include "rfab/sidechannel/perftest_protocol.hpp"

#include <array>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace rfab::sidechannel {
namespace {

void put_be(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

uint64_t get_be(const std::string& in, size_t off, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(in[off + static_cast<size_t>(i)]);
  return v;
}

// perftest's hton_double byte-swaps the IEEE image on a little-endian host, i.e. sends it big-endian.
void put_double(std::string& out, double d) { put_be(out, std::bit_cast<uint64_t>(d), 8); }
double get_double(const std::string& in, size_t off) { return std::bit_cast<double>(get_be(in, off, 8)); }

// The peer's bytes as text for an error message (printable characters only).
std::string shown(std::span<const char> b) {
  std::string s;
  for (char c : b) {
    if (c == '\0') break;
    s.push_back(c >= 0x20 && c < 0x7F ? c : '?');
  }
  return s;
}

}  // namespace

int perftest_mtu_enum(uint32_t bytes) {
  switch (bytes) {
    case 256: return 1;
    case 512: return 2;
    case 1024: return 3;
    case 2048: return 4;
    case 4096: return 5;
  }
  return 0;
}

uint32_t perftest_mtu_bytes(int mtu_enum) { return mtu_enum >= 1 && mtu_enum <= 5 ? 128u << mtu_enum : 0; }

std::string check_perftest_version(std::span<const char> theirs) {
  const std::string v = shown(theirs);
  // perftest compares with atof(); a non-number reads as 0 and is refused the same way, and so are "nan" and
  // "inf", which a comparison alone would let through.
  const double x = std::atof(v.c_str());
  if (!std::isfinite(x) || x < kPerftestMinVersion)
    throw std::invalid_argument("speaks version '" + v + "'; perftest >= 5.70 (perftest 4.5) is required");
  return v;
}

PerftestSysData merge_perftest_sys_data(const PerftestSysData& mine, std::span<const char> cycle4,
                                        std::span<const char> line4) {
  if (cycle4.size() != 4 || line4.size() != 4) throw std::invalid_argument("sent system data of the wrong size");
  const std::string c(cycle4.data(), 4), l(line4.data(), 4);
  const auto rc = static_cast<uint32_t>(get_be(c, 0, 4)), rl = static_cast<uint32_t>(get_be(l, 0, 4));
  if (rc == 0 || rc > (1u << 30) || rl == 0 || rl > 4096)
    throw std::invalid_argument("sent cycle buffer " + std::to_string(rc) + ", cache line " + std::to_string(rl) +
                                " (not a perftest peer?)");
  return {std::max(mine.cycle_buffer, rc), std::max(mine.cache_line, rl)};
}

int parse_perftest_mtu(std::span<const char> in) {
  if (in.size() == 2 && in[0] >= '1' && in[0] <= '5' && in[1] == '\0') return in[0] - '0';
  throw std::invalid_argument("sent '" + shown(in) + "', not an ibv_mtu value 1..5");
}

std::string encode_perftest_sysdata(const PerftestSysData& d) {
  std::string s;
  put_be(s, d.cycle_buffer, 4);
  put_be(s, d.cache_line, 4);
  return s;
}

std::string encode_perftest_bw_report(const PerftestBwReport& r) {
  std::string s;
  put_be(s, r.size, 8);
  put_be(s, r.iters, 8);
  put_double(s, r.bw_peak);
  put_double(s, r.bw_avg);
  put_double(s, r.msg_rate);
  return s;
}

PerftestBwReport decode_perftest_bw_report(const std::string& b) {
  PerftestBwReport r;
  if (b.size() < 40) return r;
  r.size = get_be(b, 0, 8);
  r.iters = get_be(b, 8, 8);
  r.bw_peak = get_double(b, 16);
  r.bw_avg = get_double(b, 24);
  r.msg_rate = get_double(b, 32);
  return r;
}

std::string PerftestConversation::exchange_versions(const std::string& mine) {
  std::array<char, 16> out{}, in{};
  std::memcpy(out.data(), mine.data(), std::min(mine.size(), out.size() - 1));
  ch_.exchange(out, in, timeout_, "perftest version exchange");
  try {
    return check_perftest_version(in);
  } catch (const std::invalid_argument& e) {
    throw ExchangeError("perftest version exchange: " + ch_.peer() + " " + e.what());
  }
}

PerftestSysData PerftestConversation::exchange_sys_data(const PerftestSysData& mine) {
  // Two separate 4-byte exchanges, as check_sys_data does them.
  const std::string img = encode_perftest_sysdata(mine);
  std::array<char, 4> cycle{}, line{};
  ch_.exchange(std::span<const char>(img.data(), 4), cycle, timeout_, "perftest system data exchange");
  ch_.exchange(std::span<const char>(img.data() + 4, 4), line, timeout_, "perftest system data exchange");
  try {
    return merge_perftest_sys_data(mine, cycle, line);
  } catch (const std::invalid_argument& e) {
    throw ExchangeError("perftest system data exchange: " + ch_.peer() + " " + e.what());
  }
}

uint32_t PerftestConversation::exchange_mtu(uint32_t mine_bytes) {
  const int mine = perftest_mtu_enum(mine_bytes);
  if (mine == 0) throw ExchangeError("perftest MTU exchange: " + std::to_string(mine_bytes) + " is not a RoCE MTU");
  const std::array<char, 2> out{static_cast<char>('0' + mine), '\0'};
  std::array<char, 2> in{};
  ch_.exchange(out, in, timeout_, "perftest MTU exchange");
  try {
    // check_mtu: the remote value counts only when valid; each side takes the smaller.
    return perftest_mtu_bytes(std::min(mine, parse_perftest_mtu(in)));
  } catch (const std::invalid_argument& e) {
    throw ExchangeError("perftest MTU exchange: " + ch_.peer() + " " + e.what());
  }
}

PerftestDest PerftestConversation::hand_shake(const PerftestDest& mine, const char* stage) {
  const auto out = encode_dest_gid(mine);
  std::array<char, kKeyMsgSizeGid> in{};
  ch_.exchange(out, in, timeout_, stage);
  std::string err;
  auto d = parse_dest(in, err);
  if (!d) throw ExchangeError(std::string(stage) + ": bad key message from " + ch_.peer() + ": " + err);
  return *d;
}

PerftestBwReport PerftestConversation::exchange_bw_reports(const PerftestBwReport& mine) {
  // Five exchanges of 8 bytes (size, iterations, peak, average, message rate).
  const std::string img = encode_perftest_bw_report(mine);
  std::string theirs;
  for (size_t off = 0; off < 40; off += 8) {
    std::array<char, 8> in{};
    ch_.exchange(std::span<const char>(img.data() + off, 8), in, timeout_, "perftest bandwidth report exchange");
    theirs.append(in.data(), 8);
  }
  return decode_perftest_bw_report(theirs);
}

void PerftestConversation::close(const PerftestDest& mine) {
  hand_shake(mine, "perftest close handshake");
  static constexpr char kDone[] = "done";
  ch_.send_all(std::span<const char>(kDone, sizeof kDone), timeout_, "perftest close");
  // perftest sends its own "done" and closes; read it when it comes, but it is not an error if it doesn't.
  std::array<char, sizeof kDone> in{};
  try {
    if (ch_.readable(std::chrono::milliseconds(std::min<int64_t>(timeout_.count(), 2000))))
      ch_.recv_exact(in, std::chrono::milliseconds(500), "perftest close");
  } catch (const ExchangeError&) {
  }
}

}  // namespace rfab::sidechannel
