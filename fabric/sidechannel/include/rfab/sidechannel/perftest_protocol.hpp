// The rest of perftest's TCP side-channel conversation (no rdma_cm), around the per-QP key messages of
// perftest_dest.hpp, so that an rfab endpoint can pair with a real ib_write_bw / ib_send_bw / ib_read_bw.
// Matches perftest 4.5-0.17 (Debian 12; its internal VERSION string is "6.06"), checked against captures
// of two rxe guests (tests/data/rxe/*.pcap) and perftest_communication.c:
//
//   versions    16 bytes each way: the NUL-padded version string (exchange_versions); perftest refuses a
//               peer older than 5.70 (check_version_compatibility)
//   sys data    4 bytes big-endian cycle buffer, then 4 bytes cache line size; each side keeps the larger
//               (check_sys_data)
//   MTU         2 bytes: "%d" of the ibv_mtu enum (1 = 256 .. 5 = 4096) and its NUL; each side uses the
//               smaller valid one (check_mtu)
//   handshake   one 108-byte key message each way (ctx_hand_shake); perftest repeats it as a barrier
//   bw report   8-byte big-endian size, 8-byte iterations, then bw_peak, bw_avg, msgRate as byte-swapped
//               IEEE doubles (xchg_bw_reports for a peer >= 5.33)
//   close       a last handshake, then "done" with its NUL; perftest writes it and closes without reading
//
// Every exchange is ctx_xchg_data's: the client writes then reads, the server reads then writes.
#pragma once
#include <chrono>
#include <cstdint>
#include <span>
#include <string>

#include "rfab/sidechannel/perftest_dest.hpp"
#include "rfab/sidechannel/tcp_channel.hpp"

namespace rfab::sidechannel {

inline constexpr const char* kPerftestVersion = "6.06";  // perftest 4.5-0.17's VERSION
inline constexpr double kPerftestMinVersion = 5.70;      // what check_version_compatibility requires

struct PerftestSysData {
  uint32_t cycle_buffer = 4096;  // perftest's default: the page size
  uint32_t cache_line = 64;
};

// One side's result line as perftest sends it to the other (struct bw_report_data, first five fields).
// The bandwidth unit is the sender's (Gb/s with --report_gbits, MiB/s otherwise); it is printed verbatim.
struct PerftestBwReport {
  uint64_t size = 0;
  uint64_t iters = 0;
  double bw_peak = 0, bw_avg = 0, msg_rate = 0;
};

// The ibv_mtu enum perftest sends for a path MTU in bytes (256 -> 1 ... 4096 -> 5); 0 if not a RoCE MTU.
int perftest_mtu_enum(uint32_t bytes);
uint32_t perftest_mtu_bytes(int mtu_enum);  // the inverse; 0 if out of range

// The checks perftest applies to what its peer sent, apart from the socket (tests, fuzzing). Each throws
// std::invalid_argument saying what is wrong with the peer's bytes.
// The peer's 16-byte version field: its text, if it is at least kPerftestMinVersion.
std::string check_perftest_version(std::span<const char> theirs);
// The peer's two 4-byte big-endian system data fields, merged with ours (the larger of each).
PerftestSysData merge_perftest_sys_data(const PerftestSysData& mine, std::span<const char> cycle4,
                                        std::span<const char> line4);
// The peer's 2-byte MTU field ("1".."5" and a NUL) as an ibv_mtu enum value.
int parse_perftest_mtu(std::span<const char> theirs2);

// Byte images (exposed for tests against captured bytes).
std::string encode_perftest_sysdata(const PerftestSysData& d);       // 8 bytes
std::string encode_perftest_bw_report(const PerftestBwReport& r);    // 40 bytes
PerftestBwReport decode_perftest_bw_report(const std::string& b);    // 40 bytes

// Runs the conversation's steps over `ch` (client or server as the channel says). Errors are
// ExchangeError naming the step and the peer ("perftest version exchange: 10.0.0.2 sent '4.2'...").
class PerftestConversation {
 public:
  PerftestConversation(TcpChannel& ch, std::chrono::milliseconds timeout) : ch_(ch), timeout_(timeout) {}

  // Returns the peer's version string; throws if it is older than kPerftestMinVersion.
  std::string exchange_versions(const std::string& mine = kPerftestVersion);
  // Returns the values both sides now use (the larger of each).
  PerftestSysData exchange_sys_data(const PerftestSysData& mine);
  // Returns the path MTU in bytes both sides use: the smaller of the two, as perftest computes it.
  uint32_t exchange_mtu(uint32_t mine_bytes);
  // One key-message exchange: ours out, theirs back (parsed).
  PerftestDest hand_shake(const PerftestDest& mine, const char* stage);
  PerftestBwReport exchange_bw_reports(const PerftestBwReport& mine);
  // ctx_close_connection: a last handshake, then "done" (the peer's "done" is read if it comes).
  void close(const PerftestDest& mine);

 private:
  TcpChannel& ch_;
  std::chrono::milliseconds timeout_;
};

}  // namespace rfab::sidechannel
