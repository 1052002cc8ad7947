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

#include "kernels/capture_pools.h"
#include "kernels/cpu/cpu_kernels.h"
#include "engine/backend.h"
#include "engine/error.h"

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

  // Every compute call: run now, or recorded while capturing. A call that reads a host array
  // records a copy of it (the array is gone by the replay), seen inside under the array's name.
#define MMGAN_BACKEND_CALL(name, cuda, params, args) \
  void name params override {                        \
    run([=] { kc::name args; });                     \
  }
#define MMGAN_BACKEND_CALL_ARRAY(name, cuda, params, args, array, count) \
  void name params override {                                            \
    run([=, held = std::vector(array, array + count)] {                  \
      const auto* array = held.data();                                   \
      kc::name args;                                                     \
    });                                                                  \
  }
#include "kernels/backend_calls.def"

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
    if (capturing())
      calls_->emplace_back(std::forward<F>(f));
    else
      f();
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
