// 2-d convolution on the CPU: im2col / col2im around one OpenBLAS GEMM per call (the whole batch
// at once, so BLAS sees large matrices even for the 4x4 layers). The three entry points are the
// closed family of kernels/conv_geom.h:
//   conv2d:             y  = W  @ im2col(x)                 [O, CKK] x [CKK, N*P]
//   conv2d_input_grad:  gx = col2im(W^T @ gy)                (= conv_transpose2d)
//   conv2d_weight_grad: gw = gy @ im2col(x)^T                [O, N*P] x [N*P, CKK]
// gy and y are [N, O, P] in memory while GEMM wants [O, N*P]: a permuting copy bridges them
// (skipped when N = 1). Checked by tests/test_ops.cpp (gradcheck, gradgradcheck, PyTorch parity);
// timed by tools/bench_engine.cpp.
#include <vector>

#include "cpu_kernels.h"

namespace mmgan::kernels::cpu {
namespace {

// cols[(c*KH + a)*KW + b, n*P + i*OW + j] = x[n, c, i*sh - ph + a, j*sw - pw + b], 0 outside.
template <class T>
void im2col(const ConvGeom& g, const T* x, T* cols) {
  const int64_t P = g.out_pixels(), NP = g.n * P, rows = g.col_rows();
#pragma omp parallel for collapse(2) schedule(static) if (rows * NP >= (1 << 15))
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t n = 0; n < g.n; ++n) {
      const int64_t c = r / (g.kh * g.kw), a = (r / g.kw) % g.kh, b = r % g.kw;
      const T* xp = x + (n * g.c + c) * g.h * g.w;
      T* out = cols + r * NP + n * P;
      for (int64_t i = 0; i < g.oh; ++i) {
        const int64_t hi = i * g.sh - g.ph + a;
        T* row = out + i * g.ow;
        if (hi < 0 || hi >= g.h) {
          for (int64_t j = 0; j < g.ow; ++j) row[j] = T(0);
          continue;
        }
        const T* xr = xp + hi * g.w;
        for (int64_t j = 0; j < g.ow; ++j) {
          const int64_t wi = j * g.sw - g.pw + b;
          row[j] = (wi >= 0 && wi < g.w) ? xr[wi] : T(0);
        }
      }
    }
  }
}

// The adjoint of im2col: x[n, c, ...] = sum of the cols entries that read it. Each (n, c) plane
// is written by one thread, so there are no races.
template <class T>
void col2im(const ConvGeom& g, const T* cols, T* x) {
  const int64_t P = g.out_pixels(), NP = g.n * P;
#pragma omp parallel for collapse(2) schedule(static) if (g.col_rows() * NP >= (1 << 15))
  for (int64_t n = 0; n < g.n; ++n) {
    for (int64_t c = 0; c < g.c; ++c) {
      T* xp = x + (n * g.c + c) * g.h * g.w;
      for (int64_t k = 0; k < g.h * g.w; ++k) xp[k] = T(0);
      for (int64_t a = 0; a < g.kh; ++a) {
        for (int64_t b = 0; b < g.kw; ++b) {
          const T* in = cols + ((c * g.kh + a) * g.kw + b) * NP + n * P;
          for (int64_t i = 0; i < g.oh; ++i) {
            const int64_t hi = i * g.sh - g.ph + a;
            if (hi < 0 || hi >= g.h) continue;
            T* xr = xp + hi * g.w;
            const T* row = in + i * g.ow;
            for (int64_t j = 0; j < g.ow; ++j) {
              const int64_t wi = j * g.sw - g.pw + b;
              if (wi >= 0 && wi < g.w) xr[wi] += row[j];
            }
          }
        }
      }
    }
  }
}

// [N, O, P] <-> [O, N*P]
template <class T>
void nop_to_onp(const T* src, int64_t N, int64_t O, int64_t P, T* dst) {
#pragma omp parallel for collapse(2) schedule(static) if (N * O * P >= (1 << 15))
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t p = 0; p < P; ++p) dst[o * N * P + n * P + p] = src[(n * O + o) * P + p];
}
template <class T>
void onp_to_nop(const T* src, int64_t N, int64_t O, int64_t P, T* dst) {
#pragma omp parallel for collapse(2) schedule(static) if (N * O * P >= (1 << 15))
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t p = 0; p < P; ++p) dst[(n * O + o) * P + p] = src[o * N * P + n * P + p];
}

template <class T>
void conv2d_t(const ConvGeom& g, const T* x, const T* w, T* y) {
  const int64_t P = g.out_pixels(), NP = g.n * P, K = g.col_rows();
  std::vector<T> cols(size_t(K * NP));
  im2col(g, x, cols.data());
  const DType t = sizeof(T) == 4 ? DType::F32 : DType::F64;
  if (g.n == 1) {
    gemm(t, false, false, g.o, NP, K, 1.0, w, K, cols.data(), NP, 0.0, y, NP);
    return;
  }
  std::vector<T> tmp(size_t(g.o * NP));
  gemm(t, false, false, g.o, NP, K, 1.0, w, K, cols.data(), NP, 0.0, tmp.data(), NP);
  onp_to_nop(tmp.data(), g.n, g.o, P, y);
}

// gy [N, O, P] as the [O, N*P] matrix GEMM needs: gy itself when N = 1, else a permuted copy in tmp.
template <class T>
const T* gy_as_matrix(const ConvGeom& g, const T* gy, std::vector<T>& tmp) {
  if (g.n == 1) return gy;
  tmp.resize(size_t(g.o * g.n * g.out_pixels()));
  nop_to_onp(gy, g.n, g.o, g.out_pixels(), tmp.data());
  return tmp.data();
}

template <class T>
void input_grad_t(const ConvGeom& g, const T* gy, const T* w, T* gx) {
  const int64_t NP = g.n * g.out_pixels(), K = g.col_rows();
  const DType t = sizeof(T) == 4 ? DType::F32 : DType::F64;
  std::vector<T> tmp;
  const T* gyp = gy_as_matrix(g, gy, tmp);
  std::vector<T> cols(size_t(K * NP));
  gemm(t, true, false, K, NP, g.o, 1.0, w, K, gyp, NP, 0.0, cols.data(), NP);
  col2im(g, cols.data(), gx);
}

template <class T>
void weight_grad_t(const ConvGeom& g, const T* x, const T* gy, T* gw) {
  const int64_t NP = g.n * g.out_pixels(), K = g.col_rows();
  const DType t = sizeof(T) == 4 ? DType::F32 : DType::F64;
  std::vector<T> tmp;
  const T* gyp = gy_as_matrix(g, gy, tmp);
  std::vector<T> cols(size_t(K * NP));
  im2col(g, x, cols.data());
  gemm(t, false, true, g.o, K, NP, 1.0, gyp, NP, cols.data(), NP, 0.0, gw, K);
}

}  // namespace

void conv2d(const ConvGeom& g, const View& x, const View& w, const View& y) {
  if (x.dtype == DType::F32) conv2d_t(g, x.ptr<float>(), w.ptr<float>(), y.ptr<float>());
  else conv2d_t(g, x.ptr<double>(), w.ptr<double>(), y.ptr<double>());
}
void conv2d_input_grad(const ConvGeom& g, const View& gy, const View& w, const View& gx) {
  if (gy.dtype == DType::F32) input_grad_t(g, gy.ptr<float>(), w.ptr<float>(), gx.ptr<float>());
  else input_grad_t(g, gy.ptr<double>(), w.ptr<double>(), gx.ptr<double>());
}
void conv2d_weight_grad(const ConvGeom& g, const View& x, const View& gy, const View& gw) {
  if (x.dtype == DType::F32) weight_grad_t(g, x.ptr<float>(), gy.ptr<float>(), gw.ptr<float>());
  else weight_grad_t(g, x.ptr<double>(), gy.ptr<double>(), gw.ptr<double>());
}

}  // namespace mmgan::kernels::cpu
