// Adam over a list of parameter tensors, matching torch.optim.Adam's single-tensor step
// (PyTorch 1.13, amsgrad off, maximize off) operation for operation; the step's scalars come from
// adam_math.h (learning rate and step count read from memory).
// Checked against PyTorch step for step by tests/test_parity_torch.cpp (AdamParity).
#include <cmath>

#include "kernels/adam_math.h"
#include "kernels/cpu/cpu_kernels.h"

namespace mmgan::kernels::cpu {
namespace {

template <class T>
void adam_t(const AdamTensor& a, const AdamScalars<T>& c) {
  T* p = static_cast<T*>(a.p);
  const T* g = static_cast<const T*>(a.g);
  T* m = static_cast<T*>(a.m);
  T* v = static_cast<T*>(a.v);
  const int64_t n = a.n;
#pragma omp parallel for schedule(static) if (n >= (1 << 15))
  for (int64_t i = 0; i < n; ++i) {
    T gi = g[i];
    if (c.has_wd) gi = gi + p[i] * c.wd;
    m[i] = m[i] * c.b1 + gi * c.one_m_b1;
    v[i] = v[i] * c.b2 + c.one_m_b2 * gi * gi;  // addcmul: self + value * t1 * t2
    const T denom = std::sqrt(v[i]) / c.bc2_sqrt + c.eps;
    p[i] = p[i] + c.neg_step_size * (m[i] / denom);
  }
}

}  // namespace

void adam_step(DType t, const AdamTensor* tensors, int count, const AdamHyper& h) {
  with_dtype(t, [&](auto tag) {
    using T = decltype(tag);
    for (int k = 0; k < count; ++k) adam_t(tensors[k], adam_scalars<T>(h, *h.lr, *tensors[k].step));
  });
}

}  // namespace mmgan::kernels::cpu
