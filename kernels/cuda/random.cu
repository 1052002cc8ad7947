// Philox random fills on CUDA, the stream of kernels/cpu/random.cpp: element i of a draw depends
// only on (seed, start, i) through the same philox.h functions, so uniform fills are bit-identical
// to the CPU's (lo + (hi - lo) u with the product and sum rounded separately, as the CPU does; no
// FMA) and normal fills (Box-Muller on the uniform pairs 2j, 2j+1 in double, then cast) differ only
// where CUDA's log, sin and cos round their last bit differently from libm.
// Checked against the CPU backend by tests/test_cuda_backend.cpp; timed in tools/bench_kernels.cu.
#include <cuda_runtime.h>

#include <cstdint>

#include "../philox.h"
#include "check.h"
#include "launch.h"
#include "cuda_kernels.h"

namespace mmgan::kernels::cuda {
namespace {

template <class T>
__device__ __forceinline__ T uniform_at(uint64_t seed, uint64_t offset, uint64_t i) {
  if constexpr (sizeof(T) == 4) return uniform_f32(seed, offset, i);
  else return uniform_f64(seed, offset, i);
}

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
      if (i < uint64_t(n)) p[i] = T(__dadd_rn(lo, __dmul_rn(span, double(uniform_at<T>(seed, offset, i)))));
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
    const double r = __dsqrt_rn(-2.0 * log(u1));
    const double a = 6.283185307179586 * u2;
    const double sr = __dmul_rn(std, r);  // the CPU's std * r * cos(a) is (std * r) * cos(a)
    p[2 * j] = T(__dadd_rn(mean, __dmul_rn(sr, cos(a))));
    if (2 * j + 1 < n) p[2 * j + 1] = T(__dadd_rn(mean, __dmul_rn(sr, sin(a))));
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

void fill_uniform(cudaStream_t s, const View& dst, const PhiloxKey& key, double lo, double hi) {
  if (dst.dtype == DType::F32) fill_uniform_t(s, dst.ptr<float>(), dst.numel(), key, lo, hi);
  else fill_uniform_t(s, dst.ptr<double>(), dst.numel(), key, lo, hi);
}

void fill_normal(cudaStream_t s, const View& dst, const PhiloxKey& key, double mean, double std) {
  if (dst.dtype == DType::F32) fill_normal_t(s, dst.ptr<float>(), dst.numel(), key, mean, std);
  else fill_normal_t(s, dst.ptr<double>(), dst.numel(), key, mean, std);
}

}  // namespace mmgan::kernels::cuda
