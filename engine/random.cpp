#include "random.h"

#include "../kernels/philox.h"

namespace mmgan {

uint64_t Generator::reserve(uint64_t n, kernels::DType t, bool normal) {
  const uint64_t start = offset_;
  const uint64_t uniforms = normal ? 2 * ((n + 1) / 2) : n;  // Box-Muller consumes pairs
  offset_ += kernels::philox_blocks(uniforms, t);
  return start;
}

}  // namespace mmgan
