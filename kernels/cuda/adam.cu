// Multi-tensor Adam on CUDA: one launch updates up to kAdamChunk parameter tensors in place
// (blockIdx.y picks the tensor, a grid-stride loop covers it), with kernels/cpu/adam.cpp's
// torch.optim.Adam single-tensor step (PyTorch 1.13, amsgrad off, maximize off) operation for
// operation. The step's scalars come from adam_math.h, computed by each thread from the learning
// rate and step count in device memory (so a captured step replays with the current values); the
// per-element update runs in T with every operation rounded on its own (rounding.h: no FMA
// contraction, IEEE division and square root), so float32 and float64 results equal the CPU's bit
// for bit. Checked against the CPU backend by tests/test_cuda_backend.cpp; timed in
// tools/bench_kernels.cu (all of DCGAN32's D parameters in one call).
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "kernels/adam_math.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/cuda_kernels.h"

namespace mmgan::kernels::cuda {
namespace {

template <class T, int V>
struct alignas(sizeof(T) * V) Vec {
  T v[V];
};

// The CPU's loop body, in its order:
//   g' = g + p wd;  m = m b1 + g' (1-b1);  v = v b2 + ((1-b2) g') g';
//   denom = sqrt(v) / sqrt(bc2) + eps;  p = p + (-step_size) (m / denom)
template <class T>
__device__ __forceinline__ void adam_elem(T& p, T g, T& m, T& v, const AdamScalars<T>& c) {
  if (c.has_wd) g = rn::add(g, rn::mul(p, c.wd));
  m = rn::add(rn::mul(m, c.b1), rn::mul(g, c.one_m_b1));
  v = rn::add(rn::mul(v, c.b2), rn::mul(rn::mul(c.one_m_b2, g), g));
  const T denom = rn::add(rn::div(rn::root(v), c.bc2_sqrt), c.eps);
  p = rn::add(p, rn::mul(c.neg_step_size, rn::div(m, denom)));
}

constexpr int kAdamChunk = 24;  // tensors per launch (the kernel's parameter block stays ~1.3 KB)

struct AdamLaunch {
  AdamTensor t[kAdamChunk];
  bool aligned[kAdamChunk];  // all four pointers 16-byte aligned: vector loads
  AdamHyper h;
};

template <class T, int VEC>
__device__ __forceinline__ void adam_tensor(const AdamTensor& a, bool aligned, const AdamScalars<T>& c) {
  T* p = static_cast<T*>(a.p);
  const T* g = static_cast<const T*>(a.g);
  T* m = static_cast<T*>(a.m);
  T* v = static_cast<T*>(a.v);
  const int64_t n = a.n;
  const int64_t tid = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  const int64_t nvec = aligned ? n / VEC : 0;
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
  for (int64_t i = nvec * VEC + tid; i < n; i += stride) {
    T pi = p[i], mi = m[i], vi = v[i];
    adam_elem(pi, g[i], mi, vi, c);
    p[i] = pi;
    m[i] = mi;
    v[i] = vi;
  }
}

template <class T>
__global__ void __launch_bounds__(kThreads) adam_kernel(AdamLaunch L) {
  const int k = blockIdx.y;
  const AdamTensor& a = L.t[k];
  const AdamScalars<T> c = adam_scalars<T>(L.h, *L.h.lr, *a.step);
  adam_tensor<T, int(16 / sizeof(T))>(a, L.aligned[k], c);
}

template <class T>
void adam_t(cudaStream_t s, const AdamTensor* tensors, int count, const AdamHyper& h) {
  constexpr int kVec = int(16 / sizeof(T));
  for (int first = 0; first < count; first += kAdamChunk) {
    const int n = count - first < kAdamChunk ? count - first : kAdamChunk;
    AdamLaunch L{};
    L.h = h;
    int64_t largest = 0;
    for (int k = 0; k < n; ++k) {
      const AdamTensor& a = tensors[first + k];
      L.t[k] = a;
      const auto al = [](const void* q) { return reinterpret_cast<uintptr_t>(q) % 16 == 0; };
      L.aligned[k] = al(a.p) && al(a.g) && al(a.m) && al(a.v);
      largest = a.n > largest ? a.n : largest;
    }
    if (largest == 0) continue;
    const dim3 grid(unsigned(blocks_for((largest + kVec - 1) / kVec)), unsigned(n));
    adam_kernel<T><<<grid, kThreads, 0, s>>>(L);
    MMGAN_CUDA_CHECK_LAUNCH();
  }
}

}  // namespace

void adam_step(cudaStream_t s, DType t, const AdamTensor* tensors, int count, const AdamHyper& h) {
  with_dtype(t, [&](auto tag) { adam_t<decltype(tag)>(s, tensors, count, h); });
}

}  // namespace mmgan::kernels::cuda
