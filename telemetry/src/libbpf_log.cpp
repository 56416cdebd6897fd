#include "libbpf_log.hpp"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <mutex>

namespace rfab::telemetry::detail {
namespace {

std::mutex g_mu;
std::string g_log;

int on_print(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char buf[1024];
  int n = std::vsnprintf(buf, sizeof buf, fmt, args);
  std::lock_guard lock(g_mu);
  g_log.append(buf, n < 0 ? 0 : std::min<size_t>(static_cast<size_t>(n), sizeof buf - 1));
  if (g_log.size() > 64 * 1024) g_log.erase(0, g_log.size() - 32 * 1024);  // keep the tail
  return n;
}

}  // namespace

void install_libbpf_logger() {
  static std::once_flag once;
  std::call_once(once, [] { libbpf_set_print(on_print); });
}

std::string take_libbpf_log(size_t max_chars) {
  std::lock_guard lock(g_mu);
  std::string s = g_log.size() > max_chars ? "..." + g_log.substr(g_log.size() - max_chars) : g_log;
  g_log.clear();
  return s;
}

}  // namespace rfab::telemetry::detail
