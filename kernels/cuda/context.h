// Per-device CUDA state, RAII throughout (after tiny-cuda-nn): one stream on which every kernel,
// copy and library call for the device runs (so nothing inside a training step waits on the
// host), the cuBLAS and cuDNN handles bound to that stream, and a caching allocator.
// Contexts are created on first use and destroyed by shutdown(), which also runs by itself at
// process exit, so a leak checker (compute-sanitizer --leak-check full) reports only real leaks.
// A tensor released after that (a static object destroyed late) still frees its block.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "kernels/capture_pools.h"
#include "kernels/tensor_view.h"
#include "kernels/cuda/handle.h"

namespace mmgan::kernels::cuda {

// Process-wide numerics switches. conv_tf32: cuDNN convolutions may use TF32 tensor cores
// (PyTorch's torch.backends.cudnn.allow_tf32, default on). matmul_tf32: cuBLAS GEMMs may
// (torch.backends.cuda.matmul.allow_tf32, default off since PyTorch 1.12). Tests that compare
// against the CPU in float32 turn both off.
struct MathMode {
  bool conv_tf32 = true;
  bool matmul_tf32 = false;
};
MathMode& math_mode();
// Whether a convolution in dtype t may use TF32 now; if not, it runs exactly (float64, and float32
// with conv_tf32 off), with deterministic algorithms only.
inline bool conv_uses_tf32(DType t) { return t == DType::F32 && math_mode().conv_tf32; }

// Makes `device` current for the calling thread for the scope, restoring the previous one.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int prev_ = 0;
  bool switched_ = false;
};

// Caching device allocator. Blocks are rounded up (512 B below 1 MiB, 2 MiB above) and kept on
// free lists by size when released; a request takes the smallest cached block that fits
// without wasting more than half of it. All work runs on the context's one stream, so a block
// released by one kernel can be handed to the next without synchronisation. When cudaMalloc
// fails, the cache is returned to the driver and the allocation retried once (not while a graph
// is being captured: cudaFree is not allowed then). While the calling thread captures a graph,
// its blocks come from the graph's private pool (kernels/capture_pools.h).
class CachingAllocator {
 public:
  explicit CachingAllocator(int device) : device_(device) {}
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;
  void* allocate(std::size_t nbytes);
  void deallocate(void* p);
  bool owns(void* p) const;  // p is a block of this allocator, in use or cached
  void release_cache();      // cudaFree every cached (unused) block
  // Frees every cached block and forgets every block; returns those still in use (by tensors that
  // outlive the context), which kernels::cuda::deallocate frees when they are released.
  std::vector<void*> close() noexcept;
  int begin_pool();           // the calling thread's allocations go to a new private pool
  void end_pool();            // ... until this
  void release_pool(int id);  // the graph that used pool `id` is gone: its blocks return to the cache
  struct Stats {
    std::size_t in_use = 0, cached = 0, peak_in_use = 0;
    int64_t mallocs = 0, hits = 0;
  };
  Stats stats() const;

 private:
  int device_;
  mutable std::mutex mu_;
  std::multimap<std::size_t, void*> free_;  // rounded size -> block
  std::map<void*, std::size_t> sizes_;      // every live or cached block -> rounded size
  CapturePools pools_;
  Stats stats_;
};

class Context {
 public:
  explicit Context(int device);
  ~Context();  // waits for the stream, then frees the cached blocks, the handles and the stream
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_.get(); }
  cublasHandle_t cublas() const { return cublas_.get(); }
  cudnnHandle_t cudnn() const { return cudnn_.get(); }
  CachingAllocator& allocator() { return allocator_; }
  void synchronize() const;

 private:
  // Made in this order; a constructor failing part way destroys what it made in reverse (the
  // handles before the workspace and the stream they use), as the destructor does.
  int device_;
  Stream stream_;
  static constexpr std::size_t kCublasWorkspace = std::size_t(32) << 20;
  DeviceMemory cublas_workspace_;
  CublasHandle cublas_;
  CudnnHandle cudnn_;
  CachingAllocator allocator_;
};

// The context of `device`, created on first use (makes `device` current for the calling thread
// while it creates it). The reference stays valid until shutdown().
Context& context(int device);
// The same, shared: for what must keep its context alive, such as a captured graph, whose private
// pool is returned to the context's allocator when the graph is destroyed.
std::shared_ptr<Context> shared_context(int device);
// Returns p (from context(device).allocator()) to its allocator; frees it at once when its context
// was destroyed while p was still in use.
void deallocate(int device, void* p);
// Destroys every context (each waits for its work first): every cached block, cuBLAS workspace,
// cuBLAS and cuDNN handle and stream is freed. Call it when no other thread uses CUDA; the next
// context(device) creates a fresh one. Runs by itself at process exit (before the CUDA runtime's
// own teardown, or tolerating it).
void shutdown();

// A device buffer from the context's allocator, released when it goes out of scope
// (cuDNN workspaces, kernel scratch).
class DeviceBuffer {
 public:
  DeviceBuffer(Context& ctx, std::size_t nbytes)
      : ctx_(&ctx), p_(nbytes ? ctx.allocator().allocate(nbytes) : nullptr), n_(nbytes) {}
  ~DeviceBuffer() {
    if (p_) ctx_->allocator().deallocate(p_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* get() const { return p_; }
  std::size_t size() const { return n_; }

 private:
  Context* ctx_;
  void* p_;
  std::size_t n_;
};

}  // namespace mmgan::kernels::cuda
