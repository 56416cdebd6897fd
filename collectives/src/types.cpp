#include "rfab/collectives/types.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "rfab/base/env.hpp"
#include "rfab/base/units.hpp"

namespace rfab::coll {

size_t dtype_size(DataType t) {
  switch (t) {
    case DataType::I8:
    case DataType::U8: return 1;
    case DataType::F16:
    case DataType::BF16: return 2;
    case DataType::I32:
    case DataType::U32:
    case DataType::F32: return 4;
    case DataType::I64:
    case DataType::U64:
    case DataType::F64: return 8;
  }
  return 0;
}

std::string_view dtype_name(DataType t) {
  switch (t) {
    case DataType::I8: return "int8";
    case DataType::U8: return "uint8";
    case DataType::I32: return "int32";
    case DataType::U32: return "uint32";
    case DataType::I64: return "int64";
    case DataType::U64: return "uint64";
    case DataType::F16: return "half";
    case DataType::BF16: return "bfloat16";
    case DataType::F32: return "float";
    case DataType::F64: return "double";
  }
  return "?";
}

std::string_view op_name(RedOp op) {
  switch (op) {
    case RedOp::Sum: return "sum";
    case RedOp::Prod: return "prod";
    case RedOp::Min: return "min";
    case RedOp::Max: return "max";
    case RedOp::Avg: return "avg";
  }
  return "?";
}

std::optional<DataType> parse_dtype(std::string_view s) {
  struct Name {
    std::string_view name;
    DataType type;
  };
  static constexpr Name kNames[] = {
      {"int8", DataType::I8},     {"char", DataType::I8},       {"uint8", DataType::U8},
      {"int32", DataType::I32},   {"int", DataType::I32},       {"uint32", DataType::U32},
      {"int64", DataType::I64},   {"uint64", DataType::U64},    {"half", DataType::F16},
      {"float16", DataType::F16}, {"fp16", DataType::F16},      {"bfloat16", DataType::BF16},
      {"bf16", DataType::BF16},   {"float", DataType::F32},     {"float32", DataType::F32},
      {"fp32", DataType::F32},    {"double", DataType::F64},    {"float64", DataType::F64},
      {"fp64", DataType::F64},
  };
  for (const auto& n : kNames)
    if (n.name == s) return n.type;
  return std::nullopt;
}

std::optional<RedOp> parse_op(std::string_view s) {
  for (int i = 0; i < kNumRedOps; ++i)
    if (op_name(static_cast<RedOp>(i)) == s) return static_cast<RedOp>(i);
  return std::nullopt;
}

bool is_float(DataType t) {
  return t == DataType::F16 || t == DataType::BF16 || t == DataType::F32 || t == DataType::F64;
}

std::string_view coll_name(Coll c) {
  switch (c) {
    case Coll::AllReduce: return "allreduce";
    case Coll::Broadcast: return "broadcast";
    case Coll::Reduce: return "reduce";
    case Coll::AllGather: return "allgather";
    case Coll::ReduceScatter: return "reducescatter";
    case Coll::AllToAll: return "alltoall";
    case Coll::SendRecv: return "sendrecv";
    case Coll::Barrier: return "barrier";
  }
  return "?";
}

std::string_view algo_name(Algo a) {
  switch (a) {
    case Algo::Auto: return "auto";
    case Algo::Ring: return "ring";
    case Algo::Rhd: return "rhd";
    case Algo::RecursiveDoubling: return "rd";
    case Algo::Tree: return "tree";
    case Algo::Chain: return "chain";
    case Algo::Bruck: return "bruck";
    case Algo::Pairwise: return "pairwise";
    case Algo::Hier: return "hier";
  }
  return "?";
}

std::optional<Algo> parse_algo(std::string_view s) {
  for (int i = 0; i <= static_cast<int>(Algo::Hier); ++i)
    if (algo_name(static_cast<Algo>(i)) == s) return static_cast<Algo>(i);
  return std::nullopt;
}

void throw_errno(const std::string& what) {
  int e = errno;
  throw Error(Status::System, what + ": " + std::strerror(e));
}

std::chrono::milliseconds default_timeout() {
  const std::optional<std::string> v = env::get_string("RFAB_TIMEOUT");
  if (!v) return std::chrono::seconds(30);
  double s = 0;
  try {
    s = parse_number(*v);
  } catch (const ParseError&) {
    s = -1;
  }
  if (!(s > 0) || s > 86400)
    throw Error(Status::InvalidArgument, "RFAB_TIMEOUT='" + *v + "' is not a number of seconds in (0, 86400]");
  return std::chrono::milliseconds(static_cast<long long>(s * 1000.0));
}

}  // namespace rfab::coll
