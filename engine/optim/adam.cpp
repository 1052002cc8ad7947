#include "engine/optim/adam.h"

#include "engine/autograd/grad_mode.h"
#include "engine/backend.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace mmgan {

Adam::Adam(std::vector<Tensor> params, AdamOptions opts) : params_(std::move(params)), opts_(opts) {
  MMGAN_CHECK(opts.lr >= 0 && opts.eps >= 0 && opts.beta1 >= 0 && opts.beta1 < 1 && opts.beta2 >= 0 && opts.beta2 < 1,
              "Adam: invalid options lr=", opts.lr, " betas=(", opts.beta1, ", ", opts.beta2, ") eps=", opts.eps);
  const Device d = params_.empty() ? Device::cpu() : params_[0].device();
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    MMGAN_CHECK(p.defined() && p.is_leaf() && p.is_contiguous(), "Adam: parameter ", i, " (", p.str(),
                ") must be a contiguous leaf tensor");
    MMGAN_CHECK(p.device() == d && p.dtype() == params_[0].dtype(), "Adam: parameter ", i, " (", p.str(),
                ") differs in device or dtype from parameter 0 (", params_[0].str(), "); use one Adam per group");
    m_.push_back(zeros_like(p));
    v_.push_back(zeros_like(p));
  }
  steps_ = zeros({int64_t(params_.size())}, DType::F64, d);
  lr_ = scalar(opts.lr, DType::F64, d);
}

void Adam::step() {
  NoGradGuard ng;
  std::vector<kernels::AdamTensor> list;
  std::vector<Tensor> keep;  // contiguous gradients, alive until the kernel is queued
  std::vector<size_t> stepped;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i];
    Tensor g = p.grad();
    if (!g.defined()) continue;
    MMGAN_CHECK(g.shape() == p.shape() && g.dtype() == p.dtype() && g.device() == p.device(), "Adam: gradient ",
                g.str(), " does not match parameter ", i, " ", p.str());
    g = g.contiguous();
    keep.push_back(g);
    stepped.push_back(i);
    kernels::AdamTensor a;
    a.p = p.view().data;
    a.g = g.view().data;
    a.m = m_[i].view().data;
    a.v = v_[i].view().data;
    a.n = p.numel();
    a.step = static_cast<const double*>(steps_.view().data) + i;
    list.push_back(a);
  }
  if (list.empty()) return;
  // Advance the step counts of the parameters that step, on the device.
  if (stepped.size() == params_.size()) {
    steps_.copy_(steps_ + 1.0);
  } else {
    for (size_t i : stepped) {
      Tensor s = slice(steps_, 0, int64_t(i), int64_t(i) + 1);
      s.copy_(s + 1.0);
    }
  }
  kernels::AdamHyper h;
  h.beta1 = opts_.beta1;
  h.beta2 = opts_.beta2;
  h.eps = opts_.eps;
  h.weight_decay = opts_.weight_decay;
  h.lr = static_cast<const double*>(lr_.view().data);
  backend_for(params_[0].device()).adam_step(params_[0].dtype(), list.data(), int(list.size()), h);
}

void Adam::zero_grad() {
  for (Tensor& p : params_) p.zero_grad();
}

double Adam::lr() const { return lr_.item(); }

void Adam::set_lr(double lr) {
  MMGAN_CHECK(lr >= 0, "Adam: invalid learning rate ", lr);
  lr_.fill_(lr);
}

void Adam::scale_lr(double factor) {
  NoGradGuard ng;
  lr_.copy_(lr_ * factor);
}

std::vector<int64_t> Adam::steps() const {
  std::vector<int64_t> out;
  for (double s : steps_.to_vector()) out.push_back(int64_t(s));
  return out;
}

void Adam::set_steps(const std::vector<int64_t>& steps) {
  MMGAN_CHECK(steps.size() == params_.size(), "Adam: ", steps.size(), " step counts for ", params_.size(),
              " parameters");
  std::vector<double> v(steps.begin(), steps.end());
  steps_.copy_(from_vector(v, {int64_t(v.size())}, DType::F64, steps_.device()));
}

}  // namespace mmgan
