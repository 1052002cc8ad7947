// Bilinear resize (F.interpolate(mode="bilinear", align_corners=False); taps in
// kernels/pool_geom.h) as a closed pair of recorded ops: the map R is linear, so
//   y = R x        dx = R^T gy          z = R^T g      dg = R gz
// and gradients of any order stay inside the pair.
// Checked by tests/test_ops.cpp: gradcheck, gradgradcheck, float32 against float64, CUDA against
// the CPU, PyTorch parity (upsampling, downsampling, the Inception input's shape family).
#include "engine/autograd/node.h"
#include "engine/ops.h"
#include "engine/ops/dispatch.h"

namespace mmgan {

using kernels::ResizeGeom;

namespace {

Tensor resize_adjoint(const Tensor& gy, const ResizeGeom& g);

Tensor resize(const Tensor& x, const ResizeGeom& g) {
  Tensor y = empty({g.n, g.c, g.oh, g.ow}, x.dtype(), x.device());
  if (g.planes() > 0) detail::backend_of(x).resize_bilinear(g, x.detach().contiguous().view(), y.view());
  return Recorder("resize_bilinear").input(x).finish(y, [g](BackwardContext& c) {
    return grads({resize_adjoint(c.grad(), g)});
  });
}

Tensor resize_adjoint(const Tensor& gy, const ResizeGeom& g) {
  MMGAN_CHECK(gy.dim() == 4 && gy.size(0) == g.n && gy.size(1) == g.c && gy.size(2) == g.oh && gy.size(3) == g.ow,
              "resize_bilinear_backward: output gradient ", gy.str(), " does not match the resized shape [", g.n, ", ",
              g.c, ", ", g.oh, ", ", g.ow, "]");
  Tensor gx = empty({g.n, g.c, g.h, g.w}, gy.dtype(), gy.device());
  if (g.planes() > 0) detail::backend_of(gy).resize_bilinear_adjoint(g, gy.detach().contiguous().view(), gx.view());
  return Recorder("resize_bilinear_backward").input(gy).finish(gx, [g](BackwardContext& c) {
    return grads({resize(c.grad(), g)});
  });
}

}  // namespace

Tensor resize_bilinear(const Tensor& x, int64_t out_h, int64_t out_w) {
  const char* op = "resize_bilinear";
  MMGAN_CHECK(x.dim() == 4, op, ": input must be [N, C, H, W], got ", x.str());
  MMGAN_CHECK(x.size(2) >= 1 && x.size(3) >= 1, op, ": input ", x.str(), " has an empty spatial dimension");
  MMGAN_CHECK(out_h >= 1 && out_w >= 1, op, ": output size must be >= 1, got ", out_h, "x", out_w, " for input ",
              x.str());
  ResizeGeom g;
  g.n = x.size(0), g.c = x.size(1), g.h = x.size(2), g.w = x.size(3), g.oh = out_h, g.ow = out_w;
  return resize(x, g);
}

}  // namespace mmgan
