// The executor's per-position work outside the convolutions and fills (kernels/): epilogues,
// sums with upsampling, concatenation, pooling and merging. Each call takes a run of positions (listed,
// or a contiguous range when `list` is null) so the loops over channels vectorise per ISA.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace adpc {

// PyTorch's bilinear source index (align_corners false), per output coordinate of one axis.
struct Axis {
  std::vector<int> i0, i1;
  std::vector<float> l0, l1;
};
Axis bilinear_axis(int in, int out);

struct Bilinear {
  Axis y, x;
};

// Positions [begin, end) of `list`, or the positions begin..end-1 themselves when list is null.
struct Span {
  const int32_t* list;
  size_t begin, end;
  size_t at(size_t i) const { return list ? size_t(list[i]) : i; }
};

struct MapRef {
  float* data;
  int h, w, c;
};

struct MapTerm {
  const float* data;
  int h, w, c;
  const Bilinear* up;  // null: same size as the output
};

// out = act(sum of terms) (fuse_sum), or the terms side by side (concat_up).
void sum_terms(Span span, MapRef out, const MapTerm* terms, size_t n, bool relu);
void concat_terms(Span span, MapRef out, const MapTerm* terms, size_t n);

// rows[j] += the terms (each upsampled bilinearly) at the span's j-th position of a map `w`
// wide, then ReLU when asked: rows holds one row of `c` channels per position, contiguous.
void add_terms(Span span, int w, float* rows, int c, const MapTerm* terms, size_t n, bool relu);

void avgpool2(Span span, MapRef out, const float* in, int in_w);
void upsample(Span span, MapRef out, const MapTerm& in);

// out[y][x] = argmax over channels of the bilinear upsampling of `logits` for rows [y0, y1)
void upsampled_argmax(const MapTerm& logits, int y0, int y1, int out_w, uint8_t* out);

// merged logits at the computed positions, with their confidence (max softmax) and label
void merge_logits(Span span, const float* head, float* logits, int classes, float* confidence, uint8_t* labels);

// NHWC -> NCHW (to_nchw) or back, for positions [begin, end)
void transpose_positions(const float* src, size_t positions, int channels, size_t begin, size_t end, float* dst,
                         bool to_nchw);

// Interleaved RGB bytes of `n` pixels -> three planes, each byte through its channel's table of
// 256 values (tables: R, G, B one after another): the image normalisation the JS side defines.
void rgb_planes(const uint8_t* rgb, size_t n, const float* tables, float* out);

// The mean of (R+G+B)/3 over each `cell` x `cell` square of an interleaved RGB image, row-major
// (width and height multiples of cell): the change detection of region reuse (src/reuse/
// change-detector.ts), as float32 of the exact sum times 1/(3 cell^2), like its JS loop.
void cell_luma(const uint8_t* rgb, int width, int height, int cell, float* out);

}  // namespace adpc
