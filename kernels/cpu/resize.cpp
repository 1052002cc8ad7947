// Bilinear resize on the CPU (taps from kernels/pool_geom.h, as F.interpolate(mode="bilinear",
// align_corners=False)), OpenMP over the (n, c) planes. The map is separable: each input row that
// any output reads is first interpolated along the columns (t = l0 x[i0] + l1 x[i1], in the
// tensor's precision, PyTorch's arithmetic), then output rows are h0 t[r0] + h1 t[r1], contiguous
// and vectorisable. The adjoint runs the two steps transposed, accumulating in double.
// Checked by tests/test_ops.cpp (gradcheck, gradgradcheck, PyTorch parity); timed by
// tools/bench_engine.cpp.
#include <algorithm>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"

namespace mmgan::kernels::cpu {
namespace {

bool parallel(const ResizeGeom& g) { return g.planes() * (g.h * g.w + g.oh * g.ow) >= kParallelGrain; }

template <class T>
struct Taps {
  std::vector<LinearTap<T>> rows, cols;
  std::vector<char> row_used;  // input rows some output reads
  explicit Taps(const ResizeGeom& g) : row_used(size_t(g.h), 0) {
    for (int64_t i = 0; i < g.oh; ++i) {
      rows.push_back(linear_tap<T>(i, g.h, g.oh));
      row_used[size_t(rows.back().i0)] = row_used[size_t(rows.back().i1)] = 1;
    }
    for (int64_t j = 0; j < g.ow; ++j) cols.push_back(linear_tap<T>(j, g.w, g.ow));
  }
};

template <class T>
void resize_t(const ResizeGeom& g, const T* x, T* y) {
  const Taps<T> taps(g);
#pragma omp parallel if (parallel(g))
  {
    std::vector<T> t(size_t(g.h * g.ow));  // input rows interpolated along the columns
#pragma omp for schedule(static)
    for (int64_t p = 0; p < g.planes(); ++p) {
      const T* xp = x + p * g.h * g.w;
      for (int64_t a = 0; a < g.h; ++a) {
        if (!taps.row_used[size_t(a)]) continue;
        const T* xr = xp + a * g.w;
        T* tr = t.data() + a * g.ow;
        for (int64_t j = 0; j < g.ow; ++j) {
          const LinearTap<T>& c = taps.cols[size_t(j)];
          tr[j] = xr[c.i0] * c.l0 + xr[c.i1] * c.l1;
        }
      }
      T* yp = y + p * g.oh * g.ow;
      for (int64_t i = 0; i < g.oh; ++i) {
        const LinearTap<T>& r = taps.rows[size_t(i)];
        const T *t0 = t.data() + r.i0 * g.ow, *t1 = t.data() + r.i1 * g.ow;
        T* yr = yp + i * g.ow;
        for (int64_t j = 0; j < g.ow; ++j) yr[j] = t0[j] * r.l0 + t1[j] * r.l1;
      }
    }
  }
}

// gx = R_rows^T gy R_cols: gy's rows weighted into u [H, OW], then each row of u spread over the
// columns.
template <class T>
void resize_adjoint_t(const ResizeGeom& g, const T* gy, T* gx) {
  const Taps<T> taps(g);
#pragma omp parallel if (parallel(g))
  {
    std::vector<double> u(size_t(g.h * g.ow)), row(size_t(g.w));
#pragma omp for schedule(static)
    for (int64_t p = 0; p < g.planes(); ++p) {
      const T* gp = gy + p * g.oh * g.ow;
      std::fill(u.begin(), u.end(), 0.0);
      for (int64_t i = 0; i < g.oh; ++i) {
        const LinearTap<T>& r = taps.rows[size_t(i)];
        const double l0 = double(r.l0), l1 = double(r.l1);
        const T* gr = gp + i * g.ow;
        double *u0 = u.data() + r.i0 * g.ow, *u1 = u.data() + r.i1 * g.ow;
        for (int64_t j = 0; j < g.ow; ++j) u0[j] += l0 * double(gr[j]);
        for (int64_t j = 0; j < g.ow; ++j) u1[j] += l1 * double(gr[j]);
      }
      T* xp = gx + p * g.h * g.w;
      for (int64_t a = 0; a < g.h; ++a) {
        std::fill(row.begin(), row.end(), 0.0);
        const double* ur = u.data() + a * g.ow;
        for (int64_t j = 0; j < g.ow; ++j) {
          const LinearTap<T>& c = taps.cols[size_t(j)];
          row[size_t(c.i0)] += double(c.l0) * ur[j];
          row[size_t(c.i1)] += double(c.l1) * ur[j];
        }
        for (int64_t b = 0; b < g.w; ++b) xp[a * g.w + b] = T(row[size_t(b)]);
      }
    }
  }
}

}  // namespace

void resize_bilinear(const ResizeGeom& g, const View& x, const View& y) {
  with_dtype(x.dtype, [&](auto t) {
    using T = decltype(t);
    resize_t(g, x.ptr<const T>(), y.ptr<T>());
  });
}

void resize_bilinear_adjoint(const ResizeGeom& g, const View& gy, const View& gx) {
  with_dtype(gy.dtype, [&](auto t) {
    using T = decltype(t);
    resize_adjoint_t(g, gy.ptr<const T>(), gx.ptr<T>());
  });
}

}  // namespace mmgan::kernels::cpu
