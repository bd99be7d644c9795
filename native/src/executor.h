// Runs masked stages computing each conv only where it is needed (docs/NATIVE.md).
//
// Per stage: the CA mask comes from the previous exit's confidence (<= threshold), nearest-
// resized to every masked resolution. A backward pass over the program finds, for every
// tensor, the positions something downstream reads (the head's logits are read only where the
// mask computes; the features, when a later stage needs them, everywhere). A forward pass then
// runs each conv only at the computed positions it needs (through an indirection buffer of
// input-row pointers), fills the skipped positions that are read with ADP-C's RBF fill of
// their computed neighbours, and runs the other ops only where they are read. Features stay
// here, NHWC, between stages; NCHW only at the edges where onnxruntime takes over.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kernels/conv.h"
#include "kernels/thread_pool.h"
#include "program.h"

namespace adpc {

// 64-byte aligned float storage.
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(size_t floats) { resize(floats); }
  void resize(size_t floats);
  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }
  size_t size() const { return size_; }

 private:
  struct Free { void operator()(float* p) const; };
  std::unique_ptr<float, Free> data_;
  size_t size_ = 0;
};

// The state one frame carries from stage to stage, and a stream's next frame from this one.
struct RunState {
  int stage = 0;                    // last stage whose outputs these are (0 = the image alone)
  int quarter_h = 0, quarter_w = 0; // the frame's 1/4-resolution size
  std::vector<Shape> feature_shapes;
  std::vector<Buffer> image;        // NHWC: the state's features before stage 1
  // Stage k's output features (index k-1), NHWC, kept after the frame: a later frame's stage
  // k, given a focus, rewrites them there alone (region reuse).
  std::array<std::vector<Buffer>, 3> outputs;
  // Whether stage k's kept outputs (index k-1) hold one picture outside any focus to come:
  // written whole by a frame without a focus, and by every frame since, or in `lag` (the foci
  // of frames that ended before stage k since it last ran; `lag_all`: a whole frame did),
  // which a focus must then cover.
  std::array<bool, 3> kept{};
  std::array<std::vector<uint8_t>, 3> lag;
  std::array<bool, 3> lag_all{};
  std::vector<uint8_t> focus;       // the current frame's focus (empty: the whole frame)
  int reached = 0;                  // the last stage the current frame ran
  Buffer logits;                    // merged logits, NHWC [h][w][classes]
  std::vector<float> confidence;    // max softmax of the merged logits
  std::vector<uint8_t> labels;
};

struct StageResult {
  std::vector<int64_t> computed;  // positions computed per masked resolution
};

// Where a stage's time goes (benchmarks): per op, then the mask, needed-set and merge phases.
struct OpTiming {
  double ms = 0;
  int64_t calls = 0;
  int64_t positions = 0;  // positions the op computed (a conv) or wrote, summed over calls
  std::string op;         // what it measures: the op as the executor runs it, or a phase
};

class Executor {
 public:
  Executor(std::vector<Program> programs, int classes, Isa isa, int threads);
  ~Executor();

  Isa isa() const { return isa_; }
  int threads() const { return pool_.size(); }
  int classes() const { return classes_; }
  bool has_stage(int k) const;
  const Program& program(int k) const;

  // Takes a stage's outputs from onnxruntime (NCHW features and logits, confidence, labels).
  void import_state(RunState& run, int stage, const std::vector<const float*>& features_nchw,
                    const std::vector<Shape>& shapes, const float* logits_nchw, const float* confidence,
                    const uint8_t* labels);
  // Runs stage k on the state left by stage k-1. `need_features`: a later stage will read them.
  // `focus` (1/4 resolution, or null for everywhere): where results are wanted at all; the
  // mask of a masked stage is the confidence test and the focus together. With a focus a stage
  // continues the run's last frame: its merged logits change in the focus alone, and so do its
  // kept output features where they hold the last frame (RunState::kept; stage 1 requires it).
  // `next_at_once`: the caller runs stage k+1 right after, so working out its masks and needed
  // sets on a worker meanwhile (prepare_next) would only make it wait for them.
  StageResult run_stage(RunState& run, int k, float threshold, bool need_features, const std::vector<uint8_t>* focus = nullptr,
                        bool next_at_once = false);
  // The state's features and logits as NCHW (for an onnxruntime stage after this one).
  void export_nchw(const RunState& run, std::vector<float*> features, float* logits);
  // Labels at out_h x out_w from the merged logits upsampled bilinearly (align_corners false).
  void full_labels(const RunState& run, int out_h, int out_w, uint8_t* out);

  // A stage is about to be called for: the pool's sleeping workers start spinning (any thread).
  void expect_stage() { pool_.nudge(); }

  // Per-op timing of every later run_stage (off by default: it costs a clock read per op).
  void set_profiling(bool on);
  // Stage k's timings: one per op, then masks, needed sets and merge.
  std::vector<OpTiming> profile(int k);

  struct Compiled;
  struct Arena;

 private:
  // stage k, whose program is for the run's image size
  const Compiled& compiled_for(int k, int quarter_h, int quarter_w);
  // stage k's masks and needed sets on a worker, after stage k-1 (see executor.cc)
  void prepare_next(const RunState& run, int k, float threshold, const std::vector<uint8_t>* focus);
  // the program's fused head (FusedHead in executor.cc) at its classifier's computed positions
  void run_fused_head(const Compiled& cp, Arena& a, const std::vector<float*>& ptr);
  std::vector<std::unique_ptr<Compiled>> stages_;
  int classes_;
  Isa isa_;
  ThreadPool pool_;
  std::mutex mutex_;  // one stage at a time: the pool and the arena are shared
  std::unique_ptr<Arena> arena_;
  bool profiling_ = false;
};

}  // namespace adpc
