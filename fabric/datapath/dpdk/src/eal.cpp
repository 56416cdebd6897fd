// The EAL is process-wide and cannot be initialised twice, so the first caller's arguments win and every
// later caller gets the same outcome.
#include <rte_eal.h>
#include <rte_errno.h>

#include <mutex>
#include <sstream>

#include "rfab/dpdk/dpdk.hpp"
#include "rfab/frame/error.hpp"

namespace rfab::dpdk {

std::vector<std::string> split_eal_args(const std::string& args) {
  std::istringstream in(args);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  if (out.empty())
    throw frame::FrameError("DPDK: no EAL arguments (e.g. --dpdk-args '--no-huge -m 512 --no-pci --no-shconf "
                            "--vdev=net_af_packet0,iface=veth0', or RFAB_DPDK_ARGS)");
  return out;
}

void init_eal(const std::string& args) {
  static std::mutex mu;
  static bool done = false;
  static std::string error;
  std::lock_guard<std::mutex> lock(mu);
  if (done) {
    if (!error.empty()) throw frame::FrameError(error);
    return;
  }
  std::vector<std::string> words = split_eal_args(args);
  words.insert(words.begin(), "rfab");
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  done = true;
  if (rte_eal_init(static_cast<int>(words.size()), argv.data()) < 0) {
    error = "DPDK: EAL initialisation with '" + args + "' failed: " + rte_strerror(rte_errno) +
            " (DPDK's log above says why; without hugepages use --no-huge -m 512)";
    throw frame::FrameError(error);
  }
}

}  // namespace rfab::dpdk
