// Setup-path errors of the UDP datapath (bad address, socket option refused, MTU too small, ...). The hot
// path never throws: it returns counts and keeps counters.
#pragma once
#include <stdexcept>
#include <string>

namespace rfab::udp {

class UdpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "what: strerror(errno)" as a UdpError, for a failed system call.
[[noreturn]] void throw_errno(const std::string& what, int err);

}  // namespace rfab::udp
