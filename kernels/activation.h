// The activations other kernels fuse into their output pass (BatchNorm's apply step in
// batch_norm.h, the forward convolution's epilogue): act(z) = z > 0 ? z : slope z, with slope 0
// ReLU, computed as the engine's relu and leaky_relu ops compute them (scalar_ops.h), so a fused
// result equals the separate ops' bit for bit.
#pragma once
#include <type_traits>

#include "kernels/rounding.h"
#include "kernels/tensor_view.h"

namespace mmgan::kernels {

enum class Act { None, Relu, Leaky };

inline Act act_of(bool act, double slope) { return !act ? Act::None : slope == 0 ? Act::Relu : Act::Leaky; }

// A compile-time choice, so a kernel's loop has no per-value branch on it (and vectorises).
template <Act A, class T>
MMGAN_HD inline T activate(T z, T slope) {
  if constexpr (A == Act::None)
    return z;
  else if constexpr (A == Act::Relu)
    return z <= T(0) ? T(0) : z;  // NaN stays NaN, no -0
  else
    return z > T(0) ? z : rn::mul(z, slope);
}

// The same, chosen at run time (the implicit-GEMM conv's store, where the GEMM dominates).
template <class T>
MMGAN_HD inline T activate(Act a, T z, T slope) {
  return a == Act::None ? z : a == Act::Relu ? activate<Act::Relu>(z, slope) : activate<Act::Leaky>(z, slope);
}

// Calls f(std::integral_constant<Act, A>{}) for a.
template <class F>
void with_act(Act a, F f) {
  switch (a) {
    case Act::None: f(std::integral_constant<Act, Act::None>{}); break;
    case Act::Relu: f(std::integral_constant<Act, Act::Relu>{}); break;
    case Act::Leaky: f(std::integral_constant<Act, Act::Leaky>{}); break;
  }
}

}  // namespace mmgan::kernels
