// The CPU backend: the reference implementation, a thin dispatch onto kernels/cpu.
#include <cstdlib>
#include <cstring>
#include <new>

#include "../kernels/cpu/cpu_kernels.h"
#include "backend.h"
#include "error.h"

namespace mmgan {
namespace {

class CpuBackend final : public Backend {
 public:
  Device device() const override { return Device::cpu(); }

  void* allocate(std::size_t nbytes) override {
    // 64-byte alignment for vector loads; at least one byte so empty tensors have a pointer.
    const std::size_t size = (std::max<std::size_t>(nbytes, 1) + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, size);
    if (!p) throw std::bad_alloc();
    return p;
  }
  void deallocate(void* p, std::size_t) override { std::free(p); }
  void copy_to_host(const void* src, void* dst, std::size_t n) override { std::memcpy(dst, src, n); }
  void copy_from_host(const void* src, void* dst, std::size_t n) override { std::memcpy(dst, src, n); }

  void unary(UnaryOp op, double a, double b, const View& x, const View& y) override {
    kernels::cpu::unary(op, a, b, x, y);
  }
  void binary(BinaryOp op, const View& a, const View& b, const View& out) override {
    kernels::cpu::binary(op, a, b, out);
  }
  void where(const View& c, const View& a, const View& b, const View& out) override {
    kernels::cpu::where(c, a, b, out);
  }
  void copy(const View& src, const View& dst) override { kernels::cpu::copy(src, dst); }
  void fill(const View& dst, double value) override { kernels::cpu::fill(dst, value); }
  void reduce(ReduceOp op, const View& x, int64_t outer, int64_t r, int64_t inner, const View& out) override {
    kernels::cpu::reduce(op, x, outer, r, inner, out);
  }
  void row_reduce(RowOp op, double param, const View& x, int64_t n, int64_t d, const View& out) override {
    kernels::cpu::row_reduce(op, param, x, n, d, out);
  }
  void gemm(kernels::DType t, bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const void* a,
            int64_t lda, const void* b, int64_t ldb, double beta, void* c, int64_t ldc) override {
    kernels::cpu::gemm(t, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  void conv2d(const kernels::ConvGeom& g, const View& x, const View& w, const View& y) override {
    kernels::cpu::conv2d(g, x, w, y);
  }
  void conv2d_input_grad(const kernels::ConvGeom& g, const View& gy, const View& w, const View& gx) override {
    kernels::cpu::conv2d_input_grad(g, gy, w, gx);
  }
  void conv2d_weight_grad(const kernels::ConvGeom& g, const View& x, const View& gy, const View& gw) override {
    kernels::cpu::conv2d_weight_grad(g, x, gy, gw);
  }
  void max_pool2d(const kernels::PoolGeom& g, const View& x, const View& y) override {
    kernels::cpu::max_pool2d(g, x, y);
  }
  void max_pool2d_gather(const kernels::PoolGeom& g, const View& x, const View& v, const View& y) override {
    kernels::cpu::max_pool2d_gather(g, x, v, y);
  }
  void max_pool2d_scatter(const kernels::PoolGeom& g, const View& x, const View& gy, const View& gx) override {
    kernels::cpu::max_pool2d_scatter(g, x, gy, gx);
  }
  void avg_pool2d(const kernels::PoolGeom& g, const View& x, const View& y) override {
    kernels::cpu::avg_pool2d(g, x, y);
  }
  void avg_pool2d_adjoint(const kernels::PoolGeom& g, const View& gy, const View& gx) override {
    kernels::cpu::avg_pool2d_adjoint(g, gy, gx);
  }
  void resize_bilinear(const kernels::ResizeGeom& g, const View& x, const View& y) override {
    kernels::cpu::resize_bilinear(g, x, y);
  }
  void resize_bilinear_adjoint(const kernels::ResizeGeom& g, const View& gy, const View& gx) override {
    kernels::cpu::resize_bilinear_adjoint(g, gy, gx);
  }
  void fill_uniform(const View& dst, uint64_t seed, uint64_t offset, double lo, double hi) override {
    kernels::cpu::fill_uniform(dst, seed, offset, lo, hi);
  }
  void fill_normal(const View& dst, uint64_t seed, uint64_t offset, double mean, double std) override {
    kernels::cpu::fill_normal(dst, seed, offset, mean, std);
  }
  void adam_step(kernels::DType t, void* p, const void* g, void* m, void* v, int64_t n, double lr, double beta1,
                 double beta2, double eps, double wd, int64_t step) override {
    kernels::cpu::adam_step(t, p, g, m, v, n, lr, beta1, beta2, eps, wd, step);
  }
};

}  // namespace

Backend& cpu_backend() {
  static CpuBackend b;
  return b;
}

}  // namespace mmgan
