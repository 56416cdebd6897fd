#include "log.hpp"

#include <atomic>
#include <cstdio>

namespace rfab::ncclnet {
namespace {
std::atomic<ncclDebugLogger_t> g_logger{nullptr};
}

void set_logger(ncclDebugLogger_t logger) { g_logger.store(logger); }

void log_line(ncclDebugLogLevel level, const char* file, int line, const std::string& text) {
  if (ncclDebugLogger_t l = g_logger.load()) {
    l(level, NCCL_NET, file, line, "NET/rfab : %s", text.c_str());
  } else if (level == NCCL_LOG_WARN) {
    std::fprintf(stderr, "NET/rfab : %s\n", text.c_str());
  }
}

}  // namespace rfab::ncclnet
