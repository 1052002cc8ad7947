// The convolution family, closed under differentiation (kernels/conv_geom.h has the formula):
//   y = conv2d(x, w)              dx = conv_transpose2d(gy, w)     dw = conv2d_weight(x, gy)
//   y = conv_transpose2d(x, w)    dx = conv2d(gy, w)               dw = conv2d_weight(gy, x)
//   y = conv2d_weight(x, gy)      dx = conv_transpose2d(gy, gw')   dgy = conv2d(x, gw')
// Every backward is one of the three, so gradients of any order stay inside the family. Biases
// are a broadcast add (their gradient is a sum, also differentiable). conv2d_act fuses the bias and
// a ReLU/LeakyReLU into the forward's output pass (kernels ConvEpilogue: the implicit GEMM's store
// on CUDA, the permuting copy on the CPU) and multiplies g by the activation's mask, a constant read
// from its saved output, before the same three formulas.
// Checked by tests/test_ops.cpp (gradcheck, gradgradcheck, PyTorch parity) and the network parity
// tests (tests/test_models.cpp).
#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/ops.h"
#include "engine/ops/dispatch.h"

namespace mmgan {

using kernels::ConvGeom;

namespace {

void check_operands(const char* op, const Tensor& x, const Tensor& w) {
  detail::check_same(op, x, w);
  MMGAN_CHECK(x.dim() == 4, op, ": input must be [N, C, H, W], got ", x.str());
  MMGAN_CHECK(w.dim() == 4, op, ": weight must be 4-d, got ", w.str());
}

void check_params(const char* op, const ConvParams& p) {
  MMGAN_CHECK(p.stride_h >= 1 && p.stride_w >= 1, op, ": stride must be >= 1, got ", p.stride_h, "x", p.stride_w);
  MMGAN_CHECK(p.pad_h >= 0 && p.pad_w >= 0, op, ": padding must be >= 0, got ", p.pad_h, "x", p.pad_w);
}

int64_t conv_out(int64_t in, int64_t k, int64_t s, int64_t pad) { return (in + 2 * pad - k) / s + 1; }

// The geometry of the conv2d that maps a [n, c, h, w] tensor with weight [o, c, kh, kw] to [n, o, oh, ow].
ConvGeom geom(int64_t n, int64_t c, int64_t h, int64_t w, int64_t o, int64_t kh, int64_t kw, int64_t oh, int64_t ow,
              const ConvParams& p) {
  ConvGeom g;
  g.n = n, g.c = c, g.h = h, g.w = w, g.o = o, g.kh = kh, g.kw = kw, g.oh = oh, g.ow = ow;
  g.sh = p.stride_h, g.sw = p.stride_w, g.ph = p.pad_h, g.pw = p.pad_w;
  return g;
}

bool empty_geom(const ConvGeom& g) { return g.n == 0 || g.c == 0 || g.o == 0 || g.h == 0 || g.w == 0; }

Tensor add_channel_bias(const char* op, const Tensor& y, const Tensor& b) {
  if (!b.defined()) return y;
  detail::check_same(op, y, b);
  MMGAN_CHECK(b.dim() == 1 && b.size(0) == y.size(1), op, ": bias ", b.str(), " does not match ", y.size(1),
              " output channels");
  return y + b.reshape({1, -1, 1, 1});
}

// conv_transpose2d with weight [c_in, c_out, kh, kw] to an [out_h, out_w] output, no bias.
Tensor conv_transpose_raw(const Tensor& x, const Tensor& w, int64_t out_h, int64_t out_w, ConvParams p) {
  const char* op = "conv_transpose2d";
  check_operands(op, x, w);
  check_params(op, p);
  MMGAN_CHECK(x.size(1) == w.size(0), op, ": input ", x.str(), " has ", x.size(1), " channels but weight ", w.str(),
              " expects ", w.size(0), " ([C_in, C_out, KH, KW])");
  const int64_t kh = w.size(2), kw = w.size(3);
  const int64_t min_h = (x.size(2) - 1) * p.stride_h - 2 * p.pad_h + kh;
  const int64_t min_w = (x.size(3) - 1) * p.stride_w - 2 * p.pad_w + kw;
  MMGAN_CHECK(out_h >= min_h && out_h < min_h + p.stride_h && out_w >= min_w && out_w < min_w + p.stride_w &&
                  out_h > 0 && out_w > 0,
              op, ": output size ", out_h, "x", out_w, " is impossible for input ", x.str(), " and weight ", w.str(),
              " (allowed: ", min_h, "..", min_h + p.stride_h - 1, " x ", min_w, "..", min_w + p.stride_w - 1, ")");
  // The conv2d this is the input-adjoint of: [N, C_out, out_h, out_w] -> [N, C_in, H, W].
  const ConvGeom g = geom(x.size(0), w.size(1), out_h, out_w, w.size(0), kh, kw, x.size(2), x.size(3), p);
  Tensor y = empty({x.size(0), w.size(1), out_h, out_w}, x.dtype(), x.device());
  if (empty_geom(g)) {
    y.fill_(0.0);
  } else {
    const Tensor xc = x.detach().contiguous(), wc = w.detach().contiguous();
    detail::backend_of(x).conv2d_input_grad(g, xc.view(), wc.view(), y.view());
  }
  return Recorder("conv_transpose2d").input(x).input(w).save(x).save(w).finish(y, [p](BackwardContext& c) {
    const Tensor g = c.grad(), x = c.saved(0), w = c.saved(1);
    return grads({c.needs(0) ? conv2d(g, w, {}, p) : Tensor(),
                  c.needs(1) ? conv2d_weight(g, x, w.size(2), w.size(3), p) : Tensor()});
  });
}

}  // namespace

namespace {

// conv2d, with act(y + b) fused into its output pass when act is set (then b and the activation are
// part of this one op: its backward masks g with the activation's derivative, read from the saved
// output as a constant, and b's gradient is the masked g's sum).
Tensor conv2d_impl(const Tensor& x, const Tensor& w, const Tensor& b, ConvParams p, bool act, double slope) {
  const char* op = act ? "conv2d_act" : "conv2d";
  check_operands(op, x, w);
  check_params(op, p);
  MMGAN_CHECK(x.size(1) == w.size(1), op, ": input ", x.str(), " has ", x.size(1), " channels but weight ", w.str(),
              " expects ", w.size(1), " ([O, C, KH, KW])");
  const int64_t kh = w.size(2), kw = w.size(3);
  MMGAN_CHECK(x.size(2) + 2 * p.pad_h >= kh && x.size(3) + 2 * p.pad_w >= kw, op, ": kernel ", kh, "x", kw,
              " is larger than the padded input ", x.str());
  MMGAN_CHECK(slope >= 0, op, ": the activation's slope must be >= 0, got ", slope);
  const bool fuse_bias = act && b.defined();
  if (fuse_bias) {
    detail::check_same(op, x, b);
    MMGAN_CHECK(b.dim() == 1 && b.size(0) == w.size(0), op, ": bias ", b.str(), " does not match ", w.size(0),
                " output channels");
  }
  const int64_t oh = conv_out(x.size(2), kh, p.stride_h, p.pad_h), ow = conv_out(x.size(3), kw, p.stride_w, p.pad_w);
  const ConvGeom g = geom(x.size(0), x.size(1), x.size(2), x.size(3), w.size(0), kh, kw, oh, ow, p);
  Tensor y = empty({x.size(0), w.size(0), oh, ow}, x.dtype(), x.device());
  const Tensor bc = fuse_bias ? b.detach().contiguous() : Tensor();
  kernels::ConvEpilogue ep;
  if (act) ep.act = kernels::act_of(true, slope), ep.slope = slope;
  if (fuse_bias) ep.bias = bc.view().data;
  if (empty_geom(g)) {  // no input channels (or nothing to compute): act(0 + b)
    NoGradGuard ng;
    y.fill_(0.0);
    if (fuse_bias) y = y + bc.reshape({1, -1, 1, 1});
    if (act) y = slope == 0 ? relu(y) : leaky_relu(y, slope);
  } else {
    const Tensor xc = x.detach().contiguous(), wc = w.detach().contiguous();
    detail::backend_of(x).conv2d(g, xc.view(), wc.view(), y.view(), ep);
  }
  Recorder r(op);
  r.input(x).input(w).input(fuse_bias ? b : Tensor()).save(x).save(w);
  if (act) r.save_output();
  y = r.finish(y, [p, act, slope](BackwardContext& c) {
    const Tensor x = c.saved(0), w = c.saved(1);
    Tensor g = c.grad();
    if (act) g = g * leaky_relu_mask(c.saved(2), slope);
    return grads({c.needs(0) ? conv_transpose_raw(g, w, x.size(2), x.size(3), p) : Tensor(),
                  c.needs(1) ? conv2d_weight(x, g, w.size(2), w.size(3), p) : Tensor(),
                  c.needs(2) ? sum(g, {0, 2, 3}) : Tensor()});
  });
  return fuse_bias ? y : add_channel_bias(op, y, b);
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, ConvParams p) {
  return conv2d_impl(x, w, b, p, false, 0);
}

Tensor conv2d_act(const Tensor& x, const Tensor& w, const Tensor& b, ConvParams p, double slope) {
  return conv2d_impl(x, w, b, p, true, slope);
}

Tensor conv_transpose2d_to(const Tensor& x, const Tensor& w, int64_t out_h, int64_t out_w, const Tensor& b,
                           ConvParams p) {
  return add_channel_bias("conv_transpose2d", conv_transpose_raw(x, w, out_h, out_w, p), b);
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& b, ConvParams p, int64_t output_padding_h,
                        int64_t output_padding_w) {
  const char* op = "conv_transpose2d";
  check_operands(op, x, w);
  MMGAN_CHECK(
      output_padding_h >= 0 && output_padding_h < p.stride_h && output_padding_w >= 0 && output_padding_w < p.stride_w,
      op, ": output_padding ", output_padding_h, "x", output_padding_w, " must be in [0, stride) (stride ", p.stride_h,
      "x", p.stride_w, ")");
  const int64_t oh = (x.size(2) - 1) * p.stride_h - 2 * p.pad_h + w.size(2) + output_padding_h;
  const int64_t ow = (x.size(3) - 1) * p.stride_w - 2 * p.pad_w + w.size(3) + output_padding_w;
  return conv_transpose2d_to(x, w, oh, ow, b, p);
}

Tensor conv2d_weight(const Tensor& x, const Tensor& gy, int64_t kh, int64_t kw, ConvParams p) {
  const char* op = "conv2d_weight";
  check_operands(op, x, gy);
  check_params(op, p);
  MMGAN_CHECK(kh >= 1 && kw >= 1, op, ": kernel size must be >= 1, got ", kh, "x", kw);
  MMGAN_CHECK(x.size(0) == gy.size(0), op, ": batch sizes differ: ", x.str(), " and ", gy.str());
  MMGAN_CHECK(x.size(2) + 2 * p.pad_h >= kh && x.size(3) + 2 * p.pad_w >= kw &&
                  conv_out(x.size(2), kh, p.stride_h, p.pad_h) == gy.size(2) &&
                  conv_out(x.size(3), kw, p.stride_w, p.pad_w) == gy.size(3),
              op, ": output gradient ", gy.str(), " does not match a ", kh, "x", kw, " convolution of ", x.str());
  const ConvGeom g = geom(x.size(0), x.size(1), x.size(2), x.size(3), gy.size(1), kh, kw, gy.size(2), gy.size(3), p);
  Tensor y = empty({gy.size(1), x.size(1), kh, kw}, x.dtype(), x.device());
  if (empty_geom(g)) {
    y.fill_(0.0);
  } else {
    const Tensor xc = x.detach().contiguous(), gc = gy.detach().contiguous();
    detail::backend_of(x).conv2d_weight_grad(g, xc.view(), gc.view(), y.view());
  }
  return Recorder("conv2d_weight").input(x).input(gy).save(x).save(gy).finish(y, [p](BackwardContext& c) {
    const Tensor g = c.grad(), x = c.saved(0), gy = c.saved(1);
    return grads({c.needs(0) ? conv_transpose_raw(gy, g, x.size(2), x.size(3), p) : Tensor(),
                  c.needs(1) ? conv2d(x, g, {}, p) : Tensor()});
  });
}

}  // namespace mmgan
