// Reachability of a peer through the RDMA device itself, with librdmacm: resolve the address and route
// through the local RDMA device, then send a connection request to a port nobody listens on. A reject
// (or an accept) can only come from the peer's RDMA stack, over RoCE (CM MADs to QP1): proof that RoCE
// packets travel both ways. Timeouts or unreachable events mean they do not. Every step has a deadline.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace rfab::verbs {

struct CmProbeResult {
  enum class Outcome { answered, no_answer, no_route, no_rdma_cm };
  Outcome outcome = Outcome::no_answer;
  std::string device;  // the local RDMA device the route resolved to
  std::string detail;  // the last CM event or error, for the report
};

// `peer`: numeric IPv4/IPv6 address. `port`: the RDMA CM port to knock on (normally one without a listener).
CmProbeResult cm_probe(const std::string& peer, uint16_t port = 18515,
                       std::chrono::milliseconds deadline = std::chrono::milliseconds(3000));

}  // namespace rfab::verbs
