// AVX-512F kernels; the only unit built with -mavx512f -mfma.
#if defined(__x86_64__)
// GCC 12's avx512fintrin.h seeds unmasked results with _mm512_undefined_ps(), which
// -Wmaybe-uninitialized reports at every inlined use.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstring>

#include "microkernels.h"

namespace adpc {
namespace detail {
namespace {

inline __mmask16 first_lanes(int n) { return static_cast<__mmask16>((1u << n) - 1u); }

struct Avx512 {
  using reg = __m512;
  static constexpr int lanes = 16;
  static constexpr int max_nrv = 4;
  // 32 zmm registers: up to 24 accumulators, the block's weight vectors and a broadcast.
  // At most 12 pixels, so their row pointers stay in general registers.
  static constexpr int mr(int nrv) { return nrv <= 2 ? 12 : nrv == 3 ? 8 : 6; }
  static constexpr int quantum = 24;
  static constexpr int chunk = 96;
  // Blocks of <= 24 columns as pair tiles: one broadcast feeds 2 channels of 8-24 columns.
  static constexpr int pair_cols = 24;
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

// Input channels c, c+1 of a row in every lane pair.
inline __m512 pair_at(const float* p) {
  double d;
  std::memcpy(&d, p, sizeof d);
  return _mm512_castpd_ps(_mm512_set1_pd(d));
}
// Channel c and a zero, for an odd channel count's last pair.
inline __m512 pair_last(const float* p) {
  return _mm512_castpd_ps(_mm512_broadcastsd_pd(_mm_castps_pd(_mm_load_ss(p))));
}

// MR pixels x NP accumulators of 8 channel pairs (the pair layout of conv.cc's packing).
template <int MR, int NP>
void pair_tile(const float* const* in, int taps, int cin, const float* block,
               const TileEpilogue& e, float* const* out, const float* const* res) {
  constexpr int NG = (NP + 1) / 2;  // output vectors
  __m512 acc[MR][NP];
#pragma GCC unroll 32
  for (int m = 0; m < MR; ++m) {
#pragma GCC unroll 4
    for (int h = 0; h < NP; ++h) acc[m][h] = _mm512_setzero_ps();
  }
  const float* w = block + NG * 16;
  const int pairs = cin / 2;
  for (int t = 0; t < taps; ++t) {
    const float* a[MR];
#pragma GCC unroll 32
    for (int m = 0; m < MR; ++m) a[m] = in[m * taps + t];
#pragma GCC unroll 2
    for (int p = 0; p < pairs; ++p) {
      __m512 wv[NP];
#pragma GCC unroll 4
      for (int h = 0; h < NP; ++h) wv[h] = _mm512_load_ps(w + h * 16);
#pragma GCC unroll 32
      for (int m = 0; m < MR; ++m) {
        const __m512 x = pair_at(a[m] + 2 * p);
#pragma GCC unroll 4
        for (int h = 0; h < NP; ++h) acc[m][h] = _mm512_fmadd_ps(x, wv[h], acc[m][h]);
      }
      w += NP * 16;
    }
    if (cin % 2 != 0) {
#pragma GCC unroll 32
      for (int m = 0; m < MR; ++m) {
        const __m512 x = pair_last(a[m] + cin - 1);
#pragma GCC unroll 4
        for (int h = 0; h < NP; ++h) acc[m][h] = _mm512_fmadd_ps(x, _mm512_load_ps(w + h * 16), acc[m][h]);
      }
      w += NP * 16;
    }
  }
#pragma GCC unroll 32
  for (int m = 0; m < MR; ++m) {
#pragma GCC unroll 2
    for (int g = 0; g < NG; ++g) {
      const bool lone = 2 * g + 1 == NP;
      const __m512 u = acc[m][2 * g];
      const __m512 v = lone ? _mm512_setzero_ps() : acc[m][2 * g + 1];
      __m512 y = _mm512_add_ps(_mm512_shuffle_ps(u, v, _MM_SHUFFLE(2, 0, 2, 0)),
                               _mm512_shuffle_ps(u, v, _MM_SHUFFLE(3, 1, 3, 1)));
      if (lone) y = _mm512_maskz_compress_ps(0x3333, y);
      if (e.add_bias) y = _mm512_add_ps(y, _mm512_load_ps(block + g * 16));
      const int cols = e.valid - g * 16 < 16 ? e.valid - g * 16 : 16;
      store_columns<Avx512>(y, out[m], res != nullptr ? res[m] : nullptr, cols, e, e.col + g * 16);
    }
  }
}

template <int NP>
struct PairTiles {
  static constexpr int mr = NP <= 2 ? 12 : 8;
  static_assert(Avx512::quantum % mr == 0, "quantum must be a multiple of every tile height");
  template <int M>
  static constexpr TileFn fn() { return &pair_tile<M, NP>; }
};

void avx512_block(const ConvView& conv, const ConvBlock& b, const ConvJob& job, size_t p0,
                  size_t count) {
  if (b.kind == BlockKind::broadcast) {
    broadcast_block<Avx512>(conv, b, job, p0, count);
  } else if (b.nrv == 1) {
    conv_block<PairTiles<1>>(conv, b, job, p0, count);
  } else if (b.nrv == 2) {
    conv_block<PairTiles<2>>(conv, b, job, p0, count);
  } else {
    conv_block<PairTiles<3>>(conv, b, job, p0, count);
  }
}

}  // namespace

Geometry geometry_avx512() { return geometry_of<Avx512>(); }

void conv_rows_avx512(const ConvView& conv, const ConvJob& job) {
  conv_rows_generic<Avx512>(conv, job, &avx512_block);
}

void fill_avx512(const FillJob& job, const float* zero) { fill_generic<Avx512>(job, zero); }

size_t compact_avx512(const uint8_t* flags, size_t n, int32_t* out, bool unset) {
  // 16 flags at a time: widened to 32 bits, tested, their indices compressed in a register and
  // stored whole (the compress straight to memory is slow on AMD's Zen 4 and 5: 0.60 us for
  // 8192 flags against 0.35 us this way, a probe on this project's Zen 5). The store may write
  // past the kept indices, never past out[n - 1]: count <= q, so count + 16 <= q + 16 <= n.
  const __m512i step = _mm512_set1_epi32(16);
  __m512i index = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __mmask16 flip = unset ? 0xffff : 0;
  size_t count = 0, q = 0;
  for (; q + 16 <= n; q += 16) {
    const __m512i f = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(flags + q)));
    const __mmask16 keep = static_cast<__mmask16>(_mm512_test_epi32_mask(f, f) ^ flip);
    _mm512_storeu_si512(out + count, _mm512_maskz_compress_epi32(keep, index));
    count += static_cast<size_t>(__builtin_popcount(keep));
    index = _mm512_add_epi32(index, step);
  }
  for (; q < n; q++) {
    out[count] = static_cast<int32_t>(q);
    count += (flags[q] != 0) != unset;
  }
  return count;
}

namespace {

// exp(x) for x <= 0: row_ops.cc's exp_nonpositive, 16 lanes at a time
inline __m512 exp_nonpositive(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-87.f));
  const __m512 round = _mm512_set1_ps(12582912.f);
  const __m512 n = _mm512_sub_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504f), round), round);
  const __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187e-06f), _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x));
  __m512 p = _mm512_set1_ps(1.f / 5040.f);
  for (const float c : {1.f / 720.f, 1.f / 120.f, 1.f / 24.f, 1.f / 6.f, 0.5f, 1.f, 1.f}) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
  const __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvttps_epi32(n), _mm512_set1_epi32(127)), 23);
  return _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
}

}  // namespace

void merge_avx512(const MergeJob& j) {
  const size_t classes = static_cast<size_t>(j.classes);
  alignas(64) float values[256][16];
  alignas(64) float confidence[16];
  alignas(64) int32_t best[16], at[16];
  for (size_t b = j.begin; b < j.end; b += 16) {
    const size_t n = j.end - b < 16 ? j.end - b : 16;
    // a short block repeats its last position in the spare lanes
    for (size_t l = 0; l < 16; l++) {
      const size_t i = b + (l < n ? l : n - 1);
      at[l] = j.positions != nullptr ? j.positions[i] : static_cast<int32_t>(i);
    }
    const __m512i rows = _mm512_mullo_epi32(_mm512_load_si512(at), _mm512_set1_epi32(j.classes));
    __m512 top = _mm512_i32gather_ps(rows, j.head, 4);
    __m512i label = _mm512_setzero_si512();
    _mm512_store_ps(values[0], top);
    for (size_t k = 1; k < classes; k++) {
      const __m512 v = _mm512_i32gather_ps(_mm512_add_epi32(rows, _mm512_set1_epi32(static_cast<int>(k))), j.head, 4);
      _mm512_store_ps(values[k], v);
      // strictly greater: the first class on ties, as ArgMax and torch
      const __mmask16 above = _mm512_cmp_ps_mask(v, top, _CMP_GT_OQ);
      label = _mm512_mask_mov_epi32(label, above, _mm512_set1_epi32(static_cast<int>(k)));
      top = _mm512_mask_mov_ps(top, above, v);
    }
    __m512 sum = _mm512_setzero_ps();
    for (size_t k = 0; k < classes; k++) sum = _mm512_add_ps(sum, exp_nonpositive(_mm512_sub_ps(_mm512_load_ps(values[k]), top)));
    _mm512_store_ps(confidence, _mm512_div_ps(_mm512_set1_ps(1.f), sum));
    _mm512_store_si512(best, label);
    for (size_t l = 0; l < n; l++) {
      const size_t q = static_cast<size_t>(at[l]);
      std::memcpy(j.logits + q * classes, j.head + q * classes, sizeof(float) * classes);
      j.confidence[q] = confidence[l];
      j.labels[q] = static_cast<uint8_t>(best[l]);
    }
  }
}

}  // namespace detail
}  // namespace adpc
#endif
