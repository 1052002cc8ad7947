// Reduction CUDA kernels, the semantics of kernels/cpu/reduce.cpp: sum/max/min over the middle axis
// of a contiguous [outer, r, inner] block (sums accumulated in double; max/min return exactly the
// element the CPU's sequential scan picks: the first occurrence of the extreme value, or the last
// NaN when there is one; r == 0 gives 0), and the per-row gradient norms of a contiguous [n, d]
// block (L1, L2, L-infinity with NaN propagation, smooth max and logsumexp shifted by the row max
// exactly as on the CPU; all in double). Products are rounded separately (rounding.h) so that no
// FMA contraction changes a term the CPU computes in two roundings.
// Checked call by call against the CPU backend by tests/test_cuda_backend.cpp; timed in
// tools/bench_kernels.cu.
#include <cuda_runtime.h>
#include <math_constants.h>

#include <cstdint>
#include <optional>

#include "kernels/rounding.h"
#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/check.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/cuda_kernels.h"

namespace mmgan::kernels::cuda {
namespace {

constexpr int64_t kMaxGridX = int64_t(1) << 20;  // grid-stride loops over blocks cover the rest
constexpr int kMaxSplit = 1024;

__host__ __device__ inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

// ---- Accumulators and their warp shuffles.

template <class T>
struct ArgAcc {  // the element a max/min scan holds: value and index along r (k < 0: none yet)
  T v;
  int64_t k;
};

template <class T>
__device__ __forceinline__ ArgAcc<T> shfl_down(ArgAcc<T> x, int o) {
  ArgAcc<T> r;
  r.v = __shfl_down_sync(kFullMask, x.v, o);
  r.k = static_cast<int64_t>(__shfl_down_sync(kFullMask, static_cast<long long>(x.k), o));
  return r;
}

// ---- reduce ops: init (the identity), push (one element at index k, visited in increasing k by
// each thread), combine (any two partial results), finish (the output value).

template <class T>
struct SumOp {
  using Acc = double;
  __device__ static Acc init() { return 0.0; }
  __device__ static void push(Acc& a, T v, int64_t) { a += double(v); }
  __device__ static Acc combine(Acc a, Acc b) { return a + b; }
  __device__ static T finish(Acc a) { return T(a); }
};

// The CPU scans acc = p[0]; acc = v whenever v beats acc or v is NaN. So its result is the last
// NaN if any, else the first occurrence of the extreme value (which matters for +-0). Partial
// results carry their index so that combining them in any order picks that same element.
template <class T, bool kMax>
struct ExtremeOp {
  using Acc = ArgAcc<T>;
  __device__ static bool beats(T v, T acc) { return kMax ? v > acc : v < acc; }
  __device__ static Acc init() { return Acc{T(0), -1}; }
  __device__ static void push(Acc& a, T v, int64_t k) {
    if (a.k < 0 || beats(v, a.v) || v != v) {
      a.v = v;
      a.k = k;
    }
  }
  __device__ static Acc combine(Acc a, Acc b) {
    if (a.k < 0) return b;
    if (b.k < 0) return a;
    const bool an = a.v != a.v, bn = b.v != b.v;
    if (an || bn) {
      if (an && bn) return a.k > b.k ? a : b;
      return an ? a : b;
    }
    if (beats(a.v, b.v)) return a;
    if (beats(b.v, a.v)) return b;
    return a.k < b.k ? a : b;
  }
  __device__ static T finish(Acc a) { return a.k < 0 ? T(0) : a.v; }
};

// ---- row_reduce combiners.

struct DMaxNaN {  // max that keeps a NaN (the CPU's a > acc || a != a)
  __device__ static double init() { return 0.0; }
  __device__ static double combine(double a, double b) { return (b > a || b != b) ? b : a; }
};
struct DFMax {  // fmax: NaN-ignoring, as the CPU's row max for the shift
  __device__ static double init() { return -CUDART_INF; }
  __device__ static double combine(double a, double b) { return fmax(a, b); }
};

// ---- reduce kernels. Those that can split r over gridDim.y blocks write the partial result of
// split y to ws[y * outer * inner + output] when gridDim.y > 1 (reduce_finish_kernel combines
// them in split order), and the finished value to out otherwise.

__device__ __forceinline__ void split_range(int64_t r, int64_t& k0, int64_t& k1) {
  const int64_t nsplit = gridDim.y;
  const int64_t chunk = (r + nsplit - 1) / nsplit;
  k0 = min64(r, int64_t(blockIdx.y) * chunk);
  k1 = min64(r, k0 + chunk);
}

// inner == 1: one block per row of r (a block-wide tree reduction).
template <class T, class Op>
__global__ void __launch_bounds__(256)
    reduce_rows_kernel(const T* x, int64_t outer, int64_t r, T* out, typename Op::Acc* ws) {
  using Acc = typename Op::Acc;
  __shared__ Acc smem[32];
  int64_t k0, k1;
  split_range(r, k0, k1);
  for (int64_t o = blockIdx.x; o < outer; o += gridDim.x) {
    const T* p = x + o * r;
    Acc a = Op::init();
    for (int64_t k = k0 + threadIdx.x; k < k1; k += blockDim.x) Op::push(a, p[k], k);
    a = block_reduce<Op>(a, smem);
    if (threadIdx.x == 0) {
      if (gridDim.y == 1)
        out[o] = Op::finish(a);
      else
        ws[int64_t(blockIdx.y) * outer + o] = a;
    }
  }
}

// inner > 1, few outputs: a block covers TX consecutive inner indices of one outer index (coalesced
// along inner), its TY thread rows split r; the rows are combined through shared memory.
template <class T, class Op, int TX, int TY>
__global__ void reduce_cols_kernel(const T* x, int64_t outer, int64_t r, int64_t inner, T* out, typename Op::Acc* ws) {
  using Acc = typename Op::Acc;
  __shared__ Acc sm[TY][TX];
  const int tx = int(threadIdx.x), ty = int(threadIdx.y);
  int64_t k0, k1;
  split_range(r, k0, k1);
  const int64_t tiles = (inner + TX - 1) / TX;
  const int64_t total = outer * inner;
  for (int64_t b = blockIdx.x; b < outer * tiles; b += gridDim.x) {
    const int64_t o = b / tiles, i = (b - o * tiles) * TX + tx;
    Acc a = Op::init();
    if (i < inner) {
      const T* p = x + o * r * inner + i;
      for (int64_t k = k0 + ty; k < k1; k += TY) Op::push(a, p[k * inner], k);
    }
    sm[ty][tx] = a;
    __syncthreads();
#pragma unroll
    for (int st = TY / 2; st > 0; st >>= 1) {
      if (ty < st) sm[ty][tx] = Op::combine(sm[ty][tx], sm[ty + st][tx]);
      __syncthreads();
    }
    if (ty == 0 && i < inner) {
      if (gridDim.y == 1)
        out[o * inner + i] = Op::finish(sm[0][tx]);
      else
        ws[int64_t(blockIdx.y) * total + o * inner + i] = sm[0][tx];
    }
    __syncthreads();  // sm[0] is read before the next tile overwrites it
  }
}

// Many outputs or short r: one thread per output, scanning r in order exactly as the CPU does.
template <class T, class Op>
__global__ void __launch_bounds__(256)
    reduce_simple_kernel(const T* x, int64_t outer, int64_t r, int64_t inner, T* out) {
  const int64_t total = outer * inner;
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t oi = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; oi < total; oi += stride) {
    const int64_t o = oi / inner, i = oi - o * inner;
    const T* p = x + o * r * inner + i;
    typename Op::Acc a = Op::init();
    for (int64_t k = 0; k < r; ++k) Op::push(a, p[k * inner], k);
    out[oi] = Op::finish(a);
  }
}

template <class T, class Op>
__global__ void __launch_bounds__(256)
    reduce_finish_kernel(const typename Op::Acc* ws, int64_t total, int nsplit, T* out) {
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < total; idx += stride) {
    typename Op::Acc a = ws[idx];
    for (int sp = 1; sp < nsplit; ++sp) a = Op::combine(a, ws[int64_t(sp) * total + idx]);
    out[idx] = Op::finish(a);
  }
}

// ---- Host side.

int grid_for(int64_t work, int threads) {
  const int64_t b = (work + threads - 1) / threads;
  return int(b < 1 ? 1 : min64(b, kMaxGridX));
}

// How many blocks to split r over so that about two blocks per SM run, each with at least
// min_chunk of r. Splitting needs scratch from the Context's caching allocator, whose blocks are
// reused without synchronisation only because all of a device's work runs on its Context's
// stream: so no split unless s is that stream.
int split_count(cudaStream_t s, int64_t base_blocks, int64_t r, int64_t min_chunk, Context** ctx) {
  *ctx = nullptr;
  if (r < 2 * min_chunk) return 1;
  int dev = 0;
  MMGAN_CUDA_CHECK(cudaGetDevice(&dev));
  int sms = 0;
  MMGAN_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  const int64_t target = 2 * int64_t(sms > 0 ? sms : 1);
  if (base_blocks * 2 > target) return 1;
  const int64_t n = min64(min64((target + base_blocks - 1) / base_blocks, r / min_chunk), kMaxSplit);
  if (n < 2) return 1;
  Context& c = context(dev);
  if (c.stream() != s) return 1;
  *ctx = &c;
  return int(n);
}

template <class T, class Op, int TX>
void launch_cols(cudaStream_t s, const T* x, int64_t outer, int64_t r, int64_t inner, T* out) {
  using Acc = typename Op::Acc;
  constexpr int TY = 256 / TX;
  const int64_t total = outer * inner;
  const int64_t blocks = outer * ((inner + TX - 1) / TX);
  Context* ctx = nullptr;
  const int nsplit = split_count(s, blocks, r, int64_t(TY) * 16, &ctx);
  std::optional<DeviceBuffer> ws;
  if (nsplit > 1) ws.emplace(*ctx, size_t(nsplit) * size_t(total) * sizeof(Acc));
  Acc* wsp = ws ? static_cast<Acc*>(ws->get()) : nullptr;
  const dim3 grid(unsigned(min64(blocks, kMaxGridX)), unsigned(nsplit));
  reduce_cols_kernel<T, Op, TX, TY><<<grid, dim3(TX, TY), 0, s>>>(x, outer, r, inner, out, wsp);
  MMGAN_CUDA_CHECK_LAUNCH();
  if (nsplit > 1) {
    reduce_finish_kernel<T, Op><<<grid_for(total, 256), 256, 0, s>>>(wsp, total, nsplit, out);
    MMGAN_CUDA_CHECK_LAUNCH();
  }
}

template <class T, class Op>
void reduce_t(cudaStream_t s, const T* x, int64_t outer, int64_t r, int64_t inner, T* out) {
  using Acc = typename Op::Acc;
  const int64_t total = outer * inner;
  if (total <= 0) return;
  if (inner == 1 && r > 32) {
    const int threads = r >= 256 ? 256 : (r >= 128 ? 128 : 64);
    Context* ctx = nullptr;
    const int nsplit = split_count(s, outer, r, 2048, &ctx);
    std::optional<DeviceBuffer> ws;
    if (nsplit > 1) ws.emplace(*ctx, size_t(nsplit) * size_t(total) * sizeof(Acc));
    Acc* wsp = ws ? static_cast<Acc*>(ws->get()) : nullptr;
    const dim3 grid(unsigned(min64(outer, kMaxGridX)), unsigned(nsplit));
    reduce_rows_kernel<T, Op><<<grid, threads, 0, s>>>(x, outer, r, out, wsp);
    MMGAN_CUDA_CHECK_LAUNCH();
    if (nsplit > 1) {
      reduce_finish_kernel<T, Op><<<grid_for(total, 256), 256, 0, s>>>(wsp, total, nsplit, out);
      MMGAN_CUDA_CHECK_LAUNCH();
    }
    return;
  }
  if (inner > 1 && r > 16 && total < (int64_t(1) << 16)) {
    if (inner <= 2)
      launch_cols<T, Op, 2>(s, x, outer, r, inner, out);
    else if (inner <= 4)
      launch_cols<T, Op, 4>(s, x, outer, r, inner, out);
    else if (inner <= 8)
      launch_cols<T, Op, 8>(s, x, outer, r, inner, out);
    else if (inner <= 16)
      launch_cols<T, Op, 16>(s, x, outer, r, inner, out);
    else
      launch_cols<T, Op, 32>(s, x, outer, r, inner, out);
    return;
  }
  reduce_simple_kernel<T, Op><<<grid_for(total, 256), 256, 0, s>>>(x, outer, r, inner, out);
  MMGAN_CUDA_CHECK_LAUNCH();
}

template <class T>
void reduce_dispatch(cudaStream_t s, ReduceOp op, const View& x, int64_t outer, int64_t r, int64_t inner,
                     const View& out) {
  const T* px = x.ptr<T>();
  T* po = out.ptr<T>();
  switch (op) {
    case ReduceOp::Sum: reduce_t<T, SumOp<T>>(s, px, outer, r, inner, po); break;
    case ReduceOp::Max: reduce_t<T, ExtremeOp<T, true>>(s, px, outer, r, inner, po); break;
    case ReduceOp::Min: reduce_t<T, ExtremeOp<T, false>>(s, px, outer, r, inner, po); break;
  }
}

// ---- row_reduce: one block per row (grid-stride over rows), double accumulation.

template <class T, RowOp OP>
__global__ void __launch_bounds__(256) row_reduce_kernel(double c, const T* x, int64_t n, int64_t d, T* out) {
  __shared__ double smem_d[32];
  __shared__ Pair smem_p[32];
  __shared__ double bcast;
  for (int64_t row = blockIdx.x; row < n; row += gridDim.x) {
    const T* p = x + row * d;
    double res;
    if constexpr (OP == RowOp::L1) {
      double acc = 0;
      for (int64_t k = threadIdx.x; k < d; k += blockDim.x) acc += fabs(double(p[k]));
      res = block_reduce<DSum>(acc, smem_d);
    } else if constexpr (OP == RowOp::L2) {
      double acc = 0;
      for (int64_t k = threadIdx.x; k < d; k += blockDim.x) {
        const double v = double(p[k]);
        acc += rn::mul(v, v);
      }
      res = sqrt(block_reduce<DSum>(acc, smem_d));
    } else if constexpr (OP == RowOp::LInf) {
      double acc = 0;
      for (int64_t k = threadIdx.x; k < d; k += blockDim.x) {  // a NaN entry makes the norm NaN
        const double a = fabs(double(p[k]));
        if (a > acc || a != a) acc = a;
      }
      res = block_reduce<DMaxNaN>(acc, smem_d);
    } else {  // SmoothMax (c = s) or LogSumExp (c = 1): shift by max_k c x_k, as the CPU does
      double m = -CUDART_INF;
      for (int64_t k = threadIdx.x; k < d; k += blockDim.x) m = fmax(m, rn::mul(c, double(p[k])));
      m = block_allreduce<DFMax>(m, smem_d, &bcast);
      Pair acc{0.0, 0.0};  // a: sum x e, b: sum e
      for (int64_t k = threadIdx.x; k < d; k += blockDim.x) {
        const double v = double(p[k]);
        const double e = exp(rn::mul(c, v) - m);
        acc.b += e;
        if constexpr (OP == RowOp::SmoothMax) acc.a += rn::mul(v, e);
      }
      acc = block_reduce<PairSum>(acc, smem_p);
      if constexpr (OP == RowOp::SmoothMax)
        res = acc.a / acc.b;
      else
        res = m + log(acc.b);
    }
    if (threadIdx.x == 0) out[row] = T(res);
  }
}

template <class T, RowOp OP>
void launch_row_reduce(cudaStream_t s, double c, const View& x, int64_t n, int64_t d, const View& out) {
  const int threads = d >= 256 ? 256 : (d >= 128 ? 128 : (d >= 64 ? 64 : 32));
  row_reduce_kernel<T, OP><<<unsigned(min64(n, kMaxGridX)), threads, 0, s>>>(c, x.ptr<T>(), n, d, out.ptr<T>());
  MMGAN_CUDA_CHECK_LAUNCH();
}

template <class T>
void row_reduce_dispatch(cudaStream_t s, RowOp op, double param, const View& x, int64_t n, int64_t d, const View& out) {
  switch (op) {
    case RowOp::L1: launch_row_reduce<T, RowOp::L1>(s, 1.0, x, n, d, out); break;
    case RowOp::L2: launch_row_reduce<T, RowOp::L2>(s, 1.0, x, n, d, out); break;
    case RowOp::LInf: launch_row_reduce<T, RowOp::LInf>(s, 1.0, x, n, d, out); break;
    case RowOp::SmoothMax: launch_row_reduce<T, RowOp::SmoothMax>(s, param, x, n, d, out); break;
    case RowOp::LogSumExp: launch_row_reduce<T, RowOp::LogSumExp>(s, 1.0, x, n, d, out); break;
  }
}

}  // namespace

void reduce(cudaStream_t s, ReduceOp op, const View& x, int64_t outer, int64_t r, int64_t inner, const View& out) {
  with_dtype(x.dtype, [&](auto t) { reduce_dispatch<decltype(t)>(s, op, x, outer, r, inner, out); });
}

void row_reduce(cudaStream_t s, RowOp op, double param, const View& x, int64_t n, int64_t d, const View& out) {
  if (n <= 0) return;
  with_dtype(x.dtype, [&](auto t) { row_reduce_dispatch<decltype(t)>(s, op, param, x, n, d, out); });
}

}  // namespace mmgan::kernels::cuda
