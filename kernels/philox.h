// Philox4x32-10 (Salmon et al., SC'11), a counter-based RNG: the value at (key, counter) is a pure
// function, so CPU and CUDA kernels draw the same numbers for the same (seed, offset) and any
// element can be generated independently (no sequential state, one thread per element).
//
// Stream layout used by every mmgan kernel: element i of a draw at generator offset `off` takes
// counter (off + i / 4, 0) and lane i % 4 for float32 uniforms; float64 uniforms take two lanes
// (53 bits), i.e. counter (off + i / 2) and lanes 2*(i%2), 2*(i%2)+1. Normals use Box-Muller on
// consecutive pairs of uniforms.
#pragma once
#include <cstdint>

#include "kernels/tensor_view.h"

namespace mmgan::kernels {

struct Philox4 {
  uint32_t v[4];
};

MMGAN_HD inline Philox4 philox4x32_10(uint64_t counter_lo, uint64_t counter_hi, uint64_t seed) {
  uint32_t c0 = uint32_t(counter_lo), c1 = uint32_t(counter_lo >> 32);
  uint32_t c2 = uint32_t(counter_hi), c3 = uint32_t(counter_hi >> 32);
  uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
  for (int r = 0; r < 10; ++r) {
    const uint64_t p0 = uint64_t(0xD2511F53u) * c0;
    const uint64_t p1 = uint64_t(0xCD9E8D57u) * c2;
    const uint32_t n0 = uint32_t(p1 >> 32) ^ c1 ^ k0;
    const uint32_t n2 = uint32_t(p0 >> 32) ^ c3 ^ k1;
    c1 = uint32_t(p1);
    c3 = uint32_t(p0);
    c0 = n0;
    c2 = n2;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// Uniform in [0, 1): 24 random bits for float, 53 for double.
MMGAN_HD inline float uniform_f32(uint64_t seed, uint64_t offset, uint64_t i) {
  const Philox4 r = philox4x32_10(offset + i / 4, 0, seed);
  return float(r.v[i % 4] >> 8) * (1.0f / 16777216.0f);
}
MMGAN_HD inline double uniform_f64(uint64_t seed, uint64_t offset, uint64_t i) {
  const Philox4 r = philox4x32_10(offset + i / 2, 0, seed);
  const int lane = int(i % 2) * 2;
  const uint64_t bits = (uint64_t(r.v[lane]) << 21) ^ uint64_t(r.v[lane + 1] >> 11);
  return double(bits) * (1.0 / 9007199254740992.0);
}
// Element i of a draw of T uniforms starting at counter `start`.
template <class T>
MMGAN_HD inline T uniform_at(uint64_t seed, uint64_t start, uint64_t i) {
  if constexpr (sizeof(T) == 4)
    return uniform_f32(seed, start, i);
  else
    return uniform_f64(seed, start, i);
}

// Number of counter values a draw of n elements consumes (so the generator can advance past it).
MMGAN_HD inline uint64_t philox_blocks(uint64_t n, DType t) { return t == DType::F32 ? (n + 3) / 4 : (n + 1) / 2; }

// Where a draw starts in the stream of `seed`: counter `offset`, plus the value stored at `base`
// when one is given (a float64 in the kernel's own memory, read when the kernel runs). A captured
// training step draws through a base that the step itself advances, so every replay of the same
// recorded kernels draws new numbers (engine/capture.h).
struct PhiloxKey {
  uint64_t seed = 0;
  uint64_t offset = 0;
  const double* base = nullptr;
};
MMGAN_HD inline uint64_t philox_start(const PhiloxKey& k) { return k.offset + (k.base ? uint64_t(*k.base) : 0); }

}  // namespace mmgan::kernels
