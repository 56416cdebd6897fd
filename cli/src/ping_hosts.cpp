#include "ping_hosts.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace rfab::cli::ping {
namespace {

using std::invalid_argument;

// Splits at commas that are not inside brackets.
std::vector<std::string_view> split_top_level(std::string_view s) {
  std::vector<std::string_view> out;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '[') ++depth;
    if (s[i] == ']') --depth;
    if (depth < 0) throw invalid_argument("nodelist '" + std::string(s) + "': ']' without '['");
    if (s[i] == ',' && depth == 0) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  if (depth != 0) throw invalid_argument("nodelist '" + std::string(s) + "': '[' without ']'");
  out.push_back(s.substr(start));
  return out;
}

uint64_t parse_number(std::string_view digits, std::string_view ctx) {
  uint64_t v = 0;
  const auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size() || digits.size() > 9)
    throw invalid_argument("nodelist range '" + std::string(ctx) + "': '" + std::string(digits) + "' is not a number");
  return v;
}

std::string padded(uint64_t v, size_t width) {
  std::string s = std::to_string(v);
  if (s.size() < width) s.insert(0, width - s.size(), '0');
  return s;
}

// "01-04,07" -> 01 02 03 04 07.
std::vector<std::string> expand_ranges(std::string_view body, size_t budget) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= body.size()) {
    const size_t comma = std::min(body.find(',', start), body.size());
    const std::string_view part = body.substr(start, comma - start);
    if (part.empty()) throw invalid_argument("nodelist range '[" + std::string(body) + "]': empty entry");
    const size_t dash = part.find('-');
    const std::string_view lo_s = part.substr(0, dash);
    const uint64_t lo = parse_number(lo_s, body);
    const uint64_t hi = dash == std::string_view::npos ? lo : parse_number(part.substr(dash + 1), body);
    if (hi < lo) throw invalid_argument("nodelist range '" + std::string(part) + "' goes down");
    if (hi - lo + 1 + out.size() > budget)
      throw invalid_argument("nodelist expands to more than " + std::to_string(kMaxHosts) + " hosts");
    for (uint64_t v = lo; v <= hi; ++v) out.push_back(padded(v, lo_s.size()));
    start = comma + 1;
  }
  return out;
}

void expand_item(std::string_view item, std::string prefix, std::vector<std::string>& out) {
  const size_t open = item.find('[');
  if (open == std::string_view::npos) {
    if (item.find(']') != std::string_view::npos) throw invalid_argument("nodelist: ']' without '[' in '" + std::string(item) + "'");
    out.push_back(prefix + std::string(item));
    if (out.size() > kMaxHosts) throw invalid_argument("nodelist expands to more than " + std::to_string(kMaxHosts) + " hosts");
    return;
  }
  const size_t close = item.find(']', open);
  if (close == std::string_view::npos) throw invalid_argument("nodelist: '[' without ']' in '" + std::string(item) + "'");
  const std::string_view body = item.substr(open + 1, close - open - 1);
  if (body.find('[') != std::string_view::npos) throw invalid_argument("nodelist: nested '[' in '" + std::string(item) + "'");
  const std::string head = prefix + std::string(item.substr(0, open));
  for (const std::string& v : expand_ranges(body, kMaxHosts - out.size())) expand_item(item.substr(close + 1), head + v, out);
}

uint16_t parse_port(std::string_view s, std::string_view entry) {
  unsigned v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v == 0 || v > 65535)
    throw invalid_argument("host '" + std::string(entry) + "': port '" + std::string(s) + "' is not in 1..65535");
  return static_cast<uint16_t>(v);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::string numeric(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
  else if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
  return buf;
}

}  // namespace

std::vector<std::string> expand_nodelist(std::string_view list) {
  list = trim(list);
  if (list.empty()) throw invalid_argument("nodelist is empty");
  std::vector<std::string> out;
  for (std::string_view item : split_top_level(list)) {
    item = trim(item);
    if (item.empty()) throw invalid_argument("nodelist '" + std::string(list) + "': empty entry");
    expand_item(item, "", out);
  }
  return out;
}

HostEntry parse_host_entry(std::string_view entry, uint16_t default_port) {
  entry = trim(entry);
  if (entry.empty()) throw invalid_argument("empty host entry");
  HostEntry h{std::string(entry), default_port};
  if (entry.front() == '[') {
    const size_t close = entry.find(']');
    if (close == std::string_view::npos) throw invalid_argument("host '" + std::string(entry) + "': '[' without ']'");
    h.name = std::string(entry.substr(1, close - 1));
    const std::string_view rest = entry.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') throw invalid_argument("host '" + std::string(entry) + "': expected ':port' after ']'");
      h.port = parse_port(rest.substr(1), entry);
    }
  } else if (const size_t colon = entry.find(':'); colon != std::string_view::npos && entry.find(':', colon + 1) == std::string_view::npos) {
    h.name = std::string(entry.substr(0, colon));
    h.port = parse_port(entry.substr(colon + 1), entry);
  }
  if (h.name.empty()) throw invalid_argument("host '" + std::string(entry) + "': no host name");
  if (h.name.find_first_of(" \t") != std::string::npos) throw invalid_argument("host '" + std::string(entry) + "': contains a space");
  return h;
}

std::vector<HostEntry> parse_host_lines(std::string_view text, uint16_t default_port) {
  std::vector<HostEntry> out;
  size_t line_no = 0, start = 0;
  while (start < text.size()) {
    const size_t nl = std::min(text.find('\n', start), text.size());
    std::string_view line = text.substr(start, nl - start);
    start = nl + 1;
    ++line_no;
    if (const size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    line = trim(line);
    if (line.empty()) continue;
    try {
      out.push_back(parse_host_entry(line, default_port));
    } catch (const invalid_argument& e) {
      throw invalid_argument("line " + std::to_string(line_no) + ": " + e.what());
    }
    if (out.size() > kMaxHosts) throw invalid_argument("more than " + std::to_string(kMaxHosts) + " hosts");
  }
  return out;
}

std::vector<HostEntry> rank_hosts(size_t world_size, uint16_t base_port, uint16_t base_roce_port) {
  if (world_size == 0 || world_size > kMaxHosts) throw invalid_argument("WORLD_SIZE " + std::to_string(world_size) + " is not in 1.." + std::to_string(kMaxHosts));
  if (base_port + world_size - 1 > 65535 || base_roce_port + world_size - 1 > 65535)
    throw invalid_argument(std::to_string(world_size) + " ranks do not fit above ports " + std::to_string(base_port) + "/" + std::to_string(base_roce_port));
  std::vector<HostEntry> out;
  for (size_t r = 0; r < world_size; ++r)
    out.push_back({"rank" + std::to_string(r) + "@127.0.0.1", static_cast<uint16_t>(base_port + r),
                   static_cast<uint16_t>(base_roce_port + r)});
  return out;
}

std::vector<Host> resolve_hosts(const std::vector<HostEntry>& entries) {
  std::vector<Host> out;
  for (const HostEntry& e : entries) {
    std::string name = e.name;
    const size_t at = name.find('@');  // "label@address": rank_hosts() names ranks so
    const std::string lookup = at == std::string::npos ? name : name.substr(at + 1);
    if (at != std::string::npos) name = name.substr(0, at);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    addrinfo* res = nullptr;
    if (const int rc = getaddrinfo(lookup.c_str(), nullptr, &hints, &res); rc != 0)
      throw invalid_argument("host '" + e.name + "' does not resolve: " + gai_strerror(rc));
    std::string v4, v6;
    for (const addrinfo* a = res; a; a = a->ai_next) {
      if (a->ai_family == AF_INET && v4.empty()) v4 = numeric(a->ai_addr);
      if (a->ai_family == AF_INET6 && v6.empty()) v6 = numeric(a->ai_addr);
    }
    freeaddrinfo(res);
    Host h{name, v4.empty() ? v6 : v4, e.port, e.roce_port};
    for (const Host& o : out)
      if (o.ip == h.ip && o.port == h.port && o.roce_port == h.roce_port)
        throw invalid_argument("host '" + e.name + "' is listed twice (as '" + o.name + "', " + h.ip + ")");
    out.push_back(h);
  }
  return out;
}

std::vector<std::string> local_addresses() {
  std::vector<std::string> out;
  ifaddrs* ifs = nullptr;
  if (getifaddrs(&ifs) != 0) return out;
  for (const ifaddrs* i = ifs; i; i = i->ifa_next)
    if (i->ifa_addr && (i->ifa_addr->sa_family == AF_INET || i->ifa_addr->sa_family == AF_INET6))
      out.push_back(numeric(i->ifa_addr));
  freeifaddrs(ifs);
  return out;
}

size_t find_self(const std::vector<Host>& hosts, const std::string& self, const std::vector<std::string>& local_ips) {
  std::vector<size_t> match;
  for (size_t i = 0; i < hosts.size(); ++i) {
    const bool hit = self.empty()
                         ? std::find(local_ips.begin(), local_ips.end(), hosts[i].ip) != local_ips.end()
                         : (hosts[i].name == self || hosts[i].ip == self);
    if (hit) match.push_back(i);
  }
  if (match.size() == 1) return match[0];
  if (!self.empty())
    throw invalid_argument("--self '" + self + "' " + (match.empty() ? "is not in the host list" : "matches several hosts"));
  if (match.empty())
    throw invalid_argument("no host of the list has an address of this machine: name this host with --self");
  throw invalid_argument("several hosts of the list (" + hosts[match[0]].name + ", " + hosts[match[1]].name +
                         ") have addresses of this machine: name this host with --self");
}

}  // namespace rfab::cli::ping
