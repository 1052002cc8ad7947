// The gradient penalty's random points in one pass: per sample n of a batch, u_n is element n of a
// uniform draw (what rand({N, 1, 1, 1}) draws from the same key), and
//   xhat = x_real u + x_fake (1 - u)
// with each product, the difference and the sum rounded on their own, as the engine's separate
// ops compute it, so the fused kernels equal the unfused path bit for bit (tests/test_losses.cpp
// on the CPU, tests/test_cuda_backend.cpp for CUDA against the CPU).
#pragma once
#include "kernels/philox.h"
#include "kernels/rounding.h"

namespace mmgan::kernels {

template <class T>
MMGAN_HD inline T interpolate_point(T x_real, T x_fake, T u) {
  return rn::add(rn::mul(x_real, u), rn::mul(x_fake, rn::sub(T(1), u)));
}

}  // namespace mmgan::kernels
