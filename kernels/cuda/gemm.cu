// Matrix products on CUDA through cuBLAS: row-major C = alpha op(A) op(B) + beta C with leading
// dimensions, exactly kernels/cpu/gemm.cpp's meaning. cuBLAS is column-major, and a row-major
// matrix read column-major is its transpose, so the call computes C^T = op(B)^T op(A)^T: the
// operands and m, n swap places and each keeps its own transpose flag. float32 goes through
// cublasGemmEx with CUBLAS_COMPUTE_32F_FAST_TF32 when math_mode().matmul_tf32 is on and
// CUBLAS_COMPUTE_32F (IEEE fp32, no TF32) when it is off; float64 through cublasDgemm. k = 0 is
// C = beta C (BLAS: beta = 0 writes zeros without reading C), done by a small kernel instead of
// relying on cuBLAS for an empty inner dimension; m = 0 or n = 0 does nothing.
// Checked against the CPU backend by tests/test_cuda_backend.cpp (both transposes, padded leading
// dimensions, k = 0; float64 and float32 with TF32 off); timed in tools/bench_kernels.cu (BM_Gemm
// and the 8192^3 FLOP ceiling).
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <climits>
#include <cstdint>
#include <string>

#include "kernels/cuda/check.h"
#include "kernels/cuda/cuda_kernels.h"

namespace mmgan::kernels::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = int64_t(1) << 15;  // grid-stride loops cover the rest

// C[i, j] = beta C[i, j] for the row-major m x n matrix with leading dimension ldc; beta = 0 stores
// zeros (NaN and Inf in C do not survive, as in BLAS).
template <class T>
__global__ void scale_rows(T* c, int64_t m, int64_t n, int64_t ldc, T beta) {
  const int64_t total = m * n;
  for (int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = idx / n, j = idx - i * n;
    T* p = c + i * ldc + j;
    *p = beta == T(0) ? T(0) : *p * beta;
  }
}

template <class T>
void scale_c(cudaStream_t s, T* c, int64_t m, int64_t n, int64_t ldc, T beta) {
  if (beta == T(1)) return;
  int64_t blocks = (m * n + kThreads - 1) / kThreads;
  if (blocks > kMaxBlocks) blocks = kMaxBlocks;
  scale_rows<T><<<int(blocks), kThreads, 0, s>>>(c, m, n, ldc, beta);
  MMGAN_CUDA_CHECK_LAUNCH();
}

void check_int(const char* name, int64_t v) {
  if (v < 0 || v > int64_t(INT_MAX))
    throw_cuda_error(__FILE__, __LINE__, "gemm",
                     std::string(name) + " = " + std::to_string(v) + " does not fit cuBLAS's int (0.." +
                         std::to_string(INT_MAX) + ")");
}

}  // namespace

void gemm(Context& ctx, DType t, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
          const void* a, int64_t lda, const void* b, int64_t ldb, double beta, void* c, int64_t ldc) {
  check_int("m", m);
  check_int("n", n);
  check_int("k", k);
  if (m == 0 || n == 0) return;
  check_int("ldc", ldc);
  if (ldc < n)
    throw_cuda_error(__FILE__, __LINE__, "gemm",
                     "ldc = " + std::to_string(ldc) + " is smaller than n = " + std::to_string(n));
  DeviceGuard guard(ctx.device());
  if (k == 0) {  // C = beta C: an empty sum contributes nothing (cpu::gemm / BLAS semantics)
    with_dtype(t, [&](auto tag) {
      using T = decltype(tag);
      scale_c(ctx.stream(), static_cast<T*>(c), m, n, ldc, T(beta));
    });
    return;
  }
  check_int("lda", lda);
  check_int("ldb", ldb);
  // Column-major view: C^T [n x m] = op(B)^T [n x k] * op(A)^T [k x m]. B stored row-major is B^T
  // column-major, so op(B)^T is that matrix with trans_b's flag, and likewise for A.
  const cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int cm = int(n), cn = int(m), ck = int(k);
  cublasHandle_t h = ctx.cublas();  // bound to ctx.stream() by the Context
  if (t == DType::F32) {
    const float al = float(alpha), be = float(beta);
    // Compute type per call (the handle's math mode stays CUBLAS_DEFAULT_MATH): FAST_TF32 lets
    // cuBLAS round the inputs to TF32 on tensor cores; COMPUTE_32F keeps fp32 inputs and accumulation.
    const cublasComputeType_t compute = math_mode().matmul_tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    MMGAN_CUBLAS_CHECK(cublasGemmEx(h, op_b, op_a, cm, cn, ck, &al, b, CUDA_R_32F, int(ldb), a, CUDA_R_32F, int(lda),
                                    &be, c, CUDA_R_32F, int(ldc), compute, CUBLAS_GEMM_DEFAULT));
  } else {
    MMGAN_CUBLAS_CHECK(cublasDgemm(h, op_b, op_a, cm, cn, ck, &alpha, static_cast<const double*>(b), int(ldb),
                                   static_cast<const double*>(a), int(lda), &beta, static_cast<double*>(c), int(ldc)));
  }
}

}  // namespace mmgan::kernels::cuda
