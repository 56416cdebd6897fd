// Reduction kernels: every ISA variant against a scalar reference for every datatype and op, at lengths
// that exercise vector bodies and tails, in place and out of place; fp16/bf16 conversions against the
// hardware's (F16C) and known values.
#include <gtest/gtest.h>
#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "model.hpp"
#include "rfab/collectives/half.hpp"
#include "rfab/collectives/reduce.hpp"

using namespace rfab::coll;

namespace {

// Scalar reference of one element, on the element's bytes.
void ref_elem(DataType t, RedOp op, const unsigned char* a, const unsigned char* b, unsigned char* out) {
  auto i64 = [&](auto x, auto y, auto* o) {
    using T = std::remove_pointer_t<decltype(o)>;
    using U = std::make_unsigned_t<T>;
    switch (op) {
      case RedOp::Sum:
      case RedOp::Avg: *o = static_cast<T>(static_cast<U>(static_cast<uint64_t>(x) + static_cast<uint64_t>(y))); break;
      case RedOp::Prod: *o = static_cast<T>(static_cast<U>(static_cast<uint64_t>(x) * static_cast<uint64_t>(y))); break;
      case RedOp::Min: *o = y < x ? y : x; break;
      case RedOp::Max: *o = x < y ? y : x; break;
    }
  };
  auto fl = [&](double x, double y) {
    switch (op) {
      case RedOp::Sum:
      case RedOp::Avg: return x + y;
      case RedOp::Prod: return x * y;
      case RedOp::Min: return y < x ? y : x;
      case RedOp::Max: return x < y ? y : x;
    }
    return x;
  };
#define RFAB_INT_CASE(DT, T)                 \
  case DT: {                                 \
    T x, y, o;                               \
    std::memcpy(&x, a, sizeof x);            \
    std::memcpy(&y, b, sizeof y);            \
    i64(x, y, &o);                           \
    std::memcpy(out, &o, sizeof o);          \
    return;                                  \
  }
  switch (t) {
    RFAB_INT_CASE(DataType::I8, int8_t)
    RFAB_INT_CASE(DataType::U8, uint8_t)
    RFAB_INT_CASE(DataType::I32, int32_t)
    RFAB_INT_CASE(DataType::U32, uint32_t)
    RFAB_INT_CASE(DataType::I64, int64_t)
    RFAB_INT_CASE(DataType::U64, uint64_t)
    case DataType::F32: {
      float x, y;
      std::memcpy(&x, a, 4);
      std::memcpy(&y, b, 4);
      float o = static_cast<float>(fl(x, y));
      if (op == RedOp::Sum || op == RedOp::Avg) o = x + y;  // single rounding, like the kernel
      if (op == RedOp::Prod) o = x * y;
      std::memcpy(out, &o, 4);
      return;
    }
    case DataType::F64: {
      double x, y;
      std::memcpy(&x, a, 8);
      std::memcpy(&y, b, 8);
      double o = fl(x, y);
      std::memcpy(out, &o, 8);
      return;
    }
    case DataType::F16:
    case DataType::BF16: {
      uint16_t x, y;
      std::memcpy(&x, a, 2);
      std::memcpy(&y, b, 2);
      bool bf = t == DataType::BF16;
      float fx = bf ? bf16_to_float(x) : half_to_float(x), fy = bf ? bf16_to_float(y) : half_to_float(y);
      // fp32 arithmetic, one rounding back to 16 bits.
      float r = op == RedOp::Sum || op == RedOp::Avg ? fx + fy
                : op == RedOp::Prod                 ? fx * fy
                : op == RedOp::Min                  ? (fy < fx ? fy : fx)
                                                    : (fx < fy ? fy : fx);
      uint16_t o = bf ? float_to_bf16(r) : float_to_half(r);
      std::memcpy(out, &o, 2);
      return;
    }
  }
#undef RFAB_INT_CASE
}

void random_fill(DataType t, std::vector<unsigned char>& v, size_t n, std::mt19937& rng) {
  size_t e = dtype_size(t);
  v.resize(n * e);
  for (size_t i = 0; i < n; ++i) {
    if (!is_float(t)) {
      for (size_t k = 0; k < e; ++k) v[i * e + k] = static_cast<unsigned char>(rng());
      continue;
    }
    double x = std::uniform_real_distribution<double>(-100.0, 100.0)(rng);
    test::store_f(t, v.data(), i, x);
  }
}

// The hardware conversions, compiled for F16C only here (the test binary itself targets the baseline).
__attribute__((target("f16c"))) float hw_half_to_float(uint16_t h) { return _cvtsh_ss(h); }
__attribute__((target("f16c"))) uint16_t hw_float_to_half(float f) {
  return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
}

}  // namespace

class ReduceKernels : public ::testing::TestWithParam<Isa> {};

TEST_P(ReduceKernels, MatchScalarReferenceForEveryTypeAndOp) {
  Isa isa = GetParam();
  if (!isa_supported(isa)) GTEST_SKIP() << "CPU lacks " << isa_name(isa);
  std::mt19937 rng(42);
  for (int ti = 0; ti < kNumDataTypes; ++ti) {
    for (int oi = 0; oi < kNumRedOps; ++oi) {
      auto t = static_cast<DataType>(ti);
      auto op = static_cast<RedOp>(oi);
      ReduceFn fn = reduce_fn(t, op, isa);
      ASSERT_NE(fn, nullptr);
      size_t e = dtype_size(t);
      for (size_t n : {size_t{0}, size_t{1}, size_t{3}, size_t{15}, size_t{16}, size_t{17}, size_t{63}, size_t{255},
                       size_t{256}, size_t{257}, size_t{1000}, size_t{4099}}) {
        std::vector<unsigned char> a, b, want(n * e + 1), got(n * e + 1);
        random_fill(t, a, n, rng);
        random_fill(t, b, n, rng);
        for (size_t i = 0; i < n; ++i) ref_elem(t, op, &a[i * e], &b[i * e], &want[i * e]);
        fn(got.data(), a.data(), b.data(), n);
        for (size_t i = 0; i < n; ++i)
          ASSERT_EQ(0, std::memcmp(&got[i * e], &want[i * e], e))
              << isa_name(isa) << " " << dtype_name(t) << " " << op_name(op) << " n=" << n << " i=" << i;
        // In place: dst aliases the first operand.
        std::vector<unsigned char> inplace = a;
        fn(inplace.data(), inplace.data(), b.data(), n);
        if (n > 0) {
          ASSERT_EQ(0, std::memcmp(inplace.data(), want.data(), n * e)) << "in place";
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isas, ReduceKernels, ::testing::Values(Isa::Generic, Isa::Avx2, Isa::Avx512),
                         [](const auto& p) { return std::string(isa_name(p.param)); });

TEST(Half, EveryHalfValueConvertsLikeF16C) {
  if (!__builtin_cpu_supports("f16c")) GTEST_SKIP();
  for (uint32_t h = 0; h < 65536; ++h) {
    float mine = half_to_float(static_cast<uint16_t>(h));
    float hw = hw_half_to_float(static_cast<uint16_t>(h));
    if (std::isnan(hw)) {
      EXPECT_TRUE(std::isnan(mine)) << h;
      continue;
    }
    ASSERT_EQ(std::memcmp(&mine, &hw, 4), 0) << "half 0x" << std::hex << h;
  }
}

TEST(Half, FloatToHalfRoundsLikeF16C) {
  if (!__builtin_cpu_supports("f16c")) GTEST_SKIP();
  std::mt19937 rng(7);
  for (int i = 0; i < 2000000; ++i) {
    uint32_t bits = static_cast<uint32_t>(rng());
    float f;
    std::memcpy(&f, &bits, 4);
    if (std::isnan(f)) continue;
    uint16_t hw = hw_float_to_half(f);
    ASSERT_EQ(float_to_half(f), hw) << "float bits 0x" << std::hex << bits;
  }
}

TEST(Half, Bfloat16KnownValues) {
  EXPECT_EQ(float_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16_to_float(0x3f80), 1.0f);
  EXPECT_EQ(float_to_bf16(-2.0f), 0xc000);
  // 1 + 2^-8 is exactly halfway between two bf16 values: ties to even (1.0).
  EXPECT_EQ(float_to_bf16(1.0f + 1.0f / 256), 0x3f80);
  EXPECT_EQ(float_to_bf16(1.0f + 3.0f / 256), 0x3f82);
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(std::nanf("")))));
}

TEST(Reduce, FinishAvgDividesOnce) {
  std::vector<int32_t> v = {7, -7, 8};
  finish_avg(v.data(), v.size(), DataType::I32, 2);
  EXPECT_EQ(v, (std::vector<int32_t>{3, -3, 4}));
  std::vector<float> f = {3.0f, 1.0f};
  finish_avg(f.data(), f.size(), DataType::F32, 4);
  EXPECT_FLOAT_EQ(f[0], 0.75f);
  EXPECT_FLOAT_EQ(f[1], 0.25f);
}
