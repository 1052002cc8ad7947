// Per-device CUDA contexts (stream, cuBLAS and cuDNN handles), their registry and teardown, and
// the caching allocator. Checked by tests/test_cuda_backend.cpp (every backend call against the
// CPU); the allocator's cost shows in tools/bench_kernels.cu.
#include <cuda_runtime.h>

#include <algorithm>
#include <memory>
#include <unordered_map>
#include <vector>

#include "kernels/cuda/check.h"
#include "kernels/cuda/context.h"

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

bool CachingAllocator::owns(void* p) const {
  std::lock_guard<std::mutex> lock(mu_);
  return sizes_.count(p) > 0;
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

std::vector<void*> CachingAllocator::close() noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [size, p] : free_) {
    check_release(cudaFree(p));
    sizes_.erase(p);
  }
  std::vector<void*> live;
  for (const auto& [p, size] : sizes_) live.push_back(p);
  free_.clear();
  sizes_.clear();
  stats_ = {};
  return live;
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
  // Each member owns what it holds as soon as it is made: a failure part way frees the rest.
  DeviceGuard guard(device);
  MMGAN_CUDA_CHECK(cudaStreamCreateWithFlags(stream_.out(), cudaStreamNonBlocking));
  // A workspace of its own, so cuBLAS never allocates inside a captured graph (as NVIDIA advises
  // for graph capture; 32 MiB is its recommendation for Hopper).
  MMGAN_CUDA_CHECK(cudaMalloc(cublas_workspace_.out(), kCublasWorkspace));
  MMGAN_CUBLAS_CHECK(cublasCreate(cublas_.out()));
  MMGAN_CUBLAS_CHECK(cublasSetStream(cublas_.get(), stream()));
  MMGAN_CUBLAS_CHECK(cublasSetWorkspace(cublas_.get(), cublas_workspace_.get(), kCublasWorkspace));
  MMGAN_CUDNN_CHECK(cudnnCreate(cudnn_.out()));
  MMGAN_CUDNN_CHECK(cudnnSetStream(cudnn_.get(), stream()));
}

namespace {

// Every context, and the blocks that outlived theirs. Never destroyed: tensors released during
// static destruction, after the exit teardown, must still find it.
struct Registry {
  std::mutex mu;
  std::vector<std::shared_ptr<Context>> contexts;  // by device; empty after shutdown()
  std::vector<std::weak_ptr<Context>> retired;     // dropped by shutdown() while a graph still held them
  std::unordered_map<void*, int> orphans;          // block -> device, for blocks in use when their context went
  bool exited = false;                             // the exit teardown ran: no new contexts
};

Registry& registry() {
  static Registry* r = new Registry;
  return *r;
}

// Frees a block whose context is gone, with its device current (noexcept: tensors release their
// blocks in destructors).
void free_orphan(int device, void* p) noexcept {
  int prev = device;
  check_release(cudaGetDevice(&prev));
  if (prev != device) check_release(cudaSetDevice(device));
  check_release(cudaFree(p));
  if (prev != device) check_release(cudaSetDevice(prev));
}

// Runs shutdown() at process exit. Made right after the process's first CUDA runtime call, so it is
// destroyed before the runtime's own teardown (exit handlers run in reverse order).
struct ExitTeardown {
  ~ExitTeardown() {
    shutdown();
    std::lock_guard<std::mutex> lock(registry().mu);
    registry().exited = true;
  }
};

// The context of device, created if there is none; under r.mu.
const std::shared_ptr<Context>& find_or_create(Registry& r, int device) {
  if (device >= 0 && size_t(device) < r.contexts.size() && r.contexts[size_t(device)])
    return r.contexts[size_t(device)];
  int count = 0;
  MMGAN_CUDA_CHECK(cudaGetDeviceCount(&count));
  static ExitTeardown teardown;
  if (r.exited) throw_cuda_error(__FILE__, __LINE__, "context", "CUDA is used after its teardown at process exit");
  if (device < 0 || device >= count)
    throw_cuda_error(__FILE__, __LINE__, "context",
                     "no CUDA device " + std::to_string(device) + " (this machine has " + std::to_string(count) + ")");
  if (r.contexts.size() < size_t(count)) r.contexts.resize(size_t(count));
  return r.contexts[size_t(device)] = std::make_shared<Context>(device);
}

}  // namespace

Context::~Context() {
  int prev = device_;
  const cudaError_t e = cudaGetDevice(&prev);
  // At process exit after the CUDA runtime began unloading, nothing can be destroyed any more, and
  // the driver reclaims everything with the process: give the library handles up unreleased.
  const bool unloading = e == cudaErrorCudartUnloading;
  if (unloading) {
    (void)cudnn_.release();
    (void)cublas_.release();
  } else {
    check_release(e);
    if (prev != device_) check_release(cudaSetDevice(device_));
    check_release(cudaStreamSynchronize(stream()));  // queued work may still use the cached blocks
  }
  const std::vector<void*> live = allocator_.close();
  {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mu);
    for (void* p : live) r.orphans.emplace(p, device_);
  }
  cudnn_.reset();
  cublas_.reset();
  cublas_workspace_.reset();
  stream_.reset();
  if (!unloading && prev != device_) check_release(cudaSetDevice(prev));
}

void Context::synchronize() const { MMGAN_CUDA_CHECK(cudaStreamSynchronize(stream())); }

Context& context(int device) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  return *find_or_create(r, device);
}

std::shared_ptr<Context> shared_context(int device) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  return find_or_create(r, device);
}

void deallocate(int device, void* p) {
  if (!p) return;
  Registry& r = registry();
  std::vector<std::shared_ptr<Context>> owners;  // released after the lock: a context may go with them
  {
    std::lock_guard<std::mutex> lock(r.mu);
    const auto o = r.orphans.find(p);
    if (o != r.orphans.end()) {
      free_orphan(o->second, p);
      r.orphans.erase(o);
      return;
    }
    if (device >= 0 && size_t(device) < r.contexts.size() && r.contexts[size_t(device)])
      owners.push_back(r.contexts[size_t(device)]);
    for (const std::weak_ptr<Context>& w : r.retired)
      if (std::shared_ptr<Context> c = w.lock(); c && c->device() == device) owners.push_back(std::move(c));
  }
  for (const std::shared_ptr<Context>& c : owners)
    if (c->allocator().owns(p)) return c->allocator().deallocate(p);
  throw_cuda_error(__FILE__, __LINE__, "deallocate",
                   "pointer not from a CUDA allocator of cuda:" + std::to_string(device));
}

void shutdown() {
  Registry& r = registry();
  std::vector<std::shared_ptr<Context>> gone;
  {
    std::lock_guard<std::mutex> lock(r.mu);
    gone.swap(r.contexts);
    r.retired.erase(
        std::remove_if(r.retired.begin(), r.retired.end(), [](const std::weak_ptr<Context>& w) { return w.expired(); }),
        r.retired.end());
    for (const std::shared_ptr<Context>& c : gone)
      if (c && c.use_count() > 1) r.retired.push_back(c);  // a graph holds it: it goes with the graph
  }
  gone.clear();  // outside the lock: each context's destructor hands its live blocks to the registry
}

}  // namespace mmgan::kernels::cuda
