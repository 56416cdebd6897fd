#include "test_support.hpp"

#include <cstdio>
#include <stdexcept>
#include <sys/wait.h>

namespace rfab::test {

std::vector<uint8_t> from_hex(const std::string& hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

std::string data_path(const std::string& rel) { return std::string(RFAB_SOURCE_DIR) + "/tests/data/" + rel; }

std::string run_command(const std::string& cmd, int* exit_code) {
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) throw std::runtime_error("popen failed: " + cmd);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = pclose(p);
  if (exit_code) *exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

}  // namespace rfab::test
