// Adam's per-step scalars, shared by kernels/cpu/adam.cpp and kernels/cuda/adam.cu so both derive
// them from the same operations: the learning rate and the step count are read from memory when
// the kernel runs (a captured training step decays the rate and counts steps on the device), and
// beta^t is computed by squaring with every operation rounded on its own, so host and device get
// the same bits. torch.optim.Adam computes the same scalars with Python's pow; the two differ by
// an ulp at most, well inside the PyTorch parity tolerances (tests/oracle/adam.py).
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/rounding.h"
#include "kernels/tensor_view.h"

namespace mmgan::kernels {

// One parameter of a multi-tensor step: n contiguous elements of p, g, m, v, and its step count
// (already advanced to this step's t) in the kernel's memory.
struct AdamTensor {
  void* p = nullptr;
  const void* g = nullptr;
  void* m = nullptr;
  void* v = nullptr;
  int64_t n = 0;
  const double* step = nullptr;
};

struct AdamHyper {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  const double* lr = nullptr;  // in the kernel's memory
};

// b^t for an integer t >= 0.
MMGAN_HD inline double pow_steps(double b, int64_t t) {
  double r = 1.0, x = b;
  for (; t > 0; t >>= 1) {
    if (t & 1) r = rn::mul(r, x);
    x = rn::mul(x, x);
  }
  return r;
}

// The T-valued constants of one step, as torch's single-tensor Adam forms them: bias corrections
// in double, then cast to T.
template <class T>
struct AdamScalars {
  T b1, b2, one_m_b1, one_m_b2, neg_step_size, bc2_sqrt, eps, wd;
  bool has_wd;
};

template <class T>
MMGAN_HD inline AdamScalars<T> adam_scalars(const AdamHyper& h, double lr, double step) {
  const int64_t t = int64_t(step);
  const double bc1 = rn::sub(1.0, pow_steps(h.beta1, t));
  const double bc2 = rn::sub(1.0, pow_steps(h.beta2, t));
  AdamScalars<T> c;
  c.b1 = T(h.beta1);
  c.b2 = T(h.beta2);
  c.one_m_b1 = T(rn::sub(1.0, h.beta1));
  c.one_m_b2 = T(rn::sub(1.0, h.beta2));
  c.neg_step_size = -T(rn::div(lr, bc1));
  c.bc2_sqrt = T(rn::root(bc2));
  c.eps = T(h.eps);
  c.wd = T(h.weight_decay);
  c.has_wd = h.weight_decay != 0;
  return c;
}

}  // namespace mmgan::kernels
