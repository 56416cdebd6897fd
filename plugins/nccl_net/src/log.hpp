// Log lines of the plugin go through the logger NCCL hands to init(), so they appear in NCCL's own
// output (NCCL_DEBUG=WARN/INFO). Before init, or when NCCL passes none, warnings go to stderr.
#pragma once
#include <string>

#include "nccl_net_v8.h"

namespace rfab::ncclnet {

void set_logger(ncclDebugLogger_t logger);
void log_line(ncclDebugLogLevel level, const char* file, int line, const std::string& text);

}  // namespace rfab::ncclnet

#define RFAB_NCCL_WARN(text) ::rfab::ncclnet::log_line(NCCL_LOG_WARN, __FILE__, __LINE__, (text))
#define RFAB_NCCL_INFO(text) ::rfab::ncclnet::log_line(NCCL_LOG_INFO, __FILE__, __LINE__, (text))
