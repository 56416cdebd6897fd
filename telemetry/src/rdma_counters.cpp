#include "rfab/telemetry/rdma_counters.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace rfab::telemetry {
namespace fs = std::filesystem;
namespace {

bool read_u64(const fs::path& p, uint64_t& v) {
  std::ifstream f(p);
  return static_cast<bool>(f >> v);
}

std::string first_line(const fs::path& p) {
  std::ifstream f(p);
  std::string s;
  std::getline(f, s);
  return s;
}

std::vector<fs::path> sorted_dir(const fs::path& p) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(p, ec), end; !ec && it != end; it.increment(ec)) out.push_back(it->path());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::vector<RdmaCounter> read_rdma_counters(const std::string& root, const std::string& netdev) {
  std::vector<RdmaCounter> out;
  for (const auto& dev : sorted_dir(root)) {
    for (const auto& port : sorted_dir(dev / "ports")) {
      unsigned port_no = 0;
      try {
        port_no = static_cast<unsigned>(std::stoul(port.filename().string()));
      } catch (const std::exception&) {
        continue;  // not a port directory
      }
      // rdma_rxe and most RNIC drivers name the bound netdev here (GID index 0).
      std::string nd = first_line(port / "gid_attrs" / "ndevs" / "0");
      if (!netdev.empty() && nd != netdev) continue;
      for (bool hw : {false, true}) {
        for (const auto& file : sorted_dir(port / (hw ? "hw_counters" : "counters"))) {
          uint64_t v = 0;
          if (!read_u64(file, v)) continue;  // some counters are write-only or unsupported (EINVAL)
          out.push_back(RdmaCounter{dev.filename().string(), port_no, hw, file.filename().string(), v, nd});
        }
      }
    }
  }
  return out;
}

void add_rdma_metrics(Metrics& m, const std::vector<RdmaCounter>& counters) {
  for (const auto& c : counters) {
    Labels l{{"device", c.device}, {"port", std::to_string(c.port)}, {"netdev", c.netdev}, {"counter", c.name}};
    if (c.hw)
      m.add("rfab_rdma_hw_counter", "RNIC driver counter (sysfs hw_counters), e.g. out_of_sequence, np_cnp_sent",
            MetricType::counter, std::move(l), static_cast<double>(c.value));
    else
      m.add("rfab_rdma_port_counter", "RDMA port counter (sysfs counters), e.g. port_rcv_packets",
            MetricType::counter, std::move(l), static_cast<double>(c.value));
  }
}

}  // namespace rfab::telemetry
