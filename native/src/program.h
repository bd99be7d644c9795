// A masked stage as the native executor runs it: the layer program that
// models/adpc/native_program.py writes (docs/BUNDLE.md), with tensors and weights resolved.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace adpc {

struct Shape {
  int c = 0, h = 0, w = 0;
  size_t positions() const { return size_t(h) * size_t(w); }
  size_t floats() const { return positions() * size_t(c); }
};

enum class OpKind { conv, fuse_sum, concat_up, avgpool2, upsample };

struct Term {
  int tensor = -1;
  bool upsample = false;  // bilinear (align_corners false) from a smaller map
};

struct ConvSpec {
  int kernel = 1, stride = 1, pad = 0, cin = 0, cout = 0;
  std::vector<float> weight;     // [cout][cin][kernel*kernel], BatchNorm folded
  std::vector<float> pre_bias;   // cout: the conv's own bias, BN-scaled; before the fill
  std::vector<float> post_bias;  // cout: the BN shift; after the fill
  int fill_radius = -1;          // -1: not masked (computed wherever needed)
  std::vector<float> fill;       // (2r+1)^2 RBF weights of the skipped positions' fill
  int residual = -1;             // tensor added before the activation
  bool relu = false;
};

struct Op {
  OpKind kind = OpKind::conv;
  int in = -1;
  int out = -1;
  ConvSpec conv;
  std::vector<Term> terms;  // fuse_sum: the summands; concat_up: the parts
  bool relu = false;        // fuse_sum
  int mask = -1;            // masked conv: index of its output size in Program::resolutions
};

struct Program {
  int stage = 0;
  std::vector<Shape> tensors;
  std::vector<std::pair<int, int>> resolutions;  // masked output sizes, largest (1/4) first
  std::vector<int> inputs;
  std::vector<int> out_features;
  int out_logits = -1;
  std::vector<Op> ops;

  // Throws std::invalid_argument naming the first inconsistency: a program that passes
  // never makes the executor read or write outside a tensor.
  void validate() const;

  // An exit head that ends in a bilinear upsampling and then a 1x1 classifier (the
  // redesigned heads of exits 1-3) instead classifies first and upsamples the logits: exact,
  // as a 1x1 conv commutes with a bilinear upsampling, whose weights sum to one, and the
  // classifier then runs at a quarter of the positions on 19 channels' upsampling instead of
  // 64. The classifier runs unmasked: only its computed positions were ever read (the merge
  // keeps the others). Programs without such a head are left as they are.
  void classify_before_upsampling();
};

}  // namespace adpc
