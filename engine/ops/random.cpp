// Random sampling ops (ops.h, "sampling"): values drawn from a Generator, with no gradient.
#include "engine/autograd/grad_mode.h"
#include "engine/backend.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "engine/random.h"
#include "engine/ops/dispatch.h"

namespace mmgan {

Tensor random_interpolate(const Tensor& x_real, const Tensor& x_fake, Generator& g, Tensor* u_out) {
  MMGAN_CHECK(x_real.dim() >= 1 && x_real.shape() == x_fake.shape(), "random_interpolate: real batch ", x_real.str(),
              " and fake batch ", x_fake.str(), " must have one shape [N, ...]");
  detail::check_same("random_interpolate", x_real, x_fake);
  const Tensor xr = x_real.detach().contiguous(), xf = x_fake.detach().contiguous();
  const int64_t n = xr.size(0);
  Tensor u = empty({n}, xr.dtype(), xr.device()), y = empty_like(xr);
  const uint64_t off = g.reserve(uint64_t(n), xr.dtype(), false);
  detail::backend_of(xr).interpolate(xr.view(), xf.view(), g.key(off, xr.device()), u.view(), y.view());
  if (u_out) {
    Shape s(size_t(xr.dim()), 1);
    s[0] = n;
    *u_out = u.reshape(s);
  }
  return y;
}

}  // namespace mmgan
