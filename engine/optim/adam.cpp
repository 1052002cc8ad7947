#include "adam.h"

#include "../autograd/grad_mode.h"
#include "../backend.h"
#include "../error.h"

namespace mmgan {

Adam::Adam(std::vector<Tensor> params, AdamOptions opts) : params_(std::move(params)), opts_(opts) {
  MMGAN_CHECK(opts.lr >= 0 && opts.eps >= 0 && opts.beta1 >= 0 && opts.beta1 < 1 && opts.beta2 >= 0 && opts.beta2 < 1,
              "Adam: invalid options lr=", opts.lr, " betas=(", opts.beta1, ", ", opts.beta2, ") eps=", opts.eps);
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    MMGAN_CHECK(p.defined() && p.is_leaf() && p.is_contiguous(), "Adam: parameter ", i, " (", p.str(),
                ") must be a contiguous leaf tensor");
    m_.push_back(zeros_like(p));
    v_.push_back(zeros_like(p));
    steps_.push_back(0);
  }
}

void Adam::step() {
  NoGradGuard ng;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i];
    Tensor g = p.grad();
    if (!g.defined()) continue;
    MMGAN_CHECK(g.shape() == p.shape() && g.dtype() == p.dtype() && g.device() == p.device(), "Adam: gradient ",
                g.str(), " does not match parameter ", i, " ", p.str());
    g = g.contiguous();
    ++steps_[i];
    backend_for(p.device())
        .adam_step(p.dtype(), p.view().data, g.view().data, m_[i].view().data, v_[i].view().data, p.numel(), opts_.lr,
                   opts_.beta1, opts_.beta2, opts_.eps, opts_.weight_decay, steps_[i]);
  }
}

void Adam::zero_grad() {
  for (Tensor& p : params_) p.zero_grad();
}

}  // namespace mmgan
