// The apply step of a training-mode BatchNorm fused with the activation after it:
//   y = act(x scale[c] + shift[c]),  act(z) = z > 0 ? z : slope z   (slope 0: ReLU; no act: z)
// for x [N, C, inner] contiguous, with scale = w / sqrt(var + eps) and shift = b - mean scale
// computed per channel by the engine (ops/normalization.cpp). One pass over x instead of the
// normalise, scale, shift and activation passes. The product and sum are rounded separately
// (rounding.h), so CUDA equals the CPU bit for bit. Checked by tests/test_ops.cpp (through
// batch_norm2d_act) and tests/test_cuda_backend.cpp.
#pragma once
#include "rounding.h"
#include "tensor_view.h"

namespace mmgan::kernels {

template <class T>
MMGAN_HD inline T affine_act(T x, T scale, T shift, bool act, T slope) {
  const T z = rn::add(rn::mul(x, scale), shift);
  if (!act || z > T(0)) return z;
  if (slope == T(0)) return z <= T(0) ? T(0) : z;  // ReLU as the engine's (NaN stays NaN, no -0)
  return rn::mul(z, slope);
}

}  // namespace mmgan::kernels
