// A small CNN that classifies Fashion-MNIST, trained by mmgan itself (trainer/classifier_training.h,
// `mmgan train-classifier`), whose penultimate activations are the features of a Fréchet distance for
// Fashion-MNIST GANs: offline, without Inception weights, on the 32x32x1 images the GANs produce.
//
//   input [N, 1, 32, 32] in [-1, 1] (Fashion-MNIST's 28x28 zero-padded by 2, as the GANs see it)
//   conv.0  Conv2d 1 -> 32, 4x4, stride 2, pad 1 (no bias: BatchNorm follows)  16x16  + conv.1 BatchNorm2d + ReLU
//   conv.3  Conv2d 32 -> 64, 4x4, stride 2, pad 1                               8x8   + conv.4 BatchNorm2d + ReLU
//   conv.6  Conv2d 64 -> 128, 4x4, stride 2, pad 1                              4x4   + conv.7 BatchNorm2d + ReLU
//   conv.9  Conv2d 128 -> 128, 3x3, pad 1                                       4x4   + conv.10 BatchNorm2d + ReLU
//   mean over H, W -> [N, 128]
//   fc      Linear 128 -> 128 + ReLU   -> features [N, kFeatureDim = 128]
//   head    Linear 128 -> 10           -> logits
// 330,314 parameters. State names are those of the PyTorch module
//   conv = nn.Sequential(Conv2d, BatchNorm2d, ReLU, ...); fc = nn.Linear; head = nn.Linear
// so the weight file loads there with load_state_dict. Checked by tests/test_classifier.cpp against that
// PyTorch model (tests/oracle/classifier.py) in float64, and by the accuracy of the shipped weights
// (models/weights/fmnist_classifier.safetensors) on the t10k split.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "engine/random.h"
#include "models/layers.h"

namespace mmgan::nn {

class FmnistClassifier : public Module {
 public:
  static constexpr int64_t kFeatureDim = 128;
  static constexpr int64_t kClasses = 10;
  static constexpr int64_t kImageSize = 32;
  // The format tag and metadata keys of the weight files (load_fmnist_classifier checks them).
  static constexpr const char* kFormat = "mmgan-fmnist-classifier-1";

  // PyTorch's default initialisation drawn from gen (models/init.h); training mode.
  explicit FmnistClassifier(Generator& gen, DType t = DType::F32);

  Tensor forward(const Tensor& x) override;  // [N, 1, 32, 32] -> logits [N, 10]
  Tensor features(const Tensor& x);          // [N, 1, 32, 32] -> [N, kFeatureDim], after the ReLU
  Tensor logits_from_features(const Tensor& f) { return head_->forward(f); }

 private:
  std::shared_ptr<Sequential> conv_;
  std::shared_ptr<Linear> fc_, head_;
};

// Loads a weight file written by `mmgan train-classifier`: checks the format tag and the feature
// dimension in its metadata and every key and shape; errors name the file. The network is returned in
// eval mode (BatchNorm running statistics), converted to dtype.
std::shared_ptr<FmnistClassifier> load_fmnist_classifier(const std::string& path, DType t = DType::F32);

// Where the shipped weights live in the source tree.
inline constexpr const char* kFmnistClassifierWeights = "models/weights/fmnist_classifier.safetensors";

}  // namespace mmgan::nn
