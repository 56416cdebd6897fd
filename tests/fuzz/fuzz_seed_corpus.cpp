// Writes seed inputs for the fuzzers: <out>/wire/ holds whole frames (sample frames of every opcode over
// IPv4, IPv6 and VLAN, and every frame of the Linux rxe captures); <out>/roce/ holds their UDP payloads
// (BTH .. ICRC), the input of transport-level fuzzers. <out>/perf/, <out>/store/ and <out>/http/ hold what
// clients send to rfab's servers: perf parameter and result messages and perftest key messages, store
// requests (HELLO, SET, GET, ADD, CHECK and a rank's record), HTTP scrapes.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

#include "rfab/pcap/pcap_file.hpp"
#include "rfab/wire/packet.hpp"
#include "rfab/wire/sample.hpp"

namespace fs = std::filesystem;
using namespace rfab::wire;

static void put(const fs::path& dir, int n, std::span<const uint8_t> b) {
  std::ofstream(dir / ("seed" + std::to_string(n)), std::ios::binary)
      .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

static void put_text(const fs::path& dir, int n, const std::string& s) {
  put(dir, n, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

// A store request frame (store_protocol.hpp): u8 command, u32 key length, key, u32 value length, value.
static std::string store_frame(uint8_t cmd, const std::string& key, const std::string& value) {
  std::string f(1, static_cast<char>(cmd));
  const auto k = static_cast<uint32_t>(key.size()), v = static_cast<uint32_t>(value.size());
  f.append(reinterpret_cast<const char*>(&k), 4);
  f += key;
  f.append(reinterpret_cast<const char*>(&v), 4);
  f += value;
  return f;
}

static void peer_seeds(const fs::path& out) {
  fs::create_directories(out / "perf");
  fs::create_directories(out / "store");
  fs::create_directories(out / "http");
  const std::string params =
      "rfab-perf/1 verb=write size=65536 iters=1000 duration=0 qps=4 mtu=4096 spray=1 depth=128 slots=128 "
      "rx_depth=128 latency=0 seed=12345 recovery=selective";
  const std::string perf[] = {
      params,
      "rfab-perf/1 verb=send size=4096 iters=0 duration=2.5 qps=64 mtu=1024 spray=8 depth=16 slots=16 rx_depth=16 "
      "latency=1 seed=0 recovery=go-back-n",
      "done 10 20 30 1.5 1.25 0.001",
      "failed 0 0 0",
      // perftest key messages: with a GID (108 bytes with the NUL) and without (59).
      std::string("0000:0010:000123:abcdef:00001234:00007f0000001000:00:00:00:00:00:00:00:00:00:00:ff:ff:0a:00:00:01:"
                  "00000000:") + std::string(1, '\0'),
      std::string("0000:0010:000123:abcdef:00001234:00007f0000001000:00000000") + std::string(1, '\0'),
      std::string("6.06") + std::string(12, '\0'),
  };
  int n = 0;
  for (const auto& s : perf) put_text(out / "perf", n++, s);
  n = 0;
  put_text(out / "store", n++, store_frame(5, "job", "") + store_frame(1, "p/info/0", "h\nm\n42\n/rfab-p-0\n2"));
  put_text(out / "store", n++, store_frame(3, "p/claim/0", "1") + store_frame(3, "p/claim/0", "1"));
  put_text(out / "store", n++, store_frame(2, "k", "") + store_frame(1, "k", "v") + store_frame(4, "k", ""));
  put_text(out / "store", n++, std::string("host\nboot/host/net:[1]\n1234\n/rfab-x-0\n4"));
  n = 0;
  put_text(out / "http", n++, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9464\r\nUser-Agent: Prometheus/2.45\r\n"
                              "Accept: text/plain;version=0.0.4\r\nAccept-Encoding: gzip\r\n\r\n");
  put_text(out / "http", n++, "GET / HTTP/1.0\n\n");
  put_text(out / "http", n++, "HEAD /metrics?x=1 HTTP/1.1\r\nConnection: close\r\n\r\n");
  // rfab validate --from: records as rfab collect --json-file and rfab emulate --telemetry write them.
  fs::create_directories(out / "records");
  n = 0;
  const std::string iface =
      R"("rfab_iface_roce_packets_total":[{"labels":{"iface":"eth0","dir":"rx"},"value":10}],)"
      R"("rfab_iface_roce_bytes_total":[{"labels":{"iface":"eth0","dir":"rx"},"value":41000}],)"
      R"("rfab_iface_lost_packets_total":[{"labels":{"iface":"eth0","dir":"rx"},"value":1}],)"
      R"("rfab_roce_opcode_packets_total":[{"labels":{"iface":"eth0","src":"10.0.0.1","dst":"10.0.0.2",)"
      R"("qp":"17","dir":"rx","class":"write"},"value":9}])";
  put_text(out / "records", n++, "{\"ts_ms\":1000,\"metrics\":{" + iface + "}}\n" +
                                     R"({"event":"psn_lost","iface":"eth0","dir":"rx","qp":17,"psn":5})" + "\n" +
                                     "{\"ts_ms\":2000,\"metrics\":{" + iface + "}}\n");
  put_text(out / "records", n++, "{\"ts_ms\":0,\"ts_ns\":0,\"scope\":\"fabric\",\"metrics\":{" + iface +
                                     R"(,"rfab_iface_speed_bps":[{"labels":{"iface":"host0"},"value":1e11}]}})" + "\n" +
                                     "{\"ts_ms\":0,\"ts_ns\":40000,\"scope\":\"fabric\",\"metrics\":{" + iface +
                                     R"(,"rfab_iface_speed_bps":[{"labels":{"iface":"host0"},"value":1e11}]}})" + "\n");
  // rfab emulate's specs: the first byte picks the parser (fuzz_emu_specs.cpp).
  fs::create_directories(out / "emu_specs");
  n = 0;
  const std::pair<char, const char*> specs[] = {
      {0, "fat-tree:k=16,tiers=3,speed=400G"}, {0, "fat-tree:k=8,tiers=2,hosts=20,rails=4,latency=2us"},
      {1, "ar:view=path,quantum=16K,choices=3"}, {1, "ecmp"},
      {2, "dcqcn:preset=connectx,kmin=150000,kmax=1500000,pmax=1"}, {2, "dcqcn:g=0.00390625,rai=40Mbps"},
      {3, "link:leaf3-agg1;switch:core5"}, {3, "random-links:0.05;random-switches:2"},
      {4, "permutation:bytes=2M"}, {4, "incast:n=8,bytes=1M,dst=3"}, {4, "ring:bytes=64M,steps=5"},
      {4, "all-to-all:bytes=64K"}, {5, "step:allreduce=hier,bytes=1G,inter=rhd,gpus-per-server=8"},
      {5, "step:train=gpipe,tp=8,pp=4,ep=4,microbatches=4,grad=1G,act=16M,moe=32M,tp-bytes=16M,dp=rhd"}};
  for (const auto& [parser, spec] : specs) put_text(out / "emu_specs", n++, std::string(1, parser) + spec);
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: fuzz_seed_corpus OUTDIR [PCAPDIR]\n");
    return 2;
  }
  fs::path out = argv[1];
  fs::create_directories(out / "wire");
  fs::create_directories(out / "roce");
  int n = 0;
  auto add = [&](std::span<const uint8_t> frame) {
    put(out / "wire", n, frame);
    auto fr = decode_frame(frame);
    if (fr) put(out / "roce", n, frame.subspan(fr->roce_offset, fr->roce.length));
    ++n;
  };
  for (bool v6 : {false, true})
    for (int vlan : {-1, 5})
      for (auto& s : sample_every_opcode({.ipv6 = v6, .vlan = vlan})) add(s.bytes);
  if (argc > 2) {
    for (auto& e : fs::directory_iterator(argv[2])) {
      if (e.path().extension() != ".pcap") continue;
      rfab::pcap::Reader r(e.path().string());
      rfab::pcap::Record rec;
      while (r.next(rec)) add(rec.data);
    }
  }
  peer_seeds(out);
  std::printf("wrote %d seeds to %s (and peer-message seeds)\n", n, out.c_str());
  return 0;
}
