#include "rfab/telemetry/capabilities.hpp"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace rfab::telemetry {
namespace {

// Older headers lack the two capabilities split out of CAP_SYS_ADMIN in Linux 5.8.
constexpr int kCapNetAdmin = 12, kCapSysAdmin = 21, kCapPerfmon = 38, kCapBpf = 39;

const char* cap_name(int cap) {
  switch (cap) {
    case kCapNetAdmin: return "CAP_NET_ADMIN";
    case kCapSysAdmin: return "CAP_SYS_ADMIN";
    case kCapPerfmon: return "CAP_PERFMON";
    case kCapBpf: return "CAP_BPF";
    default: return "CAP_?";
  }
}

}  // namespace

std::vector<int> collector_capabilities() { return {kCapBpf, kCapNetAdmin, kCapPerfmon}; }

std::vector<std::string> missing_capabilities(const std::vector<int>& caps) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &hdr, data) != 0) throw std::system_error(errno, std::generic_category(), "capget");
  auto has = [&](int cap) { return (data[cap / 32].effective >> (cap % 32)) & 1u; };
  std::vector<std::string> missing;
  for (int cap : caps) {
    // Before Linux 5.8 CAP_SYS_ADMIN covered BPF and perf; it still implies both.
    bool ok = has(cap) || ((cap == kCapBpf || cap == kCapPerfmon) && has(kCapSysAdmin));
    if (!ok) missing.emplace_back(cap_name(cap));
  }
  return missing;
}

}  // namespace rfab::telemetry
