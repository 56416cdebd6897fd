#include "rfab/base/error.hpp"

namespace rfab {

void throw_parse_error(std::string_view what, std::string_view value, std::string_view why) {
  std::string msg;
  if (!what.empty()) msg.append(what).append(": ");
  msg.append("bad value \"").append(value).append("\": ").append(why);
  throw ParseError(msg, std::string(why));
}

}  // namespace rfab
