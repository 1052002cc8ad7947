// A fully connected network: Linear layers with an activation between them, named as
// torch.nn.Sequential names its children ("0.weight", "0.bias", "2.weight", ...), so its state
// loads into the same nn.Sequential in PyTorch. The margin lab's 2-d critics and generators.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/random.h"
#include "models/module.h"

namespace mmgan::nn {

enum class Activation { Tanh, ReLU, LeakyReLU };

struct MLPConfig {
  int64_t in = 2, out = 1;
  std::vector<int64_t> hidden{64, 64};  // widths of the hidden layers (may be empty: one Linear)
  Activation activation = Activation::Tanh;
  double slope = 0.2;  // of LeakyReLU
  DType dtype = DType::F64;
};

// in -> hidden... -> out, an activation after every hidden Linear, none after the last; PyTorch's
// default initialisation drawn from gen (models/init.h). [N, in] -> [N, out].
std::shared_ptr<Sequential> make_mlp(const MLPConfig& cfg, Generator& gen);

}  // namespace mmgan::nn
