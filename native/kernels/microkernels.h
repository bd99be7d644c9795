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

#include "fill.h"
#include "isa_kernels.h"

namespace adpc {
namespace detail {

struct TileEpilogue {
  bool add_bias;
  bool relu;
  int col;                 // first output channel of the block
  int valid;               // output channels of the block
  const float* post;       // nullptr, or the job's post_bias
  ptrdiff_t raw;           // the job's raw_offset
};

// One vector of raw sums to n <= lanes columns of an output row (at column `col` of it, and
// of its raw row): the raw row, then + post bias, + residual, activation.
template <class V>
inline void store_columns(typename V::reg y, float* o, const float* r, int n, const TileEpilogue& e, int col) {
  const bool part = n < V::lanes;
  o += col;
  if (e.raw != 0) {
    if (part) V::store_part(o + e.raw, y, n);
    else V::storeu(o + e.raw, y);
  }
  if (e.post != nullptr) y = V::add(y, part ? V::load_part(e.post + col, n) : V::loadu(e.post + col));
  if (r != nullptr) {
    r += col;
    y = V::add(y, part ? V::load_part(r, n) : V::loadu(r));
  }
  if (e.relu) y = V::relu(y);
  if (part) {
    V::store_part(o, y, n);
  } else {
    V::storeu(o, y);
  }
}

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
      store_columns<V>(acc[m][v], out[m], res != nullptr ? res[m] : nullptr,
                       v == NRV - 1 ? last : L, e, e.col + v * L);
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
  const TileEpilogue e{job.add_bias, job.relu, b.n0, b.valid, job.post_bias, job.raw_offset};
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

// FillJob (fill.h) on V, for a window of radius R (positions in increasing order, as
// fill.h asks): per position the window's rows, each a
// computed neighbour's or the zero row, picked without a branch (the masks are scattered),
// then the weighted sum (one accumulator per window row, so the dependency chains stay short),
// bias, residual and activation in registers, one vector of channels at a time.
template <class V, int R>
void fill_window(const FillJob& j, const float* zero) {
  using reg = typename V::reg;
  constexpr int L = V::lanes, S = 2 * R + 1, T = S * S;
  const size_t rc = static_cast<size_t>(j.c), w = static_cast<size_t>(j.w);
  const float* src = j.source != nullptr ? j.source : j.map;
  const float* rows[T];
  ptrdiff_t offset[T];
#pragma GCC unroll 49
  for (int t = 0; t < T; ++t) offset[t] = static_cast<ptrdiff_t>(t / S - R) * j.w + (t % S - R);
  // positions come in increasing order: the row follows without a division per position
  size_t first = j.positions != nullptr ? static_cast<size_t>(j.positions[j.begin]) : j.begin;
  int y = static_cast<int>(first / w);
  size_t row_start = static_cast<size_t>(y) * w;
  for (size_t i = j.begin; i < j.end; ++i) {
    const size_t q = j.positions != nullptr ? static_cast<size_t>(j.positions[i]) : i;
    while (q >= row_start + w) {
      ++y;
      row_start += w;
    }
    const int x = static_cast<int>(q - row_start);
    if (y >= R && y + R < j.h && x >= R && x + R < j.w) {
#pragma GCC unroll 49
      for (int t = 0; t < T; ++t) {
        const size_t nq = static_cast<size_t>(static_cast<ptrdiff_t>(q) + offset[t]);
        rows[t] = j.mask[nq] != 0 ? src + nq * rc : zero;
      }
    } else {
#pragma GCC unroll 49
      for (int t = 0; t < T; ++t) {
        const int yy = y + t / S - R, xx = x + t % S - R;
        const bool inside = yy >= 0 && yy < j.h && xx >= 0 && xx < j.w;
        const size_t nq = inside ? static_cast<size_t>(yy) * w + static_cast<size_t>(xx) : q;
        rows[t] = inside && j.mask[nq] != 0 ? src + nq * rc : zero;
      }
    }
    float* out = j.map + q * rc;
    const float* res = j.residual != nullptr ? j.residual + q * rc : nullptr;
    for (size_t c = 0; c < rc; c += L) {
      const int n = rc - c < static_cast<size_t>(L) ? static_cast<int>(rc - c) : L;
      const bool part = n < L;
      reg acc[S];
#pragma GCC unroll 7
      for (int a = 0; a < S; ++a) acc[a] = V::zero();
#pragma GCC unroll 49
      for (int t = 0; t < T; ++t) {
        const reg r = part ? V::load_part(rows[t] + c, n) : V::loadu(rows[t] + c);
        acc[t / S] = V::fma(V::bcast(j.weights + t), r, acc[t / S]);
      }
      reg s = acc[0];
#pragma GCC unroll 7
      for (int a = 1; a < S; ++a) s = V::add(s, acc[a]);
      reg add = part ? V::load_part(j.bias + c, n) : V::loadu(j.bias + c);
      if (res != nullptr) add = V::add(add, part ? V::load_part(res + c, n) : V::loadu(res + c));
      s = V::add(s, add);
      if (j.relu) s = V::relu(s);
      if (part) {
        V::store_part(out + c, s, n);
      } else {
        V::storeu(out + c, s);
      }
    }
  }
}

template <class V>
void fill_generic(const FillJob& j, const float* zero) {
  switch (j.radius) {
    case 0: fill_window<V, 0>(j, zero); break;
    case 1: fill_window<V, 1>(j, zero); break;
    case 2: fill_window<V, 2>(j, zero); break;
    default: fill_window<V, 3>(j, zero); break;
  }
}

}  // namespace detail
}  // namespace adpc
