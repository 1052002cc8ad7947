// spectral_normalize follows torch.nn.utils.spectral_norm: the power iteration runs outside
// autograd and u, v are constants in sigma = u . (W v), so the gradient flows through W only.
// Checked by tests/test_ops.cpp (gradcheck, gradgradcheck, PyTorch parity, CUDA vs CPU) and
// tests/test_models.cpp.
#include <limits>

#include "engine/autograd/grad_mode.h"
#include "engine/ops.h"
#include "engine/ops/dispatch.h"

namespace mmgan {

namespace {

Tensor l2_normalize(const Tensor& a, double eps) {
  return a / clamp(sqrt(sum(square(a))), eps, std::numeric_limits<double>::infinity());
}

}  // namespace

Tensor spectral_normalize(const Tensor& w, const Tensor& u, const Tensor& v, int64_t dim, bool power_iteration,
                          double eps) {
  MMGAN_CHECK(w.dim() >= 1, "spectral_normalize: weight must have at least one dimension, got ", w.str());
  const int d = wrap_dim(dim, w.dim(), "spectral_normalize");
  std::vector<int64_t> perm{d};
  for (int i = 0; i < w.dim(); ++i)
    if (i != d) perm.push_back(i);
  const int64_t h = w.size(d), rest = h == 0 ? 0 : w.numel() / h;
  detail::check_same("spectral_normalize", w, u);
  detail::check_same("spectral_normalize", w, v);
  MMGAN_CHECK(u.dim() == 1 && u.size(0) == h && v.dim() == 1 && v.size(0) == rest, "spectral_normalize: u ", u.str(),
              " and v ", v.str(), " must be [", h, "] and [", rest, "] for weight ", w.str(), " (dim ", d, ")");
  MMGAN_CHECK(!u.requires_grad() && !v.requires_grad(), "spectral_normalize: u and v are buffers, not parameters");
  const Tensor wm = permute(w, perm).reshape({h, rest});
  if (power_iteration) {
    NoGradGuard ng;
    const Tensor wd = wm.detach();
    const Tensor v_new = l2_normalize(matmul(wd.t(), u.reshape({h, 1})), eps);
    const Tensor u_new = l2_normalize(matmul(wd, v_new), eps);
    Tensor vv = v, uu = u;
    vv.copy_(v_new.reshape({rest}));
    uu.copy_(u_new.reshape({h}));
  }
  // sigma's graph keeps copies of u and v (as PyTorch clones them): the next training forward
  // rewrites the buffers while this forward's graph may still await its backward (the real, fake
  // and interpolated batches of one D step).
  Tensor uc, vc;
  {
    NoGradGuard ng;
    uc = u.detach().clone().reshape({h, 1});
    vc = v.detach().clone().reshape({rest, 1});
  }
  const Tensor sigma = sum(uc * matmul(wm, vc));
  return w / sigma;
}

}  // namespace mmgan
