#include "coll_bench.hpp"

#include <chrono>
#include <cmath>
#include <cstring>

#include "cpu_time.hpp"
#include "rfab/collectives/half.hpp"

namespace rfab::cli {
using namespace rfab::coll;

double busbw_factor(Coll c, int n) {
  double N = n;
  switch (c) {
    case Coll::AllReduce: return n > 1 ? 2.0 * (N - 1) / N : 0.0;
    case Coll::AllGather:
    case Coll::ReduceScatter:
    case Coll::AllToAll: return n > 1 ? (N - 1) / N : 0.0;
    default: return 1.0;
  }
}

namespace {

// Inputs: rank r, element i gets 1 + (r + i) % 2 for prod (products stay small powers of two) and
// (r + 1) + i % 3 otherwise; expected results follow from that in closed form per element.
double input_value(int r, size_t i, RedOp op) {
  return op == RedOp::Prod ? 1.0 + static_cast<double>((static_cast<size_t>(r) + i) % 2)
                           : static_cast<double>(r + 1) + static_cast<double>(i % 3);
}

void store(DataType t, void* p, size_t i, double v) {
  switch (t) {
    case DataType::I8: static_cast<int8_t*>(p)[i] = static_cast<int8_t>(static_cast<int64_t>(v)); break;
    case DataType::U8: static_cast<uint8_t*>(p)[i] = static_cast<uint8_t>(static_cast<int64_t>(v)); break;
    case DataType::I32: static_cast<int32_t*>(p)[i] = static_cast<int32_t>(v); break;
    case DataType::U32: static_cast<uint32_t*>(p)[i] = static_cast<uint32_t>(v); break;
    case DataType::I64: static_cast<int64_t*>(p)[i] = static_cast<int64_t>(v); break;
    case DataType::U64: static_cast<uint64_t*>(p)[i] = static_cast<uint64_t>(v); break;
    case DataType::F16: static_cast<uint16_t*>(p)[i] = float_to_half(static_cast<float>(v)); break;
    case DataType::BF16: static_cast<uint16_t*>(p)[i] = float_to_bf16(static_cast<float>(v)); break;
    case DataType::F32: static_cast<float*>(p)[i] = static_cast<float>(v); break;
    case DataType::F64: static_cast<double*>(p)[i] = v; break;
  }
}

double load(DataType t, const void* p, size_t i) {
  switch (t) {
    case DataType::I8: return static_cast<const int8_t*>(p)[i];
    case DataType::U8: return static_cast<const uint8_t*>(p)[i];
    case DataType::I32: return static_cast<const int32_t*>(p)[i];
    case DataType::U32: return static_cast<const uint32_t*>(p)[i];
    case DataType::I64: return static_cast<double>(static_cast<const int64_t*>(p)[i]);
    case DataType::U64: return static_cast<double>(static_cast<const uint64_t*>(p)[i]);
    case DataType::F16: return half_to_float(static_cast<const uint16_t*>(p)[i]);
    case DataType::BF16: return bf16_to_float(static_cast<const uint16_t*>(p)[i]);
    case DataType::F32: return static_cast<const float*>(p)[i];
    case DataType::F64: return static_cast<const double*>(p)[i];
  }
  return 0;
}

// The reduction of input_value over n ranks, wrapped to the datatype the way the library wraps integers.
double expected_reduced(DataType t, RedOp op, int n, size_t i) {
  double acc = input_value(0, i, op);
  for (int r = 1; r < n; ++r) {
    double v = input_value(r, i, op);
    switch (op) {
      case RedOp::Sum:
      case RedOp::Avg: acc += v; break;
      case RedOp::Prod: acc *= v; break;
      case RedOp::Min: acc = std::min(acc, v); break;
      case RedOp::Max: acc = std::max(acc, v); break;
    }
  }
  if (!is_float(t)) {  // wrap like the datatype, then integer division for avg
    std::vector<unsigned char> tmp(8);
    store(t, tmp.data(), 0, acc);
    acc = load(t, tmp.data(), 0);
    if (op == RedOp::Avg) acc = std::trunc(acc / n);
    return acc;
  }
  return op == RedOp::Avg ? acc / n : acc;
}

bool close_enough(DataType t, double got, double want) {
  if (!is_float(t)) return got == want;
  double tol = t == DataType::F16 ? 1e-3 : t == DataType::BF16 ? 8e-3 : t == DataType::F32 ? 1e-6 : 1e-12;
  return std::fabs(got - want) <= tol * std::max(1.0, std::fabs(want));
}

struct Bufs {
  std::vector<unsigned char> send, recv;
};

// Shapes: elements in the send buffer and the receive buffer, for `count` = bytes / element size.
struct Shape {
  size_t send_elems, recv_elems, param;  // param: the count argument of the call
};

Shape shape(Coll c, size_t count, int n) {
  size_t N = static_cast<size_t>(n);
  switch (c) {
    case Coll::AllGather: return {count / N, (count / N) * N, count / N};
    case Coll::ReduceScatter: return {(count / N) * N, count / N, count / N};
    case Coll::AllToAll: return {(count / N) * N, (count / N) * N, count / N};
    default: return {count, count, count};
  }
}

void fill_inputs(Communicator& comm, const CollBenchOptions& o, const Shape& s, void* send) {
  int r = comm.rank();
  for (size_t i = 0; i < s.send_elems; ++i) {
    double v = input_value(r, i, o.op);
    if (o.coll == Coll::AllGather) v = input_value(r, static_cast<size_t>(r) * s.send_elems + i, o.op);
    if (o.coll == Coll::AllToAll) v = static_cast<double>(r * 7 + static_cast<int>((i / std::max<size_t>(1, s.param)) % 5));
    store(o.dtype, send, i, v);
  }
}

long count_wrong(Communicator& comm, const CollBenchOptions& o, const Shape& s, const void* recv) {
  int r = comm.rank(), n = comm.size();
  long wrong = 0;
  for (size_t i = 0; i < s.recv_elems; ++i) {
    double want;
    switch (o.coll) {
      case Coll::AllReduce: want = expected_reduced(o.dtype, o.op, n, i); break;
      case Coll::Reduce:
        if (r != o.root) return 0;
        want = expected_reduced(o.dtype, o.op, n, i);
        break;
      case Coll::ReduceScatter:
        want = expected_reduced(o.dtype, o.op, n, static_cast<size_t>(r) * s.recv_elems + i);
        break;
      case Coll::Broadcast: want = input_value(o.root, i, o.op); break;
      case Coll::AllGather: {
        size_t src = i / std::max<size_t>(1, s.param);
        want = input_value(static_cast<int>(src), i, o.op);
        break;
      }
      case Coll::AllToAll: {
        size_t src = i / std::max<size_t>(1, s.param);
        want = static_cast<double>(static_cast<int>(src) * 7 + r % 5);
        break;
      }
      case Coll::SendRecv: want = input_value((r - 1 + n) % n, i, o.op); break;
      default: want = 0;
    }
    {
      std::vector<unsigned char> tmp(8);
      store(o.dtype, tmp.data(), 0, want);
      want = load(o.dtype, tmp.data(), 0);
    }
    if (!close_enough(o.dtype, load(o.dtype, recv, i), want)) ++wrong;
  }
  return wrong;
}

void run_once(Communicator& comm, const CollBenchOptions& o, const Shape& s, const void* send, void* recv) {
  int n = comm.size(), r = comm.rank();
  switch (o.coll) {
    case Coll::AllReduce: comm.all_reduce(send, recv, s.param, o.dtype, o.op, o.algo); break;
    case Coll::Reduce: comm.reduce(send, recv, s.param, o.dtype, o.op, o.root, o.algo); break;
    case Coll::ReduceScatter: comm.reduce_scatter(send, recv, s.param, o.dtype, o.op, o.algo); break;
    case Coll::Broadcast: comm.broadcast(send, recv, s.param, o.dtype, o.root, o.algo); break;
    case Coll::AllGather: comm.all_gather(send, recv, s.param, o.dtype, o.algo); break;
    case Coll::AllToAll: comm.all_to_all(send, recv, s.param, o.dtype, o.algo); break;
    case Coll::SendRecv: {
      size_t b = s.param * dtype_size(o.dtype);
      P2POp ops[2] = {{true, (r + 1) % n, const_cast<void*>(send), b}, {false, (r - 1 + n) % n, recv, b}};
      comm.p2p(ops);
      break;
    }
    default: break;
  }
}

CollResult measure(Communicator& comm, const CollBenchOptions& o, const Shape& s, size_t bytes, bool in_place,
                   Bufs& b) {
  const size_t e = dtype_size(o.dtype);
  void* send = b.send.data();
  void* recv = b.recv.data();
  if (in_place) {
    // nccl-tests's in-place layouts: the rank's slice of the larger buffer.
    size_t r = static_cast<size_t>(comm.rank());
    if (o.coll == Coll::AllGather) {
      send = b.recv.data() + r * s.send_elems * e;
    } else if (o.coll == Coll::ReduceScatter) {
      recv = b.send.data() + r * s.recv_elems * e;
    } else {
      recv = send;
    }
  }
  fill_inputs(comm, o, s, send);
  for (int i = 0; i < o.warmup; ++i) run_once(comm, o, s, send, recv);
  comm.barrier();
  const CpuTimes cpu0 = cpu_times();
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < o.iters; ++i) run_once(comm, o, s, send, recv);
  const double iters = std::max(1, o.iters);
  double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / iters;
  const CpuTimes cpu = cpu_times() - cpu0;
  // The slowest rank defines the time, as in nccl-tests.
  double t = us;
  comm.all_reduce(&us, &t, 1, DataType::F64, RedOp::Max);
  double cpu_us[2] = {cpu.user * 1e6 / iters, cpu.sys * 1e6 / iters}, cpu_sum[2] = {0, 0};
  comm.all_reduce(cpu_us, cpu_sum, 2, DataType::F64, RedOp::Sum);
  CollResult res;
  res.time_us = t;
  res.cpu_user_us = cpu_sum[0] / comm.size();
  res.cpu_sys_us = cpu_sum[1] / comm.size();
  res.algbw = t > 0 ? static_cast<double>(bytes) / t / 1e3 : 0;
  res.busbw = res.algbw * busbw_factor(o.coll, comm.size());
  if (o.check) {
    fill_inputs(comm, o, s, send);  // in-place runs overwrote it
    run_once(comm, o, s, send, recv);
    int64_t w = count_wrong(comm, o, s, recv), total = w;
    comm.all_reduce(&w, &total, 1, DataType::I64, RedOp::Sum);
    res.wrong = static_cast<long>(total);
  }
  return res;
}

}  // namespace

std::vector<CollRow> run_coll_bench(Communicator& comm, const CollBenchOptions& o) {
  const size_t e = dtype_size(o.dtype);
  std::vector<CollRow> rows;
  Bufs b;
  size_t bytes = o.min_bytes;
  while (bytes <= o.max_bytes) {
    size_t count = bytes / e;
    Shape s = shape(o.coll, count, comm.size());
    size_t real_bytes = (o.coll == Coll::ReduceScatter ? s.send_elems
                         : o.coll == Coll::AllGather    ? s.recv_elems
                                                        : s.send_elems) * e;
    if (o.coll == Coll::AllToAll) real_bytes = s.send_elems * e;
    b.send.assign(std::max<size_t>(s.send_elems, s.recv_elems) * e + 64, 0);
    b.recv.assign(std::max<size_t>(s.send_elems, s.recv_elems) * e + 64, 0);
    CollRow row;
    row.bytes = real_bytes;
    row.count = real_bytes / e;
    row.root = (o.coll == Coll::Broadcast || o.coll == Coll::Reduce) ? o.root : -1;
    row.algo = o.coll == Coll::SendRecv ? "p2p" : std::string(algo_name(comm.algo_for(o.coll, real_bytes, o.algo)));
    row.oop = measure(comm, o, s, real_bytes, false, b);
    row.ip = measure(comm, o, s, real_bytes, true, b);
    rows.push_back(row);
    size_t next = o.step_bytes > 0 ? bytes + o.step_bytes : static_cast<size_t>(static_cast<double>(bytes) * o.factor);
    if (next <= bytes) break;
    bytes = next;
  }
  return rows;
}

}  // namespace rfab::cli
