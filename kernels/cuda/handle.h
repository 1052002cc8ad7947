// The one owner of every CUDA-side object that has a destroy call (streams, events, graphs and
// their executables, device memory, cuBLAS and cuDNN handles and descriptors): a move-only unique
// owner templated on the destroy function, as std::unique_ptr is on its deleter, for handles that
// are opaque pointers. Creation stays a checked call where the object is made, writing into out():
//   Event e;
//   MMGAN_CUDA_CHECK(cudaEventCreate(e.out()));
// so an exception anywhere after it (or a constructor failing part way) frees what was made.
// A destructor cannot throw: a failed destroy is reported on stderr instead, except the CUDA
// runtime's cudaErrorCudartUnloading at process exit, when the driver reclaims everything anyway.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <cstdio>
#include <utility>

namespace mmgan::kernels::cuda {

// The status of a destroy (or teardown) call, reported if it failed: noexcept, since destroys run
// in destructors.
inline void check_release(cudaError_t e) noexcept {
  if (e == cudaSuccess || e == cudaErrorCudartUnloading) return;
  (void)cudaGetLastError();  // so it does not surface at an unrelated later check
  std::fprintf(stderr, "mmgan: releasing a CUDA object failed: %s\n", cudaGetErrorString(e));
}
inline void check_release(cublasStatus_t s) noexcept {
  if (s != CUBLAS_STATUS_SUCCESS)
    std::fprintf(stderr, "mmgan: releasing a cuBLAS handle failed: %s\n", cublasGetStatusString(s));
}
inline void check_release(cudnnStatus_t s) noexcept {
  if (s != CUDNN_STATUS_SUCCESS)
    std::fprintf(stderr, "mmgan: releasing a cuDNN object failed: %s\n", cudnnGetErrorString(s));
}

template <class T, auto Destroy>
class Handle {
 public:
  Handle() = default;
  ~Handle() { reset(); }
  Handle(Handle&& o) noexcept : h_(o.release()) {}
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = o.release();
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  T get() const { return h_; }
  explicit operator bool() const { return h_ != T{}; }
  // Where a create call writes the new object (what was owned before is destroyed first).
  T* out() {
    reset();
    return &h_;
  }
  // Gives the object up without destroying it.
  T release() noexcept { return std::exchange(h_, T{}); }
  void reset() noexcept {
    if (h_ != T{}) check_release(Destroy(release()));
  }

 private:
  T h_{};
};

using Stream = Handle<cudaStream_t, cudaStreamDestroy>;
using Event = Handle<cudaEvent_t, cudaEventDestroy>;
using Graph = Handle<cudaGraph_t, cudaGraphDestroy>;
using GraphExec = Handle<cudaGraphExec_t, cudaGraphExecDestroy>;
using DeviceMemory = Handle<void*, cudaFree>;  // a cudaMalloc outside the caching allocator
using CublasHandle = Handle<cublasHandle_t, cublasDestroy>;
using CudnnHandle = Handle<cudnnHandle_t, cudnnDestroy>;

}  // namespace mmgan::kernels::cuda
