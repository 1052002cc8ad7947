// Philox random fills on CUDA, the stream of kernels/cpu/random.cpp: element i of a draw depends
// only on (seed, start, i) through the same philox.h functions, so uniform fills are bit-identical
// to the CPU's (lo + (hi - lo) u with the product and sum rounded separately, as the CPU does; no
// FMA) and normal fills (Box-Muller on the uniform pairs 2j, 2j+1 in double, then cast) differ only
// where CUDA's log, sin and cos round their last bit differently from libm.
// Also the gradient penalty's random interpolates in one kernel (interpolate.h).
// Checked against the CPU backend by tests/test_cuda_backend.cpp; timed in tools/bench_kernels.cu.
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/interpolate.h"
#include "kernels/philox.h"
#include "kernels/rounding.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/cuda_kernels.h"

namespace mmgan::kernels::cuda {
namespace {

// Uniforms per Philox counter: each thread writes the elements of one counter value (4 floats or
// 2 doubles). Each element still calls uniform_f32/uniform_f64 itself (nvcc 13 does not merge the
// Philox evaluations), which keeps the formulas in philox.h the only copy.
template <class T>
constexpr int kPerCounter = sizeof(T) == 4 ? 4 : 2;

template <class T>
__global__ void __launch_bounds__(kThreads)
    fill_uniform_kernel(T* p, int64_t n, PhiloxKey key, double lo, double span) {
  constexpr int G = kPerCounter<T>;
  const uint64_t seed = key.seed, offset = philox_start(key);
  const int64_t groups = (n + G - 1) / G;
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t q = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; q < groups; q += stride) {
    const uint64_t base = uint64_t(q) * G;
#pragma unroll
    for (int l = 0; l < G; ++l) {
      const uint64_t i = base + uint64_t(l);
      if (i < uint64_t(n)) p[i] = T(rn::add(lo, rn::mul(span, double(uniform_at<T>(seed, offset, i)))));
    }
  }
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    fill_normal_kernel(T* p, int64_t n, PhiloxKey key, double mean, double std) {
  const uint64_t seed = key.seed, offset = philox_start(key);
  const int64_t pairs = (n + 1) / 2;
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < pairs; j += stride) {
    // Box-Muller on uniforms 2j and 2j+1; 1-u keeps the log finite.
    const double u1 = 1.0 - double(uniform_at<T>(seed, offset, uint64_t(2 * j)));
    const double u2 = double(uniform_at<T>(seed, offset, uint64_t(2 * j + 1)));
    const double r = rn::root(-2.0 * log(u1));
    const double a = 6.283185307179586 * u2;
    const double sr = rn::mul(std, r);  // the CPU's std * r * cos(a) is (std * r) * cos(a)
    p[2 * j] = T(rn::add(mean, rn::mul(sr, cos(a))));
    if (2 * j + 1 < n) p[2 * j + 1] = T(rn::add(mean, rn::mul(sr, sin(a))));
  }
}

// One thread per element; each recomputes its sample's u (one Philox evaluation: cheaper than a
// second pass), and element 0 of each sample writes u.
template <class T, class I>
__global__ void __launch_bounds__(kThreads)
    interpolate_kernel(const T* xr, const T* xf, PhiloxKey key, T* u, T* y, I total, I d) {
  const uint64_t start = philox_start(key);
  const I stride = I(blockDim.x) * gridDim.x;
  for (I i = I(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const I s = i / d;
    const T us = uniform_at<T>(key.seed, start, uint64_t(s));
    if (i == s * d) u[s] = us;
    y[i] = interpolate_point(xr[i], xf[i], us);
  }
}

template <class T>
void fill_uniform_t(cudaStream_t s, T* p, int64_t n, const PhiloxKey& key, double lo, double hi) {
  if (n <= 0) return;
  const int64_t groups = (n + kPerCounter<T> - 1) / kPerCounter<T>;
  fill_uniform_kernel<T><<<blocks_for(groups), kThreads, 0, s>>>(p, n, key, lo, hi - lo);
  MMGAN_CUDA_CHECK_LAUNCH();
}

template <class T>
void fill_normal_t(cudaStream_t s, T* p, int64_t n, const PhiloxKey& key, double mean, double std) {
  if (n <= 0) return;
  fill_normal_kernel<T><<<blocks_for((n + 1) / 2), kThreads, 0, s>>>(p, n, key, mean, std);
  MMGAN_CUDA_CHECK_LAUNCH();
}

}  // namespace

void interpolate(cudaStream_t s, const View& x_real, const View& x_fake, const PhiloxKey& key, const View& u,
                 const View& xhat) {
  const int64_t n = u.numel(), total = xhat.numel();
  if (total <= 0) return;
  const int64_t d = total / n;
  with_index_type(total, [&](auto zero) {
    with_dtype(xhat.dtype, [&](auto t) {
      using I = decltype(zero);
      using T = decltype(t);
      interpolate_kernel<T, I><<<blocks_for(total), kThreads, 0, s>>>(x_real.ptr<T>(), x_fake.ptr<T>(), key, u.ptr<T>(),
                                                                      xhat.ptr<T>(), I(total), I(d));
    });
  });
  MMGAN_CUDA_CHECK_LAUNCH();
}

void fill_uniform(cudaStream_t s, const View& dst, const PhiloxKey& key, double lo, double hi) {
  with_dtype(dst.dtype, [&](auto t) { fill_uniform_t(s, dst.ptr<decltype(t)>(), dst.numel(), key, lo, hi); });
}

void fill_normal(cudaStream_t s, const View& dst, const PhiloxKey& key, double mean, double std) {
  with_dtype(dst.dtype, [&](auto t) { fill_normal_t(s, dst.ptr<decltype(t)>(), dst.numel(), key, mean, std); });
}

}  // namespace mmgan::kernels::cuda
