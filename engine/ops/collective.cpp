// The collective ops: differentiable all-reduce across the ranks of a data-parallel run, and the
// gather and shard of a global batch built on it. Seen from the whole job, a rank's output is a
// function of every rank's input, and the backward is that function's adjoint:
//   sum    y_r = sum_q x_q (every r)       x̄_q = sum_r ȳ_r = all_reduce_sum(ȳ)
//   max    y_r = max_q x_q                 x̄_q = all_reduce_sum(ȳ) [x_q == y] / #ties over all ranks
// written in engine ops (the adjoint of a sum all-reduce is a sum all-reduce), so gradients of
// gradients through them, as synchronized BatchNorm's under a gradient penalty, are exact to any
// order. In one process (or a LocalScope) every collective is the identity and records nothing.
// Checked by tests/test_collective.cpp (gradcheck and gradgradcheck inside a multi-rank run).
#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/distributed.h"
#include "engine/ops.h"
#include "engine/ops/dispatch.h"

namespace mmgan {

using kernels::ReduceOp;

namespace {
Tensor all_reduce_raw(const Tensor& x, ReduceOp op) {
  Tensor y = x.detach().clone();  // a fresh contiguous buffer, reduced in place
  detail::backend_of(y).all_reduce(op, y.view());
  return y;
}
}  // namespace

Tensor all_reduce(const Tensor& x, ReduceOp op) {
  MMGAN_CHECK(op == ReduceOp::Sum || op == ReduceOp::Max, "all_reduce: only Sum and Max are differentiable");
  if (world_size() == 1) return x;
  if (op == ReduceOp::Sum)
    return Recorder("all_reduce_sum").input(x).finish(all_reduce_raw(x, op), [](BackwardContext& c) {
      return grads({all_reduce(c.grad(), ReduceOp::Sum)});
    });
  return Recorder("all_reduce_max")
      .input(x)
      .save(x)
      .save_output()
      .finish(all_reduce_raw(x, op), [](BackwardContext& c) {
        const Tensor mask = eq(c.saved(0).detach(), c.saved(1).detach());
        const Tensor ties = all_reduce_raw(mask, ReduceOp::Sum);  // a constant, like the mask
        return grads({all_reduce(c.grad(), ReduceOp::Sum) * (mask / ties)});
      });
}

// The ranks' x stacked along dim 0 in rank order: rank r's rows placed among zeros, then summed
// (adding zeros is exact, so every rank holds the very values each rank computed).
Tensor all_gather(const Tensor& x) {
  const int n = world_size(), r = world_rank();
  if (n == 1) return x;
  MMGAN_CHECK(x.dim() >= 1, "all_gather: needs a batch dimension, got ", x.str());
  std::vector<Tensor> parts;
  Shape s = x.shape();
  if (r > 0) {
    s[0] = x.size(0) * r;
    parts.push_back(zeros(s, x.dtype(), x.device()));
  }
  parts.push_back(x);
  if (r < n - 1) {
    s[0] = x.size(0) * (n - 1 - r);
    parts.push_back(zeros(s, x.dtype(), x.device()));
  }
  return all_reduce(concat(parts, 0), ReduceOp::Sum);
}

Tensor shard(const Tensor& x) {
  const int n = world_size(), r = world_rank();
  if (n == 1) return x;
  MMGAN_CHECK(x.dim() >= 1 && x.size(0) % n == 0, "shard: a batch of ", x.dim() ? x.size(0) : 0,
              " does not split evenly across ", n, " ranks");
  const int64_t b = x.size(0) / n;
  return slice(x, 0, b * r, b * (r + 1));
}

}  // namespace mmgan
