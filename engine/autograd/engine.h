// Reverse-mode differentiation over the recorded graph.
//
// backward(): gradients of the outputs (seeded with grad_outputs, or 1 for a scalar) accumulate
// into .grad of every leaf that requires grad.
// grad(): returns d(outputs)/d(inputs) contracted with grad_outputs, touching no .grad, and runs
// only the nodes on a path from the outputs to the inputs.
// create_graph=true records the backward pass itself, so its results can be differentiated again,
// to any order. retain_graph (default: create_graph) keeps saved tensors for another pass.
#pragma once
#include <vector>

#include "engine/tensor.h"

namespace mmgan {

void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs = {},
              bool retain_graph = false, bool create_graph = false);

struct GradOptions {
  bool create_graph = false;
  int retain_graph = -1;      // -1: same as create_graph
  bool allow_unused = false;  // otherwise an input the outputs do not depend on is an error
};

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, GradOptions opts = {});

}  // namespace mmgan
