// Naive references for the op rows (tests/op_cases.h): each op's forward written again as plain
// loops over host doubles, the definition from the op's documentation and nothing cleverer (no
// im2col, no fused passes, no shared geometry helpers from kernels/), so a forward formula is
// checked without PyTorch. Finite differences cannot catch a formula that is wrong in forward and
// backward alike; these can. Inputs are small, so clarity wins over speed everywhere.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "engine/mmgan.h"

namespace mmgan::ref {

// A row-major host array: the only data type of the references.
struct Arr {
  Shape shape;
  std::vector<double> v;

  Arr() = default;
  explicit Arr(Shape s, double fill = 0) : shape(std::move(s)), v(size_t(count(shape)), fill) {}
  Arr(Shape s, std::vector<double> values) : shape(std::move(s)), v(std::move(values)) {}
  static int64_t count(const Shape& s) {
    int64_t n = 1;
    for (int64_t d : s) n *= d;
    return n;
  }
  int64_t numel() const { return int64_t(v.size()); }
  int64_t size(size_t d) const { return shape[d]; }
  template <class... I>
  double& operator()(I... i) {
    return v[offset({int64_t(i)...})];
  }
  template <class... I>
  double operator()(I... i) const {
    return v[offset({int64_t(i)...})];
  }
  size_t offset(std::initializer_list<int64_t> idx) const {
    size_t o = 0, d = 0;
    for (int64_t i : idx) o = o * size_t(shape[d++]) + size_t(i);
    return o;
  }
};

inline Arr host(const Tensor& t) { return Arr(t.shape(), t.to_vector()); }

// The multi-index of linear index k in shape s, and back.
inline std::vector<int64_t> unravel(int64_t k, const Shape& s) {
  std::vector<int64_t> idx(s.size());
  for (size_t d = s.size(); d-- > 0;) idx[d] = k % s[d], k /= s[d];
  return idx;
}
inline int64_t ravel(const std::vector<int64_t>& idx, const Shape& s) {
  int64_t k = 0;
  for (size_t d = 0; d < s.size(); ++d) k = k * s[d] + idx[d];
  return k;
}

// ---- elementwise -----------------------------------------------------------------------------

template <class F>
Arr map(const Arr& x, F f) {
  Arr y(x.shape);
  for (int64_t k = 0; k < x.numel(); ++k) y.v[size_t(k)] = f(x.v[size_t(k)]);
  return y;
}
inline auto leaky(double slope) {
  return [slope](double x) { return x > 0 ? x : slope * x; };
}

// f applied to NumPy-broadcast operands: sizes aligned from the right, size-1 dimensions repeated.
template <class F>
Arr broadcast(F f, const std::vector<Arr>& xs) {
  size_t rank = 0;
  for (const Arr& x : xs) rank = std::max(rank, x.shape.size());
  Shape out(rank, 1);
  for (const Arr& x : xs)
    for (size_t d = 0; d < x.shape.size(); ++d) {
      int64_t& o = out[rank - x.shape.size() + d];
      o = std::max(o, x.shape[d]);
    }
  Arr y(out);
  std::vector<double> args(xs.size());
  for (int64_t k = 0; k < y.numel(); ++k) {
    const std::vector<int64_t> idx = unravel(k, out);
    for (size_t i = 0; i < xs.size(); ++i) {
      const Shape& s = xs[i].shape;
      std::vector<int64_t> j(s.size());
      for (size_t d = 0; d < s.size(); ++d) j[d] = s[d] == 1 ? 0 : idx[rank - s.size() + d];
      args[i] = xs[i].v[size_t(ravel(j, s))];
    }
    y.v[size_t(k)] = f(args);
  }
  return y;
}
template <class F>
Arr binary(const Arr& a, const Arr& b, F f) {
  return broadcast([f](const std::vector<double>& v) { return f(v[0], v[1]); }, {a, b});
}

// ---- reductions ----------------------------------------------------------------------------

// Folds x over `dims` (all dimensions when empty) with f, starting from init.
template <class F>
Arr reduce(const Arr& x, std::vector<int64_t> dims, bool keepdim, double init, F f) {
  const int64_t rank = int64_t(x.shape.size());
  if (dims.empty())
    for (int64_t d = 0; d < rank; ++d) dims.push_back(d);
  for (int64_t& d : dims) d = d < 0 ? d + rank : d;
  auto reduced = [&dims](int64_t d) { return std::find(dims.begin(), dims.end(), d) != dims.end(); };
  Shape kept;
  for (int64_t d = 0; d < rank; ++d) kept.push_back(reduced(d) ? 1 : x.shape[size_t(d)]);
  Arr y(kept, init);
  for (int64_t k = 0; k < x.numel(); ++k) {
    std::vector<int64_t> idx = unravel(k, x.shape);
    for (int64_t d : dims) idx[size_t(d)] = 0;
    double& acc = y.v[size_t(ravel(idx, kept))];
    acc = f(acc, x.v[size_t(k)]);
  }
  if (!keepdim) {
    Shape s;
    for (int64_t d = 0; d < rank; ++d)
      if (!reduced(d)) s.push_back(x.shape[size_t(d)]);
    y.shape = s;
  }
  return y;
}
inline Arr sum(const Arr& x, std::vector<int64_t> dims = {}, bool keepdim = false) {
  return reduce(x, std::move(dims), keepdim, 0.0, [](double a, double b) { return a + b; });
}
inline Arr amax(const Arr& x, std::vector<int64_t> dims = {}) {
  return reduce(x, std::move(dims), false, -INFINITY, [](double a, double b) { return std::max(a, b); });
}

// f(row) for each sample's values (all dimensions but the first) -> [N].
template <class F>
Arr per_sample(const Arr& x, F f) {
  const int64_t n = x.shape[0], d = x.numel() / n;
  Arr y({n});
  for (int64_t i = 0; i < n; ++i) y(i) = f(std::vector<double>(x.v.begin() + i * d, x.v.begin() + (i + 1) * d));
  return y;
}

// sum(x e^{s x}) / sum(e^{s x}) per sample.
inline Arr smooth_max(const Arr& x, double s) {
  return per_sample(x, [s](const std::vector<double>& r) {
    double num = 0, den = 0;
    for (double e : r) num += e * std::exp(s * e), den += std::exp(s * e);
    return num / den;
  });
}

// ---- shapes --------------------------------------------------------------------------------

inline Arr reshape(Arr x, Shape s) {
  x.shape = std::move(s);
  return x;
}
// y[i_0, ..., i_k] = x[j] with j[perm[d]] = i_d.
inline Arr permute(const Arr& x, const std::vector<int64_t>& perm) {
  Shape s;
  for (int64_t p : perm) s.push_back(x.shape[size_t(p)]);
  Arr y(s);
  for (int64_t k = 0; k < y.numel(); ++k) {
    const std::vector<int64_t> idx = unravel(k, s);
    std::vector<int64_t> j(idx.size());
    for (size_t d = 0; d < perm.size(); ++d) j[size_t(perm[d])] = idx[d];
    y.v[size_t(k)] = x.v[size_t(ravel(j, x.shape))];
  }
  return y;
}
inline Arr expand(const Arr& x, const Shape& s) {
  return broadcast([](const std::vector<double>& v) { return v[0]; }, {x, Arr(s)});
}
// Python's x[start:end:step] along dim (negative start and end count from the end).
inline Arr slice(const Arr& x, size_t dim, int64_t start, int64_t end, int64_t step = 1) {
  const int64_t n = x.shape[dim];
  start = start < 0 ? start + n : start, end = end < 0 ? end + n : std::min(end, n);
  std::vector<int64_t> picked;
  for (int64_t i = start; i < end; i += step) picked.push_back(i);
  Shape s = x.shape;
  s[dim] = int64_t(picked.size());
  Arr y(s);
  for (int64_t k = 0; k < y.numel(); ++k) {
    std::vector<int64_t> idx = unravel(k, s);
    idx[dim] = picked[size_t(idx[dim])];
    y.v[size_t(k)] = x.v[size_t(ravel(idx, x.shape))];
  }
  return y;
}
inline Arr concat(const Arr& a, const Arr& b, size_t dim) {
  Shape s = a.shape;
  s[dim] += b.shape[dim];
  Arr y(s);
  for (int64_t k = 0; k < y.numel(); ++k) {
    std::vector<int64_t> idx = unravel(k, s);
    const bool first = idx[dim] < a.shape[dim];
    if (!first) idx[dim] -= a.shape[dim];
    y.v[size_t(k)] = first ? a.v[size_t(ravel(idx, a.shape))] : b.v[size_t(ravel(idx, b.shape))];
  }
  return y;
}
// Every array's values, one after the other, as one vector.
inline Arr flat(const std::vector<Arr>& xs) {
  std::vector<double> v;
  for (const Arr& x : xs) v.insert(v.end(), x.v.begin(), x.v.end());
  return Arr({int64_t(v.size())}, v);
}

// ---- linear algebra ------------------------------------------------------------------------

inline Arr transpose(const Arr& a) { return permute(a, {1, 0}); }
inline Arr matmul(const Arr& a, const Arr& b) {
  Arr y({a.size(0), b.size(1)});
  for (int64_t i = 0; i < a.size(0); ++i)
    for (int64_t j = 0; j < b.size(1); ++j)
      for (int64_t k = 0; k < a.size(1); ++k) y(i, j) += a(i, k) * b(k, j);
  return y;
}
// x w^T + b.
inline Arr linear(const Arr& x, const Arr& w, const Arr& b) {
  return binary(matmul(x, transpose(w)), b, [](double p, double q) { return p + q; });
}

// ---- convolutions --------------------------------------------------------------------------

// The convolution's index relation, the one definition the three references below share: output
// (i, j) of channel o, with kernel tap (a, e) of input channel c, reads input (r, q) =
// (i sh - ph + a, j sw - pw + e) when it lies inside the H x W input (zero padding elsewhere).
// Calls f(n, c, o, i, j, a, e, r, q) for every such in-bounds tap.
template <class F>
void conv_taps(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O, int64_t OH, int64_t OW, int64_t KH, int64_t KW,
               ConvParams p, F f) {
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t i = 0; i < OH; ++i)
        for (int64_t j = 0; j < OW; ++j)
          for (int64_t c = 0; c < C; ++c)
            for (int64_t a = 0; a < KH; ++a)
              for (int64_t e = 0; e < KW; ++e) {
                const int64_t r = i * p.stride_h - p.pad_h + a, q = j * p.stride_w - p.pad_w + e;
                if (r >= 0 && r < H && q >= 0 && q < W) f(n, c, o, i, j, a, e, r, q);
              }
}
// The output size along one dimension (floor mode), for convolutions and pooling alike.
inline int64_t conv_out(int64_t in, int64_t k, int64_t s, int64_t p) { return (in + 2 * p - k) / s + 1; }

// y[n, o, i, j] = b[o] + sum over taps of x[n, c, r, q] w[o, c, a, e].
inline Arr conv2d(const Arr& x, const Arr& w, const Arr* b, ConvParams p) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), O = w.size(0), KH = w.size(2),
                KW = w.size(3);
  Arr y({N, O, conv_out(H, KH, p.stride_h, p.pad_h), conv_out(W, KW, p.stride_w, p.pad_w)});
  for (int64_t k = 0; k < y.numel(); ++k) y.v[size_t(k)] = b ? (*b)(unravel(k, y.shape)[1]) : 0.0;
  conv_taps(N, C, H, W, O, y.size(2), y.size(3), KH, KW, p,
            [&](int64_t n, int64_t c, int64_t o, int64_t i, int64_t j, int64_t a, int64_t e, int64_t r, int64_t q) {
              y(n, o, i, j) += x(n, c, r, q) * w(o, c, a, e);
            });
  return y;
}
// PyTorch's ConvTranspose2d with the output size given, the adjoint of conv2d: x [N, C, H, W] is
// the output side of a conv2d whose input side is y [N, O, OH, OW]; every tap adds
// x[n, c, i, j] w[c, o, a, e] to y[n, o, r, q]. Then the bias.
inline Arr conv_transpose2d(const Arr& x, const Arr& w, const Arr* b, ConvParams p, int64_t OH, int64_t OW) {
  const int64_t N = x.size(0), C = x.size(1), O = w.size(1);
  Arr y({N, O, OH, OW});
  for (int64_t k = 0; k < y.numel(); ++k) y.v[size_t(k)] = b ? (*b)(unravel(k, y.shape)[1]) : 0.0;
  conv_taps(N, O, OH, OW, C, x.size(2), x.size(3), w.size(2), w.size(3), p,
            [&](int64_t n, int64_t o, int64_t c, int64_t i, int64_t j, int64_t a, int64_t e, int64_t r, int64_t q) {
              y(n, o, r, q) += x(n, c, i, j) * w(c, o, a, e);
            });
  return y;
}
// The gradient of sum(conv2d(x, w) gy) w.r.t. w: gw[o, c, a, e] = sum over taps of gy[n, o, i, j] x[n, c, r, q].
inline Arr conv2d_weight(const Arr& x, const Arr& gy, int64_t KH, int64_t KW, ConvParams p) {
  const int64_t C = x.size(1), O = gy.size(1);
  Arr gw({O, C, KH, KW});
  conv_taps(x.size(0), C, x.size(2), x.size(3), O, gy.size(2), gy.size(3), KH, KW, p,
            [&](int64_t n, int64_t c, int64_t o, int64_t i, int64_t j, int64_t a, int64_t e, int64_t r, int64_t q) {
              gw(o, c, a, e) += gy(n, o, i, j) * x(n, c, r, q);
            });
  return gw;
}

// ---- normalisation -------------------------------------------------------------------------

// Per channel of x [N, C, H, W]: the mean and the biased variance.
inline std::pair<std::vector<double>, std::vector<double>> channel_moments(const Arr& x) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const double m = double(N * H * W);
  std::vector<double> mean(size_t(C), 0.0), var(size_t(C), 0.0);
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < H; ++i)
        for (int64_t j = 0; j < W; ++j) mean[size_t(c)] += x(n, c, i, j) / m;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < H; ++i)
        for (int64_t j = 0; j < W; ++j) var[size_t(c)] += std::pow(x(n, c, i, j) - mean[size_t(c)], 2) / m;
  }
  return {mean, var};
}
// y = (x - mean[c]) / sqrt(var[c] + eps) w[c] + b[c]; no affine when w, b are null.
inline Arr batch_norm(const Arr& x, const std::vector<double>& mean, const std::vector<double>& var, const Arr* w,
                      const Arr* b, double eps = 1e-5) {
  Arr y(x.shape);
  for (int64_t k = 0; k < x.numel(); ++k) {
    const int64_t c = unravel(k, x.shape)[1];
    const double xhat = (x.v[size_t(k)] - mean[size_t(c)]) / std::sqrt(var[size_t(c)] + eps);
    y.v[size_t(k)] = w ? xhat * (*w)(c) + (*b)(c) : xhat;
  }
  return y;
}
inline Arr batch_norm_train(const Arr& x, const Arr* w, const Arr* b) {
  const auto [mean, var] = channel_moments(x);
  return batch_norm(x, mean, var, w, b);
}
// The gradients (gx, gw, gb) of sum(batch_norm_train(x, w, b) g) as one vector, from the textbook
// formulas with M = N H W values per channel and xhat = (x - mean) / sqrt(var + eps):
//   gb = sum g,  gw = sum g xhat,  gx = w / sqrt(var + eps) (g - gb / M - xhat gw / M).
// With the output y of a following LeakyReLU (slope), g is first multiplied by its derivative
// (1 where y > 0, else slope). w null: no affine (w = 1).
inline Arr batch_norm_backward(const Arr& x, const Arr* w, Arr g, const Arr* y = nullptr, double slope = 0,
                               double eps = 1e-5) {
  const int64_t C = x.size(1);
  const double M = double(x.numel() / C);
  if (y) g = broadcast([slope](const std::vector<double>& v) { return v[1] > 0 ? v[0] : slope * v[0]; }, {g, *y});
  const auto [mean, var] = channel_moments(x);
  const Arr xhat = batch_norm(x, mean, var, nullptr, nullptr, eps);
  Arr gx(x.shape), gw({C}), gb({C});
  for (int64_t k = 0; k < x.numel(); ++k) {
    const int64_t c = unravel(k, x.shape)[1];
    gb(c) += g.v[size_t(k)];
    gw(c) += g.v[size_t(k)] * xhat.v[size_t(k)];
  }
  for (int64_t k = 0; k < x.numel(); ++k) {
    const int64_t c = unravel(k, x.shape)[1];
    const double scale = (w ? (*w)(c) : 1.0) / std::sqrt(var[size_t(c)] + eps);
    gx.v[size_t(k)] = scale * (g.v[size_t(k)] - gb(c) / M - xhat.v[size_t(k)] * gw(c) / M);
  }
  return flat({gx, gw, gb});
}
// w / sigma, sigma = u . (W v) with W = w's dimension `dim` moved first and the rest flattened.
inline Arr spectral_normalize(const Arr& w, const Arr& u, const Arr& v, int64_t dim) {
  std::vector<int64_t> perm{dim};
  for (int64_t d = 0; d < int64_t(w.shape.size()); ++d)
    if (d != dim) perm.push_back(d);
  const Arr wm = permute(w, perm);
  const int64_t h = wm.size(0), rest = wm.numel() / h;
  double sigma = 0;
  for (int64_t i = 0; i < h; ++i)
    for (int64_t j = 0; j < rest; ++j) sigma += u(i) * wm.v[size_t(i * rest + j)] * v(j);
  return map(w, [sigma](double e) { return e / sigma; });
}

// ---- pooling and resizing ------------------------------------------------------------------

// Rows (or columns) of output index i: start i s - p, end min(start + k, in + p) (padding
// included), and the in-bounds part [max(start, 0), min(end, in)).
struct Span {
  int64_t lo, hi, padded;
};
inline Span window(int64_t i, int64_t k, int64_t s, int64_t p, int64_t in) {
  const int64_t start = i * s - p, end = std::min(start + k, in + p);
  return {std::max<int64_t>(start, 0), std::min(end, in), end - start};
}

inline Shape pooled_shape(const Arr& x, const PoolParams& p) {
  return {x.size(0), x.size(1), conv_out(x.size(2), p.kernel_h, p.stride_h, p.pad_h),
          conv_out(x.size(3), p.kernel_w, p.stride_w, p.pad_w)};
}
// Calls f(n, c, i, j, rows, cols) for every output cell of a pooling over x.
template <class F>
void for_each_window(const Arr& x, const PoolParams& p, F f) {
  const Shape s = pooled_shape(x, p);
  for (int64_t n = 0; n < s[0]; ++n)
    for (int64_t c = 0; c < s[1]; ++c)
      for (int64_t i = 0; i < s[2]; ++i)
        for (int64_t j = 0; j < s[3]; ++j)
          f(n, c, i, j, window(i, p.kernel_h, p.stride_h, p.pad_h, x.size(2)),
            window(j, p.kernel_w, p.stride_w, p.pad_w, x.size(3)));
}
// The first maximum of a window in row-major order, as (row, column).
inline std::pair<int64_t, int64_t> argmax(const Arr& x, int64_t n, int64_t c, Span r, Span q) {
  std::pair<int64_t, int64_t> best{r.lo, q.lo};
  for (int64_t a = r.lo; a < r.hi; ++a)
    for (int64_t b = q.lo; b < q.hi; ++b)
      if (x(n, c, a, b) > x(n, c, best.first, best.second)) best = {a, b};
  return best;
}
inline Arr max_pool2d(const Arr& x, PoolParams p) {
  Arr y(pooled_shape(x, p));
  for_each_window(x, p, [&](int64_t n, int64_t c, int64_t i, int64_t j, Span r, Span q) {
    const auto [a, b] = argmax(x, n, c, r, q);
    y(n, c, i, j) = x(n, c, a, b);
  });
  return y;
}
// gy[n, c, i, j] added to gx at its window's first maximum in x.
inline Arr max_pool2d_backward(const Arr& gy, const Arr& x, PoolParams p) {
  Arr gx(x.shape);
  for_each_window(x, p, [&](int64_t n, int64_t c, int64_t i, int64_t j, Span r, Span q) {
    const auto [a, b] = argmax(x, n, c, r, q);
    gx(n, c, a, b) += gy(n, c, i, j);
  });
  return gx;
}
// The in-bounds sum over the divisor: the padded window's size, or the in-bounds count.
inline Arr avg_pool2d(const Arr& x, PoolParams p, bool count_include_pad) {
  Arr y(pooled_shape(x, p));
  for_each_window(x, p, [&](int64_t n, int64_t c, int64_t i, int64_t j, Span r, Span q) {
    double s = 0;
    for (int64_t a = r.lo; a < r.hi; ++a)
      for (int64_t b = q.lo; b < q.hi; ++b) s += x(n, c, a, b);
    y(n, c, i, j) = s / double(count_include_pad ? r.padded * q.padded : (r.hi - r.lo) * (q.hi - q.lo));
  });
  return y;
}
// Output cell (i, j) averages rows floor(i H / OH) .. ceil((i + 1) H / OH) - 1, the same for columns.
inline Arr adaptive_avg_pool2d(const Arr& x, int64_t OH, int64_t OW) {
  const int64_t H = x.size(2), W = x.size(3);
  Arr y({x.size(0), x.size(1), OH, OW});
  for (int64_t n = 0; n < x.size(0); ++n)
    for (int64_t c = 0; c < x.size(1); ++c)
      for (int64_t i = 0; i < OH; ++i)
        for (int64_t j = 0; j < OW; ++j) {
          const int64_t r0 = int64_t(std::floor(double(i * H) / double(OH)));
          const int64_t r1 = int64_t(std::ceil(double((i + 1) * H) / double(OH)));
          const int64_t c0 = int64_t(std::floor(double(j * W) / double(OW)));
          const int64_t c1 = int64_t(std::ceil(double((j + 1) * W) / double(OW)));
          double s = 0;
          for (int64_t a = r0; a < r1; ++a)
            for (int64_t b = c0; b < c1; ++b) s += x(n, c, a, b);
          y(n, c, i, j) = s / double((r1 - r0) * (c1 - c0));
        }
  return y;
}
// F.interpolate(mode="bilinear", align_corners=False): output index i samples the input at
// src = (i + 0.5) in / out - 0.5 (at least 0), between floor(src) and the next index (the last
// index repeats at the border).
inline Arr resize_bilinear(const Arr& x, int64_t OH, int64_t OW) {
  const int64_t H = x.size(2), W = x.size(3);
  struct Tap {
    int64_t i0, i1;
    double w1;
  };
  auto tap = [](int64_t i, int64_t in, int64_t out) {
    const double src = std::max(0.0, (double(i) + 0.5) * double(in) / double(out) - 0.5);
    const int64_t i0 = int64_t(std::floor(src));
    return Tap{i0, std::min(i0 + 1, in - 1), src - double(i0)};
  };
  Arr y({x.size(0), x.size(1), OH, OW});
  for (int64_t n = 0; n < x.size(0); ++n)
    for (int64_t c = 0; c < x.size(1); ++c)
      for (int64_t i = 0; i < OH; ++i)
        for (int64_t j = 0; j < OW; ++j) {
          const Tap r = tap(i, H, OH), q = tap(j, W, OW);
          y(n, c, i, j) = (1 - r.w1) * ((1 - q.w1) * x(n, c, r.i0, q.i0) + q.w1 * x(n, c, r.i0, q.i1)) +
                          r.w1 * ((1 - q.w1) * x(n, c, r.i1, q.i0) + q.w1 * x(n, c, r.i1, q.i1));
        }
  return y;
}

}  // namespace mmgan::ref
