#include "rfab/telemetry/hook.hpp"

namespace rfab::telemetry {

std::optional<Hook> parse_hook(std::string_view s) {
  if (s == "xdp") return Hook::xdp;
  if (s == "xdp-generic") return Hook::xdp_generic;
  if (s == "tc") return Hook::tc;
  return std::nullopt;
}

const char* to_string(Hook h) {
  switch (h) {
    case Hook::xdp: return "xdp";
    case Hook::xdp_generic: return "xdp-generic";
    case Hook::tc: return "tc";
  }
  return "?";
}

}  // namespace rfab::telemetry
