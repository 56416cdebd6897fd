// Datatypes, reduction ops, algorithm names and the error type shared by every part of the library.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace rfab::coll {

enum class DataType : uint8_t { I8, U8, I32, U32, I64, U64, F16, BF16, F32, F64 };
inline constexpr int kNumDataTypes = 10;
enum class RedOp : uint8_t { Sum, Prod, Min, Max, Avg };
inline constexpr int kNumRedOps = 5;

size_t dtype_size(DataType t);
std::string_view dtype_name(DataType t);  // nccl-tests spelling: int8, uint8, ..., half, bfloat16, float, double
std::string_view op_name(RedOp op);
// Accepts nccl-tests and rfab spellings ("float", "float32", "half", "fp16", "bf16", "double", ...).
std::optional<DataType> parse_dtype(std::string_view s);
std::optional<RedOp> parse_op(std::string_view s);
bool is_float(DataType t);

enum class Coll : uint8_t { AllReduce, Broadcast, Reduce, AllGather, ReduceScatter, AllToAll, SendRecv, Barrier };
std::string_view coll_name(Coll c);

// Algorithms; Auto lets the selector choose by size and rank count.
enum class Algo : uint8_t { Auto, Ring, Rhd, RecursiveDoubling, Tree, Chain, Bruck, Pairwise, Hier };
std::string_view algo_name(Algo a);
std::optional<Algo> parse_algo(std::string_view s);

// Error categories; numerically equal to rfabResult_t.
enum class Status : int {
  Ok = 0,
  System = 2,
  Internal = 3,
  InvalidArgument = 4,
  InvalidUsage = 5,
  Remote = 6,
  InProgress = 7,
  Timeout = 8,
  Aborted = 9,
};

class Error : public std::runtime_error {
 public:
  Error(Status s, const std::string& what) : std::runtime_error(what), status_(s) {}
  Status status() const { return status_; }

 private:
  Status status_;
};

// Throws Error(System) with the errno text appended.
[[noreturn]] void throw_errno(const std::string& what);

using Clock = std::chrono::steady_clock;

// RFAB_TIMEOUT (seconds, default 30): how long any wait may go without progress.
std::chrono::milliseconds default_timeout();

}  // namespace rfab::coll
