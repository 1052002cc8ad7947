// 2-d pooling on CUDA, with the windows, divisors and argmax of kernels/pool_geom.h (shared with
// the CPU reference, kernels/cpu/pool.cpp). Forwards and the argmax gather: one thread per output.
// Adjoints: one thread per input element, summing over the outputs whose windows cover it (the
// max pool's recomputes each covering window's argmax), so there are no atomics and results are
// deterministic; they add in the CPU's order (averages: per-row sums in double, then across rows),
// so they match the CPU bit for bit. Index decomposition in 32 bits when the tensor allows.
// Checked against the CPU backend by tests/test_cuda_backend.cpp and, through the engine, by
// tests/test_ops.cpp; timed in tools/bench_kernels.cu.
#include <cuda_runtime.h>

#include <cstdint>
#include <limits>

#include "kernels/cuda/check.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/launch.h"

namespace mmgan::kernels::cuda {
namespace {

// y = window maxima of x (Gather false), or v at each window's argmax in x (Gather true).
template <class T, class Idx, bool Gather>
__global__ void __launch_bounds__(kThreads)
    max_pool_kernel(PoolGeom g, const T* __restrict__ x, const T* __restrict__ v, T* __restrict__ y, Idx n) {
  const Idx stride = Idx(blockDim.x) * gridDim.x;
  for (Idx k = Idx(blockIdx.x) * blockDim.x + threadIdx.x; k < n; k += stride) {
    int64_t p, i, j;
    split_index<Idx>(k, Idx(g.oh), Idx(g.ow), p, i, j);
    const Window1d r = pool_rows(g, i), c = pool_cols(g, j);
    const T* xp = x + p * g.h * g.w;
    if (Gather) {
      y[k] = v[p * g.h * g.w + pool_argmax(xp, g.w, r, c)];
    } else {
      T m = -std::numeric_limits<T>::infinity();
      for (int64_t a = r.lo; a < r.hi; ++a)
        for (int64_t b = c.lo; b < c.hi; ++b) {
          const T val = __ldg(xp + a * g.w + b);
          if (val > m || val != val) m = val;
        }
      y[k] = m;
    }
  }
}

// gx[a, b] = sum of gy over the outputs whose window's argmax is (a, b), in row-major output order.
template <class T, class Idx>
__global__ void __launch_bounds__(kThreads)
    max_pool_scatter_kernel(PoolGeom g, const T* __restrict__ x, const T* __restrict__ gy, T* __restrict__ gx, Idx n) {
  const Idx stride = Idx(blockDim.x) * gridDim.x;
  for (Idx k = Idx(blockIdx.x) * blockDim.x + threadIdx.x; k < n; k += stride) {
    int64_t p, a, b, i0, i1, j0, j1;
    split_index<Idx>(k, Idx(g.h), Idx(g.w), p, a, b);
    pool_covering(a, g.h, g.oh, g.kh, g.sh, g.ph, false, &i0, &i1);
    pool_covering(b, g.w, g.ow, g.kw, g.sw, g.pw, false, &j0, &j1);
    const T* xp = x + p * g.h * g.w;
    const T* gp = gy + p * g.oh * g.ow;
    const int64_t self = a * g.w + b;
    T acc = T(0);
    for (int64_t i = i0; i < i1; ++i) {
      const Window1d r = pool_rows(g, i);
      for (int64_t j = j0; j < j1; ++j)
        if (pool_argmax(xp, g.w, r, pool_cols(g, j)) == self) acc += gp[i * g.ow + j];
    }
    gx[k] = acc;
  }
}

template <class T, class Idx>
__global__ void __launch_bounds__(kThreads)
    avg_pool_kernel(PoolGeom g, const T* __restrict__ x, T* __restrict__ y, Idx n) {
  const Idx stride = Idx(blockDim.x) * gridDim.x;
  for (Idx k = Idx(blockIdx.x) * blockDim.x + threadIdx.x; k < n; k += stride) {
    int64_t p, i, j;
    split_index<Idx>(k, Idx(g.oh), Idx(g.ow), p, i, j);
    const Window1d r = pool_rows(g, i), c = pool_cols(g, j);
    const T* xp = x + p * g.h * g.w;
    double acc = 0;
    for (int64_t a = r.lo; a < r.hi; ++a) {
      double row = 0;
      for (int64_t b = c.lo; b < c.hi; ++b) row += double(__ldg(xp + a * g.w + b));
      acc += row;
    }
    y[k] = T(acc / double(pool_divisor(g, r, c)));
  }
}

// gx[a, b] = sum over the windows (i, j) containing (a, b) of gy[i, j] / divisor(i, j): summed
// over i per column j, then over j, as the CPU does.
template <class T, class Idx>
__global__ void __launch_bounds__(kThreads)
    avg_pool_adjoint_kernel(PoolGeom g, const T* __restrict__ gy, T* __restrict__ gx, Idx n) {
  const Idx stride = Idx(blockDim.x) * gridDim.x;
  for (Idx k = Idx(blockIdx.x) * blockDim.x + threadIdx.x; k < n; k += stride) {
    int64_t p, a, b, i0, i1, j0, j1;
    split_index<Idx>(k, Idx(g.h), Idx(g.w), p, a, b);
    pool_covering(a, g.h, g.oh, g.kh, g.sh, g.ph, g.adaptive, &i0, &i1);
    pool_covering(b, g.w, g.ow, g.kw, g.sw, g.pw, g.adaptive, &j0, &j1);
    const T* gp = gy + p * g.oh * g.ow;
    double acc = 0;
    for (int64_t j = j0; j < j1; ++j) {
      const Window1d c = pool_cols(g, j);
      double col = 0;
      for (int64_t i = i0; i < i1; ++i)
        col += double(__ldg(gp + i * g.ow + j)) / double(pool_divisor(g, pool_rows(g, i), c));
      acc += col;
    }
    gx[k] = T(acc);
  }
}

template <class T, bool Gather>
void max_pool_t(cudaStream_t s, const PoolGeom& g, const View& x, const View* v, const View& y) {
  const int64_t n = y.numel();
  const T* vp = v ? v->ptr<const T>() : nullptr;
  with_index_type(n, [&](auto idx) {
    using Idx = decltype(idx);
    max_pool_kernel<T, Idx, Gather><<<blocks_for(n), kThreads, 0, s>>>(g, x.ptr<const T>(), vp, y.ptr<T>(), Idx(n));
  });
  MMGAN_CUDA_CHECK_LAUNCH();
}

template <class T>
void max_pool_scatter_t(cudaStream_t s, const PoolGeom& g, const View& x, const View& gy, const View& gx) {
  const int64_t n = gx.numel();
  with_index_type(n, [&](auto idx) {
    using Idx = decltype(idx);
    max_pool_scatter_kernel<T, Idx>
        <<<blocks_for(n), kThreads, 0, s>>>(g, x.ptr<const T>(), gy.ptr<const T>(), gx.ptr<T>(), Idx(n));
  });
  MMGAN_CUDA_CHECK_LAUNCH();
}

template <class T>
void avg_pool_t(cudaStream_t s, const PoolGeom& g, const View& x, const View& y) {
  const int64_t n = y.numel();
  with_index_type(n, [&](auto idx) {
    using Idx = decltype(idx);
    avg_pool_kernel<T, Idx><<<blocks_for(n), kThreads, 0, s>>>(g, x.ptr<const T>(), y.ptr<T>(), Idx(n));
  });
  MMGAN_CUDA_CHECK_LAUNCH();
}

template <class T>
void avg_pool_adjoint_t(cudaStream_t s, const PoolGeom& g, const View& gy, const View& gx) {
  const int64_t n = gx.numel();
  with_index_type(n, [&](auto idx) {
    using Idx = decltype(idx);
    avg_pool_adjoint_kernel<T, Idx><<<blocks_for(n), kThreads, 0, s>>>(g, gy.ptr<const T>(), gx.ptr<T>(), Idx(n));
  });
  MMGAN_CUDA_CHECK_LAUNCH();
}

}  // namespace

void max_pool2d(cudaStream_t s, const PoolGeom& g, const View& x, const View& y) {
  with_dtype(x.dtype, [&](auto t) { max_pool_t<decltype(t), false>(s, g, x, nullptr, y); });
}

void max_pool2d_gather(cudaStream_t s, const PoolGeom& g, const View& x, const View& v, const View& y) {
  with_dtype(x.dtype, [&](auto t) { max_pool_t<decltype(t), true>(s, g, x, &v, y); });
}

void max_pool2d_scatter(cudaStream_t s, const PoolGeom& g, const View& x, const View& gy, const View& gx) {
  with_dtype(x.dtype, [&](auto t) { max_pool_scatter_t<decltype(t)>(s, g, x, gy, gx); });
}

void avg_pool2d(cudaStream_t s, const PoolGeom& g, const View& x, const View& y) {
  with_dtype(x.dtype, [&](auto t) { avg_pool_t<decltype(t)>(s, g, x, y); });
}

void avg_pool2d_adjoint(cudaStream_t s, const PoolGeom& g, const View& gy, const View& gx) {
  with_dtype(gy.dtype, [&](auto t) { avg_pool_adjoint_t<decltype(t)>(s, g, gy, gx); });
}

}  // namespace mmgan::kernels::cuda
