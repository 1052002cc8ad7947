// The conv family of conv_geom.h as implicit GEMMs, C[m, col] = sum_k A(m, k) B(k, col), with A and
// B read straight from the NCHW tensors (no im2col buffer) and C written back through store():
//   forward          y[n, o, i, j]:  m = (n, i, j), col = o,           k = (c, a, b)
//   backward-data   gx[n, c, h, w]:  m = (n, h, w), col = c,           k = (o, a, b)   (y pixel i with
//                                    i * sh - ph + a = h, zero when no such i)
//   backward-filter gw[o, c, a, b]:  m = o,         col = (c, a, b),   k = (n, i, j)
// Forward stores may add a bias and apply an activation (the fused epilogue). These index maps are
// the whole difference between the three; kernels/cuda/conv_igemm.cu runs them on tensor cores,
// and tests/test_cuda_backend.cpp checks them on the host (a plain triple loop over these
// functions against the CPU's convolutions) as well as on the GPU.
#pragma once
#include <cstdint>

#include "conv_geom.h"
#include "tensor_view.h"

namespace mmgan::kernels {

enum class IgemmAct : int { None = 0, Relu = 1, LeakyRelu = 2 };

struct ConvFwdGemm {
  ConvGeom g;
  const float* x;
  const float* w;
  float* y;
  const float* bias = nullptr;  // [o] or none
  IgemmAct act = IgemmAct::None;
  float slope = 0;
  MMGAN_HD int64_t rows() const { return g.n * g.oh * g.ow; }
  MMGAN_HD int64_t cols() const { return g.o; }
  MMGAN_HD int64_t depth() const { return g.c * g.kh * g.kw; }
  MMGAN_HD float a(int64_t m, int64_t k) const {
    const int64_t j = m % g.ow, t = m / g.ow, i = t % g.oh, n = t / g.oh;
    const int64_t b = k % g.kw, u = k / g.kw, a = u % g.kh, c = u / g.kh;
    const int64_t ih = i * g.sh - g.ph + a, iw = j * g.sw - g.pw + b;
    if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) return 0.0f;
    return x[((n * g.c + c) * g.h + ih) * g.w + iw];
  }
  MMGAN_HD float b(int64_t k, int64_t col) const { return w[col * depth() + k]; }
  MMGAN_HD void store(int64_t m, int64_t col, float v) const {
    const int64_t j = m % g.ow, t = m / g.ow, i = t % g.oh, n = t / g.oh;
    if (bias) v += bias[col];
    if (act == IgemmAct::Relu) v = v > 0.0f ? v : 0.0f;
    if (act == IgemmAct::LeakyRelu) v = v > 0.0f ? v : v * slope;
    y[((n * g.o + col) * g.oh + i) * g.ow + j] = v;
  }
};

struct ConvBwdDataGemm {
  ConvGeom g;
  const float* gy;
  const float* w;
  float* gx;
  MMGAN_HD int64_t rows() const { return g.n * g.h * g.w; }
  MMGAN_HD int64_t cols() const { return g.c; }
  MMGAN_HD int64_t depth() const { return g.o * g.kh * g.kw; }
  MMGAN_HD float a(int64_t m, int64_t k) const {
    const int64_t wx = m % g.w, t = m / g.w, hx = t % g.h, n = t / g.h;
    const int64_t b = k % g.kw, u = k / g.kw, a = u % g.kh, o = u / g.kh;
    const int64_t ih = hx + g.ph - a, iw = wx + g.pw - b;  // = i * sh, j * sw
    if (ih < 0 || iw < 0 || ih % g.sh != 0 || iw % g.sw != 0) return 0.0f;
    const int64_t i = ih / g.sh, j = iw / g.sw;
    if (i >= g.oh || j >= g.ow) return 0.0f;
    return gy[((n * g.o + o) * g.oh + i) * g.ow + j];
  }
  MMGAN_HD float b(int64_t k, int64_t col) const {
    const int64_t b = k % g.kw, u = k / g.kw, a = u % g.kh, o = u / g.kh;
    return w[((o * g.c + col) * g.kh + a) * g.kw + b];
  }
  MMGAN_HD void store(int64_t m, int64_t col, float v) const {
    const int64_t wx = m % g.w, t = m / g.w, hx = t % g.h, n = t / g.h;
    gx[((n * g.c + col) * g.h + hx) * g.w + wx] = v;
  }
};

struct ConvBwdFilterGemm {
  ConvGeom g;
  const float* x;
  const float* gy;
  float* gw;
  MMGAN_HD int64_t rows() const { return g.o; }
  MMGAN_HD int64_t cols() const { return g.c * g.kh * g.kw; }
  MMGAN_HD int64_t depth() const { return g.n * g.oh * g.ow; }
  MMGAN_HD float a(int64_t m, int64_t k) const {
    const int64_t j = k % g.ow, t = k / g.ow, i = t % g.oh, n = t / g.oh;
    return gy[((n * g.o + m) * g.oh + i) * g.ow + j];
  }
  MMGAN_HD float b(int64_t k, int64_t col) const {
    const int64_t j = k % g.ow, t = k / g.ow, i = t % g.oh, n = t / g.oh;
    const int64_t bb = col % g.kw, u = col / g.kw, a = u % g.kh, c = u / g.kh;
    const int64_t ih = i * g.sh - g.ph + a, iw = j * g.sw - g.pw + bb;
    if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) return 0.0f;
    return x[((n * g.c + c) * g.h + ih) * g.w + iw];
  }
  MMGAN_HD void store(int64_t m, int64_t col, float v) const { gw[m * cols() + col] = v; }
};

}  // namespace mmgan::kernels
