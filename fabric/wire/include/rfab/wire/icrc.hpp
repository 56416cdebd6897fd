// RoCE v2 invariant CRC (IBTA Annex A17). The ICRC is the CRC-32 of
//   8 bytes 0xFF (standing in for the absent IB LRH),
//   the IP header with the variant fields set to all ones
//     (IPv4: TOS, TTL, header checksum; IPv6: traffic class, flow label, hop limit),
//   the UDP header with its checksum set to 0xFFFF,
//   the BTH with byte 4 (FECN/BECN/reserved) set to 0xFF,
//   then the rest of the packet up to the ICRC (extension headers, payload, pad),
// complemented (zlib's final XOR) and stored little-endian in the last four bytes.
// Note what is *not* masked: the IPv4 Identification and flags, so the ICRC depends on the IP ID.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

#include "rfab/wire/error.hpp"

namespace rfab::wire {

// ICRC over `l3`, which starts at the IP header and ends just before the ICRC (IP + UDP + BTH ... pad).
// The IP version is read from the first nibble. Returns the value to store (little-endian) on the wire.
Result<uint32_t> icrc_compute(std::span<const uint8_t> l3);

// Same, for a datapath that never sees its own IP/UDP headers (a UDP socket): the caller passes the
// 28 (IPv4) or 48 (IPv6) header bytes it knows will go on the wire, and the UDP payload without ICRC.
uint32_t icrc_compute_split(std::span<const uint8_t> ip_udp_headers, std::span<const uint8_t> bth_to_pad);

// Same, for a packet whose payload is sent from elsewhere (gathered): `roce_headers` is BTH .. the last
// extension header, `payload` the payload and pad; the ICRC covers them in that order.
uint32_t icrc_compute_gather(std::span<const uint8_t> ip_udp_headers, std::span<const uint8_t> roce_headers,
                             std::span<const uint8_t> payload);

// The two halves of icrc_compute_split/_gather, for a datapath that sends or receives many packets behind
// the same IP + UDP header: the CRC state after the LRH stand-in and the masked IP + UDP header (computed
// once per header and kept), and the ICRC finished from that state over BTH .. the last extension header
// (`roce_headers`) and then `payload` (which may be empty, or hold the rest of a contiguous packet).
uint32_t icrc_ip_udp_state(std::span<const uint8_t> ip_udp_headers);
uint32_t icrc_continue(uint32_t ip_udp_state, std::span<const uint8_t> roce_headers,
                       std::span<const uint8_t> payload = {});

// Reads the ICRC stored in the last 4 bytes of `l3_with_icrc` and compares.
bool icrc_verify(std::span<const uint8_t> l3_with_icrc);

}  // namespace rfab::wire
