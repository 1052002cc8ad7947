// CUDA kernels: the same calls, with the same semantics, as kernels/cpu/cpu_kernels.h (the
// executable specification), plus the stream (or, for library-backed calls, the device's
// Context) they run on. Nothing here synchronises with the host. Each is checked against the
// CPU backend by tests/test_cuda_backend.cpp (every call, float32 and float64) and, through the
// engine, by the op harness in tests/test_ops.cpp; timed in tools/bench_kernels.cu.
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>

#include "../adam_math.h"
#include "../batch_norm.h"
#include "../conv_geom.h"
#include "../conv_igemm.h"
#include "../op_codes.h"
#include "../philox.h"
#include "../pool_geom.h"
#include "../tensor_view.h"
#include "context.h"

namespace mmgan::kernels::cuda {

// Elementwise (elementwise.cu). Operands are arbitrarily strided Views as on the CPU.
void unary(cudaStream_t s, UnaryOp op, double a, double b, const View& x, const View& y);
void binary(cudaStream_t s, BinaryOp op, const View& a, const View& b, const View& out);
void where(cudaStream_t s, const View& cond, const View& a, const View& b, const View& out);
void copy(cudaStream_t s, const View& src, const View& dst);
void fill(cudaStream_t s, const View& dst, double value);

// Training-mode BatchNorm (batch_norm.cu), as the CPU's: batch moments in double, the apply step
// fused with its activation (batch_norm.h), and the backward's two kernels (batch_norm.h).
void channel_moments(cudaStream_t s, const View& x, int64_t channels, int64_t inner, const View& mean,
                     const View& var);
void channel_affine(cudaStream_t s, const View& x, const View& scale, const View& shift, int64_t channels,
                    int64_t inner, bool act, double slope, const View& y);
void batch_norm_grad_reduce(cudaStream_t s, const BatchNormGrad& a, const View& gw, const View& gb);
void batch_norm_grad_input(cudaStream_t s, const BatchNormGrad& a, const View& gw, const View& gb, const View& gx);

// Reductions (reduce.cu): accumulate in double, NaN-propagating max/min, one pass per row.
void reduce(cudaStream_t s, ReduceOp op, const View& x, int64_t outer, int64_t r, int64_t inner, const View& out);
void row_reduce(cudaStream_t s, RowOp op, double param, const View& x, int64_t n, int64_t d, const View& out);

// Philox fills (random.cu): bit-identical streams to the CPU's for the same key (a key's base is
// a device pointer here).
void fill_uniform(cudaStream_t s, const View& dst, const PhiloxKey& key, double lo, double hi);
void fill_normal(cudaStream_t s, const View& dst, const PhiloxKey& key, double mean, double std);
// The penalty's random points (interpolate.h), bit-identical to the CPU's.
void interpolate(cudaStream_t s, const View& x_real, const View& x_fake, const PhiloxKey& key, const View& u,
                 const View& xhat);

// Multi-tensor Adam (adam.cu), the CPU's operation order; lr and steps are device pointers.
void adam_step(cudaStream_t s, DType t, const AdamTensor* tensors, int count, const AdamHyper& h);

// cuBLAS (gemm.cu): row-major C = alpha op(A) op(B) + beta C, as cpu::gemm.
void gemm(Context& ctx, DType t, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
          const void* a, int64_t lda, const void* b, int64_t ldb, double beta, void* c, int64_t ldc);

// The conv family (conv.cu): per shape and direction, the faster of cuDNN and the hand-written
// implicit GEMM (float32 with TF32 allowed, sm_80+), chosen on first use by timing both and kept
// only if it agrees with cuDNN; float64, exact float32 and older GPUs use cuDNN. MMGAN_CONV=cudnn
// or =igemm forces one; MMGAN_CONV_LOG=1 prints each choice.
void conv2d(Context& ctx, const ConvGeom& g, const View& x, const View& w, const View& y,
            const ConvEpilogue& ep = {});
void conv2d_input_grad(Context& ctx, const ConvGeom& g, const View& gy, const View& w, const View& gx);
void conv2d_weight_grad(Context& ctx, const ConvGeom& g, const View& x, const View& gy, const View& gw);

// cuDNN convolutions (conv_cudnn.cu), algorithm chosen once per shape and cached.
void cudnn_conv2d(Context& ctx, const ConvGeom& g, const View& x, const View& w, const View& y);
void cudnn_conv2d_input_grad(Context& ctx, const ConvGeom& g, const View& gy, const View& w, const View& gx);
void cudnn_conv2d_weight_grad(Context& ctx, const ConvGeom& g, const View& x, const View& gy, const View& gw);

// The hand-written implicit-GEMM convolutions (conv_igemm.cu, kernels/conv_igemm.h): float32
// contiguous NCHW, TF32 tensor cores; the forward's epilogue adds bias [o] (or none) and applies act.
bool igemm_supported(int device);  // compute capability 8.0 or later
void igemm_conv2d(Context& ctx, const ConvGeom& g, const float* x, const float* w, float* y,
                  const float* bias = nullptr, Act act = Act::None, float slope = 0);
void igemm_conv2d_input_grad(Context& ctx, const ConvGeom& g, const float* gy, const float* w, float* gx);
void igemm_conv2d_weight_grad(Context& ctx, const ConvGeom& g, const float* x, const float* gy, float* gw);

// Pooling (pool.cu) and bilinear resizing (resize.cu): one thread per output for the forwards and
// the argmax gather; the adjoints run one thread per input element, gathering from the outputs
// that read it (no atomics: deterministic).
void max_pool2d(cudaStream_t s, const PoolGeom& g, const View& x, const View& y);
void max_pool2d_gather(cudaStream_t s, const PoolGeom& g, const View& x, const View& v, const View& y);
void max_pool2d_scatter(cudaStream_t s, const PoolGeom& g, const View& x, const View& gy, const View& gx);
void avg_pool2d(cudaStream_t s, const PoolGeom& g, const View& x, const View& y);
void avg_pool2d_adjoint(cudaStream_t s, const PoolGeom& g, const View& gy, const View& gx);
void resize_bilinear(cudaStream_t s, const ResizeGeom& g, const View& x, const View& y);
void resize_bilinear_adjoint(cudaStream_t s, const ResizeGeom& g, const View& gy, const View& gx);

}  // namespace mmgan::kernels::cuda
