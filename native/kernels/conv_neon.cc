// arm64 NEON kernels (Advanced SIMD is baseline on AArch64: no extra flags needed).
#if defined(__aarch64__)
#include <arm_neon.h>

#include "microkernels.h"

namespace adpc {
namespace detail {
namespace {

struct Neon {
  using reg = float32x4_t;
  static constexpr int lanes = 4;
  static constexpr int max_nrv = 4;
  // 32 q registers: up to 24 accumulators, the block's weights and a broadcast.
  static constexpr int mr(int nrv) { return nrv <= 2 ? 8 : 6; }
  static constexpr int quantum = 24;
  static constexpr int chunk = 96;
  static constexpr int pair_cols = 0;
  static reg zero() { return vdupq_n_f32(0.0f); }
  static reg load(const float* p) { return vld1q_f32(p); }
  static reg loadu(const float* p) { return vld1q_f32(p); }
  static reg load_part(const float* p, int n) {
    float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int i = 0; i < n; ++i) t[i] = p[i];
    return vld1q_f32(t);
  }
  static reg bcast(const float* p) { return vld1q_dup_f32(p); }
  static reg fma(reg a, reg b, reg acc) { return vfmaq_f32(acc, a, b); }
  static reg add(reg a, reg b) { return vaddq_f32(a, b); }
  static reg relu(reg a) { return vmaxq_f32(a, vdupq_n_f32(0.0f)); }
  static void storeu(float* p, reg x) { vst1q_f32(p, x); }
  static void store_part(float* p, reg x, int n) {
    float t[4];
    vst1q_f32(t, x);
    for (int i = 0; i < n; ++i) p[i] = t[i];
  }
};

}  // namespace

Geometry geometry_neon() { return geometry_of<Neon>(); }

void conv_rows_neon(const ConvView& conv, const ConvJob& job) { conv_rows_generic<Neon>(conv, job); }

void fill_neon(const FillJob& job, const float* zero) { fill_generic<Neon>(job, zero); }

}  // namespace detail
}  // namespace adpc
#endif
