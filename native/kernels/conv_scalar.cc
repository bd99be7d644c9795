// Portable kernels (any CPU, no ISA flags): the fallback and the shape of the others.
#include "microkernels.h"

namespace adpc {
namespace detail {
namespace {

struct Scalar {
  using reg = float;
  static constexpr int lanes = 1;
  static constexpr int max_nrv = 8;
  static constexpr int mr(int) { return 4; }
  static constexpr int quantum = 4;
  static constexpr int chunk = 64;
  static constexpr int pair_cols = 0;
  static reg zero() { return 0.0f; }
  static reg load(const float* p) { return *p; }
  static reg loadu(const float* p) { return *p; }
  static reg load_part(const float* p, int) { return *p; }
  static reg bcast(const float* p) { return *p; }
  static reg fma(reg a, reg b, reg acc) { return acc + a * b; }
  static reg add(reg a, reg b) { return a + b; }
  static reg relu(reg a) { return a > 0.0f ? a : 0.0f; }
  static void storeu(float* p, reg x) { *p = x; }
  static void store_part(float* p, reg x, int) { *p = x; }
};

}  // namespace

Geometry geometry_scalar() { return geometry_of<Scalar>(); }

void conv_rows_scalar(const ConvView& conv, const ConvJob& job) {
  conv_rows_generic<Scalar>(conv, job);
}

void fill_scalar(const FillJob& job, const float* zero) { fill_generic<Scalar>(job, zero); }

size_t compact_scalar(const uint8_t* flags, size_t n, int32_t* out, bool unset) {
  // branch-free: CA masks are scattered, and a branch per position mispredicts about every
  // other time
  size_t count = 0;
  for (size_t q = 0; q < n; q++) {
    out[count] = static_cast<int32_t>(q);
    count += (flags[q] != 0) != unset;
  }
  return count;
}

}  // namespace detail
}  // namespace adpc
