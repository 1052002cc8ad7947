// Elementwise ops. Each op: the forward kernel call, then its backward formula in engine ops.
// Checked by tests/test_ops.cpp: gradcheck and gradgradcheck in float64 for every op.
#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/ops.h"
#include "engine/ops/dispatch.h"

namespace mmgan {
namespace detail {

kernels::View broadcast_view(const Tensor& t, const Shape& shape) {
  kernels::View v = t.view();
  const int nd = int(shape.size()), off = nd - t.dim();
  MMGAN_CHECK(nd <= kernels::kMaxDims && off >= 0, "cannot broadcast ", t.str(), " to ", shape_str(shape));
  v.ndim = nd;
  for (int i = nd - 1; i >= 0; --i) {
    const int j = i - off;
    const int64_t size = j >= 0 ? t.shape()[size_t(j)] : 1;
    const int64_t stride = j >= 0 ? t.strides()[size_t(j)] : 0;
    MMGAN_CHECK(size == shape[size_t(i)] || size == 1, "cannot broadcast ", t.str(), " to ", shape_str(shape));
    v.sizes[i] = shape[size_t(i)];
    v.strides[i] = size == 1 ? 0 : stride;
  }
  return v;
}

void check_same(const char* op, const Tensor& a, const Tensor& b) {
  MMGAN_CHECK(a.defined() && b.defined(), op, ": undefined operand");
  MMGAN_CHECK(a.dtype() == b.dtype(), op, ": dtype mismatch between ", a.str(), " and ", b.str());
  MMGAN_CHECK(a.device() == b.device(), op, ": device mismatch between ", a.str(), " and ", b.str());
}

Tensor run_unary(kernels::UnaryOp op, const Tensor& x, double a, double b) {
  Tensor xc = x.is_contiguous() ? x : contiguous(x.detach());
  Tensor y = empty(x.shape(), x.dtype(), x.device());
  backend_of(x).unary(op, a, b, xc.view(), y.view());
  return y;
}

}  // namespace detail

using detail::run_unary;
using kernels::BinaryOp;
using kernels::UnaryOp;

namespace {

Tensor run_binary(BinaryOp op, const char* name, const Tensor& a, const Tensor& b) {
  detail::check_same(name, a, b);
  const Shape out_shape = broadcast_shapes(a.shape(), b.shape());
  Tensor y = empty(out_shape, a.dtype(), a.device());
  detail::backend_of(a).binary(op, detail::broadcast_view(a, out_shape), detail::broadcast_view(b, out_shape),
                               y.view());
  return y;
}

// A constant: computed from detached data, never recorded.
Tensor mask_unary(UnaryOp op, const Tensor& x, double a, double b = 0) { return run_unary(op, x.detach(), a, b); }

}  // namespace

// -x                                  dx = -g
Tensor neg(const Tensor& x) {
  return Recorder("neg").input(x).finish(run_unary(UnaryOp::Neg, x),
                                         [](BackwardContext& c) { return grads({neg(c.grad())}); });
}

// y = e^x                             dx = g y
Tensor exp(const Tensor& x) {
  return Recorder("exp").input(x).save_output().finish(
      run_unary(UnaryOp::Exp, x), [](BackwardContext& c) { return grads({c.grad() * c.saved(0)}); });
}

// log x                               dx = g / x
Tensor log(const Tensor& x) {
  return Recorder("log").input(x).save(x).finish(run_unary(UnaryOp::Log, x),
                                                 [](BackwardContext& c) { return grads({c.grad() / c.saved(0)}); });
}

// |x|                                 dx = g sign(x)
Tensor abs(const Tensor& x) {
  return Recorder("abs").input(x).save(x).finish(
      run_unary(UnaryOp::Abs, x), [](BackwardContext& c) { return grads({c.grad() * sign(c.saved(0))}); });
}

// sign(x): piecewise constant, so no history.
Tensor sign(const Tensor& x) { return mask_unary(UnaryOp::Sign, x, 0); }

// y = sqrt(x)                         dx = g / (2 y)
Tensor sqrt(const Tensor& x) {
  return Recorder("sqrt").input(x).save_output().finish(
      run_unary(UnaryOp::Sqrt, x), [](BackwardContext& c) { return grads({c.grad() / (2.0 * c.saved(0))}); });
}

// x^2                                 dx = 2 g x
Tensor square(const Tensor& x) {
  return Recorder("square").input(x).save(x).finish(
      run_unary(UnaryOp::Square, x), [](BackwardContext& c) { return grads({2.0 * c.grad() * c.saved(0)}); });
}

// y = 1/x                             dx = -g y^2
Tensor reciprocal(const Tensor& x) {
  return Recorder("reciprocal")
      .input(x)
      .save_output()
      .finish(run_unary(UnaryOp::Reciprocal, x),
              [](BackwardContext& c) { return grads({-c.grad() * square(c.saved(0))}); });
}

// x^p                                 dx = g p x^(p-1)   (0 for p = 0)
Tensor pow(const Tensor& x, double p) {
  return Recorder("pow").input(x).save(x).finish(run_unary(UnaryOp::PowScalar, x, p), [p](BackwardContext& c) {
    if (p == 0) return grads({zeros_like(c.grad())});
    if (p == 1) return grads({c.grad()});
    return grads({c.grad() * (p * pow(c.saved(0), p - 1))});
  });
}

// min(max(x, lo), hi)                 dx = g [lo <= x <= hi]
Tensor clamp(const Tensor& x, double lo, double hi) {
  return Recorder("clamp").input(x).save(x).finish(run_unary(UnaryOp::Clamp, x, lo, hi), [lo, hi](BackwardContext& c) {
    return grads({c.grad() * mask_unary(UnaryOp::InRange, c.saved(0), lo, hi)});
  });
}

// max(x, 0)                           dx = g [x > 0]
Tensor relu(const Tensor& x) {
  return Recorder("relu").input(x).save(x).finish(run_unary(UnaryOp::Relu, x), [](BackwardContext& c) {
    return grads({c.grad() * mask_unary(UnaryOp::GtScalar, c.saved(0), 0)});
  });
}

// x > 0 ? x : a x                     dx = g (x > 0 ? 1 : a)
Tensor leaky_relu(const Tensor& x, double slope) {
  return Recorder("leaky_relu")
      .input(x)
      .save(x)
      .finish(run_unary(UnaryOp::LeakyRelu, x, slope),
              [slope](BackwardContext& c) { return grads({c.grad() * leaky_relu_mask(c.saved(0), slope)}); });
}

Tensor leaky_relu_mask(const Tensor& x, double slope) { return mask_unary(UnaryOp::LeakyMask, x, slope); }

// y = tanh x                          dx = g (1 - y^2)
Tensor tanh(const Tensor& x) {
  return Recorder("tanh").input(x).save_output().finish(
      run_unary(UnaryOp::Tanh, x), [](BackwardContext& c) { return grads({c.grad() * (1.0 - square(c.saved(0)))}); });
}

// y = 1 / (1 + e^-x)                  dx = g y (1 - y)
Tensor sigmoid(const Tensor& x) {
  return Recorder("sigmoid").input(x).save_output().finish(run_unary(UnaryOp::Sigmoid, x), [](BackwardContext& c) {
    Tensor y = c.saved(0);
    return grads({c.grad() * y * (1.0 - y)});
  });
}

// log(1 + e^x)                        dx = g sigmoid(x)
Tensor softplus(const Tensor& x) {
  return Recorder("softplus").input(x).save(x).finish(run_unary(UnaryOp::Softplus, x), [](BackwardContext& c) {
    return grads({c.grad() * sigmoid(c.saved(0))});
  });
}

// log sigmoid(x) = -softplus(-x)      dx = g sigmoid(-x)
Tensor log_sigmoid(const Tensor& x) {
  return Recorder("log_sigmoid").input(x).save(x).finish(run_unary(UnaryOp::LogSigmoid, x), [](BackwardContext& c) {
    return grads({c.grad() * sigmoid(-c.saved(0))});
  });
}

// a + b                               da = sum_to(g), db = sum_to(g)
Tensor add(const Tensor& a, const Tensor& b) {
  return Recorder("add").input(a).input(b).finish(
      run_binary(BinaryOp::Add, "add", a, b), [sa = a.shape(), sb = b.shape()](BackwardContext& c) {
        Tensor g = c.grad();
        return grads({c.needs(0) ? sum_to(g, sa) : Tensor(), c.needs(1) ? sum_to(g, sb) : Tensor()});
      });
}

// a - b                               da = sum_to(g), db = -sum_to(g)
Tensor sub(const Tensor& a, const Tensor& b) {
  return Recorder("sub").input(a).input(b).finish(
      run_binary(BinaryOp::Sub, "sub", a, b), [sa = a.shape(), sb = b.shape()](BackwardContext& c) {
        Tensor g = c.grad();
        return grads({c.needs(0) ? sum_to(g, sa) : Tensor(), c.needs(1) ? neg(sum_to(g, sb)) : Tensor()});
      });
}

// a b                                 da = sum_to(g b), db = sum_to(g a)
Tensor mul(const Tensor& a, const Tensor& b) {
  return Recorder("mul").input(a).input(b).save(a).save(b).finish(
      run_binary(BinaryOp::Mul, "mul", a, b), [sa = a.shape(), sb = b.shape()](BackwardContext& c) {
        Tensor g = c.grad();
        return grads(
            {c.needs(0) ? sum_to(g * c.saved(1), sa) : Tensor(), c.needs(1) ? sum_to(g * c.saved(0), sb) : Tensor()});
      });
}

// a / b                               da = sum_to(g / b), db = -sum_to(g a / b^2)
Tensor div(const Tensor& a, const Tensor& b) {
  return Recorder("div").input(a).input(b).save(a).save(b).finish(
      run_binary(BinaryOp::Div, "div", a, b), [sa = a.shape(), sb = b.shape()](BackwardContext& c) {
        Tensor g = c.grad(), bb = c.saved(1);
        return grads({c.needs(0) ? sum_to(g / bb, sa) : Tensor(),
                      c.needs(1) ? neg(sum_to(g * c.saved(0) / square(bb), sb)) : Tensor()});
      });
}

namespace {
// max/min of two tensors: the winner takes the gradient, ties split it in half (as PyTorch).
Tensor extremum(BinaryOp op, const char* name, const Tensor& a, const Tensor& b) {
  return Recorder(name).input(a).input(b).save(a).save(b).finish(
      run_binary(op, name, a, b), [op, name, sa = a.shape(), sb = b.shape()](BackwardContext& c) {
        Tensor x = c.saved(0).detach(), y = c.saved(1).detach();
        Tensor wins =
            op == BinaryOp::Maximum ? run_binary(BinaryOp::Gt, name, x, y) : run_binary(BinaryOp::Gt, name, y, x);
        Tensor wa = wins + 0.5 * run_binary(BinaryOp::Eq, name, x, y);  // constant weight of a
        Tensor g = c.grad();
        return grads({c.needs(0) ? sum_to(g * wa, sa) : Tensor(), c.needs(1) ? sum_to(g * (1.0 - wa), sb) : Tensor()});
      });
}
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) { return extremum(BinaryOp::Maximum, "maximum", a, b); }
Tensor minimum(const Tensor& a, const Tensor& b) { return extremum(BinaryOp::Minimum, "minimum", a, b); }

// x + s                               dx = g
Tensor add(const Tensor& x, double s) {
  return Recorder("add_scalar").input(x).finish(run_unary(UnaryOp::AddScalar, x, s), [](BackwardContext& c) {
    return grads({c.grad()});
  });
}

// x s                                 dx = g s
Tensor mul(const Tensor& x, double s) {
  return Recorder("mul_scalar").input(x).finish(run_unary(UnaryOp::MulScalar, x, s), [s](BackwardContext& c) {
    return grads({c.grad() * s});
  });
}

// s - x                               dx = -g
Tensor rsub(double s, const Tensor& x) {
  return Recorder("rsub_scalar").input(x).finish(run_unary(UnaryOp::RSubScalar, x, s), [](BackwardContext& c) {
    return grads({neg(c.grad())});
  });
}

// cond ? a : b                        da = sum_to(cond ? g : 0), db = sum_to(cond ? 0 : g)
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  detail::check_same("where", a, b);
  detail::check_same("where", cond, a);
  const Shape out_shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape()), b.shape());
  Tensor y = empty(out_shape, a.dtype(), a.device());
  detail::backend_of(a).where(detail::broadcast_view(cond, out_shape), detail::broadcast_view(a, out_shape),
                              detail::broadcast_view(b, out_shape), y.view());
  return Recorder("where")
      .input(a)
      .input(b)
      .save(cond.detach())
      .finish(y, [sa = a.shape(), sb = b.shape()](BackwardContext& c) {
        Tensor g = c.grad(), m = c.saved(0), z = zeros({}, g.dtype(), g.device());
        return grads(
            {c.needs(0) ? sum_to(where(m, g, z), sa) : Tensor(), c.needs(1) ? sum_to(where(m, z, g), sb) : Tensor()});
      });
}

Tensor gt(const Tensor& x, double s) { return mask_unary(UnaryOp::GtScalar, x, s); }
Tensor ge(const Tensor& x, double s) { return mask_unary(UnaryOp::GeScalar, x, s); }
Tensor lt(const Tensor& x, double s) { return mask_unary(UnaryOp::LtScalar, x, s); }
Tensor le(const Tensor& x, double s) { return mask_unary(UnaryOp::LeScalar, x, s); }
Tensor eq(const Tensor& x, double s) { return mask_unary(UnaryOp::EqScalar, x, s); }
Tensor gt(const Tensor& a, const Tensor& b) { return run_binary(BinaryOp::Gt, "gt", a.detach(), b.detach()); }
Tensor eq(const Tensor& a, const Tensor& b) { return run_binary(BinaryOp::Eq, "eq", a.detach(), b.detach()); }

}  // namespace mmgan
