#include "engine/random.h"

#include "engine/error.h"

namespace mmgan {

uint64_t Generator::reserve(uint64_t n, kernels::DType t, bool normal) {
  const uint64_t start = offset_;
  const uint64_t uniforms = normal ? 2 * ((n + 1) / 2) : n;  // Box-Muller consumes pairs
  offset_ += kernels::philox_blocks(uniforms, t);
  return start;
}

void Generator::bind_base(Tensor base) {
  MMGAN_CHECK(!base.defined() || (base.numel() == 1 && base.dtype() == kernels::DType::F64 && base.is_contiguous()),
              "Generator::bind_base: the base must be a float64 scalar, got ", base.str());
  base_ = std::move(base);
}

kernels::PhiloxKey Generator::key(uint64_t offset, Device d) const {
  kernels::PhiloxKey k;
  k.seed = seed_;
  k.offset = offset;
  if (base_.defined()) {
    MMGAN_CHECK(base_.device() == d, "Generator: a draw on ", d.str(), " from a generator bound to a base on ",
                base_.device().str());
    k.base = static_cast<const double*>(base_.view().data);
  }
  return k;
}

}  // namespace mmgan
