// Internal: the register-blocked kernels, written once over a vector-ops type V that each
// per-ISA translation unit defines (and instantiates inside its own anonymous namespace, so
// no instantiation is shared between units built with different ISA flags).
//
// V provides: reg, lanes, max_nrv, mr(nrv) (tile height for a broadcast block nrv vectors
// wide), quantum (a multiple of every tile height), chunk (pixels per pass over the column
// blocks, a multiple of quantum), pair_cols (see Geometry; 0 unless the unit has pair
// tiles), and the ops
// zero, load (aligned), loadu, load_part(p, n) (reads n < lanes floats, rest zero), bcast,
// fma(a, b, acc) = acc + a*b, add, relu, storeu, store_part(p, x, n) (writes n < lanes).
#pragma once

#include <cstddef>
#include <utility>

#include "isa_kernels.h"

namespace adpc {
namespace detail {

// One vector of results to n <= lanes columns of an output row: + residual, activation.
template <class V>
inline void store_columns(typename V::reg y, float* o, const float* r, int n, bool relu) {
  const bool part = n < V::lanes;
  if (r != nullptr) y = V::add(y, part ? V::load_part(r, n) : V::loadu(r));
  if (relu) y = V::relu(y);
  if (part) {
    V::store_part(o, y, n);
  } else {
    V::storeu(o, y);
  }
}

struct TileEpilogue {
  bool add_bias;
  bool relu;
  int col;    // first output channel of the block
  int valid;  // output channels of the block
};

// MR output pixels x NRV vectors of output channels, each input value broadcast. `in` holds
// the MR pixels' tap pointers, `block` the block's packed bias and weights, out/res the MR
// pixels' rows.
template <class V, int MR, int NRV>
void broadcast_tile(const float* const* in, int taps, int cin, const float* block,
                    const TileEpilogue& e, float* const* out, const float* const* res) {
  using reg = typename V::reg;
  constexpr int L = V::lanes;
  constexpr int NR = NRV * L;
  reg acc[MR][NRV];
#pragma GCC unroll 8
  for (int v = 0; v < NRV; ++v) {
    const reg b = e.add_bias ? V::load(block + v * L) : V::zero();
#pragma GCC unroll 32
    for (int m = 0; m < MR; ++m) acc[m][v] = b;
  }
  const float* w = block + NR;
  for (int t = 0; t < taps; ++t) {
    const float* a[MR];
#pragma GCC unroll 32
    for (int m = 0; m < MR; ++m) a[m] = in[m * taps + t];
#pragma GCC unroll 2
    for (int c = 0; c < cin; ++c) {
      reg wv[NRV];
#pragma GCC unroll 8
      for (int v = 0; v < NRV; ++v) wv[v] = V::load(w + v * L);
#pragma GCC unroll 32
      for (int m = 0; m < MR; ++m) {
        const reg x = V::bcast(a[m] + c);
#pragma GCC unroll 8
        for (int v = 0; v < NRV; ++v) acc[m][v] = V::fma(x, wv[v], acc[m][v]);
      }
      w += NR;
    }
  }
  const int last = e.valid - (NRV - 1) * L;  // valid lanes of the last vector
#pragma GCC unroll 32
  for (int m = 0; m < MR; ++m) {
#pragma GCC unroll 8
    for (int v = 0; v < NRV; ++v) {
      store_columns<V>(acc[m][v], out[m] + e.col + v * L,
                       res != nullptr ? res[m] + e.col + v * L : nullptr,
                       v == NRV - 1 ? last : L, e.relu);
    }
  }
}

using TileFn = void (*)(const float* const*, int, int, const float*, const TileEpilogue&,
                        float* const*, const float* const*);

// A tile family: Tile::mr and Tile::fn<M>(), the kernel for M <= mr pixels.
template <class V, int NRV>
struct BroadcastTiles {
  static constexpr int mr = V::mr(NRV);
  template <int M>
  static constexpr TileFn fn() { return &broadcast_tile<V, M, NRV>; }
};

// Kernels for the last, shorter tile of a pass: heights 1 .. mr-1.
template <class Tiles, class Heights>
struct TailTiles;
template <class Tiles, int... H>
struct TailTiles<Tiles, std::integer_sequence<int, H...>> {
  static constexpr TileFn fns[sizeof...(H) + 1] = {nullptr, Tiles::template fn<H + 1>()...};
};

// `count` pixels from p0 through one column block, mr at a time.
template <class Tiles>
void conv_block(const ConvView& conv, const ConvBlock& b, const ConvJob& job, size_t p0,
                size_t count) {
  constexpr int MR = Tiles::mr;
  constexpr TileFn full = Tiles::template fn<MR>();
  const TileEpilogue e{job.add_bias, job.relu, b.n0, b.valid};
  const float* block = conv.weights + b.offset;
  const size_t taps = static_cast<size_t>(conv.taps);
  const float* const* res = job.residual != nullptr ? job.residual + p0 : nullptr;
  size_t i = 0;
  for (; i + MR <= count; i += MR) {
    full(job.in + (p0 + i) * taps, conv.taps, conv.cin, block, e, job.out + p0 + i,
         res != nullptr ? res + i : nullptr);
  }
  if (i < count) {
    TailTiles<Tiles, std::make_integer_sequence<int, MR - 1>>::fns[count - i](
        job.in + (p0 + i) * taps, conv.taps, conv.cin, block, e, job.out + p0 + i,
        res != nullptr ? res + i : nullptr);
  }
}

template <class V, int NRV = 1>
void broadcast_block(const ConvView& conv, const ConvBlock& b, const ConvJob& job, size_t p0,
                     size_t count) {
  if constexpr (NRV <= V::max_nrv) {
    if (b.nrv == NRV) {
      conv_block<BroadcastTiles<V, NRV>>(conv, b, job, p0, count);
    } else {
      broadcast_block<V, NRV + 1>(conv, b, job, p0, count);
    }
  }
}

using BlockFn = void (*)(const ConvView&, const ConvBlock&, const ConvJob&, size_t, size_t);

// Pixels in chunks, each chunk through every column block: a chunk's input rows stay in
// cache while the blocks' weights stream past them.
template <class V>
void conv_rows_generic(const ConvView& conv, const ConvJob& job, BlockFn block = &broadcast_block<V>) {
  for (size_t p0 = 0; p0 < job.npix; p0 += V::chunk) {
    const size_t count = job.npix - p0 < static_cast<size_t>(V::chunk) ? job.npix - p0 : V::chunk;
    for (int k = 0; k < conv.nblocks; ++k) block(conv, conv.blocks[k], job, p0, count);
  }
}

template <class V>
constexpr Geometry geometry_of() {
  return Geometry{V::lanes, V::max_nrv, V::quantum, V::pair_cols};
}

// VW vectors of channels at a time, rows in order.
template <class V, int VW>
inline void weighted_span(const float* const* rows, const float* w, int n, int c, float* out,
                          bool accumulate) {
  using reg = typename V::reg;
  constexpr int L = V::lanes;
  reg s[VW];
#pragma GCC unroll 8
  for (int j = 0; j < VW; ++j) s[j] = accumulate ? V::loadu(out + c + j * L) : V::zero();
  for (int k = 0; k < n; ++k) {
    const reg wk = V::bcast(w + k);
    const float* r = rows[k] + c;
#pragma GCC unroll 8
    for (int j = 0; j < VW; ++j) s[j] = V::fma(wk, V::loadu(r + j * L), s[j]);
  }
#pragma GCC unroll 8
  for (int j = 0; j < VW; ++j) V::storeu(out + c + j * L, s[j]);
}

template <class V>
void weighted_rows_generic(const float* const* rows, const float* w, int n, int channels,
                           float* out, bool accumulate) {
  using reg = typename V::reg;
  constexpr int L = V::lanes;
  int c = 0;
  for (; c + 4 * L <= channels; c += 4 * L) weighted_span<V, 4>(rows, w, n, c, out, accumulate);
  for (; c + L <= channels; c += L) weighted_span<V, 1>(rows, w, n, c, out, accumulate);
  if (c < channels) {
    const int rest = channels - c;
    reg s = accumulate ? V::load_part(out + c, rest) : V::zero();
    for (int k = 0; k < n; ++k) s = V::fma(V::bcast(w + k), V::load_part(rows[k] + c, rest), s);
    V::store_part(out + c, s, rest);
  }
}

}  // namespace detail
}  // namespace adpc
