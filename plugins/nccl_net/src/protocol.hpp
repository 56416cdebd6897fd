// The message protocol between a send comm and a receive comm, modelled on NCCL's own RDMA transport:
//
//   receiver, irecv(n buffers):  posts n receive WRs (no SGE: they only take the immediate data of the
//                                writes to come), then SENDs a Descriptor naming each buffer (address,
//                                rkey, size, tag) into the sender's descriptor FIFO;
//   sender,   isend(tag):        takes the oldest descriptor; finds its element with that tag (none yet:
//                                returns no request, NCCL retries); once every element of the descriptor
//                                has its isend, RDMA-WRITEs each payload WITH IMMEDIATE into its buffer;
//                                the immediate names the descriptor (sequence number) and the element;
//   receiver:                    each write's receive completion gives the bytes written (byte_len); the
//                                irecv is done when all n elements have theirs.
//
// So a payload crosses the wire once, straight into the receiver's buffer, and the sender may send less
// than the receiver posted (test() reports the size); more is a usage error (ncclInvalidUsage), as in
// NCCL's transports. The descriptor FIFO has kSlots entries; the sender keeps a receive WR posted on each.
// A receiver has at most kSlots irecvs outstanding, so a slot is free again by the time it is reused
// (NCCL keeps at most NCCL_NET_MAX_REQUESTS per comm).
//
// Descriptors are host-order structs: both ends run this plugin on the same architecture (NCCL's own
// transports make the same assumption); the listen handle and the connection record are big-endian.
#pragma once
#include <cstdint>

namespace rfab::ncclnet {

inline constexpr int kMaxRecvs = 8;   // elements per irecv (reported as maxRecvs)
inline constexpr int kSlots = 32;     // descriptor FIFO depth = irecvs outstanding per comm

struct Descriptor {
  uint32_t seq = 0;    // irecv sequence number (1, 2, ...), also in the writes' immediates
  uint32_t nreqs = 0;  // 1..kMaxRecvs
  struct Elem {
    uint64_t addr = 0;
    uint32_t rkey = 0;
    int32_t size = 0;
    int32_t tag = 0;
    uint32_t reserved = 0;
  } elems[kMaxRecvs];
};

// The immediate of a payload write: the low 29 bits of the sequence number, then the element (3 bits).
inline uint32_t make_imm(uint32_t seq, int elem) { return (seq << 3) | static_cast<uint32_t>(elem); }
inline uint32_t imm_seq(uint32_t imm) { return imm >> 3; }
inline int imm_elem(uint32_t imm) { return static_cast<int>(imm & 7); }
inline uint32_t seq_bits(uint32_t seq) { return seq & 0x1FFFFFFF; }

// Work request ids: the kind in the top byte, an index below.
enum class WrKind : uint8_t { fifo_recv = 1, payload = 2, descriptor = 3, data_recv = 4 };
inline uint64_t make_wr_id(WrKind k, uint64_t index) { return (uint64_t{static_cast<uint8_t>(k)} << 56) | index; }
inline WrKind wr_kind(uint64_t wr_id) { return static_cast<WrKind>(wr_id >> 56); }
inline uint64_t wr_index(uint64_t wr_id) { return wr_id & ((uint64_t{1} << 56) - 1); }

}  // namespace rfab::ncclnet
