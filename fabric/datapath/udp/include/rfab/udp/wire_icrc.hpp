// The ICRC of a RoCE v2 packet sent or received through a kernel UDP socket. The socket never shows us the
// IP/UDP headers, so we rebuild the bytes that the ICRC covers from what we do know:
//   sending   : source/destination address and port, the datagram length, and the IPv4 Identification
//               that the kernel will write (0 for a datagram from an unconnected IP_PMTUDISC_DO socket, and
//               i for segment i of a UDP GSO send: see docs/udp-datapath.md, checked by a capture test);
//   receiving : the same, except the IPv4 Identification, which a socket never sees. IPv6 has no ID, so an
//               IPv6 ICRC is verified exactly. For IPv4 the verifier solves the ICRC for the ID (the CRC is
//               affine in the ID bits, ipv4_id_solver.hpp) and accepts the packet iff some ID explains it:
//               any ID by default (Linux rxe's IDs are arbitrary), a corrupted packet then passes with
//               probability 2^-16; a caller that knows its peers are rfab (IDs = GSO segment index) can
//               restrict the IDs to a window, and a corrupted packet passes with probability window / 2^32.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "rfab/udp/address.hpp"
#include "rfab/udp/ipv4_id_solver.hpp"

namespace rfab::udp {

inline constexpr size_t kIpv4UdpHeaderLen = 28, kIpv6UdpHeaderLen = 48;
// Segments one UDP GSO send may carry (the kernel's UDP_MAX_SEGMENTS on older kernels is 64).
inline constexpr unsigned kMaxGsoSegments = 64;
// An IPv4 ID window that accepts every ID (what a peer such as Linux rdma_rxe may send).
inline constexpr unsigned kAnyIpv4Id = 65536;

// Writes the IP + UDP header the kernel puts on the wire for a datagram of `udp_payload_len` bytes from
// `src` to `dst` (ports included), with IPv4 Identification `ip_id` and DF set. Variant fields the ICRC
// masks (TOS/traffic class, TTL/hop limit, checksums, flow label) are left zero. Returns bytes written
// (28 or 48); `out` must hold 48.
size_t wire_ip_udp_header(const Address& src, const Address& dst, size_t udp_payload_len, uint16_t ip_id,
                          uint8_t* out);

// ICRC states after the IP + UDP header (wire::icrc_ip_udp_state) of recently used (source, destination,
// datagram length, IPv4 ID) combinations. A stream repeats a handful of them (one per GSO segment index and
// packet length), and rebuilding and CRCing the header per packet costs more than finding it here.
// Direct-mapped; a miss computes the state and replaces the slot.
class IcrcHeaderCache {
 public:
  uint32_t state(const Address& src, const Address& dst, size_t udp_payload_len, uint16_t ip_id);

 private:
  struct Slot {
    Address src, dst;
    size_t len = SIZE_MAX;  // matches no datagram: the slot is empty
    uint16_t id = 0;
    uint32_t state = 0;
  };
  std::array<Slot, 64> slots_{};
};

// Computes the ICRC for the datagram `udp_payload` (BTH .. pad + 4-byte ICRC slot) as it will go on the
// wire and stores it (little-endian) in the last 4 bytes.
void fill_icrc(const Address& src, const Address& dst, uint16_t ip_id, std::span<uint8_t> udp_payload);
void fill_icrc(IcrcHeaderCache& cache, const Address& src, const Address& dst, uint16_t ip_id,
               std::span<uint8_t> udp_payload);

// The same for a gathered datagram (headers BTH .. + payload + 4-byte ICRC, the pieces elsewhere):
// computes the ICRC and stores it (little-endian) at `icrc_slot`.
void fill_icrc_gather(const Address& src, const Address& dst, uint16_t ip_id, std::span<const uint8_t> headers,
                      std::span<const uint8_t> payload, uint8_t* icrc_slot);
void fill_icrc_gather(IcrcHeaderCache& cache, const Address& src, const Address& dst, uint16_t ip_id,
                      std::span<const uint8_t> headers, std::span<const uint8_t> payload, uint8_t* icrc_slot);

// Receive-side ICRC check (see the header comment for what is and isn't verified).
class IcrcVerifier {
 public:
  // ipv4_id_window: IPv4 IDs accepted (0 .. window-1), clamped to 1 .. kAnyIpv4Id. kAnyIpv4Id accepts any
  // ID; kMaxGsoSegments only IDs an rfab sender writes (GSO segment index); 1 only ID 0 (no GSO).
  explicit IcrcVerifier(unsigned ipv4_id_window = kAnyIpv4Id);
  // True when the ICRC in the last 4 bytes of `udp_payload` matches a packet from `src` to `dst`.
  bool verify(const Address& src, const Address& dst, std::span<const uint8_t> udp_payload);
  // The same check, with `payload` (a part of `udp_payload` after the RoCE headers) copied to `out` while
  // it is CRCed: one pass over the payload. `out` holds the copy whatever the verdict, so it must be memory
  // whose contents do not count until the packet has been accepted.
  bool verify_copy(const Address& src, const Address& dst, std::span<const uint8_t> udp_payload,
                   std::span<const uint8_t> payload, uint8_t* out);
  // IPv4 ID recovered by the last successful IPv4 verify (for tests and counters); 0 after IPv6.
  uint16_t last_ipv4_id() const { return last_id_; }

 private:
  // Accepts the ICRC `crc0` computed for IPv4 ID 0 against the `stored` one (solving for the ID).
  bool accept(const Address& dst, uint32_t crc0, uint32_t stored, size_t body_len);

  unsigned window_;
  uint16_t last_id_ = 0;
  Ipv4IdSolver solver_;
  IcrcHeaderCache headers_;
};

}  // namespace rfab::udp
