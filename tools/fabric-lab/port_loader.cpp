#include "port_loader.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <vector>

#include "lab_port.skel.h"

namespace rfab::lab {
namespace {

// The tc filter's handle and priority: fixed, so the instance can be found again, and unlike the
// defaults (handle 1, priority 1) that other tc users (e.g. `rfab collect --hook tc`) tend to take.
constexpr uint32_t kHandle = 0x1AB;
constexpr uint32_t kPriority = 7;
constexpr const char* kProgName = "lab_port";

std::string errstr(int err) { return std::strerror(err < 0 ? -err : err); }

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

bpf_tc_hook make_hook(const std::string& dev, Hook hook) {
  const unsigned ifindex = ::if_nametoindex(dev.c_str());
  if (ifindex == 0) throw PortError("interface '" + dev + "' not found in this network namespace");
  bpf_tc_hook h{};
  h.sz = sizeof h;
  h.ifindex = static_cast<int>(ifindex);
  h.attach_point = hook == Hook::ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS;
  return h;
}

bpf_tc_opts make_opts() {
  bpf_tc_opts o{};
  o.sz = sizeof o;
  o.handle = kHandle;
  o.priority = kPriority;
  return o;
}

std::string where(const std::string& dev, Hook hook) { return dev + " " + to_string(hook); }

// The maps of the instance attached at (dev, hook), by name.
struct Instance {
  uint32_t prog_id = 0;
  int config = -1, stats = -1, vq = -1, sports = -1;
  std::vector<int> owned;
  Instance() = default;
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;
  ~Instance() {
    for (int fd : owned) ::close(fd);
  }
};

void find(const std::string& dev, Hook hook, Instance& in) {
  bpf_tc_hook h = make_hook(dev, hook);
  bpf_tc_opts o = make_opts();
  if (const int err = bpf_tc_query(&h, &o); err != 0)
    throw PortError("no lab port program on " + where(dev, hook) + " (attach it first): " + errstr(err));
  in.prog_id = o.prog_id;
  Fd prog(bpf_prog_get_fd_by_id(o.prog_id));
  if (prog.get() < 0) throw PortError("program " + std::to_string(o.prog_id) + ": " + errstr(errno));
  uint32_t map_ids[16] = {};
  bpf_prog_info info{};
  info.nr_map_ids = 16;
  info.map_ids = reinterpret_cast<uintptr_t>(map_ids);
  uint32_t len = sizeof info;
  if (bpf_obj_get_info_by_fd(prog.get(), &info, &len) != 0)
    throw PortError("program " + std::to_string(o.prog_id) + ": " + errstr(errno));
  if (std::strncmp(info.name, kProgName, sizeof info.name) != 0)
    throw PortError(where(dev, hook) + ": the tc filter at handle 0x1ab priority 7 is '" + std::string(info.name) +
                    "', not the lab port program");
  for (uint32_t i = 0; i < info.nr_map_ids && i < 16; ++i) {
    const int fd = bpf_map_get_fd_by_id(map_ids[i]);
    if (fd < 0) continue;
    in.owned.push_back(fd);
    bpf_map_info mi{};
    uint32_t mlen = sizeof mi;
    if (bpf_obj_get_info_by_fd(fd, &mi, &mlen) != 0) continue;
    const std::string name = mi.name;
    if (name == "lab_config") in.config = fd;
    else if (name == "lab_stats") in.stats = fd;
    else if (name == "lab_vq") in.vq = fd;
    else if (name == "lab_sports") in.sports = fd;
  }
  if (in.config < 0 || in.stats < 0 || in.vq < 0 || in.sports < 0)
    throw PortError(where(dev, hook) + ": program " + std::to_string(o.prog_id) + " lacks the lab port maps");
}

// libbpf's messages, except the kernel's note that clsact already exists (a second program on the same
// link finds the qdisc the first one created, which is expected).
int print_libbpf(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char line[512];
  std::vsnprintf(line, sizeof line, fmt, args);
  if (std::strstr(line, "Exclusivity flag on") != nullptr) return 0;
  return std::fputs(line, stderr);
}

void write_config(int fd, const lab_port_config& config) {
  const uint32_t zero = 0;
  if (bpf_map_update_elem(fd, &zero, &config, BPF_ANY) != 0) throw PortError("writing the configuration: " + errstr(errno));
}

}  // namespace

Hook parse_hook(const std::string& text) {
  if (text == "ingress") return Hook::ingress;
  if (text == "egress") return Hook::egress;
  throw PortError("hook '" + text + "': expected ingress or egress");
}

const char* to_string(Hook h) { return h == Hook::ingress ? "ingress" : "egress"; }

void attach(const std::string& dev, Hook hook, const lab_port_config& config) {
  bpf_tc_hook h = make_hook(dev, hook);
  libbpf_set_print(print_libbpf);
  lab_port* skel = lab_port__open_and_load();
  if (skel == nullptr) throw PortError("loading the lab port program: " + errstr(errno));
  try {
    write_config(bpf_map__fd(skel->maps.lab_config), config);
    if (const int err = bpf_tc_hook_create(&h); err != 0 && err != -EEXIST)
      throw PortError("creating the clsact qdisc on " + dev + ": " + errstr(err));
    bpf_tc_opts o = make_opts();
    o.prog_fd = bpf_program__fd(skel->progs.lab_port);
    o.flags = BPF_TC_F_REPLACE;
    if (const int err = bpf_tc_attach(&h, &o); err != 0)
      throw PortError("attaching to " + where(dev, hook) + ": " + errstr(err));
  } catch (...) {
    lab_port__destroy(skel);
    throw;
  }
  lab_port__destroy(skel);  // the tc filter keeps the program, and the program its maps
}

void configure(const std::string& dev, Hook hook, const lab_port_config& config) {
  Instance in;
  find(dev, hook, in);
  write_config(in.config, config);
}

lab_port_config current_config(const std::string& dev, Hook hook) {
  Instance in;
  find(dev, hook, in);
  const uint32_t zero = 0;
  lab_port_config c{};
  if (bpf_map_lookup_elem(in.config, &zero, &c) != 0) throw PortError("reading the configuration: " + errstr(errno));
  return c;
}

PortReport read(const std::string& dev, Hook hook) {
  Instance in;
  find(dev, hook, in);
  PortReport r;
  r.prog_id = in.prog_id;
  const uint32_t zero = 0;
  if (bpf_map_lookup_elem(in.config, &zero, &r.config) != 0) throw PortError("reading the configuration: " + errstr(errno));
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) throw PortError("cannot count the possible CPUs: " + errstr(cpus));
  std::vector<lab_port_stats> per_cpu(static_cast<size_t>(cpus));
  if (bpf_map_lookup_elem(in.stats, &zero, per_cpu.data()) != 0) throw PortError("reading the counters: " + errstr(errno));
  for (const lab_port_stats& s : per_cpu) {
    r.stats.frames += s.frames;
    r.stats.bytes += s.bytes;
    r.stats.roce_packets += s.roce_packets;
    r.stats.roce_bytes += s.roce_bytes;
    r.stats.ce_marked += s.ce_marked;
    r.stats.ce_arrived += s.ce_arrived;
    r.stats.not_ect += s.not_ect;
    r.stats.dropped += s.dropped;
    r.stats.dropped_psns += s.dropped_psns;
    r.stats.dropped_again += s.dropped_again;
    r.stats.gso_skbs += s.gso_skbs;
  }
  lab_port_vq vq{};
  if (bpf_map_lookup_elem(in.vq, &zero, &vq) != 0) throw PortError("reading the virtual queue: " + errstr(errno));
  r.vq_backlog = vq.backlog;
  r.vq_max_backlog = vq.max_backlog;
  uint16_t key = 0, next = 0;
  const void* prev = nullptr;
  while (bpf_map_get_next_key(in.sports, prev, &next) == 0) {
    uint64_t packets = 0;
    if (bpf_map_lookup_elem(in.sports, &next, &packets) == 0) r.sport_packets[next] = packets;
    key = next;
    prev = &key;
  }
  return r;
}

void detach(const std::string& dev, Hook hook) {
  bpf_tc_hook h = make_hook(dev, hook);
  bpf_tc_opts o = make_opts();
  if (const int err = bpf_tc_detach(&h, &o); err != 0)
    throw PortError("detaching from " + where(dev, hook) + ": " + errstr(err));
}

void enter_netns(const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos) throw PortError("network namespace '" + name + "': not a name");
  Fd ns(::open(("/var/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC));
  if (ns.get() < 0) throw PortError("network namespace '" + name + "': " + errstr(errno));
  if (::setns(ns.get(), CLONE_NEWNET) != 0) throw PortError("entering network namespace '" + name + "': " + errstr(errno));
}

}  // namespace rfab::lab
