// CUDA kernels: the calls of kernels/backend_calls.def, with the same semantics as the CPU's
// (kernels/cpu, the executable specification), plus the stream (or, for library-backed calls,
// the device's Context) they run on, and the two conv implementations the dispatch chooses
// between. Nothing here synchronises with the host. Each call is checked against the CPU backend
// by tests/test_cuda_backend.cpp (every call, float32 and float64) and, through the engine, by the
// op harness in tests/test_ops.cpp; timed in tools/bench_kernels.cu.
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/adam_math.h"
#include "kernels/batch_norm.h"
#include "kernels/conv_geom.h"
#include "kernels/conv_igemm.h"
#include "kernels/op_codes.h"
#include "kernels/philox.h"
#include "kernels/pool_geom.h"
#include "kernels/tensor_view.h"
#include "kernels/cuda/context.h"

namespace mmgan::kernels::cuda {

// Every call of the list, kernels::cuda::name(s or ctx, params). Where each lives:
// elementwise.cu (operands arbitrarily strided Views as on the CPU); batch_norm.cu (moments in
// double, the apply step fused with its activation, the backward's two kernels); reduce.cu
// (accumulate in double, NaN-propagating max/min, one pass per row); random.cu (Philox streams
// bit-identical to the CPU's; a key's base is a device pointer here); adam.cu (multi-tensor, the
// CPU's operation order; lr and steps are device pointers); gemm.cu (cuBLAS); pool.cu and
// resize.cu (one thread per output for the forwards and the argmax gather; the adjoints run one
// thread per input element, gathering from the outputs that read it: no atomics, deterministic).
// The conv family (conv.cu): per shape and direction, the faster of cuDNN and the hand-written
// implicit GEMM (float32 with TF32 allowed, sm_80+), chosen on first use by timing both and kept
// only if it agrees with cuDNN; float64, exact float32 and older GPUs use cuDNN. MMGAN_CONV=cudnn
// or =igemm forces one; MMGAN_CONV_LOG=1 prints each choice.
#define MMGAN_CUDA_STATE_stream cudaStream_t s
#define MMGAN_CUDA_STATE_context Context& ctx
#define MMGAN_BACKEND_CALL(name, cuda, params, args) void name(MMGAN_CUDA_STATE_##cuda, MMGAN_UNPAREN params);
#include "kernels/backend_calls.def"
#undef MMGAN_CUDA_STATE_stream
#undef MMGAN_CUDA_STATE_context

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

}  // namespace mmgan::kernels::cuda
