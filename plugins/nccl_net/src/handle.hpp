// The listen handle: the bytes listen() writes and NCCL carries to the connecting rank (at most
// NCCL_NET_HANDLE_MAXSIZE). It names the listener's side-channel TCP address and a nonce that the
// connection's first message must echo, so a stale handle cannot attach to another listener on a reused
// port. Byte order is fixed (big-endian), so the two ends may differ in architecture.
//
//   0  magic "RFNH"     4  version (u16)     6  IP version (4 or 6)     7  listener's device index
//   8  IP (16 bytes; IPv4 in the first 4)   24 TCP port (u16)           28 nonce (u32)
//   64 connect() progress: magic + pointer  (filled in by the connecting side, see set_stage)
//
// connect() is called again and again with the same handle until the connection is up, so it keeps its
// in-progress state in the handle itself (as NCCL's own transports do); listen() zeroes that part.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "nccl_net_v8.h"
#include "rfab/udp/address.hpp"

namespace rfab::ncclnet {

inline constexpr size_t kHandleBytes = NCCL_NET_HANDLE_MAXSIZE;

struct ListenHandle {
  udp::Address tcp;     // the listener's side-channel address (IP + TCP port)
  uint32_t nonce = 0;   // echoed by the connecting side
  uint8_t device = 0;   // the listener's device index (informational)
};

void encode_handle(const ListenHandle& h, void* out);  // writes all kHandleBytes
// The handle in `in` (kHandleBytes), or nullopt with `why` naming what is wrong.
std::optional<ListenHandle> decode_handle(const void* in, std::string& why);

// connect()'s in-progress object stored in the handle (nullptr when none).
void* stage(const void* handle);
void set_stage(void* handle, void* pending);

}  // namespace rfab::ncclnet
