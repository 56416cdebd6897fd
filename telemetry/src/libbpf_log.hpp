// libbpf prints warnings and verifier logs through a callback; rfab keeps the recent ones so errors can
// quote them (nothing below cli/ prints to stdout).
#pragma once
#include <string>

namespace rfab::telemetry::detail {

void install_libbpf_logger();  // idempotent
std::string take_libbpf_log(size_t max_chars = 4000);  // and clear it

}  // namespace rfab::telemetry::detail
