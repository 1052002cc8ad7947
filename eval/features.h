// The networks whose features Fréchet distances compare:
//   "inception": the FID Inception-v3 (models/inception.h), 2048-d pool3 features: the community's
//                FID, comparable with published numbers; needs pytorch-fid's weights, converted by
//                tools/convert_inception_weights.py (the README says where to get them).
//   "fmnist":    mmgan's Fashion-MNIST classifier (models/fmnist_classifier.h), 128-d penultimate
//                features: offline, shipped in the repository, for 32x32 one-colour images only.
// Statistics record the extractor's name, and frechet_distance refuses to compare across names.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "engine/tensor.h"

namespace mmgan::eval {

class FeatureExtractor {
 public:
  virtual ~FeatureExtractor() = default;
  virtual std::string name() const = 0;  // "inception-2048", "fmnist-128"
  virtual int64_t dim() const = 0;
  // images [N, C, H, W] in [-1, 1] (any device) -> [N, dim] on the extractor's device, no graph.
  // Errors name the shape when the network cannot take the images.
  virtual Tensor features(const Tensor& images) = 0;
};

// kind: "inception" or "fmnist". weights "" means default_weights(kind). The network runs on d in
// float32, in eval mode.
std::unique_ptr<FeatureExtractor> make_feature_extractor(const std::string& kind, const std::string& weights, Device d);

// inception: $MMGAN_INCEPTION_WEIGHTS, else ~/.cache/mmgan/inception-fid.safetensors;
// fmnist: models/weights/fmnist_classifier.safetensors in the source tree mmgan was built from.
std::string default_weights(const std::string& kind);

}  // namespace mmgan::eval
