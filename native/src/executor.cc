#include "executor.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "kernels/compact.h"
#include "kernels/fill.h"
#include "kernels/merge.h"
#include "row_ops.h"

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

// The byte loops over masks and needed sets, cloned per x86 ISA (GCC picks one at load): 32
// or 64 positions an instruction instead of 16. Not under ThreadSanitizer (see row_ops.cc).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
#define ADPC_BYTE_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define ADPC_BYTE_CLONES
#endif

namespace {

constexpr size_t kChunk = 32;       // the least positions a parallel task takes
constexpr size_t kConvChunk = 96;   // conv positions set up at once: whole register tiles of every kernel
constexpr size_t kNone = std::numeric_limits<size_t>::max();

// At least n buffers, never fewer: a run's buffers outlive its frame, so a pooled run's
// next frame writes into memory it already has instead of freshly mapped pages (a frame's
// features are about 4 MB, whose first touch cost page faults in every stage).
void grow(std::vector<Buffer>& buffers, size_t n) {
  if (buffers.size() < n) buffers.resize(n);
}

// Where a state's features are: the image, or the last stage's kept outputs.
std::vector<Buffer>& state_features(RunState& run) { return run.stage == 0 ? run.image : run.outputs[size_t(run.stage - 1)]; }
const std::vector<Buffer>& state_features(const RunState& run) { return run.stage == 0 ? run.image : run.outputs[size_t(run.stage - 1)]; }

// Whether stage k's kept outputs hold the last frame wherever a focus leaves them: they do,
// and where they lag behind stage 1 the focus covers it.
bool keeps(const RunState& run, int k, const std::vector<uint8_t>& focus) {
  const size_t j = size_t(k - 1);
  if (j >= run.kept.size() || !run.kept[j] || run.lag_all[j]) return false;
  const std::vector<uint8_t>& l = run.lag[j];
  if (l.empty()) return true;
  if (l.size() != focus.size()) return false;
  for (size_t i = 0; i < l.size(); i++) if (l[i] && !focus[i]) return false;
  return true;
}

// Where a tensor of h x w positions lies in a 1/4-resolution focus: a position is in it when
// any 1/4-resolution position it covers is.
void focus_at(const std::vector<uint8_t>& focus, int quarter_h, int quarter_w, int h, int w, uint8_t* out) {
  const int fy = quarter_h / h, fx = quarter_w / w;
  for (int y = 0; y < h; y++) {
    for (int x = 0; x < w; x++) {
      uint8_t any = 0;
      for (int dy = 0; dy < fy; dy++) {
        const uint8_t* row = focus.data() + size_t(y * fy + dy) * quarter_w + size_t(x) * fx;
        for (int dx = 0; dx < fx; dx++) any |= uint8_t(row[dx] != 0);
      }
      out[size_t(y) * w + x] = any;
    }
  }
}

// PyTorch's nearest source index (mode "nearest") for one axis.
int nearest_index(int o, int in, int out) {
  if (in == out) return o;
  const float scale = float(in) / float(out);
  return std::min(int(float(o) * scale), in - 1);
}

// Where a tensor is read: everywhere, or at the set bytes of bits().
struct Needed {
  bool all = false;
  bool any = false;
  // Most tensors of a stage are read everywhere or nowhere, so the bytes are cleared only when
  // a first position is marked, and kept at their largest size: the arena's tensor i is a
  // different map in every stage.
  // Set where a tensor is computed no matter who reads it: a stage's kept output features,
  // refreshed in a focus, are read as they are elsewhere.
  bool frozen = false;
  void reset(size_t positions) {
    all = any = frozen = false;
    if (positions > capacity_) {
      store_.reset(new uint8_t[positions]);
      capacity_ = positions;
    }
    size_ = positions;
  }
  void set_all() {
    if (!frozen) all = any = true;
  }
  // the bytes to mark positions in, cleared if nothing was marked yet
  uint8_t* mark() {
    if (frozen) {
      // reads here take what the tensor holds: marks go nowhere
      if (discard_.size() < size_) discard_.resize(size_);
      return discard_.data();
    }
    if (!any) std::memset(store_.get(), 0, size_);
    any = true;
    return store_.get();
  }
  const uint8_t* bits() const { return store_.get(); }  // valid while any && !all
  size_t size() const { return size_; }

 private:
  std::unique_ptr<uint8_t[]> store_;
  std::vector<uint8_t> discard_;
  size_t capacity_ = 0, size_ = 0;
};

ADPC_BYTE_CLONES void or_bytes(uint8_t* dst, const uint8_t* src, size_t n) {
  for (size_t q = 0; q < n; q++) dst[q] |= src[q];
}

// Rows [y0, y1) of a map: where a set of marks can have any (the rest of its rows are clear).
// A focus or a sparse mask marks a band of the rows; the needed sets' passes run over it alone.
struct Rows {
  int y0 = 0, y1 = 0;
  bool empty() const { return y1 <= y0; }
  size_t from(int w) const { return size_t(y0) * size_t(w); }
  size_t count(int w) const { return empty() ? 0 : size_t(y1 - y0) * size_t(w); }
  // widened by r rows each way, within [0, h)
  Rows widen(int r, int h) const { return empty() ? *this : Rows{std::max(0, y0 - r), std::min(h, y1 + r)}; }
};

ADPC_BYTE_CLONES bool any_set(const uint8_t* p, size_t n) {
  uint8_t any = 0;
  for (size_t q = 0; q < n; q++) any |= p[q];
  return any != 0;
}

// From the first to the last row of an h x w map with a set byte (empty if none).
Rows set_rows(const uint8_t* m, int h, int w) {
  Rows r{0, h};
  while (r.y0 < h && !any_set(m + size_t(r.y0) * w, size_t(w))) r.y0++;
  if (r.y0 == h) return Rows{};
  while (!any_set(m + size_t(r.y1 - 1) * w, size_t(w))) r.y1--;
  return r;
}

// out = a & !m
ADPC_BYTE_CLONES void and_not_bytes(uint8_t* out, const uint8_t* a, const uint8_t* m, size_t n) {
  for (size_t q = 0; q < n; q++) out[q] = a[q] & uint8_t(m[q] ^ 1);
}

// out = m & (a | out)
ADPC_BYTE_CLONES void masked_or_bytes(uint8_t* out, const uint8_t* m, const uint8_t* a, size_t n) {
  for (size_t q = 0; q < n; q++) out[q] = m[q] & (a[q] | out[q]);
}

// in |= the positions set in `read` (null: every position), a map of in's shape marked in `rows` alone
void or_read(Needed& in, const uint8_t* read, int w, Rows rows) {
  if (in.all) return;
  if (!read) {
    in.set_all();
    return;
  }
  uint8_t* d = in.mark();
  or_bytes(d + rows.from(w), read + rows.from(w), rows.count(w));
}

// Positions of a map in order, in storage that only grows: filling it does not clear it first.
struct PositionList {
  std::vector<int32_t> store;
  size_t count = 0;
  const int32_t* data() const { return store.data(); }
  size_t size() const { return count; }
  bool empty() const { return count == 0; }
};

ADPC_BYTE_CLONES size_t count_set(const uint8_t* flags, size_t n) {
  size_t count = 0;
  for (size_t q = 0; q < n; q++) count += flags[q] != 0;
  return count;
}

// The positions where flags[q] is set (or, with `unset`, clear), in order.
void compact(Isa isa, const uint8_t* flags, size_t positions, PositionList& list, bool unset = false) {
  if (list.store.size() < positions) list.store.resize(positions);
  list.count = compact_positions(isa, flags, positions, list.store.data(), unset);
}

// The same for a map of width w whose set positions all lie in `rows`.
void compact_rows(Isa isa, const uint8_t* flags, int w, Rows rows, PositionList& list) {
  const size_t from = rows.from(w);
  compact(isa, flags + from, rows.count(w), list);
  if (from == 0) return;
  for (size_t q = 0; q < list.count; q++) list.store[q] += int32_t(from);
}

// dst[x] = OR of src[x + d] for |d| <= r (within the row): loops over d outermost, so the
// inner loops are plain byte ORs the compiler vectorises
ADPC_BYTE_CLONES void dilate_row(const uint8_t* __restrict src, uint8_t* __restrict dst, int w, int r) {
  std::memcpy(dst, src, size_t(w));
  for (int d = 1; d <= r && d < w; d++) {
    for (int x = 0; x + d < w; x++) dst[x] |= src[x + d];
    for (int x = d; x < w; x++) dst[x] |= src[x - d];
  }
}

// out = map dilated by a (2r+1) x (2r+1) square, or with `accumulate` out |= it (separably:
// rows into scratch, then columns) (scratch: h * w bytes, not map's or out's). The map is read
// in `rows` alone (clear elsewhere); out is written in those rows widened by r alone.
ADPC_BYTE_CLONES void dilate_into(const uint8_t* map, int h, int w, int r, uint8_t* __restrict out, uint8_t* __restrict scratch,
                                  Rows rows, bool accumulate = false) {
  uint8_t* t = scratch;
  for (int y = rows.y0; y < rows.y1; y++) dilate_row(map + size_t(y) * w, t + size_t(y) * w, w, r);
  const Rows wide = rows.widen(r, h);
  for (int y = wide.y0; y < wide.y1; y++) {
    uint8_t* __restrict o = out + size_t(y) * w;
    if (!accumulate) std::memset(o, 0, size_t(w));
    for (int d = std::max(rows.y0, y - r); d <= std::min(rows.y1 - 1, y + r); d++) {
      const uint8_t* __restrict m = t + size_t(d) * w;
      for (int x = 0; x < w; x++) o[x] |= m[x];
    }
  }
}

// in |= the input positions a conv reads to compute the output positions set in `computed`
// (in its `rows` alone). Row by row and branch-free: one output row's kernels cover an
// input-width row, which is ORed into the kernel's input rows.
ADPC_BYTE_CLONES void mark_footprint(const uint8_t* computed, Rows rows, const Shape& os, const ConvSpec& s, const Shape& is, Needed& in,
                                     std::vector<uint8_t>& row) {
  uint8_t* d = in.mark();
  if (s.kernel == 1 && s.stride == 1) {
    or_bytes(d + rows.from(os.w), computed + rows.from(os.w), rows.count(os.w));
    return;
  }
  if (s.stride == 1 && s.kernel == 2 * s.pad + 1 && is.h == os.h && is.w == os.w) {
    // a square window centred on each position: the computed map dilated by the padding
    row.resize(os.positions());
    dilate_into(computed, os.h, os.w, s.pad, d, row.data(), rows, true);
    return;
  }
  row.resize(size_t(is.w));
  uint8_t* r = row.data();
  for (int y = rows.y0; y < rows.y1; y++) {
    const uint8_t* c = computed + size_t(y) * os.w;
    std::memset(r, 0, size_t(is.w));
    for (int kx = 0; kx < s.kernel; kx++) {
      // the x whose tap kx lands inside the input: 0 <= x * stride - pad + kx < is.w
      const int lo = std::max(0, (s.pad - kx + s.stride - 1) / s.stride);
      const int hi = std::min(os.w, (is.w - 1 + s.pad - kx) / s.stride + 1);
      const int shift = kx - s.pad;
      if (s.stride == 1) {
        for (int x = lo; x < hi; x++) r[x + shift] |= c[x];  // contiguous: vectorised
      } else {
        for (int x = lo; x < hi; x++) r[x * s.stride + shift] |= c[x];
      }
    }
    for (int ky = 0; ky < s.kernel; ky++) {
      const int yy = y * s.stride - s.pad + ky;
      if (yy < 0 || yy >= is.h) continue;
      uint8_t* o = d + size_t(yy) * is.w;
      for (int x = 0; x < is.w; x++) o[x] |= r[x];
    }
  }
}

// in |= the source positions of a bilinear upsampling read at the output positions set in
// `out` (null: all of them; else in its `read` rows alone). The read output rows are first
// ORed into the input rows they read (whole rows, vectorised), so that the columns are
// scattered once per input row, not once per output row (8 times fewer for a 1/32 map read at 1/4).
ADPC_BYTE_CLONES void mark_bilinear_support(const uint8_t* out, Rows read, const Shape& os, const Bilinear& b, const Shape& is, Needed& in,
                                            std::vector<uint8_t>& scratch) {
  if (in.all) return;
  if (!out) {
    in.set_all();
    return;
  }
  uint8_t* d = in.mark();
  scratch.assign(size_t(is.h) * os.w + size_t(is.w), 0);
  uint8_t* rows = scratch.data();
  uint8_t* __restrict r = rows + size_t(is.h) * os.w;
  int first = is.h, last = -1;  // the input rows read
  for (int y = read.y0; y < read.y1; y++) {
    const uint8_t* __restrict c = out + size_t(y) * os.w;
    for (int yy : {b.y.i0[size_t(y)], b.y.i1[size_t(y)]}) {
      first = std::min(first, yy);
      last = std::max(last, yy);
      uint8_t* __restrict o = rows + size_t(yy) * os.w;
      for (int x = 0; x < os.w; x++) o[x] |= c[x];
    }
  }
  for (int yy = first; yy <= last; yy++) {
    const uint8_t* c = rows + size_t(yy) * os.w;
    std::memset(r, 0, size_t(is.w));
    for (int x = 0; x < os.w; x++) {
      r[b.x.i0[size_t(x)]] |= c[x];
      r[b.x.i1[size_t(x)]] |= c[x];
    }
    uint8_t* __restrict o = d + size_t(yy) * is.w;
    for (int x = 0; x < is.w; x++) o[x] |= r[x];
  }
}

constexpr size_t kTasksPerThread = 4;

// The least work worth a task of its own, in multiply-adds (or the like): waking the pool and
// waiting for it costs a few microseconds, which the small maps of the low resolutions and
// the few positions of a small focus would otherwise pay op after op.
constexpr size_t kTaskWork = size_t(1) << 16;

// A grain (multiple of `quantum`) for items of `cost` each.
size_t grain_for(size_t cost, size_t quantum) {
  const size_t items = (kTaskWork + std::max<size_t>(cost, 1) - 1) / std::max<size_t>(cost, 1);
  return std::max(quantum, (items + quantum - 1) / quantum * quantum);
}

// Runs fn(begin, end) over [0, count) in pieces across the pool: about kTasksPerThread pieces
// per thread (claiming a task costs a contended atomic and a call, so many small ones cost
// more than the work of a small op), none smaller than `grain`, each a multiple of it.
// in_chunks_on also gives fn the thread (0 .. threads-1) running the piece.
template <typename Fn>
void in_chunks_on(ThreadPool& pool, size_t count, size_t grain, Fn fn) {
  const size_t want = (count + kTasksPerThread * size_t(pool.size()) - 1) / (kTasksPerThread * size_t(pool.size()));
  const size_t chunk = std::max(grain, (want + grain - 1) / grain * grain);
  pool.parallel_for((count + chunk - 1) / chunk, [&](size_t task, int thread) {
    fn(task * chunk, std::min(count, (task + 1) * chunk), thread);
  });
}
template <typename Fn>
void in_chunks(ThreadPool& pool, size_t count, size_t grain, Fn fn) {
  in_chunks_on(pool, count, grain, [&](size_t begin, size_t end, int) { fn(begin, end); });
}

}  // namespace

// Positions of a map an op works on: a list, or all of them in order (a null list).
struct Positions {
  const int32_t* list = nullptr;
  size_t count = 0;
  size_t at(size_t j) const { return list ? size_t(list[j]) : j; }
  static Positions of(const PositionList& v) { return {v.data(), v.size()}; }
  static Positions whole(size_t n) { return {nullptr, n}; }
};

// A conv's indirection over listed output positions: per position, its K x K input rows (the
// zero row outside the map), its output row and its residual row.
struct ConvRows {
  Positions at;
  const float* in;
  Shape is, os;
  int stride, pad;
  const ptrdiff_t* tap_offset;  // per tap, floats from the window's corner
  const float* zero;
  float* out;
  const float* res;             // or null
};

// Positions [begin, end) of c.at, K known at compile time: the taps unroll, and the increasing
// positions give their rows without a division each (0.1-0.5 ms less a CA frame than with
// both at run time, five alternating runs).
template <int K>
void set_conv_rows(const ConvRows& c, size_t begin, size_t end, const float** rows, float** outs, const float** resid) {
  constexpr int T = K * K;
  const size_t w = size_t(c.os.w), oc = size_t(c.os.c);
  int y = int(c.at.at(begin) / w);
  size_t row_start = size_t(y) * w;
  for (size_t j = begin; j < end; j++) {
    const size_t q = c.at.at(j);
    while (q >= row_start + w) {
      y++;
      row_start += w;
    }
    const int x = int(q - row_start);
    const float** r = rows + (j - begin) * T;
    const int y0 = y * c.stride - c.pad, x0 = x * c.stride - c.pad;
    if (y0 >= 0 && x0 >= 0 && y0 + K <= c.is.h && x0 + K <= c.is.w) {
      // inside the map: the taps are fixed offsets from the window's corner
      const float* corner = c.in + (size_t(y0) * size_t(c.is.w) + size_t(x0)) * size_t(c.is.c);
      for (int t = 0; t < T; t++) r[t] = corner + c.tap_offset[t];
    } else {
      for (int ky = 0; ky < K; ky++) {
        const int yy = y0 + ky;
        for (int kx = 0; kx < K; kx++) {
          const int xx = x0 + kx;
          r[ky * K + kx] = (yy < 0 || yy >= c.is.h || xx < 0 || xx >= c.is.w)
              ? c.zero : c.in + (size_t(yy) * size_t(c.is.w) + size_t(xx)) * size_t(c.is.c);
        }
      }
    }
    outs[j - begin] = c.out + q * oc;
    if (c.res) resid[j - begin] = c.res + q * oc;
  }
}

// Packed weights of a stage, shared by its programs of every size.
struct Packs {
  std::vector<PackedConv> fused;   // per op: bias = pre + post (every needed position computed)
  std::vector<PackedConv> masked;  // per op: bias = pre (skipped positions filled afterwards)
};

// A head whose classifier reads a 1x1 conv's output summed with upsampled terms: conv a
// (1x1, nothing after it), fuse_sum f (conv a's output first, then the terms, ReLU) and
// classifier b (1x1, the stage's logits). Run as one op at b, a chunk of positions at a time
// through a scratch row per position, so that the wide sum (240 channels for W18) never
// goes to memory as a map: the final head of HRNet, whose first conv the export splits by
// branch before the upsampling.
struct FusedHead {
  int a = -1, f = -1, b = -1;
  bool active() const { return b >= 0; }
};

struct Executor::Compiled {
  Program prog;
  std::shared_ptr<const Packs> packs;
  FusedHead head;
  std::vector<std::vector<Bilinear>> bilinear;  // per op, per term (upsample terms and ops)
  std::vector<size_t> offset;      // per tensor: floats into the arena, kNone if bound to the run
  size_t arena_floats = 0;
  std::vector<OpTiming> timing;    // ops, then masks, needed, merge
};

// The per-stage working state, reused from run to run (one stage runs at a time).
struct Executor::Arena {
  Buffer data;
  std::vector<Needed> needed;                    // per tensor
  std::vector<std::vector<uint8_t>> masks;       // per masked resolution
  std::vector<uint8_t> mask_all;
  std::vector<int64_t> counts;
  std::vector<PositionList> mask_lists, unmask_lists;  // per masked resolution
  // per op: positions a conv computes and the skipped positions it fills; per op but a
  // masked conv (whose own lists say it), the positions it writes (needed); the *_of views
  // are what the forward pass uses: these lists, the mask lists, or a whole tensor (a null list)
  std::vector<PositionList> computed, skipped, needed_list;
  std::vector<Positions> computed_of, skipped_of, needed_of;
  std::vector<uint8_t> fused;                    // per conv op: no needed position is skipped
  std::vector<uint8_t> footprint, flags, rows_scratch, row_scratch;
  std::vector<int> source_x;                     // nearest source column per column of a mask
  Buffer head_rows;                              // the fused head's scratch rows, per thread
  Buffer raw;                                    // a masked conv's raw sums, which its fills read
  // The next stage's masks and needed sets, worked out on a worker after a stage (see the end
  // of run_stage) from copies of what they depend on; `valid` once done.
  struct Prepared {
    const RunState* run = nullptr;
    const Executor::Compiled* cp = nullptr;
    float threshold = 0;
    bool need_features = false;
    bool keep = false;
    bool has_focus = false;
    std::vector<uint8_t> focus;
    std::vector<float> confidence;
    bool valid = false;
  } prepared;
  // Preparing pays while each stage is followed by its own run's next stage (one stream): when
  // streams take turns, what was prepared is thrown away and the next call waits for it. The
  // stage run_stage expects next, and whether the last such expectation held.
  const RunState* expect_run = nullptr;
  int expect_k = 0;
  bool prepare_pays = true;
};

namespace {

// Arena offsets for the stage's own tensors: each lives from its op to its last reader, and
// tensors whose lives do not overlap share memory.
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
  if (c.head.active()) {
    // computed at b: what a and the sum read lives until then
    read(p.ops[size_t(c.head.a)].in, c.head.b);
    for (const Term& t : p.ops[size_t(c.head.f)].terms) read(t.tensor, c.head.b);
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

std::shared_ptr<const Packs> pack_weights(const Program& prog, Isa isa) {
  auto packs = std::make_shared<Packs>();
  packs->fused.resize(prog.ops.size());
  packs->masked.resize(prog.ops.size());
  for (size_t i = 0; i < prog.ops.size(); i++) {
    const Op& op = prog.ops[i];
    if (op.kind != OpKind::conv) continue;
    const ConvSpec& s = op.conv;
    const int taps = s.kernel * s.kernel;
    std::vector<float> both(s.cout);
    for (int n = 0; n < s.cout; n++) both[n] = s.pre_bias[n] + s.post_bias[n];
    packs->fused[i] = pack_conv(s.weight.data(), both.data(), s.cout, s.cin, taps, isa);
    if (s.fill_radius >= 0) packs->masked[i] = pack_conv(s.weight.data(), s.pre_bias.data(), s.cout, s.cin, taps, isa);
  }
  return packs;
}

// The fusable head of a program (FusedHead), if it has one.
FusedHead find_fused_head(const Program& p) {
  const int b = [&] {
    for (size_t i = 0; i < p.ops.size(); i++) if (p.ops[i].out == p.out_logits) return int(i);
    return -1;
  }();
  if (b < 1) return {};
  const Op& cb = p.ops[size_t(b)];
  const auto plain_1x1 = [](const Op& op) {
    return op.kind == OpKind::conv && op.conv.kernel == 1 && op.conv.stride == 1 && op.conv.residual < 0 && !op.conv.relu;
  };
  if (!plain_1x1(cb)) return {};
  int f = -1, a = -1;
  for (size_t i = 0; i < size_t(b); i++) if (p.ops[i].out == cb.in) f = int(i);
  if (f < 0) return {};
  const Op& sum = p.ops[size_t(f)];
  if (sum.kind != OpKind::fuse_sum || !sum.relu || sum.terms.empty() || sum.terms[0].upsample) return {};
  for (size_t i = 0; i < size_t(f); i++) if (p.ops[i].out == sum.terms[0].tensor) a = int(i);
  if (a < 0 || !plain_1x1(p.ops[size_t(a)]) || p.ops[size_t(a)].conv.fill_radius >= 0) return {};
  for (size_t t = 1; t < sum.terms.size(); t++) if (!sum.terms[t].upsample) return {};
  // conv a's output is read by the sum alone, the sum's by the classifier alone
  for (size_t i = 0; i < p.ops.size(); i++) {
    const Op& op = p.ops[i];
    std::vector<int> reads{op.in, op.conv.residual};
    for (const Term& t : op.terms) reads.push_back(t.tensor);
    for (int t : reads) {
      if (t == sum.terms[0].tensor && int(i) != f) return {};
      if (t == sum.out && int(i) != b) return {};
    }
  }
  for (int t : p.out_features) if (t == sum.terms[0].tensor || t == sum.out) return {};
  return {a, f, b};
}

// What each timing slot measures, as the executor runs it (after its rewrites and fusions).
void describe_ops(Executor::Compiled& c) {
  const Program& p = c.prog;
  static const char* const kinds[] = {"conv", "fuse_sum", "concat_up", "avgpool2", "upsample"};
  for (size_t i = 0; i < p.ops.size(); i++) {
    const Op& op = p.ops[i];
    const Shape& out = p.tensors[size_t(op.out)];
    std::string what = kinds[int(op.kind)];
    if (op.kind == OpKind::conv) {
      const ConvSpec& s = op.conv;
      what += " " + std::to_string(s.kernel) + "x" + std::to_string(s.kernel) + "/" + std::to_string(s.stride) + " " +
              std::to_string(s.cin) + "->" + std::to_string(s.cout) + (s.fill_radius >= 0 ? " masked" : "");
    }
    if (c.head.active() && (int(i) == c.head.a || int(i) == c.head.f)) what += " (in the fused head)";
    if (c.head.active() && int(i) == c.head.b) what = "fused head: 1x1 conv, sum, ReLU, classifier " + std::to_string(op.conv.cin) + "->" + std::to_string(op.conv.cout);
    c.timing[i].op = what + " @" + std::to_string(out.h) + "x" + std::to_string(out.w);
  }
  const char* const phases[] = {"masks", "needed sets", "merge"};
  for (size_t j = 0; j < 3; j++) c.timing[p.ops.size() + j].op = phases[j];
}

std::unique_ptr<Executor::Compiled> compile(Program prog, std::shared_ptr<const Packs> packs) {
  prog.validate();
  auto c = std::make_unique<Executor::Compiled>();
  c->packs = std::move(packs);
  c->bilinear.resize(prog.ops.size());
  for (size_t i = 0; i < prog.ops.size(); i++) {
    const Op& op = prog.ops[i];
    const Shape& out = prog.tensors[op.out];
    if (op.kind == OpKind::upsample) {
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
  c->head = find_fused_head(c->prog);
  describe_ops(*c);
  plan_memory(*c);
  return c;
}

}  // namespace

Executor::Executor(std::vector<Program> programs, int classes, Isa isa, int threads)
    : classes_(classes), isa_(isa), pool_(threads) {
  if (classes < 1 || classes > 255) throw std::invalid_argument("native executor: classes must be 1..255");
  for (Program& p : programs) {
    if (p.stage < 1 || p.stage > 4 || has_stage(p.stage)) throw std::invalid_argument("native executor: stages must be distinct, 1..4");
    if (p.out_logits < 0 || p.out_logits >= int(p.tensors.size()) || p.tensors[p.out_logits].c != classes) {
      throw std::invalid_argument("native executor: logits channels != classes");
    }
    p.validate();
    p.classify_before_upsampling();
    auto packs = pack_weights(p, isa);
    stages_.push_back(compile(std::move(p), std::move(packs)));
  }
}

Executor::~Executor() { pool_.settle(); }

bool Executor::has_stage(int k) const {
  return std::any_of(stages_.begin(), stages_.end(), [&](const auto& c) { return c->prog.stage == k; });
}

const Program& Executor::program(int k) const {
  for (const auto& c : stages_) if (c->prog.stage == k) return c->prog;
  throw std::invalid_argument("native executor: no program for stage " + std::to_string(k));
}

const Executor::Compiled& Executor::compiled_for(int k, int quarter_h, int quarter_w) {
  const Compiled* base = nullptr;
  for (const auto& c : stages_) if (c->prog.stage == k) base = c.get();
  if (!base) throw std::invalid_argument("native executor: no program for stage " + std::to_string(k));
  const Shape& q = base->prog.tensors[base->prog.out_logits];
  if (q.h != quarter_h || q.w != quarter_w) {
    throw std::invalid_argument("native executor: a " + std::to_string(quarter_h * 4) + "x" + std::to_string(quarter_w * 4) + " image, the programs' is " +
                                std::to_string(q.h * 4) + "x" + std::to_string(q.w * 4));
  }
  return *base;
}

void Executor::import_state(RunState& run, int stage, const std::vector<const float*>& features_nchw,
                            const std::vector<Shape>& shapes, const float* logits_nchw, const float* confidence,
                            const uint8_t* labels) {
  std::lock_guard<std::mutex> lock(mutex_);
  pool_.settle();
  if (arena_) arena_->prepared.valid = false;  // the run's state changes
  const ThreadPool::Caller on_its_cpu(pool_);
  if (features_nchw.size() != shapes.size() || shapes.empty()) throw std::invalid_argument("import: features and shapes differ");
  const Shape lo{classes_, shapes[0].h, shapes[0].w};
  if (stage < 0 || stage > 3) throw std::invalid_argument("import: the state of stage 0 (the image) to 3");
  if (stage == 0 && (shapes[0].h % 4 != 0 || shapes[0].w % 4 != 0)) throw std::invalid_argument("import: the image size must be a multiple of 4");
  const int quarter_h = stage == 0 ? shapes[0].h / 4 : shapes[0].h;
  const int quarter_w = stage == 0 ? shapes[0].w / 4 : shapes[0].w;
  // kept outputs hold a picture of the run's size; the stages before an imported one did not run
  if (stage > 0 || quarter_h != run.quarter_h || quarter_w != run.quarter_w) {
    run.kept.fill(false);
    run.lag_all.fill(false);
    for (auto& l : run.lag) l.clear();
  }
  if (stage > 0) {
    run.focus.clear();
    run.kept[size_t(stage - 1)] = true;
    run.reached = stage;
  }
  run.stage = stage;
  run.quarter_h = quarter_h;
  run.quarter_w = quarter_w;
  run.feature_shapes = shapes;
  std::vector<Buffer>& into = state_features(run);
  grow(into, shapes.size());
  auto transpose = [&](const float* src, const Shape& s, float* dst) {
    in_chunks(pool_, s.positions(), 256, [&](size_t b, size_t e) { transpose_positions(src, s.positions(), s.c, b, e, dst, false); });
  };
  for (size_t i = 0; i < shapes.size(); i++) {
    into[i].resize(shapes[i].floats());
    transpose(features_nchw[i], shapes[i], into[i].data());
  }
  if (stage == 0) return;  // the image: stage 1 makes the first logits
  if (!logits_nchw || !confidence || !labels) throw std::invalid_argument("import: a stage's outputs need logits, confidence and labels");
  run.logits.resize(lo.floats());
  transpose(logits_nchw, lo, run.logits.data());
  run.confidence.assign(confidence, confidence + lo.positions());
  run.labels.assign(labels, labels + lo.positions());
}

void Executor::export_nchw(const RunState& run, std::vector<float*> features, float* logits) {
  std::lock_guard<std::mutex> lock(mutex_);
  pool_.settle();
  const ThreadPool::Caller on_its_cpu(pool_);
  if (features.size() != run.feature_shapes.size()) {
    throw std::invalid_argument("export: the state holds " + std::to_string(run.feature_shapes.size()) + " features");
  }
  auto transpose = [&](const float* src, const Shape& s, float* dst) {
    in_chunks(pool_, s.positions(), 256, [&](size_t b, size_t e) { transpose_positions(src, s.positions(), s.c, b, e, dst, true); });
  };
  const std::vector<Buffer>& from = state_features(run);
  for (size_t i = 0; i < features.size(); i++) transpose(from[i].data(), run.feature_shapes[i], features[i]);
  transpose(run.logits.data(), Shape{classes_, run.feature_shapes[0].h, run.feature_shapes[0].w}, logits);
}

void Executor::full_labels(const RunState& run, int out_h, int out_w, uint8_t* out) {
  std::lock_guard<std::mutex> lock(mutex_);
  pool_.settle();
  const ThreadPool::Caller on_its_cpu(pool_);
  if (run.stage < 1 || run.logits.size() < size_t(run.quarter_h) * run.quarter_w * classes_) {
    throw std::invalid_argument("full labels: the run has no logits yet");
  }
  if (out_h < 1 || out_w < 1 || out_h > 16384 || out_w > 16384) throw std::invalid_argument("full labels: bad size");
  const Bilinear b{bilinear_axis(run.quarter_h, out_h), bilinear_axis(run.quarter_w, out_w)};
  const MapTerm logits{const_cast<float*>(run.logits.data()), run.quarter_h, run.quarter_w, classes_, &b};
  in_chunks(pool_, size_t(out_h), 4, [&](size_t y0, size_t y1) { upsampled_argmax(logits, int(y0), int(y1), out_w, out); });
}

void Executor::set_profiling(bool on) {
  std::lock_guard<std::mutex> lock(mutex_);
  profiling_ = on;
  for (auto& c : stages_) for (OpTiming& t : c->timing) t = OpTiming{0, 0, 0, t.op};
}

std::vector<OpTiming> Executor::profile(int k) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& c : stages_) if (c->prog.stage == k) return c->timing;
  throw std::invalid_argument("native executor: no program for stage " + std::to_string(k));
}

// The masks: 1/4 resolution from the confidence, nearest-resized to the other resolutions.
// Stage 1 computes everything, or its focus.
static void make_masks(Isa isa, Executor::Arena& a, const Program& p, const float* confidence, float threshold, const std::vector<uint8_t>* focus) {
  const Shape& quarter = p.tensors[p.out_logits];
  const size_t n = p.resolutions.size();
  a.masks.resize(n);
  a.mask_all.assign(n, 0);
  a.counts.assign(n, 0);
  a.mask_lists.resize(n);
  a.unmask_lists.resize(n);
  for (size_t r = 0; r < n; r++) {
    const int h = p.resolutions[r].first, w = p.resolutions[r].second;
    auto& m = a.masks[r];
    m.resize(size_t(h) * w);
    if (p.stage == 1 && !focus) {
      std::fill(m.begin(), m.end(), uint8_t(1));
    } else {
      a.source_x.resize(size_t(w));
      for (int x = 0; x < w; x++) a.source_x[size_t(x)] = nearest_index(x, quarter.w, w);
      for (int y = 0; y < h; y++) {
        const size_t from = size_t(nearest_index(y, quarter.h, h)) * quarter.w;
        const float* conf = confidence + from;
        const uint8_t* f = focus ? focus->data() + from : nullptr;
        uint8_t* row = m.data() + size_t(y) * w;
        for (int x = 0; x < w; x++) {
          const int sx = a.source_x[size_t(x)];
          const uint8_t test = p.stage == 1 ? uint8_t(1) : uint8_t(conf[sx] <= threshold);
          row[x] = test & (f ? uint8_t(f[sx] != 0) : uint8_t(1));
        }
      }
    }
    compact(isa, m.data(), m.size(), a.mask_lists[r]);
    compact(isa, m.data(), m.size(), a.unmask_lists[r], true);
    a.counts[r] = int64_t(a.mask_lists[r].size());
    a.mask_all[r] = a.unmask_lists[r].empty();
  }
}

// Backward over the ops: where each tensor is read, and for each conv which positions it
// computes, fills and keeps. A conv computes the masked positions that are read or that a
// read, skipped neighbour's fill needs; its input is read under those positions' kernels.
// `keep` (a 1/4-resolution focus, or null): the stage's output features are written there
// alone, and read elsewhere as they are (the run's kept outputs, RunState::kept).
static void find_needed(Isa isa, Executor::Arena& a, const Executor::Compiled& cp, bool need_features, const std::vector<uint8_t>* keep) {
  const Program& p = cp.prog;
  const size_t n_tensors = p.tensors.size(), n_ops = p.ops.size();
  a.needed.resize(n_tensors);
  for (size_t t = 0; t < n_tensors; t++) a.needed[t].reset(p.tensors[t].positions());
  // the inputs are there whole: where they are read marks nothing to compute (stage 1's
  // footprint in the image on a focus took most of its needed sets' 0.26 ms)
  for (int t : p.inputs) a.needed[t].set_all();
  if (need_features) {
    for (int t : p.out_features) {
      Needed& f = a.needed[t];
      if (keep) {
        const Shape& quarter = p.tensors[p.out_logits];
        const Shape& s = p.tensors[t];
        focus_at(*keep, quarter.h, quarter.w, s.h, s.w, f.mark());
        f.frozen = true;
      } else {
        f.set_all();
      }
    }
  }
  {
    // the head is read where the 1/4-resolution mask computes: the merge keeps the rest
    Needed& head = a.needed[p.out_logits];
    if (a.mask_all[0]) head.set_all();
    else if (!a.mask_lists[0].empty()) {
      std::memcpy(head.mark(), a.masks[0].data(), head.size());
    }
  }
  for (auto* v : {&a.computed, &a.skipped, &a.needed_list}) v->resize(n_ops);
  for (auto* v : {&a.computed_of, &a.skipped_of, &a.needed_of}) v->assign(n_ops, Positions{});
  a.fused.assign(n_ops, 0);

  for (size_t i = n_ops; i-- > 0;) {
    const Op& op = p.ops[i];
    const Needed& N = a.needed[op.out];
    const Shape& os = p.tensors[op.out];
    if (!N.any) continue;
    bool all = N.all;
    // a masked conv lists what it computes and fills below, not what is read
    const bool lists_own = op.kind == OpKind::conv && op.conv.fill_radius >= 0 && !a.mask_all[op.mask];
    // the rows where it is read (a focus or a sparse mask reads a band of them)
    const Rows band = all ? Rows{0, os.h} : set_rows(N.bits(), os.h, os.w);
    if (!all && lists_own) {
      all = band.y0 == 0 && band.y1 == os.h && count_set(N.bits(), os.positions()) == os.positions();
    } else if (!all) {
      auto& list = a.needed_list[i];
      compact_rows(isa, N.bits(), os.w, band, list);
      all = list.size() == os.positions();
      a.needed_of[i] = Positions::of(list);
    }
    // read everywhere after all: the cheaper paths below
    if (all) a.needed_of[i] = Positions::whole(os.positions());
    const uint8_t* read = all ? nullptr : N.bits();
    switch (op.kind) {
      case OpKind::conv: {
        const ConvSpec& s = op.conv;
        const bool masked = s.fill_radius >= 0 && !a.mask_all[op.mask];
        const Shape& is = p.tensors[op.in];
        Needed& in = a.needed[op.in];
        if (s.residual >= 0) or_read(a.needed[s.residual], read, os.w, band);
        if (!masked) {
          a.computed_of[i] = a.needed_of[i];
          a.fused[i] = 1;
          if (all) in.set_all();
          else if (!in.all) mark_footprint(read, band, os, s, is, in, a.row_scratch);
          break;
        }
        const uint8_t* M = a.masks[op.mask].data();
        if (all) {
          // everything is read: compute every masked position, fill every skipped one
          a.computed_of[i] = Positions::of(a.mask_lists[op.mask]);
          a.skipped_of[i] = Positions::of(a.unmask_lists[op.mask]);
          if (!in.all) mark_footprint(M, Rows{0, os.h}, os, s, is, in, a.row_scratch);
          break;
        }
        // bytewise over the read rows: the read, skipped positions, dilated by the fill's
        // radius, say which masked positions a fill reads besides those read themselves.
        const size_t positions = os.positions();
        auto& flags = a.flags;
        auto& fillers = a.footprint;
        flags.resize(positions);
        fillers.resize(positions);
        and_not_bytes(flags.data() + band.from(os.w), read + band.from(os.w), M + band.from(os.w), band.count(os.w));
        compact_rows(isa, flags.data(), os.w, band, a.skipped[i]);
        a.rows_scratch.resize(positions);
        dilate_into(flags.data(), os.h, os.w, s.fill_radius, fillers.data(), a.rows_scratch.data(), band);
        const Rows wide = band.widen(s.fill_radius, os.h);
        masked_or_bytes(fillers.data() + wide.from(os.w), M + wide.from(os.w), read + wide.from(os.w), wide.count(os.w));
        compact_rows(isa, fillers.data(), os.w, wide, a.computed[i]);
        a.computed_of[i] = Positions::of(a.computed[i]);
        a.skipped_of[i] = Positions::of(a.skipped[i]);
        a.fused[i] = a.skipped[i].empty();
        if (!in.all && !a.computed[i].empty()) mark_footprint(fillers.data(), wide, os, s, is, in, a.row_scratch);
        break;
      }
      case OpKind::fuse_sum:
      case OpKind::concat_up:
        for (size_t t = 0; t < op.terms.size(); t++) {
          const Term& term = op.terms[t];
          Needed& in = a.needed[term.tensor];
          if (term.upsample) mark_bilinear_support(read, band, os, cp.bilinear[i][t], p.tensors[term.tensor], in, a.row_scratch);
          else or_read(in, read, os.w, band);
        }
        break;
      case OpKind::avgpool2: {
        const Shape& is = p.tensors[op.in];
        Needed& in = a.needed[op.in];
        if (all) {
          in.set_all();
          break;
        }
        if (in.all) break;
        uint8_t* bits = in.mark();
        // output (y, x) reads input rows 2y, 2y+1 at columns 2x, 2x+1
        for (int y = band.y0; y < band.y1; y++) {
          const uint8_t* c = read + size_t(y) * os.w;
          for (int dy = 0; dy < 2; dy++) {
            uint8_t* o = bits + size_t(2 * y + dy) * is.w;
            for (int x = 0; x < os.w; x++) {
              o[2 * x] |= c[x];
              o[2 * x + 1] |= c[x];
            }
          }
        }
        break;
      }
      case OpKind::upsample:
        mark_bilinear_support(read, band, os, cp.bilinear[i][0], p.tensors[op.in], a.needed[op.in], a.row_scratch);
        break;
    }
  }
}

void Executor::run_fused_head(const Compiled& cp, Arena& a, const std::vector<float*>& ptr) {
  const Program& p = cp.prog;
  const FusedHead& fh = cp.head;
  const Op& oa = p.ops[size_t(fh.a)];
  const Op& of = p.ops[size_t(fh.f)];
  const Op& ob = p.ops[size_t(fh.b)];
  const Positions C = a.computed_of[size_t(fh.b)];
  // the logits are read where the mask computes, which the classifier then computes: no fills
  if (!a.fused[size_t(fh.b)]) throw std::logic_error("native executor: the fused head would fill positions");
  const size_t mid = size_t(oa.conv.cout);
  const Shape& sum_shape = p.tensors[of.out];
  std::vector<MapTerm> terms;
  for (size_t t = 1; t < of.terms.size(); t++) {
    const Shape& ts = p.tensors[of.terms[t].tensor];
    terms.push_back(MapTerm{ptr[of.terms[t].tensor], ts.h, ts.w, ts.c, &cp.bilinear[size_t(fh.f)][t]});
  }
  const float* in = ptr[oa.in];
  const size_t in_c = size_t(p.tensors[oa.in].c);
  float* logits = ptr[ob.out];
  const size_t classes = size_t(ob.conv.cout);
  const PackedConv& pa = cp.packs->fused[size_t(fh.a)];
  const PackedConv& pb = cp.packs->fused[size_t(fh.b)];
  const size_t quantum = std::max(conv_pixel_quantum(pa), conv_pixel_quantum(pb));
  const size_t sub = quantum <= kConvChunk ? kConvChunk / quantum * quantum : kConvChunk;
  a.head_rows.resize(size_t(pool_.size()) * sub * mid);
  in_chunks_on(pool_, C.count, grain_for(mid * (in_c + classes + 4 * terms.size()), sub), [&](size_t task_begin, size_t task_end, int thread) {
    float* rows = a.head_rows.data() + size_t(thread) * sub * mid;
    const float* from[kConvChunk];
    float* to[kConvChunk];
    for (size_t begin = task_begin; begin < task_end; begin += sub) {
      const size_t end = std::min(task_end, begin + sub), n = end - begin;
      for (size_t j = 0; j < n; j++) {
        from[j] = in + C.at(begin + j) * in_c;
        to[j] = rows + j * mid;
      }
      conv_rows(pa, ConvJob{from, to, nullptr, true, false, n});
      add_terms(Span{C.list, begin, end}, sum_shape.w, rows, int(mid), terms.data(), terms.size(), of.relu);
      for (size_t j = 0; j < n; j++) {
        from[j] = rows + j * mid;
        to[j] = logits + C.at(begin + j) * classes;
      }
      conv_rows(pb, ConvJob{from, to, nullptr, true, false, n});
    }
  });
}

StageResult Executor::run_stage(RunState& run, int k, float threshold, bool need_features, const std::vector<uint8_t>* focus,
                                bool next_at_once) {
  std::lock_guard<std::mutex> lock(mutex_);
  pool_.settle();
  const ThreadPool::Caller on_its_cpu(pool_);
  Compiled* cp = const_cast<Compiled*>(&compiled_for(k, run.quarter_h, run.quarter_w));
  const Program& p = cp->prog;
  if (run.stage != k - 1) {
    throw std::invalid_argument("native executor: stage " + std::to_string(k) + " needs the state of stage " + std::to_string(k - 1));
  }
  if (run.feature_shapes.size() != p.inputs.size()) {
    throw std::invalid_argument("native executor: the previous stage left no features for stage " + std::to_string(k));
  }
  for (size_t i = 0; i < p.inputs.size(); i++) {
    const Shape& a = run.feature_shapes[i];
    const Shape& b = p.tensors[p.inputs[i]];
    if (a.c != b.c || a.h != b.h || a.w != b.w) throw std::invalid_argument("native executor: input feature shape differs from the program");
  }

  if (focus && focus->size() != p.tensors[p.out_logits].positions()) {
    throw std::invalid_argument("native executor: the focus has " + std::to_string(focus->size()) + " positions, the 1/4-resolution map " +
                                std::to_string(p.tensors[p.out_logits].positions()));
  }

  if (!arena_) arena_ = std::make_unique<Arena>();
  Arena& a = *arena_;
  auto clock = std::chrono::steady_clock::now();
  auto lap = [&](size_t slot, int64_t positions) {
    if (!profiling_) return;
    const auto now = std::chrono::steady_clock::now();
    OpTiming& t = cp->timing[slot];
    t.ms += std::chrono::duration<double, std::milli>(now - clock).count();
    t.calls++;
    t.positions += positions;
    clock = now;
  };
  const size_t n_ops = p.ops.size();

  a.data.resize(cp->arena_floats);
  if (k == 1) {
    // a new frame: the stages the last one did not reach lag behind stage 1 where it ran
    for (size_t j = size_t(run.reached); j < run.kept.size(); j++) {
      if (!run.kept[j]) continue;
      if (run.focus.empty()) {
        run.lag_all[j] = true;
        continue;
      }
      std::vector<uint8_t>& l = run.lag[j];
      l.resize(run.focus.size(), 0);
      or_bytes(l.data(), run.focus.data(), l.size());
    }
    if (focus) run.focus = *focus;
    else run.focus.clear();
    run.reached = 0;
  }
  if (k == 1 && focus && !run.kept[0]) {
    throw std::invalid_argument("native executor: stage 1 with a focus needs this run's last frame, at the same size, with its features");
  }
  // with a focus, kept outputs that hold the last frame change in the focus alone
  const bool outputs = need_features && !p.out_features.empty();
  const bool keep = focus && outputs && keeps(run, k, *focus);
  if (k == 1 && !focus) {
    const size_t positions = p.tensors[p.out_logits].positions();
    run.logits.resize(positions * size_t(classes_));
    run.confidence.assign(positions, 0.f);
    run.labels.assign(positions, 0);
  }
  std::vector<Buffer>& outs = run.outputs[size_t(std::min(k, 3) - 1)];  // stage 4 has none
  grow(outs, p.out_features.size());
  for (size_t i = 0; i < p.out_features.size(); i++) outs[i].resize(p.tensors[p.out_features[i]].floats());
  std::vector<float*> ptr(p.tensors.size(), nullptr);
  for (size_t t = 0; t < p.tensors.size(); t++) if (cp->offset[t] != kNone) ptr[t] = a.data.data() + cp->offset[t];
  std::vector<Buffer>& ins = state_features(run);
  for (size_t i = 0; i < p.inputs.size(); i++) ptr[p.inputs[i]] = ins[i].data();
  for (size_t i = 0; i < p.out_features.size(); i++) ptr[p.out_features[i]] = outs[i].data();
  auto map = [&](int t) { const Shape& s = p.tensors[t]; return MapRef{ptr[t], s.h, s.w, s.c}; };
  auto term_of = [&](int t, const Bilinear* up) { const Shape& s = p.tensors[t]; return adpc::MapTerm{ptr[t], s.h, s.w, s.c, up}; };

  // a frame's first stage follows another frame's: it says nothing about the streams
  if (k > 1) a.prepare_pays = a.expect_run == &run && a.expect_k == k;
  // worked out already while the last stage's exit went out, if for the same run and settings
  Arena::Prepared& pre = a.prepared;
  const bool ready = pre.valid && pre.run == &run && pre.cp == cp && pre.threshold == threshold && pre.need_features == need_features &&
                     pre.keep == keep && pre.has_focus == (focus != nullptr) && (!focus || pre.focus == *focus);
  pre.valid = false;
  if (!ready) make_masks(isa_, a, p, run.confidence.data(), threshold, focus);
  lap(n_ops, 0);
  if (!ready) find_needed(isa_, a, *cp, need_features, keep ? focus : nullptr);
  lap(n_ops + 1, 0);

  const FusedHead& fh = cp->head;
  for (size_t i = 0; i < n_ops; i++) {
    const Op& op = p.ops[i];
    if (!a.needed[op.out].any) continue;  // nothing reads its output
    const Positions N = a.needed_of[i];
    if (fh.active() && (int(i) == fh.a || int(i) == fh.f)) continue;  // computed with the classifier
    if (fh.active() && int(i) == fh.b) {
      run_fused_head(*cp, a, ptr);
      if (profiling_) lap(i, int64_t(N.count));
      continue;
    }
    const MapRef out = map(op.out);
    const Shape& os = p.tensors[op.out];
    switch (op.kind) {
      case OpKind::conv: {
        const ConvSpec& s = op.conv;
        const Shape& is = p.tensors[op.in];
        const float* in = ptr[op.in];
        const float* res = s.residual >= 0 ? ptr[s.residual] : nullptr;
        const bool fused = a.fused[i];
        const Positions C = a.computed_of[i];
        const PackedConv& pack = fused ? cp->packs->fused[i] : cp->packs->masked[i];
        const int taps = s.kernel * s.kernel;
        const float* zero = zero_row(size_t(s.cin));
        ptrdiff_t tap_offset[9];
        for (int ky = 0; ky < s.kernel; ky++)
          for (int kx = 0; kx < s.kernel; kx++) tap_offset[ky * s.kernel + kx] = (ptrdiff_t(ky) * is.w + kx) * is.c;
        const size_t quantum = conv_pixel_quantum(pack);
        const size_t sub = quantum <= kConvChunk ? kConvChunk / quantum * quantum : kConvChunk;
        // The kernel finishes the computed positions (BN shift, residual, ReLU) as in a plain
        // conv; the fills of read, skipped positions need their raw sums, which it also writes
        // to a map aside (a loop finishing them after the fills took 0.2-0.65 ms more a CA frame).
        const Positions skipped = fused ? Positions{} : a.skipped_of[i];
        ptrdiff_t raw_offset = 0;
        if (skipped.count > 0) {
          a.raw.resize(os.floats());
          raw_offset = ptrdiff_t(reinterpret_cast<uintptr_t>(a.raw.data()) - reinterpret_cast<uintptr_t>(out.data)) / ptrdiff_t(sizeof(float));
        }
        const float* post = fused ? nullptr : s.post_bias.data();
        const ConvRows geometry{C, in, is, os, s.stride, s.pad, tap_offset, zero, out.data, res};
        // tasks of whole register tiles, not of whole set-up chunks: a low-resolution map of
        // 128 positions is then 6 tasks, not 96 + 32 on two threads
        in_chunks(pool_, C.count, grain_for(size_t(s.cin) * size_t(s.cout) * size_t(taps), std::min(quantum, sub)), [&](size_t task_begin, size_t task_end) {
          const float* rows[kConvChunk * 9];
          float* outs[kConvChunk];
          const float* resid[kConvChunk];
          for (size_t begin = task_begin; begin < task_end; begin += sub) {
            const size_t end = std::min(task_end, begin + sub);
            if (s.kernel == 3) set_conv_rows<3>(geometry, begin, end, rows, outs, resid);
            else set_conv_rows<1>(geometry, begin, end, rows, outs, resid);
            conv_rows(pack, ConvJob{rows, outs, res ? resid : nullptr, true, s.relu, end - begin, post, raw_offset});
          }
        });
        if (skipped.count == 0) break;
        // the read, skipped positions take the RBF fill of their computed neighbours' raw sums
        const uint8_t* M = a.masks[op.mask].data();
        const size_t window = size_t((2 * s.fill_radius + 1) * (2 * s.fill_radius + 1));
        in_chunks(pool_, skipped.count, grain_for(window * size_t(out.c), kChunk), [&](size_t b, size_t e) {
          FillJob job{skipped.list, b, e, out.data, out.h, out.w, out.c, M, s.fill.data(), s.fill_radius,
                      s.post_bias.data(), res, s.relu};
          job.source = a.raw.data();
          fill_positions(isa_, job);
        });
        break;
      }
      case OpKind::fuse_sum:
      case OpKind::concat_up: {
        std::vector<adpc::MapTerm> terms;
        for (size_t t = 0; t < op.terms.size(); t++) terms.push_back(term_of(op.terms[t].tensor, op.terms[t].upsample ? &cp->bilinear[i][t] : nullptr));
        in_chunks(pool_, N.count, grain_for(size_t(out.c) * 4 * terms.size(), kChunk), [&](size_t b, size_t e) {
          if (op.kind == OpKind::fuse_sum) sum_terms(Span{N.list, b, e}, out, terms.data(), terms.size(), op.relu);
          else concat_terms(Span{N.list, b, e}, out, terms.data(), terms.size());
        });
        break;
      }
      case OpKind::avgpool2: {
        const float* in = ptr[op.in];
        const int in_w = p.tensors[op.in].w;
        in_chunks(pool_, N.count, grain_for(4 * size_t(out.c), kChunk), [&](size_t b, size_t e) { avgpool2(Span{N.list, b, e}, out, in, in_w); });
        break;
      }
      case OpKind::upsample: {
        const adpc::MapTerm in = term_of(op.in, &cp->bilinear[i][0]);
        in_chunks(pool_, N.count, grain_for(4 * size_t(out.c), kChunk), [&](size_t b, size_t e) { upsample(Span{N.list, b, e}, out, in); });
        break;
      }
    }
    if (profiling_) lap(i, int64_t(op.kind == OpKind::conv ? a.computed_of[i].count : N.count));
  }

  // merge: computed positions take the new logits; the others keep the previous exit's
  const float* head = ptr[p.out_logits];
  const PositionList& computed = a.mask_lists[0];
  in_chunks(pool_, computed.size(), grain_for(32 * size_t(classes_), kChunk), [&](size_t b, size_t e) {
    if (!merge_positions(isa_, MergeJob{computed.data(), b, e, head, run.logits.data(), classes_, run.confidence.data(), run.labels.data()})) {
      merge_logits(Span{computed.data(), b, e}, head, run.logits.data(), classes_, run.confidence.data(), run.labels.data());
    }
  });
  lap(n_ops + 2, a.counts[0]);

  if (k <= 3) {
    run.kept[size_t(k - 1)] = outputs && (!focus || keep);
    run.lag_all[size_t(k - 1)] = false;
    run.lag[size_t(k - 1)].clear();
  }
  run.reached = k;
  run.feature_shapes.clear();
  if (need_features) for (int t : p.out_features) run.feature_shapes.push_back(p.tensors[t]);
  run.stage = k;
  StageResult result{a.counts};  // taken before the next stage's masks replace the counts
  const bool next = need_features && k < 4 && has_stage(k + 1);
  a.expect_run = next ? &run : nullptr;
  a.expect_k = k + 1;
  if (next && !next_at_once && a.prepare_pays && pool_.size() > 1) prepare_next(run, k + 1, threshold, focus);
  return result;
}

// The next stage's masks and needed sets depend on this stage's confidence and the frame's
// settings alone: a worker works them out while the caller returns and the event loop hands
// this stage's exit out (0.1-0.3 ms a stage, otherwise at the start of the next), guessing that
// the next stage's features are needed unless it is the last. Every entry point settles it
// first; run_stage uses it if the guess and the run match, and works them out itself if not.
// Not while streams take turns (Arena::prepare_pays).
void Executor::prepare_next(const RunState& run, int k, float threshold, const std::vector<uint8_t>* focus) {
  Arena& a = *arena_;
  Arena::Prepared& pre = a.prepared;
  pre.run = &run;
  pre.cp = &compiled_for(k, run.quarter_h, run.quarter_w);
  pre.threshold = threshold;
  pre.need_features = k < 4;
  pre.keep = focus && pre.need_features && keeps(run, k, *focus);
  pre.has_focus = focus != nullptr;
  if (focus) pre.focus = *focus;
  pre.confidence = run.confidence;
  pre.valid = false;
  pool_.post([this, &a] {
    Arena::Prepared& pre = a.prepared;
    try {
      make_masks(isa_, a, pre.cp->prog, pre.confidence.data(), pre.threshold, pre.has_focus ? &pre.focus : nullptr);
      find_needed(isa_, a, *pre.cp, pre.need_features, pre.keep ? &pre.focus : nullptr);
      pre.valid = true;
    } catch (...) {
      pre.valid = false;  // run_stage works them out itself and meets the error there
    }
  });
}

}  // namespace adpc
