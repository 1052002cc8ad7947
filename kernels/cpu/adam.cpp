// Adam, one parameter tensor per call, matching torch.optim.Adam's single-tensor step
// (PyTorch 1.13, amsgrad off, maximize off) operation for operation.
// Checked by tests/test_adam.cpp against PyTorch, step for step.
#include <cmath>

#include "cpu_kernels.h"

namespace mmgan::kernels::cpu {
namespace {

template <class T>
void adam_t(T* p, const T* g, T* m, T* v, int64_t n, double lr, double beta1, double beta2, double eps,
            double wd, int64_t step) {
  const T b1 = T(beta1), b2 = T(beta2);
  // PyTorch computes these scalars in Python (double) and passes them as Python floats.
  const double bc1 = 1.0 - std::pow(beta1, double(step));
  const double bc2 = 1.0 - std::pow(beta2, double(step));
  const T step_size = T(lr / bc1);
  const T bc2_sqrt = T(std::sqrt(bc2));
  const T one_m_b1 = T(1.0 - beta1), one_m_b2 = T(1.0 - beta2);
#pragma omp parallel for schedule(static) if (n >= (1 << 15))
  for (int64_t i = 0; i < n; ++i) {
    T gi = g[i];
    if (wd != 0) gi = gi + p[i] * T(wd);
    m[i] = m[i] * b1 + gi * one_m_b1;
    v[i] = v[i] * b2 + one_m_b2 * gi * gi;  // addcmul: self + value * t1 * t2
    const T denom = std::sqrt(v[i]) / bc2_sqrt + T(eps);
    p[i] = p[i] + (-step_size) * (m[i] / denom);
  }
}

}  // namespace

void adam_step(DType t, void* p, const void* g, void* m, void* v, int64_t n, double lr, double beta1,
               double beta2, double eps, double weight_decay, int64_t step) {
  if (t == DType::F32)
    adam_t(static_cast<float*>(p), static_cast<const float*>(g), static_cast<float*>(m), static_cast<float*>(v), n,
           lr, beta1, beta2, eps, weight_decay, step);
  else
    adam_t(static_cast<double*>(p), static_cast<const double*>(g), static_cast<double*>(m), static_cast<double*>(v),
           n, lr, beta1, beta2, eps, weight_decay, step);
}

}  // namespace mmgan::kernels::cpu
