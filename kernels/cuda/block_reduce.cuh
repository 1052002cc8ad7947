// Warp and block reductions for 1-d blocks whose size is a multiple of 32, with the double and
// pair-of-doubles accumulators the reduction kernels share (reduce.cu, batch_norm.cu).
#pragma once
#include <cuda_runtime.h>

namespace mmgan::kernels::cuda {

constexpr unsigned kFullMask = 0xffffffffu;

struct Pair {
  double a, b;
};

__device__ __forceinline__ double shfl_down(double v, int o) { return __shfl_down_sync(kFullMask, v, o); }
__device__ __forceinline__ Pair shfl_down(Pair p, int o) {
  return Pair{__shfl_down_sync(kFullMask, p.a, o), __shfl_down_sync(kFullMask, p.b, o)};
}

struct DSum {
  __device__ static double init() { return 0.0; }
  __device__ static double combine(double a, double b) { return a + b; }
};
struct PairSum {
  __device__ static Pair init() { return Pair{0.0, 0.0}; }
  __device__ static Pair combine(Pair x, Pair y) { return Pair{x.a + y.a, x.b + y.b}; }
};

template <class Op, class Acc>
__device__ __forceinline__ Acc warp_reduce(Acc a) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) a = Op::combine(a, shfl_down(a, o));
  return a;
}

// The block's combined value, valid in thread 0. smem: 32 slots. Every thread must call it.
template <class Op, class Acc>
__device__ __forceinline__ Acc block_reduce(Acc a, Acc* smem) {
  a = warp_reduce<Op>(a);
  const int nwarps = int(blockDim.x >> 5);
  if (nwarps == 1) return a;
  const int lane = int(threadIdx.x & 31), warp = int(threadIdx.x >> 5);
  __syncthreads();  // smem may still be being read by a previous reduction
  if (lane == 0) smem[warp] = a;
  __syncthreads();
  if (warp == 0) {
    a = lane < nwarps ? smem[lane] : Op::init();
    a = warp_reduce<Op>(a);
  }
  return a;
}

// The block's combined value in every thread.
template <class Op, class Acc>
__device__ __forceinline__ Acc block_allreduce(Acc a, Acc* smem, Acc* bcast) {
  a = block_reduce<Op>(a, smem);
  if (threadIdx.x == 0) *bcast = a;
  __syncthreads();
  a = *bcast;
  __syncthreads();  // everyone has read bcast before it can be written again
  return a;
}

}  // namespace mmgan::kernels::cuda
