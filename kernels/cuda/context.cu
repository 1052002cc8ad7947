// Per-device CUDA contexts (stream, cuBLAS and cuDNN handles) and the caching allocator.
// Checked by tests/test_cuda_backend.cpp (allocator reuse and statistics, every backend call
// against the CPU); the allocator's cost shows in tools/bench_kernels.cu.
#include <cuda_runtime.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "check.h"
#include "context.h"

namespace mmgan::kernels::cuda {

MathMode& math_mode() {
  static MathMode m;
  return m;
}

namespace {

std::size_t round_size(std::size_t n) {
  constexpr std::size_t kSmall = 512, kLarge = 2u << 20, kSmallLimit = 1u << 20;
  if (n == 0) n = 1;
  return n < kSmallLimit ? (n + kSmall - 1) / kSmall * kSmall : (n + kLarge - 1) / kLarge * kLarge;
}

}  // namespace

DeviceGuard::DeviceGuard(int device) {
  MMGAN_CUDA_CHECK(cudaGetDevice(&prev_));
  switched_ = prev_ != device;
  if (switched_) MMGAN_CUDA_CHECK(cudaSetDevice(device));
}
DeviceGuard::~DeviceGuard() {
  if (switched_) (void)cudaSetDevice(prev_);
}

void* CachingAllocator::allocate(std::size_t nbytes) {
  const std::size_t size = round_size(nbytes);
  std::lock_guard<std::mutex> lock(mu_);
  const bool pooled = pools_.capturing();
  if (pooled)
    if (void* p = pools_.take(size)) return p;  // counted as in use since the pool took it
  // Smallest cached block that fits, unless it would waste more than half of itself.
  auto it = free_.lower_bound(size);
  if (it != free_.end() && it->first <= 2 * size) {
    void* p = it->second;
    stats_.cached -= it->first;
    stats_.in_use += it->first;
    free_.erase(it);
    ++stats_.hits;
    stats_.peak_in_use = std::max(stats_.peak_in_use, stats_.in_use);
    if (pooled) pools_.adopt(p, sizes_.at(p));
    return p;
  }
  DeviceGuard guard(device_);
  void* p = nullptr;
  cudaError_t err;
  {
    // cudaMalloc counts as unsafe during the capturing thread's stream capture and would
    // invalidate it; it is safe here because the block stays with the graph's pool, so allow it
    // for this one call (as PyTorch's allocator does).
    cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
    if (pooled) MMGAN_CUDA_CHECK(cudaThreadExchangeStreamCaptureMode(&mode));
    err = cudaMalloc(&p, size);
    if (pooled) MMGAN_CUDA_CHECK(cudaThreadExchangeStreamCaptureMode(&mode));
  }
  if (err == cudaErrorMemoryAllocation && !pooled) {
    (void)cudaGetLastError();
    for (auto& [s, q] : free_) {
      MMGAN_CUDA_CHECK(cudaFree(q));
      sizes_.erase(q);
    }
    free_.clear();
    stats_.cached = 0;
    err = cudaMalloc(&p, size);
  }
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    throw_cuda_error(__FILE__, __LINE__, "cudaMalloc",
                     std::string(cudaGetErrorString(err)) + " (" + std::to_string(size) + " bytes on cuda:" +
                         std::to_string(device_) + ", " + std::to_string(stats_.in_use) + " bytes in use)");
  }
  sizes_[p] = size;
  ++stats_.mallocs;
  stats_.in_use += size;
  stats_.peak_in_use = std::max(stats_.peak_in_use, stats_.in_use);
  if (pooled) pools_.adopt(p, size);
  return p;
}

void CachingAllocator::deallocate(void* p) {
  if (!p) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sizes_.find(p);
  if (it == sizes_.end()) throw_cuda_error(__FILE__, __LINE__, "deallocate", "pointer not from this allocator");
  if (pools_.give_back(p, it->second)) return;  // a graph may still write it: stays in use
  free_.emplace(it->second, p);
  stats_.in_use -= it->second;
  stats_.cached += it->second;
}

void CachingAllocator::release_cache() {
  std::lock_guard<std::mutex> lock(mu_);
  DeviceGuard guard(device_);
  // Work queued on the stream may still read a cached block's last contents: wait first.
  MMGAN_CUDA_CHECK(cudaDeviceSynchronize());
  for (auto& [s, q] : free_) {
    MMGAN_CUDA_CHECK(cudaFree(q));
    sizes_.erase(q);
  }
  free_.clear();
  stats_.cached = 0;
}

int CachingAllocator::begin_pool() {
  std::lock_guard<std::mutex> lock(mu_);
  return pools_.open();
}

void CachingAllocator::end_pool() {
  std::lock_guard<std::mutex> lock(mu_);
  pools_.close();
}

void CachingAllocator::release_pool(int id) {
  std::lock_guard<std::mutex> lock(mu_);
  // Work queued before this point runs first on the one stream, so the blocks can be reused at once.
  for (const auto& [p, size] : pools_.release(id)) {
    free_.emplace(size, p);
    stats_.in_use -= size;
    stats_.cached += size;
  }
}

CachingAllocator::Stats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

Context::Context(int device) : device_(device), allocator_(device) {
  DeviceGuard guard(device);
  MMGAN_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  MMGAN_CUBLAS_CHECK(cublasCreate(&cublas_));
  MMGAN_CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
  // A workspace of its own, so cuBLAS never allocates inside a captured graph (as NVIDIA advises
  // for graph capture; 32 MiB is its recommendation for Hopper).
  MMGAN_CUDA_CHECK(cudaMalloc(&cublas_workspace_, kCublasWorkspace));
  MMGAN_CUBLAS_CHECK(cublasSetWorkspace(cublas_, cublas_workspace_, kCublasWorkspace));
  MMGAN_CUDNN_CHECK(cudnnCreate(&cudnn_));
  MMGAN_CUDNN_CHECK(cudnnSetStream(cudnn_, stream_));
}

void Context::synchronize() const { MMGAN_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

Context& context(int device) {
  static std::mutex mu;
  static std::vector<Context*> contexts;  // never freed: see context.h
  std::lock_guard<std::mutex> lock(mu);
  int count = 0;
  MMGAN_CUDA_CHECK(cudaGetDeviceCount(&count));
  if (device < 0 || device >= count)
    throw_cuda_error(__FILE__, __LINE__, "context", "no CUDA device " + std::to_string(device) + " (this machine has " +
                                                        std::to_string(count) + ")");
  if (contexts.size() < size_t(count)) contexts.resize(size_t(count), nullptr);
  if (!contexts[size_t(device)]) contexts[size_t(device)] = new Context(device);
  return *contexts[size_t(device)];
}

}  // namespace mmgan::kernels::cuda
