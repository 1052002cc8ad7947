// Elementwise CPU kernels: unary maps, broadcast binary maps, where, strided copy/cast and fill.
// Checked by tests/test_ops.cpp (gradcheck through the engine) and the PyTorch parity tests.
#include <omp.h>

#include <cstring>
#include <type_traits>

#include "kernels/scalar_ops.h"
#include "kernels/strided_iter.h"
#include "kernels/cpu/cpu_kernels.h"

namespace mmgan::kernels::cpu {
namespace {

// Calls f(offsets[nops], inner_len, inner_strides[nops]) for every row of the iteration space.
template <class F>
void for_each_row(const Iter& it, int64_t numel, F&& f) {
  const int last = it.ndim - 1;
  const int64_t inner = it.sizes[last];
  const int64_t rows = numel / (inner ? inner : 1);
  if (inner == 0 || rows == 0) return;
  int64_t inner_strides[4];
  for (int o = 0; o < it.nops; ++o) inner_strides[o] = it.strides[o][last];
#pragma omp parallel for schedule(static) if (numel >= kParallelGrain)
  for (int64_t row = 0; row < rows; ++row) {
    int64_t off[4] = {0, 0, 0, 0};
    int64_t rem = row;
    for (int d = last - 1; d >= 0; --d) {
      const int64_t idx = rem % it.sizes[d];
      rem /= it.sizes[d];
      for (int o = 0; o < it.nops; ++o) off[o] += idx * it.strides[o][d];
    }
    f(off, inner, inner_strides);
  }
}

// Calls f(std::integral_constant<Op, op>) for the runtime op: with the op a compile-time constant,
// apply_unary / apply_binary inline to one expression and the loops vectorise, which a switch
// evaluated per element prevents (measured: tools/bench_engine, elementwise rows).
template <class Op, int N, int I = 0, class F>
void with_static_op(Op op, F&& f) {
  if constexpr (I < N) {
    if (int(op) == I)
      f(std::integral_constant<Op, Op(I)>{});
    else
      with_static_op<Op, N, I + 1>(op, f);
  }
}

template <class T>
void unary_t(UnaryOp op, T a, T b, const T* x, T* y, int64_t n) {
  with_static_op<UnaryOp, kUnaryOpCount>(op, [&](auto k) {
#pragma omp parallel for schedule(static) if (n >= kParallelGrain)
    for (int64_t i = 0; i < n; ++i) y[i] = apply_unary<T>(k.value, x[i], a, b);
  });
}

template <class T>
void binary_t(BinaryOp op, const View& a, const View& b, const View& out) {
  const View* ops[3] = {&out, &a, &b};
  const Iter it = make_iter(ops, 3);
  T* po = out.ptr<T>();
  const T* pa = a.ptr<T>();
  const T* pb = b.ptr<T>();
  with_static_op<BinaryOp, kBinaryOpCount>(op, [&](auto k) {
    for_each_row(it, out.numel(), [&](const int64_t* off, int64_t len, const int64_t* s) {
      T* o = po + off[0];
      const T* x = pa + off[1];
      const T* y = pb + off[2];
      if (s[0] == 1 && s[1] == 1 && s[2] == 1) {
        for (int64_t i = 0; i < len; ++i) o[i] = apply_binary<T>(k.value, x[i], y[i]);
      } else if (s[0] == 1 && s[1] == 1 && s[2] == 0) {
        const T yv = *y;
        for (int64_t i = 0; i < len; ++i) o[i] = apply_binary<T>(k.value, x[i], yv);
      } else if (s[0] == 1 && s[1] == 0 && s[2] == 1) {
        const T xv = *x;
        for (int64_t i = 0; i < len; ++i) o[i] = apply_binary<T>(k.value, xv, y[i]);
      } else {
        for (int64_t i = 0; i < len; ++i) o[i * s[0]] = apply_binary<T>(k.value, x[i * s[1]], y[i * s[2]]);
      }
    });
  });
}

template <class T>
void where_t(const View& c, const View& a, const View& b, const View& out) {
  const View* ops[4] = {&out, &c, &a, &b};
  const Iter it = make_iter(ops, 4);
  T* po = out.ptr<T>();
  const T *pc = c.ptr<T>(), *pa = a.ptr<T>(), *pb = b.ptr<T>();
  for_each_row(it, out.numel(), [&](const int64_t* off, int64_t len, const int64_t* s) {
    for (int64_t i = 0; i < len; ++i)
      po[off[0] + i * s[0]] = pc[off[1] + i * s[1]] != T(0) ? pa[off[2] + i * s[2]] : pb[off[3] + i * s[3]];
  });
}

template <class S, class D>
void copy_t(const View& src, const View& dst) {
  const View* ops[2] = {&dst, &src};
  const Iter it = make_iter(ops, 2);
  D* pd = dst.ptr<D>();
  const S* ps = src.ptr<S>();
  for_each_row(it, dst.numel(), [&](const int64_t* off, int64_t len, const int64_t* s) {
    if constexpr (std::is_same_v<S, D>) {
      if (s[0] == 1 && s[1] == 1) {
        std::memcpy(pd + off[0], ps + off[1], size_t(len) * sizeof(D));
        return;
      }
    }
    for (int64_t i = 0; i < len; ++i) pd[off[0] + i * s[0]] = D(ps[off[1] + i * s[1]]);
  });
}

template <class T>
void fill_t(const View& dst, T value) {
  const View* ops[1] = {&dst};
  const Iter it = make_iter(ops, 1);
  T* pd = dst.ptr<T>();
  for_each_row(it, dst.numel(), [&](const int64_t* off, int64_t len, const int64_t* s) {
    for (int64_t i = 0; i < len; ++i) pd[off[0] + i * s[0]] = value;
  });
}

}  // namespace

void unary(UnaryOp op, double a, double b, const View& x, const View& y) {
  with_dtype(x.dtype, [&](auto t) {
    using T = decltype(t);
    unary_t<T>(op, T(a), T(b), x.ptr<T>(), y.ptr<T>(), y.numel());
  });
}

void binary(BinaryOp op, const View& a, const View& b, const View& out) {
  with_dtype(out.dtype, [&](auto t) { binary_t<decltype(t)>(op, a, b, out); });
}

void where(const View& c, const View& a, const View& b, const View& out) {
  with_dtype(out.dtype, [&](auto t) { where_t<decltype(t)>(c, a, b, out); });
}

void copy(const View& src, const View& dst) {
  with_dtype(src.dtype, [&](auto from) {
    with_dtype(dst.dtype, [&](auto to) { copy_t<decltype(from), decltype(to)>(src, dst); });
  });
}

void fill(const View& dst, double value) {
  with_dtype(dst.dtype, [&](auto t) { fill_t<decltype(t)>(dst, decltype(t)(value)); });
}

}  // namespace mmgan::kernels::cpu
