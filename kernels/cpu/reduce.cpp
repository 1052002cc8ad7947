// Reductions: sum/max/min over the middle axis of [outer, r, inner], and the per-sample
// gradient-norm rows (L1, L2, L-infinity, smooth max, logsumexp) of [n, d].
// Checked by tests/test_ops.cpp against finite differences and tests/test_parity_torch.cpp.
#include <cmath>
#include <limits>

#include "kernels/cpu/cpu_kernels.h"

namespace mmgan::kernels::cpu {
namespace {

template <class T>
void reduce_t(ReduceOp op, const T* x, int64_t outer, int64_t r, int64_t inner, T* out) {
  const int64_t total = outer * inner;
#pragma omp parallel for schedule(static) if (total * r >= (1 << 15))
  for (int64_t oi = 0; oi < total; ++oi) {
    const int64_t o = oi / inner, i = oi % inner;
    const T* p = x + o * r * inner + i;
    if (op == ReduceOp::Sum) {
      double acc = 0;  // double accumulation: float32 sums stay accurate for long rows
      for (int64_t k = 0; k < r; ++k) acc += double(p[k * inner]);
      out[oi] = T(acc);
    } else {
      T acc = r > 0 ? p[0] : T(0);
      for (int64_t k = 1; k < r; ++k) {
        const T v = p[k * inner];
        if (op == ReduceOp::Max ? (v > acc || std::isnan(v)) : (v < acc || std::isnan(v))) acc = v;
      }
      out[oi] = acc;
    }
  }
}

template <class T>
void row_reduce_t(RowOp op, double s, const T* x, int64_t n, int64_t d, T* out) {
#pragma omp parallel for schedule(static) if (n * d >= (1 << 15))
  for (int64_t row = 0; row < n; ++row) {
    const T* p = x + row * d;
    double acc = 0;
    switch (op) {
      case RowOp::L1:
        for (int64_t k = 0; k < d; ++k) acc += std::fabs(double(p[k]));
        break;
      case RowOp::L2:
        for (int64_t k = 0; k < d; ++k) acc += double(p[k]) * double(p[k]);
        acc = std::sqrt(acc);
        break;
      case RowOp::LInf:
        for (int64_t k = 0; k < d; ++k) {  // a NaN entry makes the norm NaN (fmax would drop it)
          const double a = std::fabs(double(p[k]));
          if (a > acc || a != a) acc = a;
        }
        break;
      case RowOp::SmoothMax:
      case RowOp::LogSumExp: {
        // Shift by the max so exp never overflows; the shift cancels in both formulas.
        const double c = op == RowOp::SmoothMax ? s : 1.0;
        double m = -std::numeric_limits<double>::infinity();
        for (int64_t k = 0; k < d; ++k) m = std::fmax(m, c * double(p[k]));
        double num = 0, den = 0;
        for (int64_t k = 0; k < d; ++k) {
          const double e = std::exp(c * double(p[k]) - m);
          den += e;
          num += double(p[k]) * e;
        }
        acc = op == RowOp::SmoothMax ? num / den : m + std::log(den);
        break;
      }
    }
    out[row] = T(acc);
  }
}

}  // namespace

void reduce(ReduceOp op, const View& x, int64_t outer, int64_t r, int64_t inner, const View& out) {
  with_dtype(x.dtype, [&](auto t) {
    using T = decltype(t);
    reduce_t<T>(op, x.ptr<T>(), outer, r, inner, out.ptr<T>());
  });
}

void row_reduce(RowOp op, double param, const View& x, int64_t n, int64_t d, const View& out) {
  with_dtype(x.dtype, [&](auto t) {
    using T = decltype(t);
    row_reduce_t<T>(op, param, x.ptr<T>(), n, d, out.ptr<T>());
  });
}

}  // namespace mmgan::kernels::cpu
