// The scalar formula of every elementwise op code, written once for CPU and CUDA.
#pragma once
#include <cmath>

#include "kernels/op_codes.h"
#include "kernels/tensor_view.h"

namespace mmgan::kernels {

template <class T>
MMGAN_HD inline T softplus(T x) {
  // max(x, 0) + log1p(exp(-|x|)): never overflows, exact for large |x|.
  return (x > T(0) ? x : T(0)) + log1p(exp(-fabs(x)));
}

template <class T>
MMGAN_HD inline T apply_unary(UnaryOp op, T x, T a, T b) {
  switch (op) {
    case UnaryOp::Neg: return -x;
    case UnaryOp::Exp: return exp(x);
    case UnaryOp::Log: return log(x);
    case UnaryOp::Abs: return fabs(x);
    case UnaryOp::Sign: return T((x > T(0)) - (x < T(0)));
    case UnaryOp::Sqrt: return sqrt(x);
    case UnaryOp::Reciprocal: return T(1) / x;
    case UnaryOp::Square: return x * x;
    case UnaryOp::PowScalar: return a == T(2) ? x * x : pow(x, a);
    case UnaryOp::AddScalar: return x + a;
    case UnaryOp::MulScalar: return x * a;
    case UnaryOp::RSubScalar: return a - x;
    case UnaryOp::Clamp: return x < a ? a : (x > b ? b : x);
    case UnaryOp::Relu: return x <= T(0) ? T(0) : x;  // NaN stays NaN, as in PyTorch
    case UnaryOp::LeakyRelu: return x > T(0) ? x : x * a;
    case UnaryOp::Tanh: return tanh(x);
    case UnaryOp::Sigmoid: return x >= T(0) ? T(1) / (T(1) + exp(-x)) : exp(x) / (T(1) + exp(x));
    case UnaryOp::Softplus: return softplus(x);
    case UnaryOp::LogSigmoid: return -softplus(-x);
    case UnaryOp::GtScalar: return T(x > a);
    case UnaryOp::GeScalar: return T(x >= a);
    case UnaryOp::LtScalar: return T(x < a);
    case UnaryOp::LeScalar: return T(x <= a);
    case UnaryOp::EqScalar: return T(x == a);
    case UnaryOp::InRange: return T(x >= a && x <= b);
    case UnaryOp::LeakyMask: return x > T(0) ? T(1) : a;
  }
  return x;
}

template <class T>
MMGAN_HD inline T apply_binary(BinaryOp op, T x, T y) {
  switch (op) {
    case BinaryOp::Add: return x + y;
    case BinaryOp::Sub: return x - y;
    case BinaryOp::Mul: return x * y;
    case BinaryOp::Div: return x / y;
    case BinaryOp::Maximum: return (x > y || x != x) ? x : y;  // a NaN operand gives NaN, as in PyTorch
    case BinaryOp::Minimum: return (x < y || x != x) ? x : y;
    case BinaryOp::Gt: return T(x > y);
    case BinaryOp::Ge: return T(x >= y);
    case BinaryOp::Lt: return T(x < y);
    case BinaryOp::Le: return T(x <= y);
    case BinaryOp::Eq: return T(x == y);
    case BinaryOp::Ne: return T(x != y);
  }
  return x;
}

}  // namespace mmgan::kernels
