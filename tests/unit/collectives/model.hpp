// Test data and serial reference results for every datatype and op: deterministic inputs per
// (rank, element, salt), the expected reduction computed serially, and comparison (exact for integers,
// bounded relative error for floating point).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "rfab/collectives/half.hpp"
#include "rfab/collectives/types.hpp"

namespace rfab::coll::test {

template <class T>
struct IntModel {
  using U = std::make_unsigned_t<T>;
  static T gen(size_t j, int r, int salt, RedOp op) {
    long k = static_cast<long>((j * 131 + static_cast<size_t>(r) * 31 + static_cast<size_t>(salt) * 7) % 19);
    if (op == RedOp::Prod) {
      long v = k % 3 + 1;
      return static_cast<T>(std::is_signed_v<T> && (k % 5 == 0) ? -v : v);
    }
    if constexpr (std::is_signed_v<T>) return static_cast<T>(k - 9);
    return static_cast<T>(k * 13 + (j & 0xff));  // wraps for uint8 on purpose: sums wrap too
  }
  static T combine(T a, T b, RedOp op) {
    switch (op) {
      case RedOp::Sum:
      case RedOp::Avg: return static_cast<T>(static_cast<U>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b)));
      case RedOp::Prod: return static_cast<T>(static_cast<U>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b)));
      case RedOp::Min: return b < a ? b : a;
      case RedOp::Max: return a < b ? b : a;
    }
    return a;
  }
  static T finish(T v, RedOp op, int n) { return op == RedOp::Avg ? static_cast<T>(v / static_cast<T>(n)) : v; }
};

// Floating point: the test keeps every partial result exactly representable (sums of quarters, products
// of powers of two), so only Avg's final division rounds; the tolerance covers that and fp16/bf16 storage.
inline double float_gen(size_t j, int r, int salt, RedOp op) {
  long k = static_cast<long>((j * 131 + static_cast<size_t>(r) * 31 + static_cast<size_t>(salt) * 7) % 17);
  if (op == RedOp::Prod) {
    static const double v[] = {0.5, 1.0, 2.0, -1.0, -0.5};
    return v[k % 5];
  }
  return static_cast<double>(k - 8) / 4.0;
}

struct Model {
  DataType t;
  size_t esz;
  // Writes n elements starting at global element index `first`.
  void fill(void* buf, size_t first, size_t n, int rank, int salt, RedOp op) const;
  // Expected reduction over ranks 0..nranks-1 of elements [first, first+n).
  void expect(void* out, size_t first, size_t n, int nranks, int salt, RedOp op) const;
  // Returns an empty string when equal, else a description of the first mismatch.
  std::string compare(const void* got, const void* want, size_t n) const;
};

template <class T>
void fill_int(void* buf, size_t first, size_t n, int rank, int salt, RedOp op) {
  T* p = static_cast<T*>(buf);
  for (size_t i = 0; i < n; ++i) p[i] = IntModel<T>::gen(first + i, rank, salt, op);
}
template <class T>
void expect_int(void* out, size_t first, size_t n, int nranks, int salt, RedOp op) {
  T* p = static_cast<T*>(out);
  for (size_t i = 0; i < n; ++i) {
    T acc = IntModel<T>::gen(first + i, 0, salt, op);
    for (int r = 1; r < nranks; ++r) acc = IntModel<T>::combine(acc, IntModel<T>::gen(first + i, r, salt, op), op);
    p[i] = IntModel<T>::finish(acc, op, nranks);
  }
}

inline double load_f(DataType t, const void* p, size_t i) {
  switch (t) {
    case DataType::F16: return half_to_float(static_cast<const uint16_t*>(p)[i]);
    case DataType::BF16: return bf16_to_float(static_cast<const uint16_t*>(p)[i]);
    case DataType::F32: return static_cast<const float*>(p)[i];
    default: return static_cast<const double*>(p)[i];
  }
}
inline void store_f(DataType t, void* p, size_t i, double v) {
  switch (t) {
    case DataType::F16: static_cast<uint16_t*>(p)[i] = float_to_half(static_cast<float>(v)); break;
    case DataType::BF16: static_cast<uint16_t*>(p)[i] = float_to_bf16(static_cast<float>(v)); break;
    case DataType::F32: static_cast<float*>(p)[i] = static_cast<float>(v); break;
    default: static_cast<double*>(p)[i] = v; break;
  }
}

inline void Model::fill(void* buf, size_t first, size_t n, int rank, int salt, RedOp op) const {
  switch (t) {
    case DataType::I8: return fill_int<int8_t>(buf, first, n, rank, salt, op);
    case DataType::U8: return fill_int<uint8_t>(buf, first, n, rank, salt, op);
    case DataType::I32: return fill_int<int32_t>(buf, first, n, rank, salt, op);
    case DataType::U32: return fill_int<uint32_t>(buf, first, n, rank, salt, op);
    case DataType::I64: return fill_int<int64_t>(buf, first, n, rank, salt, op);
    case DataType::U64: return fill_int<uint64_t>(buf, first, n, rank, salt, op);
    default:
      for (size_t i = 0; i < n; ++i) store_f(t, buf, i, float_gen(first + i, rank, salt, op));
  }
}

inline void Model::expect(void* out, size_t first, size_t n, int nranks, int salt, RedOp op) const {
  switch (t) {
    case DataType::I8: return expect_int<int8_t>(out, first, n, nranks, salt, op);
    case DataType::U8: return expect_int<uint8_t>(out, first, n, nranks, salt, op);
    case DataType::I32: return expect_int<int32_t>(out, first, n, nranks, salt, op);
    case DataType::U32: return expect_int<uint32_t>(out, first, n, nranks, salt, op);
    case DataType::I64: return expect_int<int64_t>(out, first, n, nranks, salt, op);
    case DataType::U64: return expect_int<uint64_t>(out, first, n, nranks, salt, op);
    default:
      for (size_t i = 0; i < n; ++i) {
        double acc = float_gen(first + i, 0, salt, op);
        for (int r = 1; r < nranks; ++r) {
          double v = float_gen(first + i, r, salt, op);
          switch (op) {
            case RedOp::Sum:
            case RedOp::Avg: acc += v; break;
            case RedOp::Prod: acc *= v; break;
            case RedOp::Min: acc = std::min(acc, v); break;
            case RedOp::Max: acc = std::max(acc, v); break;
          }
        }
        if (op == RedOp::Avg) acc /= nranks;
        store_f(t, out, i, acc);
      }
  }
}

inline std::string Model::compare(const void* got, const void* want, size_t n) const {
  if (!is_float(t)) {
    for (size_t i = 0; i < n; ++i)
      if (std::memcmp(static_cast<const char*>(got) + i * esz, static_cast<const char*>(want) + i * esz, esz) != 0)
        return "element " + std::to_string(i) + " differs (integer, exact)";
    return {};
  }
  double tol = t == DataType::F16 ? 2e-3 : t == DataType::BF16 ? 1.6e-2 : t == DataType::F32 ? 1e-6 : 1e-12;
  for (size_t i = 0; i < n; ++i) {
    double g = load_f(t, got, i), w = load_f(t, want, i);
    if (!(std::fabs(g - w) <= tol * std::max(1.0, std::fabs(w))))
      return "element " + std::to_string(i) + ": got " + std::to_string(g) + ", want " + std::to_string(w);
  }
  return {};
}

inline Model model(DataType t) { return Model{t, dtype_size(t)}; }

}  // namespace rfab::coll::test
