#include "rfab/wire/error.hpp"

#include <cstdio>

namespace rfab::wire {

const char* to_string(Errc e) {
  switch (e) {
    case Errc::truncated: return "truncated";
    case Errc::bad_version: return "bad version";
    case Errc::bad_length: return "bad length";
    case Errc::not_ip: return "not IP";
    case Errc::not_udp: return "not UDP";
    case Errc::not_roce: return "not RoCE v2";
    case Errc::fragmented: return "fragmented";
    case Errc::unknown_opcode: return "unknown opcode";
    case Errc::bad_pad: return "bad pad count";
    case Errc::bad_payload: return "bad payload";
    case Errc::bad_field: return "bad field";
    case Errc::no_space: return "no space";
  }
  return "unknown error";
}

std::string WireError::message() const {
  char buf[192];
  if (code == Errc::truncated || code == Errc::no_space) {
    std::snprintf(buf, sizeof buf, "%s %s at byte %zu: need %zu bytes, have %zu", to_string(code), field,
                  offset, need, have);
  } else {
    std::snprintf(buf, sizeof buf, "%s: %s at byte %zu", to_string(code), field, offset);
  }
  return buf;
}

}  // namespace rfab::wire
