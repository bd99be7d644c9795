#include "row_ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>

// The loops here are short and over channels: cloned per x86 ISA (GCC picks one at load),
// baseline code elsewhere.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
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

inline void add_bias_act(float* __restrict o, const float* __restrict bias, const float* __restrict residual, bool relu, int n) {
  if (residual) for (int c = 0; c < n; c++) o[c] += bias[c] + residual[c];
  else for (int c = 0; c < n; c++) o[c] += bias[c];
  if (relu) for (int c = 0; c < n; c++) o[c] = o[c] < 0.f ? 0.f : o[c];
}

// o (+)= bilinear sample of `t` at output (y, x)
inline void bilinear_into(const MapTerm& t, int y, int x, float* __restrict o, bool accumulate) {
  const Bilinear& b = *t.up;
  const size_t rc = size_t(t.c);
  const float* r00 = t.data + (size_t(b.y.i0[y]) * t.w + b.x.i0[x]) * rc;
  const float* r01 = t.data + (size_t(b.y.i0[y]) * t.w + b.x.i1[x]) * rc;
  const float* r10 = t.data + (size_t(b.y.i1[y]) * t.w + b.x.i0[x]) * rc;
  const float* r11 = t.data + (size_t(b.y.i1[y]) * t.w + b.x.i1[x]) * rc;
  const float h0 = b.y.l0[y], h1 = b.y.l1[y], w0 = b.x.l0[x], w1 = b.x.l1[x];
  if (accumulate) {
    for (int c = 0; c < t.c; c++) o[c] += h0 * (w0 * r00[c] + w1 * r01[c]) + h1 * (w0 * r10[c] + w1 * r11[c]);
  } else {
    for (int c = 0; c < t.c; c++) o[c] = h0 * (w0 * r00[c] + w1 * r01[c]) + h1 * (w0 * r10[c] + w1 * r11[c]);
  }
}

// exp(x) for x <= 0 to about 1 ulp: 2^(x log2 e) as an integer power times a polynomial on
// [-ln2/2, ln2/2]; branch-free so the loop over classes vectorises.
inline float exp_nonpositive(float x) {
  x = x < -87.f ? -87.f : x;
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

}  // namespace

ADPC_CLONES void finish(Span span, MapRef out, const float* bias, const float* residual, bool relu) {
  const size_t rc = size_t(out.c);
  for (size_t i = span.begin; i < span.end; i++) {
    const size_t q = span.at(i);
    add_bias_act(out.data + q * rc, bias, residual ? residual + q * rc : nullptr, relu, out.c);
  }
}

ADPC_CLONES void sum_terms(Span span, MapRef out, const MapTerm* terms, size_t n, bool relu) {
  const size_t rc = size_t(out.c);
  for (size_t i = span.begin; i < span.end; i++) {
    const size_t q = span.at(i);
    float* __restrict o = out.data + q * rc;
    const int y = int(q / size_t(out.w)), x = int(q % size_t(out.w));
    for (size_t t = 0; t < n; t++) {
      if (terms[t].up) {
        bilinear_into(terms[t], y, x, o, t > 0);
      } else {
        const float* __restrict src = terms[t].data + q * rc;
        if (t == 0) std::memcpy(o, src, sizeof(float) * rc);
        else for (int c = 0; c < out.c; c++) o[c] += src[c];
      }
    }
    if (relu) for (int c = 0; c < out.c; c++) o[c] = o[c] < 0.f ? 0.f : o[c];
  }
}

ADPC_CLONES void concat_terms(Span span, MapRef out, const MapTerm* terms, size_t n) {
  const size_t rc = size_t(out.c);
  for (size_t i = span.begin; i < span.end; i++) {
    const size_t q = span.at(i);
    float* o = out.data + q * rc;
    const int y = int(q / size_t(out.w)), x = int(q % size_t(out.w));
    for (size_t t = 0; t < n; t++) {
      if (terms[t].up) bilinear_into(terms[t], y, x, o, false);
      else std::memcpy(o, terms[t].data + q * size_t(terms[t].c), sizeof(float) * size_t(terms[t].c));
      o += terms[t].c;
    }
  }
}

ADPC_CLONES void add_terms(Span span, int w, float* rows, int c, const MapTerm* terms, size_t n, bool relu) {
  const size_t rc = size_t(c);
  for (size_t i = span.begin; i < span.end; i++) {
    const size_t q = span.at(i);
    float* __restrict o = rows + (i - span.begin) * rc;
    const int y = int(q / size_t(w)), x = int(q % size_t(w));
    for (size_t t = 0; t < n; t++) bilinear_into(terms[t], y, x, o, true);
    if (relu) for (size_t c = 0; c < rc; c++) o[c] = o[c] < 0.f ? 0.f : o[c];
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
    bilinear_into(in, int(q / size_t(out.w)), int(q % size_t(out.w)), out.data + q * size_t(out.c), false);
  }
}

ADPC_CLONES void upsampled_argmax(const MapTerm& logits, int y0, int y1, int out_w, uint8_t* out) {
  float row[256];
  for (int y = y0; y < y1; y++) {
    for (int x = 0; x < out_w; x++) {
      bilinear_into(logits, y, x, row, false);
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

}  // namespace adpc
