#include "packet_format.hpp"

#include <arpa/inet.h>

#include <cstdio>

namespace rfab::cli {
namespace {

// tshark shows byte-array fields (ImmDt, IETH) as colon-separated hex bytes.
std::string colon_bytes(uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "%02x:%02x:%02x:%02x", v >> 24, (v >> 16) & 0xFF, (v >> 8) & 0xFF, v & 0xFF);
  return b;
}

std::string hex(uint64_t v, int width) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%0*llx", width, static_cast<unsigned long long>(v));
  return b;
}

const char* ecn_name(wire::Ecn e) {
  switch (e) {
    case wire::Ecn::not_ect: return "not-ect";
    case wire::Ecn::ect1: return "ect1";
    case wire::Ecn::ect0: return "ect0";
    case wire::Ecn::ce: return "CE";
  }
  return "?";
}

const char* aeth_text(const wire::Aeth& a) {
  switch (a.type()) {
    case wire::AckType::ack: return "ACK";
    case wire::AckType::rnr_nak: return "RNR-NAK";
    case wire::AckType::nak:
      switch (a.value()) {
        case 0: return "NAK-PSN-SEQ";
        case 1: return "NAK-INV-REQ";
        case 2: return "NAK-REM-ACCESS";
        case 3: return "NAK-REM-OP";
        case 4: return "NAK-INV-RD";
        default: return "NAK-?";
      }
    default: return "RESERVED";
  }
}

// tshark prints the ICRC as the four wire bytes read big-endian.
uint32_t icrc_as_tshark(uint32_t stored_le) { return __builtin_bswap32(stored_le); }

}  // namespace

std::string format_ip(const wire::Frame& f, bool src) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (f.ipv6) {
    inet_ntop(AF_INET6, src ? f.ip6.src.data() : f.ip6.dst.data(), buf, sizeof buf);
  } else {
    uint32_t a = htonl(src ? f.ip4.src : f.ip4.dst);
    inet_ntop(AF_INET, &a, buf, sizeof buf);
  }
  return buf;
}

std::string format_line(uint64_t frame_no, double t_rel, const wire::Frame& f, bool show_icrc, bool icrc_ok) {
  const auto& r = f.roce;
  const auto& b = r.f.bth;
  char buf[512];
  int n = std::snprintf(buf, sizeof buf, "%6llu %12.6f %s:%u -> %s:%u %-32s qp=0x%06x psn=%u%s%s",
                        static_cast<unsigned long long>(frame_no), t_rel, format_ip(f, true).c_str(),
                        f.udp.src_port, format_ip(f, false).c_str(), f.udp.dst_port,
                        std::string(r.info->name).c_str(), b.dest_qp, b.psn, b.ack_req ? " A" : "",
                        b.se ? " SE" : "");
  std::string s(buf, static_cast<size_t>(n));
  if (r.f.has(wire::kReth)) {
    std::snprintf(buf, sizeof buf, " va=0x%llx rkey=0x%x len=%u",
                  static_cast<unsigned long long>(r.f.reth.va), r.f.reth.rkey, r.f.reth.dma_len);
    s += buf;
  }
  if (r.f.has(wire::kAtomicEth)) {
    std::snprintf(buf, sizeof buf, " va=0x%llx rkey=0x%x swap/add=0x%llx cmp=0x%llx",
                  static_cast<unsigned long long>(r.f.atomic.va), r.f.atomic.rkey,
                  static_cast<unsigned long long>(r.f.atomic.swap_add),
                  static_cast<unsigned long long>(r.f.atomic.compare));
    s += buf;
  }
  if (r.f.has(wire::kAeth)) {
    std::snprintf(buf, sizeof buf, " %s syn=0x%02x msn=%u", aeth_text(r.f.aeth), r.f.aeth.syndrome, r.f.aeth.msn);
    s += buf;
  }
  if (r.f.has(wire::kAtomicAckEth)) {
    std::snprintf(buf, sizeof buf, " orig=0x%llx", static_cast<unsigned long long>(r.f.atomic_ack.orig));
    s += buf;
  }
  if (r.f.has(wire::kImmDt)) {
    std::snprintf(buf, sizeof buf, " imm=0x%08x", r.f.imm);
    s += buf;
  }
  if (r.f.has(wire::kIeth)) {
    std::snprintf(buf, sizeof buf, " inv_rkey=0x%x", r.f.ieth_rkey);
    s += buf;
  }
  if (r.f.has(wire::kDeth)) {
    std::snprintf(buf, sizeof buf, " qkey=0x%x srcqp=0x%06x", r.f.deth.qkey, r.f.deth.src_qp);
    s += buf;
  }
  std::snprintf(buf, sizeof buf, " payload=%zu", r.payload.size());
  s += buf;
  if (show_icrc) s += icrc_ok ? " icrc=ok" : " icrc=BAD";
  if (f.ecn() != wire::Ecn::not_ect) {
    s += " ecn=";
    s += ecn_name(f.ecn());
  }
  if (f.eth.vlan_count) {
    std::snprintf(buf, sizeof buf, " vlan=%u pcp=%u", f.eth.vlan[0].vid, f.eth.vlan[0].pcp);
    s += buf;
  }
  return s;
}

nlohmann::ordered_json format_json(uint64_t frame_no, double t_rel, const wire::Frame& f, bool with_icrc,
                                   bool icrc_ok) {
  using std::to_string;
  const auto& r = f.roce;
  const auto& b = r.f.bth;
  nlohmann::ordered_json j;
  j["frame.number"] = to_string(frame_no);
  char tbuf[32];
  std::snprintf(tbuf, sizeof tbuf, "%.9f", t_rel);
  j["frame.time_relative"] = tbuf;
  if (f.eth.vlan_count) {
    j["vlan.priority"] = to_string(f.eth.vlan[0].pcp);
    j["vlan.id"] = to_string(f.eth.vlan[0].vid);
  }
  if (f.ipv6) {
    j["ipv6.src"] = format_ip(f, true);
    j["ipv6.dst"] = format_ip(f, false);
    j["ipv6.tclass.dscp"] = to_string(f.ip6.dscp);
    j["ipv6.tclass.ecn"] = to_string(static_cast<int>(f.ip6.ecn));
  } else {
    j["ip.src"] = format_ip(f, true);
    j["ip.dst"] = format_ip(f, false);
    j["ip.id"] = hex(f.ip4.id, 4);
    j["ip.dsfield.dscp"] = to_string(f.ip4.dscp);
    j["ip.dsfield.ecn"] = to_string(static_cast<int>(f.ip4.ecn));
  }
  j["udp.srcport"] = to_string(f.udp.src_port);
  j["udp.dstport"] = to_string(f.udp.dst_port);
  j["infiniband.bth.opcode"] = to_string(b.opcode);
  j["rfab.opcode_name"] = std::string(r.info->name);
  j["infiniband.bth.se"] = b.se ? "1" : "0";
  j["infiniband.bth.m"] = b.mig ? "1" : "0";
  j["infiniband.bth.padcnt"] = to_string(b.pad);
  j["infiniband.bth.tver"] = to_string(b.tver);
  j["infiniband.bth.p_key"] = to_string(b.pkey);
  j["infiniband.bth.destqp"] = hex(b.dest_qp, 6);
  j["infiniband.bth.a"] = b.ack_req ? "1" : "0";
  j["infiniband.bth.psn"] = to_string(b.psn);
  if (r.f.has(wire::kDeth)) {
    j["infiniband.deth.q_key"] = hex(r.f.deth.qkey, 16);
    j["infiniband.deth.srcqp"] = hex(r.f.deth.src_qp, 8);
  }
  if (r.f.has(wire::kReth)) {
    j["infiniband.reth.va"] = hex(r.f.reth.va, 16);
    j["infiniband.reth.r_key"] = hex(r.f.reth.rkey, 8);
    j["infiniband.reth.dmalen"] = to_string(r.f.reth.dma_len);
  }
  if (r.f.has(wire::kAtomicEth)) {
    j["infiniband.reth.va"] = hex(r.f.atomic.va, 16);  // Wireshark shares these names
    j["infiniband.reth.r_key"] = hex(r.f.atomic.rkey, 8);
    j["infiniband.atomiceth.swapdt"] = to_string(r.f.atomic.swap_add);
    j["infiniband.atomiceth.cmpdt"] = to_string(r.f.atomic.compare);
  }
  if (r.f.has(wire::kAeth)) {
    j["infiniband.aeth.syndrome"] = to_string(r.f.aeth.syndrome);
    j["infiniband.aeth.msn"] = to_string(r.f.aeth.msn);
  }
  if (r.f.has(wire::kAtomicAckEth)) j["infiniband.atomicacketh.origremdt"] = to_string(r.f.atomic_ack.orig);
  if (r.f.has(wire::kImmDt)) j["infiniband.immdt"] = colon_bytes(r.f.imm);
  if (r.f.has(wire::kIeth)) j["infiniband.ieth"] = colon_bytes(r.f.ieth_rkey);
  j["infiniband.invariant.crc"] = hex(icrc_as_tshark(r.icrc), 8);
  j["rfab.payload_length"] = r.payload.size();
  if (with_icrc) j["rfab.icrc_ok"] = icrc_ok;
  return j;
}

}  // namespace rfab::cli
