#include "isa.h"

#include <cstdlib>
#include <cstring>

namespace adpc {

bool isa_supported(Isa isa) {
  switch (isa) {
    case Isa::scalar:
      return true;
#if defined(__x86_64__)
    // libgcc's checks include the OS's saving of the ymm/zmm state (XGETBV).
    case Isa::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
#endif
#if defined(__aarch64__)
    case Isa::neon:
      return true;  // Advanced SIMD is mandatory on AArch64.
#endif
    default:
      return false;
  }
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512, Isa::neon}) {
    if (isa_supported(isa)) out.push_back(isa);
  }
  return out;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::scalar: return "scalar";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
    case Isa::neon: return "neon";
  }
  return "unknown";
}

Isa detect_isa() {
  const std::vector<Isa> isas = supported_isas();
  const Isa best = isas.back();
  const char* wanted = std::getenv("ADPC_NATIVE_ISA");
  if (wanted == nullptr) return best;
  for (Isa isa : isas) {
    // Every supported ISA is at most the best one, so naming any of them only downgrades.
    if (std::strcmp(wanted, isa_name(isa)) == 0) return isa;
  }
  return best;
}

}  // namespace adpc
