#include "row_ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>

// The loops here are short and over channels: cloned per x86 ISA (GCC picks one at load),
// baseline code elsewhere.
// Not under ThreadSanitizer: the clones' resolvers run before it is set up, and crash.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
#define ADPC_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ADPC_CLONES
#endif

namespace adpc {

Axis bilinear_axis(int in, int out) {
  Axis a;
  a.i0.resize(out);
  a.i1.resize(out);
  a.l0.resize(out);
  a.l1.resize(out);
  const float scale = float(in) / float(out);
  for (int o = 0; o < out; o++) {
    float src = scale * (float(o) + 0.5f) - 0.5f;
    if (src < 0) src = 0;
    const int i = std::min(int(std::floor(src)), in - 1);
    const float l = std::min(std::max(src - float(i), 0.f), 1.f);
    a.i0[o] = i;
    a.i1[o] = i + (i < in - 1 ? 1 : 0);
    a.l1[o] = l;
    a.l0[o] = 1.f - l;
  }
  return a;
}

namespace {

// exp(x) for x <= 0 to about 1 ulp: 2^(x log2 e) as an integer power times a polynomial on
// [-ln2/2, ln2/2]; branch-free so the loop over classes vectorises.
inline float exp_nonpositive(float x) {
  // max(x, -87) as the unsigned minimum of the bits (for x <= 0 they grow with |x|): as a float
  // select GCC specialised the clamped case into a branch, and vectorised the loop for AVX-512
  // alone (masked lanes); the AVX2, SSE and NEON code took every exp one at a time (a merge of
  // 8192 positions x 19 classes, one thread of a Zen 3: 1.2-1.4 -> 0.46-0.50 ms)
  constexpr uint32_t kFloor = __builtin_bit_cast(uint32_t, -87.f);
  const uint32_t bits_x = __builtin_bit_cast(uint32_t, x);
  x = __builtin_bit_cast(float, bits_x < kFloor ? bits_x : kFloor);
  // round to nearest (even) by adding and removing 1.5 * 2^23: nearbyint's result, in
  // arithmetic the vectoriser takes (|x log2 e| < 126 here)
  constexpr float kRound = 12582912.f;
  const float n = (x * 1.44269504f + kRound) - kRound;
  const float r = x - n * 0.693145751953125f - n * 1.428606765330187e-06f;
  float p = 1.f / 5040.f;
  p = p * r + 1.f / 720.f;
  p = p * r + 1.f / 120.f;
  p = p * r + 1.f / 24.f;
  p = p * r + 1.f / 6.f;
  p = p * r + 0.5f;
  p = p * r + 1.f;
  p = p * r + 1.f;
  const int32_t bits = (int32_t(n) + 127) << 23;
  return p * __builtin_bit_cast(float, bits);
}

// The four bilinear taps of a term at one output position, and their weights.
struct Taps {
  const float* row[4];
  float weight[4];
};

[[gnu::always_inline]] inline Taps taps_of(const MapTerm& t, int y, int x) {
  const Bilinear& b = *t.up;
  const size_t rc = size_t(t.c);
  const size_t y0 = size_t(b.y.i0[y]) * t.w, y1 = size_t(b.y.i1[y]) * t.w;
  const float h0 = b.y.l0[y], h1 = b.y.l1[y], w0 = b.x.l0[x], w1 = b.x.l1[x];
  return Taps{{t.data + (y0 + b.x.i0[x]) * rc, t.data + (y0 + b.x.i1[x]) * rc, t.data + (y1 + b.x.i0[x]) * rc,
               t.data + (y1 + b.x.i1[x]) * rc},
              {h0 * w0, h0 * w1, h1 * w0, h1 * w1}};
}

// act(the D rows at `direct` + the U terms' taps (+ o when Acc)) into o, in one pass over the
// channels: a pass per term would load and store the output row once per term
template <int D, int U, bool Acc>
[[gnu::always_inline]] inline void blend(float* __restrict o, const float* const* direct, const Taps* taps, int c, bool relu) {
  for (int k = 0; k < c; k++) {
    float acc = Acc ? o[k] : 0.f;
#pragma GCC unroll 4
    for (int t = 0; t < D; t++) acc += direct[t][k];
#pragma GCC unroll 4
    for (int t = 0; t < U; t++) {
      const Taps& a = taps[t];
      acc += a.weight[0] * a.row[0][k] + a.weight[1] * a.row[1][k] + a.weight[2] * a.row[2][k] + a.weight[3] * a.row[3][k];
    }
    o[k] = relu && acc < 0.f ? 0.f : acc;
  }
}

// o = bilinear sample of `t` at output (y, x)
inline void bilinear_into(const MapTerm& t, int y, int x, float* __restrict o) {
  const Taps a = taps_of(t, y, x);
  blend<0, 1, false>(o, nullptr, &a, t.c, false);
}

constexpr size_t kMaxTerms = 4;

// blend for d direct rows and u upsampled terms, 1 <= d + u <= kMaxTerms. A switch, not a
// table of pointers, so that each ISA's clone of the caller inlines its own loops.
template <bool Acc>
[[gnu::always_inline]] inline void blend_any(size_t d, size_t u, float* __restrict o, const float* const* direct, const Taps* taps, int c, bool relu) {
  switch (d * 8 + u) {
    case 0 * 8 + 1: return blend<0, 1, Acc>(o, direct, taps, c, relu);
    case 0 * 8 + 2: return blend<0, 2, Acc>(o, direct, taps, c, relu);
    case 0 * 8 + 3: return blend<0, 3, Acc>(o, direct, taps, c, relu);
    case 0 * 8 + 4: return blend<0, 4, Acc>(o, direct, taps, c, relu);
    case 1 * 8 + 0: return blend<1, 0, Acc>(o, direct, taps, c, relu);
    case 1 * 8 + 1: return blend<1, 1, Acc>(o, direct, taps, c, relu);
    case 1 * 8 + 2: return blend<1, 2, Acc>(o, direct, taps, c, relu);
    case 1 * 8 + 3: return blend<1, 3, Acc>(o, direct, taps, c, relu);
    case 2 * 8 + 0: return blend<2, 0, Acc>(o, direct, taps, c, relu);
    case 2 * 8 + 1: return blend<2, 1, Acc>(o, direct, taps, c, relu);
    case 2 * 8 + 2: return blend<2, 2, Acc>(o, direct, taps, c, relu);
    case 3 * 8 + 0: return blend<3, 0, Acc>(o, direct, taps, c, relu);
    case 3 * 8 + 1: return blend<3, 1, Acc>(o, direct, taps, c, relu);
    case 4 * 8 + 0: return blend<4, 0, Acc>(o, direct, taps, c, relu);
  }
}

// o = act(sum of the terms at output (y, x), position q of the output map), kMaxTerms terms a
// pass, the first pass writing o (or adding to it when `accumulate`), the last one with act
[[gnu::always_inline]] inline void sum_at(const MapTerm* terms, size_t n, size_t q, int y, int x, float* __restrict o, int c,
                                          bool accumulate, bool relu) {
  if (n == 0 && relu) for (int k = 0; k < c; k++) o[k] = o[k] < 0.f ? 0.f : o[k];
  for (size_t t0 = 0; t0 < n; t0 += kMaxTerms) {
    const size_t t1 = std::min(n, t0 + kMaxTerms);
    const float* direct[kMaxTerms];
    Taps taps[kMaxTerms];
    size_t d = 0, u = 0;
    for (size_t t = t0; t < t1; t++) {
      if (terms[t].up) taps[u++] = taps_of(terms[t], y, x);
      else direct[d++] = terms[t].data + q * size_t(c);
    }
    const bool act = relu && t1 == n;
    if (accumulate || t0 > 0) blend_any<true>(d, u, o, direct, taps, c, act);
    else blend_any<false>(d, u, o, direct, taps, c, act);
  }
}

}  // namespace

ADPC_CLONES void sum_terms(Span span, MapRef out, const MapTerm* terms, size_t n, bool relu) {
  for (size_t i = span.begin; i < span.end; i++) {
    const size_t q = span.at(i);
    sum_at(terms, n, q, int(q / size_t(out.w)), int(q % size_t(out.w)), out.data + q * size_t(out.c), out.c, false, relu);
  }
}

ADPC_CLONES void concat_terms(Span span, MapRef out, const MapTerm* terms, size_t n) {
  const size_t rc = size_t(out.c);
  for (size_t i = span.begin; i < span.end; i++) {
    const size_t q = span.at(i);
    float* o = out.data + q * rc;
    const int y = int(q / size_t(out.w)), x = int(q % size_t(out.w));
    for (size_t t = 0; t < n; t++) {
      if (terms[t].up) bilinear_into(terms[t], y, x, o);
      else std::memcpy(o, terms[t].data + q * size_t(terms[t].c), sizeof(float) * size_t(terms[t].c));
      o += terms[t].c;
    }
  }
}

ADPC_CLONES void add_terms(Span span, int w, float* rows, int c, const MapTerm* terms, size_t n, bool relu) {
  for (size_t i = span.begin; i < span.end; i++) {
    const size_t q = span.at(i);
    // the terms are all upsampled: q only places them
    sum_at(terms, n, q, int(q / size_t(w)), int(q % size_t(w)), rows + (i - span.begin) * size_t(c), c, true, relu);
  }
}

ADPC_CLONES void avgpool2(Span span, MapRef out, const float* in, int in_w) {
  const size_t rc = size_t(out.c);
  for (size_t i = span.begin; i < span.end; i++) {
    const size_t q = span.at(i);
    float* __restrict o = out.data + q * rc;
    const size_t y = q / size_t(out.w) * 2, x = q % size_t(out.w) * 2;
    const float* a0 = in + (y * in_w + x) * rc;
    const float* a1 = a0 + rc;
    const float* b0 = a0 + size_t(in_w) * rc;
    const float* b1 = b0 + rc;
    for (int c = 0; c < out.c; c++) o[c] = (a0[c] + a1[c] + b0[c] + b1[c]) * 0.25f;
  }
}

ADPC_CLONES void upsample(Span span, MapRef out, const MapTerm& in) {
  for (size_t i = span.begin; i < span.end; i++) {
    const size_t q = span.at(i);
    bilinear_into(in, int(q / size_t(out.w)), int(q % size_t(out.w)), out.data + q * size_t(out.c));
  }
}

ADPC_CLONES void upsampled_argmax(const MapTerm& logits, int y0, int y1, int out_w, uint8_t* out) {
  float row[256];
  for (int y = y0; y < y1; y++) {
    for (int x = 0; x < out_w; x++) {
      bilinear_into(logits, y, x, row);
      float top = row[0];
      int best = 0;
      for (int k = 1; k < logits.c; k++) {
        if (row[k] > top) { top = row[k]; best = k; }
      }
      out[size_t(y) * out_w + x] = uint8_t(best);
    }
  }
}

ADPC_CLONES void merge_logits(Span span, const float* head, float* logits, int classes, float* confidence, uint8_t* labels) {
  // 16 positions at a time, transposed so that the loops run across positions in vectors: a
  // vector per position would spend its time in horizontal reductions over 19 classes
  constexpr size_t kBlock = 16;
  alignas(64) float t[256][kBlock];
  alignas(64) float top[kBlock], sum[kBlock];
  alignas(64) int32_t best[kBlock];
  size_t at[kBlock];
  for (size_t b = span.begin; b < span.end; b += kBlock) {
    const size_t n = std::min(kBlock, span.end - b);
    for (size_t j = 0; j < kBlock; j++) {
      const size_t q = span.at(b + std::min(j, n - 1));  // a full block: the extra lanes repeat one
      at[j] = q;
      const float* src = head + q * size_t(classes);
      for (int k = 0; k < classes; k++) t[k][j] = src[k];
    }
#pragma omp simd
    for (size_t j = 0; j < kBlock; j++) {
      top[j] = t[0][j];
      best[j] = 0;
      sum[j] = 0;
    }
    for (int k = 1; k < classes; k++) {
#pragma omp simd
      for (size_t j = 0; j < kBlock; j++) {
        const float v = t[k][j];
        best[j] = v > top[j] ? k : best[j];  // first index on ties, as ArgMax and torch
        top[j] = v > top[j] ? v : top[j];
      }
    }
    for (int k = 0; k < classes; k++) {
#pragma omp simd
      for (size_t j = 0; j < kBlock; j++) sum[j] += exp_nonpositive(t[k][j] - top[j]);
    }
    for (size_t j = 0; j < n; j++) {
      const size_t q = at[j];
      std::memcpy(logits + q * size_t(classes), head + q * size_t(classes), sizeof(float) * size_t(classes));
      confidence[q] = 1.f / sum[j];
      labels[q] = uint8_t(best[j]);
    }
  }
}

// Positions [begin, end) between NCHW and NHWC, in 16 x 16 tiles that stay in cache lines.
ADPC_CLONES void transpose_positions(const float* src, size_t positions, int channels, size_t begin, size_t end,
                                     float* dst, bool to_nchw) {
  constexpr size_t kTile = 16;
  const size_t cs = size_t(channels);
  for (size_t p0 = begin; p0 < end; p0 += kTile) {
    const size_t p1 = std::min(end, p0 + kTile);
    for (size_t c0 = 0; c0 < cs; c0 += kTile) {
      const size_t c1 = std::min(cs, c0 + kTile);
      if (to_nchw) {
        for (size_t p = p0; p < p1; p++)
          for (size_t c = c0; c < c1; c++) dst[c * positions + p] = src[p * cs + c];
      } else {
        for (size_t c = c0; c < c1; c++)
          for (size_t p = p0; p < p1; p++) dst[p * cs + c] = src[c * positions + p];
      }
    }
  }
}

void rgb_planes(const uint8_t* rgb, size_t n, const float* tables, float* out) {
  const float* r = tables;
  const float* g = tables + 256;
  const float* b = tables + 512;
  float* pr = out;
  float* pg = out + n;
  float* pb = out + 2 * n;
  for (size_t i = 0; i < n; i++, rgb += 3) {
    pr[i] = r[rgb[0]];
    pg[i] = g[rgb[1]];
    pb[i] = b[rgb[2]];
  }
}

ADPC_CLONES void cell_luma(const uint8_t* rgb, int width, int height, int cell, float* out) {
  const size_t row = size_t(width) * 3, span = size_t(cell) * 3;
  const int cols = width / cell;
  const double scale = 1.0 / (3.0 * cell * cell);
  // a cell row's pixel rows summed column by column first (whole rows, vectorised), then each
  // cell's columns: a cell at a time would add 12 bytes per row in a loop too short to vectorise
  std::vector<uint16_t> columns(row);  // at most 64 rows x 255: no lane overflows
  for (int cy = 0; cy < height / cell; cy++) {
    std::fill(columns.begin(), columns.end(), uint16_t(0));
    for (int r = 0; r < cell; r++) {
      const uint8_t* __restrict p = rgb + (size_t(cy) * size_t(cell) + size_t(r)) * row;
      uint16_t* __restrict c = columns.data();
      for (size_t i = 0; i < row; i++) c[i] = uint16_t(c[i] + p[i]);
    }
    for (int cx = 0; cx < cols; cx++) {
      uint32_t sum = 0;
      for (size_t i = 0; i < span; i++) sum += columns[size_t(cx) * span + i];
      out[size_t(cy) * size_t(cols) + size_t(cx)] = float(double(sum) * scale);
    }
  }
}

}  // namespace adpc
