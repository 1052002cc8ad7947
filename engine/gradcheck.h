// Finite-difference checks of the engine's derivatives, in float64 with central differences.
//
// gradcheck: the Jacobian of f at the inputs, computed by backward passes (one per output element)
// against (f(x + eps e_k) - f(x - eps e_k)) / 2 eps, element by element.
// gradgradcheck: gradcheck of the map (inputs, v) -> grad(f(inputs), inputs, v, create_graph),
// i.e. of the backward pass itself, which checks every second derivative.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace mmgan {

using TensorFn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-7;
  double rtol = 1e-5;
};

struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0;
  std::string message;  // the first mismatch: output, input and element, both values
};

// Inputs: float64 CPU tensors; those with requires_grad are checked.
GradcheckResult gradcheck(const TensorFn& f, const std::vector<Tensor>& inputs, GradcheckOptions opts = {});
GradcheckResult gradgradcheck(const TensorFn& f, const std::vector<Tensor>& inputs, GradcheckOptions opts = {},
                              uint64_t seed = 1234);

}  // namespace mmgan
