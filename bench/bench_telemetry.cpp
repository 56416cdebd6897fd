// bench_telemetry: packets per second through a veth pair with no collector, with the XDP collector
// (native and generic) and with the tc collector, side by side in one run, and the overhead of each.
//
// Usage: bench_telemetry [ROUNDS] [MS_PER_RUN] [PAYLOAD]; BENCH_TELEMETRY_HOOKS="tc xdp" runs only those
// hooks (and "none"), BENCH_TELEMETRY_COST_ONLY=1 only the BPF_PROG_TEST_RUN costs, BENCH_TELEMETRY_QPS=N
// spreads the frames over N QPs (flows; default 64), BENCH_TELEMETRY_BURST=B sends B packets in a row per
// QP (default 1), BENCH_TELEMETRY_AA=1 swaps the empty program with a
// second empty one in the paired runs (calibration: they should read about 0).
//
// Runs as root in a private network namespace it creates (gone when the process exits). A sender thread
// pushes pre-built RoCE v2 frames (64 QPs, in-order PSNs) into rft9a through an AF_PACKET socket; the
// rate is what rft9b's receive path completed (its rx_packets), i.e. every frame went through the hook.
// Modes are interleaved over several rounds and the median is reported, so drift on a shared machine
// hits every mode alike; a collector's cost is the median of its per-round ratios to the empty hook
// measured next to it.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "rfab/base/env.hpp"
#include "rfab/telemetry/collector.hpp"
#include "rfab/telemetry/netdev_stats.hpp"
#include "rfab/wire/icrc.hpp"
#include "rfab/wire/packet.hpp"
#include "rfab_roce.skel.h"

namespace {

using namespace std::chrono;
namespace tm = rfab::telemetry;
namespace w = rfab::wire;

// Over netlink: /sys/class/net would show the namespace sysfs was mounted in, not ours.
// QPs (flows) the frames rotate over: BENCH_TELEMETRY_QPS, default 64.
size_t g_qps = 64;
// Packets in a row per QP before the next QP's turn: BENCH_TELEMETRY_BURST, default 1 (every packet a
// different flow from the one before: the worst case for the collector's caches). A multi-packet RDMA
// message arrives as such a burst (64 KiB at MTU 4096: 16 packets).
size_t g_burst = 1;

// Frame k of the set: its QP index and its PSN in the first lap.
size_t qp_of(size_t k) { return (k / g_burst) % g_qps; }
uint32_t initial_psn(size_t k) { return static_cast<uint32_t>((k / (g_burst * g_qps)) * g_burst + k % g_burst); }

uint64_t rx_packets(const char* iface) {
  for (const auto& [name, v] : tm::read_netdev_stats(iface).link)
    if (name == "rx_packets") return v;
  throw std::runtime_error("no rx_packets for " + std::string(iface));
}

std::vector<std::vector<uint8_t>> build_frames(size_t count, size_t payload) {
  std::vector<std::vector<uint8_t>> out;
  w::FrameSpec sp;
  sp.eth.dst = {0x02, 0, 0, 0, 0, 2};
  sp.eth.src = {0x02, 0, 0, 0, 0, 1};
  sp.ip4.src = 0x0A4D0001;
  sp.ip4.dst = 0x0A4D0002;
  sp.ip4.ecn = w::Ecn::ect0;
  std::vector<uint8_t> data(payload, 0xA5);
  for (size_t i = 0; i < count; ++i) {
    w::RoceFields f;
    f.bth.opcode = w::op::RC_SEND_ONLY;
    f.bth.dest_qp = 0x100 + static_cast<uint32_t>(qp_of(i));
    f.bth.psn = initial_psn(i);
    std::vector<uint8_t> frame(w::frame_encoded_len(sp, f.bth.opcode, data.size()));
    auto n = w::encode_frame(sp, f, data, frame);
    if (!n) throw std::runtime_error(n.error().message());
    out.push_back(std::move(frame));
  }
  return out;
}

// Moves frame `f` (built with PSN `base`) on by `laps` laps of `per_qp` PSNs and rewrites its ICRC, so
// every QP's PSNs keep rising from lap to lap as an in-order stream's do. Resending the same PSNs would
// make every packet after the first lap a retransmission to the collector's PSN tracker, which takes
// its rarer (and dearer) path for those.
void advance_psn(std::vector<uint8_t>& f, uint32_t base, uint64_t laps, uint32_t per_qp) {
  constexpr size_t kL3 = 14, kPsn = 14 + 20 + 8 + 9;  // Ethernet | IPv4 | UDP | BTH (PSN in bytes 9..11)
  uint32_t psn = static_cast<uint32_t>((base + laps * per_qp) & 0xFFFFFF);
  f[kPsn] = static_cast<uint8_t>(psn >> 16);
  f[kPsn + 1] = static_cast<uint8_t>(psn >> 8);
  f[kPsn + 2] = static_cast<uint8_t>(psn);
  auto icrc = w::icrc_compute(std::span<const uint8_t>(f).subspan(kL3, f.size() - kL3 - 4));
  if (!icrc) throw std::runtime_error(icrc.error().message());
  for (int b = 0; b < 4; ++b) f[f.size() - 4 + b] = static_cast<uint8_t>(*icrc >> (8 * b));  // little-endian
}

// Sends frames round-robin until `stop`. Each lap moves every frame's PSN on by the lap's PSNs per QP
// (see advance_psn); the ICRC rewrite costs the sender the same in every mode.
void sender(const char* iface, std::vector<std::vector<uint8_t>> frames, std::atomic<bool>& stop) {
  const uint32_t per_qp = static_cast<uint32_t>(frames.size() / g_qps);
  // One CPU for the whole path: veth hands frames to the receive side (backlog, or NAPI under native
  // XDP) on the sending CPU, so with the sender pinned every mode measures the per-packet cost of one
  // core instead of wherever the scheduler put the sender that second (runs were bimodal unpinned).
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(0, &one);
  pthread_setaffinity_np(pthread_self(), sizeof one, &one);
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    std::perror("AF_PACKET socket");
    std::exit(2);
  }
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_ifindex = static_cast<int>(if_nametoindex(iface));
  sll.sll_halen = 6;
  if (bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) {
    std::perror("bind");
    std::exit(2);
  }
  constexpr size_t kBatch = 64;
  std::vector<mmsghdr> msgs(kBatch);
  std::vector<iovec> iov(kBatch);
  size_t next = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    for (size_t i = 0; i < kBatch; ++i) {
      size_t k = (next + i) % frames.size();
      auto& f = frames[k];
      if (next + i >= frames.size()) advance_psn(f, initial_psn(k), (next + i) / frames.size(), per_qp);
      iov[i] = {const_cast<uint8_t*>(f.data()), f.size()};
      msgs[i].msg_hdr = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = sendmmsg(fd, msgs.data(), kBatch, 0);
    if (n > 0) next += static_cast<size_t>(n);
    else std::this_thread::yield();  // ENOBUFS: the receiver is behind
  }
  close(fd);
}

double measure_pps(const std::vector<std::vector<uint8_t>>& frames, milliseconds span) {
  std::atomic<bool> stop{false};
  std::thread t(sender, "rft9a", frames, std::ref(stop));
  std::this_thread::sleep_for(milliseconds(200));  // warm up
  uint64_t a = rx_packets("rft9b");
  auto t0 = steady_clock::now();
  std::this_thread::sleep_for(span);
  uint64_t b = rx_packets("rft9b");
  auto t1 = steady_clock::now();
  stop = true;
  t.join();
  return static_cast<double>(b - a) / duration<double>(t1 - t0).count();
}

// The programs' own cost, free of the veth path and of the machine's load: BPF_PROG_TEST_RUN runs a
// program REPEAT times on one frame with preemption off and reports the mean time per run. Each of the
// 64 QPs' frames is run in turn, so the collector works on 64 live flows, as in the pps runs. Repeats
// run the same frame, so after the first one the PSN tracker sees retransmissions: this figure includes
// that (slightly dearer) path, which the pps runs' in-order stream does not take.
double test_run_ns(int prog_fd, const std::vector<std::vector<uint8_t>>& frames, int repeat) {
  double total = 0;
  size_t n = std::min<size_t>(frames.size(), 64);
  for (size_t i = 0; i < n; ++i) {
    LIBBPF_OPTS(bpf_test_run_opts, o);
    o.data_in = frames[i].data();
    o.data_size_in = static_cast<uint32_t>(frames[i].size());
    o.repeat = repeat;
    if (bpf_prog_test_run_opts(prog_fd, &o) != 0) throw std::runtime_error("BPF_PROG_TEST_RUN failed");
    total += o.duration;
  }
  return total / static_cast<double>(n);
}

// Loads a hand-written stand-in for the collector on the same hook type.
int load_insns(bool xdp, const char* name, const bpf_insn* insns, size_t n) {
  // Frags-aware like the collector's XDP program, so the stand-in takes the same receive path
  // (generic XDP treats skbs differently for programs that accept fragments).
  LIBBPF_OPTS(bpf_prog_load_opts, o);
  if (xdp) o.prog_flags = BPF_F_XDP_HAS_FRAGS;
  if (xdp) o.expected_attach_type = BPF_XDP;  // as libbpf loads the collector's: bpf_link_update wants them equal
  int fd = bpf_prog_load(xdp ? BPF_PROG_TYPE_XDP : BPF_PROG_TYPE_SCHED_CLS, name, "GPL", insns, n, &o);
  if (fd < 0) throw std::runtime_error(std::string("loading ") + name + " failed");
  return fd;
}

int load_nop(bool xdp) {
  const bpf_insn insns[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, xdp ? 2 /* XDP_PASS */ : -1 /* TCX_NEXT */},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  return load_insns(xdp, "rfab_bench_nop", insns, std::size(insns));
}

// A program that only reads the frame's BTH (three loads after one bounds check) and passes it: what
// touching the headers costs on this path, whatever a parser then does (BENCH_TELEMETRY_AA=read).
int load_bth_reader(bool xdp) {
  const short data = xdp ? 0 : 76, data_end = xdp ? 4 : 80;  // xdp_md / __sk_buff offsets
  const bpf_insn insns[] = {
      {BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_1, data, 0},
      {BPF_LDX | BPF_W | BPF_MEM, BPF_REG_3, BPF_REG_1, data_end, 0},
      {BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_4, BPF_REG_2, 0, 0},
      {BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_4, 0, 0, 54},  // Ethernet 14 + IPv4 20 + UDP 8 + BTH 12
      {BPF_JMP | BPF_JGT | BPF_X, BPF_REG_4, BPF_REG_3, 3, 0},
      {BPF_LDX | BPF_W | BPF_MEM, BPF_REG_5, BPF_REG_2, 42, 0},
      {BPF_LDX | BPF_W | BPF_MEM, BPF_REG_5, BPF_REG_2, 46, 0},
      {BPF_LDX | BPF_W | BPF_MEM, BPF_REG_5, BPF_REG_2, 50, 0},
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, xdp ? 2 : -1},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  return load_insns(xdp, "rfab_bench_bth", insns, std::size(insns));
}

// A program that runs through ~3 KB of code (one taken branch per 64-byte line, the rest skipped) and
// touches no data: what a collector-sized instruction footprint costs on this path (BENCH_TELEMETRY_AA=code).
int load_code_walker(bool xdp) {
  std::vector<bpf_insn> insns;
  // ifindex: never 0, but unknown to the verifier, so it keeps the skipped code (no dead-code removal).
  insns.push_back({BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_1, static_cast<short>(xdp ? 12 : 40), 0});
  constexpr int kBlocks = 48, kPad = 13;  // 13 five-byte movs: each block starts a new cache line
  for (int b = 0; b < kBlocks; ++b) {
    insns.push_back({BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, kPad, 0});
    for (int i = 0; i < kPad; ++i) insns.push_back({BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_3, 0, 0, b * 100 + i});
  }
  insns.push_back({BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, xdp ? 2 : -1});
  insns.push_back({BPF_JMP | BPF_EXIT, 0, 0, 0, 0});
  return load_insns(xdp, "rfab_bench_code", insns.data(), insns.size());
}

void print_program_cost(const std::vector<std::vector<uint8_t>>& frames) {
  constexpr int kRepeat = 20000;
  rfab_roce* skel = rfab_roce__open_and_load();
  if (!skel) throw std::runtime_error("loading the collector for BPF_PROG_TEST_RUN failed");
  int nop_xdp = load_nop(true), nop_tc = load_nop(false);
  // Interleaved rounds, medians: the collector's flows are created in the first round.
  std::vector<double> v[4];
  for (int r = 0; r < 5; ++r) {
    v[0].push_back(test_run_ns(nop_xdp, frames, kRepeat));
    v[1].push_back(test_run_ns(bpf_program__fd(skel->progs.rfab_xdp), frames, kRepeat));
    v[2].push_back(test_run_ns(nop_tc, frames, kRepeat));
    v[3].push_back(test_run_ns(bpf_program__fd(skel->progs.rfab_tc_in), frames, kRepeat));
  }
  for (auto& x : v) std::sort(x.begin(), x.end());
  std::printf("# program run time per packet (BPF_PROG_TEST_RUN, 64 flows x %d repeats of one frame each, so\n"
              "# resent PSNs: the general path, not the in-order fast path; median of 5)\n", kRepeat);
  std::printf("xdp: empty %.1f ns, rfab %.1f ns (collector work %.1f ns)\n", v[0][2], v[1][2], v[1][2] - v[0][2]);
  std::printf("tc:  empty %.1f ns, rfab %.1f ns (collector work %.1f ns)\n", v[2][2], v[3][2], v[3][2] - v[2][2]);
  close(nop_xdp);
  close(nop_tc);
  rfab_roce__destroy(skel);
}

// The same hook with a program that does nothing: separates what the hook itself costs (veth switches
// to NAPI for native XDP; XDP needs headroom, so skbs get copied) from what the collector adds.
class EmptyHook {
 public:
  EmptyHook(const char* iface, tm::Hook hook) {
    bool xdp = hook != tm::Hook::tc;
    prog_ = load_nop(xdp);
    int ifindex = static_cast<int>(if_nametoindex(iface));
    if (xdp) {
      LIBBPF_OPTS(bpf_link_create_opts, o);
      o.flags = hook == tm::Hook::xdp ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
      links_[0] = bpf_link_create(prog_, ifindex, BPF_XDP, &o);
    } else {
      links_[0] = bpf_link_create(prog_, ifindex, static_cast<bpf_attach_type>(46), nullptr);  // tcx ingress
      links_[1] = bpf_link_create(prog_, ifindex, static_cast<bpf_attach_type>(47), nullptr);  // tcx egress
    }
    if (links_[0] < 0 || (!xdp && links_[1] < 0)) throw std::runtime_error("attaching the empty program failed");
  }
  ~EmptyHook() {
    for (int fd : links_)
      if (fd >= 0) close(fd);
    close(prog_);
  }
  // Puts other programs (ingress, egress; egress only for tc) on the same links, or the empty one back
  // with run(-1, -1): bpf_link_update, no detach in between.
  void run(int in_prog, int eg_prog) {
    if (bpf_link_update(links_[0], in_prog >= 0 ? in_prog : prog_, nullptr) != 0 ||
        (links_[1] >= 0 && bpf_link_update(links_[1], eg_prog >= 0 ? eg_prog : prog_, nullptr) != 0))
      throw std::runtime_error(std::string("bpf_link_update failed: ") + std::strerror(errno));
  }

 private:
  int prog_ = -1;
  int links_[2] = {-1, -1};
};

// Mean run time per packet of the loaded program called `name`, from the kernel's own accounting
// (bpf_enable_stats must be on): unlike BPF_PROG_TEST_RUN this is the program on the real receive path,
// with whatever the kernel's own work between two packets left in the caches.
double in_path_ns(const char* name) {
  uint64_t ns = 0, cnt = 0;
  for (uint32_t id = 0; bpf_prog_get_next_id(id, &id) == 0;) {
    int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0) continue;
    bpf_prog_info info{};
    uint32_t len = sizeof info;
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && std::strcmp(info.name, name) == 0) {
      ns += info.run_time_ns;
      cnt += info.run_cnt;
    }
    close(fd);
  }
  return cnt == 0 ? 0 : static_cast<double>(ns) / static_cast<double>(cnt);
}

// Packets per second with the empty program and with the collector's program swapped in and out of the
// same attachment (bpf_link_update) every `window` while the sender keeps running: `pairs` adjacent
// pairs of windows, in ABBA order so a steady drift cancels. Returns each pair's ratio rfab / empty,
// sorted. This machine flips between a fast and a slow state within seconds, which moves the packet
// rate by far more than the collector costs; pairs 200 ms apart see the same state. The maps are the
// skeleton's own (default sizes), so this is the programs' cost, not the loader's.
std::vector<double> alternating_ratios(tm::Hook hook, const std::vector<std::vector<uint8_t>>& frames,
                                       int pairs, milliseconds window) {
  rfab_roce* skel = rfab_roce__open_and_load();
  if (!skel) throw std::runtime_error("loading the collector's programs failed");
  const bool xdp = hook != tm::Hook::tc;
  EmptyHook empty("rft9b", hook);
  // BENCH_TELEMETRY_AA=1: a second empty program stands in for the collector (calibration: reads ~0);
  // =read: the BTH reader does.
  const char* aa_env = rfab::env::raw("BENCH_TELEMETRY_AA");
  const bool aa = aa_env != nullptr;
  const std::string aa_kind = aa ? aa_env : "";
  const int nop2 = !aa                ? -1
                   : aa_kind == "read" ? load_bth_reader(xdp)
                   : aa_kind == "code" ? load_code_walker(xdp)
                                       : load_nop(xdp);
  const int rfab_in = aa ? nop2 : bpf_program__fd(xdp ? skel->progs.rfab_xdp : skel->progs.rfab_tc_in);
  const int rfab_eg = aa ? nop2 : bpf_program__fd(skel->progs.rfab_tc_eg);
  auto use = [&](bool collector) { collector ? empty.run(rfab_in, rfab_eg) : empty.run(-1, -1); };
  std::atomic<bool> stop{false};
  std::thread t(sender, "rft9a", frames, std::ref(stop));
  std::this_thread::sleep_for(milliseconds(300));  // warm up; the collector's flows get created
  auto window_pps = [&](bool collector) {
    use(collector);
    std::this_thread::sleep_for(milliseconds(20));  // let the packets in flight under the other finish
    uint64_t a = rx_packets("rft9b");
    auto t0 = steady_clock::now();
    std::this_thread::sleep_for(window);
    uint64_t b = rx_packets("rft9b");
    return static_cast<double>(b - a) / duration<double>(steady_clock::now() - t0).count();
  };
  window_pps(true);  // first packets create the flows: not measured
  std::vector<double> ratios;
  for (int i = 0; i < pairs; ++i) {
    if (i % 2 == 0) {
      double e = window_pps(false);
      ratios.push_back(window_pps(true) / e);
    } else {
      double c = window_pps(true);
      ratios.push_back(c / window_pps(false));
    }
  }
  stop = true;
  t.join();
  empty.run(-1, -1);  // before the skeleton (and nop2) go
  if (nop2 >= 0) close(nop2);
  rfab_roce__destroy(skel);
  std::sort(ratios.begin(), ratios.end());
  return ratios;
}

struct Mode {
  const char* name;
  enum { none, empty, collector } what;
  tm::Hook hook;
};

// What a mode puts on rft9b for one measurement (nothing, an empty program, or the collector).
struct Attached {
  std::unique_ptr<EmptyHook> empty;
  std::unique_ptr<tm::Collector> col;
};

Attached attach(const Mode& mode) {
  Attached a;
  if (mode.what == Mode::empty) a.empty = std::make_unique<EmptyHook>("rft9b", mode.hook);
  if (mode.what == Mode::collector) {
    tm::CollectorConfig cfg;
    cfg.iface = "rft9b";
    cfg.hook = mode.hook;
    a.col = tm::Collector::open(cfg);
  }
  return a;
}

void must(const char* cmd) {
  if (std::system(cmd) != 0) {
    std::fprintf(stderr, "bench_telemetry: command failed: %s\n", cmd);
    std::exit(2);
  }
}

}  // namespace

static int run(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 5;
  int span_ms = argc > 2 ? std::atoi(argv[2]) : 2000;
  // RoCE payload per frame: 64 (default) is the worst case for a per-packet cost; 4096 is what a RoCE
  // data stream at 4096 MTU carries (the veth then runs at MTU 9000, native XDP with fragments).
  int payload = argc > 3 ? std::atoi(argv[3]) : 64;
  if (rounds < 1 || span_ms < 100 || payload < 0 || payload > 8192) {
    std::fprintf(stderr, "usage: bench_telemetry [ROUNDS>=1 (5)] [MS_PER_RUN>=100 (2000)] [PAYLOAD 0..8192 (64)]\n");
    return 2;
  }
  if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0) {
    std::fprintf(stderr, "bench_telemetry: needs root (it creates a network namespace and attaches eBPF)\n");
    return 2;
  }
  std::ofstream("/proc/sys/net/ipv6/conf/all/disable_ipv6") << "1";
  std::ofstream("/proc/sys/net/ipv6/conf/default/disable_ipv6") << "1";
  must("ip link set lo up && ip link add rft9a type veth peer name rft9b && ip link set rft9a up && "
       "ip link set rft9b up");

  must("ip link set rft9a mtu 9000 && ip link set rft9b mtu 9000");
  if (const char* q = rfab::env::raw("BENCH_TELEMETRY_QPS")) {
    char* end = nullptr;
    g_qps = std::strtoul(q, &end, 10);
    if (end == q || *end != '\0' || g_qps < 1 || g_qps > 4096) {
      std::fprintf(stderr, "bench_telemetry: BENCH_TELEMETRY_QPS='%s': expected 1..4096\n", q);
      return 2;
    }
  }
  size_t burst = 1;
  if (const char* b = rfab::env::raw("BENCH_TELEMETRY_BURST")) {
    char* end = nullptr;
    burst = std::strtoul(b, &end, 10);
    if (end == b || *end != '\0' || burst < 1 || 256 % burst != 0) {
      std::fprintf(stderr, "bench_telemetry: BENCH_TELEMETRY_BURST='%s': expected a divisor of 256\n", b);
      return 2;
    }
  }
  print_program_cost(build_frames(64, 64));  // the programs read headers only: the payload size is moot
  if (rfab::env::raw("BENCH_TELEMETRY_COST_ONLY")) return 0;
  g_burst = burst;  // (after the cost runs, whose 64 frames are one per flow)
  auto frames = build_frames(g_qps * 256, static_cast<size_t>(payload));
  const Mode modes[] = {{"none", Mode::none, tm::Hook::xdp},
                        {"xdp/empty", Mode::empty, tm::Hook::xdp},
                        {"xdp/rfab", Mode::collector, tm::Hook::xdp},
                        {"generic/empty", Mode::empty, tm::Hook::xdp_generic},
                        {"generic/rfab", Mode::collector, tm::Hook::xdp_generic},
                        {"tc/empty", Mode::empty, tm::Hook::tc},
                        {"tc/rfab", Mode::collector, tm::Hook::tc}};
  // BENCH_TELEMETRY_HOOKS="tc xdp": only those hooks (and "none"), for quicker experiments on one hook.
  const char* only = rfab::env::raw("BENCH_TELEMETRY_HOOKS");
  auto wanted = [&](size_t m) {
    if (only == nullptr || modes[m].what == Mode::none) return true;
    const std::string name = modes[m].name;
    return std::string(" ") .append(only).append(" ").find(" " + name.substr(0, name.find('/')) + " ") != std::string::npos;
  };
  std::vector<std::vector<double>> pps(std::size(modes));
  for (int r = 0; r < rounds; ++r) {
    for (size_t i = 0; i < std::size(modes); ++i) {
      // Each collector runs right next to its empty hook, and odd rounds swap the two, so a drift in
      // the machine's speed within a round falls on both alike (see the per-round ratios below).
      size_t m = i;
      if (r % 2 == 1 && modes[i].what == Mode::empty) m = i + 1;
      else if (r % 2 == 1 && modes[i].what == Mode::collector) m = i - 1;
      if (!wanted(m)) continue;
      Attached a = attach(modes[m]);
      pps[m].push_back(measure_pps(frames, milliseconds(span_ms)));
      if (a.col) {
        auto s = a.col->snapshot();  // prove the collector saw the traffic
        const auto& in = s.totals[RFAB_DIR_INGRESS];
        if (in.roce_packets == 0) {
          std::fprintf(stderr, "bench_telemetry: %s collector counted nothing\n", modes[m].name);
          return 1;
        }
        // In-order PSNs should take the collector's common path; PSNs going backwards would mean the
        // bench measured its retransmission path instead (gaps: frames the veth dropped).
        if (in.psn_backwards != 0)
          std::fprintf(stderr, "bench_telemetry: %s saw %llu packets with PSNs going backwards\n", modes[m].name,
                       static_cast<unsigned long long>(in.psn_backwards));
      }
    }
  }
  // The programs' time on the real path, measured by the kernel (its two clock reads per run are in
  // both figures and cancel in the difference); a separate pass, since the accounting slows every packet.
  const int stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
  std::vector<std::pair<std::string, double>> in_path;
  for (size_t m = 0; m < std::size(modes) && stats_fd >= 0; ++m) {
    if (!wanted(m) || modes[m].what == Mode::none) continue;
    Attached a = attach(modes[m]);
    measure_pps(frames, milliseconds(span_ms));
    const char* prog = modes[m].what == Mode::empty ? "rfab_bench_nop"
                       : modes[m].hook == tm::Hook::tc ? "rfab_tc_in" : "rfab_xdp";
    in_path.emplace_back(modes[m].name, in_path_ns(prog));
  }
  if (stats_fd >= 0) close(stats_fd);

  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  // "vs empty hook" is the collector's own cost: the median over rounds of each round's ratio of the
  // two adjacent runs, which a machine that changes speed between rounds (this one has a fast and a
  // slow state) does not skew the way a ratio of two medians would. "vs none" adds what attaching any
  // program costs.
  auto round_ratios = [&](size_t m) {
    std::vector<double> r;
    for (size_t i = 0; i < pps[m].size(); ++i) r.push_back(pps[m][i] / pps[m - 1][i]);
    std::sort(r.begin(), r.end());
    return r;
  };
  double base = median(pps[0]);
  std::printf("# veth rft9a -> rft9b, %zu-byte RoCE v2 SEND frames, %zu QPs, %zu in a row per QP, %d rounds x "
              "%d ms, median\n",
              frames[0].size(), g_qps, g_burst, rounds, span_ms);
  std::printf("%-14s %12s %9s %15s\n", "hook/program", "packets/s", "vs none", "vs empty hook");
  for (size_t m = 0; m < std::size(modes); ++m) {
    if (!wanted(m)) continue;
    double v = median(pps[m]);
    std::printf("%-14s %12.0f %8.1f%%", modes[m].name, v, (v / base - 1) * 100);
    if (modes[m].what == Mode::collector) {
      auto r = round_ratios(m);
      std::printf(" %14.1f%%   (rounds %.1f .. %.1f%%)", (median(r) - 1) * 100, (r.front() - 1) * 100,
                  (r.back() - 1) * 100);
    }
    std::printf("\n");
  }
  if (!in_path.empty()) {
    std::printf("# program time per packet on the real path (kernel BPF stats, one run each)\n");
    for (size_t i = 0; i + 1 < in_path.size(); i += 2)
      std::printf("%-14s %.1f ns, %s %.1f ns: collector work %.1f ns\n", in_path[i].first.c_str(), in_path[i].second,
                  in_path[i + 1].first.c_str(), in_path[i + 1].second, in_path[i + 1].second - in_path[i].second);
  }
  // The collector's cost again, from pairs of short windows with the programs swapped on one link.
  constexpr int kPairs = 20;
  std::printf("# the same, the empty and the collector's program swapped on one attachment every %d ms, "
              "%d pairs\n", span_ms / 5, kPairs);
  std::vector<std::pair<std::string, double>> paired;
  for (tm::Hook h : {tm::Hook::xdp, tm::Hook::xdp_generic, tm::Hook::tc}) {
    const char* name = h == tm::Hook::xdp ? "xdp" : h == tm::Hook::xdp_generic ? "generic" : "tc";
    if (only != nullptr && std::string(" ").append(only).append(" ").find(std::string(" ") + name + " ") == std::string::npos)
      continue;
    auto r = alternating_ratios(h, frames, kPairs, milliseconds(span_ms / 5));
    double med = (r[r.size() / 2 - 1] + r[r.size() / 2]) / 2;
    std::printf("%-14s vs empty hook %6.1f%%   (quartiles %.1f .. %.1f%%)\n", name, (med - 1) * 100,
                (r[r.size() / 4] - 1) * 100, (r[r.size() * 3 / 4] - 1) * 100);
    paired.emplace_back(name, (med - 1) * 100);
  }
  std::printf("{\"bench\":\"telemetry\",\"frame_bytes\":%zu,\"qps\":%zu,\"burst\":%zu,\"rounds\":%d",
              frames[0].size(), g_qps, g_burst, rounds);
  for (size_t m = 0; m < std::size(modes); ++m)
    if (wanted(m)) std::printf(",\"%s\":%.0f", modes[m].name, median(pps[m]));
  for (const auto& [name, pct] : paired) std::printf(",\"%s_paired_pct\":%.2f", name.c_str(), pct);
  std::printf("}\n");
  return 0;
}

// A failed load, attach or link update ends the run with a message naming it, not std::terminate.
int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_telemetry: %s\n", e.what());
    return 2;
  }
}
