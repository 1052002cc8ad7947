// BatchNorm2d.
//
// batch_norm2d (training), per channel over (N, H, W) with n = N*H*W:
//   forward   xhat = (x - mean) / sqrt(var + eps),  y = w xhat + b          (var biased)
//             computed from the batch moments (one call, two sweeps in double) as
//             y = x scale + shift in one more pass (kernels/batch_norm.h), with the
//             activation after it fused in for batch_norm2d_act (its mask then multiplies g first)
//   backward  gb = sum g,  gw = sum g xhat,
//             gx = w / sqrt(var + eps) * (g - mean g - xhat mean(g xhat))
//             as the op batch_norm2d_backward: two kernels (kernels/batch_norm.h), and its own
//             backward, the double backward, in engine ops, so every higher order works too:
//   double    with s = 1/sqrt(var + eps), P(v) = v - mean v - xhat mean(v xhat), u = w ggx,
//   backward  B = mean(g xhat), m = mean(u xhat), k = mean(u g) - mean(g) mean(u), for output
//             gradients ggx, ggw, ggb of (gx, gw, gb):
//               d/dx = s^2 ((B m - k) xhat - m P(g) - B P(u)) + ggw s P(g)
//               d/dw = sum ggx s P(g)
//               d/dg = w s P(ggx) + ggw xhat + ggb          (then times the activation's mask)
// Synchronized (world_size() > 1, engine/distributed.h): the statistics are the global batch's,
// from per-rank channel sums all-reduced across the ranks, and the whole training-mode forward is
// written in engine ops (mean, then the variance about it, as the kernels' two sweeps), so its
// derivatives of every order come from the ops' and all_reduce's; one rank computes what one
// process computes on the whole batch, to rounding.
// Eval mode is a plain composite of engine ops with the running statistics as constants.

// Checked by tests/test_ops.cpp (gradcheck, gradgradcheck, PyTorch parity, CUDA vs CPU; the
// batch_norm_backward rows check the double backward against finite differences directly) and
// tests/test_models.cpp.
#include <cmath>

#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/distributed.h"
#include "engine/ops.h"
#include "engine/ops/dispatch.h"

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

Tensor mean_c(const Tensor& v) { return mean(v, kStatDims, true); }

// The double backward (see the top of this file). y: the fused activation's output (a constant
// that gives the mask), undefined without an activation.
std::vector<Tensor> batch_norm_double_backward(BackwardContext& c, double eps, double slope) {
  const Tensor x = c.saved(0), w = c.saved(1), g_out = c.saved(2), y = c.saved(3);
  const Tensor mask = y.defined() ? leaky_relu_mask(y, slope) : Tensor();
  const Tensor g = mask.defined() ? g_out * mask : g_out;
  const Tensor xc = x - mean_c(x);
  const Tensor s = pow(mean_c(square(xc)) + eps, -0.5);
  const Tensor xhat = xc * s;
  const auto P = [&](const Tensor& v) { return v - mean_c(v) - xhat * mean_c(v * xhat); };
  const bool has_gx = c.grad_defined(0), has_gw = c.grad_defined(1), has_gb = c.grad_defined(2);
  const Tensor ggx = has_gx ? c.grad(0) : Tensor();
  const Tensor ggw = has_gw ? channel(c.grad(1)) : Tensor(), ggb = has_gb ? channel(c.grad(2)) : Tensor();
  const auto plus = [](const Tensor& a, const Tensor& b) { return a.defined() ? a + b : b; };

  Tensor dx, dw, dg;
  const bool want_x = c.needs(0) && (has_gx || has_gw), want_w = c.needs(1) && w.defined() && has_gx;
  const Tensor Pg = want_x || want_w ? P(g) : Tensor();
  if (want_x && has_gx) {
    const Tensor u = w.defined() ? channel(w) * ggx : ggx;
    const Tensor B = mean_c(g * xhat), m = mean_c(u * xhat), k = mean_c(u * g) - mean_c(g) * mean_c(u);
    dx = square(s) * ((B * m - k) * xhat - m * Pg - B * P(u));
  }
  if (want_x && has_gw) dx = plus(dx, ggw * s * Pg);
  if (want_w) dw = sum(ggx * s * Pg, kStatDims);
  if (c.needs(2) && (has_gx || has_gw || has_gb)) {
    if (has_gx) dg = (w.defined() ? channel(w) * s : s) * P(ggx);
    if (has_gw) dg = plus(dg, ggw * xhat);
    if (has_gb) dg = dg.defined() ? dg + ggb : expand(ggb, x.shape());
    if (mask.defined()) dg = dg * mask;
  }
  return grads({dx, dw, dg});
}

// The training-mode backward as an op: (gx, gw, gb) from two kernels. mean and invstd are the
// forward's statistics [1, C, 1, 1] (constants); y as above.
std::vector<Tensor> batch_norm_backward_op(const Tensor& x, const Tensor& w, const Tensor& g, const Tensor& y,
                                           const Tensor& mean, const Tensor& invstd, double eps, double slope) {
  const int64_t c = x.size(1);
  Tensor gx, gw, gb;
  {
    NoGradGuard ng;
    const Tensor xd = x.detach().contiguous(), gd = g.detach().contiguous();
    const Tensor yd = y.defined() ? y.detach().contiguous() : gd;
    const Tensor wd = w.defined() ? w.detach().contiguous() : ones({c}, x.dtype(), x.device());
    const Tensor mu = mean.contiguous(), is = invstd.contiguous();
    kernels::BatchNormGrad a;
    a.g = gd.view(), a.y = yd.view(), a.x = xd.view(), a.mean = mu.view(), a.invstd = is.view(), a.weight = wd.view();
    a.channels = c, a.inner = x.size(2) * x.size(3), a.act = y.defined(), a.slope = slope;
    gw = empty({c}, x.dtype(), x.device());
    gb = empty({c}, x.dtype(), x.device());
    gx = empty_like(xd);
    Backend& be = detail::backend_of(xd);
    be.batch_norm_grad_reduce(a, gw.view(), gb.view());
    be.batch_norm_grad_input(a, gw.view(), gb.view(), gx.view());
  }
  Recorder r("batch_norm2d_backward");
  r.input(x).input(w).input(g).save(x).save(w).save(g).save(y.defined() ? y.detach() : Tensor());
  return r.finish({gx, gw, gb},
                  [eps, slope](BackwardContext& bc) { return batch_norm_double_backward(bc, eps, slope); });
}

// The batch statistics of xd (x detached and contiguous) as [1, C, 1, 1] constants: mean, biased
// variance and 1 / sqrt(var + eps).
struct BatchStats {
  Tensor mean, var, invstd;
};
BatchStats batch_stats(const Tensor& xd, double eps) {
  NoGradGuard ng;
  const int64_t c = xd.size(1), inner = xd.size(2) * xd.size(3);
  BatchStats st{empty({1, c, 1, 1}, xd.dtype(), xd.device()), empty({1, c, 1, 1}, xd.dtype(), xd.device()), {}};
  detail::backend_of(xd).channel_moments(xd.view(), c, inner, st.mean.view(), st.var.view());
  st.invstd = pow(st.var + eps, -0.5);
  return st;
}

// act: the activation after the normalisation, fused into the same pass (slope 0: ReLU, else
// LeakyReLU); its backward multiplies g by the activation's mask, read from the saved output (a
// constant: y > 0 exactly where the pre-activation is, for slope >= 0).
Tensor batch_norm_train(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& running_mean,
                        const Tensor& running_var, double momentum, double eps, bool act, double slope) {
  const int64_t n = x.size(0) * x.size(2) * x.size(3);
  MMGAN_CHECK(n > 1, "batch_norm2d: training needs more than one value per channel, got input ", x.str());
  const Tensor xd = x.detach().contiguous();
  const BatchStats st = batch_stats(xd, eps);
  const Tensor &mu = st.mean, &var = st.var, &invstd = st.invstd;
  Tensor y;
  {
    NoGradGuard ng;
    const int64_t c = x.size(1), inner = x.size(2) * x.size(3);
    // y = act(x scale + shift), scale = w / sqrt(var + eps), shift = b - mean scale: one pass over x.
    const Tensor scale = w.defined() ? channel(w.detach()) * invstd : invstd;
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
  r.input(x).input(w).input(b).save(x).save(w).save(mu).save(invstd);
  if (act) r.save_output();
  return r.finish(y, [eps, act, slope](BackwardContext& c) {
    const std::vector<Tensor> d = batch_norm_backward_op(
        c.saved(0), c.saved(1), c.grad(), act ? c.saved(4).detach() : Tensor(), c.saved(2), c.saved(3), eps, slope);
    return grads({c.needs(0) ? d[0] : Tensor(), c.needs(1) ? d[1] : Tensor(), c.needs(2) ? d[2] : Tensor()});
  });
}

// Training mode across the ranks of a data-parallel run (see the top of this file).
Tensor batch_norm_train_synced(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& running_mean,
                               const Tensor& running_var, double momentum, double eps, bool act, double slope) {
  const int64_t n = x.size(0) * x.size(2) * x.size(3) * world_size();
  MMGAN_CHECK(n > 1, "batch_norm2d: training needs more than one value per channel, got input ", x.str(), " on ",
              world_size(), " ranks");
  const double inv_n = 1.0 / double(n);
  const Tensor mu = all_reduce(sum(x, kStatDims, true), kernels::ReduceOp::Sum) * inv_n;
  const Tensor xc = x - mu;
  const Tensor var = all_reduce(sum(square(xc), kStatDims, true), kernels::ReduceOp::Sum) * inv_n;
  Tensor y = xc * pow(var + eps, -0.5);
  if (w.defined()) y = y * channel(w);
  if (b.defined()) y = y + channel(b);
  if (act) y = slope == 0 ? relu(y) : leaky_relu(y, slope);
  NoGradGuard ng;
  if (running_mean.defined()) {
    Tensor rm = running_mean;
    rm.copy_(running_mean * (1 - momentum) + mu.detach().reshape({-1}) * momentum);
  }
  if (running_var.defined()) {
    Tensor rv = running_var;
    rv.copy_(running_var * (1 - momentum) + var.detach().reshape({-1}) * (momentum * double(n) / double(n - 1)));
  }
  return y;
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
  if (training && world_size() > 1)
    return batch_norm_train_synced(x, weight, bias, running_mean, running_var, momentum, eps, act, slope);
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

std::vector<Tensor> batch_norm2d_backward(const Tensor& x, const Tensor& weight, const Tensor& grad,
                                          const Tensor& act_output, double slope, double eps) {
  MMGAN_CHECK(x.dim() == 4, "batch_norm2d_backward: input must be [N, C, H, W], got ", x.str());
  MMGAN_CHECK(world_size() == 1, "batch_norm2d_backward: the fused backward of one process's BatchNorm; across ",
              world_size(), " ranks BatchNorm is differentiated through its engine ops");
  MMGAN_CHECK(x.size(0) * x.size(2) * x.size(3) > 1,
              "batch_norm2d_backward: training needs more than one value per channel, got input ", x.str());
  check_channel_vector("weight", weight, x);
  detail::check_same("batch_norm2d_backward", x, grad);
  MMGAN_CHECK(grad.shape() == x.shape(), "batch_norm2d_backward: grad ", grad.str(), " does not match input ", x.str());
  if (act_output.defined()) {
    detail::check_same("batch_norm2d_backward", x, act_output);
    MMGAN_CHECK(act_output.shape() == x.shape(), "batch_norm2d_backward: act_output ", act_output.str(),
                " does not match input ", x.str());
    MMGAN_CHECK(slope >= 0, "batch_norm2d_backward: the activation's slope must be >= 0, got ", slope);
  }
  const BatchStats st = batch_stats(x.detach().contiguous(), eps);
  return batch_norm_backward_op(x, weight, grad, act_output, st.mean, st.invstd, eps, slope);
}

}  // namespace mmgan
