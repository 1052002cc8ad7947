// Matrix products. C = A B with A [m, k], B [k, n]; transposed views go to GEMM as transpose
// flags, without copies.     dA = g B^T,  dB = A^T g
// Checked by tests/test_ops.cpp (gradcheck, gradgradcheck) and the PyTorch parity tests.
#include "engine/autograd/node.h"
#include "engine/ops.h"
#include "engine/ops/dispatch.h"

namespace mmgan {

namespace {
// How a 2-d view reaches GEMM: row-major with leading dimension ld, possibly transposed.
struct GemmOperand {
  Tensor t;
  bool trans;
  int64_t ld;
};
GemmOperand gemm_operand(const Tensor& x) {
  const Shape& st = x.strides();
  if (st[1] == 1 && st[0] >= std::max<int64_t>(x.size(1), 1)) return {x, false, st[0]};
  if (st[0] == 1 && st[1] >= std::max<int64_t>(x.size(0), 1)) return {x, true, st[1]};
  Tensor c = x.detach().contiguous();
  return {c, false, std::max<int64_t>(c.size(1), 1)};
}
}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  detail::check_same("matmul", a, b);
  MMGAN_CHECK(a.dim() == 2 && b.dim() == 2 && a.size(1) == b.size(0), "matmul: shapes ", shape_str(a.shape()), " and ",
              shape_str(b.shape()), " do not multiply");
  const int64_t m = a.size(0), k = a.size(1), n = b.size(1);
  Tensor y = empty({m, n}, a.dtype(), a.device());
  if (k == 0) {
    y.fill_(0.0);
  } else if (m > 0 && n > 0) {
    const GemmOperand A = gemm_operand(a), B = gemm_operand(b);
    detail::backend_of(a).gemm(a.dtype(), A.trans, B.trans, m, n, k, 1.0, A.t.view().data, A.ld, B.t.view().data, B.ld,
                               0.0, y.view().data, n);
  }
  return Recorder("matmul").input(a).input(b).save(a).save(b).finish(y, [](BackwardContext& c) {
    Tensor g = c.grad();
    return grads(
        {c.needs(0) ? matmul(g, c.saved(1).t()) : Tensor(), c.needs(1) ? matmul(c.saved(0).t(), g) : Tensor()});
  });
}

// x @ w^T + b (composite: its backward comes from matmul's, transpose's and add's)
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  MMGAN_CHECK(x.dim() == 2 && w.dim() == 2 && x.size(1) == w.size(1), "linear: input ", x.str(),
              " does not match weight ", w.str(), " ([out, in])");
  Tensor y = matmul(x, w.t());
  if (b.defined()) {
    MMGAN_CHECK(b.dim() == 1 && b.size(0) == w.size(0), "linear: bias ", b.str(), " does not match weight ", w.str());
    y = y + b;
  }
  return y;
}

}  // namespace mmgan
