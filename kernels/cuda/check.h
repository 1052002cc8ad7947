// Checked CUDA, cuBLAS and cuDNN calls: every call goes through MMGAN_CUDA_CHECK (or its
// siblings), which throws mmgan::kernels::CudaError naming file:line and the failing expression.
#pragma once
#include <stdexcept>
#include <string>

namespace mmgan::kernels {

struct CudaError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void throw_cuda_error(const char* file, int line, const char* expr, const std::string& what);

}  // namespace mmgan::kernels

#define MMGAN_CUDA_CHECK(expr)                                                                       \
  do {                                                                                               \
    const cudaError_t mmgan_err_ = (expr);                                                           \
    if (mmgan_err_ != cudaSuccess)                                                                   \
      ::mmgan::kernels::throw_cuda_error(__FILE__, __LINE__, #expr, cudaGetErrorString(mmgan_err_)); \
  } while (0)

// After a kernel launch: catches bad launch configurations at the launch site.
#define MMGAN_CUDA_CHECK_LAUNCH() MMGAN_CUDA_CHECK(cudaGetLastError())

// cuBLAS and cuDNN status codes (include cublas_v2.h / cudnn.h before using these).
#define MMGAN_CUBLAS_CHECK(expr)                                                                       \
  do {                                                                                                 \
    const cublasStatus_t mmgan_st_ = (expr);                                                           \
    if (mmgan_st_ != CUBLAS_STATUS_SUCCESS)                                                            \
      ::mmgan::kernels::throw_cuda_error(__FILE__, __LINE__, #expr, cublasGetStatusString(mmgan_st_)); \
  } while (0)

#define MMGAN_CUDNN_CHECK(expr)                                                                      \
  do {                                                                                               \
    const cudnnStatus_t mmgan_st_ = (expr);                                                          \
    if (mmgan_st_ != CUDNN_STATUS_SUCCESS)                                                           \
      ::mmgan::kernels::throw_cuda_error(__FILE__, __LINE__, #expr, cudnnGetErrorString(mmgan_st_)); \
  } while (0)
