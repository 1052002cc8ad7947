// Bilinear resize on CUDA (align_corners=False), with the taps of kernels/pool_geom.h computed in
// the tensor's precision as on the CPU (kernels/cpu/resize.cpp). Forward: one thread per output,
// four reads. Adjoint: one thread per input element, summing over the outputs whose taps read it
// (a candidate range from linear_taps_reading, each candidate's taps recomputed exactly), in
// double, with no atomics. Checked against the CPU backend by tests/test_cuda_backend.cpp and,
// through the engine, by tests/test_ops.cpp; timed in tools/bench_kernels.cu.
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/check.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/launch.h"

namespace mmgan::kernels::cuda {
namespace {

template <class T, class Idx>
__global__ void __launch_bounds__(kThreads)
    resize_kernel(ResizeGeom g, const T* __restrict__ x, T* __restrict__ y, Idx n) {
  const Idx stride = Idx(blockDim.x) * gridDim.x;
  for (Idx k = Idx(blockIdx.x) * blockDim.x + threadIdx.x; k < n; k += stride) {
    int64_t p, i, j;
    split_index<Idx>(k, Idx(g.oh), Idx(g.ow), p, i, j);
    const LinearTap<T> r = linear_tap<T>(i, g.h, g.oh), c = linear_tap<T>(j, g.w, g.ow);
    const T* x0 = x + (p * g.h + r.i0) * g.w;
    const T* x1 = x + (p * g.h + r.i1) * g.w;
    const T t0 = __ldg(x0 + c.i0) * c.l0 + __ldg(x0 + c.i1) * c.l1;
    const T t1 = __ldg(x1 + c.i0) * c.l0 + __ldg(x1 + c.i1) * c.l1;
    y[k] = t0 * r.l0 + t1 * r.l1;
  }
}

// The weight with which output index i reads input index y along one dimension.
template <class T>
__device__ __forceinline__ double tap_weight(const LinearTap<T>& t, int64_t y) {
  return (t.i0 == y ? double(t.l0) : 0.0) + (t.i1 == y ? double(t.l1) : 0.0);
}

template <class T, class Idx>
__global__ void __launch_bounds__(kThreads)
    resize_adjoint_kernel(ResizeGeom g, const T* __restrict__ gy, T* __restrict__ gx, Idx n) {
  const Idx stride = Idx(blockDim.x) * gridDim.x;
  for (Idx k = Idx(blockIdx.x) * blockDim.x + threadIdx.x; k < n; k += stride) {
    int64_t p, a, b, i0, i1, j0, j1;
    split_index<Idx>(k, Idx(g.h), Idx(g.w), p, a, b);
    linear_taps_reading(a, g.h, g.oh, &i0, &i1);
    linear_taps_reading(b, g.w, g.ow, &j0, &j1);
    const T* gp = gy + p * g.oh * g.ow;
    double acc = 0;
    for (int64_t j = j0; j < j1; ++j) {
      const double wc = tap_weight(linear_tap<T>(j, g.w, g.ow), b);
      if (wc == 0.0) continue;
      double col = 0;
      for (int64_t i = i0; i < i1; ++i) {
        const double wr = tap_weight(linear_tap<T>(i, g.h, g.oh), a);
        if (wr != 0.0) col += wr * double(__ldg(gp + i * g.ow + j));
      }
      acc += wc * col;
    }
    gx[k] = T(acc);
  }
}

template <class T>
void resize_t(cudaStream_t s, const ResizeGeom& g, const View& x, const View& y) {
  const int64_t n = y.numel();
  with_index_type(n, [&](auto idx) {
    using Idx = decltype(idx);
    resize_kernel<T, Idx><<<blocks_for(n), kThreads, 0, s>>>(g, x.ptr<const T>(), y.ptr<T>(), Idx(n));
  });
  MMGAN_CUDA_CHECK_LAUNCH();
}

template <class T>
void resize_adjoint_t(cudaStream_t s, const ResizeGeom& g, const View& gy, const View& gx) {
  const int64_t n = gx.numel();
  with_index_type(n, [&](auto idx) {
    using Idx = decltype(idx);
    resize_adjoint_kernel<T, Idx><<<blocks_for(n), kThreads, 0, s>>>(g, gy.ptr<const T>(), gx.ptr<T>(), Idx(n));
  });
  MMGAN_CUDA_CHECK_LAUNCH();
}

}  // namespace

void resize_bilinear(cudaStream_t s, const ResizeGeom& g, const View& x, const View& y) {
  with_dtype(x.dtype, [&](auto t) { resize_t<decltype(t)>(s, g, x, y); });
}

void resize_bilinear_adjoint(cudaStream_t s, const ResizeGeom& g, const View& gy, const View& gx) {
  with_dtype(gy.dtype, [&](auto t) { resize_adjoint_t<decltype(t)>(s, g, gy, gx); });
}

}  // namespace mmgan::kernels::cuda
