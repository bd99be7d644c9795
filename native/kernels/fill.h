// The RBF fill of skipped positions: ADP-C's masked conv where it skipped, from the raw
// outputs of the computed neighbours around each one.
#pragma once

#include <cstddef>
#include <cstdint>

#include "isa.h"

namespace adpc {

// At each listed position q of an h x w map of c channels (NHWC), src = source or map:
//   map[q] = act(sum over the (2r+1)^2 window of weights[t] * src[q + t] where mask is set,
//                + bias (+ residual[q]))
// in that order; neighbours outside the map or not computed count zero. The listed positions
// are skipped ones (mask clear): only computed rows are read, only listed rows written.
struct FillJob {
  const int32_t* positions;  // positions[begin, end) in increasing order, or null: begin .. end-1
  size_t begin, end;
  float* map;
  int h, w, c;
  const uint8_t* mask;       // h * w, non-zero where computed
  const float* weights;      // (2r+1)^2, row-major window
  int radius;                // 0 .. 3
  const float* bias;         // c
  const float* residual;     // null, or a map of the same layout added before the activation
  bool relu;
  const float* source = nullptr;  // null, or a map of the same layout the window reads
                                  // instead of map (the computed positions' raw sums)
};

// Single-threaded on `isa`'s kernels; throws std::invalid_argument for an ISA this build and
// CPU cannot run, or a radius outside 0 .. 3.
void fill_positions(Isa isa, const FillJob& job);

}  // namespace adpc
