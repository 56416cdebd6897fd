// Set-up errors of the frame datapaths (AF_XDP, DPDK): interface missing, no permission, no neighbour. The
// hot path never throws: it counts.
#pragma once
#include <stdexcept>
#include <string>

namespace rfab::frame {

class FrameError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "what: strerror(err)" as a FrameError, for a failed system or library call (err > 0, an errno value).
[[noreturn]] void throw_errno(const std::string& what, int err);

}  // namespace rfab::frame
