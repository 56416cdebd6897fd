// Memory limits for work whose size the user chooses (an emulated fabric, a benchmark's buffers, a traffic
// file): estimate what it will take before allocating, and refuse with the estimate and the limit instead
// of ending in std::bad_alloc or the OOM killer halfway through.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "rfab/base/error.hpp"

namespace rfab {

// The input asks for more than the limit allows. A ParseError: like a malformed value it is the user's
// request that cannot be served, and the CLI exits 2 for it.
struct ResourceError : ParseError {
  using ParseError::ParseError;
};

uint64_t physical_memory_bytes();  // of this machine; 0 when it cannot be read

struct MemoryLimit {
  uint64_t bytes = 0;
  std::string source;  // where the limit comes from, for messages: "--max-memory", "half of physical memory"

  // Half of physical memory (4 GiB when that cannot be read): room for the OS and other work, and still
  // far more than any run the tools are meant for.
  static MemoryLimit default_limit();
  // `flag`'s value in bytes, or the default when `bytes` is 0.
  static MemoryLimit from_flag(uint64_t bytes, std::string_view flag);

  // Throws ResourceError "<what> needs an estimated 9.4 GiB, more than the memory limit of 11.7 GiB
  // (half of physical memory; raise it with --max-memory)" when estimate > bytes.
  void check(uint64_t estimate, std::string_view what) const;
};

// "9.4 GiB", "512 MiB", "4 KiB", "100 B": a human-readable size for messages (not for parsing back).
std::string human_bytes(uint64_t b);

}  // namespace rfab
