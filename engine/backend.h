// The one interface every op dispatches to. The CPU backend (cpu_backend.cpp) is the reference;
// the CUDA backend implements the same calls. Backends see kernel Views only: strides, storage
// offsets and broadcasting are resolved by the engine before the call.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "../kernels/adam_math.h"
#include "../kernels/batch_norm.h"
#include "../kernels/conv_geom.h"
#include "../kernels/op_codes.h"
#include "../kernels/philox.h"
#include "../kernels/pool_geom.h"
#include "../kernels/tensor_view.h"
#include "device.h"

namespace mmgan {

using kernels::BinaryOp;
using kernels::ReduceOp;
using kernels::RowOp;
using kernels::UnaryOp;
using kernels::View;

// The work a backend recorded during a capture (engine/capture.h), run again by replay().
class Recording {
 public:
  virtual ~Recording() = default;
  virtual void replay() = 0;  // queues the recorded calls, in order, on the device's stream
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;

  // Memory. Backends own their allocation strategy (the CUDA one caches).
  virtual void* allocate(std::size_t nbytes) = 0;
  virtual void deallocate(void* p, std::size_t nbytes) = 0;
  virtual void copy_to_host(const void* src, void* host_dst, std::size_t nbytes) = 0;
  virtual void copy_from_host(const void* host_src, void* dst, std::size_t nbytes) = 0;

  // Elementwise.
  virtual void unary(UnaryOp op, double a, double b, const View& x, const View& y) = 0;
  virtual void binary(BinaryOp op, const View& a, const View& b, const View& out) = 0;
  virtual void where(const View& cond, const View& a, const View& b, const View& out) = 0;
  virtual void copy(const View& src, const View& dst) = 0;  // strided, with dtype conversion
  virtual void fill(const View& dst, double value) = 0;
  // BatchNorm's batch statistics: per channel of x [N, channels, inner], mean and biased variance.
  virtual void channel_moments(const View& x, int64_t channels, int64_t inner, const View& mean, const View& var) = 0;
  // BatchNorm's apply step fused with its activation (kernels/batch_norm.h); contiguous operands.
  virtual void channel_affine(const View& x, const View& scale, const View& shift, int64_t channels, int64_t inner,
                              bool act, double slope, const View& y) = 0;
  // BatchNorm's backward (kernels/batch_norm.h): gw, gb [channels], then gx from them.
  virtual void batch_norm_grad_reduce(const kernels::BatchNormGrad& a, const View& gw, const View& gb) = 0;
  virtual void batch_norm_grad_input(const kernels::BatchNormGrad& a, const View& gw, const View& gb,
                                     const View& gx) = 0;

  // Reductions.
  virtual void reduce(ReduceOp op, const View& x, int64_t outer, int64_t r, int64_t inner, const View& out) = 0;
  virtual void row_reduce(RowOp op, double param, const View& x, int64_t n, int64_t d, const View& out) = 0;

  // Linear algebra: C = alpha op(A) op(B) + beta C, row-major, one matrix per call.
  virtual void gemm(kernels::DType t, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                    const void* a, int64_t lda, const void* b, int64_t ldb, double beta, void* c, int64_t ldc) = 0;

  // 2-d convolution family (kernels/conv_geom.h): contiguous operands, outputs overwritten; the
  // forward may fuse a bias and an activation into its output pass (ConvEpilogue).
  virtual void conv2d(const kernels::ConvGeom& g, const View& x, const View& w, const View& y,
                      const kernels::ConvEpilogue& ep = {}) = 0;
  virtual void conv2d_input_grad(const kernels::ConvGeom& g, const View& gy, const View& w, const View& gx) = 0;
  virtual void conv2d_weight_grad(const kernels::ConvGeom& g, const View& x, const View& gy, const View& gw) = 0;

  // Pooling and bilinear resizing (kernels/pool_geom.h): contiguous operands, outputs overwritten;
  // the semantics of kernels/cpu/cpu_kernels.h.
  virtual void max_pool2d(const kernels::PoolGeom& g, const View& x, const View& y) = 0;
  virtual void max_pool2d_gather(const kernels::PoolGeom& g, const View& x, const View& v, const View& y) = 0;
  virtual void max_pool2d_scatter(const kernels::PoolGeom& g, const View& x, const View& gy, const View& gx) = 0;
  virtual void avg_pool2d(const kernels::PoolGeom& g, const View& x, const View& y) = 0;
  virtual void avg_pool2d_adjoint(const kernels::PoolGeom& g, const View& gy, const View& gx) = 0;
  virtual void resize_bilinear(const kernels::ResizeGeom& g, const View& x, const View& y) = 0;
  virtual void resize_bilinear_adjoint(const kernels::ResizeGeom& g, const View& gy, const View& gx) = 0;

  // Randomness (Philox stream; same numbers on every backend). A key's base is in this backend's memory.
  virtual void fill_uniform(const View& dst, const kernels::PhiloxKey& key, double lo, double hi) = 0;
  virtual void fill_normal(const View& dst, const kernels::PhiloxKey& key, double mean, double std) = 0;
  // The gradient penalty's random points in one pass (kernels/interpolate.h); contiguous operands.
  virtual void interpolate(const View& x_real, const View& x_fake, const kernels::PhiloxKey& key, const View& u,
                           const View& xhat) = 0;

  // Optimiser: one Adam step over `count` tensors (kernels/adam_math.h; lr and steps in this
  // backend's memory).
  virtual void adam_step(kernels::DType t, const kernels::AdamTensor* tensors, int count,
                         const kernels::AdamHyper& h) = 0;

  // Capture (engine/capture.h). Between begin_capture() and end_capture(), the calling thread's
  // calls are recorded, not run (CUDA: stream capture into a graph; CPU: a list of calls), its
  // allocations come from a pool private to the recording (kernels/capture_pools.h), and host
  // copies throw: a captured step must neither read device memory on the host nor depend on host
  // data that changes between replays.
  virtual void begin_capture() = 0;
  virtual std::unique_ptr<Recording> end_capture() = 0;
  virtual void abort_capture() noexcept = 0;  // ends a failed capture, discarding what it recorded
  virtual bool capturing() const = 0;         // the calling thread is capturing on this backend
};

// The backend for a device; throws a clear error when that backend is not built or has no device.
Backend& backend_for(Device d);
// True when mmgan was built with the CUDA backend and a CUDA device is present.
bool cuda_available();

// CUDA numerics (process-wide). conv_tf32: cuDNN convolutions may use TF32 tensor cores, as
// PyTorch's torch.backends.cudnn.allow_tf32 (default true); matmul_tf32: cuBLAS GEMMs may, as
// torch.backends.cuda.matmul.allow_tf32 (default false). No effect in a build without CUDA.
struct CudaMath {
  bool conv_tf32 = true;
  bool matmul_tf32 = false;
};
CudaMath cuda_math();
void set_cuda_math(CudaMath m);
// Sets exact float32 (no TF32 anywhere) for a scope, then restores the previous mode.
class ExactFloat32Scope {
 public:
  ExactFloat32Scope() : saved_(cuda_math()) { set_cuda_math({false, false}); }
  ~ExactFloat32Scope() { set_cuda_math(saved_); }
  ExactFloat32Scope(const ExactFloat32Scope&) = delete;
  ExactFloat32Scope& operator=(const ExactFloat32Scope&) = delete;

 private:
  CudaMath saved_;
};

// Waits until all work queued on the device is done (a no-op for the CPU); benchmarks and the
// trainer's timing use it, ops never need it.
void synchronize(Device d);

}  // namespace mmgan
