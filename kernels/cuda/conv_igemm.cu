// The hand-written convolution: the three implicit GEMMs of kernels/conv_igemm.h on tensor cores
// (WMMA, TF32 inputs, float32 accumulation; sm_80 and later). A block computes a 64 x 64 tile of C
// with 4 warps of 32 x 32 (2 x 2 fragments of 16 x 16 x 8), staging 64 x 16 slices of A and
// 16 x 64 slices of B in shared memory straight from the NCHW tensors (the index maps of
// conv_igemm.h: no im2col buffer). The epilogue goes through shared memory so that consecutive
// threads store consecutive output pixels, applying the forward's bias and activation on the way.
// Small late layers (8x8 and 4x4 outputs, and every weight gradient, whose M is the output
// channels) give few tiles, so the depth is split (split-K) until the grid covers the GPU twice;
// the partial sums are added in a fixed order by a second kernel, so results are deterministic.
// Used when kernels/cuda/conv.cu finds it faster than cuDNN for a shape (and equal to it within
// TF32 precision). Checked against the CPU by tests/test_cuda_backend.cpp (its index maps also on
// the host); timed against cuDNN on every DCGAN32 conv shape by tools/bench_kernels.cu.
#include <cuda_runtime.h>
#include <mma.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "kernels/conv_igemm.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/launch.h"

namespace mmgan::kernels::cuda {
namespace {

constexpr int kBM = 64, kBN = 64, kBK = 16, kIgemmThreads = 128;
constexpr int kLdA = kBK + 4, kLdB = kBN + 4, kLdC = kBN + 4;  // padded rows (multiples of 4 floats)

template <class P>
__global__ void __launch_bounds__(kIgemmThreads) igemm_kernel(P p, int64_t k_chunk, float* partial) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  using namespace nvcuda;
  __shared__ __align__(32) float As[kBM * kLdA];
  __shared__ __align__(32) float Bs[kBK * kLdB];
  __shared__ __align__(32) float Cs[kBM * kLdC];
  const int tid = int(threadIdx.x), warp = tid / 32, wm = warp / 2, wn = warp % 2;
  const int64_t M = p.rows(), N = p.cols(), K = p.depth();
  const int64_t m0 = int64_t(blockIdx.x) * kBM, n0 = int64_t(blockIdx.y) * kBN;
  const int64_t k_begin = int64_t(blockIdx.z) * k_chunk;
  const int64_t k_end = k_begin + k_chunk < K ? k_begin + k_chunk : K;

  wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[2][2];
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.0f);

  for (int64_t k0 = k_begin; k0 < k_end; k0 += kBK) {
    // Consecutive threads take consecutive rows of A (output pixels) and columns of B.
#pragma unroll
    for (int r = 0; r < kBM * kBK / kIgemmThreads; ++r) {
      const int e = tid + r * kIgemmThreads, mm = e % kBM, kk = e / kBM;
      const int64_t m = m0 + mm, k = k0 + kk;
      As[mm * kLdA + kk] = m < M && k < k_end ? p.a(m, k) : 0.0f;
    }
#pragma unroll
    for (int r = 0; r < kBK * kBN / kIgemmThreads; ++r) {
      const int e = tid + r * kIgemmThreads, nn = e % kBN, kk = e / kBN;
      const int64_t n = n0 + nn, k = k0 + kk;
      Bs[kk * kLdB + nn] = n < N && k < k_end ? p.b(k, n) : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kBK; kk += 8) {
      wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> af[2];
      wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> bf[2];
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        wmma::load_matrix_sync(af[i], As + (wm * 32 + i * 16) * kLdA + kk, kLdA);
#pragma unroll
        for (int t = 0; t < af[i].num_elements; ++t) af[i].x[t] = wmma::__float_to_tf32(af[i].x[t]);
      }
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        wmma::load_matrix_sync(bf[j], Bs + kk * kLdB + wn * 32 + j * 16, kLdB);
#pragma unroll
        for (int t = 0; t < bf[j].num_elements; ++t) bf[j].x[t] = wmma::__float_to_tf32(bf[j].x[t]);
      }
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], af[i], bf[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j)
      wmma::store_matrix_sync(Cs + (wm * 32 + i * 16) * kLdC + wn * 32 + j * 16, acc[i][j], kLdC, wmma::mem_row_major);
  __syncthreads();
  for (int r = 0; r < kBM * kBN / kIgemmThreads; ++r) {
    const int e = tid + r * kIgemmThreads, mm = e % kBM, nn = e / kBM;
    const int64_t m = m0 + mm, n = n0 + nn;
    if (m >= M || n >= N) continue;
    const float v = Cs[mm * kLdC + nn];
    if (partial)
      partial[(int64_t(blockIdx.z) * M + m) * N + n] = v;
    else
      p.store(m, n, v);
  }
#else
  __trap();  // the host never launches this below sm_80 (igemm_supported)
#endif
}

// Adds the split-K partial sums in split order and stores them through the problem's epilogue.
template <class P>
__global__ void __launch_bounds__(256) igemm_reduce(P p, const float* partial, int splits) {
  const int64_t M = p.rows(), N = p.cols(), total = M * N;
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += stride) {
    float v = 0.0f;
    for (int z = 0; z < splits; ++z) v += partial[int64_t(z) * total + e];
    p.store(e / N, e % N, v);
  }
}

int multiprocessors(int device) {
  int n = 0;
  MMGAN_CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device));
  return n;
}

template <class P>
void run_igemm(Context& ctx, const P& p) {
  const int64_t M = p.rows(), N = p.cols(), K = p.depth();
  if (M == 0 || N == 0) return;
  const int64_t tiles_m = (M + kBM - 1) / kBM, tiles_n = (N + kBN - 1) / kBN;
  if (tiles_n > 65535 || tiles_m > int64_t(INT32_MAX))
    throw_cuda_error(__FILE__, __LINE__, "igemm",
                     "GEMM of " + std::to_string(M) + " x " + std::to_string(N) + " is too large for the grid");
  // Split the depth until the grid covers the GPU twice, keeping at least 8 k-steps per split.
  const int64_t want = 2 * int64_t(multiprocessors(ctx.device()));
  int64_t splits = std::max<int64_t>(1, want / (tiles_m * tiles_n));
  splits = std::min<int64_t>({splits, std::max<int64_t>(1, K / (8 * kBK)), 64});
  const int64_t k_chunk = ((K + splits - 1) / splits + kBK - 1) / kBK * kBK;
  splits = K == 0 ? 1 : (K + k_chunk - 1) / k_chunk;
  const dim3 grid{unsigned(tiles_m), unsigned(tiles_n), unsigned(splits)};
  if (splits == 1) {
    igemm_kernel<P><<<grid, kIgemmThreads, 0, ctx.stream()>>>(p, std::max<int64_t>(k_chunk, 1), nullptr);
    MMGAN_CUDA_CHECK_LAUNCH();
    return;
  }
  DeviceBuffer ws(ctx, std::size_t(splits * M * N) * sizeof(float));
  float* partial = static_cast<float*>(ws.get());
  igemm_kernel<P><<<grid, kIgemmThreads, 0, ctx.stream()>>>(p, k_chunk, partial);
  MMGAN_CUDA_CHECK_LAUNCH();
  igemm_reduce<P><<<blocks_for(M * N), 256, 0, ctx.stream()>>>(p, partial, int(splits));
  MMGAN_CUDA_CHECK_LAUNCH();
}

}  // namespace

bool igemm_supported(int device) {
  int major = 0;
  MMGAN_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  return major >= 8;
}

void igemm_conv2d(Context& ctx, const ConvGeom& g, const float* x, const float* w, float* y, const float* bias, Act act,
                  float slope) {
  DeviceGuard guard(ctx.device());
  ConvFwdGemm p{g, x, w, y, bias, act, slope};
  run_igemm(ctx, p);
}

void igemm_conv2d_input_grad(Context& ctx, const ConvGeom& g, const float* gy, const float* w, float* gx) {
  DeviceGuard guard(ctx.device());
  run_igemm(ctx, ConvBwdDataGemm{g, gy, w, gx});
}

void igemm_conv2d_weight_grad(Context& ctx, const ConvGeom& g, const float* x, const float* gy, float* gw) {
  DeviceGuard guard(ctx.device());
  run_igemm(ctx, ConvBwdFilterGemm{g, x, gy, gw});
}

}  // namespace mmgan::kernels::cuda
