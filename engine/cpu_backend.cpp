// The CPU backend: the reference implementation, a thin dispatch onto kernels/cpu. While the
// calling thread captures (engine/capture.h), each call is recorded as a closure instead of run,
// and replay() runs the closures in order: the same kernels on the same addresses, so a replayed
// step equals an eager one bit for bit, and the CPU tests prove what the CUDA graph path relies on
// (no host reads inside the step, every changing scalar read from memory).
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <new>
#include <vector>

#include "../kernels/capture_pools.h"
#include "../kernels/cpu/cpu_kernels.h"
#include "backend.h"
#include "error.h"

namespace mmgan {
namespace {

namespace kc = kernels::cpu;

std::size_t round_size(std::size_t nbytes) { return (std::max<std::size_t>(nbytes, 1) + 63) / 64 * 64; }

class CpuRecording;

class CpuBackend final : public Backend {
 public:
  Device device() const override { return Device::cpu(); }

  void* allocate(std::size_t nbytes) override {
    // 64-byte alignment for vector loads; at least one byte so empty tensors have a pointer.
    const std::size_t size = round_size(nbytes);
    std::lock_guard<std::mutex> lock(mu_);
    const bool pooled = pools_.capturing();
    if (pooled)
      if (void* p = pools_.take(size)) return p;
    void* p = std::aligned_alloc(64, size);
    if (!p) throw std::bad_alloc();
    if (pooled) pools_.adopt(p, size);
    return p;
  }
  void deallocate(void* p, std::size_t nbytes) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!pools_.give_back(p, round_size(nbytes))) std::free(p);
  }
  void copy_to_host(const void* src, void* dst, std::size_t n) override {
    refuse_in_capture("reads tensor data on the host (item(), to_vector(), a copy to the host)");
    std::memcpy(dst, src, n);
  }
  void copy_from_host(const void* src, void* dst, std::size_t n) override {
    refuse_in_capture("copies host data into a tensor (from_vector(), a copy from the host)");
    std::memcpy(dst, src, n);
  }

  void unary(UnaryOp op, double a, double b, const View& x, const View& y) override {
    run([=] { kc::unary(op, a, b, x, y); });
  }
  void binary(BinaryOp op, const View& a, const View& b, const View& out) override {
    run([=] { kc::binary(op, a, b, out); });
  }
  void where(const View& c, const View& a, const View& b, const View& out) override {
    run([=] { kc::where(c, a, b, out); });
  }
  void copy(const View& src, const View& dst) override {
    run([=] { kc::copy(src, dst); });
  }
  void fill(const View& dst, double value) override {
    run([=] { kc::fill(dst, value); });
  }
  void channel_moments(const View& x, int64_t channels, int64_t inner, const View& mean, const View& var) override {
    run([=] { kc::channel_moments(x, channels, inner, mean, var); });
  }
  void channel_affine(const View& x, const View& scale, const View& shift, int64_t channels, int64_t inner, bool act,
                      double slope, const View& y) override {
    run([=] { kc::channel_affine(x, scale, shift, channels, inner, act, slope, y); });
  }
  void batch_norm_grad_reduce(const kernels::BatchNormGrad& a, const View& gw, const View& gb) override {
    run([=] { kc::batch_norm_grad_reduce(a, gw, gb); });
  }
  void batch_norm_grad_input(const kernels::BatchNormGrad& a, const View& gw, const View& gb,
                             const View& gx) override {
    run([=] { kc::batch_norm_grad_input(a, gw, gb, gx); });
  }
  void reduce(ReduceOp op, const View& x, int64_t outer, int64_t r, int64_t inner, const View& out) override {
    run([=] { kc::reduce(op, x, outer, r, inner, out); });
  }
  void row_reduce(RowOp op, double param, const View& x, int64_t n, int64_t d, const View& out) override {
    run([=] { kc::row_reduce(op, param, x, n, d, out); });
  }
  void gemm(kernels::DType t, bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const void* a,
            int64_t lda, const void* b, int64_t ldb, double beta, void* c, int64_t ldc) override {
    run([=] { kc::gemm(t, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); });
  }
  void conv2d(const kernels::ConvGeom& g, const View& x, const View& w, const View& y,
              const kernels::ConvEpilogue& ep) override {
    run([=] { kc::conv2d(g, x, w, y, ep); });
  }
  void conv2d_input_grad(const kernels::ConvGeom& g, const View& gy, const View& w, const View& gx) override {
    run([=] { kc::conv2d_input_grad(g, gy, w, gx); });
  }
  void conv2d_weight_grad(const kernels::ConvGeom& g, const View& x, const View& gy, const View& gw) override {
    run([=] { kc::conv2d_weight_grad(g, x, gy, gw); });
  }
  void max_pool2d(const kernels::PoolGeom& g, const View& x, const View& y) override {
    run([=] { kc::max_pool2d(g, x, y); });
  }
  void max_pool2d_gather(const kernels::PoolGeom& g, const View& x, const View& v, const View& y) override {
    run([=] { kc::max_pool2d_gather(g, x, v, y); });
  }
  void max_pool2d_scatter(const kernels::PoolGeom& g, const View& x, const View& gy, const View& gx) override {
    run([=] { kc::max_pool2d_scatter(g, x, gy, gx); });
  }
  void avg_pool2d(const kernels::PoolGeom& g, const View& x, const View& y) override {
    run([=] { kc::avg_pool2d(g, x, y); });
  }
  void avg_pool2d_adjoint(const kernels::PoolGeom& g, const View& gy, const View& gx) override {
    run([=] { kc::avg_pool2d_adjoint(g, gy, gx); });
  }
  void resize_bilinear(const kernels::ResizeGeom& g, const View& x, const View& y) override {
    run([=] { kc::resize_bilinear(g, x, y); });
  }
  void resize_bilinear_adjoint(const kernels::ResizeGeom& g, const View& gy, const View& gx) override {
    run([=] { kc::resize_bilinear_adjoint(g, gy, gx); });
  }
  void fill_uniform(const View& dst, const kernels::PhiloxKey& key, double lo, double hi) override {
    run([=] { kc::fill_uniform(dst, key, lo, hi); });
  }
  void fill_normal(const View& dst, const kernels::PhiloxKey& key, double mean, double std) override {
    run([=] { kc::fill_normal(dst, key, mean, std); });
  }
  void interpolate(const View& xr, const View& xf, const kernels::PhiloxKey& key, const View& u,
                   const View& xhat) override {
    run([=] { kc::interpolate(xr, xf, key, u, xhat); });
  }
  void adam_step(kernels::DType t, const kernels::AdamTensor* tensors, int count,
                 const kernels::AdamHyper& h) override {
    run([t, list = std::vector<kernels::AdamTensor>(tensors, tensors + count), h] {
      kc::adam_step(t, list.data(), int(list.size()), h);
    });
  }

  void begin_capture() override;
  std::unique_ptr<Recording> end_capture() override;
  void abort_capture() noexcept override;
  bool capturing() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return pools_.capturing();
  }
  void release_pool(int id) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [p, size] : pools_.release(id)) std::free(p);
  }

 private:
  template <class F>
  void run(F&& f) {
    if (capturing()) calls_->emplace_back(std::forward<F>(f));
    else f();
  }
  void refuse_in_capture(const char* what) const {
    MMGAN_CHECK(!capturing(), "a captured step ", what,
                ": inside a capture nothing runs until replay, so the step must keep its values on the device");
  }

  mutable std::mutex mu_;
  kernels::CapturePools pools_;
  int pool_ = -1;
  std::vector<std::function<void()>>* calls_ = nullptr;  // the open recording's list
  std::unique_ptr<CpuRecording> open_;
};

class CpuRecording final : public Recording {
 public:
  CpuRecording(CpuBackend& b, int pool) : backend_(b), pool_(pool) {}
  ~CpuRecording() override { backend_.release_pool(pool_); }
  void replay() override {
    for (const auto& f : calls) f();
  }
  std::vector<std::function<void()>> calls;

 private:
  CpuBackend& backend_;
  int pool_;
};

void CpuBackend::begin_capture() {
  std::lock_guard<std::mutex> lock(mu_);
  MMGAN_CHECK(pool_ < 0, "capture: the CPU backend is already capturing (captures do not nest)");
  pool_ = pools_.open();
  open_ = std::make_unique<CpuRecording>(*this, pool_);
  calls_ = &open_->calls;
}

std::unique_ptr<Recording> CpuBackend::end_capture() {
  std::lock_guard<std::mutex> lock(mu_);
  MMGAN_CHECK(pool_ >= 0, "capture: end_capture() without begin_capture()");
  pools_.close();
  pool_ = -1;
  calls_ = nullptr;
  return std::move(open_);
}

void CpuBackend::abort_capture() noexcept {
  std::unique_ptr<CpuRecording> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pools_.close();
    pool_ = -1;
    calls_ = nullptr;
    dropped = std::move(open_);
  }
  // Its destructor releases the pool (taking the lock again).
}

}  // namespace

Backend& cpu_backend() {
  static CpuBackend b;
  return b;
}

}  // namespace mmgan
