#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rfab::test {

std::vector<uint8_t> from_hex(const std::string& hex);
std::string data_path(const std::string& rel);  // tests/data/<rel> in the source tree
std::string run_command(const std::string& cmd, int* exit_code = nullptr);  // stdout of a shell command

}  // namespace rfab::test
