// Op codes shared by the CPU and CUDA kernels. The scalar formulas live in scalar_ops.h so
// that both backends evaluate exactly the same expression for each code.
#pragma once

namespace mmgan::kernels {

// clang-format off (hand-aligned enumerations)
// y = f(x; a, b), elementwise.
enum class UnaryOp {
  Neg,
  Exp,
  Log,
  Abs,
  Sign,
  Sqrt,
  Reciprocal,
  Square,
  PowScalar,   // x^a
  AddScalar,   // x + a
  MulScalar,   // x * a
  RSubScalar,  // a - x
  Clamp,       // min(max(x, a), b)
  Relu,
  LeakyRelu,  // slope a
  Tanh,
  Sigmoid,
  Softplus,    // log(1 + e^x), stable
  LogSigmoid,  // -softplus(-x), stable
  // Constant masks (their derivative is zero by definition): 1 or 0 (or the slope).
  GtScalar,
  GeScalar,
  LtScalar,
  LeScalar,
  EqScalar,   // x > a, ...
  InRange,    // a <= x <= b
  LeakyMask,  // x > 0 ? 1 : a  (derivative of leaky_relu); keep last (kUnaryOpCount)
};
inline constexpr int kUnaryOpCount = int(UnaryOp::LeakyMask) + 1;

// out = f(a, b), elementwise with broadcasting.
enum class BinaryOp { Add, Sub, Mul, Div, Maximum, Minimum, Gt, Ge, Lt, Le, Eq, Ne };  // Ne last (kBinaryOpCount)
inline constexpr int kBinaryOpCount = int(BinaryOp::Ne) + 1;

// clang-format on

// Reductions over the middle axis of a contiguous [outer, r, inner] block.
enum class ReduceOp { Sum, Max, Min };

// Per-sample reductions of a contiguous [n, d] block to [n] (the gradient-norm family).
enum class RowOp {
  L1,         // sum |x|
  L2,         // sqrt(sum x^2)
  LInf,       // max |x|
  SmoothMax,  // sum(x e^{s x}) / sum(e^{s x}), s = param
  LogSumExp,  // log sum e^x
};

}  // namespace mmgan::kernels
