// 2-d pooling on the CPU (windows, divisors and argmax from kernels/pool_geom.h), OpenMP over the
// (n, c) planes. Window tables are built once per call. Maxima and averages are separable, so the
// forwards reduce each input row over the column windows first (one pass over x), then combine
// those rows over the row windows with contiguous, vectorisable loops; the average's adjoint does
// the same two steps transposed. Averages accumulate in double. The argmax gather and scatter
// (the max pool's derivatives) scan each window in row-major order, as PyTorch's CPU kernel does.
// Checked by tests/test_ops.cpp (gradcheck, gradgradcheck, PyTorch parity, first-maximum ties);
// timed by tools/bench_engine.cpp.
#include <algorithm>
#include <limits>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"

namespace mmgan::kernels::cpu {
namespace {

bool parallel(const PoolGeom& g) { return g.planes() * (g.h * g.w + g.oh * g.ow) >= kParallelGrain; }

struct Windows {
  std::vector<Window1d> rows, cols;
  int64_t row_lo, row_hi;  // the input rows any window reads
  int64_t col_lo, col_hi;  // the output columns whose windows hold kw input columns, unclipped
  explicit Windows(const PoolGeom& g) {
    for (int64_t i = 0; i < g.oh; ++i) rows.push_back(pool_rows(g, i));
    for (int64_t j = 0; j < g.ow; ++j) cols.push_back(pool_cols(g, j));
    row_lo = rows.front().lo, row_hi = rows.back().hi;
    col_lo = col_hi = 0;
    if (!g.adaptive) {
      col_lo = std::min((g.pw + g.sw - 1) / g.sw, g.ow);
      col_hi = g.w + g.pw >= g.kw ? std::min((g.w + g.pw - g.kw) / g.sw + 1, g.ow) : 0;
      col_hi = std::max(col_hi, col_lo);
    }
  }

  // The averages' divisors, [OH, OW].
  std::vector<double> divisors(const PoolGeom& g) const {
    std::vector<double> d(size_t(g.oh * g.ow));
    for (int64_t i = 0; i < g.oh; ++i)
      for (int64_t j = 0; j < g.ow; ++j)
        d[size_t(i * g.ow + j)] = double(pool_divisor(g, rows[size_t(i)], cols[size_t(j)]));
    return d;
  }

  // tr[j] = f folded over the window of output column j in the input row xr, from init, in
  // column order. The interior columns run with j innermost (branch-free, vectorisable).
  template <class A, class T, class F>
  void reduce_row(const PoolGeom& g, const T* xr, A* tr, A init, F f) const {
    for (int64_t j = 0; j < g.ow; ++j) tr[j] = init;
    for (int64_t b = 0; b < g.kw && col_lo < col_hi; ++b) {
      const T* xb = xr + b - g.pw;
      for (int64_t j = col_lo; j < col_hi; ++j) tr[j] = f(tr[j], A(xb[j * g.sw]));
    }
    for (int64_t j = 0; j < g.ow; ++j) {
      if (j == col_lo) j = col_hi;
      if (j >= g.ow) break;
      for (int64_t b = cols[size_t(j)].lo; b < cols[size_t(j)].hi; ++b) tr[j] = f(tr[j], A(xr[b]));
    }
  }
};

// The window maximum's value: a NaN anywhere makes it NaN, as in PyTorch. Selects only, so the
// loops vectorise (which of several NaNs wins does not matter for the value).
template <class T>
inline T max_nan(T m, T v) {
  const T r = v > m ? v : m;
  return v != v ? v : r;
}

template <class T>
void max_pool_t(const PoolGeom& g, const T* x, T* y) {
  const Windows win(g);
  const T ninf = -std::numeric_limits<T>::infinity();
#pragma omp parallel if (parallel(g))
  {
    std::vector<T> tmp(size_t(g.h * g.ow));  // row a: maxima of x's row a over each column window
#pragma omp for schedule(static)
    for (int64_t p = 0; p < g.planes(); ++p) {
      const T* xp = x + p * g.h * g.w;
      for (int64_t a = win.row_lo; a < win.row_hi; ++a)
        win.reduce_row(g, xp + a * g.w, tmp.data() + a * g.ow, ninf, max_nan<T>);
      T* yp = y + p * g.oh * g.ow;
      for (int64_t i = 0; i < g.oh; ++i) {
        T* yr = yp + i * g.ow;
        const Window1d r = win.rows[size_t(i)];
        for (int64_t j = 0; j < g.ow; ++j) yr[j] = ninf;
        for (int64_t a = r.lo; a < r.hi; ++a) {
          const T* tr = tmp.data() + a * g.ow;
          for (int64_t j = 0; j < g.ow; ++j) yr[j] = max_nan(yr[j], tr[j]);
        }
      }
    }
  }
}

// y = v at each window's argmax in x (Gather), or its adjoint gx = gy scattered there (!Gather).
// A plane belongs to one thread, so the scatter has no races.
template <class T, bool Gather>
void argmax_map_t(const PoolGeom& g, const T* x, const T* in, T* out) {
  const Windows win(g);
  const int64_t in_plane = Gather ? g.h * g.w : g.oh * g.ow, out_plane = Gather ? g.oh * g.ow : g.h * g.w;
#pragma omp parallel for schedule(static) if (parallel(g))
  for (int64_t p = 0; p < g.planes(); ++p) {
    const T* xp = x + p * g.h * g.w;
    const T* ip = in + p * in_plane;
    T* op = out + p * out_plane;
    if (!Gather)
      for (int64_t k = 0; k < out_plane; ++k) op[k] = T(0);
    for (int64_t i = 0; i < g.oh; ++i)
      for (int64_t j = 0; j < g.ow; ++j) {
        const int64_t at = pool_argmax(xp, g.w, win.rows[size_t(i)], win.cols[size_t(j)]);
        if (Gather)
          op[i * g.ow + j] = ip[at];
        else
          op[at] += ip[i * g.ow + j];
      }
  }
}

template <class T>
void avg_pool_t(const PoolGeom& g, const T* x, T* y) {
  const Windows win(g);
  const std::vector<double> div = win.divisors(g);
#pragma omp parallel if (parallel(g))
  {
    std::vector<double> tmp(size_t(g.h * g.ow)), acc(size_t(g.ow));  // row sums over column windows
#pragma omp for schedule(static)
    for (int64_t p = 0; p < g.planes(); ++p) {
      const T* xp = x + p * g.h * g.w;
      for (int64_t a = win.row_lo; a < win.row_hi; ++a)
        win.reduce_row(g, xp + a * g.w, tmp.data() + a * g.ow, 0.0, [](double s, double v) { return s + v; });
      T* yp = y + p * g.oh * g.ow;
      for (int64_t i = 0; i < g.oh; ++i) {
        const Window1d r = win.rows[size_t(i)];
        for (int64_t j = 0; j < g.ow; ++j) acc[size_t(j)] = 0;
        for (int64_t a = r.lo; a < r.hi; ++a) {
          const double* tr = tmp.data() + a * g.ow;
          for (int64_t j = 0; j < g.ow; ++j) acc[size_t(j)] += tr[j];
        }
        const double* dr = div.data() + i * g.ow;
        for (int64_t j = 0; j < g.ow; ++j) yp[i * g.ow + j] = T(acc[size_t(j)] / dr[j]);
      }
    }
  }
}

// gx[a, b] = sum of gy[i, j] / divisor(i, j) over the windows (i, j) that contain (a, b):
// gy / divisor scattered over the row windows into u [H, OW], then each row of u over the column
// windows.
template <class T>
void avg_pool_adjoint_t(const PoolGeom& g, const T* gy, T* gx) {
  const Windows win(g);
  const std::vector<double> div = win.divisors(g);
#pragma omp parallel if (parallel(g))
  {
    std::vector<double> u(size_t(g.h * g.ow)), s(size_t(g.ow)), row(size_t(g.w));
#pragma omp for schedule(static)
    for (int64_t p = 0; p < g.planes(); ++p) {
      const T* gp = gy + p * g.oh * g.ow;
      std::fill(u.begin(), u.end(), 0.0);
      for (int64_t i = 0; i < g.oh; ++i) {
        const Window1d r = win.rows[size_t(i)];
        for (int64_t j = 0; j < g.ow; ++j) s[size_t(j)] = double(gp[i * g.ow + j]) / div[size_t(i * g.ow + j)];
        for (int64_t a = r.lo; a < r.hi; ++a) {
          double* ur = u.data() + a * g.ow;
          for (int64_t j = 0; j < g.ow; ++j) ur[j] += s[size_t(j)];
        }
      }
      T* xp = gx + p * g.h * g.w;
      for (int64_t a = 0; a < g.h; ++a) {
        std::fill(row.begin(), row.end(), 0.0);
        const double* ur = u.data() + a * g.ow;
        for (int64_t j = 0; j < g.ow; ++j)
          for (int64_t b = win.cols[size_t(j)].lo; b < win.cols[size_t(j)].hi; ++b) row[size_t(b)] += ur[j];
        for (int64_t b = 0; b < g.w; ++b) xp[a * g.w + b] = T(row[size_t(b)]);
      }
    }
  }
}

}  // namespace

void max_pool2d(const PoolGeom& g, const View& x, const View& y) {
  with_dtype(x.dtype, [&](auto t) {
    using T = decltype(t);
    max_pool_t(g, x.ptr<const T>(), y.ptr<T>());
  });
}

void max_pool2d_gather(const PoolGeom& g, const View& x, const View& v, const View& y) {
  with_dtype(x.dtype, [&](auto t) {
    using T = decltype(t);
    argmax_map_t<T, true>(g, x.ptr<const T>(), v.ptr<const T>(), y.ptr<T>());
  });
}

void max_pool2d_scatter(const PoolGeom& g, const View& x, const View& gy, const View& gx) {
  with_dtype(x.dtype, [&](auto t) {
    using T = decltype(t);
    argmax_map_t<T, false>(g, x.ptr<const T>(), gy.ptr<const T>(), gx.ptr<T>());
  });
}

void avg_pool2d(const PoolGeom& g, const View& x, const View& y) {
  with_dtype(x.dtype, [&](auto t) {
    using T = decltype(t);
    avg_pool_t(g, x.ptr<const T>(), y.ptr<T>());
  });
}

void avg_pool2d_adjoint(const PoolGeom& g, const View& gy, const View& gx) {
  with_dtype(gy.dtype, [&](auto t) {
    using T = decltype(t);
    avg_pool_adjoint_t(g, gy.ptr<const T>(), gx.ptr<T>());
  });
}

}  // namespace mmgan::kernels::cpu
