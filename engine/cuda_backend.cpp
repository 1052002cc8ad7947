// The CUDA backend: dispatch onto kernels/cuda, every call on the device's one stream
// (kernels/cuda/context.h). Host copies are the only calls that wait for the device. A capture
// (engine/capture.h) is CUDA stream capture of that stream into a graph, replayed with
// cudaGraphLaunch; its allocations come from the graph's private pool in the caching allocator.
// Checked call by call against the CPU backend by tests/test_cuda_backend.cpp and op by op,
// through the engine, by tests/test_ops.cpp.
#include <cuda_runtime.h>

#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "kernels/cuda/check.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/handle.h"
#include "engine/backend.h"
#include "engine/error.h"

namespace mmgan {
namespace {

namespace kc = kernels::cuda;

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int index) : index_(index) { (void)ctx(); }  // a device that cannot start fails here
  Device device() const override { return Device::cuda(index_); }

  void* allocate(std::size_t nbytes) override { return ctx().allocator().allocate(nbytes); }
  void deallocate(void* p, std::size_t) override { kc::deallocate(index_, p); }
  void copy_to_host(const void* src, void* dst, std::size_t n) override {
    refuse_in_capture("reads tensor data on the host (item(), to_vector(), a copy to the host)");
    kc::DeviceGuard g(index_);
    kc::Context& c = ctx();
    MMGAN_CUDA_CHECK(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, c.stream()));
    c.synchronize();
  }
  void copy_from_host(const void* src, void* dst, std::size_t n) override {
    refuse_in_capture("copies host data into a tensor (from_vector(), a copy from the host)");
    kc::DeviceGuard g(index_);
    kc::Context& c = ctx();
    MMGAN_CUDA_CHECK(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, c.stream()));
    c.synchronize();  // the host buffer may be freed as soon as we return
  }
  void* allocate_staging(std::size_t n) override {
    kc::DeviceGuard g(index_);
    void* p = nullptr;
    MMGAN_CUDA_CHECK(cudaHostAlloc(&p, n ? n : 1, cudaHostAllocDefault));  // page-locked: async copies
    return p;
  }
  void deallocate_staging(void* p) noexcept override { kc::check_release(cudaFreeHost(p)); }
  void copy_from_staging(const void* src, void* dst, std::size_t n) override {
    refuse_in_capture("stages host data into a tensor");
    kc::DeviceGuard g(index_);
    MMGAN_CUDA_CHECK(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, ctx().stream()));
  }
  std::unique_ptr<Fence> make_fence() override;

  // Every compute call: the kernel on the device's stream, or the library-backed call with its
  // context, with the device current.
#define MMGAN_CUDA_STATE_stream ctx().stream()
#define MMGAN_CUDA_STATE_context ctx()
#define MMGAN_BACKEND_CALL(name, cuda, params, args)       \
  void name params override {                              \
    kc::DeviceGuard device_guard(index_);                  \
    kc::name(MMGAN_CUDA_STATE_##cuda, MMGAN_UNPAREN args); \
  }
#include "kernels/backend_calls.def"
#undef MMGAN_CUDA_STATE_stream
#undef MMGAN_CUDA_STATE_context

  void begin_capture() override {
    kc::DeviceGuard g(index_);
    std::lock_guard<std::mutex> lock(mu_);
    MMGAN_CHECK(pool_ < 0, "capture: cuda:", index_, " is already capturing (captures do not nest)");
    kc::Context& c = ctx();
    pool_ = c.allocator().begin_pool();
    thread_ = std::this_thread::get_id();
    const cudaError_t err = cudaStreamBeginCapture(c.stream(), cudaStreamCaptureModeThreadLocal);
    if (err != cudaSuccess) {
      c.allocator().release_pool(pool_);
      pool_ = -1;
      MMGAN_CUDA_CHECK(err);
    }
  }
  std::unique_ptr<Recording> end_capture() override;
  void abort_capture() noexcept override {
    kc::DeviceGuard g(index_);
    std::lock_guard<std::mutex> lock(mu_);
    if (pool_ < 0) return;
    kc::Context& c = ctx();
    kc::Graph graph;  // what was recorded (none when the capture was invalidated), destroyed unrun
    (void)cudaStreamEndCapture(c.stream(), graph.out());
    (void)cudaGetLastError();  // an invalidated capture leaves its error behind
    c.allocator().end_pool();
    c.allocator().release_pool(pool_);
    pool_ = -1;
  }
  bool capturing() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return pool_ >= 0 && thread_ == std::this_thread::get_id();
  }

 private:
  // The device's context, looked up per call: kernels::cuda::shutdown() may replace it.
  kc::Context& ctx() const { return kc::context(index_); }
  void refuse_in_capture(const char* what) const {
    MMGAN_CHECK(!capturing(), "a captured step ", what,
                ": inside a capture nothing runs until replay, so the step must keep its values on the device");
  }

  int index_;
  mutable std::mutex mu_;
  int pool_ = -1;  // the open capture's allocator pool
  std::thread::id thread_;
};

// An instantiated graph; replay() launches it on the context's stream. Destroying it returns the
// graph's private pool to the cache (work already queued runs first, on the same stream); it
// keeps its context alive until then.
class CudaRecording final : public Recording {
 public:
  CudaRecording(int index, std::shared_ptr<kc::Context> ctx, kc::Graph graph, kc::GraphExec exec, int pool)
      : index_(index), ctx_(std::move(ctx)), graph_(std::move(graph)), exec_(std::move(exec)), pool_(pool) {}
  ~CudaRecording() override {
    kc::DeviceGuard g(index_);
    exec_.reset();
    graph_.reset();
    ctx_->allocator().release_pool(pool_);
  }
  void replay() override {
    kc::DeviceGuard g(index_);
    MMGAN_CUDA_CHECK(cudaGraphLaunch(exec_.get(), ctx_->stream()));
  }

 private:
  int index_;
  std::shared_ptr<kc::Context> ctx_;
  kc::Graph graph_;
  kc::GraphExec exec_;
  int pool_;
};

// An event on the context's stream; it keeps its context alive, as a recording does.
class CudaFence final : public Backend::Fence {
 public:
  CudaFence(int index, std::shared_ptr<kc::Context> ctx) : index_(index), ctx_(std::move(ctx)) {
    kc::DeviceGuard g(index_);
    MMGAN_CUDA_CHECK(cudaEventCreateWithFlags(event_.out(), cudaEventDisableTiming));
  }
  void record() override {
    kc::DeviceGuard g(index_);
    MMGAN_CUDA_CHECK(cudaEventRecord(event_.get(), ctx_->stream()));
    recorded_ = true;
  }
  void wait() override {
    if (recorded_) MMGAN_CUDA_CHECK(cudaEventSynchronize(event_.get()));
  }

 private:
  int index_;
  std::shared_ptr<kc::Context> ctx_;
  kc::Event event_;
  bool recorded_ = false;
};

std::unique_ptr<Backend::Fence> CudaBackend::make_fence() {
  return std::make_unique<CudaFence>(index_, kc::shared_context(index_));
}

std::unique_ptr<Recording> CudaBackend::end_capture() {
  kc::DeviceGuard g(index_);
  int pool = -1;
  {
    std::lock_guard<std::mutex> lock(mu_);
    MMGAN_CHECK(pool_ >= 0, "capture: end_capture() without begin_capture()");
    pool = pool_;
    pool_ = -1;
  }
  std::shared_ptr<kc::Context> ctx = kc::shared_context(index_);
  ctx->allocator().end_pool();
  kc::Graph graph;
  kc::GraphExec exec;
  cudaError_t err = cudaStreamEndCapture(ctx->stream(), graph.out());
  if (err == cudaSuccess) err = cudaGraphInstantiate(exec.out(), graph.get(), 0);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    ctx->allocator().release_pool(pool);
    kernels::throw_cuda_error(__FILE__, __LINE__, "cudaStreamEndCapture / cudaGraphInstantiate",
                              std::string(cudaGetErrorString(err)) +
                                  " (a captured step used a call that graphs cannot hold, such as a cuDNN "
                                  "algorithm search for a shape not seen before the capture)");
  }
  return std::make_unique<CudaRecording>(index_, std::move(ctx), std::move(graph), std::move(exec), pool);
}

}  // namespace

Backend& cuda_backend(int index) {
  static std::mutex mu;
  static std::vector<std::unique_ptr<CudaBackend>>* backends = new std::vector<std::unique_ptr<CudaBackend>>();
  std::lock_guard<std::mutex> lock(mu);
  const int count = kc::device_count();
  MMGAN_CHECK(index >= 0 && index < count, "device cuda:", index, ": ",
              count == 0 ? std::string("no CUDA device on this machine (or no driver)")
                         : "this machine has " + std::to_string(count) + " CUDA device(s)");
  if (backends->size() < size_t(count)) backends->resize(size_t(count));
  auto& b = (*backends)[size_t(index)];
  if (!b) b = std::make_unique<CudaBackend>(index);
  return *b;
}

CudaMath cuda_backend_math() { return {kc::math_mode().conv_tf32, kc::math_mode().matmul_tf32}; }

void cuda_backend_set_math(CudaMath m) {
  kc::math_mode().conv_tf32 = m.conv_tf32;
  kc::math_mode().matmul_tf32 = m.matmul_tf32;
}

void cuda_backend_synchronize(int index) { kc::context(index).synchronize(); }

}  // namespace mmgan
