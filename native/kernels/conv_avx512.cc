// AVX-512F kernels; the only unit built with -mavx512f -mfma.
#if defined(__x86_64__)
// GCC 12's avx512fintrin.h seeds unmasked results with _mm512_undefined_ps(), which
// -Wmaybe-uninitialized reports at every inlined use.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "microkernels.h"

namespace adpc {
namespace detail {
namespace {

inline __mmask16 first_lanes(int n) { return static_cast<__mmask16>((1u << n) - 1u); }

struct Avx512 {
  using reg = __m512;
  static constexpr int lanes = 16;
  static constexpr int max_nrv = 4;
  // 32 zmm registers hold up to 24 accumulators plus the block's weight vectors; the
  // broadcasts fold into the FMAs. Tile heights stay <= 8 so the row pointers fit in GPRs.
  static constexpr int mr(int nrv) { return nrv == 4 ? 6 : 8; }
  static constexpr int chunk = 96;
  static reg zero() { return _mm512_setzero_ps(); }
  static reg load(const float* p) { return _mm512_load_ps(p); }
  static reg loadu(const float* p) { return _mm512_loadu_ps(p); }
  static reg load_part(const float* p, int n) { return _mm512_maskz_loadu_ps(first_lanes(n), p); }
  static reg bcast(const float* p) { return _mm512_set1_ps(*p); }
  static reg fma(reg a, reg b, reg acc) { return _mm512_fmadd_ps(a, b, acc); }
  static reg add(reg a, reg b) { return _mm512_add_ps(a, b); }
  static reg relu(reg a) { return _mm512_max_ps(a, _mm512_setzero_ps()); }
  static void storeu(float* p, reg x) { _mm512_storeu_ps(p, x); }
  static void store_part(float* p, reg x, int n) { _mm512_mask_storeu_ps(p, first_lanes(n), x); }
};

}  // namespace

Geometry geometry_avx512() { return geometry_of<Avx512>(); }

void conv_rows_avx512(const ConvView& conv, const ConvJob& job) {
  conv_rows_generic<Avx512>(conv, job);
}

void weighted_rows_avx512(const float* const* rows, const float* w, int n, int channels,
                          float* out, bool accumulate) {
  weighted_rows_generic<Avx512>(rows, w, n, channels, out, accumulate);
}

}  // namespace detail
}  // namespace adpc
#endif
