// BatchNorm's CPU kernels (training mode), the reference for kernels/cuda/batch_norm.cu:
//   channel_moments: per channel of x [N, C, inner], the mean and the biased variance (two sweeps
//                    accumulated in double: the mean, then the squared deviations from it);
//   channel_affine:  y = act(x scale + shift), the apply step fused with the activation
//                    (batch_norm.h);
//   batch_norm_grad_reduce / _input: the backward in two passes (batch_norm.h).
// Checked by tests/test_ops.cpp (gradcheck, gradgradcheck and PyTorch through batch_norm2d,
// batch_norm2d_act and batch_norm2d_backward); timed by tools/bench_engine.cpp.
#include <array>

#include "kernels/batch_norm.h"
#include "kernels/cpu/cpu_kernels.h"

namespace mmgan::kernels::cpu {
namespace {

// The sums over channel ch of [n, c, inner] of the K values f(offset) returns, accumulated in
// double in 4 interleaved lanes: one accumulator chains every add to the one before (the CPU
// build rounds each add, so the compiler may not reorder them), four overlap. Fixed order, so
// the result is deterministic.
template <int K, class F>
std::array<double, K> channel_sums(int64_t n, int64_t c, int64_t inner, int64_t ch, F f) {
  constexpr int kLanes = 4;
  double acc[kLanes][K] = {};
  for (int64_t i = 0; i < n; ++i) {
    const int64_t base = (i * c + ch) * inner;
    int64_t k = 0;
    for (; k + kLanes <= inner; k += kLanes)
      for (int l = 0; l < kLanes; ++l) {
        const std::array<double, K> v = f(base + k + l);
        for (int j = 0; j < K; ++j) acc[l][j] += v[j];
      }
    for (; k < inner; ++k) {
      const std::array<double, K> v = f(base + k);
      for (int j = 0; j < K; ++j) acc[k % kLanes][j] += v[j];
    }
  }
  std::array<double, K> r;
  for (int j = 0; j < K; ++j) r[j] = (acc[0][j] + acc[1][j]) + (acc[2][j] + acc[3][j]);
  return r;
}

template <class T>
void channel_moments_t(const T* x, int64_t n, int64_t c, int64_t inner, T* mean, T* var) {
  const double count = double(n * inner);
#pragma omp parallel for schedule(static) if (n * c * inner >= kParallelGrain)
  for (int64_t ch = 0; ch < c; ++ch) {
    const double m =
        channel_sums<1>(n, c, inner, ch, [&](int64_t o) { return std::array<double, 1>{double(x[o])}; })[0] / count;
    const double q = channel_sums<1>(n, c, inner, ch, [&](int64_t o) {
      const double d = double(x[o]) - m;
      return std::array<double, 1>{d * d};
    })[0];
    mean[ch] = T(m);
    var[ch] = T(q / count);
  }
}

template <Act A, class T>
void channel_affine_t(const T* x, const T* scale, const T* shift, int64_t n, int64_t c, int64_t inner, T slope, T* y) {
#pragma omp parallel for collapse(2) schedule(static) if (n * c * inner >= kParallelGrain)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch) {
      const T a = scale[ch], b = shift[ch];
      const int64_t base = (i * c + ch) * inner;
      for (int64_t k = base; k < base + inner; ++k) y[k] = affine_act<A>(x[k], a, b, slope);
    }
}

template <Act A, class T>
void grad_reduce_t(const BatchNormGrad& a, T* gw, T* gb) {
  const T *g = a.g.ptr<T>(), *y = a.y.ptr<T>(), *x = a.x.ptr<T>();
  const int64_t n = a.batch(), c = a.channels, inner = a.inner;
  const T slope = T(a.slope);
#pragma omp parallel for schedule(static) if (n * c * inner >= kParallelGrain)
  for (int64_t ch = 0; ch < c; ++ch) {
    const double mu = double(a.mean.ptr<T>()[ch]);
    const auto [sg, sgx] = channel_sums<2>(n, c, inner, ch, [&](int64_t o) {
      const double gm = double(masked_grad<A>(g[o], y[o], slope));
      return std::array<double, 2>{gm, gm * (double(x[o]) - mu)};
    });
    gb[ch] = T(sg);
    gw[ch] = T(double(a.invstd.ptr<T>()[ch]) * sgx);
  }
}

template <Act A, class T>
void grad_input_t(const BatchNormGrad& a, const T* gw, const T* gb, T* gx) {
  const T *g = a.g.ptr<T>(), *y = a.y.ptr<T>(), *x = a.x.ptr<T>();
  const int64_t n = a.batch(), c = a.channels, inner = a.inner;
  const T slope = T(a.slope), count = T(double(n * inner));
#pragma omp parallel for collapse(2) schedule(static) if (n * c * inner >= kParallelGrain)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch) {
      const T s = a.invstd.ptr<T>()[ch], mu = a.mean.ptr<T>()[ch];
      const T scale = a.weight.ptr<T>()[ch] * s, sb = gb[ch] / count, q = s * gw[ch] / count;
      const int64_t base = (i * c + ch) * inner;
      for (int64_t k = base; k < base + inner; ++k)
        gx[k] = batch_norm_input_grad(masked_grad<A>(g[k], y[k], slope), x[k], mu, scale, sb, q);
    }
}

// Calls f(T{}, Act constant) for the dtype and the activation.
template <class F>
void dispatch(DType t, bool act, double slope, F f) {
  with_act(act_of(act, slope), [&](auto a) { with_dtype(t, [&](auto tag) { f(tag, a); }); });
}

}  // namespace

void channel_moments(const View& x, int64_t channels, int64_t inner, const View& mean, const View& var) {
  const int64_t n = channels > 0 && inner > 0 ? x.numel() / (channels * inner) : 0;
  with_dtype(x.dtype, [&](auto t) {
    using T = decltype(t);
    channel_moments_t(x.ptr<T>(), n, channels, inner, mean.ptr<T>(), var.ptr<T>());
  });
}

void channel_affine(const View& x, const View& scale, const View& shift, int64_t channels, int64_t inner, bool act,
                    double slope, const View& y) {
  const int64_t n = channels > 0 && inner > 0 ? x.numel() / (channels * inner) : 0;
  dispatch(x.dtype, act, slope, [&](auto t, auto a) {
    using T = decltype(t);
    channel_affine_t<decltype(a)::value>(x.ptr<T>(), scale.ptr<T>(), shift.ptr<T>(), n, channels, inner, T(slope),
                                         y.ptr<T>());
  });
}

void batch_norm_grad_reduce(const BatchNormGrad& a, const View& gw, const View& gb) {
  dispatch(a.x.dtype, a.act, a.slope, [&](auto t, auto m) {
    using T = decltype(t);
    grad_reduce_t<decltype(m)::value>(a, gw.ptr<T>(), gb.ptr<T>());
  });
}

void batch_norm_grad_input(const BatchNormGrad& a, const View& gw, const View& gb, const View& gx) {
  dispatch(a.x.dtype, a.act, a.slope, [&](auto t, auto m) {
    using T = decltype(t);
    grad_input_t<decltype(m)::value>(a, gw.ptr<T>(), gb.ptr<T>(), gx.ptr<T>());
  });
}

}  // namespace mmgan::kernels::cpu
