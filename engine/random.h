// Seeded, reproducible random numbers: a Philox counter (kernels/philox.h) advanced by each draw.
// The state is (seed, offset), two integers, so checkpoints can save and restore it exactly,
// and every backend draws the same numbers for the same state.
#pragma once
#include <cstdint>

#include "../kernels/tensor_view.h"

namespace mmgan {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t offset) {
    seed_ = seed;
    offset_ = offset;
  }
  // Reserves the counter range for a draw of n values and returns its start.
  uint64_t reserve(uint64_t n, kernels::DType t, bool normal);

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
};

}  // namespace mmgan
