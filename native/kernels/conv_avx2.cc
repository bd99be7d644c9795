// AVX2 + FMA kernels; the only unit built with -mavx2 -mfma.
#if defined(__x86_64__)
#include <immintrin.h>

#include "microkernels.h"

namespace adpc {
namespace detail {
namespace {

// Lanes 0..n-1 of a maskload/maskstore mask (n < 8): lane i is set where i < n.
inline __m256i first_lanes(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

struct Avx2 {
  using reg = __m256;
  static constexpr int lanes = 8;
  static constexpr int max_nrv = 2;
  // 16 ymm registers: tile accumulators + one weight register per vector + a broadcast.
  static constexpr int mr(int nrv) { return nrv == 1 ? 8 : 6; }
  static constexpr int quantum = 24;
  static constexpr int chunk = 96;
  static constexpr int pair_cols = 0;
  static reg zero() { return _mm256_setzero_ps(); }
  static reg load(const float* p) { return _mm256_load_ps(p); }
  static reg loadu(const float* p) { return _mm256_loadu_ps(p); }
  static reg load_part(const float* p, int n) { return _mm256_maskload_ps(p, first_lanes(n)); }
  static reg bcast(const float* p) { return _mm256_broadcast_ss(p); }
  static reg fma(reg a, reg b, reg acc) { return _mm256_fmadd_ps(a, b, acc); }
  static reg add(reg a, reg b) { return _mm256_add_ps(a, b); }
  static reg relu(reg a) { return _mm256_max_ps(a, _mm256_setzero_ps()); }
  static void storeu(float* p, reg x) { _mm256_storeu_ps(p, x); }
  static void store_part(float* p, reg x, int n) { _mm256_maskstore_ps(p, first_lanes(n), x); }
};

}  // namespace

Geometry geometry_avx2() { return geometry_of<Avx2>(); }

void conv_rows_avx2(const ConvView& conv, const ConvJob& job) { conv_rows_generic<Avx2>(conv, job); }

void fill_avx2(const FillJob& job, const float* zero) { fill_generic<Avx2>(job, zero); }

}  // namespace detail
}  // namespace adpc
#endif
