// Internal: the entry points each per-ISA translation unit exports to the dispatcher.
// Plain functions over plain structs, so no inline code crosses ISA boundaries.
#pragma once

#include <cstddef>
#include <cstdint>

#include "conv.h"
#include "fill.h"
#include "merge.h"

namespace adpc {
namespace detail {

struct Geometry {
  int lanes;      // floats per vector register
  int max_nrv;    // widest broadcast block, in vectors
  int quantum;    // pixels: a multiple of every tile height
  int pair_cols;  // columns left at which the planner switches to one pair block (0: never)
};

struct ConvView {
  const float* weights;
  const ConvBlock* blocks;
  int nblocks;
  int cin;
  int taps;
};

using FillFn = void (*)(const FillJob& job, const float* zero);

// Writes the positions whose flag is non-zero (with `unset`, zero) to out, in order; returns
// how many. out has room for n.
size_t compact_scalar(const uint8_t* flags, size_t n, int32_t* out, bool unset);

Geometry geometry_scalar();
void conv_rows_scalar(const ConvView& conv, const ConvJob& job);
void fill_scalar(const FillJob& job, const float* zero);
#if defined(__x86_64__)
Geometry geometry_avx2();
void conv_rows_avx2(const ConvView& conv, const ConvJob& job);
void fill_avx2(const FillJob& job, const float* zero);
Geometry geometry_avx512();
void conv_rows_avx512(const ConvView& conv, const ConvJob& job);
void fill_avx512(const FillJob& job, const float* zero);
size_t compact_avx512(const uint8_t* flags, size_t n, int32_t* out, bool unset);
void merge_avx512(const MergeJob& job);
#endif
#if defined(__aarch64__)
Geometry geometry_neon();
void conv_rows_neon(const ConvView& conv, const ConvJob& job);
void fill_neon(const FillJob& job, const float* zero);
#endif

}  // namespace detail
}  // namespace adpc
