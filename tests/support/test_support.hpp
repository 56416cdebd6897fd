#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rfab::test {

std::vector<uint8_t> from_hex(const std::string& hex);
std::string data_path(const std::string& rel);  // tests/data/<rel> in the source tree
std::string run_command(const std::string& cmd, int* exit_code = nullptr);  // stdout of a shell command
// A loopback TCP port nobody listens on right now (the kernel's choice for a bind to port 0). Unlike ports
// derived from the pid, two tests that ctest runs in parallel never get the same one while both hold it.
uint16_t unused_tcp_port();

}  // namespace rfab::test
