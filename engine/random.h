// Seeded, reproducible random numbers: a Philox counter (kernels/philox.h) advanced by each draw.
// The state is (seed, offset), two integers, so checkpoints can save and restore it exactly,
// and every backend draws the same numbers for the same state.
// A generator can be bound to a base: a float64 scalar tensor on a device. Draws then start at
// base + offset, with the base read when the kernel runs, so a captured step (engine/capture.h)
// draws fresh numbers on every replay by advancing the base on the device.
#pragma once
#include <cstdint>

#include "kernels/philox.h"
#include "engine/tensor.h"

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
  // Reserves the counter range for a draw of n values and returns its start (relative to the base).
  uint64_t reserve(uint64_t n, kernels::DType t, bool normal);

  // base: a float64 scalar (or undefined to unbind). Draws onto another device than the base's throw.
  void bind_base(Tensor base);
  const Tensor& base() const { return base_; }
  // The kernel key of a draw that reserve() placed at `offset`, onto device d.
  kernels::PhiloxKey key(uint64_t offset, Device d) const;

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
  Tensor base_;
};

}  // namespace mmgan
