#include "rfab/frame/error.hpp"

#include <cstring>

namespace rfab::frame {

void throw_errno(const std::string& what, int err) { throw FrameError(what + ": " + std::strerror(err)); }

}  // namespace rfab::frame
