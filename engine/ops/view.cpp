// Shape ops. Views share storage with their input; each records the backward that undoes it.
// Checked by tests/test_ops.cpp (gradcheck, gradgradcheck) and tests/test_tensor.cpp (aliasing).
#include <algorithm>

#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/ops.h"
#include "engine/ops/dispatch.h"

namespace mmgan {

namespace {
Shape infer_shape(const Shape& req, int64_t numel, const Tensor& x) {
  Shape s = req;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      MMGAN_CHECK(infer < 0, "reshape of ", x.str(), " to ", shape_str(req), ": only one -1 allowed");
      infer = int64_t(i);
    } else {
      MMGAN_CHECK(s[i] >= 0, "reshape of ", x.str(), " to ", shape_str(req), ": negative size");
      known *= s[i];
    }
  }
  if (infer >= 0) {
    MMGAN_CHECK(known > 0 && numel % known == 0, "reshape of ", x.str(), " to ", shape_str(req),
                ": sizes do not divide");
    s[size_t(infer)] = numel / known;
  }
  MMGAN_CHECK(shape_numel(s) == numel, "reshape of ", x.str(), " to ", shape_str(req), ": ", numel,
              " elements do not fit");
  return s;
}
}  // namespace

// view of the same elements in another shape      dx = reshape(g, shape of x)
Tensor reshape(const Tensor& x, const Shape& req) {
  const Shape s = infer_shape(req, x.numel(), x);
  if (s == x.shape()) return x;
  Tensor base = x.is_contiguous() ? x : contiguous(x);
  Tensor y = make_view(base, s, contiguous_strides(s), base.storage_offset());
  return Recorder("reshape").input(base).finish(
      y, [in = base.shape()](BackwardContext& c) { return grads({reshape(c.grad(), in)}); });
}

Tensor flatten(const Tensor& x, int64_t start, int64_t end) {
  if (x.dim() == 0) return reshape(x, {1});
  const int a = wrap_dim(start, x.dim(), "flatten"), b = wrap_dim(end, x.dim(), "flatten");
  MMGAN_CHECK(a <= b, "flatten of ", x.str(), ": start ", start, " after end ", end);
  Shape s;
  for (int i = 0; i < a; ++i) s.push_back(x.size(i));
  int64_t m = 1;
  for (int i = a; i <= b; ++i) m *= x.size(i);
  s.push_back(m);
  for (int i = b + 1; i < x.dim(); ++i) s.push_back(x.size(i));
  return reshape(x, s);
}

// strides permuted                            dx = permute(g, inverse)
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  MMGAN_CHECK(int(dims.size()) == x.dim(), "permute of ", x.str(), ": ", dims.size(), " dims given");
  Shape s, st;
  std::vector<int64_t> inverse(dims.size());
  std::vector<bool> seen(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    const int d = wrap_dim(dims[i], x.dim(), "permute");
    MMGAN_CHECK(!seen[size_t(d)], "permute of ", x.str(), ": dimension ", d, " repeated");
    seen[size_t(d)] = true;
    s.push_back(x.size(d));
    st.push_back(x.strides()[size_t(d)]);
    inverse[size_t(d)] = int64_t(i);
  }
  Tensor y = make_view(x, s, st, x.storage_offset());
  return Recorder("permute").input(x).finish(
      y, [inverse](BackwardContext& c) { return grads({permute(c.grad(), inverse)}); });
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  std::vector<int64_t> p(size_t(x.dim()));
  for (int i = 0; i < x.dim(); ++i) p[size_t(i)] = i;
  std::swap(p[size_t(wrap_dim(d0, x.dim(), "transpose"))], p[size_t(wrap_dim(d1, x.dim(), "transpose"))]);
  return permute(x, p);
}

// broadcast view (stride 0)                   dx = sum_to(g, shape of x)
Tensor expand(const Tensor& x, const Shape& s) {
  if (x.shape() == s) return x;
  const kernels::View v = detail::broadcast_view(x, s);
  Shape st(s.size());
  for (size_t i = 0; i < s.size(); ++i) st[i] = v.strides[i];
  Tensor y = make_view(x, s, st, x.storage_offset());
  return Recorder("expand").input(x).finish(
      y, [in = x.shape()](BackwardContext& c) { return grads({sum_to(c.grad(), in)}); });
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  const int d = wrap_dim(dim, x.dim() + 1, "unsqueeze");
  Shape s = x.shape();
  s.insert(s.begin() + d, 1);
  return reshape(x, s);
}

Tensor squeeze(const Tensor& x, int64_t dim) {
  const int d = wrap_dim(dim, x.dim(), "squeeze");
  MMGAN_CHECK(x.size(d) == 1, "squeeze of ", x.str(), ": dimension ", dim, " has size ", x.size(d));
  Shape s = x.shape();
  s.erase(s.begin() + d);
  return reshape(x, s);
}

// every step-th element of [start, end)       dx = slice_backward(g)
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  const int d = wrap_dim(dim, x.dim(), "slice");
  const int64_t n = x.size(d);
  MMGAN_CHECK(step > 0, "slice of ", x.str(), ": step must be positive");
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape s = x.shape(), st = x.strides();
  s[size_t(d)] = (end - start + step - 1) / step;
  st[size_t(d)] *= step;
  Tensor y = make_view(x, s, st, x.storage_offset() + start * x.strides()[size_t(d)]);
  return Recorder("slice").input(x).finish(y, [in = x.shape(), d, start, end, step](BackwardContext& c) {
    return grads({slice_backward(c.grad(), in, d, start, end, step)});
  });
}

// zeros with g written into the slice         dg = slice(gg)
Tensor slice_backward(const Tensor& g, const Shape& shape, int64_t dim, int64_t start, int64_t end, int64_t step) {
  Tensor out = zeros(shape, g.dtype(), g.device());
  {
    NoGradGuard ng;
    Shape s = shape, st = out.strides();
    s[size_t(dim)] = (end - start + step - 1) / step;
    st[size_t(dim)] *= step;
    Tensor region = make_view(out, s, st, start * out.strides()[size_t(dim)]);
    detail::backend_of(g).copy(g.view(), region.view());
  }
  return Recorder("slice_backward").input(g).finish(out, [dim, start, end, step](BackwardContext& c) {
    return grads({slice(c.grad(), dim, start, end, step)});
  });
}

// inputs laid end to end along dim            dx_i = slice of g
Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
  MMGAN_CHECK(!xs.empty(), "concat of no tensors");
  const int d = wrap_dim(dim, xs[0].dim(), "concat");
  Shape s = xs[0].shape();
  s[size_t(d)] = 0;
  for (const Tensor& x : xs) {
    detail::check_same("concat", xs[0], x);
    MMGAN_CHECK(x.dim() == xs[0].dim(), "concat: ", x.str(), " and ", xs[0].str(), " differ in rank");
    for (int i = 0; i < x.dim(); ++i)
      MMGAN_CHECK(i == d || x.size(i) == xs[0].size(i), "concat along ", d, ": ", x.str(), " and ", xs[0].str(),
                  " differ in dimension ", i);
    s[size_t(d)] += x.size(d);
  }
  Tensor out = empty(s, xs[0].dtype(), xs[0].device());
  std::vector<int64_t> bounds{0};
  Recorder rec("concat");
  for (const Tensor& x : xs) {
    const int64_t a = bounds.back(), b = a + x.size(d);
    Shape rs = s;
    rs[size_t(d)] = x.size(d);
    Tensor region = make_view(out, rs, out.strides(), a * out.strides()[size_t(d)]);
    detail::backend_of(x).copy(x.view(), region.view());
    bounds.push_back(b);
    rec.input(x);
  }
  return rec.finish(out, [bounds, d](BackwardContext& c) {
    std::vector<Tensor> g;
    for (size_t i = 0; i + 1 < bounds.size(); ++i)
      g.push_back(c.needs(i) ? slice(c.grad(), d, bounds[i], bounds[i + 1]) : Tensor());
    return g;
  });
}

// a dense copy                                dx = g
Tensor contiguous(const Tensor& x) {
  if (x.is_contiguous()) return x;
  return clone(x);
}

Tensor clone(const Tensor& x) {
  Tensor y = empty(x.shape(), x.dtype(), x.device());
  detail::backend_of(x).copy(x.view(), y.view());
  return Recorder("clone").input(x).finish(y, [](BackwardContext& c) { return grads({c.grad()}); });
}

// dtype cast                                  dx = cast(g, dtype of x)
Tensor to_dtype(const Tensor& x, DType t) {
  if (x.dtype() == t) return x;
  Tensor y = empty(x.shape(), t, x.device());
  detail::backend_of(x).copy(x.view(), y.view());
  return Recorder("to_dtype").input(x).finish(y, [from = x.dtype()](BackwardContext& c) {
    return grads({to_dtype(c.grad(), from)});
  });
}

// device transfer                             dx = transfer(g, device of x)
Tensor to_device(const Tensor& x, Device d) {
  if (x.device() == d) return x;
  Tensor src = x.detach().contiguous();
  Tensor y = empty(x.shape(), x.dtype(), d);
  const size_t nbytes = size_t(x.numel()) * kernels::dtype_size(x.dtype());
  const kernels::View sv = src.view(), yv = y.view();
  if (x.device().type == DeviceType::CPU) {
    backend_for(d).copy_from_host(sv.data, yv.data, nbytes);
  } else if (d.type == DeviceType::CPU) {
    backend_for(x.device()).copy_to_host(sv.data, yv.data, nbytes);
  } else {
    Tensor host = to_device(src, Device::cpu());
    backend_for(d).copy_from_host(host.view().data, yv.data, nbytes);
  }
  return Recorder("to_device").input(x).finish(y, [from = x.device()](BackwardContext& c) {
    return grads({to_device(c.grad(), from)});
  });
}

}  // namespace mmgan
