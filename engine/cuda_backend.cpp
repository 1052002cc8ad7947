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

#include "../kernels/cuda/check.h"
#include "../kernels/cuda/cuda_kernels.h"
#include "../kernels/cuda/device.h"
#include "backend.h"
#include "error.h"

namespace mmgan {
namespace {

namespace kc = kernels::cuda;

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int index) : index_(index), ctx_(kc::context(index)) {}
  Device device() const override { return Device::cuda(index_); }

  void* allocate(std::size_t nbytes) override { return ctx_.allocator().allocate(nbytes); }
  void deallocate(void* p, std::size_t) override { ctx_.allocator().deallocate(p); }
  void copy_to_host(const void* src, void* dst, std::size_t n) override {
    refuse_in_capture("reads tensor data on the host (item(), to_vector(), a copy to the host)");
    kc::DeviceGuard g(index_);
    MMGAN_CUDA_CHECK(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, ctx_.stream()));
    ctx_.synchronize();
  }
  void copy_from_host(const void* src, void* dst, std::size_t n) override {
    refuse_in_capture("copies host data into a tensor (from_vector(), a copy from the host)");
    kc::DeviceGuard g(index_);
    MMGAN_CUDA_CHECK(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, ctx_.stream()));
    ctx_.synchronize();  // the host buffer may be freed as soon as we return
  }

  void unary(UnaryOp op, double a, double b, const View& x, const View& y) override {
    kc::DeviceGuard g(index_);
    kc::unary(ctx_.stream(), op, a, b, x, y);
  }
  void binary(BinaryOp op, const View& a, const View& b, const View& out) override {
    kc::DeviceGuard g(index_);
    kc::binary(ctx_.stream(), op, a, b, out);
  }
  void where(const View& c, const View& a, const View& b, const View& out) override {
    kc::DeviceGuard g(index_);
    kc::where(ctx_.stream(), c, a, b, out);
  }
  void copy(const View& src, const View& dst) override {
    kc::DeviceGuard g(index_);
    kc::copy(ctx_.stream(), src, dst);
  }
  void fill(const View& dst, double value) override {
    kc::DeviceGuard g(index_);
    kc::fill(ctx_.stream(), dst, value);
  }
  void channel_moments(const View& x, int64_t channels, int64_t inner, const View& mean, const View& var) override {
    kc::DeviceGuard g(index_);
    kc::channel_moments(ctx_.stream(), x, channels, inner, mean, var);
  }
  void channel_affine(const View& x, const View& scale, const View& shift, int64_t channels, int64_t inner, bool act,
                      double slope, const View& y) override {
    kc::DeviceGuard g(index_);
    kc::channel_affine(ctx_.stream(), x, scale, shift, channels, inner, act, slope, y);
  }
  void batch_norm_grad_reduce(const kernels::BatchNormGrad& a, const View& gw, const View& gb) override {
    kc::DeviceGuard g(index_);
    kc::batch_norm_grad_reduce(ctx_.stream(), a, gw, gb);
  }
  void batch_norm_grad_input(const kernels::BatchNormGrad& a, const View& gw, const View& gb,
                             const View& gx) override {
    kc::DeviceGuard g(index_);
    kc::batch_norm_grad_input(ctx_.stream(), a, gw, gb, gx);
  }
  void reduce(ReduceOp op, const View& x, int64_t outer, int64_t r, int64_t inner, const View& out) override {
    kc::DeviceGuard g(index_);
    kc::reduce(ctx_.stream(), op, x, outer, r, inner, out);
  }
  void row_reduce(RowOp op, double param, const View& x, int64_t n, int64_t d, const View& out) override {
    kc::DeviceGuard g(index_);
    kc::row_reduce(ctx_.stream(), op, param, x, n, d, out);
  }
  void gemm(kernels::DType t, bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const void* a,
            int64_t lda, const void* b, int64_t ldb, double beta, void* c, int64_t ldc) override {
    kc::DeviceGuard g(index_);
    kc::gemm(ctx_, t, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  void conv2d(const kernels::ConvGeom& geom, const View& x, const View& w, const View& y,
              const kernels::ConvEpilogue& ep) override {
    kc::DeviceGuard g(index_);
    kc::conv2d(ctx_, geom, x, w, y, ep);
  }
  void conv2d_input_grad(const kernels::ConvGeom& geom, const View& gy, const View& w, const View& gx) override {
    kc::DeviceGuard g(index_);
    kc::conv2d_input_grad(ctx_, geom, gy, w, gx);
  }
  void conv2d_weight_grad(const kernels::ConvGeom& geom, const View& x, const View& gy, const View& gw) override {
    kc::DeviceGuard g(index_);
    kc::conv2d_weight_grad(ctx_, geom, x, gy, gw);
  }
  void max_pool2d(const kernels::PoolGeom& geom, const View& x, const View& y) override {
    kc::DeviceGuard g(index_);
    kc::max_pool2d(ctx_.stream(), geom, x, y);
  }
  void max_pool2d_gather(const kernels::PoolGeom& geom, const View& x, const View& v, const View& y) override {
    kc::DeviceGuard g(index_);
    kc::max_pool2d_gather(ctx_.stream(), geom, x, v, y);
  }
  void max_pool2d_scatter(const kernels::PoolGeom& geom, const View& x, const View& gy, const View& gx) override {
    kc::DeviceGuard g(index_);
    kc::max_pool2d_scatter(ctx_.stream(), geom, x, gy, gx);
  }
  void avg_pool2d(const kernels::PoolGeom& geom, const View& x, const View& y) override {
    kc::DeviceGuard g(index_);
    kc::avg_pool2d(ctx_.stream(), geom, x, y);
  }
  void avg_pool2d_adjoint(const kernels::PoolGeom& geom, const View& gy, const View& gx) override {
    kc::DeviceGuard g(index_);
    kc::avg_pool2d_adjoint(ctx_.stream(), geom, gy, gx);
  }
  void resize_bilinear(const kernels::ResizeGeom& geom, const View& x, const View& y) override {
    kc::DeviceGuard g(index_);
    kc::resize_bilinear(ctx_.stream(), geom, x, y);
  }
  void resize_bilinear_adjoint(const kernels::ResizeGeom& geom, const View& gy, const View& gx) override {
    kc::DeviceGuard g(index_);
    kc::resize_bilinear_adjoint(ctx_.stream(), geom, gy, gx);
  }
  void fill_uniform(const View& dst, const kernels::PhiloxKey& key, double lo, double hi) override {
    kc::DeviceGuard g(index_);
    kc::fill_uniform(ctx_.stream(), dst, key, lo, hi);
  }
  void fill_normal(const View& dst, const kernels::PhiloxKey& key, double mean, double std) override {
    kc::DeviceGuard g(index_);
    kc::fill_normal(ctx_.stream(), dst, key, mean, std);
  }
  void interpolate(const View& xr, const View& xf, const kernels::PhiloxKey& key, const View& u,
                   const View& xhat) override {
    kc::DeviceGuard g(index_);
    kc::interpolate(ctx_.stream(), xr, xf, key, u, xhat);
  }
  void adam_step(kernels::DType t, const kernels::AdamTensor* tensors, int count,
                 const kernels::AdamHyper& h) override {
    kc::DeviceGuard g(index_);
    kc::adam_step(ctx_.stream(), t, tensors, count, h);
  }

  void begin_capture() override {
    kc::DeviceGuard g(index_);
    std::lock_guard<std::mutex> lock(mu_);
    MMGAN_CHECK(pool_ < 0, "capture: cuda:", index_, " is already capturing (captures do not nest)");
    pool_ = ctx_.allocator().begin_pool();
    thread_ = std::this_thread::get_id();
    const cudaError_t err = cudaStreamBeginCapture(ctx_.stream(), cudaStreamCaptureModeThreadLocal);
    if (err != cudaSuccess) {
      ctx_.allocator().release_pool(pool_);
      pool_ = -1;
      MMGAN_CUDA_CHECK(err);
    }
  }
  std::unique_ptr<Recording> end_capture() override;
  void abort_capture() noexcept override {
    kc::DeviceGuard g(index_);
    std::lock_guard<std::mutex> lock(mu_);
    if (pool_ < 0) return;
    cudaGraph_t graph = nullptr;
    if (cudaStreamEndCapture(ctx_.stream(), &graph) == cudaSuccess && graph) (void)cudaGraphDestroy(graph);
    (void)cudaGetLastError();  // an invalidated capture leaves its error behind
    ctx_.allocator().end_pool();
    ctx_.allocator().release_pool(pool_);
    pool_ = -1;
  }
  bool capturing() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return pool_ >= 0 && thread_ == std::this_thread::get_id();
  }

 private:
  void refuse_in_capture(const char* what) const {
    MMGAN_CHECK(!capturing(), "a captured step ", what,
                ": inside a capture nothing runs until replay, so the step must keep its values on the device");
  }

  int index_;
  kc::Context& ctx_;
  mutable std::mutex mu_;
  int pool_ = -1;  // the open capture's allocator pool
  std::thread::id thread_;
};

// An instantiated graph; replay() launches it on the context's stream. Destroying it returns the
// graph's private pool to the cache (work already queued runs first, on the same stream).
class CudaRecording final : public Recording {
 public:
  CudaRecording(int index, kc::Context& ctx, cudaGraph_t graph, cudaGraphExec_t exec, int pool)
      : index_(index), ctx_(ctx), graph_(graph), exec_(exec), pool_(pool) {}
  ~CudaRecording() override {
    kc::DeviceGuard g(index_);
    (void)cudaGraphExecDestroy(exec_);
    (void)cudaGraphDestroy(graph_);
    ctx_.allocator().release_pool(pool_);
  }
  void replay() override {
    kc::DeviceGuard g(index_);
    MMGAN_CUDA_CHECK(cudaGraphLaunch(exec_, ctx_.stream()));
  }

 private:
  int index_;
  kc::Context& ctx_;
  cudaGraph_t graph_;
  cudaGraphExec_t exec_;
  int pool_;
};

std::unique_ptr<Recording> CudaBackend::end_capture() {
  kc::DeviceGuard g(index_);
  int pool = -1;
  {
    std::lock_guard<std::mutex> lock(mu_);
    MMGAN_CHECK(pool_ >= 0, "capture: end_capture() without begin_capture()");
    pool = pool_;
    pool_ = -1;
  }
  ctx_.allocator().end_pool();
  cudaGraph_t graph = nullptr;
  cudaError_t err = cudaStreamEndCapture(ctx_.stream(), &graph);
  cudaGraphExec_t exec = nullptr;
  if (err == cudaSuccess) err = cudaGraphInstantiate(&exec, graph, 0);
  if (err != cudaSuccess) {
    if (graph) (void)cudaGraphDestroy(graph);
    (void)cudaGetLastError();
    ctx_.allocator().release_pool(pool);
    kernels::throw_cuda_error(__FILE__, __LINE__, "cudaStreamEndCapture / cudaGraphInstantiate",
                              std::string(cudaGetErrorString(err)) +
                                  " (a captured step used a call that graphs cannot hold, such as a cuDNN "
                                  "algorithm search for a shape not seen before the capture)");
  }
  return std::make_unique<CudaRecording>(index_, ctx_, graph, exec, pool);
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
