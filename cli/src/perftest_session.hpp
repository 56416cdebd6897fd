// `rfab perf --perftest`: one side of a perftest bandwidth test (ib_write_bw, ib_read_bw, ib_send_bw; RC, no
// rdma_cm). The TCP side channel is perftest's own (rfab/sidechannel/perftest_protocol.hpp), so the peer is a stock
// perftest binary (on an RNIC or Linux rdma_rxe) or another rfab in this mode; -s/-n/-q must match on both
// sides, as between two perftests. The queue pairs are rfab's RC engine over kernel UDP, or with --verbs an
// RDMA device through libibverbs (perf_backend.hpp).
//
// What is checked, since perftest's own buffers are random and never shown:
//   write, rfab server: every 8-byte word of each QP's target region was overwritten, the guard behind it
//                       was not; the client's report names the same size and iterations
//   read,  rfab client: every READ overwrote every word of its local slot, and all READs of a QP returned
//                       identical bytes (the server's buffer does not change)
//   read,  rfab server: our buffer is unchanged (READs must not write)
//   send,  rfab server: exactly -n messages per QP, each of -s bytes
//   write/send, rfab client: every operation completed successfully (acknowledged by the peer)
// Over verbs the device hides the packets: a dead client shows as the side channel closing, not as silence.
// Throws ExitError{2} for setup/protocol errors and ExitError{1} for transfer or check failures.
#pragma once
#include "perf_options.hpp"

namespace rfab::cli::perf {

Result run_perftest_session(const Options& o);

}  // namespace rfab::cli::perf
