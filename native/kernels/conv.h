// Convolution at listed output pixels through an indirection buffer (NHWC rows).
//
// A convolution is a GEMM whose A rows are reached through per-pixel, per-tap row
// pointers: listing only the computed output pixels makes it sparse at no extra cost per
// pixel. Weights are packed once per ISA into column blocks that the microkernels stream.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "isa.h"

namespace adpc {

// How a column block's weights are laid out for its microkernel.
enum class BlockKind {
  // nrv vectors of output channels per pixel; each input value is broadcast to all lanes.
  broadcast,
  // nrv accumulators of lanes/2 channel pairs per pixel; two consecutive input channels are
  // broadcast together and each lane pair is summed at the end. For narrow blocks (<= 24
  // channels), where one broadcast per FMA would be the bottleneck.
  pair,
};

// One column block of the packed weights: output channels [n0, n0 + valid). Padding columns
// and channels hold zero weights.
struct ConvBlock {
  BlockKind kind;
  int n0;
  int valid;
  int nrv;
  size_t offset;  // floats from the start of the packed weights: the block's bias, then weights
};

struct PackedConv {
  Isa isa = Isa::scalar;
  int cout = 0;
  int cin = 0;
  int taps = 0;
  std::vector<ConvBlock> blocks;
  std::shared_ptr<const float> weights;  // 64-byte aligned, shared by copies
};

// weight: [cout][cin][taps] (PyTorch OIHW flattened; taps = kh*kw, row-major kh, kw),
// bias: cout floats or nullptr (zeros); BN already folded. Throws std::invalid_argument for
// a non-positive size or an ISA this build and CPU cannot run.
PackedConv pack_conv(const float* weight, const float* bias, int cout, int cin, int taps, Isa isa);

struct ConvJob {
  const float* const* in;        // npix * taps row pointers: pixel i, tap t -> in[i*taps + t]
                                 // (each cin floats; zero_row() for padding / absent rows)
  float* const* out;             // npix row pointers of cout floats, written only; no out
                                 // row may be one of the in rows
  const float* const* residual;  // nullptr, or npix row pointers of cout floats added before
                                 // the activation; residual[i] may equal out[i]
  bool add_bias;
  bool relu;                     // max(0, .) last
  size_t npix;                   // may be 0 (then no pointer is read)
  const float* post_bias = nullptr;  // nullptr, or cout floats added after the raw sum
  ptrdiff_t raw_offset = 0;      // non-zero: each out row's raw sum also goes this many
                                 // floats from it (a map beside out's, for the fills to read)
};

// raw[i][n] = sum_t sum_c in[i*taps+t][c] * W[n][c][t] (+ bias[n]),
// out[i][n] = act(raw[i][n] (+ post_bias[n]) (+ residual[i][n])),
// and out[i] + raw_offset holds raw[i] where raw_offset is set.
// Single-threaded; the caller splits pixels across threads.
void conv_rows(const PackedConv& conv, const ConvJob& job);

// Splitting npix at multiples of this count gives every piece whole register tiles.
size_t conv_pixel_quantum(const PackedConv& conv);

// A shared, 64-byte aligned row of at least `floats` zeros, valid for the process's life.
const float* zero_row(size_t floats);

}  // namespace adpc
