// The geometry of 2-d pooling and bilinear resizing, shared by every backend's kernels (host and
// device), so the CPU reference and the CUDA kernels pick the same windows, argmax and taps.
//
// Pooling maps x [N, C, H, W] to y [N, C, OH, OW]; output cell (i, j) reads the input rows and
// columns pool_window() gives:
//   fixed windows (max_pool2d, avg_pool2d): rows i*sh - ph .. i*sh - ph + kh - 1, clipped to the
//     input (padding is -inf for max, excluded or counted as zeros for averages);
//   adaptive windows (adaptive_avg_pool2d): rows floor(i*H/OH) .. ceil((i+1)*H/OH) - 1.
// Averages divide by padded_h * padded_w (count_include_pad) or by the in-bounds count. The max
// pool's argmax is the first maximum in row-major window order; a NaN wins (the last NaN), as in
// PyTorch's CPU kernel.
//
// Bilinear resize (F.interpolate(mode="bilinear", align_corners=False)): output index i reads
// input indices i0, i1 with weights l0, l1 from linear_tap(), computed in the tensor's precision
// exactly as PyTorch does (src = (in/out) * (i + 0.5) - 0.5, clamped at 0).
// Checked through the ops in tests/test_ops.cpp (gradcheck, PyTorch parity) and, CUDA against the
// CPU, in tests/test_cuda_backend.cpp.
#pragma once
#include <cstdint>
#include <limits>

#include "kernels/tensor_view.h"

namespace mmgan::kernels {

// Linear index k of a contiguous [planes, rows, cols] tensor -> (plane, row, col); Idx is the
// kernels' index type (32-bit on the GPU when the tensor allows).
template <class Idx>
MMGAN_HD inline void split_index(Idx k, Idx rows, Idx cols, int64_t& p, int64_t& r, int64_t& c) {
  const Idx q = k / cols, pl = q / rows;
  c = int64_t(k - q * cols), r = int64_t(q - pl * rows), p = int64_t(pl);
}

struct PoolGeom {
  int64_t n = 0, c = 0, h = 0, w = 0;                      // input
  int64_t oh = 0, ow = 0;                                  // output
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0;  // fixed windows
  bool adaptive = false;                                   // adaptive windows instead of fixed ones
  bool count_include_pad = true;                           // averages: divide by the padded window size
  int64_t planes() const { return n * c; }
};

// One output index's window along one dimension: input indices [lo, hi), and the window's extent
// counting padding (equal to hi - lo for adaptive windows).
struct Window1d {
  int64_t lo, hi, padded;
};

MMGAN_HD inline Window1d pool_window(int64_t i, int64_t in, int64_t out, int64_t k, int64_t s, int64_t p,
                                     bool adaptive) {
  if (adaptive) {
    const int64_t lo = i * in / out, hi = ((i + 1) * in + out - 1) / out;
    return {lo, hi, hi - lo};
  }
  const int64_t start = i * s - p;
  const int64_t end = start + k < in + p ? start + k : in + p;
  return {start > 0 ? start : 0, end < in ? end : in, end - start};
}
MMGAN_HD inline Window1d pool_rows(const PoolGeom& g, int64_t i) {
  return pool_window(i, g.h, g.oh, g.kh, g.sh, g.ph, g.adaptive);
}
MMGAN_HD inline Window1d pool_cols(const PoolGeom& g, int64_t j) {
  return pool_window(j, g.w, g.ow, g.kw, g.sw, g.pw, g.adaptive);
}
MMGAN_HD inline int64_t pool_divisor(const PoolGeom& g, const Window1d& r, const Window1d& c) {
  return g.count_include_pad ? r.padded * c.padded : (r.hi - r.lo) * (c.hi - c.lo);
}

// The output indices [*first, *last) whose windows contain input index y (exact: windows are
// intervals whose ends never decrease with the output index).
MMGAN_HD inline void pool_covering(int64_t y, int64_t in, int64_t out, int64_t k, int64_t s, int64_t p, bool adaptive,
                                   int64_t* first, int64_t* last) {
  if (adaptive) {
    *first = y * out / in;
    const int64_t l = ((y + 1) * out + in - 1) / in;
    *last = l < out ? l : out;
    return;
  }
  const int64_t num = y + p - k;  // window i covers y iff i*s - p <= y < i*s - p + k
  *first = num < 0 ? 0 : num / s + 1;
  const int64_t l = (y + p) / s + 1;
  *last = l < out ? l : out;
}

// The first maximum of the window of output (i, j) in the plane xp (row-major order; a NaN wins),
// as an index into the plane.
template <class T>
MMGAN_HD inline int64_t pool_argmax(const T* xp, int64_t w, const Window1d& r, const Window1d& c) {
  int64_t best = r.lo * w + c.lo;
  T m = -std::numeric_limits<T>::infinity();
  for (int64_t a = r.lo; a < r.hi; ++a)
    for (int64_t b = c.lo; b < c.hi; ++b) {
      const T v = xp[a * w + b];
      if (v > m || v != v) m = v, best = a * w + b;
    }
  return best;
}

struct ResizeGeom {
  int64_t n = 0, c = 0, h = 0, w = 0;  // input
  int64_t oh = 0, ow = 0;              // output
  int64_t planes() const { return n * c; }
};

// Output index i reads input indices i0 and i1 (i1 = i0 + 1, or i0 at the last index) with
// weights l0 + l1 = 1.
template <class T>
struct LinearTap {
  int64_t i0, i1;
  T l0, l1;
};

template <class T>
MMGAN_HD inline LinearTap<T> linear_tap(int64_t i, int64_t in, int64_t out) {
  if (in == out) return {i, i, T(1), T(0)};
  const T scale = T(in) / T(out);
  T src = scale * (T(i) + T(0.5)) - T(0.5);
  if (src < T(0)) src = T(0);
  const int64_t i0 = int64_t(src);
  T l1 = src - T(i0);
  if (l1 > T(1)) l1 = T(1);
  return {i0, i0 < in - 1 ? i0 + 1 : i0, T(1) - l1, l1};
}

// A range [*first, *last) of output indices that holds every output whose taps read input index
// y (a superset: callers test each with linear_tap, so rounding here never loses a tap).
MMGAN_HD inline void linear_taps_reading(int64_t y, int64_t in, int64_t out, int64_t* first, int64_t* last) {
  // An output reads y when i0 is y - 1 or y, and i0(i) is within 1 of (i + 0.5) in/out - 0.5
  // unless that is clamped to 0 (those outputs read indices 0 and 1).
  const double r = double(out) / double(in);
  const int64_t f = int64_t((double(y) - 0.5) * r - 0.5) - 2, l = int64_t((double(y) + 1.5) * r - 0.5) + 3;
  *first = f > 0 && y > 1 ? f : 0;
  *last = l < out ? l : out;
}

}  // namespace mmgan::kernels
