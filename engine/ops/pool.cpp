// Pooling, as two closed families of recorded ops (windows, divisors and argmax in
// kernels/pool_geom.h), so gradients of any order stay inside them:
//   Window averages: avg_pool2d (fixed windows, count_include_pad either way) and
//   adaptive_avg_pool2d are one linear map A with different window rules; its adjoint A^T
//   spreads gy / divisor over each window.
//     y = A x        dx = A^T gy          z = A^T g      dg = A gz
//   Max pooling is the gather G_x of x at each window's first maximum; the positions are
//   constants (max pooling is piecewise linear), so x enters the backward ops only as a constant.
//     y = max_pool2d(x) = G_x x           dx = G_x^T gy   (max_pool2d_backward, a scatter)
//     z = G_x^T g    dg = G_x gz          w = G_x v       dv = G_x^T gw
// Checked by tests/test_ops.cpp: gradcheck, gradgradcheck, float32 against float64, CUDA against
// the CPU, PyTorch parity, and ties going to the first maximum as in PyTorch.
#include "engine/autograd/node.h"
#include "engine/ops.h"
#include "engine/ops/dispatch.h"

namespace mmgan {

using kernels::PoolGeom;

namespace {

void check_input(const char* op, const Tensor& x) {
  MMGAN_CHECK(x.dim() == 4, op, ": input must be [N, C, H, W], got ", x.str());
  MMGAN_CHECK(x.size(2) >= 1 && x.size(3) >= 1, op, ": input ", x.str(), " has an empty spatial dimension");
}

PoolGeom fixed_geom(const char* op, const Tensor& x, const PoolParams& p, bool count_include_pad = true) {
  check_input(op, x);
  MMGAN_CHECK(p.kernel_h >= 1 && p.kernel_w >= 1, op, ": kernel size must be >= 1, got ", p.kernel_h, "x", p.kernel_w);
  MMGAN_CHECK(p.stride_h >= 1 && p.stride_w >= 1, op, ": stride must be >= 1, got ", p.stride_h, "x", p.stride_w);
  MMGAN_CHECK(p.pad_h >= 0 && p.pad_w >= 0 && 2 * p.pad_h <= p.kernel_h && 2 * p.pad_w <= p.kernel_w, op, ": padding ",
              p.pad_h, "x", p.pad_w, " must be >= 0 and at most half the kernel ", p.kernel_h, "x", p.kernel_w);
  MMGAN_CHECK(x.size(2) + 2 * p.pad_h >= p.kernel_h && x.size(3) + 2 * p.pad_w >= p.kernel_w, op, ": kernel ",
              p.kernel_h, "x", p.kernel_w, " is larger than the padded input ", x.str(), " (padding ", p.pad_h, "x",
              p.pad_w, ")");
  PoolGeom g;
  g.n = x.size(0), g.c = x.size(1), g.h = x.size(2), g.w = x.size(3);
  g.kh = p.kernel_h, g.kw = p.kernel_w, g.sh = p.stride_h, g.sw = p.stride_w, g.ph = p.pad_h, g.pw = p.pad_w;
  g.oh = (g.h + 2 * g.ph - g.kh) / g.sh + 1, g.ow = (g.w + 2 * g.pw - g.kw) / g.sw + 1;
  g.count_include_pad = count_include_pad;
  return g;
}

Tensor new_output(const Tensor& like, const PoolGeom& g, bool input_shaped) {
  return empty({g.n, g.c, input_shaped ? g.h : g.oh, input_shaped ? g.w : g.ow}, like.dtype(), like.device());
}

void check_output_grad(const char* op, const Tensor& gy, const PoolGeom& g) {
  MMGAN_CHECK(gy.dim() == 4 && gy.size(0) == g.n && gy.size(1) == g.c && gy.size(2) == g.oh && gy.size(3) == g.ow, op,
              ": output gradient ", gy.str(), " does not match the pooled shape [", g.n, ", ", g.c, ", ", g.oh, ", ",
              g.ow, "]");
}

Tensor window_average_adjoint(const Tensor& gy, const PoolGeom& g);

// y = A x: the window averages of x.
Tensor window_average(const char* op, const Tensor& x, const PoolGeom& g) {
  Tensor y = new_output(x, g, false);
  if (g.planes() > 0) detail::backend_of(x).avg_pool2d(g, x.detach().contiguous().view(), y.view());
  return Recorder(op).input(x).finish(y,
                                      [g](BackwardContext& c) { return grads({window_average_adjoint(c.grad(), g)}); });
}

// gx = A^T gy: each gy / divisor added over its window.
Tensor window_average_adjoint(const Tensor& gy, const PoolGeom& g) {
  check_output_grad("avg_pool2d_backward", gy, g);
  Tensor gx = new_output(gy, g, true);
  if (g.planes() > 0) detail::backend_of(gy).avg_pool2d_adjoint(g, gy.detach().contiguous().view(), gx.view());
  return Recorder("avg_pool2d_backward").input(gy).finish(gx, [g](BackwardContext& c) {
    return grads({window_average(g.adaptive ? "adaptive_avg_pool2d" : "avg_pool2d", c.grad(), g)});
  });
}

Tensor argmax_scatter(const Tensor& gy, const Tensor& x, const PoolGeom& g);

// w = G_x v: v (x-shaped) at each window's argmax in the constant x.
Tensor argmax_gather(const Tensor& v, const Tensor& x, const PoolGeom& g) {
  detail::check_same("max_pool2d_gather", v, x);
  Tensor y = new_output(v, g, false);
  const Tensor xc = x.detach();
  if (g.planes() > 0)
    detail::backend_of(v).max_pool2d_gather(g, xc.contiguous().view(), v.detach().contiguous().view(), y.view());
  return Recorder("max_pool2d_gather").input(v).save(xc).finish(y, [g](BackwardContext& c) {
    return grads({argmax_scatter(c.grad(), c.saved(0), g)});
  });
}

// z = G_x^T gy.
Tensor argmax_scatter(const Tensor& gy, const Tensor& x, const PoolGeom& g) {
  detail::check_same("max_pool2d_backward", gy, x);
  check_output_grad("max_pool2d_backward", gy, g);
  Tensor gx = new_output(gy, g, true);
  const Tensor xc = x.detach();
  if (g.planes() > 0)
    detail::backend_of(gy).max_pool2d_scatter(g, xc.contiguous().view(), gy.detach().contiguous().view(), gx.view());
  return Recorder("max_pool2d_backward").input(gy).save(xc).finish(gx, [g](BackwardContext& c) {
    return grads({argmax_gather(c.grad(), c.saved(0), g)});
  });
}

}  // namespace

Tensor max_pool2d(const Tensor& x, PoolParams p) {
  const PoolGeom g = fixed_geom("max_pool2d", x, p);
  Tensor y = new_output(x, g, false);
  if (g.planes() > 0) detail::backend_of(x).max_pool2d(g, x.detach().contiguous().view(), y.view());
  return Recorder("max_pool2d").input(x).save(x.detach()).finish(y, [g](BackwardContext& c) {
    return grads({argmax_scatter(c.grad(), c.saved(0), g)});
  });
}

Tensor max_pool2d_backward(const Tensor& gy, const Tensor& x, PoolParams p) {
  return argmax_scatter(gy, x, fixed_geom("max_pool2d_backward", x, p));
}

Tensor avg_pool2d(const Tensor& x, PoolParams p, bool count_include_pad) {
  return window_average("avg_pool2d", x, fixed_geom("avg_pool2d", x, p, count_include_pad));
}

Tensor adaptive_avg_pool2d(const Tensor& x, int64_t out_h, int64_t out_w) {
  const char* op = "adaptive_avg_pool2d";
  check_input(op, x);
  MMGAN_CHECK(out_h >= 1 && out_w >= 1, op, ": output size must be >= 1, got ", out_h, "x", out_w, " for input ",
              x.str());
  PoolGeom g;
  g.n = x.size(0), g.c = x.size(1), g.h = x.size(2), g.w = x.size(3), g.oh = out_h, g.ow = out_w;
  g.adaptive = true;
  return window_average(op, x, g);
}

}  // namespace mmgan
