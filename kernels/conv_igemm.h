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

#include "kernels/conv_geom.h"
#include "kernels/tensor_view.h"

namespace mmgan::kernels {

// A flat index split into (outer, row, column) of an [outer, rows, cols] grid, and a kernel tap
// index into (channel, tap row, tap column).
struct Idx3 {
  int64_t outer, row, col;
};
MMGAN_HD inline Idx3 split3(int64_t flat, int64_t rows, int64_t cols) {
  const int64_t t = flat / cols;
  return {t / rows, t % rows, flat % cols};
}

// x[n, c, i sh - ph + a, j sw - pw + b], zero outside x: what tap (c, a, b) of output pixel
// pix = (n, i, j) reads.
MMGAN_HD inline float input_tap(const ConvGeom& g, const float* x, const Idx3& pix, const Idx3& tap) {
  const int64_t ih = pix.row * g.sh - g.ph + tap.row, iw = pix.col * g.sw - g.pw + tap.col;
  if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) return 0.0f;
  return x[((pix.outer * g.c + tap.outer) * g.h + ih) * g.w + iw];
}

struct ConvFwdGemm {
  ConvGeom g;
  const float* x;
  const float* w;
  float* y;
  const float* bias = nullptr;  // [o] or none
  Act act = Act::None;
  float slope = 0;
  MMGAN_HD int64_t rows() const { return g.n * g.oh * g.ow; }
  MMGAN_HD int64_t cols() const { return g.o; }
  MMGAN_HD int64_t depth() const { return g.c * g.kh * g.kw; }
  MMGAN_HD float a(int64_t m, int64_t k) const {
    const Idx3 pix = split3(m, g.oh, g.ow);
    return input_tap(g, x, pix, split3(k, g.kh, g.kw));
  }
  MMGAN_HD float b(int64_t k, int64_t col) const { return w[col * depth() + k]; }
  MMGAN_HD void store(int64_t m, int64_t col, float v) const {
    const Idx3 pix = split3(m, g.oh, g.ow);
    if (bias) v += bias[col];
    v = activate(act, v, slope);
    y[((pix.outer * g.o + col) * g.oh + pix.row) * g.ow + pix.col] = v;
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
    const Idx3 px = split3(m, g.h, g.w), tap = split3(k, g.kh, g.kw);
    const int64_t ih = px.row + g.ph - tap.row, iw = px.col + g.pw - tap.col;  // = i sh, j sw
    if (ih < 0 || iw < 0 || ih % g.sh != 0 || iw % g.sw != 0) return 0.0f;
    const int64_t i = ih / g.sh, j = iw / g.sw;
    if (i >= g.oh || j >= g.ow) return 0.0f;
    return gy[((px.outer * g.o + tap.outer) * g.oh + i) * g.ow + j];
  }
  MMGAN_HD float b(int64_t k, int64_t col) const {
    const Idx3 tap = split3(k, g.kh, g.kw);
    return w[((tap.outer * g.c + col) * g.kh + tap.row) * g.kw + tap.col];
  }
  MMGAN_HD void store(int64_t m, int64_t col, float v) const {
    const Idx3 px = split3(m, g.h, g.w);
    gx[((px.outer * g.c + col) * g.h + px.row) * g.w + px.col] = v;
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
    const Idx3 pix = split3(k, g.oh, g.ow);
    return gy[((pix.outer * g.o + m) * g.oh + pix.row) * g.ow + pix.col];
  }
  MMGAN_HD float b(int64_t k, int64_t col) const {
    const Idx3 pix = split3(k, g.oh, g.ow);
    return input_tap(g, x, pix, split3(col, g.kh, g.kw));
  }
  MMGAN_HD void store(int64_t m, int64_t col, float v) const { gw[m * cols() + col] = v; }
};

}  // namespace mmgan::kernels
