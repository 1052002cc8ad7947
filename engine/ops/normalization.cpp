// BatchNorm2d and spectral normalisation.
//
// batch_norm2d (training), per channel over (N, H, W) with n = N*H*W:
//   forward   xhat = (x - mean) / sqrt(var + eps),  y = w xhat + b          (var biased)
//             computed from the batch moments (one call, two sweeps in double) as
//             y = x scale + shift in one more pass (kernels/channel_affine.h), with the
//             activation after it fused in for batch_norm2d_act (its mask then multiplies g first)
//   backward  gb = sum g,  gw = sum g xhat,
//             gx = w / sqrt(var + eps) * (g - mean g - xhat mean(g xhat))
// The backward recomputes mean, var and xhat from the saved x with engine ops, so it is itself
// differentiable in x, w and g: the double backward the gradient penalty needs, batch coupling
// included. Eval mode is a plain composite of engine ops with the running statistics as constants.
//
// spectral_normalize follows torch.nn.utils.spectral_norm: the power iteration runs outside
// autograd and u, v are constants in sigma = u . (W v), so the gradient flows through W only.
// Checked by tests/test_ops.cpp (gradcheck, gradgradcheck, PyTorch parity) and tests/test_models.cpp.
#include <cmath>
#include <limits>

#include "../autograd/grad_mode.h"
#include "../autograd/node.h"
#include "../ops.h"
#include "dispatch.h"

namespace mmgan {

namespace {

const std::vector<int64_t> kStatDims = {0, 2, 3};

Tensor channel(const Tensor& t) { return t.reshape({1, -1, 1, 1}); }

void check_channel_vector(const char* what, const Tensor& t, const Tensor& x) {
  if (!t.defined()) return;
  detail::check_same("batch_norm2d", x, t);
  MMGAN_CHECK(t.dim() == 1 && t.size(0) == x.size(1), "batch_norm2d: ", what, " ", t.str(), " does not match ",
              x.size(1), " channels of input ", x.str());
}

// The training-mode input gradient, in engine ops (differentiable in x, w and g).
Tensor batch_norm_input_grad(const Tensor& x, const Tensor& w, const Tensor& g, double eps) {
  const Tensor xc = x - mean(x, kStatDims, true);
  const Tensor invstd = pow(mean(square(xc), kStatDims, true) + eps, -0.5);
  const Tensor xhat = xc * invstd;
  const Tensor scale = w.defined() ? channel(w) * invstd : invstd;
  return scale * (g - mean(g, kStatDims, true) - xhat * mean(g * xhat, kStatDims, true));
}

// act: the activation after the normalisation, fused into the same pass (slope 0: ReLU, else
// LeakyReLU); its backward multiplies g by the activation's mask, read from the saved output (a
// constant: y > 0 exactly where the pre-activation is, for slope >= 0).
Tensor batch_norm_train(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& running_mean,
                        const Tensor& running_var, double momentum, double eps, bool act, double slope) {
  const int64_t n = x.size(0) * x.size(2) * x.size(3);
  MMGAN_CHECK(n > 1, "batch_norm2d: training needs more than one value per channel, got input ", x.str());
  Tensor y;
  {
    NoGradGuard ng;
    const Tensor xd = x.detach().contiguous();
    const int64_t c = x.size(1), inner = x.size(2) * x.size(3);
    Tensor mu = empty({1, c, 1, 1}, x.dtype(), x.device()), var = empty({1, c, 1, 1}, x.dtype(), x.device());
    detail::backend_of(xd).channel_moments(xd.view(), c, inner, mu.view(), var.view());
    // y = act(x scale + shift), scale = w / sqrt(var + eps), shift = b - mean scale: one pass over x.
    Tensor scale = pow(var + eps, -0.5);
    if (w.defined()) scale = channel(w.detach()) * scale;
    const Tensor shift = b.defined() ? channel(b.detach()) - mu * scale : neg(mu * scale);
    y = empty_like(xd);
    detail::backend_of(xd).channel_affine(xd.view(), scale.contiguous().view(), shift.contiguous().view(), c, inner,
                                          act, slope, y.view());
    if (running_mean.defined()) {
      Tensor rm = running_mean;
      rm.copy_(running_mean * (1 - momentum) + mu.reshape({-1}) * momentum);
    }
    if (running_var.defined()) {
      Tensor rv = running_var;
      rv.copy_(running_var * (1 - momentum) + var.reshape({-1}) * (momentum * double(n) / double(n - 1)));
    }
  }
  Recorder r("batch_norm2d");
  r.input(x).input(w).input(b).save(x).save(w);
  if (act) r.save_output();
  return r.finish(y, [eps, act, slope](BackwardContext& c) {
    const Tensor x = c.saved(0), w = c.saved(1);
    Tensor g = c.grad();
    if (act) g = g * (gt(c.saved(2), 0.0) * (1 - slope) + slope);
    Tensor gx, gw, gb;
    if (c.needs(0)) gx = batch_norm_input_grad(x, w, g, eps);
    if (c.needs(1)) {
      const Tensor xc = x - mean(x, kStatDims, true);
      gw = sum(g * xc * pow(mean(square(xc), kStatDims, true) + eps, -0.5), kStatDims);
    }
    if (c.needs(2)) gb = sum(g, kStatDims);
    return grads({gx, gw, gb});
  });
}

Tensor l2_normalize(const Tensor& a, double eps) {
  return a / clamp(sqrt(sum(square(a))), eps, std::numeric_limits<double>::infinity());
}

}  // namespace

namespace {

Tensor batch_norm2d_impl(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                         const Tensor& running_var, bool training, double momentum, double eps, bool act,
                         double slope) {
  MMGAN_CHECK(x.dim() == 4, "batch_norm2d: input must be [N, C, H, W], got ", x.str());
  check_channel_vector("weight", weight, x);
  check_channel_vector("bias", bias, x);
  check_channel_vector("running_mean", running_mean, x);
  check_channel_vector("running_var", running_var, x);
  MMGAN_CHECK((!running_mean.defined() || !running_mean.requires_grad()) &&
                  (!running_var.defined() || !running_var.requires_grad()),
              "batch_norm2d: running statistics must not require grad (they are buffers)");
  MMGAN_CHECK(slope >= 0, "batch_norm2d_act: the activation's slope must be >= 0, got ", slope);
  if (training) return batch_norm_train(x, weight, bias, running_mean, running_var, momentum, eps, act, slope);
  MMGAN_CHECK(running_mean.defined() && running_var.defined(),
              "batch_norm2d: eval mode needs running_mean and running_var");
  Tensor y = (x - channel(running_mean)) * channel(pow(running_var + eps, -0.5));
  if (weight.defined()) y = y * channel(weight);
  if (bias.defined()) y = y + channel(bias);
  if (!act) return y;
  return slope == 0 ? relu(y) : leaky_relu(y, slope);
}

}  // namespace

Tensor batch_norm2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                    const Tensor& running_var, bool training, double momentum, double eps) {
  return batch_norm2d_impl(x, weight, bias, running_mean, running_var, training, momentum, eps, false, 0);
}

Tensor batch_norm2d_act(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                        const Tensor& running_var, bool training, double slope, double momentum, double eps) {
  return batch_norm2d_impl(x, weight, bias, running_mean, running_var, training, momentum, eps, true, slope);
}

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
