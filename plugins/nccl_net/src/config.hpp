// The plugin's settings, read once at init() from the environment (rfab/base/env.hpp's registry).
#pragma once
#include <chrono>
#include <optional>
#include <string>

#include "interfaces.hpp"

namespace rfab::ncclnet {

enum class Transport { udp, verbs, automatic };

struct Config {
  std::optional<IfaceFilter> ifaces;  // RFAB_NCCL_IFACE, else NCCL_SOCKET_IFNAME; nullopt: the default choice
  std::string iface_spec;             // the text it came from, for messages
  Transport transport = Transport::automatic;  // RFAB_NCCL_TRANSPORT
  std::chrono::milliseconds timeout{30000};   // RFAB_NCCL_TIMEOUT: connection set-up steps
};

// Throws std::invalid_argument (rfab::env::EnvError) naming the variable and what it accepts.
Config read_config();

}  // namespace rfab::ncclnet
