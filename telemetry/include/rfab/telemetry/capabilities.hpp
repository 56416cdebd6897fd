// Which of the capabilities a command needs the process lacks (effective set, read with capget).
#pragma once
#include <string>
#include <vector>

namespace rfab::telemetry {

// Names such as "CAP_BPF" that are not in the effective set. Throws std::system_error if capget fails.
std::vector<std::string> missing_capabilities(const std::vector<int>& caps);

// The collector's needs: CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON.
std::vector<int> collector_capabilities();

}  // namespace rfab::telemetry
