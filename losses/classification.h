// Classification loss and accuracy for the Fashion-MNIST feature classifier (models/fmnist_classifier.h):
// cross_entropy is torch.nn.functional.cross_entropy (mean reduction) written in engine ops, so it is
// differentiable to any order. Checked by tests/test_classifier.cpp against PyTorch (value and
// gradient, float64) and by gradcheck / gradgradcheck.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace mmgan::losses {

// logits [N, C], labels: N class indices in [0, C) -> scalar []: mean_i (logsumexp_j logits[i, j] -
// logits[i, labels[i]]). The logsumexp is the stable one (max subtracted), so large logits are safe.
// Errors name the shapes, or the sample and label at fault.
Tensor cross_entropy(const Tensor& logits, const std::vector<uint8_t>& labels);

// The index of the largest value of each row of logits [N, C] (the first on ties, as torch.argmax).
std::vector<int64_t> argmax_rows(const Tensor& logits);

// How many rows of logits [N, C] have their argmax at the label (N labels).
int64_t count_correct(const Tensor& logits, const std::vector<uint8_t>& labels);

}  // namespace mmgan::losses
