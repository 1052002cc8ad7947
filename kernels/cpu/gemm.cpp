// Matrix products on the CPU go to OpenBLAS: it is the fastest choice for every GEMM shape the
// paper's networks produce (checked against PyTorch in the parity tests).
#include <cblas.h>

#include "kernels/cpu/cpu_kernels.h"

namespace mmgan::kernels::cpu {

void gemm(DType t, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const void* a,
          int64_t lda, const void* b, int64_t ldb, double beta, void* c, int64_t ldc) {
  const auto ta = trans_a ? CblasTrans : CblasNoTrans;
  const auto tb = trans_b ? CblasTrans : CblasNoTrans;
  if (t == DType::F32)
    cblas_sgemm(CblasRowMajor, ta, tb, int(m), int(n), int(k), float(alpha), static_cast<const float*>(a), int(lda),
                static_cast<const float*>(b), int(ldb), float(beta), static_cast<float*>(c), int(ldc));
  else
    cblas_dgemm(CblasRowMajor, ta, tb, int(m), int(n), int(k), alpha, static_cast<const double*>(a), int(lda),
                static_cast<const double*>(b), int(ldb), beta, static_cast<double*>(c), int(ldc));
}

}  // namespace mmgan::kernels::cpu
