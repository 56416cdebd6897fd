// The side channel between `rfab ping` agents (TCP, one length-prefixed JSON message each way):
//   connect: a prober sends its RoCE address and one QP per entropy; the agent creates as many QPs,
//            connects them back and answers with their numbers and the memory probes may write to;
//   report:  at the end of a one-shot run an agent sends its row of the matrix to every other agent, so
//            each of them can judge the whole mesh.
// Every field is checked on receipt: a peer's message is untrusted input.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ping_stats.hpp"
#include "rfab/udp/address.hpp"

namespace rfab::cli::ping {

constexpr unsigned kMaxEntropies = 256;

struct QpEnd {
  uint32_t qpn = 0, psn = 0;
};

struct ConnectRequest {
  size_t from = 0;    // the prober's host index
  std::string roce;   // its RoCE address "ip:port"
  std::vector<QpEnd> qps;
};

struct ConnectReply {
  bool ok = false;
  std::string error;
  std::string roce;
  std::vector<QpEnd> qps;
  uint32_t rkey = 0;
  uint64_t addr = 0;  // where probes write (a buffer of kProbeArea bytes)
};

// A refusal carrying `why`.
inline ConnectReply refused(std::string why) {
  ConnectReply r;
  r.error = std::move(why);
  return r;
}

struct Report {
  size_t from = 0;
  std::vector<PairResult> pairs;
};

constexpr uint32_t kProbeArea = 4096;  // the largest probe

// "10.0.0.1:4791" or "[fd00::1]:4791" (udp::Address::to_string) back to an address; nullopt if malformed.
std::optional<udp::Address> parse_roce_address(const std::string& text);

std::string encode(const ConnectRequest& r);
std::string encode(const ConnectReply& r);
std::string encode(const Report& r);

// The message's "op" ("connect", "report") or a reply; throws std::invalid_argument on anything malformed.
std::string op_of(const std::string& text);
ConnectRequest decode_connect(const std::string& text, size_t n_hosts);
ConnectReply decode_reply(const std::string& text, size_t entropies);
Report decode_report(const std::string& text, size_t n_hosts);

}  // namespace rfab::cli::ping
