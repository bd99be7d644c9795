// The merge at an exit (ADP-C's copy): where a stage computed, its logits replace the merged
// ones, with their confidence (max softmax) and label.
#pragma once

#include <cstddef>
#include <cstdint>

#include "isa.h"

namespace adpc {

struct MergeJob {
  const int32_t* positions;  // positions[begin, end), or null: begin .. end-1
  size_t begin, end;
  const float* head;         // the stage's logits, [positions][classes]
  float* logits;             // the merged logits, same layout
  int classes;               // 1 .. 255
  float* confidence;         // per position
  uint8_t* labels;           // per position: the first class of the largest logit
};

// Runs `isa`'s merge kernel and returns true, or returns false where the ISA has none or the
// map is too large for its 32-bit gather offsets (the executor's generic loop, row_ops.h
// merge_logits, then runs): the generic loop spends most
// of its time moving 16 positions' logits across into vectors, which AVX-512 gathers do in
// half the time (0.068 against 0.142 ms for 8192 positions, one thread, a probe here).
bool merge_positions(Isa isa, const MergeJob& job);

}  // namespace adpc
