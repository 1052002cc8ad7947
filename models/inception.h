// The Inception-v3 network FID is computed with: the variant of pytorch-fid (`fid_inception_v3`)
// that reproduces the TensorFlow graph of Heusel et al. (2017), not torchvision's ImageNet model.
// It differs from torchvision's Inception3 in three places, all of them here:
//   - the average-pool branch of the A, C and first E blocks ignores padded zeros
//     (avg_pool2d with count_include_pad = false, as TensorFlow's average pool);
//   - the last E block (Mixed_7c) pools its pool branch with a 3x3 max pool, not an average;
//   - the classifier has 1008 classes (unused: FID reads the 2048 features before it).
// Inputs are images in [-1, 1] of any size, resized to 299x299 (bilinear, align_corners = false,
// as pytorch-fid's F.interpolate); 1-colour images are repeated to 3 colours, as PIL's
// convert("RGB") does. Output: the 2048-d average of the last block ("pool3"), the FID features.
//
// State names are those of torchvision's Inception3 (`Conv2d_1a_3x3.conv.weight`,
// `Mixed_5b.branch_pool.bn.running_var`, ...), so pytorch-fid's weight file
// (pt_inception-2015-12-05-6726825d.pth), converted by tools/convert_inception_weights.py, loads
// with load_state_dict (its unused fc.* entries are ignored).
// Checked by tests/test_inception.cpp against a PyTorch model built from torchvision's blocks.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "models/module.h"

namespace mmgan::nn {

class InceptionV3Fid : public Module {
 public:
  static constexpr int64_t kFeatureDim = 2048;
  static constexpr int64_t kInputSize = 299;

  explicit InceptionV3Fid(DType t = DType::F32);
  // images [N, 1 or 3, H, W] in [-1, 1] -> features [N, 2048]. Eval mode (BatchNorm running
  // statistics) is what FID uses; the constructor leaves the network in eval mode.
  Tensor forward(const Tensor& images) override;

  // Loads a converted weight file; errors name the file and every missing or mis-shaped key.
  void load_weights(const std::string& path);
};

// Fills every parameter and buffer with seeded random values that keep activations in a sensible
// range through all 94 conv layers (He-scaled weights; BatchNorm statistics near 0 and 1), for tests
// and benchmarks that cannot use the real weights.
void randomize_inception(InceptionV3Fid& net, uint64_t seed);

}  // namespace mmgan::nn
