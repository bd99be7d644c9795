#include "executor.h"

#include "kernels/fill.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace adpc {

void Buffer::Free::operator()(float* p) const { std::free(p); }

void Buffer::resize(size_t floats) {
  if (floats <= size_) return;
  const size_t bytes = ((floats * sizeof(float) + 63) / 64) * 64;
  float* p = static_cast<float*>(std::aligned_alloc(64, bytes));
  if (!p) throw std::bad_alloc();
  data_.reset(p);
  size_ = floats;
}

namespace {

constexpr size_t kChunk = 32;  // positions per parallel task
constexpr size_t kNone = std::numeric_limits<size_t>::max();

// PyTorch's bilinear source index (align_corners false), per output coordinate of one axis.
struct Axis {
  std::vector<int> i0, i1;
  std::vector<float> l0, l1;
};

Axis bilinear_axis(int in, int out) {
  Axis a;
  a.i0.resize(out);
  a.i1.resize(out);
  a.l0.resize(out);
  a.l1.resize(out);
  const float scale = float(in) / float(out);
  for (int o = 0; o < out; o++) {
    float src = scale * (float(o) + 0.5f) - 0.5f;
    if (src < 0) src = 0;
    int i = std::min(int(std::floor(src)), in - 1);
    float l = std::min(std::max(src - float(i), 0.f), 1.f);
    a.i0[o] = i;
    a.i1[o] = i + (i < in - 1 ? 1 : 0);
    a.l1[o] = l;
    a.l0[o] = 1.f - l;
  }
  return a;
}

// PyTorch's nearest source index (mode "nearest") for one axis.
int nearest_index(int o, int in, int out) {
  if (in == out) return o;
  const float scale = float(in) / float(out);
  return std::min(int(float(o) * scale), in - 1);
}

// Where a tensor is read: everywhere, or at the set bytes of `bits`.
struct Needed {
  bool all = false;
  bool any = false;
  std::vector<uint8_t> bits;
  void reset(size_t positions) {
    all = any = false;
    bits.assign(positions, 0);
  }
  bool has(size_t p) const { return all || bits[p]; }
  void mark(size_t p) {
    bits[p] = 1;
    any = true;
  }
  void set_all() { all = any = true; }
};

struct Bilinear {
  Axis y, x;
};

}  // namespace

struct Executor::Compiled {
  Program prog;
  std::vector<PackedConv> fused;   // per op: bias = pre + post (every needed position computed)
  std::vector<PackedConv> masked;  // per op: bias = pre (skipped positions filled afterwards)
  std::vector<std::vector<Bilinear>> bilinear;  // per op, per term (upsample terms and ops)
  std::vector<size_t> offset;      // per tensor: floats into the arena, kNone if bound to the run
  size_t arena_floats = 0;
  std::vector<OpTiming> timing;  // ops, then masks, needed, merge
};

struct Executor::Arena {
  Buffer data;
  std::vector<Needed> needed;
  std::vector<std::vector<int32_t>> computed;  // per op: positions a conv computes
  std::vector<std::vector<int32_t>> skipped;   // per op: skipped positions that are read (filled)
  std::vector<std::vector<int32_t>> kept;      // per op: computed positions that are read
  // what the forward pass uses: the lists above, or the shared per-resolution ones
  std::vector<const std::vector<int32_t>*> computed_of, skipped_of, kept_of;
  std::vector<std::vector<int32_t>> mask_lists, unmask_lists;  // per masked resolution
  std::vector<std::vector<int32_t>> all_positions;              // per tensor, filled lazily
  std::vector<uint8_t> scratch_map;
  std::vector<uint8_t> fused;                  // per op: no needed position is skipped
  std::vector<std::vector<uint8_t>> masks;     // per masked resolution
  std::vector<bool> mask_all;
  std::vector<int64_t> counts;
};

namespace {

void plan_memory(Executor::Compiled& c) {
  const Program& p = c.prog;
  const size_t n = p.tensors.size();
  std::vector<int> last(n, -1);
  auto read = [&](int t, int i) { if (t >= 0) last[t] = std::max(last[t], i); };
  for (size_t i = 0; i < p.ops.size(); i++) {
    const Op& op = p.ops[i];
    read(op.in, int(i));
    read(op.conv.residual, int(i));
    for (const Term& t : op.terms) read(t.tensor, int(i));
  }
  read(p.out_logits, int(p.ops.size()));
  c.offset.assign(n, kNone);
  std::vector<bool> bound(n, false);
  for (int t : p.inputs) bound[t] = true;
  for (int t : p.out_features) bound[t] = true;
  struct Live { size_t start, end; int until; };
  std::vector<Live> live;
  for (size_t i = 0; i < p.ops.size(); i++) {
    const int t = p.ops[i].out;
    live.erase(std::remove_if(live.begin(), live.end(), [&](const Live& l) { return l.until < int(i); }), live.end());
    if (bound[t]) continue;
    const size_t size = ((p.tensors[t].floats() + 15) / 16) * 16;
    std::sort(live.begin(), live.end(), [](const Live& a, const Live& b) { return a.start < b.start; });
    size_t at = 0;
    for (const Live& l : live) {
      if (at + size <= l.start) break;
      at = std::max(at, l.end);
    }
    c.offset[t] = at;
    live.push_back({at, at + size, std::max(last[t], int(i))});
    c.arena_floats = std::max(c.arena_floats, at + size);
  }
}

std::unique_ptr<Executor::Compiled> compile(Program prog, Isa isa) {
  prog.validate();
  auto c = std::make_unique<Executor::Compiled>();
  c->fused.resize(prog.ops.size());
  c->masked.resize(prog.ops.size());
  c->bilinear.resize(prog.ops.size());
  for (size_t i = 0; i < prog.ops.size(); i++) {
    const Op& op = prog.ops[i];
    const Shape& out = prog.tensors[op.out];
    if (op.kind == OpKind::conv) {
      const ConvSpec& s = op.conv;
      const int taps = s.kernel * s.kernel;
      std::vector<float> both(s.cout);
      for (int n = 0; n < s.cout; n++) both[n] = s.pre_bias[n] + s.post_bias[n];
      c->fused[i] = pack_conv(s.weight.data(), both.data(), s.cout, s.cin, taps, isa);
      if (s.fill_radius >= 0) c->masked[i] = pack_conv(s.weight.data(), s.pre_bias.data(), s.cout, s.cin, taps, isa);
    } else if (op.kind == OpKind::upsample) {
      const Shape& in = prog.tensors[op.in];
      c->bilinear[i].push_back({bilinear_axis(in.h, out.h), bilinear_axis(in.w, out.w)});
    } else if (op.kind == OpKind::fuse_sum || op.kind == OpKind::concat_up) {
      for (const Term& t : op.terms) {
        const Shape& in = prog.tensors[t.tensor];
        c->bilinear[i].push_back({bilinear_axis(in.h, out.h), bilinear_axis(in.w, out.w)});
      }
    }
  }
  c->timing.resize(prog.ops.size() + 3);
  c->prog = std::move(prog);
  plan_memory(*c);
  return c;
}

// Calls fn(position) for every needed position, split across the pool.
template <typename Fn>
void for_needed(ThreadPool& pool, const Needed& needed, size_t positions, std::vector<int32_t>& list, Fn fn) {
  if (!needed.any) return;
  if (needed.all) {
    pool.parallel_for((positions + kChunk - 1) / kChunk, [&](size_t task, int) {
      const size_t end = std::min(positions, (task + 1) * kChunk);
      for (size_t p = task * kChunk; p < end; p++) fn(p);
    });
    return;
  }
  list.clear();
  for (size_t p = 0; p < positions; p++) if (needed.bits[p]) list.push_back(int32_t(p));
  pool.parallel_for((list.size() + kChunk - 1) / kChunk, [&](size_t task, int) {
    const size_t end = std::min(list.size(), (task + 1) * kChunk);
    for (size_t i = task * kChunk; i < end; i++) fn(size_t(list[i]));
  });
}

#if defined(__x86_64__) && defined(__GNUC__)
#define ADPC_ROW_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ADPC_ROW_CLONES
#endif

// o += w * x over n floats (the fills)
ADPC_ROW_CLONES void rows_axpy(float* __restrict o, float w, const float* __restrict x, int n) {
  for (int c = 0; c < n; c++) o[c] += w * x[c];
}

// o = act(o + bias + residual) over n floats
ADPC_ROW_CLONES void rows_epilogue(float* __restrict o, const float* __restrict bias, const float* __restrict residual,
                                   bool relu, int n) {
  if (residual) for (int c = 0; c < n; c++) o[c] += bias[c] + residual[c];
  else for (int c = 0; c < n; c++) o[c] += bias[c];
  if (relu) for (int c = 0; c < n; c++) o[c] = o[c] < 0.f ? 0.f : o[c];
}

inline void bilinear_row(const float* src, const Shape& s, const Bilinear& b, int y, int x, float* out,
                         bool accumulate) {
  const float* r00 = src + (size_t(b.y.i0[y]) * s.w + b.x.i0[x]) * s.c;
  const float* r01 = src + (size_t(b.y.i0[y]) * s.w + b.x.i1[x]) * s.c;
  const float* r10 = src + (size_t(b.y.i1[y]) * s.w + b.x.i0[x]) * s.c;
  const float* r11 = src + (size_t(b.y.i1[y]) * s.w + b.x.i1[x]) * s.c;
  const float h0 = b.y.l0[y], h1 = b.y.l1[y], w0 = b.x.l0[x], w1 = b.x.l1[x];
  for (int ch = 0; ch < s.c; ch++) {
    const float v = h0 * (w0 * r00[ch] + w1 * r01[ch]) + h1 * (w0 * r10[ch] + w1 * r11[ch]);
    out[ch] = accumulate ? out[ch] + v : v;
  }
}

// dst |= src
void or_needed(Needed& dst, const Needed& src) {
  if (!src.any || dst.all) return;
  if (src.all) { dst.set_all(); return; }
  const size_t n = dst.bits.size();
  uint8_t* d = dst.bits.data();
  const uint8_t* x = src.bits.data();
  for (size_t q = 0; q < n; q++) d[q] |= x[q];
  dst.any = true;
}

// in |= the input positions a conv reads to compute the output positions set in `computed`
void mark_footprint(const uint8_t* computed, const Shape& os, const ConvSpec& s, const Shape& is, Needed& in) {
  in.any = true;
  uint8_t* d = in.bits.data();
  if (s.kernel == 1 && s.stride == 1) {
    for (size_t q = 0; q < os.positions(); q++) d[q] |= computed[q];
    return;
  }
  if (s.stride == 1 && s.pad == 1 && is.h == os.h && is.w == os.w) {
    // separable 3x3 dilation: rows first, then columns
    std::vector<uint8_t> rows(os.positions());
    for (int y = 0; y < os.h; y++) {
      const uint8_t* c = computed + size_t(y) * os.w;
      uint8_t* r = rows.data() + size_t(y) * os.w;
      for (int x = 0; x < os.w; x++) r[x] = c[x] | (x > 0 ? c[x - 1] : 0) | (x + 1 < os.w ? c[x + 1] : 0);
    }
    for (int y = 0; y < os.h; y++) {
      const uint8_t* up = y > 0 ? rows.data() + size_t(y - 1) * os.w : nullptr;
      const uint8_t* mid = rows.data() + size_t(y) * os.w;
      const uint8_t* down = y + 1 < os.h ? rows.data() + size_t(y + 1) * os.w : nullptr;
      uint8_t* out = d + size_t(y) * os.w;
      for (int x = 0; x < os.w; x++) out[x] |= mid[x] | (up ? up[x] : 0) | (down ? down[x] : 0);
    }
    return;
  }
  for (int y = 0; y < os.h; y++) {
    for (int x = 0; x < os.w; x++) {
      if (!computed[size_t(y) * os.w + x]) continue;
      for (int ky = 0; ky < s.kernel; ky++) {
        const int yy = y * s.stride - s.pad + ky;
        if (yy < 0 || yy >= is.h) continue;
        for (int kx = 0; kx < s.kernel; kx++) {
          const int xx = x * s.stride - s.pad + kx;
          if (xx >= 0 && xx < is.w) d[size_t(yy) * is.w + xx] = 1;
        }
      }
    }
  }
}

void mark_bilinear_support(const Needed& out, const Shape& os, const Bilinear& b, const Shape& is, Needed& in) {
  if (!out.any) return;
  if (out.all) { in.set_all(); return; }
  for (int y = 0; y < os.h; y++) {
    for (int x = 0; x < os.w; x++) {
      if (!out.bits[size_t(y) * os.w + x]) continue;
      in.mark(size_t(b.y.i0[y]) * is.w + b.x.i0[x]);
      in.mark(size_t(b.y.i0[y]) * is.w + b.x.i1[x]);
      in.mark(size_t(b.y.i1[y]) * is.w + b.x.i0[x]);
      in.mark(size_t(b.y.i1[y]) * is.w + b.x.i1[x]);
    }
  }
}

// NCHW <-> NHWC in 16 x 16 tiles (both sides stay in cache lines), position blocks in parallel.
constexpr size_t kTile = 16;

ADPC_ROW_CLONES void transpose_tile(const float* __restrict src, size_t src_stride, float* __restrict dst,
                                    size_t dst_stride, size_t rows, size_t cols) {
  for (size_t r = 0; r < rows; r++)
    for (size_t c = 0; c < cols; c++) dst[c * dst_stride + r] = src[r * src_stride + c];
}

void transpose_into_nhwc(ThreadPool& pool, const float* nchw, const Shape& s, float* nhwc) {
  const size_t hw = s.positions(), channels = size_t(s.c);
  pool.parallel_for((hw + 255) / 256, [&](size_t task, int) {
    const size_t p_end = std::min(hw, (task + 1) * 256);
    for (size_t p0 = task * 256; p0 < p_end; p0 += kTile)
      for (size_t c0 = 0; c0 < channels; c0 += kTile)
        transpose_tile(nchw + c0 * hw + p0, hw, nhwc + p0 * channels + c0, channels,
                       std::min(kTile, channels - c0), std::min(kTile, p_end - p0));
  });
}

void transpose_into_nchw(ThreadPool& pool, const float* nhwc, const Shape& s, float* nchw) {
  const size_t hw = s.positions(), channels = size_t(s.c);
  pool.parallel_for((hw + 255) / 256, [&](size_t task, int) {
    const size_t p_end = std::min(hw, (task + 1) * 256);
    for (size_t p0 = task * 256; p0 < p_end; p0 += kTile)
      for (size_t c0 = 0; c0 < channels; c0 += kTile)
        transpose_tile(nhwc + p0 * channels + c0, channels, nchw + c0 * hw + p0, hw,
                       std::min(kTile, p_end - p0), std::min(kTile, channels - c0));
  });
}

// exp(x) for x <= 0 to ~1 ulp: 2^(x log2 e) split into an integer power and a polynomial
// on [-ln2/2, ln2/2]; branch-free so the class loop vectorises.
inline float exp_nonpositive(float x) {
  x = std::max(x, -87.f);
  const float n = std::nearbyint(x * 1.44269504f);
  const float r = x - n * 0.693145751953125f - n * 1.428606765330187e-06f;
  float p = 1.f / 5040.f;
  p = p * r + 1.f / 720.f;
  p = p * r + 1.f / 120.f;
  p = p * r + 1.f / 24.f;
  p = p * r + 1.f / 6.f;
  p = p * r + 0.5f;
  p = p * r + 1.f;
  p = p * r + 1.f;
  int32_t bits;
  const int32_t e = int32_t(n) + 127;
  bits = e << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// max softmax and argmax of one logits row (first index on ties, as ArgMax and torch do)
inline void confidence_of(const float* row, int classes, float* confidence, uint8_t* label) {
  float top = row[0];
  int best = 0;
  for (int k = 1; k < classes; k++) {
    if (row[k] > top) { top = row[k]; best = k; }
  }
  float sum = 0;
  for (int k = 0; k < classes; k++) sum += exp_nonpositive(row[k] - top);
  *confidence = 1.f / sum;
  *label = uint8_t(best);
}

}  // namespace

Executor::Executor(std::vector<Program> programs, int classes, Isa isa, int threads)
    : classes_(classes), isa_(isa), pool_(threads) {
  if (classes < 1 || classes > 255) throw std::invalid_argument("native executor: classes must be 1..255");
  for (Program& p : programs) {
    if (p.stage < 2 || p.stage > 4 || has_stage(p.stage)) throw std::invalid_argument("native executor: stages must be distinct, 2..4");
    if (p.tensors[p.out_logits].c != classes) throw std::invalid_argument("native executor: logits channels != classes");
    stages_.push_back(compile(std::move(p), isa));
  }
}

Executor::~Executor() = default;

bool Executor::has_stage(int k) const {
  return std::any_of(stages_.begin(), stages_.end(), [&](const auto& c) { return c->prog.stage == k; });
}

const Program& Executor::program(int k) const {
  for (const auto& c : stages_) if (c->prog.stage == k) return c->prog;
  throw std::invalid_argument("native executor: no program for stage " + std::to_string(k));
}

void Executor::import_state(RunState& run, int stage, const std::vector<const float*>& features_nchw,
                            const std::vector<Shape>& shapes, const float* logits_nchw, const float* confidence,
                            const uint8_t* labels) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (features_nchw.size() != shapes.size() || shapes.empty()) throw std::invalid_argument("import: features and shapes differ");
  const Shape lo{classes_, shapes[0].h, shapes[0].w};
  run.stage = stage;
  run.feature_shapes = shapes;
  run.features.resize(shapes.size());
  for (size_t i = 0; i < shapes.size(); i++) {
    run.features[i].resize(shapes[i].floats());
    transpose_into_nhwc(pool_, features_nchw[i], shapes[i], run.features[i].data());
  }
  run.logits.resize(lo.floats());
  transpose_into_nhwc(pool_, logits_nchw, lo, run.logits.data());
  run.confidence.assign(confidence, confidence + lo.positions());
  run.labels.assign(labels, labels + lo.positions());
}

void Executor::export_nchw(const RunState& run, std::vector<float*> features, float* logits) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (features.size() != run.feature_shapes.size()) throw std::invalid_argument("export: the state holds " + std::to_string(run.feature_shapes.size()) + " features");
  for (size_t i = 0; i < features.size(); i++) transpose_into_nchw(pool_, run.features[i].data(), run.feature_shapes[i], features[i]);
  const Shape lo{classes_, run.feature_shapes[0].h, run.feature_shapes[0].w};
  transpose_into_nchw(pool_, run.logits.data(), lo, logits);
}

void Executor::set_profiling(bool on) {
  std::lock_guard<std::mutex> lock(mutex_);
  profiling_ = on;
  for (auto& c : stages_) std::fill(c->timing.begin(), c->timing.end(), OpTiming{});
}

std::vector<OpTiming> Executor::profile(int k) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& c : stages_) if (c->prog.stage == k) return c->timing;
  throw std::invalid_argument("native executor: no program for stage " + std::to_string(k));
}

StageResult Executor::run_stage(RunState& run, int k, float threshold, bool need_features) {
  const Compiled* cp = nullptr;
  for (const auto& c : stages_) if (c->prog.stage == k) cp = c.get();
  if (!cp) throw std::invalid_argument("native executor: no program for stage " + std::to_string(k));
  const Program& p = cp->prog;
  if (run.stage != k - 1) throw std::invalid_argument("native executor: stage " + std::to_string(k) + " needs the state of stage " + std::to_string(k - 1));
  if (run.feature_shapes.size() != p.inputs.size()) throw std::invalid_argument("native executor: the previous stage left no features for stage " + std::to_string(k));
  for (size_t i = 0; i < p.inputs.size(); i++) {
    const Shape& a = run.feature_shapes[i];
    const Shape& b = p.tensors[p.inputs[i]];
    if (a.c != b.c || a.h != b.h || a.w != b.w) throw std::invalid_argument("native executor: input feature shape differs from the program");
  }

  std::lock_guard<std::mutex> lock(mutex_);
  if (!arena_) arena_ = std::make_unique<Arena>();
  Arena& a = *arena_;
  Compiled& timed = const_cast<Compiled&>(*cp);
  auto clock = std::chrono::steady_clock::now();
  auto lap = [&](size_t slot, int64_t positions) {
    if (!profiling_) return;
    const auto now = std::chrono::steady_clock::now();
    OpTiming& t = timed.timing[slot];
    t.ms += std::chrono::duration<double, std::milli>(now - clock).count();
    t.calls++;
    t.positions += positions;
    clock = now;
  };
  a.data.resize(cp->arena_floats);
  const size_t n_tensors = p.tensors.size();
  const size_t n_ops = p.ops.size();

  // output feature buffers come from the run's spare set
  run.spare.resize(p.out_features.size());
  for (size_t i = 0; i < p.out_features.size(); i++) run.spare[i].resize(p.tensors[p.out_features[i]].floats());
  std::vector<float*> ptr(n_tensors, nullptr);
  for (size_t t = 0; t < n_tensors; t++) if (cp->offset[t] != kNone) ptr[t] = a.data.data() + cp->offset[t];
  for (size_t i = 0; i < p.inputs.size(); i++) ptr[p.inputs[i]] = run.features[i].data();
  for (size_t i = 0; i < p.out_features.size(); i++) ptr[p.out_features[i]] = run.spare[i].data();

  // masks: 1/4 resolution from the confidence, nearest-resized to the others
  const Shape& quarter = p.tensors[p.out_logits];
  const size_t q_positions = quarter.positions();
  a.masks.resize(p.resolutions.size());
  a.mask_all.assign(p.resolutions.size(), false);
  a.counts.assign(p.resolutions.size(), 0);
  for (size_t r = 0; r < p.resolutions.size(); r++) {
    const int h = p.resolutions[r].first, w = p.resolutions[r].second;
    auto& m = a.masks[r];
    m.resize(size_t(h) * w);
    int64_t count = 0;
    for (int y = 0; y < h; y++) {
      const int sy = nearest_index(y, quarter.h, h);
      for (int x = 0; x < w; x++) {
        const int sx = nearest_index(x, quarter.w, w);
        const uint8_t v = run.confidence[size_t(sy) * quarter.w + sx] <= threshold;
        m[size_t(y) * w + x] = v;
        count += v;
      }
    }
    a.counts[r] = count;
    a.mask_all[r] = size_t(count) == m.size();
  }
  a.mask_lists.resize(p.resolutions.size());
  a.unmask_lists.resize(p.resolutions.size());
  for (size_t r = 0; r < p.resolutions.size(); r++) {
    a.mask_lists[r].clear();
    a.unmask_lists[r].clear();
    const auto& m = a.masks[r];
    for (size_t q = 0; q < m.size(); q++) (m[q] ? a.mask_lists[r] : a.unmask_lists[r]).push_back(int32_t(q));
  }

  lap(n_ops, 0);

  // backward: where each tensor is read
  a.needed.resize(n_tensors);
  for (size_t t = 0; t < n_tensors; t++) a.needed[t].reset(p.tensors[t].positions());
  if (need_features) for (int t : p.out_features) a.needed[t].set_all();
  {
    Needed& head = a.needed[p.out_logits];
    if (a.mask_all[0]) head.set_all();
    else for (size_t q = 0; q < q_positions; q++) if (a.masks[0][q]) head.mark(q);
  }
  a.computed.resize(n_ops);
  a.skipped.resize(n_ops);
  a.kept.resize(n_ops);
  a.computed_of.assign(n_ops, nullptr);
  a.skipped_of.assign(n_ops, nullptr);
  a.kept_of.assign(n_ops, nullptr);
  a.all_positions.resize(n_tensors);
  for (size_t t = 0; t < n_tensors; t++) {
    auto& all = a.all_positions[t];
    if (all.size() != p.tensors[t].positions()) {
      all.resize(p.tensors[t].positions());
      for (size_t q = 0; q < all.size(); q++) all[q] = int32_t(q);
    }
  }
  a.fused.assign(n_ops, 0);
  for (size_t i = n_ops; i-- > 0;) {
    const Op& op = p.ops[i];
    const Needed& N = a.needed[op.out];
    const Shape& os = p.tensors[op.out];
    if (!N.any) continue;
    switch (op.kind) {
      case OpKind::conv: {
        const ConvSpec& s = op.conv;
        const bool masked = s.fill_radius >= 0 && !a.mask_all[op.mask];
        const uint8_t* M = masked ? a.masks[op.mask].data() : nullptr;
        const size_t positions = os.positions();
        const Shape& is = p.tensors[op.in];
        Needed& in = a.needed[op.in];
        if (s.residual >= 0) or_needed(a.needed[s.residual], N);
        if (N.all) {
          // everything is read: compute every masked position, fill every skipped one
          if (!masked) {
            a.computed_of[i] = &a.all_positions[op.out];
            a.fused[i] = 1;
            in.set_all();
            break;
          }
          a.computed_of[i] = &a.mask_lists[op.mask];
          a.kept_of[i] = &a.mask_lists[op.mask];
          a.skipped_of[i] = &a.unmask_lists[op.mask];
          a.fused[i] = a.unmask_lists[op.mask].empty();
          if (!in.all) mark_footprint(a.masks[op.mask].data(), os, s, is, in);
          break;
        }
        auto& C = a.computed[i];
        auto& skipped = a.skipped[i];
        auto& kept = a.kept[i];
        C.clear();
        skipped.clear();
        kept.clear();
        a.computed_of[i] = &C;
        a.skipped_of[i] = &skipped;
        a.kept_of[i] = &kept;
        auto& footprint = a.scratch_map;
        footprint.assign(positions, 0);
        for (size_t q = 0; q < positions; q++) {
          const bool needed = N.bits[q];
          bool compute = false;
          if (!masked) compute = needed;
          else if (M[q]) {
            compute = needed;
            if (!compute) {  // a skipped, needed neighbour's fill reads it
              const int r = s.fill_radius, y = int(q / os.w), x = int(q % os.w);
              for (int dy = -r; dy <= r && !compute; dy++) {
                const int yy = y + dy;
                if (yy < 0 || yy >= os.h) continue;
                for (int dx = -r; dx <= r; dx++) {
                  const int xx = x + dx;
                  if (xx < 0 || xx >= os.w) continue;
                  const size_t n = size_t(yy) * os.w + xx;
                  if (!M[n] && N.bits[n]) { compute = true; break; }
                }
              }
            }
          } else if (needed) {
            skipped.push_back(int32_t(q));
          }
          if (compute) {
            C.push_back(int32_t(q));
            footprint[q] = 1;
            if (masked && needed) kept.push_back(int32_t(q));
          }
        }
        a.fused[i] = !masked || skipped.empty();
        if (!in.all && !C.empty()) mark_footprint(footprint.data(), os, s, is, in);
        break;
      }
      case OpKind::fuse_sum:
      case OpKind::concat_up:
        for (size_t t = 0; t < op.terms.size(); t++) {
          const Term& term = op.terms[t];
          Needed& in = a.needed[term.tensor];
          if (term.upsample) mark_bilinear_support(N, os, cp->bilinear[i][t], p.tensors[term.tensor], in);
          else or_needed(in, N);
        }
        break;
      case OpKind::avgpool2: {
        const Shape& is = p.tensors[op.in];
        Needed& in = a.needed[op.in];
        if (N.all) { in.set_all(); break; }
        for (size_t q = 0; q < os.positions(); q++) {
          if (!N.bits[q]) continue;
          const int y = int(q / os.w) * 2, x = int(q % os.w) * 2;
          for (int dy = 0; dy < 2; dy++) for (int dx = 0; dx < 2; dx++) in.mark(size_t(y + dy) * is.w + x + dx);
        }
        break;
      }
      case OpKind::upsample:
        mark_bilinear_support(N, os, cp->bilinear[i][0], p.tensors[op.in], a.needed[op.in]);
        break;
    }
  }

  lap(n_ops + 1, 0);

  // forward
  std::vector<int32_t> list;
  for (size_t i = 0; i < n_ops; i++) {
    const Op& op = p.ops[i];
    const Needed& N = a.needed[op.out];
    if (!N.any) continue;
    struct Lap {
      decltype(lap)& f;
      size_t i;
      int64_t n;
      ~Lap() { f(i, n); }
    } op_lap{lap, i, !profiling_ ? 0 : op.kind == OpKind::conv ? int64_t(a.computed[i].size()) : int64_t(N.all ? p.tensors[op.out].positions() : std::count(N.bits.begin(), N.bits.end(), 1))};
    const Shape& os = p.tensors[op.out];
    float* out = ptr[op.out];
    switch (op.kind) {
      case OpKind::conv: {
        const ConvSpec& s = op.conv;
        const Shape& is = p.tensors[op.in];
        const float* in = ptr[op.in];
        const float* res = s.residual >= 0 ? ptr[s.residual] : nullptr;
        const bool fused = a.fused[i];
        const auto& C = *a.computed_of[i];
        const PackedConv& pack = fused ? cp->fused[i] : cp->masked[i];
        const int taps = s.kernel * s.kernel;
        const float* zero = zero_row(size_t(s.cin));
        const size_t chunk = kChunk;
        pool_.parallel_for((C.size() + chunk - 1) / chunk, [&](size_t task, int) {
          const size_t begin = task * chunk, end = std::min(C.size(), begin + chunk);
          const float* rows[kChunk * 9];
          float* outs[kChunk];
          const float* resid[kChunk];
          for (size_t j = begin; j < end; j++) {
            const int q = C[j], y = q / os.w, x = q % os.w;
            const float** r = rows + (j - begin) * taps;
            for (int ky = 0; ky < s.kernel; ky++) {
              const int yy = y * s.stride - s.pad + ky;
              for (int kx = 0; kx < s.kernel; kx++) {
                const int xx = x * s.stride - s.pad + kx;
                r[ky * s.kernel + kx] = (yy < 0 || yy >= is.h || xx < 0 || xx >= is.w)
                    ? zero : in + (size_t(yy) * is.w + xx) * is.c;
              }
            }
            outs[j - begin] = out + size_t(q) * os.c;
            if (res) resid[j - begin] = res + size_t(q) * os.c;
          }
          ConvJob job{rows, outs, (fused && res) ? resid : nullptr, true, fused && s.relu, end - begin};
          conv_rows(pack, job);
        });
        if (fused) break;
        // The skipped positions that are read take the RBF fill of their computed
        // neighbours' raw outputs; only then do the computed ones get their BN shift,
        // residual and activation in place.
        const uint8_t* M = a.masks[op.mask].data();
        const int r = s.fill_radius, side = 2 * r + 1;
        const float* post = s.post_bias.data();
        const int cout = os.c;
        const auto& skipped = *a.skipped_of[i];
        pool_.parallel_for((skipped.size() + kChunk - 1) / kChunk, [&](size_t task, int) {
          const size_t end = std::min(skipped.size(), (task + 1) * kChunk);
          for (size_t j = task * kChunk; j < end; j++) {
            const size_t q = size_t(skipped[j]);
            float* o = out + q * cout;
            std::fill(o, o + cout, 0.f);
            const int y = int(q / os.w), x = int(q % os.w);
            for (int dy = -r; dy <= r; dy++) {
              const int yy = y + dy;
              if (yy < 0 || yy >= os.h) continue;
              for (int dx = -r; dx <= r; dx++) {
                const int xx = x + dx;
                if (xx < 0 || xx >= os.w) continue;
                const size_t nq = size_t(yy) * os.w + xx;
                if (M[nq]) rows_axpy(o, s.fill[(dy + r) * side + (dx + r)], out + nq * cout, cout);
              }
            }
            rows_epilogue(o, post, res ? res + q * cout : nullptr, s.relu, cout);
          }
        });
        const auto& kept = *a.kept_of[i];
        pool_.parallel_for((kept.size() + kChunk - 1) / kChunk, [&](size_t task, int) {
          const size_t end = std::min(kept.size(), (task + 1) * kChunk);
          for (size_t j = task * kChunk; j < end; j++) {
            const size_t q = size_t(kept[j]);
            rows_epilogue(out + q * cout, post, res ? res + q * cout : nullptr, s.relu, cout);
          }
        });
        break;
      }
      case OpKind::fuse_sum: {
        for_needed(pool_, N, os.positions(), list, [&](size_t q) {
          float* o = out + q * os.c;
          const int y = int(q / os.w), x = int(q % os.w);
          for (size_t t = 0; t < op.terms.size(); t++) {
            const Term& term = op.terms[t];
            const Shape& ts = p.tensors[term.tensor];
            if (term.upsample) {
              bilinear_row(ptr[term.tensor], ts, cp->bilinear[i][t], y, x, o, t > 0);
            } else {
              const float* src = ptr[term.tensor] + q * os.c;
              if (t == 0) std::memcpy(o, src, sizeof(float) * os.c);
              else for (int c = 0; c < os.c; c++) o[c] += src[c];
            }
          }
          if (op.relu) for (int c = 0; c < os.c; c++) o[c] = o[c] < 0 ? 0.f : o[c];
        });
        break;
      }
      case OpKind::concat_up: {
        for_needed(pool_, N, os.positions(), list, [&](size_t q) {
          float* o = out + q * os.c;
          const int y = int(q / os.w), x = int(q % os.w);
          for (size_t t = 0; t < op.terms.size(); t++) {
            const Term& term = op.terms[t];
            const Shape& ts = p.tensors[term.tensor];
            if (term.upsample) bilinear_row(ptr[term.tensor], ts, cp->bilinear[i][t], y, x, o, false);
            else std::memcpy(o, ptr[term.tensor] + q * ts.c, sizeof(float) * ts.c);
            o += ts.c;
          }
        });
        break;
      }
      case OpKind::avgpool2: {
        const Shape& is = p.tensors[op.in];
        const float* in = ptr[op.in];
        for_needed(pool_, N, os.positions(), list, [&](size_t q) {
          float* o = out + q * os.c;
          const int y = int(q / os.w) * 2, x = int(q % os.w) * 2;
          const float* a0 = in + (size_t(y) * is.w + x) * is.c;
          const float* a1 = a0 + is.c;
          const float* b0 = a0 + size_t(is.w) * is.c;
          const float* b1 = b0 + is.c;
          for (int c = 0; c < os.c; c++) o[c] = (a0[c] + a1[c] + b0[c] + b1[c]) * 0.25f;
        });
        break;
      }
      case OpKind::upsample: {
        const Shape& is = p.tensors[op.in];
        for_needed(pool_, N, os.positions(), list, [&](size_t q) {
          bilinear_row(ptr[op.in], is, cp->bilinear[i][0], int(q / os.w), int(q % os.w), out + q * os.c, false);
        });
        break;
      }
    }
  }

  // merge: computed positions take the new logits; the others keep the previous exit's
  const float* head = ptr[p.out_logits];
  const uint8_t* M = a.masks[0].data();
  const int classes = classes_;
  pool_.parallel_for((q_positions + 255) / 256, [&](size_t task, int) {
    const size_t end = std::min(q_positions, (task + 1) * 256);
    for (size_t q = task * 256; q < end; q++) {
      if (!M[q]) continue;
      float* row = run.logits.data() + q * classes;
      std::memcpy(row, head + q * classes, sizeof(float) * classes);
      confidence_of(row, classes, &run.confidence[q], &run.labels[q]);
    }
  });

  lap(n_ops + 2, int64_t(a.counts[0]));

  std::swap(run.features, run.spare);
  run.feature_shapes.clear();
  if (need_features) for (int t : p.out_features) run.feature_shapes.push_back(p.tensors[t]);
  run.stage = k;
  return StageResult{a.counts};
}

}  // namespace adpc
