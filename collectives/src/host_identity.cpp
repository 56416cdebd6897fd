#include "host_identity.hpp"

#include <unistd.h>

#include <cstdio>

#include "env_config.hpp"

namespace rfab::coll {
namespace {

std::string read_first_line(const char* path) {
  FILE* f = std::fopen(path, "r");
  if (f == nullptr) return {};
  char buf[256] = {};
  if (std::fgets(buf, sizeof buf, f) == nullptr) buf[0] = '\0';
  std::fclose(f);
  std::string s(buf);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

std::string hostname() {
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

// The network namespace we run in ("net:[4026531992]").
std::string net_namespace() {
  char buf[128] = {};
  ssize_t n = readlink("/proc/self/ns/net", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// RFAB_SHM=0 sends everything between ranks over RoCE, even on one machine (tests, measurements).
bool shm_enabled() {
  return from_env([] { return env::get_bool("RFAB_SHM"); }).value_or(true);
}

}  // namespace

std::string logical_host() { return env::get_string("RFAB_HOSTNAME").value_or(hostname()); }

std::string machine_id(int rank) {
  std::string machine = read_first_line("/proc/sys/kernel/random/boot_id") + "/" + hostname() + "/" + net_namespace();
  if (!shm_enabled()) machine += "/rank" + std::to_string(rank);
  return machine;
}

bool same_kernel(const std::string& a, const std::string& b) {
  const std::string boot = a.substr(0, a.find('/') + 1);
  return b.compare(0, boot.size(), boot) == 0;
}

}  // namespace rfab::coll
