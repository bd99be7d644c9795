// Every ISA's kernels against naive references; the thread pool's guarantees.
// Prints one line per group and a closing `N passed, M failed`; exits 1 on any failure.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif
#include "../kernels/compact.h"
#include "../kernels/conv.h"
#include "../kernels/fill.h"
#include "../kernels/isa.h"
#include "../kernels/merge.h"
#include "../kernels/thread_pool.h"
#include "../src/row_ops.h"

using namespace adpc;

namespace {

int g_passed = 0;
int g_failed = 0;

// One named check; prints the first few failures of a group in full.
struct Group {
  std::string name;
  int passed = 0;
  int failed = 0;
  explicit Group(std::string n) : name(std::move(n)) {}
  bool check(bool ok, const std::string& what) {
    if (ok) {
      ++passed;
    } else {
      if (failed < 8) std::printf("  FAIL %s: %s\n", name.c_str(), what.c_str());
      ++failed;
    }
    return ok;
  }
  ~Group() {
    std::printf("%-44s %6d passed, %d failed\n", name.c_str(), passed, failed);
    g_passed += passed;
    g_failed += failed;
  }
};

std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* f, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, f);
  std::vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  return buf;
}

std::mt19937 rng(20261214);

float uniform(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(rng); }
int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }

constexpr float kGuard = 12345.5f;
constexpr int kPad = 64;  // guard floats on each side of every output row

// Rows of `width` floats, each between guard bands and at a varying (unaligned) offset.
struct GuardedRows {
  int width;
  std::vector<float> buf;
  std::vector<size_t> start;
  GuardedRows(size_t rows, int w) : width(w) {
    const size_t stride = static_cast<size_t>(w) + 2 * kPad + 3;
    buf.assign(rows * stride + 1, kGuard);
    for (size_t i = 0; i < rows; ++i) start.push_back(i * stride + kPad + (i % 4));
  }
  float* row(size_t i) { return buf.data() + start[i]; }
  bool guards_intact() const {
    std::vector<bool> inside(buf.size(), false);
    for (size_t s : start) std::fill(inside.begin() + s, inside.begin() + s + width, true);
    for (size_t k = 0; k < buf.size(); ++k) {
      if (!inside[k] && buf[k] != kGuard) return false;
    }
    return true;
  }
};

bool close_enough(float got, double want, double scale) {
  return std::fabs(static_cast<double>(got) - want) <= 1e-5 * scale + 1e-30;
}

// ---- conv_rows against a naive double-precision reference --------------------------------

enum class Residual { none, separate, aliased };

struct ConvCase {
  int cout, cin, taps;
  size_t npix;
  bool add_bias, relu, null_bias;
  Residual residual;
  bool keep_raw = false;  // a post bias after the raw sums, which also go to rows aside
};

std::string describe(const ConvCase& k) {
  static const char* res[] = {"none", "separate", "aliased"};
  return fmt("cout=%d cin=%d taps=%d npix=%zu bias=%d%s relu=%d residual=%s raw=%d", k.cout, k.cin,
             k.taps, k.npix, k.add_bias, k.null_bias ? "(null)" : "", k.relu,
             res[static_cast<int>(k.residual)], k.keep_raw);
}

void run_conv_case(const ConvCase& k, const std::vector<Isa>& isas, std::vector<Group>& groups) {
  std::vector<float> weight(static_cast<size_t>(k.cout) * k.cin * k.taps);
  for (float& w : weight) w = uniform(-1, 1);
  std::vector<float> bias(k.cout), post(k.cout);
  for (float& b : bias) b = uniform(-1, 1);
  for (float& b : post) b = uniform(-1, 1);
  // A pool of input rows, each unaligned and ending where its allocation ends (so that a
  // sanitizer build sees any read past a row); taps pick from it or the zero row.
  const size_t pool = std::max<size_t>(4, k.npix);
  std::vector<std::vector<float>> inrows(pool, std::vector<float>(k.cin + 1));
  for (auto& r : inrows) {
    for (float& x : r) x = uniform(-1, 1);
  }
  std::vector<const float*> in(k.npix * k.taps);
  for (const float*& p : in) {
    p = pick(0, 9) == 0 ? zero_row(k.cin) : inrows[pick(0, static_cast<int>(pool) - 1)].data() + 1;
  }
  GuardedRows resrows(k.npix, k.cout);
  for (size_t i = 0; i < k.npix; ++i) {
    for (int n = 0; n < k.cout; ++n) resrows.row(i)[n] = uniform(-2, 2);
  }
  const bool use_bias = k.add_bias && !k.null_bias;
  std::vector<double> want(k.npix * k.cout), scale(k.npix * k.cout), want_raw(k.npix * k.cout), scale_raw(k.npix * k.cout);
  for (size_t i = 0; i < k.npix; ++i) {
    for (int n = 0; n < k.cout; ++n) {
      double s = use_bias ? bias[n] : 0.0, a = std::fabs(s);
      for (int t = 0; t < k.taps; ++t) {
        const float* r = in[i * k.taps + t];
        for (int c = 0; c < k.cin; ++c) {
          const double term = static_cast<double>(r[c]) * weight[(static_cast<size_t>(n) * k.cin + c) * k.taps + t];
          s += term;
          a += std::fabs(term);
        }
      }
      want_raw[i * k.cout + n] = s;
      scale_raw[i * k.cout + n] = a;
      if (k.keep_raw) {
        s += post[n];
        a += std::fabs(post[n]);
      }
      if (k.residual != Residual::none) {
        s += resrows.row(i)[n];
        a += std::fabs(resrows.row(i)[n]);
      }
      if (k.relu) s = std::max(s, 0.0);
      want[i * k.cout + n] = s;
      scale[i * k.cout + n] = a;
    }
  }
  for (size_t g = 0; g < isas.size(); ++g) {
    Group& grp = groups[g];
    const PackedConv pc = pack_conv(weight.data(), k.null_bias ? nullptr : bias.data(), k.cout,
                                    k.cin, k.taps, isas[g]);
    // Aliased: out rows are a copy of the residual rows. Otherwise they start as NaN, so a
    // kernel that reads them shows.
    GuardedRows target = k.residual == Residual::aliased ? resrows : GuardedRows(k.npix, k.cout);
    std::vector<float*> out(k.npix);
    std::vector<const float*> res(k.npix);
    for (size_t i = 0; i < k.npix; ++i) {
      out[i] = target.row(i);
      if (k.residual != Residual::aliased) std::fill(out[i], out[i] + k.cout, NAN);
      res[i] = k.residual == Residual::aliased ? target.row(i) : resrows.row(i);
    }
    ConvJob job{k.npix ? in.data() : nullptr, k.npix ? out.data() : nullptr,
                k.residual == Residual::none ? nullptr : (k.npix ? res.data() : nullptr),
                k.add_bias, k.relu, k.npix};
    // the raw rows lie as far from the out rows as the two buffers from each other
    GuardedRows raw(k.npix, k.cout);
    if (k.keep_raw) {
      job.post_bias = post.data();
      job.raw_offset = static_cast<ptrdiff_t>(reinterpret_cast<uintptr_t>(raw.buf.data()) -
                                              reinterpret_cast<uintptr_t>(target.buf.data())) / static_cast<ptrdiff_t>(sizeof(float));
    }
    conv_rows(pc, job);
    int bad = 0;
    std::string first;
    for (size_t i = 0; i < k.npix; ++i) {
      for (int n = 0; n < k.cout; ++n) {
        const float got = out[i][n];
        if (!close_enough(got, want[i * k.cout + n], scale[i * k.cout + n])) {
          if (bad++ == 0) first = fmt(" first at pixel %zu channel %d: %.9g vs %.9g", i, n, got, want[i * k.cout + n]);
        }
      }
    }
    grp.check(bad == 0, describe(k) + fmt(": %d wrong values", bad) + first);
    grp.check(target.guards_intact(), describe(k) + ": wrote outside its rows");
    if (k.keep_raw) {
      int bad_raw = 0;
      for (size_t i = 0; i < k.npix; ++i) {
        for (int n = 0; n < k.cout; ++n) bad_raw += !close_enough(raw.row(i)[n], want_raw[i * k.cout + n], scale_raw[i * k.cout + n]);
      }
      grp.check(bad_raw == 0, describe(k) + fmt(": %d wrong raw sums", bad_raw));
      grp.check(raw.guards_intact(), describe(k) + ": wrote outside its raw rows");
    }
  }
}

void test_conv_rows(const std::vector<Isa>& isas) {
  std::vector<Group> groups;
  groups.reserve(isas.size());
  for (Isa isa : isas) groups.emplace_back(fmt("conv_rows %s vs naive", isa_name(isa)));
  const int couts[] = {1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 19, 24, 31, 32, 33, 40, 47, 48, 49, 63, 64, 65, 80, 96, 112, 128, 129, 240};
  const int cins[] = {1, 2, 3, 4, 5, 8, 16, 17, 19, 32, 48, 64, 112, 128, 240};
  const int tapss[] = {1, 9, 2, 4};
  // npix sizes that hit tile and chunk edges of every ISA (tiles 4-8 high, chunks 64-96).
  const size_t edges[] = {0, 1, 2, 3, 5, 6, 7, 8, 9, 12, 13, 23, 24, 25, 47, 63, 64, 65, 95, 96, 97, 191, 193};
  int round = 0;
  for (int cout : couts) {
    for (int cin : cins) {
      for (int taps : tapss) {
        // Every cout/cin pair once with 1 and 9 taps, the other tap counts on a sample.
        if (taps > 1 && taps != 9 && pick(0, 5) != 0) continue;
        const double per_pixel = static_cast<double>(cout) * cin * taps;
        const size_t max_pix = static_cast<size_t>(std::clamp(6e5 / per_pixel, 1.0, 200.0));
        size_t npix = edges[pick(0, sizeof edges / sizeof edges[0] - 1)];
        if (npix > max_pix) npix = static_cast<size_t>(pick(1, static_cast<int>(max_pix)));
        const ConvCase k{cout, cin, taps, npix, pick(0, 3) != 0, pick(0, 1) == 1, pick(0, 4) == 0,
                         static_cast<Residual>(round++ % 3), pick(0, 3) == 0};
        run_conv_case(k, isas, groups);
      }
    }
  }
  // Reductions long enough to run in several panels (taps in groups, channels split per tap),
  // with every residual mode: the residual must enter before a partial sum overwrites it.
  const std::array<int, 3> long_reductions[] = {{64, 240, 9}, {64, 64, 9}, {40, 300, 1}, {17, 200, 9}};
  for (const auto& dims : long_reductions) {
    for (int mode = 0; mode < 3; ++mode) {
      const ConvCase k{dims[0], dims[1], dims[2], 30, true, mode != 1, false, static_cast<Residual>(mode)};
      run_conv_case(k, isas, groups);
    }
  }
  // The explicit edge cases: nothing, one pixel, a longer run over every flag combination.
  for (size_t npix : {size_t{0}, size_t{1}, size_t{250}}) {
    for (int flags = 0; flags < 24; ++flags) {
      const ConvCase k{19, 16, 9, npix, (flags & 1) != 0, (flags & 2) != 0, false, static_cast<Residual>(flags / 4 % 3), flags >= 12};
      run_conv_case(k, isas, groups);
    }
  }
}

// ---- a real 3x3 convolution (stride 1 and 2, pad 1) built through zero_row padding --------

void test_image_conv(const std::vector<Isa>& isas) {
  Group grp("conv_rows as 3x3 / 1x1 image conv (OIHW)");
  const int H = 7, W = 9, cin = 5, cout = 19;
  std::vector<float> img(static_cast<size_t>(H) * W * cin);  // NHWC
  for (float& x : img) x = uniform(-1, 1);
  for (int k : {1, 3}) {
    for (int stride : {1, 2}) {
      const int pad = k / 2, taps = k * k;
      const int OH = (H + 2 * pad - k) / stride + 1, OW = (W + 2 * pad - k) / stride + 1;
      std::vector<float> w(static_cast<size_t>(cout) * cin * taps);  // OIHW
      for (float& x : w) x = uniform(-1, 1);
      std::vector<const float*> in;
      for (int oy = 0; oy < OH; ++oy) {
        for (int ox = 0; ox < OW; ++ox) {
          for (int ky = 0; ky < k; ++ky) {
            for (int kx = 0; kx < k; ++kx) {
              const int y = oy * stride + ky - pad, x = ox * stride + kx - pad;
              in.push_back(y < 0 || y >= H || x < 0 || x >= W ? zero_row(cin) : img.data() + (static_cast<size_t>(y) * W + x) * cin);
            }
          }
        }
      }
      for (Isa isa : isas) {
        const PackedConv pc = pack_conv(w.data(), nullptr, cout, cin, taps, isa);
        std::vector<float> out(static_cast<size_t>(OH) * OW * cout + kPad, kGuard);
        std::vector<float*> rows;
        for (int p = 0; p < OH * OW; ++p) rows.push_back(out.data() + static_cast<size_t>(p) * cout);
        conv_rows(pc, ConvJob{in.data(), rows.data(), nullptr, false, false, rows.size()});
        int bad = 0;
        for (int oy = 0; oy < OH; ++oy) {
          for (int ox = 0; ox < OW; ++ox) {
            for (int n = 0; n < cout; ++n) {
              double s = 0, a = 0;
              for (int c = 0; c < cin; ++c) {
                for (int ky = 0; ky < k; ++ky) {
                  for (int kx = 0; kx < k; ++kx) {
                    const int y = oy * stride + ky - pad, x = ox * stride + kx - pad;
                    if (y < 0 || y >= H || x < 0 || x >= W) continue;
                    const double term = static_cast<double>(img[(static_cast<size_t>(y) * W + x) * cin + c]) *
                                        w[((static_cast<size_t>(n) * cin + c) * k + ky) * k + kx];
                    s += term;
                    a += std::fabs(term);
                  }
                }
              }
              if (!close_enough(out[(static_cast<size_t>(oy) * OW + ox) * cout + n], s, a)) ++bad;
            }
          }
        }
        grp.check(bad == 0, fmt("%s k=%d stride=%d: %d wrong values", isa_name(isa), k, stride, bad));
        grp.check(std::all_of(out.end() - kPad, out.end(), [](float x) { return x == kGuard; }),
                  fmt("%s k=%d stride=%d: wrote past the last row", isa_name(isa), k, stride));
      }
    }
  }
}

// ---- splitting pixels across a pool gives the same bits as one call ------------------------

void test_split(const std::vector<Isa>& isas) {
  Group grp("conv_rows split across ThreadPool(2)");
  ThreadPool pool(2);
  const int cout = 112, cin = 48, taps = 9;
  const size_t npix = 517;
  std::vector<float> w(static_cast<size_t>(cout) * cin * taps), bias(cout), inbuf(600 * cin);
  for (float& x : w) x = uniform(-1, 1);
  for (float& x : bias) x = uniform(-1, 1);
  for (float& x : inbuf) x = uniform(-1, 1);
  std::vector<const float*> in(npix * taps);
  for (const float*& p : in) p = pick(0, 7) == 0 ? zero_row(cin) : inbuf.data() + pick(0, 599) * cin;
  for (Isa isa : isas) {
    const PackedConv pc = pack_conv(w.data(), bias.data(), cout, cin, taps, isa);
    std::vector<float> whole(npix * cout), split(npix * cout);
    std::vector<float*> rw(npix), rs(npix);
    for (size_t i = 0; i < npix; ++i) {
      rw[i] = whole.data() + i * cout;
      rs[i] = split.data() + i * cout;
    }
    conv_rows(pc, ConvJob{in.data(), rw.data(), nullptr, true, true, npix});
    // Uneven pieces (not quantum multiples) still give identical results per pixel.
    for (size_t piece : {conv_pixel_quantum(pc), size_t{7}, size_t{100}}) {
      std::fill(split.begin(), split.end(), -1.0f);
      pool.parallel_for((npix + piece - 1) / piece, [&](size_t t, int) {
        const size_t p0 = t * piece, n = std::min(piece, npix - p0);
        conv_rows(pc, ConvJob{in.data() + p0 * taps, rs.data() + p0, nullptr, true, true, n});
      });
      grp.check(std::memcmp(whole.data(), split.data(), whole.size() * sizeof(float)) == 0,
                fmt("%s pieces of %zu differ from one call", isa_name(isa), piece));
    }
  }
}

// ---- fill_positions -----------------------------------------------------------------------

void test_fill(const std::vector<Isa>& isas) {
  for (Isa isa : isas) {
    Group grp(fmt("fill_positions %s vs naive", isa_name(isa)));
    for (int channels : {1, 3, 8, 15, 16, 17, 19, 32, 33, 64, 240}) {
      for (int radius : {0, 1, 2, 3}) {
        for (int variant = 0; variant < 8; ++variant) {
          // aside: the window reads a source map; the map's own computed rows must not be read
          const bool residual = variant & 1, relu = variant & 2, aside = variant & 4;
          const int h = pick(1, 9), w = pick(1, 11), side = 2 * radius + 1;
          const size_t n = static_cast<size_t>(h) * w, c = static_cast<size_t>(channels);
          std::vector<uint8_t> mask(n);
          for (uint8_t& m : mask) m = pick(0, 2) != 0 ? static_cast<uint8_t>(pick(1, 255)) : 0;
          std::vector<float> map(n * c), res(n * c), bias(c), weights(static_cast<size_t>(side * side));
          for (float& v : map) v = uniform(-1, 1);
          for (float& v : res) v = uniform(-1, 1);
          for (float& v : bias) v = uniform(-1, 1);
          for (float& v : weights) v = uniform(0, 1);
          std::vector<int32_t> skipped;
          for (size_t q = 0; q < n; ++q) if (!mask[q]) skipped.push_back(static_cast<int32_t>(q));
          // a row outside the map where an uncomputed neighbour sits must never be read: poison it
          for (int32_t q : skipped) for (size_t k = 0; k < c; ++k) map[q * c + k] = std::nanf("");
          const std::vector<float> source = map;
          if (aside) for (size_t q = 0; q < n; ++q) if (mask[q]) for (size_t k = 0; k < c; ++k) map[q * c + k] = std::nanf("");
          const std::vector<float> before = map;
          FillJob job{skipped.data(), 0, skipped.size(), map.data(), h, w, channels, mask.data(),
                      weights.data(), radius, bias.data(), residual ? res.data() : nullptr, relu};
          if (aside) job.source = source.data();
          fill_positions(isa, job);
          int bad = 0, touched = 0;
          for (size_t q = 0; q < n; ++q) {
            if (mask[q]) {
              for (size_t k = 0; k < c; ++k) touched += std::memcmp(&map[q * c + k], &before[q * c + k], sizeof(float)) != 0;
              continue;
            }
            const int y = static_cast<int>(q) / w, x = static_cast<int>(q) % w;
            for (size_t k = 0; k < c; ++k) {
              double s = 0, a = 0;
              for (int dy = -radius; dy <= radius; ++dy) {
                for (int dx = -radius; dx <= radius; ++dx) {
                  const int yy = y + dy, xx = x + dx;
                  if (yy < 0 || yy >= h || xx < 0 || xx >= w || !mask[static_cast<size_t>(yy) * w + xx]) continue;
                  const double term = static_cast<double>(weights[static_cast<size_t>((dy + radius) * side + dx + radius)]) *
                                      source[(static_cast<size_t>(yy) * w + xx) * c + k];
                  s += term;
                  a += std::fabs(term);
                }
              }
              s += bias[k] + (residual ? res[q * c + k] : 0.0);
              a += std::fabs(bias[k]) + (residual ? std::fabs(res[q * c + k]) : 0.0);
              if (relu) s = std::max(s, 0.0);
              if (!close_enough(map[q * c + k], s, a)) ++bad;
            }
          }
          const std::string what = fmt("channels=%d radius=%d residual=%d relu=%d aside=%d %dx%d", channels, radius, residual, relu, aside, h, w);
          grp.check(bad == 0, what + fmt(": %d wrong values", bad));
          grp.check(touched == 0, what + ": wrote a computed row");
        }
      }
    }
    {
      // no list: the positions begin .. end-1; nothing computed leaves bias + residual, act
      Group range(fmt("fill_positions %s over a range", isa_name(isa)));
      const int c = 17;
      std::vector<float> map(6 * c, 5.0f), res(6 * c), bias(c);
      for (float& v : res) v = uniform(-1, 1);
      for (float& v : bias) v = uniform(-1, 1);
      const std::vector<uint8_t> mask(6, 0);
      const float weights[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
      fill_positions(isa, FillJob{nullptr, 2, 5, map.data(), 2, 3, c, mask.data(), weights, 1, bias.data(), res.data(), true});
      int bad = 0;
      for (int q = 0; q < 6; ++q) {
        for (int k = 0; k < c; ++k) {
          const float want = q >= 2 && q < 5 ? std::max(0.0f, bias[k] + res[q * c + k]) : 5.0f;
          bad += std::fabs(map[q * c + k] - want) > 1e-6f;
        }
      }
      range.check(bad == 0, fmt("%d wrong values", bad));
    }
    Group errors(fmt("fill_positions %s refuses a radius over 3", isa_name(isa)));
    bool threw = false;
    try {
      float m[1] = {0}, b[1] = {0};
      const uint8_t mk[1] = {0};
      fill_positions(isa, FillJob{nullptr, 0, 1, m, 1, 1, 1, mk, b, 4, b, nullptr, false});
    } catch (const std::invalid_argument&) {
      threw = true;
    }
    errors.check(threw, "radius 4");
  }
}

// ---- compact_positions --------------------------------------------------------------------

void test_compact(const std::vector<Isa>& isas) {
  for (Isa isa : isas) {
    Group grp(fmt("compact_positions %s vs naive", isa_name(isa)));
    for (size_t n : {size_t(0), size_t(1), size_t(15), size_t(16), size_t(17), size_t(100), size_t(8192)}) {
      for (int density : {0, 1, 5, 10}) {  // tenths of flags set
        for (bool unset : {false, true}) {
          std::vector<uint8_t> flags(n);
          for (uint8_t& f : flags) f = pick(0, 9) < density ? static_cast<uint8_t>(pick(1, 255)) : 0;
          std::vector<int32_t> expect;
          for (size_t q = 0; q < n; ++q) if ((flags[q] != 0) != unset) expect.push_back(static_cast<int32_t>(q));
          std::vector<int32_t> out(n + 1, -7);
          const size_t count = compact_positions(isa, flags.data(), n, out.data(), unset);
          const std::string what = fmt("n=%zu density=%d unset=%d", n, density, unset);
          grp.check(count == expect.size() && std::equal(expect.begin(), expect.end(), out.begin()), what + ": wrong positions");
          grp.check(out[n] == -7, what + ": wrote past n");
        }
      }
    }
  }
}

// ---- ISA selection, packing errors, zero_row -----------------------------------------------

void test_isa_and_api() {
  Group grp("isa selection, pack_conv errors, zero_row");
  const std::vector<Isa> isas = supported_isas();
  grp.check(!isas.empty() && isas.front() == Isa::scalar, "supported_isas starts with scalar");
  unsetenv("ADPC_NATIVE_ISA");
  const Isa best = detect_isa();
  grp.check(best == isas.back(), "detect_isa is the best supported ISA");
  for (Isa isa : isas) {
    setenv("ADPC_NATIVE_ISA", isa_name(isa), 1);
    grp.check(detect_isa() == isa, fmt("ADPC_NATIVE_ISA=%s selects it", isa_name(isa)));
  }
  for (const char* bad : {"bogus", "", "AVX2 ", "neon", "avx512"}) {
    bool known = false;
    for (Isa isa : isas) known = known || std::strcmp(bad, isa_name(isa)) == 0;
    if (known) continue;
    setenv("ADPC_NATIVE_ISA", bad, 1);
    grp.check(detect_isa() == best, fmt("ADPC_NATIVE_ISA='%s' falls back to %s", bad, isa_name(best)));
  }
  unsetenv("ADPC_NATIVE_ISA");
  const float w[4] = {1, 2, 3, 4};
  for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512, Isa::neon}) {
    bool threw = false;
    try {
      pack_conv(w, nullptr, 2, 2, 1, isa);
    } catch (const std::invalid_argument&) {
      threw = true;
    }
    grp.check(threw == !isa_supported(isa), fmt("pack_conv(%s) throws iff unsupported", isa_name(isa)));
  }
  for (int bad = 0; bad < 3; ++bad) {
    bool threw = false;
    try {
      pack_conv(w, nullptr, bad == 0 ? 0 : 1, bad == 1 ? -1 : 1, bad == 2 ? 0 : 1, Isa::scalar);
    } catch (const std::invalid_argument&) {
      threw = true;
    }
    grp.check(threw, fmt("pack_conv rejects non-positive size #%d", bad));
  }
  const float* z = zero_row(240);
  const float* big = zero_row(100000);
  const float* bigger = zero_row(300000);
  grp.check(reinterpret_cast<uintptr_t>(z) % 64 == 0 && reinterpret_cast<uintptr_t>(big) % 64 == 0 &&
                reinterpret_cast<uintptr_t>(bigger) % 64 == 0,
            "zero rows are 64-byte aligned");
  grp.check(std::all_of(z, z + 240, [](float x) { return x == 0.0f; }) &&
                std::all_of(big, big + 100000, [](float x) { return x == 0.0f; }) &&
                std::all_of(bigger, bigger + 300000, [](float x) { return x == 0.0f; }),
            "zero rows hold zeros, earlier large ones included");
  grp.check(zero_row(1) == z, "small requests share one row");
}

// ---- ThreadPool ----------------------------------------------------------------------------

double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void test_thread_pool() {
  Group grp("ThreadPool");
  bool threw = false;
  try {
    ThreadPool bad(0);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  grp.check(threw, "ThreadPool(0) throws");
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    grp.check(pool.size() == threads, fmt("size() == %d", threads));
    for (size_t tasks : {size_t{0}, size_t{1}, size_t{2}, size_t{3}, size_t{17}, size_t{1000}}) {
      std::vector<std::atomic<int>> runs(tasks);
      std::atomic<bool> ids_ok{true};
      const std::thread::id caller = std::this_thread::get_id();
      pool.parallel_for(tasks, [&](size_t t, int th) {
        runs[t].fetch_add(1);
        if (th < 0 || th >= threads) ids_ok = false;
        if ((th == 0) != (std::this_thread::get_id() == caller)) ids_ok = false;
      });
      bool once = true;
      for (auto& r : runs) once = once && r.load() == 1;
      grp.check(once, fmt("threads=%d tasks=%zu: every task ran exactly once", threads, tasks));
      grp.check(ids_ok, fmt("threads=%d tasks=%zu: thread ids in range, 0 = caller", threads, tasks));
    }
  }
  ThreadPool pool(2);
  {
    // Two tasks that each wait for the other to start: only two threads can finish them.
    std::atomic<int> arrived{0};
    std::atomic<int> met{0};
    std::atomic<int> threads_seen{0};
    pool.parallel_for(2, [&](size_t, int th) {
      threads_seen.fetch_or(1 << th);
      arrived.fetch_add(1);
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (arrived.load() < 2 && std::chrono::steady_clock::now() < until) std::this_thread::yield();
      if (arrived.load() == 2) met.fetch_add(1);
    });
    grp.check(met.load() == 2 && threads_seen.load() == 3, "the worker runs tasks alongside the caller");
  }
  {
    bool caught = false;
    std::atomic<int> ran{0};
    try {
      pool.parallel_for(100, [&](size_t t, int) {
        ran.fetch_add(1);
        if (t == 3) throw std::runtime_error("task 3");
      });
    } catch (const std::runtime_error& e) {
      caught = std::strcmp(e.what(), "task 3") == 0;
    }
    grp.check(caught, "a task's exception reaches the caller");
    std::atomic<int> after{0};
    pool.parallel_for(50, [&](size_t, int) { after.fetch_add(1); });
    grp.check(after.load() == 50, "the pool works after an exception");
  }
  {
    std::atomic<int> inner{0};
    pool.parallel_for(4, [&](size_t, int) { pool.parallel_for(3, [&](size_t, int) { inner.fetch_add(1); }); });
    grp.check(inner.load() == 12, "a nested parallel_for runs inline");
  }
  {
    // Many short loops, some after pauses long enough for the worker to fall asleep.
    bool ok = true;
    for (int it = 0; it < 3000 && ok; ++it) {
      std::atomic<long> sum{0};
      const size_t tasks = 1 + it % 9;
      pool.parallel_for(tasks, [&](size_t t, int) { sum.fetch_add(static_cast<long>(t) + 1); });
      ok = sum.load() == static_cast<long>(tasks * (tasks + 1) / 2);
      if (it % 100 == 99) std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
    grp.check(ok, "3000 back-to-back loops, each complete");
  }
  {
    // post(): the task runs on a worker while the caller goes on; settle() waits for it; a
    // second post settles the first; loops run as before afterwards. With no workers it runs
    // at once on the caller.
    std::atomic<bool> release{false};
    std::atomic<int> done{0};
    std::thread::id ran_on;
    pool.post([&] {
      ran_on = std::this_thread::get_id();
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (!release.load() && std::chrono::steady_clock::now() < until) std::this_thread::yield();
      done.fetch_add(1);
    });
    const bool went_on = done.load() == 0;  // the caller is not held up by the posted task
    release = true;
    pool.settle();
    grp.check(went_on && done.load() == 1 && ran_on != std::this_thread::get_id(), "post runs the task on a worker; settle waits for it");
    pool.post([&] { done.fetch_add(1); });
    pool.post([&] { done.fetch_add(10); });
    pool.settle();
    grp.check(done.load() == 12, "each posted task runs once, one after another");
    std::atomic<int> after{0};
    pool.parallel_for(50, [&](size_t, int) { after.fetch_add(1); });
    grp.check(after.load() == 50, "loops run after posted tasks");
    ThreadPool alone(1);
    bool inline_ran = false;
    const std::thread::id me = std::this_thread::get_id();
    alone.post([&] { inline_ran = std::this_thread::get_id() == me; });
    grp.check(inline_ran, "with no workers a posted task runs at once, on the caller");
    alone.settle();
  }
  {
    // nudge(): from any thread, with the workers asleep, spinning, in a loop or in a posted
    // task, every loop still completes and every posted task runs once; a pool destroyed right
    // after one stops.
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // past the spin: workers asleep
    pool.nudge();
    std::atomic<long> sum{0};
    pool.parallel_for(100, [&](size_t, int) { sum.fetch_add(1); });
    bool ok = sum.load() == 100;
    std::atomic<bool> stop{false};
    std::thread nudger([&] {
      while (!stop.load()) pool.nudge();
    });
    for (int it = 0; it < 500 && ok; ++it) {
      sum = 0;
      pool.parallel_for(7, [&](size_t, int) { sum.fetch_add(1); });
      ok = sum.load() == 7;
      if (it % 100 == 99) std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
    std::atomic<int> posted{0};
    pool.post([&] { posted.fetch_add(1); });
    pool.settle();
    stop = true;
    nudger.join();
    grp.check(ok && posted.load() == 1, "loops and posted tasks complete while another thread nudges");
    { ThreadPool nudged(2); nudged.nudge(); }
    ThreadPool alone(1);
    alone.nudge();
    sum = 0;
    alone.parallel_for(3, [&](size_t, int) { sum.fetch_add(1); });
    grp.check(sum.load() == 3, "a pool without workers ignores a nudge");
  }
  {
    std::atomic<int> total{0};
    auto caller = [&] {
      for (int i = 0; i < 200; ++i) pool.parallel_for(5, [&](size_t, int) { total.fetch_add(1); });
    };
    std::thread a(caller), b(caller);
    a.join();
    b.join();
    grp.check(total.load() == 2000, "two threads calling one pool");
  }
#if defined(__linux__)
  {
    // A pool over every CPU the process may use pins each thread to its own one: a Caller
    // guard keeps the caller on the CPU it is on and moves the worker that was there, block j
    // of a loop goes first to the thread on the j-th CPU, and the caller gets its CPU set back.
    // Other sizes do not pin.
    cpu_set_t all;
    CPU_ZERO(&all);
    sched_getaffinity(0, sizeof all, &all);
    std::vector<int> cpus;
    for (int c = 0; c < CPU_SETSIZE; ++c) if (CPU_ISSET(c, &all)) cpus.push_back(c);
    const int n = static_cast<int>(cpus.size());
    grp.check(!ThreadPool(1).pinned() && !ThreadPool(n + 1).pinned(), "a pool of 1 or of more threads than CPUs is not pinned");
    if (n >= 2) {
      ThreadPool pool_all(n);
      grp.check(pool_all.pinned(), fmt("a pool of %d threads on %d CPUs is pinned", n, n));
      for (int start : {0, n - 1, 0}) {
        // the caller starts on the start-th CPU (as the scheduler might have put it there)
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpus[static_cast<size_t>(start)], &one);
        sched_setaffinity(0, sizeof one, &one);
        std::vector<int> cpu_of_task(static_cast<size_t>(n), -1);
        std::vector<int> cpu_of_thread(static_cast<size_t>(n), -1);
        std::atomic<int> arrived{0};
        {
          const ThreadPool::Caller guard(pool_all);
          // each task waits for all: every thread runs exactly the block it takes first
          pool_all.parallel_for(static_cast<size_t>(n), [&](size_t t, int th) {
            arrived.fetch_add(1);
            const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
            while (arrived.load() < n && std::chrono::steady_clock::now() < until) std::this_thread::yield();
            cpu_of_task[t] = sched_getcpu();
            cpu_of_thread[static_cast<size_t>(th)] = sched_getcpu();
          });
        }
        bool homed = true;
        for (int t = 0; t < n; ++t) homed = homed && cpu_of_task[static_cast<size_t>(t)] == cpus[static_cast<size_t>(t)];
        grp.check(homed, fmt("caller from CPU #%d: block j runs on the j-th CPU", start));
        grp.check(cpu_of_thread[0] == cpus[static_cast<size_t>(start)], fmt("caller from CPU #%d: the caller stays on its CPU", start));
        cpu_set_t after;
        CPU_ZERO(&after);
        sched_getaffinity(0, sizeof after, &after);
        grp.check(CPU_EQUAL(&one, &after), fmt("caller from CPU #%d: the caller gets its CPU set back", start));
      }
      sched_setaffinity(0, sizeof all, &all);
    }
  }
#endif
  {
    // An idle pool sleeps: over 300 ms of the caller sleeping, the process uses ~no CPU.
    ThreadPool big(4);
    big.parallel_for(64, [](size_t, int) {});
    pool.parallel_for(64, [](size_t, int) {});
    const double c0 = cpu_seconds();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const double used = cpu_seconds() - c0;
    grp.check(used < 0.03, fmt("idle pools used %.1f ms of CPU in 300 ms (limit 30)", used * 1e3));
  }
}


// PyTorch's bilinear upsampling (align_corners false) of channel ch at output (y, x), in double.
double bilinear_ref(const std::vector<float>& map, int h, int w, int c, int out_h, int out_w, int y, int x, int ch) {
  const auto axis = [](int in, int out, int o, int* i0, int* i1, double* l1) {
    double src = double(in) / out * (o + 0.5) - 0.5;
    if (src < 0) src = 0;
    *i0 = std::min(int(std::floor(src)), in - 1);
    *i1 = *i0 + (*i0 < in - 1 ? 1 : 0);
    *l1 = std::min(std::max(src - *i0, 0.0), 1.0);
  };
  int y0, y1, x0, x1;
  double ly, lx;
  axis(h, out_h, y, &y0, &y1, &ly);
  axis(w, out_w, x, &x0, &x1, &lx);
  const auto at = [&](int yy, int xx) { return double(map[(size_t(yy) * w + xx) * c + ch]); };
  return (1 - ly) * ((1 - lx) * at(y0, x0) + lx * at(y0, x1)) + ly * ((1 - lx) * at(y1, x0) + lx * at(y1, x1));
}

// sum_terms and add_terms (src/row_ops.cc) against naive double sums: 1-6 terms, each a
// same-size map or a smaller one upsampled, listed and whole spans, with and without ReLU.
void test_row_sums() {
  Group g("row_ops sums and fused-head terms vs naive");
  for (int trial = 0; trial < 60; trial++) {
    const int n = 1 + trial % 6, c = std::array<int, 3>{3, 16, 19}[size_t(trial / 6) % 3];
    const int out_h = 8, out_w = 12;
    const bool relu = trial % 2 == 0, listed = trial % 3 == 0, all_up = trial % 5 == 0;
    struct Map { std::vector<float> data; int h, w; Bilinear up; };
    std::vector<Map> maps(static_cast<size_t>(n));
    std::vector<MapTerm> terms, up_terms;
    for (int t = 0; t < n; t++) {
      Map& m = maps[size_t(t)];
      const int f = all_up ? 2 << pick(0, 1) : std::array<int, 3>{1, 2, 4}[size_t(pick(0, 2))];
      m.h = out_h / f;
      m.w = out_w / f;
      m.data.resize(size_t(m.h) * m.w * c);
      for (float& v : m.data) v = uniform(-1, 1);
      m.up = Bilinear{bilinear_axis(m.h, out_h), bilinear_axis(m.w, out_w)};
    }
    for (const Map& m : maps) {
      terms.push_back(MapTerm{m.data.data(), m.h, m.w, c, m.h == out_h ? nullptr : &m.up});
      up_terms.push_back(MapTerm{m.data.data(), m.h, m.w, c, &m.up});
    }
    std::vector<int32_t> list;
    for (int q = 0; q < out_h * out_w; q++) if (!listed || pick(0, 2) > 0) list.push_back(q);
    const Span span{listed ? list.data() : nullptr, 0, listed ? list.size() : size_t(out_h * out_w)};
    std::vector<float> out(size_t(out_h) * out_w * c, kGuard);
    sum_terms(span, MapRef{out.data(), out_h, out_w, c}, terms.data(), terms.size(), relu);
    // add_terms: rows hold a start value per listed position, every term upsampled
    std::vector<float> rows((span.end - span.begin) * size_t(c)), start(rows.size());
    for (size_t k = 0; k < rows.size(); k++) rows[k] = start[k] = uniform(-1, 1);
    add_terms(span, out_w, rows.data(), c, up_terms.data(), up_terms.size(), relu);
    double worst_sum = 0, worst_add = 0;
    bool untouched = true;
    std::vector<bool> in_span(size_t(out_h * out_w), false);
    for (size_t i = span.begin; i < span.end; i++) {
      const size_t q = span.at(i);
      in_span[q] = true;
      const int y = int(q) / out_w, x = int(q) % out_w;
      for (int ch = 0; ch < c; ch++) {
        double sum = 0, add = start[(i - span.begin) * size_t(c) + size_t(ch)];
        for (const Map& m : maps) {
          const double direct = m.h == out_h ? double(m.data[q * size_t(c) + size_t(ch)]) : bilinear_ref(m.data, m.h, m.w, c, out_h, out_w, y, x, ch);
          sum += direct;
          add += bilinear_ref(m.data, m.h, m.w, c, out_h, out_w, y, x, ch);
        }
        if (relu) sum = std::max(sum, 0.0), add = std::max(add, 0.0);
        worst_sum = std::max(worst_sum, std::fabs(sum - out[q * size_t(c) + size_t(ch)]));
        worst_add = std::max(worst_add, std::fabs(add - rows[(i - span.begin) * size_t(c) + size_t(ch)]));
      }
    }
    for (size_t q = 0; q < in_span.size(); q++) {
      if (!in_span[q]) for (int ch = 0; ch < c; ch++) untouched = untouched && out[q * size_t(c) + size_t(ch)] == kGuard;
    }
    const std::string what = fmt("%d terms, %d channels%s%s", n, c, relu ? ", ReLU" : "", listed ? ", listed" : "");
    g.check(worst_sum < 1e-5, fmt("sum_terms %s: max error %g", what.c_str(), worst_sum));
    g.check(worst_add < 1e-5, fmt("add_terms %s: max error %g", what.c_str(), worst_add));
    g.check(untouched, fmt("sum_terms %s wrote outside its span", what.c_str()));
  }
}

// merge_positions (each ISA's kernel, where it has one) and row_ops' merge_logits against a
// naive double softmax and argmax: 1-40 classes, listed and whole spans, short blocks, ties,
// logits far apart.
void test_merge(const std::vector<Isa>& isas) {
  Group g("merge (kernels and merge_logits) vs naive");
  for (int trial = 0; trial < 80; trial++) {
    const int classes = std::array<int, 5>{1, 2, 19, 33, 40}[size_t(trial) % 5];
    const size_t positions = size_t(pick(1, 70));
    const bool listed = trial % 2 == 0;
    std::vector<float> head(positions * size_t(classes));
    // ties (a few repeated values) test the first-class rule; gaps past 87 the exp's floor
    const float spread = trial % 3 == 1 ? 30.f : 150.f;
    for (float& v : head) v = trial % 3 == 0 ? float(pick(-2, 2)) : uniform(-spread, spread);
    std::vector<int32_t> list;
    for (size_t q = 0; q < positions; q++) if (!listed || pick(0, 2) > 0) list.push_back(int32_t(q));
    const size_t begin = listed ? 0 : size_t(pick(0, int(positions) - 1));
    const size_t end = listed ? list.size() : positions;
    const Span span{listed ? list.data() : nullptr, begin, end};
    const std::string what = fmt("%d classes, %zu positions%s", classes, positions, listed ? ", listed" : "");
    for (int form = -1; form < int(isas.size()); form++) {
      std::vector<float> logits(head.size(), kGuard), confidence(positions, kGuard);
      std::vector<uint8_t> labels(positions, 255);
      const MergeJob job{span.list, begin, end, head.data(), logits.data(), classes, confidence.data(), labels.data()};
      if (form < 0) {
        merge_logits(span, head.data(), logits.data(), classes, confidence.data(), labels.data());
      } else if (!merge_positions(isas[size_t(form)], job)) {
        continue;
      }
      const std::string who = form < 0 ? std::string("merge_logits") : std::string(isa_name(isas[size_t(form)]));
      double worst = 0;
      bool labels_ok = true, copied = true, untouched = true;
      std::vector<bool> in_span(positions, false);
      for (size_t i = begin; i < end; i++) {
        const size_t q = span.at(i);
        in_span[q] = true;
        const float* l = head.data() + q * size_t(classes);
        int best = 0;
        for (int k = 1; k < classes; k++) if (l[k] > l[best]) best = k;
        double sum = 0;
        for (int k = 0; k < classes; k++) sum += std::exp(double(l[k]) - double(l[best]));
        worst = std::max(worst, std::fabs(1 / sum - confidence[q]) * sum);
        labels_ok = labels_ok && labels[q] == best;
        copied = copied && std::equal(l, l + classes, logits.data() + q * size_t(classes));
      }
      for (size_t q = 0; q < positions; q++) if (!in_span[q]) untouched = untouched && confidence[q] == kGuard && labels[q] == 255;
      g.check(worst < 1e-6, fmt("%s %s: relative confidence error %g", who.c_str(), what.c_str(), worst));
      g.check(labels_ok, fmt("%s %s: a label is not the first largest class", who.c_str(), what.c_str()));
      g.check(copied, fmt("%s %s: logits not copied", who.c_str(), what.c_str()));
      g.check(untouched, fmt("%s %s: wrote outside its span", who.c_str(), what.c_str()));
    }
  }
  // a position whose offset passes 32 bits goes back to the generic loop, nothing read first
  const int32_t far[1] = {INT32_MAX / 19};
  for (Isa isa : isas) {
    const MergeJob job{far, 0, 1, nullptr, nullptr, 19, nullptr, nullptr};
    g.check(!merge_positions(isa, job), fmt("%s: took a map too large for 32-bit gather offsets", isa_name(isa)));
  }
}

}  // namespace

int main() {
  const std::vector<Isa> isas = supported_isas();
  std::printf("kernels_test: ISAs");
  for (Isa isa : isas) std::printf(" %s", isa_name(isa));
  std::printf("\n");
  test_isa_and_api();
  test_conv_rows(isas);
  test_image_conv(isas);
  test_split(isas);
  test_fill(isas);
  test_compact(isas);
  test_thread_pool();
  test_row_sums();
  test_merge(isas);
  std::printf("kernels_test: %d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
