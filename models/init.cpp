// Initialisation routines: PyTorch's per-layer defaults and the official DCGAN weights_init.
#include "models/init.h"

#include <cmath>

#include "engine/autograd/grad_mode.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace mmgan::nn {

namespace {

// Post-order like torch.nn.Module.apply (children first, then the module itself).
template <class F>
void apply(Module& m, F&& f) {
  for (const auto& [name, child] : m.children()) apply(*child, f);
  f(m);
}

// a / max(|a|, eps), torch.nn.functional.normalize's rule, written in place.
void normalize_in_place(Tensor t) {
  const double n = std::sqrt(sum(square(t)).item());
  t.copy_(t * (1.0 / std::max(n, 1e-12)));
}

bool is_conv(const Module& m) {
  return dynamic_cast<const Conv2d*>(&m) != nullptr || dynamic_cast<const ConvTranspose2d*>(&m) != nullptr;
}

}  // namespace

void reset_layer(WeightedLayer& l, Generator& gen) {
  NoGradGuard ng;  // parameters require grad; in-place draws must be outside autograd
  const int64_t fan_in = l.fan_in();
  MMGAN_CHECK(fan_in > 0, "reset_layer: fan_in must be positive, got ", fan_in);
  const double bound = 1.0 / std::sqrt(double(fan_in));
  l.weight().uniform_(-bound, bound, gen);
  if (l.bias().defined()) l.bias().uniform_(-bound, bound, gen);
  if (l.spectral()) {
    normalize_in_place(l.weight_u().normal_(0.0, 1.0, gen));
    normalize_in_place(l.weight_v().normal_(0.0, 1.0, gen));
  }
}

void reset_layer(BatchNorm2d& l) {
  NoGradGuard ng;
  l.weight().fill_(1.0);
  l.bias().fill_(0.0);
  l.running_mean().fill_(0.0);
  l.running_var().fill_(1.0);
  l.num_batches_tracked().fill_(0.0);
}

void reset_parameters(Module& m, Generator& gen) {
  apply(m, [&](Module& x) {
    if (auto* w = dynamic_cast<WeightedLayer*>(&x)) reset_layer(*w, gen);
    if (auto* bn = dynamic_cast<BatchNorm2d*>(&x)) reset_layer(*bn);
  });
}

void dcgan_weights_init(Module& m, Generator& gen) {
  NoGradGuard ng;
  apply(m, [&](Module& x) {
    if (is_conv(x)) {
      static_cast<WeightedLayer&>(x).weight().normal_(0.0, 0.02, gen);
    } else if (auto* bn = dynamic_cast<BatchNorm2d*>(&x)) {
      bn->weight().normal_(1.0, 0.02, gen);
      bn->bias().fill_(0.0);
    }
  });
}

void init_network(Module& m, Generator& gen) {
  reset_parameters(m, gen);
  dcgan_weights_init(m, gen);
}

}  // namespace mmgan::nn
