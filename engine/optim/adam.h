// Adam, equal to torch.optim.Adam step for step (bias correction, eps outside the square root,
// L2 weight decay added to the gradient; amsgrad off). A parameter whose .grad is undefined is
// skipped and its step count does not advance, as in PyTorch.
#pragma once
#include <vector>

#include "../tensor.h"

namespace mmgan {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

class Adam {
 public:
  Adam(std::vector<Tensor> params, AdamOptions opts);
  void step();       // updates every parameter that has a gradient (no graph is recorded)
  void zero_grad();  // drops the parameters' gradients

  AdamOptions& options() { return opts_; }
  const std::vector<Tensor>& params() const { return params_; }
  // Optimiser state, for checkpoints: first and second moments and the step count per parameter.
  std::vector<Tensor>& exp_avg() { return m_; }
  std::vector<Tensor>& exp_avg_sq() { return v_; }
  std::vector<int64_t>& steps() { return steps_; }

 private:
  std::vector<Tensor> params_, m_, v_;
  std::vector<int64_t> steps_;
  AdamOptions opts_;
};

}  // namespace mmgan
