// Seeded random fills from the Philox stream (philox.h). Element i depends only on
// (seed, offset, i), so the result does not depend on the thread count, and the CUDA kernels
// reproduce it exactly; and the gradient penalty's random interpolates (interpolate.h).
// Checked in tests/test_tensor.cpp (moments, reproducibility) and tests/test_losses.cpp.
#include <cmath>

#include "kernels/interpolate.h"
#include "kernels/philox.h"
#include "kernels/cpu/cpu_kernels.h"

namespace mmgan::kernels::cpu {
namespace {

template <class T>
void fill_uniform_t(T* p, int64_t n, uint64_t seed, uint64_t offset, double lo, double hi) {
#pragma omp parallel for schedule(static) if (n >= (1 << 15))
  for (int64_t i = 0; i < n; ++i) p[i] = T(lo + (hi - lo) * double(uniform_at<T>(seed, offset, uint64_t(i))));
}

template <class T>
void fill_normal_t(T* p, int64_t n, uint64_t seed, uint64_t offset, double mean, double std) {
  const int64_t pairs = (n + 1) / 2;
#pragma omp parallel for schedule(static) if (n >= (1 << 15))
  for (int64_t j = 0; j < pairs; ++j) {
    // Box-Muller on uniforms 2j and 2j+1; 1-u keeps the log finite.
    const double u1 = 1.0 - double(uniform_at<T>(seed, offset, uint64_t(2 * j)));
    const double u2 = double(uniform_at<T>(seed, offset, uint64_t(2 * j + 1)));
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double a = 6.283185307179586 * u2;
    p[2 * j] = T(mean + std * r * std::cos(a));
    if (2 * j + 1 < n) p[2 * j + 1] = T(mean + std * r * std::sin(a));
  }
}

template <class T>
void interpolate_t(const T* xr, const T* xf, uint64_t seed, uint64_t start, T* u, T* y, int64_t n, int64_t d) {
#pragma omp parallel for schedule(static) if (n * d >= (1 << 15))
  for (int64_t s = 0; s < n; ++s) {
    const T us = uniform_at<T>(seed, start, uint64_t(s));
    u[s] = us;
    for (int64_t i = s * d; i < (s + 1) * d; ++i) y[i] = interpolate_point(xr[i], xf[i], us);
  }
}

}  // namespace

void interpolate(const View& x_real, const View& x_fake, const PhiloxKey& key, const View& u, const View& xhat) {
  const int64_t n = u.numel(), d = n ? xhat.numel() / n : 0;
  const uint64_t start = philox_start(key);
  with_dtype(xhat.dtype, [&](auto t) {
    using T = decltype(t);
    interpolate_t(x_real.ptr<T>(), x_fake.ptr<T>(), key.seed, start, u.ptr<T>(), xhat.ptr<T>(), n, d);
  });
}

void fill_uniform(const View& dst, const PhiloxKey& key, double lo, double hi) {
  const uint64_t offset = philox_start(key);
  with_dtype(dst.dtype, [&](auto t) { fill_uniform_t(dst.ptr<decltype(t)>(), dst.numel(), key.seed, offset, lo, hi); });
}

void fill_normal(const View& dst, const PhiloxKey& key, double mean, double std) {
  const uint64_t offset = philox_start(key);
  with_dtype(dst.dtype,
             [&](auto t) { fill_normal_t(dst.ptr<decltype(t)>(), dst.numel(), key.seed, offset, mean, std); });
}

}  // namespace mmgan::kernels::cpu
