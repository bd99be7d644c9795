// Instruction sets the kernels are built for, and which one this CPU runs.
#pragma once

#include <vector>

namespace adpc {

// Ordered from least to most capable within an architecture (x86: scalar < avx2 < avx512;
// arm64: scalar < neon).
enum class Isa { scalar, avx2, avx512, neon };

// The best ISA this build and CPU support. ADPC_NATIVE_ISA=scalar|avx2|avx512|neon may
// choose a lesser one; a value that names nothing this CPU runs is ignored. Read on every call.
Isa detect_isa();

const char* isa_name(Isa isa);

// Every ISA this build and CPU can run, scalar first, best last.
std::vector<Isa> supported_isas();

bool isa_supported(Isa isa);

}  // namespace adpc
