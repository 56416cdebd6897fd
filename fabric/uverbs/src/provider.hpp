// Shared helpers of the exported ibv_* functions (src/verbs_*.cpp).
#pragma once
#include <infiniband/verbs.h>

#include <span>
#include <string>

#include "objects.hpp"
#include "qp_rules.hpp"

// The ibv_* entry points of this library: default visibility (everything else is hidden, and the version
// script gives each the libibverbs symbol version programs were linked against).
#define RFAB_VERBS_API extern "C" __attribute__((visibility("default")))

namespace rfab::uverbs {

// The devices of this process (built once from RFAB_VERBS_IFACE, or every usable interface). Empty with
// errno set, and the reason printed once, when the configuration names no usable interface.
std::span<Device* const> devices();

// Logs "rfab-verbs: <why>" to stderr, sets errno and returns `err` (for verbs that return an errno).
int fail(int err, const char* why);
int fail(int err, const std::string& why);

// The port as the device reports it (re-read from the netdev on every query).
ibv_port_attr port_attr(const Device& dev);
PortLimits port_limits(const Device& dev);

}  // namespace rfab::uverbs
