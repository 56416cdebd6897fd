// rfab decode FILE.pcap: one line (or JSON object) per RoCE v2 packet, optional ICRC verification.
#include <cstdio>
#include <iostream>
#include <optional>

#include "checked_options.hpp"
#include "commands.hpp"
#include "packet_format.hpp"
#include "rfab/base/units.hpp"
#include "rfab/pcap/pcap_file.hpp"
#include "rfab/wire/opcode.hpp"

namespace rfab::cli {
namespace {

struct DecodeOptions {
  std::string file;
  bool json = false;
  bool verify_icrc = false;
  std::string filter;
  std::string opcode;
  int64_t qp = -1;
  uint16_t port = wire::kRoceV2Port;
  uint64_t count = 0;
  bool quiet = false;
};

std::optional<uint8_t> parse_opcode(const std::string& s) {
  for (auto* i = wire::opcode_table_begin(); i != wire::opcode_table_end(); ++i)
    if (s == i->name || s == i->wireshark) return i->opcode;
  try {
    return static_cast<uint8_t>(parse_u64(s, "--opcode", 0, 255));
  } catch (const ParseError&) {
    return std::nullopt;
  }
}

struct Counts {
  uint64_t frames = 0, roce = 0, non_roce = 0, malformed = 0, truncated_capture = 0, icrc_ok = 0, icrc_bad = 0,
           shown = 0;
};

int run_decode(const DecodeOptions& o) {
  std::optional<uint8_t> want_opcode;
  if (!o.opcode.empty()) {
    want_opcode = parse_opcode(o.opcode);
    if (!want_opcode) throw ExitError{2, "--opcode: unknown opcode '" + o.opcode + "'"};
  }
  pcap::Reader reader(o.file);
  if (!o.filter.empty()) reader.set_filter(o.filter);
  Counts c;
  pcap::Record rec;
  uint64_t t0 = 0;
  while (reader.next(rec)) {
    ++c.frames;
    if (c.frames == 1) t0 = rec.time_ns;
    const double t_rel = static_cast<double>(rec.time_ns - t0) / 1e9;
    auto fr = wire::decode_frame(rec.data.subspan(rec.l2_skip), rec.link, o.port);
    if (!fr) {
      const auto& e = fr.error();
      if (e.code == wire::Errc::not_ip || e.code == wire::Errc::not_udp || e.code == wire::Errc::not_roce ||
          e.code == wire::Errc::fragmented) {
        ++c.non_roce;
      } else if (e.code == wire::Errc::truncated && rec.data.size() < rec.wire_len) {
        ++c.truncated_capture;  // snaplen cut the packet: not a protocol error
      } else {
        ++c.malformed;
        if (o.json) {
          nlohmann::ordered_json j{{"frame.number", std::to_string(c.frames)},
                                   {"rfab.error", e.message()}};
          std::cout << j.dump() << "\n";
        } else {
          std::printf("%6llu malformed: %s\n", static_cast<unsigned long long>(c.frames), e.message().c_str());
        }
      }
      continue;
    }
    ++c.roce;
    const bool ok = o.verify_icrc ? wire::frame_icrc_ok(*fr) : true;
    if (o.verify_icrc) ok ? ++c.icrc_ok : ++c.icrc_bad;
    if (want_opcode && fr->roce.f.bth.opcode != *want_opcode) continue;
    if (o.qp >= 0 && fr->roce.f.bth.dest_qp != static_cast<uint32_t>(o.qp)) continue;
    if (o.count && c.shown >= o.count) continue;
    ++c.shown;
    if (o.quiet) continue;
    if (o.json)
      std::cout << format_json(c.frames, t_rel, *fr, o.verify_icrc, ok).dump() << "\n";
    else
      std::cout << format_line(c.frames, t_rel, *fr, o.verify_icrc, ok) << "\n";
  }
  if (o.json) {
    nlohmann::ordered_json s{{"rfab.summary",
                              {{"frames", c.frames}, {"roce", c.roce}, {"non_roce", c.non_roce},
                               {"malformed", c.malformed}, {"truncated_capture", c.truncated_capture}}}};
    if (o.verify_icrc) {
      s["rfab.summary"]["icrc_ok"] = c.icrc_ok;
      s["rfab.summary"]["icrc_bad"] = c.icrc_bad;
    }
    std::cout << s.dump() << "\n";
  } else {
    std::printf("# %llu frames: %llu RoCE v2, %llu other (skipped), %llu malformed, %llu cut short by snaplen",
                (unsigned long long)c.frames, (unsigned long long)c.roce, (unsigned long long)c.non_roce,
                (unsigned long long)c.malformed, (unsigned long long)c.truncated_capture);
    if (o.verify_icrc)
      std::printf("; ICRC ok %llu, bad %llu", (unsigned long long)c.icrc_ok, (unsigned long long)c.icrc_bad);
    std::printf("\n");
  }
  std::cout.flush();
  if (c.icrc_bad || c.malformed) return 1;
  // Asked to verify and verified nothing: a capture cut by its snaplen, or one without RoCE, must not pass.
  if (o.verify_icrc && c.icrc_ok == 0) {
    std::string why = "--verify-icrc: no ICRC could be verified (" + std::to_string(c.frames) + " frames, " +
                      std::to_string(c.roce) + " RoCE v2";
    if (c.truncated_capture)
      why += ", " + std::to_string(c.truncated_capture) + " cut short by the capture's snaplen: capture whole frames";
    throw ExitError{1, why + ")"};
  }
  return 0;
}

}  // namespace

void add_decode(CLI::App& app) {
  auto o = std::make_shared<DecodeOptions>();
  auto* sub = app.add_subcommand("decode", "Decode RoCE v2 packets from a pcap/pcapng capture");
  sub->add_option("file", o->file, "capture file (pcap or pcapng; Ethernet, raw IP or Linux cooked)")->required();
  sub->add_flag("--json", o->json, "one JSON object per packet, keys as Wireshark's field names");
  sub->add_flag("--verify-icrc", o->verify_icrc, "recompute every ICRC; exit 1 if any is bad");
  sub->add_option("--filter", o->filter, "tcpdump-style capture filter, e.g. 'host 10.0.0.1'");
  sub->add_option("--opcode", o->opcode, "only this opcode (name such as RC_SEND_ONLY, or number)");
  add_integer(sub, "--qp", o->qp, "only this destination QP number", 0, 0xFFFFFF);
  add_integer(sub, "--port", o->port, "RoCE v2 UDP port", 1, 65535)->capture_default_str();
  add_integer(sub, "-c,--count", o->count, "show at most this many packets (all are still verified)", 1, UINT64_MAX);
  sub->add_flag("-q,--quiet", o->quiet, "print only the summary");
  sub->callback([o] {
    int rc = run_decode(*o);
    if (rc != 0) throw ExitError{rc, ""};
  });
}

}  // namespace rfab::cli
