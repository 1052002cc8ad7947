// Reductions and the per-sample gradient-norm family. Forward: one kernel pass. Backward: engine
// ops, with masks and tie counts as constants.
// Checked by tests/test_ops.cpp (gradcheck, gradgradcheck) and tests/test_parity_torch.cpp.
#include <algorithm>
#include <numeric>

#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/ops.h"
#include "engine/ops/dispatch.h"

namespace mmgan {

using kernels::ReduceOp;
using kernels::RowOp;

namespace {

std::vector<int> normalise_dims(const std::vector<int64_t>& dims, int nd, const char* op) {
  std::vector<int> out;
  for (int64_t d : dims) out.push_back(wrap_dim(d, nd, op));
  std::sort(out.begin(), out.end());
  MMGAN_CHECK(std::adjacent_find(out.begin(), out.end()) == out.end(), op, ": repeated dimension");
  return out;
}

Shape keepdim_shape(const Shape& s, const std::vector<int>& dims) {
  Shape k = s;
  for (int d : dims) k[size_t(d)] = 1;
  return k;
}

// Reduces x over dims into a tensor of keepdim shape. Contiguous dim blocks go straight to the
// [outer, r, inner] kernel; other sets are permuted to the end first.
Tensor reduce_raw(ReduceOp op, const Tensor& x, const std::vector<int>& dims) {
  const Shape& s = x.shape();
  const Shape kshape = keepdim_shape(s, dims);
  Tensor out = empty(kshape, x.dtype(), x.device());
  if (x.numel() == 0) return out.fill_(0.0);
  bool block = true;
  for (size_t i = 1; i < dims.size(); ++i) block = block && dims[i] == dims[i - 1] + 1;
  Tensor src;
  int64_t outer = 1, r = 1, inner = 1;
  if (dims.empty()) {
    src = x.detach().contiguous();
  } else if (block) {
    src = x.detach().contiguous();
    for (int i = 0; i < dims.front(); ++i) outer *= s[size_t(i)];
    for (int d : dims) r *= s[size_t(d)];
    for (size_t i = size_t(dims.back()) + 1; i < s.size(); ++i) inner *= s[i];
  } else {
    std::vector<int64_t> perm;
    for (int i = 0; i < int(s.size()); ++i)
      if (!std::binary_search(dims.begin(), dims.end(), i)) perm.push_back(i);
    for (int d : dims) perm.push_back(d);
    src = permute(x.detach(), perm).contiguous();
    for (int d : dims) r *= s[size_t(d)];
    outer = x.numel() / r;
  }
  detail::backend_of(x).reduce(op, src.view(), outer, r, inner, out.view());
  return out;
}

Tensor finish_shape(const Tensor& kept, const Shape& s, const std::vector<int>& dims, bool keepdim) {
  if (keepdim) return kept;
  Shape o;
  for (int i = 0; i < int(s.size()); ++i)
    if (!std::binary_search(dims.begin(), dims.end(), i)) o.push_back(s[size_t(i)]);
  return reshape(kept, o);
}

std::vector<int64_t> all_dims(const Tensor& x) {
  std::vector<int64_t> d(size_t(x.dim()));
  std::iota(d.begin(), d.end(), 0);
  return d;
}

// [N, ...] -> [N, 1, ..., 1], to broadcast per-sample values back over a sample.
Tensor per_sample_column(const Tensor& v, const Tensor& like) {
  Shape s(size_t(like.dim()), 1);
  s[0] = like.size(0);
  return reshape(v, s);
}

}  // namespace

// y = sum over dims                   dx = expand(g, shape of x)
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  const std::vector<int> dims = normalise_dims(dims_in, x.dim(), "sum");
  Tensor kept = Recorder("sum").input(x).finish(
      reduce_raw(ReduceOp::Sum, x, dims), [s = x.shape()](BackwardContext& c) { return grads({expand(c.grad(), s)}); });
  return finish_shape(kept, x.shape(), dims, keepdim);
}

Tensor sum(const Tensor& x) { return sum(x, all_dims(x), false); }

// mean = sum / count (composite: its backward comes from sum's and mul's)
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  const std::vector<int> nd = normalise_dims(dims, x.dim(), "mean");
  int64_t count = 1;
  for (int d : nd) count *= x.shape()[size_t(d)];
  MMGAN_CHECK(count > 0, "mean of an empty selection of ", x.str());
  return sum(x, dims, keepdim) * (1.0 / double(count));
}

Tensor mean(const Tensor& x) { return mean(x, all_dims(x), false); }

// y = max over dims                   dx = g [x == y] / #ties   ([x == y] and #ties constant)
Tensor amax(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  const std::vector<int> dims = normalise_dims(dims_in, x.dim(), "amax");
  MMGAN_CHECK(x.numel() > 0, "amax of an empty tensor ", x.str());
  Tensor kept = Recorder("amax").input(x).save(x).save_output().finish(
      reduce_raw(ReduceOp::Max, x, dims), [dims, s = x.shape()](BackwardContext& c) {
        Tensor xd = c.saved(0).detach(), yd = c.saved(1).detach();
        Tensor mask = eq(xd, expand(yd, s));
        Tensor count = reduce_raw(ReduceOp::Sum, mask, dims);
        return grads({expand(c.grad(), s) * (mask / count)});
      });
  return finish_shape(kept, x.shape(), dims, keepdim);
}

Tensor amax(const Tensor& x) { return amax(x, all_dims(x), false); }

// Sum of x over the dimensions broadcasting added, so that the result has `shape`.
Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  const int lead = x.dim() - int(shape.size());
  MMGAN_CHECK(lead >= 0, "sum_to: cannot reduce ", x.str(), " to ", shape_str(shape));
  std::vector<int64_t> dims;
  for (int i = 0; i < x.dim(); ++i) {
    if (i < lead) {
      dims.push_back(i);
    } else {
      const int64_t t = shape[size_t(i - lead)];
      MMGAN_CHECK(t == x.size(i) || t == 1, "sum_to: cannot reduce ", x.str(), " to ", shape_str(shape));
      if (t == 1 && x.size(i) != 1) dims.push_back(i);
    }
  }
  return reshape(sum(x, dims, true), shape);
}

namespace {
Tensor row_reduce_raw(RowOp op, double s, const Tensor& x) {
  MMGAN_CHECK(x.dim() >= 1, "per-sample reduction of a 0-d tensor");
  const int64_t n = x.size(0), d = n ? x.numel() / n : 0;
  MMGAN_CHECK(d > 0, "per-sample reduction of ", x.str(), ": samples are empty");
  Tensor xc = x.detach().contiguous();
  Tensor out = empty({n}, x.dtype(), x.device());
  detail::backend_of(x).row_reduce(op, s, xc.view(), n, d, out.view());
  return out;
}
std::vector<int64_t> sample_dims(const Tensor& x) {
  std::vector<int64_t> d;
  for (int i = 1; i < x.dim(); ++i) d.push_back(i);
  return d;
}
}  // namespace

// n = sum |x|                         dx = g sign(x)
Tensor l1_norm_per_sample(const Tensor& x) {
  return Recorder("l1_norm").input(x).save(x).finish(row_reduce_raw(RowOp::L1, 0, x), [](BackwardContext& c) {
    Tensor x = c.saved(0);
    return grads({per_sample_column(c.grad(), x) * sign(x)});
  });
}

// n = sqrt(sum x^2)                   dx = g x / n, and 0 where n = 0 (PyTorch's choice)
Tensor l2_norm_per_sample(const Tensor& x) {
  return Recorder("l2_norm").input(x).save(x).save_output().finish(
      row_reduce_raw(RowOp::L2, 0, x), [](BackwardContext& c) {
        Tensor x = c.saved(0), n = c.saved(1);
        Tensor nonzero = gt(n, 0.0);
        Tensor safe_n = where(nonzero, n, ones_like(n.detach()));
        Tensor scale = where(nonzero, c.grad() / safe_n, zeros({}, x.dtype(), x.device()));
        return grads({x * per_sample_column(scale, x)});
      });
}

// n = max |x|                         dx = g sign(x) [|x| == n] / #ties   (a constant times g)
Tensor linf_norm_per_sample(const Tensor& x) {
  return Recorder("linf_norm")
      .input(x)
      .save(x)
      .save_output()
      .finish(row_reduce_raw(RowOp::LInf, 0, x), [](BackwardContext& c) {
        Tensor x = c.saved(0).detach(), n = c.saved(1).detach();
        Tensor ties = eq(abs(x), expand(per_sample_column(n, x), x.shape()));
        Tensor count = per_sample_column(row_reduce_raw(RowOp::L1, 0, ties), x);
        Tensor direction = sign(x) * ties / count;
        return grads({per_sample_column(c.grad(), x) * direction});
      });
}

// y = sum(x w), w = softmax(s x)      dx = g w (1 + s (x - y))
Tensor smooth_max_per_sample(const Tensor& x, double s) {
  return Recorder("smooth_max")
      .input(x)
      .save(x)
      .save_output()
      .finish(row_reduce_raw(RowOp::SmoothMax, s, x), [s](BackwardContext& c) {
        Tensor x = c.saved(0), y = per_sample_column(c.saved(1), x);
        // softmax in engine ops (differentiable); the max shift is a constant that cancels.
        Tensor shift = per_sample_column(amax(x.detach() * s, sample_dims(x), false), x);
        Tensor e = exp(x * s - shift);
        Tensor w = e / sum(e, sample_dims(x), true);
        return grads({per_sample_column(c.grad(), x) * w * (1.0 + s * (x - y))});
      });
}

// y = log sum e^x                     dx = g e^(x - y)
Tensor logsumexp_per_sample(const Tensor& x) {
  return Recorder("logsumexp")
      .input(x)
      .save(x)
      .save_output()
      .finish(row_reduce_raw(RowOp::LogSumExp, 0, x), [](BackwardContext& c) {
        Tensor x = c.saved(0), y = per_sample_column(c.saved(1), x);
        return grads({per_sample_column(c.grad(), x) * exp(x - y)});
      });
}

Tensor reduce_per_sample(const Tensor& x, RowOp op, double s) {
  switch (op) {
    case RowOp::L1: return l1_norm_per_sample(x);
    case RowOp::L2: return l2_norm_per_sample(x);
    case RowOp::LInf: return linf_norm_per_sample(x);
    case RowOp::SmoothMax: return smooth_max_per_sample(x, s);
    case RowOp::LogSumExp: return logsumexp_per_sample(x);
  }
  MMGAN_FAIL("unknown per-sample reduction");
}

}  // namespace mmgan
