// Internal: the register-blocked kernels, written once over a vector-ops type V that each
// per-ISA translation unit defines (and instantiates inside its own anonymous namespace, so
// no instantiation is shared between units built with different ISA flags).
//
// V provides: reg, lanes, max_nrv, mr(nrv) (tile height for a block nrv vectors wide),
// chunk (pixels per pass over the column blocks, a multiple of every mr), and the ops
// zero, load (aligned), loadu, load_part(p, n) (reads n < lanes floats, rest zero), bcast,
// fma(a, b, acc) = acc + a*b, add, relu, storeu, store_part(p, x, n) (writes n < lanes).
#pragma once

#include <cstddef>
#include <utility>

#include "isa_kernels.h"

namespace adpc {
namespace detail {

struct TileEpilogue {
  bool add_bias;
  bool relu;
  int col;         // first output channel of the block
  int last_lanes;  // valid lanes of the block's last vector (1..lanes)
};

// MR output pixels x NRV vectors of output channels. `in` holds the MR pixels' tap
// pointers, `block` the block's packed bias and weights, out/res the MR pixels' rows.
template <class V, int MR, int NRV>
void conv_tile(const float* const* in, int taps, int cin, const float* block,
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
  const bool full = e.last_lanes == L;
#pragma GCC unroll 32
  for (int m = 0; m < MR; ++m) {
    float* o = out[m] + e.col;
    const float* r = res != nullptr ? res[m] + e.col : nullptr;
#pragma GCC unroll 8
    for (int v = 0; v < NRV; ++v) {
      reg y = acc[m][v];
      const bool part = v == NRV - 1 && !full;
      if (r != nullptr) y = V::add(y, part ? V::load_part(r + v * L, e.last_lanes) : V::loadu(r + v * L));
      if (e.relu) y = V::relu(y);
      if (part) {
        V::store_part(o + v * L, y, e.last_lanes);
      } else {
        V::storeu(o + v * L, y);
      }
    }
  }
}

using TileFn = void (*)(const float* const*, int, int, const float*, const TileEpilogue&,
                        float* const*, const float* const*);

// Kernels for the last, shorter tile of a pass: heights 1 .. mr-1.
template <class V, int NRV, class Heights>
struct TailTiles;
template <class V, int NRV, int... H>
struct TailTiles<V, NRV, std::integer_sequence<int, H...>> {
  static constexpr TileFn fns[sizeof...(H) + 1] = {nullptr, &conv_tile<V, H + 1, NRV>...};
};

template <class V, int NRV>
void conv_block(const ConvView& conv, const ConvBlock& b, const ConvJob& job, size_t p0,
                size_t count) {
  constexpr int MR = V::mr(NRV);
  const TileEpilogue e{job.add_bias, job.relu, b.n0, b.valid - (NRV - 1) * V::lanes};
  const float* block = conv.weights + b.offset;
  const size_t taps = static_cast<size_t>(conv.taps);
  const float* const* res = job.residual != nullptr ? job.residual + p0 : nullptr;
  size_t i = 0;
  for (; i + MR <= count; i += MR) {
    conv_tile<V, MR, NRV>(job.in + (p0 + i) * taps, conv.taps, conv.cin, block, e,
                          job.out + p0 + i, res != nullptr ? res + i : nullptr);
  }
  if (i < count) {
    TailTiles<V, NRV, std::make_integer_sequence<int, MR - 1>>::fns[count - i](
        job.in + (p0 + i) * taps, conv.taps, conv.cin, block, e, job.out + p0 + i,
        res != nullptr ? res + i : nullptr);
  }
}

template <class V, int NRV = 1>
void conv_block_nrv(const ConvView& conv, const ConvBlock& b, const ConvJob& job, size_t p0,
                    size_t count) {
  if constexpr (NRV <= V::max_nrv) {
    if (b.nrv == NRV) {
      conv_block<V, NRV>(conv, b, job, p0, count);
    } else {
      conv_block_nrv<V, NRV + 1>(conv, b, job, p0, count);
    }
  }
}

// Pixels in chunks, each chunk through every column block: a chunk's input rows stay in
// cache while the blocks' weights stream past them.
template <class V>
void conv_rows_generic(const ConvView& conv, const ConvJob& job) {
  for (size_t p0 = 0; p0 < job.npix; p0 += V::chunk) {
    const size_t count = job.npix - p0 < static_cast<size_t>(V::chunk) ? job.npix - p0 : V::chunk;
    for (int k = 0; k < conv.nblocks; ++k) conv_block_nrv<V>(conv, conv.blocks[k], job, p0, count);
  }
}

template <class V>
constexpr Geometry geometry_of() {
  return Geometry{V::lanes, V::max_nrv, V::chunk};
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
