// Adam on CUDA, one parameter tensor per call, in place on p, m, v: kernels/cpu/adam.cpp's
// torch.optim.Adam single-tensor step (PyTorch 1.13, amsgrad off, maximize off) operation for
// operation. The bias corrections are computed on the host in double and cast to T exactly as the
// CPU does; the per-element update runs in T with every operation rounded on its own (the _rn
// intrinsics: no FMA contraction, IEEE division and square root), so float32 and float64 results
// equal the CPU's bit for bit. Checked against the CPU backend by tests/test_cuda_backend.cpp;
// timed in tools/bench_kernels.cu.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "check.h"
#include "launch.h"
#include "cuda_kernels.h"

namespace mmgan::kernels::cuda {
namespace {

__device__ __forceinline__ float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ double add_rn(double a, double b) { return __dadd_rn(a, b); }
__device__ __forceinline__ float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double mul_rn(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ float div_rn(float a, float b) { return __fdiv_rn(a, b); }
__device__ __forceinline__ double div_rn(double a, double b) { return __ddiv_rn(a, b); }
__device__ __forceinline__ float sqrt_rn(float a) { return __fsqrt_rn(a); }
__device__ __forceinline__ double sqrt_rn(double a) { return __dsqrt_rn(a); }

template <class T>
struct AdamScalars {  // the CPU's T-valued constants, computed on the host
  T b1, b2, one_m_b1, one_m_b2, neg_step_size, bc2_sqrt, eps, wd;
  bool has_wd;
};

template <class T, int V>
struct alignas(sizeof(T) * V) Vec {
  T v[V];
};

// The CPU's loop body, in its order:
//   g' = g + p wd;  m = m b1 + g' (1-b1);  v = v b2 + ((1-b2) g') g';
//   denom = sqrt(v) / sqrt(bc2) + eps;  p = p + (-step_size) (m / denom)
template <class T>
__device__ __forceinline__ void adam_elem(T& p, T g, T& m, T& v, const AdamScalars<T>& c) {
  if (c.has_wd) g = add_rn(g, mul_rn(p, c.wd));
  m = add_rn(mul_rn(m, c.b1), mul_rn(g, c.one_m_b1));
  v = add_rn(mul_rn(v, c.b2), mul_rn(mul_rn(c.one_m_b2, g), g));
  const T denom = add_rn(div_rn(sqrt_rn(v), c.bc2_sqrt), c.eps);
  p = add_rn(p, mul_rn(c.neg_step_size, div_rn(m, denom)));
}

// VEC elements per 16-byte access when all four pointers are aligned (host-checked), then a
// scalar tail; VEC == 1 is the plain kernel.
template <class T, int VEC>
__global__ void __launch_bounds__(kThreads)
    adam_kernel(T* p, const T* g, T* m, T* v, int64_t n, AdamScalars<T> c) {
  const int64_t tid = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  const int64_t nvec = n / VEC;
  for (int64_t j = tid; j < nvec; j += stride) {
    Vec<T, VEC> pv = reinterpret_cast<const Vec<T, VEC>*>(p)[j];
    const Vec<T, VEC> gv = reinterpret_cast<const Vec<T, VEC>*>(g)[j];
    Vec<T, VEC> mv = reinterpret_cast<const Vec<T, VEC>*>(m)[j];
    Vec<T, VEC> vv = reinterpret_cast<const Vec<T, VEC>*>(v)[j];
#pragma unroll
    for (int l = 0; l < VEC; ++l) adam_elem(pv.v[l], gv.v[l], mv.v[l], vv.v[l], c);
    reinterpret_cast<Vec<T, VEC>*>(p)[j] = pv;
    reinterpret_cast<Vec<T, VEC>*>(m)[j] = mv;
    reinterpret_cast<Vec<T, VEC>*>(v)[j] = vv;
  }
  if (VEC > 1) {
    for (int64_t i = nvec * VEC + tid; i < n; i += stride) {
      T pi = p[i], mi = m[i], vi = v[i];
      adam_elem(pi, g[i], mi, vi, c);
      p[i] = pi;
      m[i] = mi;
      v[i] = vi;
    }
  }
}

template <class T>
void adam_t(cudaStream_t s, T* p, const T* g, T* m, T* v, int64_t n, double lr, double beta1, double beta2,
            double eps, double wd, int64_t step) {
  if (n <= 0) return;
  // As the CPU (and PyTorch, in Python doubles): bias corrections in double, then cast to T.
  const double bc1 = 1.0 - std::pow(beta1, double(step));
  const double bc2 = 1.0 - std::pow(beta2, double(step));
  AdamScalars<T> c;
  c.b1 = T(beta1);
  c.b2 = T(beta2);
  c.one_m_b1 = T(1.0 - beta1);
  c.one_m_b2 = T(1.0 - beta2);
  c.neg_step_size = -T(lr / bc1);
  c.bc2_sqrt = T(std::sqrt(bc2));
  c.eps = T(eps);
  c.wd = T(wd);
  c.has_wd = wd != 0;
  constexpr int kVec = int(16 / sizeof(T));
  const uintptr_t align = sizeof(T) * kVec;
  const bool aligned = reinterpret_cast<uintptr_t>(p) % align == 0 && reinterpret_cast<uintptr_t>(g) % align == 0 &&
                       reinterpret_cast<uintptr_t>(m) % align == 0 && reinterpret_cast<uintptr_t>(v) % align == 0;
  if (aligned && n >= kVec)
    adam_kernel<T, kVec><<<blocks_for((n + kVec - 1) / kVec), kThreads, 0, s>>>(p, g, m, v, n, c);
  else
    adam_kernel<T, 1><<<blocks_for(n), kThreads, 0, s>>>(p, g, m, v, n, c);
  MMGAN_CUDA_CHECK_LAUNCH();
}

}  // namespace

void adam_step(cudaStream_t s, DType t, void* p, const void* g, void* m, void* v, int64_t n, double lr,
               double beta1, double beta2, double eps, double weight_decay, int64_t step) {
  if (t == DType::F32)
    adam_t(s, static_cast<float*>(p), static_cast<const float*>(g), static_cast<float*>(m), static_cast<float*>(v),
           n, lr, beta1, beta2, eps, weight_decay, step);
  else
    adam_t(s, static_cast<double*>(p), static_cast<const double*>(g), static_cast<double*>(m),
           static_cast<double*>(v), n, lr, beta1, beta2, eps, weight_decay, step);
}

}  // namespace mmgan::kernels::cuda
