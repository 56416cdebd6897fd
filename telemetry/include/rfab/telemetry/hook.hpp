// Where the collector attaches.
#pragma once
#include <optional>
#include <string_view>

namespace rfab::telemetry {

enum class Hook { xdp, xdp_generic, tc };

std::optional<Hook> parse_hook(std::string_view s);  // "xdp" | "xdp-generic" | "tc"
const char* to_string(Hook h);

}  // namespace rfab::telemetry
