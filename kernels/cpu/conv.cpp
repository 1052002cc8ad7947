// 2-d convolution on the CPU: im2col / col2im around one OpenBLAS GEMM per call (the whole batch
// at once, so BLAS sees large matrices even for the 4x4 layers). The three entry points are the
// closed family of kernels/conv_geom.h:
//   conv2d:             y  = W  @ im2col(x)                 [O, CKK] x [CKK, N*P]
//                       then act(y + bias) if asked (ConvEpilogue), in the permuting copy
//   conv2d_input_grad:  gx = col2im(W^T @ gy)                (= conv_transpose2d)
//   conv2d_weight_grad: gw = gy @ im2col(x)^T                [O, N*P] x [N*P, CKK]
// gy and y are [N, O, P] in memory while GEMM wants [O, N*P]: a permuting copy bridges them
// (skipped when N = 1). The forward takes the batch in chunks whose column matrix stays under
// kColsBudget elements (Inception's early layers would need over a GB at batch 50), and runs 1x1
// stride-1 unpadded convs as one GEMM per image on x itself, with no im2col or permute. Column
// matrices and permuted copies live in per-thread scratch buffers that only grow: a fresh buffer per
// call cost a memset and page faults every time. Checked by tests/test_ops.cpp (gradcheck, gradgradcheck, PyTorch
// parity); timed by tools/bench_engine.cpp.
#include <algorithm>
#include <cstddef>
#include <memory>

#include "kernels/cpu/cpu_kernels.h"

namespace mmgan::kernels::cpu {
namespace {

constexpr int64_t kColsBudget = int64_t(1) << 24;  // elements of one forward column matrix

// Scratch memory of the calling thread, slot 0 or 1, at least n elements, contents undefined.
template <class T>
T* scratch(int slot, int64_t n) {
  struct Buffer {
    std::unique_ptr<std::byte[]> p;
    std::size_t bytes = 0;
  };
  thread_local Buffer buf[2];
  Buffer& b = buf[slot];
  const std::size_t need = std::size_t(std::max<int64_t>(n, 1)) * sizeof(T);
  if (b.bytes < need) {
    b.p.reset();  // free first: the peak is one buffer, not two
    b.p.reset(new std::byte[need]);
    b.bytes = need;
  }
  return reinterpret_cast<T*>(b.p.get());
}

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
// [O, N*P] -> [N, O, P], with the epilogue applied as it writes (act(v + bias[o]), bias optional).
template <Act A, bool kBias, class T>
void onp_to_nop(const T* src, int64_t N, int64_t O, int64_t P, const T* bias, T slope, T* dst) {
#pragma omp parallel for collapse(2) schedule(static) if (N * O * P >= (1 << 15))
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o) {
      const T b = kBias ? bias[o] : T(0);
      for (int64_t p = 0; p < P; ++p) {
        const T v = src[o * N * P + n * P + p];
        dst[(n * O + o) * P + p] = activate<A>(kBias ? v + b : v, slope);
      }
    }
}

// The epilogue in place over y [N, O, P] (the paths with no permuting copy to carry it).
template <Act A, bool kBias, class T>
void epilogue_in_place(T* y, int64_t N, int64_t O, int64_t P, const T* bias, T slope) {
#pragma omp parallel for collapse(2) schedule(static) if (N * O * P >= (1 << 15))
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o) {
      const T b = kBias ? bias[o] : T(0);
      T* row = y + (n * O + o) * P;
      for (int64_t p = 0; p < P; ++p) row[p] = activate<A>(kBias ? row[p] + b : row[p], slope);
    }
}

template <class T>
void conv2d_t(const ConvGeom& g, const T* x, const T* w, T* y, const ConvEpilogue& ep) {
  const int64_t P = g.out_pixels(), K = g.col_rows(), in_plane = g.c * g.h * g.w;
  const DType t = dtype_of<T>;
  const T* bias = static_cast<const T*>(ep.bias);
  const T slope = T(ep.slope);
  auto finish_in_place = [&](T* out, int64_t n) {
    if (ep.empty()) return;
    with_epilogue(ep, [&](auto a, auto b) {
      epilogue_in_place<decltype(a)::value, decltype(b)::value>(out, n, g.o, P, bias, slope);
    });
  };
  const bool pointwise = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0;
  if (pointwise) {
    for (int64_t n = 0; n < g.n; ++n)
      gemm(t, false, false, g.o, P, K, 1.0, w, K, x + n * in_plane, P, 0.0, y + n * g.o * P, P);
    finish_in_place(y, g.n);
    return;
  }
  const int64_t per = std::clamp<int64_t>(kColsBudget / std::max<int64_t>(K * P, 1), 1, g.n);
  for (int64_t n0 = 0; n0 < g.n; n0 += per) {
    ConvGeom c = g;
    c.n = std::min(per, g.n - n0);
    const int64_t NP = c.n * P;
    T* cols = scratch<T>(0, K * NP);
    im2col(c, x + n0 * in_plane, cols);
    T* out = y + n0 * g.o * P;
    if (c.n == 1) {
      gemm(t, false, false, g.o, NP, K, 1.0, w, K, cols, NP, 0.0, out, NP);
      finish_in_place(out, 1);
      continue;
    }
    T* tmp = scratch<T>(1, g.o * NP);
    gemm(t, false, false, g.o, NP, K, 1.0, w, K, cols, NP, 0.0, tmp, NP);
    with_epilogue(ep, [&](auto a, auto b) {
      onp_to_nop<decltype(a)::value, decltype(b)::value>(tmp, c.n, g.o, P, bias, slope, out);
    });
  }
}

// gy [N, O, P] as the [O, N*P] matrix GEMM needs: gy itself when N = 1, else a permuted copy in
// scratch slot 1.
template <class T>
const T* gy_as_matrix(const ConvGeom& g, const T* gy) {
  if (g.n == 1) return gy;
  T* tmp = scratch<T>(1, g.o * g.n * g.out_pixels());
  nop_to_onp(gy, g.n, g.o, g.out_pixels(), tmp);
  return tmp;
}

template <class T>
void input_grad_t(const ConvGeom& g, const T* gy, const T* w, T* gx) {
  const int64_t NP = g.n * g.out_pixels(), K = g.col_rows();
  const DType t = dtype_of<T>;
  const T* gyp = gy_as_matrix(g, gy);
  T* cols = scratch<T>(0, K * NP);
  gemm(t, true, false, K, NP, g.o, 1.0, w, K, gyp, NP, 0.0, cols, NP);
  col2im(g, cols, gx);
}

template <class T>
void weight_grad_t(const ConvGeom& g, const T* x, const T* gy, T* gw) {
  const int64_t NP = g.n * g.out_pixels(), K = g.col_rows();
  const DType t = dtype_of<T>;
  const T* gyp = gy_as_matrix(g, gy);
  T* cols = scratch<T>(0, K * NP);
  im2col(g, x, cols);
  gemm(t, false, true, g.o, K, NP, 1.0, gyp, NP, cols, NP, 0.0, gw, K);
}

}  // namespace

void conv2d(const ConvGeom& g, const View& x, const View& w, const View& y, const ConvEpilogue& ep) {
  with_dtype(x.dtype, [&](auto t) {
    using T = decltype(t);
    conv2d_t(g, x.ptr<T>(), w.ptr<T>(), y.ptr<T>(), ep);
  });
}
void conv2d_input_grad(const ConvGeom& g, const View& gy, const View& w, const View& gx) {
  with_dtype(gy.dtype, [&](auto t) {
    using T = decltype(t);
    input_grad_t(g, gy.ptr<T>(), w.ptr<T>(), gx.ptr<T>());
  });
}
void conv2d_weight_grad(const ConvGeom& g, const View& x, const View& gy, const View& gw) {
  with_dtype(x.dtype, [&](auto t) {
    using T = decltype(t);
    weight_grad_t(g, x.ptr<T>(), gy.ptr<T>(), gw.ptr<T>());
  });
}

}  // namespace mmgan::kernels::cpu
