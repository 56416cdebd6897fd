#include "rfab/emu/mpi_comm.hpp"

#include <mpi.h>

#include <cstdlib>  // std::_Exit
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace rfab::emu {
namespace {

static_assert(std::is_trivially_copyable_v<RemoteEvent>, "events cross ranks as bytes");

void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) throw std::runtime_error(std::string("partitions: MPI ") + what + " failed (code " + std::to_string(rc) + ")");
}

int bytes_count(size_t events) {
  const size_t bytes = events * sizeof(RemoteEvent);
  if (bytes > size_t(std::numeric_limits<int>::max()))
    throw std::runtime_error("partitions: more than 2 GiB of events for one rank in one window");
  return int(bytes);
}

}  // namespace

MpiComm::MpiComm() {
  int initialized = 0;
  check(MPI_Initialized(&initialized), "Initialized");
  if (!initialized) {
    int provided = 0;
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SINGLE, &provided), "Init");
    finalize_ = true;
  }
  int r = 0, n = 1;
  check(MPI_Comm_rank(MPI_COMM_WORLD, &r), "Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &n), "Comm_size");
  rank_ = uint32_t(r);
  size_ = uint32_t(n);
}

MpiComm::~MpiComm() {
  if (finalize_) MPI_Finalize();
}

std::vector<RemoteEvent> MpiComm::exchange(std::vector<std::vector<RemoteEvent>> out) {
  const int n = int(size_);
  std::vector<int> send_counts(n), send_displs(n), recv_counts(n), recv_displs(n);
  std::vector<RemoteEvent> send;
  size_t total = 0;
  for (const auto& v : out) total += v.size();
  send.reserve(total);
  for (int p = 0; p < n; ++p) {
    send_displs[p] = bytes_count(send.size());
    send_counts[p] = bytes_count(out[p].size());
    send.insert(send.end(), out[p].begin(), out[p].end());
  }
  check(MPI_Alltoall(send_counts.data(), 1, MPI_INT, recv_counts.data(), 1, MPI_INT, MPI_COMM_WORLD), "Alltoall");
  size_t in_bytes = 0;
  for (int p = 0; p < n; ++p) {
    recv_displs[p] = int(in_bytes);
    in_bytes += size_t(recv_counts[p]);
    if (in_bytes > size_t(std::numeric_limits<int>::max()))
      throw std::runtime_error("partitions: more than 2 GiB of events for one rank in one window");
  }
  std::vector<RemoteEvent> in(in_bytes / sizeof(RemoteEvent));
  check(MPI_Alltoallv(send.data(), send_counts.data(), send_displs.data(), MPI_BYTE, in.data(), recv_counts.data(),
                      recv_displs.data(), MPI_BYTE, MPI_COMM_WORLD),
        "Alltoallv");
  return in;
}

void MpiComm::reduce(std::vector<uint64_t>& v, Op op) {
  MPI_Op mpi_op = op == Op::sum ? MPI_SUM : op == Op::min ? MPI_MIN : MPI_MAX;
  if (v.size() > size_t(std::numeric_limits<int>::max())) throw std::runtime_error("partitions: reduction too large");
  check(MPI_Allreduce(MPI_IN_PLACE, v.data(), int(v.size()), MPI_UINT64_T, mpi_op, MPI_COMM_WORLD), "Allreduce");
}

void MpiComm::abort(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

}  // namespace rfab::emu
