// rfab synth OUT.pcap: write RoCE v2 traffic built by rfab's encoder (every opcode, IPv4/IPv6, VLAN), for
// demos, for checking a decoder (tshark, rfab decode) and for replaying into a collector.
#include <iostream>

#include "checked_options.hpp"
#include "commands.hpp"
#include "rfab/pcap/pcap_file.hpp"
#include "rfab/wire/sample.hpp"

namespace rfab::cli {
namespace {

struct SynthOptions {
  std::string out;
  bool ipv6 = false;
  int vlan = -1;
  unsigned rounds = 1;
  unsigned corrupt_every = 0;
  bool json = false;
};

void run_synth(const SynthOptions& o) {
  pcap::Writer w(o.out);  // its errors (cannot create, disk full) reach main(): exit 2 with the message
  uint64_t t = 1'700'000'000'000'000'000ull, n = 0, corrupted = 0;
  for (unsigned r = 0; r < o.rounds; ++r) {
    wire::SampleOptions so;
    so.ipv6 = o.ipv6;
    so.vlan = o.vlan;
    so.seed = r + 1;
    for (auto& s : wire::sample_every_opcode(so)) {
      ++n;
      if (o.corrupt_every && n % o.corrupt_every == 0) {
        s.bytes[s.bytes.size() - 5] ^= 0x01;  // last payload/header byte before the ICRC
        ++corrupted;
      }
      w.write(t, s.bytes);
      t += 1000;
    }
  }
  w.close();  // a full disk fails here (or in write()), never after "wrote N frames"
  if (o.json)
    std::cout << "{\"file\":\"" << o.out << "\",\"frames\":" << n << ",\"corrupted\":" << corrupted << "}\n";
  else
    std::cout << "wrote " << n << " RoCE v2 frames to " << o.out << " (" << corrupted << " with a corrupted byte)\n";
}

}  // namespace

void add_synth(CLI::App& app) {
  auto o = std::make_shared<SynthOptions>();
  auto* sub = app.add_subcommand("synth", "Write a pcap of RoCE v2 frames of every opcode, built by rfab's encoder");
  sub->add_option("out", o->out, "output pcap file")->required();
  sub->add_flag("--ipv6", o->ipv6, "IPv6 instead of IPv4");
  add_integer(sub, "--vlan", o->vlan, "802.1Q VLAN id (priority 3)", 0, 4095);
  add_integer(sub, "--rounds", o->rounds, "frames of every opcode, this many times", 1, 1000000);
  add_integer(sub, "--corrupt-every", o->corrupt_every, "flip a bit in every Nth frame (its ICRC then fails)", 1,
              UINT32_MAX);
  sub->add_flag("--json", o->json, "JSON summary");
  sub->callback([o] {
    try {
      run_synth(*o);
    } catch (const std::runtime_error& e) {  // the pcap writer: cannot create, write failed (disk full)
      throw ExitError{1, e.what()};
    }
  });
}

}  // namespace rfab::cli
