// Lists of positions from per-position flags: the executor's needed sets become the lists
// its ops run over.
#pragma once

#include <cstddef>
#include <cstdint>

#include "isa.h"

namespace adpc {

// Writes the positions q < n whose flag is non-zero (with `unset`, zero) to out, in order;
// returns how many. out must have room for n: the entries past the count may be written too.
// Throws std::invalid_argument for an ISA this build and CPU cannot run.
size_t compact_positions(Isa isa, const uint8_t* flags, size_t n, int32_t* out, bool unset = false);

}  // namespace adpc
