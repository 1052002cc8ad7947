// Elementwise CUDA kernels: unary maps, broadcast binary maps, where, strided copy/cast and fill,
// with the semantics of kernels/cpu/elementwise.cpp and the formulas of scalar_ops.h (shared with
// the CPU). The host merges the operands' dimensions with make_iter (strided_iter.h); a fully
// contiguous iteration space takes a vectorised 16-byte path, a 1-d strided one a multiply per
// operand, anything else a grid-stride kernel that turns the linear index into per-operand offsets
// (32-bit index arithmetic when the element count and every operand's offset span fit).
// Checked call by call against the CPU backend by tests/test_cuda_backend.cpp; timed in
// tools/bench_kernels.cu.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>

#include "kernels/scalar_ops.h"
#include "kernels/strided_iter.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/cuda_kernels.h"

namespace mmgan::kernels::cuda {
namespace {

// The input pointers of one launch (at least one slot so that fill, with none, still compiles).
template <class S, int NIN>
struct Ptrs {
  const S* p[NIN > 0 ? NIN : 1];
};

template <class T, int V>
struct alignas(sizeof(T) * V) Vec {
  T v[V];
};

// ---- The per-element functions: each maps the NIN input values of one element to the output.

template <class T>
struct UnaryF {
  UnaryOp op;
  T a, b;
  __device__ __forceinline__ T operator()(const T* v) const { return apply_unary<T>(op, v[0], a, b); }
};

template <class T>
struct BinaryF {
  BinaryOp op;
  __device__ __forceinline__ T operator()(const T* v) const { return apply_binary<T>(op, v[0], v[1]); }
};

template <class T>
struct WhereF {  // inputs: cond, a, b (cond read in out's dtype, as on the CPU)
  __device__ __forceinline__ T operator()(const T* v) const { return v[0] != T(0) ? v[1] : v[2]; }
};

template <class S, class D>
struct CastF {
  __device__ __forceinline__ D operator()(const S* v) const { return D(v[0]); }
};

template <class T>
struct FillF {
  T value;
  __device__ __forceinline__ T operator()(const T*) const { return value; }
};

// ---- Kernels.

// Every operand contiguous over n elements. VEC elements per vector access (16 bytes for the
// wider of S and D; all pointers checked on the host to be aligned to their vector size), then
// a scalar tail. VEC == 1 is the plain contiguous kernel for unaligned pointers.
template <class D, class S, int NIN, int VEC, class F>
__global__ void __launch_bounds__(kThreads) contig_kernel(F f, D* out, Ptrs<S, NIN> in, int64_t n) {
  const int64_t tid = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  const int64_t nvec = n / VEC;
  for (int64_t j = tid; j < nvec; j += stride) {
    Vec<S, VEC> xs[NIN > 0 ? NIN : 1];
#pragma unroll
    for (int k = 0; k < NIN; ++k) xs[k] = reinterpret_cast<const Vec<S, VEC>*>(in.p[k])[j];
    Vec<D, VEC> y;
#pragma unroll
    for (int l = 0; l < VEC; ++l) {
      S v[NIN > 0 ? NIN : 1];
#pragma unroll
      for (int k = 0; k < NIN; ++k) v[k] = xs[k].v[l];
      y.v[l] = f(v);
    }
    reinterpret_cast<Vec<D, VEC>*>(out)[j] = y;
  }
  if (VEC > 1) {
    for (int64_t i = nvec * VEC + tid; i < n; i += stride) {
      S v[NIN > 0 ? NIN : 1];
#pragma unroll
      for (int k = 0; k < NIN; ++k) v[k] = in.p[k][i];
      out[i] = f(v);
    }
  }
}

template <int N>
struct Strides1d {
  int64_t s[N];
};

// A 1-d iteration space with arbitrary strides (stride 0: a broadcast scalar).
template <class D, class S, int NIN, class F>
__global__ void __launch_bounds__(kThreads)
    strided1d_kernel(F f, D* out, Ptrs<S, NIN> in, Strides1d<NIN + 1> st, int64_t n) {
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    S v[NIN > 0 ? NIN : 1];
#pragma unroll
    for (int k = 0; k < NIN; ++k) v[k] = in.p[k][i * st.s[k + 1]];
    out[i * st.s[0]] = f(v);
  }
}

// Linear index -> per-operand element offsets over a merged iteration space (innermost dim first).
// Idx: unsigned type of the linear index and sizes; Off: signed type of strides and offsets.
template <int N, class Idx, class Off>
struct OffsetCalc {
  int ndim;
  Idx sizes[kMaxDims];
  Off strides[N][kMaxDims];

  __device__ __forceinline__ void get(Idx linear, Off (&off)[N]) const {
#pragma unroll
    for (int o = 0; o < N; ++o) off[o] = 0;
#pragma unroll
    for (int d = 0; d < kMaxDims; ++d) {
      if (d == ndim) break;
      Idx idx;
      if (d == ndim - 1) {
        idx = linear;  // the outermost dimension: no division needed
      } else {
        const Idx q = linear / sizes[d];
        idx = linear - q * sizes[d];
        linear = q;
      }
#pragma unroll
      for (int o = 0; o < N; ++o) off[o] += Off(idx) * strides[o][d];
    }
  }
};

template <class D, class S, int NIN, class Idx, class Off, class F>
__global__ void __launch_bounds__(kThreads)
    nd_kernel(F f, D* out, Ptrs<S, NIN> in, OffsetCalc<NIN + 1, Idx, Off> oc, Idx n) {
  const Idx stride = Idx(blockDim.x) * gridDim.x;  // n < 2^31 when Idx is 32-bit: i + stride cannot wrap
  for (Idx i = Idx(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    Off off[NIN + 1];
    oc.get(i, off);
    S v[NIN > 0 ? NIN : 1];
#pragma unroll
    for (int k = 0; k < NIN; ++k) v[k] = in.p[k][off[k + 1]];
    out[off[0]] = f(v);
  }
}

// ---- Host launchers.

template <class D, class S, int NIN, class F>
void launch_contig(cudaStream_t s, const F& f, D* out, const Ptrs<S, NIN>& in, int64_t n) {
  if (n <= 0) return;
  constexpr int kVec = int(16 / (sizeof(D) > sizeof(S) ? sizeof(D) : sizeof(S)));
  bool aligned = reinterpret_cast<uintptr_t>(out) % (sizeof(D) * kVec) == 0;
  for (int k = 0; k < NIN; ++k) aligned = aligned && reinterpret_cast<uintptr_t>(in.p[k]) % (sizeof(S) * kVec) == 0;
  if (aligned && n >= kVec) {
    contig_kernel<D, S, NIN, kVec><<<blocks_for((n + kVec - 1) / kVec), kThreads, 0, s>>>(f, out, in, n);
  } else {
    contig_kernel<D, S, NIN, 1><<<blocks_for(n), kThreads, 0, s>>>(f, out, in, n);
  }
  MMGAN_CUDA_CHECK_LAUNCH();
}

template <class D, class S, int NIN, class Idx, class Off, class F>
void launch_nd(cudaStream_t s, const F& f, D* out, const Ptrs<S, NIN>& in, const Iter& it, int64_t n) {
  OffsetCalc<NIN + 1, Idx, Off> oc;
  oc.ndim = it.ndim;
  for (int j = 0; j < kMaxDims; ++j) {
    const bool used = j < it.ndim;
    const int d = it.ndim - 1 - j;  // reversed: innermost first
    oc.sizes[j] = used ? Idx(it.sizes[d]) : Idx(1);
    for (int o = 0; o < NIN + 1; ++o) oc.strides[o][j] = used ? Off(it.strides[o][d]) : Off(0);
  }
  nd_kernel<D, S, NIN, Idx, Off><<<blocks_for(n), kThreads, 0, s>>>(f, out, in, oc, Idx(n));
  MMGAN_CUDA_CHECK_LAUNCH();
}

// out (arbitrarily strided) = f(ins...), every operand with out's sizes (stride 0 = broadcast).
template <class D, class S, int NIN, class F>
void launch(cudaStream_t s, const F& f, const View& out, const View* const* ins) {
  const int64_t n = out.numel();
  if (n <= 0) return;
  const View* ops[NIN + 1];
  ops[0] = &out;
  for (int k = 0; k < NIN; ++k) ops[k + 1] = ins[k];
  const Iter it = make_iter(ops, NIN + 1);
  D* po = out.ptr<D>();
  Ptrs<S, NIN> in{};
  for (int k = 0; k < NIN; ++k) in.p[k] = ins[k]->ptr<S>();

  if (it.ndim == 1) {
    bool contig = true;
    for (int o = 0; o < NIN + 1; ++o) contig = contig && it.strides[o][0] == 1;
    if (contig) {
      launch_contig<D, S, NIN>(s, f, po, in, n);
      return;
    }
    Strides1d<NIN + 1> st;
    for (int o = 0; o < NIN + 1; ++o) st.s[o] = it.strides[o][0];
    strided1d_kernel<D, S, NIN><<<blocks_for(n), kThreads, 0, s>>>(f, po, in, st, n);
    MMGAN_CUDA_CHECK_LAUNCH();
    return;
  }

  // 32-bit index arithmetic when the linear index and every operand's offset range fit.
  bool small = n <= int64_t(INT32_MAX);
  for (int o = 0; o < NIN + 1 && small; ++o) {
    int64_t span = 0;
    for (int d = 0; d < it.ndim; ++d) span += (it.sizes[d] - 1) * std::llabs(static_cast<long long>(it.strides[o][d]));
    small = span <= int64_t(INT32_MAX);
  }
  if (small)
    launch_nd<D, S, NIN, uint32_t, int32_t>(s, f, po, in, it, n);
  else
    launch_nd<D, S, NIN, uint64_t, int64_t>(s, f, po, in, it, n);
}

template <class T>
void unary_t(cudaStream_t s, UnaryOp op, T a, T b, const View& x, const View& y) {
  Ptrs<T, 1> in{};
  in.p[0] = x.ptr<T>();
  launch_contig<T, T, 1>(s, UnaryF<T>{op, a, b}, y.ptr<T>(), in, y.numel());
}

template <class T>
void binary_t(cudaStream_t s, BinaryOp op, const View& a, const View& b, const View& out) {
  const View* ins[2] = {&a, &b};
  launch<T, T, 2>(s, BinaryF<T>{op}, out, ins);
}

template <class T>
void where_t(cudaStream_t s, const View& c, const View& a, const View& b, const View& out) {
  const View* ins[3] = {&c, &a, &b};
  launch<T, T, 3>(s, WhereF<T>{}, out, ins);
}

template <class S, class D>
void copy_t(cudaStream_t s, const View& src, const View& dst) {
  const View* ins[1] = {&src};
  launch<D, S, 1>(s, CastF<S, D>{}, dst, ins);
}

template <class T>
void fill_t(cudaStream_t s, const View& dst, T value) {
  const int64_t n = dst.numel();
  if (n <= 0) return;
  if (dst.contiguous() && value == T(0) && !std::signbit(value)) {  // +0 is all-zero bytes
    MMGAN_CUDA_CHECK(cudaMemsetAsync(dst.data, 0, size_t(n) * sizeof(T), s));
    return;
  }
  launch<T, T, 0>(s, FillF<T>{value}, dst, nullptr);
}

}  // namespace

void unary(cudaStream_t s, UnaryOp op, double a, double b, const View& x, const View& y) {
  with_dtype(x.dtype, [&](auto t) {
    using T = decltype(t);
    unary_t<T>(s, op, T(a), T(b), x, y);
  });
}

void binary(cudaStream_t s, BinaryOp op, const View& a, const View& b, const View& out) {
  with_dtype(out.dtype, [&](auto t) { binary_t<decltype(t)>(s, op, a, b, out); });
}

void where(cudaStream_t s, const View& cond, const View& a, const View& b, const View& out) {
  with_dtype(out.dtype, [&](auto t) { where_t<decltype(t)>(s, cond, a, b, out); });
}

void copy(cudaStream_t s, const View& src, const View& dst) {
  const int64_t n = dst.numel();
  if (n <= 0) return;
  if (src.dtype == dst.dtype && src.contiguous() && dst.contiguous()) {
    const size_t bytes = size_t(n) * dtype_size(dst.dtype);
    MMGAN_CUDA_CHECK(cudaMemcpyAsync(dst.data, src.data, bytes, cudaMemcpyDeviceToDevice, s));
    return;
  }
  with_dtype(src.dtype, [&](auto from) {
    with_dtype(dst.dtype, [&](auto to) { copy_t<decltype(from), decltype(to)>(s, src, dst); });
  });
}

void fill(cudaStream_t s, const View& dst, double value) {
  with_dtype(dst.dtype, [&](auto t) { fill_t<decltype(t)>(s, dst, decltype(t)(value)); });
}

}  // namespace mmgan::kernels::cuda
