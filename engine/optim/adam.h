// Adam, equal to torch.optim.Adam step for step (bias correction, eps outside the square root,
// L2 weight decay added to the gradient; amsgrad off). A parameter whose .grad is undefined is
// skipped and its step count does not advance, as in PyTorch.
// The learning rate and the step counts live on the parameters' device and one multi-tensor
// kernel updates every parameter, so a step reads nothing from the host and can be captured
// (engine/capture.h); lr() and steps() read them back (a device synchronisation).
#pragma once
#include <vector>

#include "engine/tensor.h"

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
  // The parameters: contiguous leaves of one dtype on one device.
  Adam(std::vector<Tensor> params, AdamOptions opts);
  void step();       // updates every parameter that has a gradient (no graph is recorded)
  void zero_grad();  // drops the parameters' gradients

  const AdamOptions& options() const { return opts_; }  // lr: the initial rate
  double lr() const;                                    // the current rate (read from the device)
  void set_lr(double lr);                               // outside captures: a host value
  void scale_lr(double factor);                         // lr *= factor on the device (capturable)
  const std::vector<Tensor>& params() const { return params_; }
  // Optimiser state, for checkpoints: first and second moments and the step count per parameter.
  std::vector<Tensor>& exp_avg() { return m_; }
  std::vector<Tensor>& exp_avg_sq() { return v_; }
  std::vector<int64_t> steps() const;
  void set_steps(const std::vector<int64_t>& steps);

 private:
  std::vector<Tensor> params_, m_, v_;
  Tensor steps_;  // float64 [n_params] on the device
  Tensor lr_;     // float64 scalar on the device
  AdamOptions opts_;
};

}  // namespace mmgan
