// Weighted sums of rows: the fill of skipped pixels from their computed neighbours.
#pragma once

#include "isa.h"

namespace adpc {

// out[c] = sum_k w[k] * rows[k][c] for k < n, c < channels; with accumulate, out += that.
// n may be 0. out must not be one of the rows. Uses detect_isa()'s choice, taken once.
void weighted_rows(const float* const* rows, const float* w, int n, int channels, float* out,
                   bool accumulate);

// The same on a given ISA (tests, benchmarks); throws std::invalid_argument if unsupported.
void weighted_rows(Isa isa, const float* const* rows, const float* w, int n, int channels,
                   float* out, bool accumulate);

// The function the two above call on `isa`, for callers that sum many rows in a loop.
using WeightedRowsFn = void (*)(const float* const* rows, const float* w, int n, int channels,
                                float* out, bool accumulate);
WeightedRowsFn weighted_rows_kernel(Isa isa);

}  // namespace adpc
