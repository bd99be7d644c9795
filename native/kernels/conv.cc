// Packing, per-ISA dispatch and the shared zero row (built without ISA flags).
#include "conv.h"

#include <algorithm>
#include <cstdint>
#include <climits>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>

#include "compact.h"
#include "fill.h"
#include "isa_kernels.h"
#include "merge.h"

namespace adpc {
namespace {

struct IsaKernels {
  detail::Geometry (*geometry)();
  void (*conv_rows)(const detail::ConvView&, const ConvJob&);
  detail::FillFn fill;
  size_t (*compact)(const uint8_t*, size_t, int32_t*, bool);
  void (*merge)(const MergeJob&);  // or null: the executor's generic loop
};

IsaKernels kernels_for(Isa isa) {
  if (!isa_supported(isa)) {
    throw std::invalid_argument(std::string("ISA ") + isa_name(isa) + " is not supported here");
  }
  switch (isa) {
#if defined(__x86_64__)
    case Isa::avx2:
      return {detail::geometry_avx2, detail::conv_rows_avx2, detail::fill_avx2, detail::compact_scalar, nullptr};
    case Isa::avx512:
      return {detail::geometry_avx512, detail::conv_rows_avx512, detail::fill_avx512, detail::compact_avx512, detail::merge_avx512};
#endif
#if defined(__aarch64__)
    case Isa::neon:
      return {detail::geometry_neon, detail::conv_rows_neon, detail::fill_neon, detail::compact_scalar, nullptr};
#endif
    default:
      return {detail::geometry_scalar, detail::conv_rows_scalar, detail::fill_scalar, detail::compact_scalar, nullptr};
  }
}

// Floats of one block: its bias (in output order), then its weights tap by tap.
size_t block_floats(BlockKind kind, int nrv, int cin, int taps, int lanes) {
  const size_t vec = static_cast<size_t>(lanes);
  if (kind == BlockKind::broadcast) return nrv * vec * (1 + static_cast<size_t>(taps) * cin);
  const size_t bias = (nrv + 1) / 2 * vec;
  return bias + static_cast<size_t>(taps) * ((cin + 1) / 2) * nrv * vec;
}

// Broadcast blocks as wide as the ISA allows while many columns remain; the last narrow
// rest in one pair block where the ISA has them.
std::vector<ConvBlock> plan_blocks(int cout, int cin, int taps, const detail::Geometry& g) {
  std::vector<ConvBlock> blocks;
  size_t offset = 0;
  for (int n0 = 0; n0 < cout;) {
    const int rest = cout - n0;
    ConvBlock b{BlockKind::broadcast, n0, 0, 0, offset};
    if (rest <= g.pair_cols) {
      b.kind = BlockKind::pair;
      b.nrv = (rest + g.lanes / 2 - 1) / (g.lanes / 2);
      b.valid = rest;
    } else {
      b.nrv = std::min(g.max_nrv, (rest + g.lanes - 1) / g.lanes);
      b.valid = std::min(rest, b.nrv * g.lanes);
    }
    blocks.push_back(b);
    offset += block_floats(b.kind, b.nrv, cin, taps, g.lanes);
    n0 += b.valid;
  }
  return blocks;
}

// Pair blocks: accumulator h holds lanes/2 (channel-pair) slots. Accumulators 2k, 2k+1
// reduce to one vector of `lanes` columns by an in-128-bit-lane shuffle and add that leaves
// slot s of accumulator 2k+j at column 4*(s/2) + 2*j + s%2; a lone last accumulator's
// slots are compacted to columns 0..lanes/2-1.
int pair_column(int h, int s, int nrv, int lanes) {
  const int base = h / 2 * lanes;
  if (h == nrv - 1 && nrv % 2 == 1) return base + s;
  return base + 4 * (s / 2) + 2 * (h % 2) + s % 2;
}

void pack_block(const ConvBlock& b, const float* weight, const float* bias, int cin, int taps,
                int lanes, float* dst) {
  const auto w = [&](int col, int c, int t) {
    if (col >= b.valid || c >= cin) return 0.0f;
    return weight[(static_cast<size_t>(b.n0 + col) * cin + c) * taps + t];
  };
  const int bias_cols = b.kind == BlockKind::broadcast ? b.nrv * lanes : (b.nrv + 1) / 2 * lanes;
  for (int j = 0; j < bias_cols; ++j) *dst++ = bias != nullptr && j < b.valid ? bias[b.n0 + j] : 0.0f;
  for (int t = 0; t < taps; ++t) {
    if (b.kind == BlockKind::broadcast) {
      for (int c = 0; c < cin; ++c) {
        for (int j = 0; j < b.nrv * lanes; ++j) *dst++ = w(j, c, t);
      }
      continue;
    }
    for (int cp = 0; cp < (cin + 1) / 2; ++cp) {
      for (int h = 0; h < b.nrv; ++h) {
        for (int s = 0; s < lanes / 2; ++s) {
          const int col = pair_column(h, s, b.nrv, lanes);
          *dst++ = w(col, 2 * cp, t);
          *dst++ = w(col, 2 * cp + 1, t);
        }
      }
    }
  }
}

constexpr std::align_val_t kAlign{64};

std::shared_ptr<float> aligned_floats(size_t n) {
  float* p = static_cast<float*>(::operator new[](n * sizeof(float), kAlign));
  std::fill(p, p + n, 0.0f);
  return std::shared_ptr<float>(p, [](float* q) { ::operator delete[](q, kAlign); });
}

}  // namespace

PackedConv pack_conv(const float* weight, const float* bias, int cout, int cin, int taps, Isa isa) {
  if (cout <= 0 || cin <= 0 || taps <= 0 || weight == nullptr) {
    throw std::invalid_argument("pack_conv: cout, cin and taps must be positive and weight given");
  }
  const detail::Geometry g = kernels_for(isa).geometry();
  PackedConv p;
  p.isa = isa;
  p.cout = cout;
  p.cin = cin;
  p.taps = taps;
  p.blocks = plan_blocks(cout, cin, taps, g);
  const ConvBlock& last = p.blocks.back();
  std::shared_ptr<float> packed =
      aligned_floats(last.offset + block_floats(last.kind, last.nrv, cin, taps, g.lanes));
  for (const ConvBlock& b : p.blocks) pack_block(b, weight, bias, cin, taps, g.lanes, packed.get() + b.offset);
  p.weights = std::move(packed);
  return p;
}

void conv_rows(const PackedConv& conv, const ConvJob& job) {
  if (job.npix == 0) return;
  const detail::ConvView view{conv.weights.get(), conv.blocks.data(),
                              static_cast<int>(conv.blocks.size()), conv.cin, conv.taps};
  kernels_for(conv.isa).conv_rows(view, job);
}

size_t conv_pixel_quantum(const PackedConv& conv) {
  return static_cast<size_t>(kernels_for(conv.isa).geometry().quantum);
}

void fill_positions(Isa isa, const FillJob& job) {
  if (job.radius < 0 || job.radius > 3) throw std::invalid_argument("fill_positions: radius must be 0..3");
  if (job.begin >= job.end) return;
  kernels_for(isa).fill(job, zero_row(static_cast<size_t>(job.c)));
}

size_t compact_positions(Isa isa, const uint8_t* flags, size_t n, int32_t* out, bool unset) {
  return kernels_for(isa).compact(flags, n, out, unset);
}

bool merge_positions(Isa isa, const MergeJob& job) {
  const auto merge = kernels_for(isa).merge;
  if (merge == nullptr) return false;
  if (job.begin >= job.end) return true;
  // the kernels gather with 32-bit element offsets (position x classes + class): a map too
  // large for them goes to the generic loop (positions come in increasing order)
  const size_t last = job.positions != nullptr ? static_cast<size_t>(job.positions[job.end - 1]) : job.end - 1;
  if ((last + 1) * static_cast<size_t>(job.classes) > static_cast<size_t>(INT32_MAX)) return false;
  merge(job);
  return true;
}

const float* zero_row(size_t floats) {
  // Enough for any layer's rows; it lies in .bss, so untouched pages cost nothing.
  constexpr size_t kStatic = 16384;
  alignas(64) static const float zeros[kStatic] = {};
  if (floats <= kStatic) return zeros;
  // Larger requests: rows that are never freed, so every pointer handed out stays valid.
  static std::mutex mu;
  static std::vector<std::shared_ptr<float>> grown;
  std::lock_guard<std::mutex> lock(mu);
  static size_t largest = 0;
  if (floats > largest) {
    largest = std::max(floats, 2 * largest);
    grown.push_back(aligned_floats(largest));
  }
  return grown.back().get();
}

}  // namespace adpc
