// `rfab perf` runs between the two namespaces of a NetnsPair, each side with its own datapath flags, and
// captures on a veth checked by `rfab decode --verify-icrc`.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "netns.hpp"

namespace rfab::systest {

struct PerfOutcome {
  int client_rc = -1, server_rc = -1;
  nlohmann::json client, server;
  std::string client_out, server_out;
};

// Server in A (`server_args`), client in B towards A's IPv4 (or IPv6) address (`client_args`); both --json.
PerfOutcome run_perf(const NetnsPair& net, const std::string& verb, const std::vector<std::string>& server_args,
                     const std::vector<std::string>& client_args, bool v6 = false);
// The same, asserting exit 0 and verified data on both sides.
void expect_verified(const NetnsPair& net, const std::string& verb, const std::vector<std::string>& server_args,
                     const std::vector<std::string>& client_args, bool v6 = false);

// dumpcap on `ifname` in `ns` (RoCE v2 only) until stop().
class RoceCapture {
 public:
  RoceCapture(const std::string& ns, const std::string& ifname, const std::string& tag);
  ~RoceCapture();
  // Stops the capture and runs `rfab decode --verify-icrc`: the number of packets whose ICRC verified;
  // fails the test when any packet did not.
  size_t stop_and_verify();

 private:
  std::unique_ptr<Child> proc_;
  std::string file_;
};

// Kernel UDP segmentation off on both veth ends: veth hands a GSO super-packet to a packet socket (DPDK's
// net_af_packet) unsegmented, which a NIC would never put on a wire.
void segment_in_software(const NetnsPair& net);

}  // namespace rfab::systest
