// BatchNorm's CUDA kernels (training mode), the semantics of kernels/cpu/batch_norm.cpp:
//   channel_moments: per channel, mean and biased variance (two sweeps, in double);
//   channel_affine:  the apply step fused with the activation (batch_norm.h);
//   batch_norm_grad_reduce / _input: the backward in two kernels (batch_norm.h).
// The per-channel reductions run one block per channel; the CPU sums in another order, so float64
// results agree to rounding, not bit for bit. Checked against the CPU backend by tests/test_ops.cpp
// (every batch_norm row on every backend) and tests/test_cuda_backend.cpp; timed in
// tools/bench_kernels.cu (BM_BatchNorm*).
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/batch_norm.h"
#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/check.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/launch.h"

namespace mmgan::kernels::cuda {
namespace {

constexpr int kChannelThreads = 256;

// The offset of a channel's e-th value (e < n * inner) in [n, channels, inner].
template <class I>
__device__ __forceinline__ I channel_offset(I e, I ch, I channels, I inner) {
  return ((e / inner) * channels + ch) * inner + e % inner;
}

template <class T, class I>
__global__ void __launch_bounds__(kChannelThreads)
    channel_moments_kernel(const T* x, I count, I c, I inner, T* mean, T* var) {
  __shared__ double smem[32];
  __shared__ double bcast;
  const I ch = blockIdx.x;
  double s = 0;
  for (I e = threadIdx.x; e < count; e += blockDim.x) s += double(x[channel_offset(e, ch, c, inner)]);
  const double m = block_allreduce<DSum>(s, smem, &bcast) / double(count);
  double q = 0;
  for (I e = threadIdx.x; e < count; e += blockDim.x) {
    const double d = double(x[channel_offset(e, ch, c, inner)]) - m;
    q += d * d;
  }
  q = block_reduce<DSum>(q, smem);
  if (threadIdx.x == 0) {
    mean[ch] = T(m);
    var[ch] = T(q / double(count));
  }
}

template <Act A, class T, class I>
__global__ void __launch_bounds__(kThreads)
    channel_affine_kernel(const T* x, const T* scale, const T* shift, I total, I channels, I inner, T slope, T* y) {
  const I stride = I(blockDim.x) * gridDim.x;
  for (I i = I(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const I ch = (i / inner) % channels;
    y[i] = affine_act<A>(x[i], scale[ch], shift[ch], slope);
  }
}

// One block per channel: gb = sum g', gw = s sum g' (x - mu), both sums in one sweep.
template <Act A, class T, class I>
__global__ void __launch_bounds__(kChannelThreads)
    grad_reduce_kernel(const T* g, const T* y, const T* x, const T* mean, const T* invstd, I count, I c, I inner,
                       T slope, T* gw, T* gb) {
  __shared__ Pair smem[32];
  const I ch = blockIdx.x;
  const double mu = double(mean[ch]);
  Pair acc{0.0, 0.0};
  for (I e = threadIdx.x; e < count; e += blockDim.x) {
    const I o = channel_offset(e, ch, c, inner);
    const double gm = double(masked_grad<A>(g[o], y[o], slope));
    acc.a += gm;
    acc.b += gm * (double(x[o]) - mu);
  }
  acc = block_reduce<PairSum>(acc, smem);
  if (threadIdx.x == 0) {
    gb[ch] = T(acc.a);
    gw[ch] = T(double(invstd[ch]) * acc.b);
  }
}

template <Act A, class T, class I>
__global__ void __launch_bounds__(kThreads)
    grad_input_kernel(const T* g, const T* y, const T* x, const T* mean, const T* invstd, const T* weight, const T* gw,
                      const T* gb, I total, I channels, I inner, T count, T slope, T* gx) {
  const I stride = I(blockDim.x) * gridDim.x;
  for (I i = I(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const I ch = (i / inner) % channels;
    const T s = invstd[ch];
    gx[i] = batch_norm_input_grad(masked_grad<A>(g[i], y[i], slope), x[i], mean[ch], weight[ch] * s, gb[ch] / count,
                                  s * gw[ch] / count);
  }
}

// Calls f(T{}, I{}, Act constant) with the element type of `dtype`, the index type for n elements
// and the activation.
template <class F>
void dispatch(DType dtype, int64_t n, bool act, double slope, F f) {
  with_act(act_of(act, slope),
           [&](auto a) { with_index_type(n, [&](auto zero) { with_dtype(dtype, [&](auto t) { f(t, zero, a); }); }); });
}

}  // namespace

void channel_moments(cudaStream_t s, const View& x, int64_t channels, int64_t inner, const View& mean,
                     const View& var) {
  if (channels <= 0 || inner <= 0) return;
  const int64_t total = x.numel();
  dispatch(x.dtype, total, false, 0, [&](auto t, auto i, auto) {
    using T = decltype(t);
    using I = decltype(i);
    channel_moments_kernel<T, I><<<unsigned(channels), kChannelThreads, 0, s>>>(
        x.ptr<T>(), I(total / channels), I(channels), I(inner), mean.ptr<T>(), var.ptr<T>());
  });
  MMGAN_CUDA_CHECK_LAUNCH();
}

void channel_affine(cudaStream_t s, const View& x, const View& scale, const View& shift, int64_t channels,
                    int64_t inner, bool act, double slope, const View& y) {
  const int64_t total = x.numel();
  if (total <= 0) return;
  dispatch(x.dtype, total, act, slope, [&](auto t, auto i, auto a) {
    using T = decltype(t);
    using I = decltype(i);
    channel_affine_kernel<decltype(a)::value, T, I><<<blocks_for(total), kThreads, 0, s>>>(
        x.ptr<T>(), scale.ptr<T>(), shift.ptr<T>(), I(total), I(channels), I(inner), T(slope), y.ptr<T>());
  });
  MMGAN_CUDA_CHECK_LAUNCH();
}

void batch_norm_grad_reduce(cudaStream_t s, const BatchNormGrad& a, const View& gw, const View& gb) {
  if (a.channels <= 0 || a.inner <= 0) return;
  const int64_t total = a.x.numel();
  dispatch(a.x.dtype, total, a.act, a.slope, [&](auto t, auto i, auto m) {
    using T = decltype(t);
    using I = decltype(i);
    grad_reduce_kernel<decltype(m)::value, T, I><<<unsigned(a.channels), kChannelThreads, 0, s>>>(
        a.g.ptr<T>(), a.y.ptr<T>(), a.x.ptr<T>(), a.mean.ptr<T>(), a.invstd.ptr<T>(), I(total / a.channels),
        I(a.channels), I(a.inner), T(a.slope), gw.ptr<T>(), gb.ptr<T>());
  });
  MMGAN_CUDA_CHECK_LAUNCH();
}

void batch_norm_grad_input(cudaStream_t s, const BatchNormGrad& a, const View& gw, const View& gb, const View& gx) {
  const int64_t total = a.x.numel();
  if (total <= 0) return;
  dispatch(a.x.dtype, total, a.act, a.slope, [&](auto t, auto i, auto m) {
    using T = decltype(t);
    using I = decltype(i);
    grad_input_kernel<decltype(m)::value, T, I><<<blocks_for(total), kThreads, 0, s>>>(
        a.g.ptr<T>(), a.y.ptr<T>(), a.x.ptr<T>(), a.mean.ptr<T>(), a.invstd.ptr<T>(), a.weight.ptr<T>(), gw.ptr<T>(),
        gb.ptr<T>(), I(total), I(a.channels), I(a.inner), T(double(total / a.channels)), T(a.slope), gx.ptr<T>());
  });
  MMGAN_CUDA_CHECK_LAUNCH();
}

}  // namespace mmgan::kernels::cuda
