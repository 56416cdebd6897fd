#include "doctor_inventory.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace rfab::cli::doctor {
namespace {

// One sysfs attribute, trimmed; nullopt when absent or unreadable (empty GID slots read as EINVAL).
std::optional<std::string> read_attr(const fs::path& p) {
  std::ifstream in(p);
  if (!in) return std::nullopt;
  std::string s;
  if (!std::getline(in, s)) return std::nullopt;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// "4: ACTIVE" -> "ACTIVE"
std::string after_colon(const std::string& s) {
  auto c = s.find(": ");
  return c == std::string::npos ? s : s.substr(c + 2);
}

std::vector<fs::path> sorted_children(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

void read_counters(const fs::path& dir, std::map<std::string, uint64_t>& out) {
  for (const auto& f : sorted_children(dir)) {
    auto v = read_attr(f);
    if (!v) continue;
    try {
      size_t used = 0;
      uint64_t n = std::stoull(*v, &used);
      if (used == v->size()) out[f.filename().string()] = n;
    } catch (...) {  // not a number (e.g. a lifespan knob): not a counter
    }
  }
}

PortInfo read_port(const std::string& dev, const fs::path& dev_dir, const fs::path& port_dir,
                   const std::string& sys_root) {
  PortInfo p;
  p.device = dev;
  p.port = std::stoi(port_dir.filename().string());
  p.state = after_colon(read_attr(port_dir / "state").value_or("?"));
  p.phys_state = after_colon(read_attr(port_dir / "phys_state").value_or("?"));
  p.rate = read_attr(port_dir / "rate").value_or("");
  p.link_layer = read_attr(port_dir / "link_layer").value_or("");
  for (const auto& g : sorted_children(port_dir / "gids")) {
    auto gid = read_attr(g);
    if (!gid || *gid == "0000:0000:0000:0000:0000:0000:0000:0000") continue;
    const auto idx = g.filename().string();
    GidEntry e;
    e.index = std::stoi(idx);
    e.gid = *gid;
    e.type = read_attr(port_dir / "gid_attrs" / "types" / idx).value_or("");
    e.netdev = read_attr(port_dir / "gid_attrs" / "ndevs" / idx).value_or("");
    if (p.netdev.empty()) p.netdev = e.netdev;
    p.gids.push_back(e);
  }
  std::sort(p.gids.begin(), p.gids.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
  if (p.netdev.empty()) {  // hardware RNICs also list their netdev under the PCI device
    auto nets = sorted_children(dev_dir / "device" / "net");
    if (!nets.empty()) p.netdev = nets.front().filename().string();
  }
  if (!p.netdev.empty()) {
    if (auto m = read_attr(fs::path(sys_root) / "class" / "net" / p.netdev / "mtu")) {
      try {
        p.netdev_mtu = std::stoi(*m);
      } catch (...) {
      }
    }
  }
  read_counters(port_dir / "counters", p.counters);
  read_counters(port_dir / "hw_counters", p.counters);
  return p;
}

}  // namespace

bool GidEntry::ipv4_mapped() const { return gid.rfind("0000:0000:0000:0000:0000:ffff:", 0) == 0; }

std::string GidEntry::ipv4() const {
  if (!ipv4_mapped() || gid.size() < 39) return "";
  auto hex = gid.substr(30, 4) + gid.substr(35, 4);
  std::ostringstream o;
  for (int i = 0; i < 4; ++i) {
    if (i) o << '.';
    o << std::stoul(hex.substr(static_cast<size_t>(i) * 2, 2), nullptr, 16);
  }
  return o.str();
}

Inventory read_inventory(const std::string& sys_root) {
  Inventory inv;
  const fs::path cls = fs::path(sys_root) / "class" / "infiniband";
  for (const auto& d : sorted_children(cls)) {
    const auto dev = d.filename().string();
    inv.devices.push_back(dev);
    for (const auto& port_dir : sorted_children(d / "ports")) {
      try {
        inv.ports.push_back(read_port(dev, d, port_dir, sys_root));
      } catch (const std::exception&) {  // a port dir that is not a number: not a port
      }
    }
  }
  return inv;
}

std::optional<int> recommended_gid(const PortInfo& p) {
  for (const auto& g : p.gids)
    if (g.type == "RoCE v2" && g.ipv4_mapped()) return g.index;
  return std::nullopt;
}

int largest_ib_mtu_for(int netdev_mtu) {
  constexpr int kHeaders = 80;
  int best = 0;
  for (int m = 256; m <= 4096; m *= 2)
    if (m + kHeaders <= netdev_mtu) best = m;
  return best;
}

}  // namespace rfab::cli::doctor
