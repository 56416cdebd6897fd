// `rfab doctor --peers`' short `rfab ping`: a few RDMA WRITE probes over several entropies to each peer's
// ping agent (`rfab ping --serve` there), judged as `rfab ping` judges a pair.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

#include "doctor_checks.hpp"

namespace rfab::cli::doctor {

// "ping PEER": pass with the round trips when every entropy is clean; fail naming the lossy entropies
// (a path) or the pair; warn when no agent answers at peer:port within `timeout`.
Check probe_peer_ping(const std::string& peer, uint16_t port, std::chrono::milliseconds timeout);

}  // namespace rfab::cli::doctor
