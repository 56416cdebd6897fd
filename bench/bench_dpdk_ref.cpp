// The reference the generator and the DPDK collector are measured against when dpdk-testpmd is not
// installed: testpmd's txonly and rxonly forwarding loops on one port, nothing else. txonly: per burst of
// 32, allocate the mbufs in bulk, copy one prebuilt frame (Ethernet/IPv4/UDP, testpmd's template, padded
// to --len bytes) into each, set the lengths, rte_eth_tx_burst, free what the device did not take (testpmd
// drops them too, unless --retry). rxonly: rte_eth_rx_burst bursts of 32, count packets and bytes (testpmd's
// forwarding statistics), free. Prints one JSON line: packets, bytes, seconds, pps, and the process's CPU.
//
// usage: bench_dpdk_ref txonly|rxonly SECONDS FRAME_LEN 'EAL ARGS'
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr uint16_t kBurst = 32;

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

int fail(const char* what) {
  std::fprintf(stderr, "bench_dpdk_ref: %s\n", what);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) return fail("usage: bench_dpdk_ref txonly|rxonly SECONDS FRAME_LEN 'EAL ARGS'");
  const std::string mode = argv[1];
  const double seconds = std::atof(argv[2]);
  const auto frame_len = static_cast<uint16_t>(std::atoi(argv[3]));
  if ((mode != "txonly" && mode != "rxonly") || seconds <= 0 || frame_len < 60 || frame_len > 1500)
    return fail("bad arguments (mode txonly|rxonly, seconds > 0, frame length 60..1500)");
  std::vector<std::string> words{"bench_dpdk_ref"};
  std::istringstream in(argv[4]);
  for (std::string w; in >> w;) words.push_back(w);
  std::vector<char*> eal_argv;
  for (auto& w : words) eal_argv.push_back(w.data());
  if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) return fail("EAL initialisation failed");
  if (rte_eth_dev_count_avail() == 0) return fail("no port (add --vdev=net_af_packet0,iface=IFACE)");
  const uint16_t port = 0;
  rte_mempool* pool = rte_pktmbuf_pool_create("ref_mbufs", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
  if (pool == nullptr) return fail("mbuf pool");
  rte_eth_conf conf{};
  if (rte_eth_dev_configure(port, 1, 1, &conf) != 0 || rte_eth_rx_queue_setup(port, 0, 1024, 0, nullptr, pool) != 0 ||
      rte_eth_tx_queue_setup(port, 0, 1024, 0, nullptr) != 0 || rte_eth_dev_start(port) != 0)
    return fail("port set-up");
  rte_eth_promiscuous_enable(port);

  // testpmd's txonly template: Ethernet, IPv4 198.18.0.1 -> 198.18.0.2, UDP 9 -> 9, zero payload.
  std::vector<uint8_t> tmpl(frame_len, 0);
  const uint8_t dst[6] = {0x02, 0, 0, 0, 0, 0x02}, src[6] = {0x02, 0, 0, 0, 0, 0x01};
  std::memcpy(tmpl.data(), dst, 6);
  std::memcpy(tmpl.data() + 6, src, 6);
  tmpl[12] = 0x08;
  uint8_t* ip = tmpl.data() + 14;
  ip[0] = 0x45;
  const uint16_t ip_len = static_cast<uint16_t>(frame_len - 14);
  ip[2] = static_cast<uint8_t>(ip_len >> 8);
  ip[3] = static_cast<uint8_t>(ip_len);
  ip[8] = 64;
  ip[9] = 17;
  const uint8_t sa[4] = {198, 18, 0, 1}, da[4] = {198, 18, 0, 2};
  std::memcpy(ip + 12, sa, 4);
  std::memcpy(ip + 16, da, 4);
  uint8_t* udp = ip + 20;
  udp[1] = 9;
  udp[3] = 9;
  const uint16_t udp_len = static_cast<uint16_t>(ip_len - 20);
  udp[4] = static_cast<uint8_t>(udp_len >> 8);
  udp[5] = static_cast<uint8_t>(udp_len);

  uint64_t packets = 0, bytes = 0;
  const double cpu0 = cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
  rte_mbuf* burst[kBurst];
  uint64_t iter = 0;
  for (;;) {
    if ((++iter & 255) == 0 && std::chrono::steady_clock::now() >= end) break;
    if (mode == "txonly") {
      if (rte_pktmbuf_alloc_bulk(pool, burst, kBurst) != 0) continue;
      for (auto* m : burst) {
        std::memcpy(rte_pktmbuf_mtod(m, uint8_t*), tmpl.data(), frame_len);
        m->data_len = frame_len;
        m->pkt_len = frame_len;
      }
      const uint16_t sent = rte_eth_tx_burst(port, 0, burst, kBurst);
      packets += sent;
      bytes += uint64_t{sent} * frame_len;
      if (sent < kBurst) rte_pktmbuf_free_bulk(burst + sent, kBurst - sent);
    } else {
      const uint16_t n = rte_eth_rx_burst(port, 0, burst, kBurst);
      for (uint16_t i = 0; i < n; ++i) bytes += burst[i]->pkt_len;
      packets += n;
      rte_pktmbuf_free_bulk(burst, n);
    }
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu = cpu_seconds() - cpu0;
  rte_eth_stats st{};
  rte_eth_stats_get(port, &st);
  std::printf("{\"mode\":\"%s\",\"packets\":%llu,\"bytes\":%llu,\"seconds\":%.6f,\"pps\":%.0f,\"cpu_seconds\":%.6f,"
              "\"imissed\":%llu,\"oerrors\":%llu}\n",
              mode.c_str(), static_cast<unsigned long long>(packets), static_cast<unsigned long long>(bytes), elapsed,
              static_cast<double>(packets) / elapsed, cpu, static_cast<unsigned long long>(st.imissed),
              static_cast<unsigned long long>(st.oerrors));
  rte_eth_dev_stop(port);
  rte_eal_cleanup();
  return 0;
}
