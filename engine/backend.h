// The one interface every op dispatches to. The CPU backend (cpu_backend.cpp) is the reference;
// the CUDA backend implements the same calls. Backends see kernel Views only: strides, storage
// offsets and broadcasting are resolved by the engine before the call. The compute calls are
// declared once, in kernels/backend_calls.def; memory, host copies and capture are here.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "kernels/adam_math.h"
#include "kernels/batch_norm.h"
#include "kernels/conv_geom.h"
#include "kernels/op_codes.h"
#include "kernels/philox.h"
#include "kernels/pool_geom.h"
#include "kernels/tensor_view.h"
#include "engine/device.h"

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

  // Staging (engine/staging.h): host memory the device copies from while the host goes on
  // (page-locked on CUDA), a copy from it queued on the device's stream that returns at once, and
  // a fence that tells the host when the queued work before it (the copy) is done. The CPU
  // backend's versions are plain memory, a memcpy and a fence that is always passed.
  class Fence {
   public:
    virtual ~Fence() = default;
    virtual void record() = 0;  // marks the work queued so far
    virtual void wait() = 0;    // blocks until that work is done (at once if never recorded)
  };
  virtual void* allocate_staging(std::size_t nbytes);
  virtual void deallocate_staging(void* p) noexcept;
  virtual void copy_from_staging(const void* staging_src, void* dst, std::size_t nbytes);
  virtual std::unique_ptr<Fence> make_fence();

  // The compute calls, one pure virtual each (kernels/backend_calls.def says what each computes).
  // Their parameter types, as the list names them:
  using AdamHyper = kernels::AdamHyper;
  using AdamTensor = kernels::AdamTensor;
  using BatchNormGrad = kernels::BatchNormGrad;
  using ConvEpilogue = kernels::ConvEpilogue;
  using ConvGeom = kernels::ConvGeom;
  using DType = kernels::DType;
  using PhiloxKey = kernels::PhiloxKey;
  using PoolGeom = kernels::PoolGeom;
  using ResizeGeom = kernels::ResizeGeom;
#define MMGAN_BACKEND_CALL(name, cuda, params, args) virtual void name params = 0;
#include "kernels/backend_calls.def"

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
// One line per backend and device of this build (what `mmgan devices` prints).
std::string describe_devices();

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
