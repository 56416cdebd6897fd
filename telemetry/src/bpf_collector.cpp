// The libbpf side of the collector: skeleton open/configure/load, attachment as BPF links (XDP in the
// chosen mode, or tcx ingress+egress), map reads and the event ring buffer.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "libbpf_log.hpp"
#include "rfab/base/env.hpp"
#include "rfab/telemetry/collector.hpp"
#include "rfab_roce.skel.h"

namespace rfab::telemetry {
namespace {

// The per-packet path of the programs relies on this layout (bpf_types.h): the key, bytes and owner in the
// flow's first cache line, the opcode classes in the second; the PSN window's lock, expected PSN, flags and
// open-hole count in its first line.
static_assert(sizeof(rfab_flow_key) == 40);
static_assert(offsetof(rfab_flow_stats, bytes) == 40 && offsetof(rfab_flow_stats, owner_cpu_plus_one) == 48);
static_assert(offsetof(rfab_psn_window, holes) == 16 && sizeof(rfab_psn_window) % 64 == 0);
static_assert(offsetof(rfab_flow_stats, op_class) == 64);
static_assert(sizeof(rfab_flow_stats) % 64 == 0 && sizeof(rfab_flow_cache) == 4 * RFAB_FLOW_CACHE_SLOTS);

// tcx (Linux 6.6+); the libc headers this builds against may predate it.
constexpr auto kTcxIngress = static_cast<bpf_attach_type>(46);
constexpr auto kTcxEgress = static_cast<bpf_attach_type>(47);

std::string errstr(int err) { return std::strerror(err < 0 ? -err : err); }

std::string prog_name(uint32_t id) {
  int fd = bpf_prog_get_fd_by_id(id);
  if (fd < 0) return "?";
  bpf_prog_info info{};
  uint32_t len = sizeof info;
  std::string name = bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.name : "?";
  close(fd);
  return name;
}

bool is_power_of_two(uint32_t v) { return v && !(v & (v - 1)); }

// The interface's MTU in the caller's network namespace; 0 when it cannot be read.
uint32_t interface_mtu(const std::string& iface) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, iface.c_str(), IFNAMSIZ - 1);
  const int rc = ioctl(fd, SIOCGIFMTU, &ifr);
  close(fd);
  return rc == 0 && ifr.ifr_mtu > 0 ? static_cast<uint32_t>(ifr.ifr_mtu) : 0;
}

class BpfCollector final : public Collector {
 public:
  explicit BpfCollector(const CollectorConfig& cfg) : cfg_(cfg) {
    detail::install_libbpf_logger();
    check_config();
    ifindex_ = if_nametoindex(cfg_.iface.c_str());
    if (ifindex_ == 0)
      throw TelemetryError("no network interface named '" + cfg_.iface + "' (in this network namespace)");
    ncpus_ = libbpf_num_possible_cpus();
    if (ncpus_ <= 0) throw TelemetryError("cannot count possible CPUs: " + errstr(ncpus_));
    try {
      load();
      check_hook_free();
      attach();
      events_ = ring_buffer__new(bpf_map__fd(skel_->maps.rfab_events), &BpfCollector::on_event, this, nullptr);
      if (!events_) throw TelemetryError("cannot open the event ring buffer: " + errstr(errno));
    } catch (...) {
      cleanup();
      throw;
    }
  }
  ~BpfCollector() override { cleanup(); }

  const CollectorConfig& config() const override { return cfg_; }

  CollectorSnapshot snapshot() override {
    CollectorSnapshot s;
    s.taken = std::chrono::steady_clock::now();
    s.flow_map_entries = cfg_.flow_map_entries;
    std::vector<rfab_totals> percpu(static_cast<size_t>(ncpus_));
    for (uint32_t dir = 0; dir < RFAB_DIR_COUNT; ++dir) {
      if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.rfab_totals), &dir, percpu.data()) != 0)
        throw TelemetryError("reading totals map: " + errstr(errno));
      auto& t = s.totals[dir];
      for (const auto& c : percpu) {
        const auto* src = reinterpret_cast<const uint64_t*>(&c);
        auto* dst = reinterpret_cast<uint64_t*>(&t);
        for (size_t i = 0; i < sizeof(rfab_totals) / sizeof(uint64_t); ++i) dst[i] += src[i];
      }
    }
    // The index lists every flow (key -> slot); the counters are read from the mmapped flow array.
    // get_next_key walks a live hash map: an entry may be seen twice if the table grows under us, and
    // sorting + dedup below keeps the snapshot consistent.
    int fd = bpf_map__fd(skel_->maps.rfab_flow_index);
    rfab_flow_key key{}, next{};
    const void* prev = nullptr;
    while (bpf_map_get_next_key(fd, prev, &next) == 0) {
      uint32_t slot = 0;
      if (bpf_map_lookup_elem(fd, &next, &slot) == 0 && slot < cfg_.flow_map_entries) {
        FlowRecord r;
        r.key = next;
        r.stats = flows_[slot];  // 8-byte fields written by the programs: no torn values on 64-bit
        // The owner CPU's counters plus everyone else's (see struct rfab_flow_stats): in a snapshot,
        // bytes and op_class are the flow's totals, foreign_* the part of them other CPUs counted.
        r.stats.bytes += r.stats.foreign_bytes;
        r.stats.packets = 0;  // derived: every packet is counted in exactly one opcode class
        for (unsigned c = 0; c < RFAB_OPC_COUNT; ++c) {
          r.stats.op_class[c] += r.stats.foreign_op_class[c];
          r.stats.packets += r.stats.op_class[c];
        }
        r.entropies = merge_entropy(r.stats);
        // Under the window's lock (BPF_F_LOCK): the bitmap, stamps and count from one moment.
        if (bpf_map_lookup_elem_flags(bpf_map__fd(skel_->maps.rfab_psn_windows), &slot, &r.window, BPF_F_LOCK) != 0)
          throw TelemetryError("reading the PSN window of a flow: " + errstr(errno));
        // Lock-free in-order steps move only the header word: the expected PSN and flags are there.
        rfab_psn_window_take_head(&r.window, r.window.head);
        r.outstanding = outstanding_holes(r.window);
        s.flows.push_back(r);
      }
      key = next;
      prev = &key;
    }
    auto less = [](const FlowRecord& a, const FlowRecord& b) { return std::memcmp(&a.key, &b.key, sizeof a.key) < 0; };
    std::sort(s.flows.begin(), s.flows.end(), less);
    s.flows.erase(std::unique(s.flows.begin(), s.flows.end(),
                              [](const FlowRecord& a, const FlowRecord& b) {
                                return std::memcmp(&a.key, &b.key, sizeof a.key) == 0;
                              }),
                  s.flows.end());
    return s;
  }

  std::vector<Event> poll_events(std::chrono::milliseconds timeout) override {
    pending_.clear();
    // The programs wake us only when the buffer fills up (see rfab_emit), so after the wait drain
    // whatever is there.
    int n = ring_buffer__poll(events_, static_cast<int>(timeout.count()));
    if (n < 0 && n != -EINTR) throw TelemetryError("polling the event ring buffer: " + errstr(n));
    n = ring_buffer__consume(events_);
    if (n < 0) throw TelemetryError("reading the event ring buffer: " + errstr(n));
    return std::move(pending_);
  }

  void detach() override {
    for (int& fd : links_) {
      if (fd >= 0) close(fd);  // closing the last reference to a BPF link detaches it
      fd = -1;
    }
  }

 private:
  void check_config() const {
    if (cfg_.flow_map_entries == 0) throw TelemetryError("flow map size must be at least 1");
    long page = sysconf(_SC_PAGESIZE);
    if (!is_power_of_two(cfg_.ringbuf_bytes) || cfg_.ringbuf_bytes < static_cast<uint32_t>(page))
      throw TelemetryError("ring buffer size " + std::to_string(cfg_.ringbuf_bytes) +
                           " must be a power of two of at least one page (" + std::to_string(page) + ")");
    if (cfg_.cnp_burst_threshold == 0) throw TelemetryError("CNP burst threshold must be at least 1");
    if (hole_timeout_ns() > RFAB_PSN_HOLE_TIMEOUT_NS_MAX)
      throw TelemetryError("hole timeout " + std::to_string(hole_timeout_ns() / 1000000) + " ms is above the " +
                           std::to_string(RFAB_PSN_HOLE_TIMEOUT_NS_MAX / 1000000000) +
                           " s the PSN window's time stamps cover");
  }

  // The configured hole timeout, else the environment's, else the default. A malformed
  // RFAB_TELEMETRY_HOLE_TIMEOUT is an error naming it (env::EnvError).
  uint64_t hole_timeout_ns() const {
    if (cfg_.hole_timeout_ns) return *cfg_.hole_timeout_ns;
    try {
      return env::get_duration("RFAB_TELEMETRY_HOLE_TIMEOUT").value_or(RFAB_PSN_HOLE_TIMEOUT_NS_DEFAULT);
    } catch (const env::EnvError& e) {
      throw TelemetryError(e.what());
    }
  }

  void load() {
    skel_ = rfab_roce__open();
    if (!skel_) throw TelemetryError("cannot open the BPF object: " + errstr(errno) + detail::take_libbpf_log());
    skel_->rodata->rfab_roce_port = cfg_.roce_port;
    skel_->rodata->rfab_cnp_burst_window_ns = cfg_.cnp_burst_window_ns;
    skel_->rodata->rfab_cnp_burst_threshold = cfg_.cnp_burst_threshold;
    skel_->rodata->rfab_ringbuf_wakeup_bytes = cfg_.ringbuf_bytes / 4;
    skel_->rodata->rfab_flow_capacity = cfg_.flow_map_entries;
    skel_->rodata->rfab_hole_timeout_ns = hole_timeout_ns();
    // Frames longer than the link carries are GSO/GRO skbs seen whole (generic XDP): counted apart.
    if (const uint32_t mtu = interface_mtu(cfg_.iface); mtu != 0)
      skel_->rodata->rfab_max_frame_len = mtu + 14 + 2 * 4;  // Ethernet header and two VLAN tags
    bpf_map__set_max_entries(skel_->maps.rfab_flow_index, cfg_.flow_map_entries);
    bpf_map__set_max_entries(skel_->maps.rfab_flows, cfg_.flow_map_entries);
    bpf_map__set_max_entries(skel_->maps.rfab_psn_windows, cfg_.flow_map_entries);
    bpf_map__set_max_entries(skel_->maps.rfab_events, cfg_.ringbuf_bytes);
    bool xdp = cfg_.hook != Hook::tc;
    bpf_program__set_autoload(skel_->progs.rfab_xdp, xdp);
    bpf_program__set_autoload(skel_->progs.rfab_tc_in, !xdp);
    bpf_program__set_autoload(skel_->progs.rfab_tc_eg, !xdp);
    int err = rfab_roce__load(skel_);
    if (err) {
      if (err == -EPERM)
        throw TelemetryError("the kernel refused to load the BPF collector (" + errstr(err) +
                             "): run as root or with CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN");
      throw TelemetryError("loading the BPF collector failed: " + errstr(err) + "\n" + detail::take_libbpf_log());
    }
    flows_bytes_ = static_cast<size_t>(cfg_.flow_map_entries) * sizeof(rfab_flow_stats);
    void* m = mmap(nullptr, flows_bytes_, PROT_READ, MAP_SHARED, bpf_map__fd(skel_->maps.rfab_flows), 0);
    if (m == MAP_FAILED) throw TelemetryError("cannot map the flow counters: " + errstr(errno));
    flows_ = static_cast<const rfab_flow_stats*>(m);
  }

  // One rfab collector per hook and interface: a second would double-count nothing useful and its
  // detach would race the first. XDP allows one program per interface anyway; tcx allows many.
  void check_hook_free() {
    if (cfg_.hook != Hook::tc) {
      LIBBPF_OPTS(bpf_xdp_query_opts, q);
      if (bpf_xdp_query(static_cast<int>(ifindex_), 0, &q) == 0 && q.prog_id != 0) {
        std::string name = prog_name(q.prog_id);
        throw TelemetryError(cfg_.iface + " already has an XDP program attached (id " + std::to_string(q.prog_id) +
                             ", name " + name + ")" +
                             (name == "rfab_xdp" ? ": another `rfab collect` is running on it" : "") +
                             "; detach it first");
      }
      return;
    }
    for (auto type : {kTcxIngress, kTcxEgress}) {
      uint32_t ids[64] = {}, cnt = 64, flags = 0;
      if (bpf_prog_query(static_cast<int>(ifindex_), type, 0, &flags, ids, &cnt) != 0) continue;
      for (uint32_t i = 0; i < cnt && i < 64; ++i) {
        std::string name = prog_name(ids[i]);
        if (name == "rfab_tc_in" || name == "rfab_tc_eg")
          throw TelemetryError(cfg_.iface + " already has an rfab tc collector attached (program " + name + ", id " +
                               std::to_string(ids[i]) + "): another `rfab collect --hook tc` is running on it");
      }
    }
  }

  void attach() {
    if (cfg_.hook != Hook::tc) {
      LIBBPF_OPTS(bpf_link_create_opts, o);
      o.flags = cfg_.hook == Hook::xdp ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
      int fd = bpf_link_create(bpf_program__fd(skel_->progs.rfab_xdp), static_cast<int>(ifindex_), BPF_XDP, &o);
      if (fd < 0) {
        int e = -fd;
        std::string why = errstr(fd);
        if (e == EBUSY || e == EEXIST)
          why = "another XDP program is attached (another collector?)";
        else if (e == ERANGE)
          why += ": the interface MTU is larger than this driver's native XDP accepts; lower the MTU or use "
                 "--hook xdp-generic or --hook tc";
        else if (e == EOPNOTSUPP || (e == EINVAL && cfg_.hook == Hook::xdp))
          why += ": the driver may lack native XDP; try --hook xdp-generic";
        throw TelemetryError("attaching XDP (" + std::string(to_string(cfg_.hook)) + ") to " + cfg_.iface +
                             " failed: " + why);
      }
      links_[0] = fd;
      return;
    }
    const std::pair<bpf_program*, bpf_attach_type> progs[] = {{skel_->progs.rfab_tc_in, kTcxIngress},
                                                              {skel_->progs.rfab_tc_eg, kTcxEgress}};
    for (size_t i = 0; i < 2; ++i) {
      int fd = bpf_link_create(bpf_program__fd(progs[i].first), static_cast<int>(ifindex_), progs[i].second, nullptr);
      if (fd < 0) {
        std::string why = errstr(fd);
        if (fd == -EINVAL) why += " (tc links need Linux 6.6 or later: use --hook xdp-generic)";
        throw TelemetryError(std::string("attaching tc ") + (i ? "egress" : "ingress") + " to " + cfg_.iface +
                             " failed: " + why);
      }
      links_[i] = fd;
    }
  }

  static int on_event(void* ctx, void* data, size_t size) {
    auto* self = static_cast<BpfCollector*>(ctx);
    if (size < sizeof(rfab_event)) return 0;
    Event e;
    std::memcpy(&e.raw, data, sizeof e.raw);
    self->pending_.push_back(e);
    return 0;
  }

  void cleanup() {
    detach();
    if (events_) ring_buffer__free(events_);
    events_ = nullptr;
    if (flows_) munmap(const_cast<rfab_flow_stats*>(flows_), flows_bytes_);
    flows_ = nullptr;
    if (skel_) rfab_roce__destroy(skel_);
    skel_ = nullptr;
  }

  CollectorConfig cfg_;
  unsigned ifindex_ = 0;
  int ncpus_ = 0;
  rfab_roce* skel_ = nullptr;
  const rfab_flow_stats* flows_ = nullptr;  // the flow array, mmapped read-only
  size_t flows_bytes_ = 0;
  ring_buffer* events_ = nullptr;
  int links_[2] = {-1, -1};
  std::vector<Event> pending_;
};

}  // namespace

std::unique_ptr<Collector> Collector::open(const CollectorConfig& cfg) { return std::make_unique<BpfCollector>(cfg); }

}  // namespace rfab::telemetry
