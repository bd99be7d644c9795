// Packing, per-ISA dispatch and the shared zero row (built without ISA flags).
#include "conv.h"

#include <algorithm>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>

#include "fill.h"
#include "isa_kernels.h"

namespace adpc {
namespace {

struct IsaKernels {
  detail::Geometry (*geometry)();
  void (*conv_rows)(const detail::ConvView&, const ConvJob&);
  detail::RowsFn weighted_rows;
};

IsaKernels kernels_for(Isa isa) {
  if (!isa_supported(isa)) {
    throw std::invalid_argument(std::string("ISA ") + isa_name(isa) + " is not supported here");
  }
  switch (isa) {
#if defined(__x86_64__)
    case Isa::avx2:
      return {detail::geometry_avx2, detail::conv_rows_avx2, detail::weighted_rows_avx2};
    case Isa::avx512:
      return {detail::geometry_avx512, detail::conv_rows_avx512, detail::weighted_rows_avx512};
#endif
#if defined(__aarch64__)
    case Isa::neon:
      return {detail::geometry_neon, detail::conv_rows_neon, detail::weighted_rows_neon};
#endif
    default:
      return {detail::geometry_scalar, detail::conv_rows_scalar, detail::weighted_rows_scalar};
  }
}

// Column blocks as wide as the ISA allows; the last one only as wide as its channels need.
std::vector<ConvBlock> plan_blocks(int cout, int cin, int taps, const detail::Geometry& g) {
  std::vector<ConvBlock> blocks;
  size_t offset = 0;
  for (int n0 = 0; n0 < cout;) {
    const int rest = cout - n0;
    const int nrv = std::min(g.max_nrv, (rest + g.lanes - 1) / g.lanes);
    const int valid = std::min(rest, nrv * g.lanes);
    blocks.push_back(ConvBlock{n0, valid, nrv, offset});
    const size_t width = static_cast<size_t>(nrv) * g.lanes;
    offset += width * (1 + static_cast<size_t>(taps) * cin);
    n0 += valid;
  }
  return blocks;
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
  const size_t total = last.offset + static_cast<size_t>(last.nrv) * g.lanes *
                                         (1 + static_cast<size_t>(taps) * cin);
  std::shared_ptr<float> packed = aligned_floats(total);
  for (const ConvBlock& b : p.blocks) {
    const size_t width = static_cast<size_t>(b.nrv) * g.lanes;
    float* dst = packed.get() + b.offset;
    for (int j = 0; j < b.valid; ++j) dst[j] = bias != nullptr ? bias[b.n0 + j] : 0.0f;
    dst += width;
    for (int t = 0; t < taps; ++t) {
      for (int c = 0; c < cin; ++c) {
        for (int j = 0; j < b.valid; ++j) {
          const size_t n = static_cast<size_t>(b.n0 + j);
          dst[j] = weight[(n * cin + c) * taps + t];
        }
        dst += width;
      }
    }
  }
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

void weighted_rows(Isa isa, const float* const* rows, const float* w, int n, int channels,
                   float* out, bool accumulate) {
  kernels_for(isa).weighted_rows(rows, w, n, channels, out, accumulate);
}

void weighted_rows(const float* const* rows, const float* w, int n, int channels, float* out,
                   bool accumulate) {
  static const detail::RowsFn chosen = kernels_for(detect_isa()).weighted_rows;
  chosen(rows, w, n, channels, out, accumulate);
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
