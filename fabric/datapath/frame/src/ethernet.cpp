#include "rfab/frame/ethernet.hpp"

#include <cstdio>

namespace rfab::frame {

std::optional<Mac> Mac::parse(std::string_view text) {
  Mac m;
  unsigned v[6];
  char tail;
  const std::string s(text);
  if (std::sscanf(s.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
    return std::nullopt;
  for (int i = 0; i < 6; ++i) m.b[i] = static_cast<uint8_t>(v[i]);
  return m;
}

std::string Mac::to_string() const {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
  return buf;
}

}  // namespace rfab::frame
