#include "doctor_netdev.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if_arp.h>
#include <netinet/in.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "doctor_inventory.hpp"

namespace rfab::cli::doctor {
namespace fs = std::filesystem;

namespace {

std::optional<int> read_int(const fs::path& p) {
  std::ifstream in(p);
  long v = 0;
  if (!(in >> v)) return std::nullopt;
  return static_cast<int>(v);
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::optional<uint32_t> parse_ipv4(const std::string& s) {
  in_addr a{};
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

std::string ipv4_text(uint32_t host_order) {
  in_addr a{htonl(host_order)};
  char buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

// /proc/net/route prints each address as the hex of its in-memory (network order) word.
std::optional<uint32_t> route_hex(const std::string& s) {
  if (s.size() != 8) return std::nullopt;
  try {
    size_t used = 0;
    const unsigned long v = std::stoul(s, &used, 16);
    if (used != 8) return std::nullopt;
    return ntohl(static_cast<uint32_t>(v));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// Worst-case RoCE v2 header bytes on top of the payload (IPv6 40 + UDP 8 + BTH 12 + RETH 16 + ICRC 4).
constexpr int kRoceHeaders = 80;

}  // namespace

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

NetdevInfo read_netdev(const std::string& name, const std::string& sys_root, const std::string& proc_root) {
  NetdevInfo n;
  n.name = name;
  const fs::path dev = fs::path(sys_root) / "class/net" / name;
  std::error_code ec;
  n.exists = !name.empty() && name.find('/') == std::string::npos && fs::exists(dev, ec);
  if (!n.exists) return n;
  n.operstate = trim(read_file((dev / "operstate").string()));
  n.carrier = read_int(dev / "carrier");
  if (auto s = read_int(dev / "speed"); s && *s > 0) n.speed_mbps = *s;
  n.mtu = read_int(dev / "mtu");
  n.is_virtual = fs::exists(fs::path(sys_root) / "devices/virtual/net" / name, ec);
  const fs::path conf = fs::path(proc_root) / "sys/net/ipv4/conf";
  n.rp_filter_dev = read_int(conf / name / "rp_filter");
  n.rp_filter_all = read_int(conf / "all/rp_filter");
  return n;
}

void read_addresses(NetdevInfo& n) {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return;
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || n.name != a->ifa_name) continue;
    char buf[INET6_ADDRSTRLEN] = {};
    if (a->ifa_addr->sa_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, buf, sizeof buf);
      n.ipv4.push_back(buf);
    } else if (a->ifa_addr->sa_family == AF_INET6) {
      const in6_addr& ip = reinterpret_cast<sockaddr_in6*>(a->ifa_addr)->sin6_addr;
      if (IN6_IS_ADDR_LINKLOCAL(&ip)) continue;  // a RoCE GID, but not one a peer can route to
      inet_ntop(AF_INET6, &ip, buf, sizeof buf);
      n.ipv6.push_back(buf);
    }
  }
  freeifaddrs(list);
}

Check evaluate_link(const NetdevInfo& n) {
  Check c{"link " + n.name, Verdict::pass, "", ""};
  if (!n.exists) {
    c.verdict = Verdict::fail;
    c.detail = "no such network interface";
    c.hint = "give the interface RoCE uses with --iface (`ip -br link` lists them)";
    return c;
  }
  c.detail = "operstate " + (n.operstate.empty() ? std::string("?") : n.operstate);
  if (n.carrier) c.detail += *n.carrier == 1 ? ", carrier" : ", no carrier";
  c.detail += n.speed_mbps ? ", " + std::to_string(*n.speed_mbps / 1000) + " Gb/s"
                           : (n.is_virtual ? ", virtual link (no speed)" : ", speed unknown");
  // The carrier decides when sysfs shows it (it is unreadable while the interface is administratively
  // down); some virtual NICs report operstate "down" on a working link.
  const bool link_down = n.carrier ? *n.carrier != 1 : n.operstate == "down";
  if (link_down) {
    c.verdict = Verdict::fail;
    c.hint = "bring the link up (`ip link set " + n.name + " up`) and check the cable/switch port";
  } else if (n.speed_mbps && *n.speed_mbps < 25000 && !n.is_virtual) {
    c.verdict = Verdict::warn;
    c.hint = "the link negotiated below 25 Gb/s: check the cable, optics and the switch port's speed";
  }
  return c;
}

Check evaluate_netdev_mtu(const NetdevInfo& n) {
  Check c{"mtu " + n.name, Verdict::pass, "", ""};
  if (!n.mtu) {
    c.verdict = Verdict::skip;
    c.detail = "MTU not readable";
    return c;
  }
  const int roce = largest_ib_mtu_for(*n.mtu);
  c.detail = "MTU " + std::to_string(*n.mtu) + " carries RoCE MTU " + (roce > 0 ? std::to_string(roce) : "none");
  if (roce < 256) {
    c.verdict = Verdict::fail;
    c.hint = "an MTU of at least " + std::to_string(256 + kRoceHeaders) + " is needed for any RoCE packet";
  } else if (roce < 4096) {
    c.verdict = Verdict::warn;
    c.hint = "RoCE MTU 4096 needs a netdev MTU of at least " + std::to_string(4096 + kRoceHeaders) +
             " (set 9000 end to end: `ip link set " + n.name + " mtu 9000`, and on the switch ports)";
  }
  return c;
}

Check evaluate_addresses(const NetdevInfo& n) {
  Check c{"addresses " + n.name, Verdict::pass, "", ""};
  std::string all;
  for (const auto& a : n.ipv4) all += (all.empty() ? "" : ", ") + a;
  for (const auto& a : n.ipv6) all += (all.empty() ? "" : ", ") + a;
  c.detail = all.empty() ? "no IPv4 or global IPv6 address" : all;
  if (all.empty()) {
    c.verdict = Verdict::fail;
    c.hint = "RoCE v2 addresses peers by IP: assign one (`ip addr add 10.0.0.1/24 dev " + n.name + "`)";
  }
  return c;
}

Check evaluate_rp_filter(const NetdevInfo& n) {
  Check c{"rp_filter " + n.name, Verdict::pass, "", ""};
  if (!n.rp_filter_dev && !n.rp_filter_all) {
    c.verdict = Verdict::skip;
    c.detail = "not readable";
    return c;
  }
  // The kernel applies the larger of conf/all and conf/<dev>.
  const int v = std::max(n.rp_filter_dev.value_or(0), n.rp_filter_all.value_or(0));
  c.detail = std::string("effective ") + (v == 0 ? "0 (off)" : v == 1 ? "1 (strict)" : "2 (loose)");
  if (v == 1) {
    c.verdict = Verdict::warn;
    c.hint = "strict reverse-path filtering drops packets that arrive on another interface than the route back "
             "(multi-rail hosts, multipath fabrics): `sysctl -w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf." +
             n.name + ".rp_filter=2`";
  }
  return c;
}

std::vector<Ipv4Route> parse_ipv4_routes(const std::string& text) {
  std::vector<Ipv4Route> out;
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string iface, dest, gw, flags, refcnt, use, metric, mask;
    if (!(f >> iface >> dest >> gw >> flags >> refcnt >> use >> metric >> mask)) continue;
    auto d = route_hex(dest), g = route_hex(gw), m = route_hex(mask);
    if (!d || !g || !m) continue;
    Ipv4Route r{iface, *d, *m, *g, 0};
    try {
      r.metric = std::stoi(metric);
    } catch (const std::exception&) {
      continue;
    }
    out.push_back(r);
  }
  return out;
}

std::optional<Ipv4Route> route_to(const std::vector<Ipv4Route>& routes, uint32_t ip) {
  std::optional<Ipv4Route> best;
  for (const Ipv4Route& r : routes) {
    if ((ip & r.mask) != (r.dest & r.mask)) continue;
    if (!best || r.mask > best->mask || (r.mask == best->mask && r.metric < best->metric)) best = r;
  }
  return best;
}

std::vector<ArpEntry> parse_arp(const std::string& text) {
  std::vector<ArpEntry> out;
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string ip, hw, flags, mac, mask, dev;
    if (!(f >> ip >> hw >> flags >> mac >> mask >> dev)) continue;
    ArpEntry e{ip, mac, dev, 0};
    try {
      e.flags = static_cast<unsigned>(std::stoul(flags, nullptr, 16));
    } catch (const std::exception&) {
      continue;
    }
    out.push_back(e);
  }
  return out;
}

Check evaluate_neighbour(const std::string& peer, const std::vector<Ipv4Route>& routes,
                         const std::vector<ArpEntry>& arp) {
  Check c{"neighbour " + peer, Verdict::pass, "", ""};
  const auto ip = parse_ipv4(peer);
  if (!ip) {
    c.verdict = Verdict::skip;
    c.detail = "IPv6 peer: neighbour table not checked";
    return c;
  }
  const auto r = route_to(routes, *ip);
  if (!r) {
    c.verdict = Verdict::fail;
    c.detail = "no route to " + peer;
    c.hint = "add a route or an address on the RoCE subnet";
    return c;
  }
  const std::string hop = r->gateway ? ipv4_text(r->gateway) : peer;
  const std::string via = r->gateway ? " (gateway for " + peer + ")" : "";
  for (const ArpEntry& e : arp) {
    if (e.ip != hop || e.iface != r->iface) continue;
    if (e.flags & ATF_COM) {
      c.detail = hop + via + " is " + e.mac + " on " + r->iface;
      return c;
    }
    c.verdict = Verdict::fail;
    c.detail = hop + via + " on " + r->iface + ": ARP incomplete (no answer)";
    c.hint = "the next hop does not answer ARP: check that it is up, on this VLAN/subnet, and not filtered";
    return c;
  }
  c.verdict = Verdict::warn;
  c.detail = "no neighbour entry for " + hop + via + " on " + r->iface;
  c.hint = "nothing has been sent to it yet, or the entry expired; `ping -c1 " + hop + "` resolves it";
  return c;
}

std::vector<std::string> roce_netdevs(const std::string& iface, const std::vector<std::string>& port_netdevs,
                                      const std::vector<std::string>& peers, const std::vector<Ipv4Route>& routes) {
  if (!iface.empty()) return {iface};
  std::vector<std::string> out;
  for (const auto& n : port_netdevs)
    if (!n.empty() && std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
  if (!out.empty()) return out;
  for (const auto& p : peers)
    if (auto ip = parse_ipv4(p))
      if (auto r = route_to(routes, *ip)) return {r->iface};
  if (auto r = route_to(routes, 0); r && r->mask == 0) return {r->iface};
  return {};
}

}  // namespace rfab::cli::doctor
