// Writes seed inputs for the fuzzers: <out>/wire/ holds whole frames (sample frames of every opcode over
// IPv4, IPv6 and VLAN, and every frame of the Linux rxe captures); <out>/roce/ holds their UDP payloads
// (BTH .. ICRC), the input of transport-level fuzzers.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "rfab/pcap/pcap_file.hpp"
#include "rfab/wire/packet.hpp"
#include "rfab/wire/sample.hpp"

namespace fs = std::filesystem;
using namespace rfab::wire;

static void put(const fs::path& dir, int n, std::span<const uint8_t> b) {
  std::ofstream(dir / ("seed" + std::to_string(n)), std::ios::binary)
      .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
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
  std::printf("wrote %d seeds to %s\n", n, out.c_str());
  return 0;
}
