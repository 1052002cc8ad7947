// Training-mode BatchNorm's per-value formulas, shared by the CPU kernels (cpu/batch_norm.cpp, the
// reference) and the CUDA ones (cuda/batch_norm.cu). Per channel c of x [N, C, inner], with n =
// N * inner values, batch mean mu and s = 1/sqrt(var + eps) (var biased):
//   forward   y = act(x scale + shift),  scale = w s,  shift = b - mu scale    (the engine makes
//             scale and shift from the moments; one pass instead of normalise, scale, shift, act)
//   backward  g' = act ? (y > 0 ? g : slope g) : g   (the activation's mask, from the output y)
//             1) reduce:  gb = sum g',  gw = s sum g' (x - mu)                (in double)
//             2) apply:   gx = w s (g' - gb/n - (x - mu) s gw/n)
//                            = w s (g' - mean g' - xhat mean(g' xhat))
// The backward reads g, x (and y) twice and writes gx once, where the same formula in engine ops
// takes about twelve passes. act: activation.h (z > 0 ? z : slope z; slope 0: ReLU). The forward's product
// and sum are rounded separately (rounding.h), so its CUDA result equals the CPU's bit for bit.
// The engine (ops/batch_norm.cpp) records the backward as an op whose own backward is written
// in engine ops, so every order works. Checked by tests/test_ops.cpp (the batch_norm rows:
// gradcheck, gradgradcheck, PyTorch, CUDA vs CPU) and tests/test_cuda_backend.cpp; timed by
// tools/bench_engine.cpp and tools/bench_kernels.cu (BM_BatchNorm*).
#pragma once
#include "kernels/activation.h"
#include "kernels/rounding.h"
#include "kernels/tensor_view.h"

namespace mmgan::kernels {

template <Act A, class T>
MMGAN_HD inline T affine_act(T x, T scale, T shift, T slope) {
  return activate<A>(rn::add(rn::mul(x, scale), shift), slope);
}

// g' from the output y: the mask is 1 where y > 0, else slope (0 for ReLU).
template <Act A, class T>
MMGAN_HD inline T masked_grad(T g, T y, T slope) {
  if constexpr (A == Act::None)
    return g;
  else
    return y > T(0) ? g : g * slope;
}

// The input gradient of one value; a = w s, sb = gb / n, q = s gw / n (the channel's constants).
template <class T>
MMGAN_HD inline T batch_norm_input_grad(T g_masked, T x, T mu, T a, T sb, T q) {
  return a * (g_masked - sb - (x - mu) * q);
}

// The backward kernels' operands. g, y, x [N, channels, inner] contiguous (y read only when act);
// mean, invstd, weight [channels] (the forward's batch statistics, and ones without affine).
struct BatchNormGrad {
  View g, y, x, mean, invstd, weight;
  int64_t channels = 0, inner = 0;
  bool act = false;
  double slope = 0;
  int64_t batch() const { return channels > 0 && inner > 0 ? x.numel() / (channels * inner) : 0; }
};

}  // namespace mmgan::kernels
