#include "rfab/udp/error.hpp"

#include <cstring>

namespace rfab::udp {

void throw_errno(const std::string& what, int err) { throw UdpError(what + ": " + std::strerror(err)); }

}  // namespace rfab::udp
