#include "rfab/base/memory_limit.hpp"

#include <unistd.h>

#include <cstdio>

namespace rfab {

uint64_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return 0;
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page);
}

MemoryLimit MemoryLimit::default_limit() {
  const uint64_t phys = physical_memory_bytes();
  if (phys == 0) return {uint64_t{4} << 30, "the default 4 GiB (physical memory unknown)"};
  return {phys / 2, "half of the " + human_bytes(phys) + " of physical memory"};
}

MemoryLimit MemoryLimit::from_flag(uint64_t bytes, std::string_view flag) {
  if (bytes == 0) {
    MemoryLimit m = default_limit();
    m.source += "; raise it with " + std::string(flag);
    return m;
  }
  return {bytes, std::string(flag)};
}

void MemoryLimit::check(uint64_t estimate, std::string_view what) const {
  if (estimate <= bytes) return;
  throw ResourceError(std::string(what) + " needs an estimated " + human_bytes(estimate) +
                      ", more than the memory limit of " + human_bytes(bytes) + " (" + source + ")");
}

std::string human_bytes(uint64_t b) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024.0 && u < 6) {
    v /= 1024.0;
    ++u;
  }
  char buf[32];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[u]);
  return buf;
}

}  // namespace rfab
