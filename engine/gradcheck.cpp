#include "engine/gradcheck.h"

#include <cmath>
#include <sstream>

#include "engine/autograd/engine.h"
#include "engine/autograd/grad_mode.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "engine/random.h"

namespace mmgan {
namespace {

// Grad mode stays on: f may itself differentiate (gradgradcheck's f is a backward pass).
std::vector<double> flat_outputs(const TensorFn& f, const std::vector<Tensor>& in) {
  std::vector<double> out;
  for (const Tensor& y : f(in)) {
    const std::vector<double> v = y.to_vector();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

}  // namespace

GradcheckResult gradcheck(const TensorFn& f, const std::vector<Tensor>& inputs_in, GradcheckOptions opts) {
  // Private copies: perturbing must not touch the caller's tensors.
  std::vector<Tensor> inputs;
  std::vector<size_t> diff;  // indices of inputs that require grad
  for (size_t i = 0; i < inputs_in.size(); ++i) {
    const Tensor& x = inputs_in[i];
    MMGAN_CHECK(x.dtype() == DType::F64 && x.device() == Device::cpu(), "gradcheck: input ", i, " is ", x.str(),
                "; use float64 on the CPU");
    Tensor c;
    {
      NoGradGuard ng;
      c = clone(x.detach());
    }
    if (x.requires_grad()) {
      c.requires_grad_(true);
      diff.push_back(i);
    }
    inputs.push_back(c);
  }
  MMGAN_CHECK(!diff.empty(), "gradcheck: no input requires grad");

  // Analytical Jacobian: one vector-Jacobian product per output element.
  const std::vector<Tensor> outs = f(inputs);
  std::vector<std::vector<double>> analytic;  // [output element][input element (all diff inputs)]
  std::vector<Tensor> diff_inputs;
  for (size_t i : diff) diff_inputs.push_back(inputs[i]);
  int64_t total_in = 0;
  for (const Tensor& x : diff_inputs) total_in += x.numel();
  for (size_t o = 0; o < outs.size(); ++o) {
    for (int64_t e = 0; e < outs[o].numel(); ++e) {
      std::vector<double> row(size_t(total_in), 0.0);
      if (outs[o].requires_grad()) {
        std::vector<Tensor> seeds;
        for (size_t k = 0; k < outs.size(); ++k) {
          std::vector<double> s(size_t(outs[k].numel()), 0.0);
          if (k == o) s[size_t(e)] = 1.0;
          seeds.push_back(from_vector(s, outs[k].shape(), DType::F64));
        }
        std::vector<Tensor> usable_outs, usable_seeds;
        for (size_t k = 0; k < outs.size(); ++k)
          if (outs[k].requires_grad()) {
            usable_outs.push_back(outs[k]);
            usable_seeds.push_back(seeds[k]);
          }
        GradOptions go;
        go.retain_graph = 1;
        go.allow_unused = true;
        const std::vector<Tensor> g = grad(usable_outs, diff_inputs, usable_seeds, go);
        size_t at = 0;
        for (size_t k = 0; k < g.size(); ++k) {
          if (g[k].defined()) {
            const std::vector<double> v = g[k].to_vector();
            std::copy(v.begin(), v.end(), row.begin() + int64_t(at));
          }
          at += size_t(diff_inputs[k].numel());
        }
      }
      analytic.push_back(std::move(row));
    }
  }

  // Numerical Jacobian, column by column.
  GradcheckResult res;
  size_t col = 0;
  for (size_t di = 0; di < diff.size(); ++di) {
    Tensor& x = inputs[diff[di]];
    double* p = x.data<double>();
    MMGAN_CHECK(x.is_contiguous(), "gradcheck: input ", diff[di], " must be contiguous");
    for (int64_t k = 0; k < x.numel(); ++k, ++col) {
      const double orig = p[k];
      p[k] = orig + opts.eps;
      const std::vector<double> plus = flat_outputs(f, inputs);
      p[k] = orig - opts.eps;
      const std::vector<double> minus = flat_outputs(f, inputs);
      p[k] = orig;
      for (size_t r = 0; r < plus.size(); ++r) {
        const double num = (plus[r] - minus[r]) / (2 * opts.eps);
        const double ana = analytic[r][col];
        const double err = std::fabs(num - ana);
        res.max_abs_error = std::max(res.max_abs_error, err);
        if (!(err <= opts.atol + opts.rtol * std::fabs(num)) && res.ok) {
          res.ok = false;
          std::ostringstream os;
          os << "Jacobian mismatch at output element " << r << ", input " << diff[di] << " element " << k
             << ": numerical " << num << ", analytical " << ana;
          res.message = os.str();
        }
      }
    }
  }
  return res;
}

GradcheckResult gradgradcheck(const TensorFn& f, const std::vector<Tensor>& inputs, GradcheckOptions opts,
                              uint64_t seed) {
  // Random output cotangents v become extra inputs of the checked function.
  // Output shapes; grad mode stays on because f may differentiate internally.
  const std::vector<Tensor> outs = f(inputs);
  Generator gen(seed);
  std::vector<Tensor> all = inputs;
  std::vector<size_t> diff;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].requires_grad()) diff.push_back(i);
  const size_t n_in = inputs.size();
  for (const Tensor& o : outs) all.push_back(randn(o.shape(), gen, DType::F64).requires_grad_(true));

  auto backward_fn = [&f, n_in, diff](const std::vector<Tensor>& xs) {
    std::vector<Tensor> in(xs.begin(), xs.begin() + int64_t(n_in));
    std::vector<Tensor> v(xs.begin() + int64_t(n_in), xs.end());
    std::vector<Tensor> ys = f(in), used_y, used_v, wrt;
    for (size_t k = 0; k < ys.size(); ++k)
      if (ys[k].requires_grad()) {
        used_y.push_back(ys[k]);
        used_v.push_back(v[k]);
      }
    for (size_t i : diff) wrt.push_back(in[i]);
    std::vector<Tensor> gs;
    if (used_y.empty()) {
      for (size_t i : diff) gs.push_back(zeros_like(in[i]));
      return gs;
    }
    GradOptions go;
    go.create_graph = true;
    go.allow_unused = true;
    gs = grad(used_y, wrt, used_v, go);
    for (size_t k = 0; k < gs.size(); ++k)
      if (!gs[k].defined()) gs[k] = zeros_like(wrt[k]);
    return gs;
  };
  return gradcheck(backward_fn, all, opts);
}

}  // namespace mmgan
