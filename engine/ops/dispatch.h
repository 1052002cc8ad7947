// Internal helpers shared by the op files: run a kernel through the tensor's backend.
#pragma once
#include "engine/backend.h"
#include "engine/error.h"
#include "engine/tensor.h"

namespace mmgan::detail {

inline Backend& backend_of(const Tensor& t) { return backend_for(t.device()); }

// View of t with its sizes/strides laid out to broadcast against `shape` (stride 0 where expanded).
kernels::View broadcast_view(const Tensor& t, const Shape& shape);

// Checks that binary operands agree on dtype and device, naming the op and both operands.
void check_same(const char* op, const Tensor& a, const Tensor& b);

// y = unary op(x) (a new contiguous tensor).
Tensor run_unary(kernels::UnaryOp op, const Tensor& x, double a = 0, double b = 0);

}  // namespace mmgan::detail
