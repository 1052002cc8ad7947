// Feature extractors for Fréchet distances (features.h): thin wrappers that move images to the
// network's device and dtype, check their shape and run the network without a graph.
#include "eval/features.h"

#include <cstdlib>
#include <filesystem>

#include "engine/autograd/grad_mode.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "models/fmnist_classifier.h"
#include "models/inception.h"

namespace mmgan::eval {

namespace {

class InceptionFeatures : public FeatureExtractor {
 public:
  InceptionFeatures(const std::string& weights, Device d) : device_(d) {
    MMGAN_CHECK(std::filesystem::exists(weights), "Inception weights ", weights,
                " not found: convert pytorch-fid's pt_inception-2015-12-05-6726825d.pth with "
                "tools/convert_inception_weights.py and pass it with --feature_weights (or set "
                "MMGAN_INCEPTION_WEIGHTS); see the README's FID section");
    net_.load_weights(weights);
    net_.to(d);
  }
  std::string name() const override { return "inception-2048"; }
  int64_t dim() const override { return nn::InceptionV3Fid::kFeatureDim; }
  Tensor features(const Tensor& images) override {
    NoGradGuard ng;
    return net_(images.detach().to(DType::F32).to(device_));
  }

 private:
  Device device_;
  nn::InceptionV3Fid net_;
};

class FmnistFeatures : public FeatureExtractor {
 public:
  FmnistFeatures(const std::string& weights, Device d) : device_(d), net_(load(weights)) { net_->to(d); }
  std::string name() const override { return "fmnist-" + std::to_string(dim()); }
  static std::shared_ptr<nn::FmnistClassifier> load(const std::string& weights) {
    MMGAN_CHECK(std::filesystem::exists(weights), "Fashion-MNIST classifier weights ", weights,
                " not found: `mmgan train-classifier --out ", weights, "` trains them");
    return nn::load_fmnist_classifier(weights);
  }
  int64_t dim() const override { return nn::FmnistClassifier::kFeatureDim; }
  Tensor features(const Tensor& images) override {
    constexpr int64_t s = nn::FmnistClassifier::kImageSize;
    MMGAN_CHECK(images.dim() == 4 && images.size(1) == 1 && images.size(2) == s && images.size(3) == s,
                "fmnist features take one-colour ", s, "x", s,
                " images (Fashion-MNIST padded to 32, as the GANs "
                "see it), got ",
                images.str(), "; use --features inception for other data");
    NoGradGuard ng;
    return net_->features(images.detach().to(DType::F32).to(device_));
  }

 private:
  Device device_;
  std::shared_ptr<nn::FmnistClassifier> net_;
};

}  // namespace

std::string default_weights(const std::string& kind) {
  if (kind == "fmnist") return std::string(MMGAN_SOURCE_DIR) + "/" + nn::kFmnistClassifierWeights;
  MMGAN_CHECK(kind == "inception", "--features must be inception or fmnist, got '", kind, "'");
  if (const char* env = std::getenv("MMGAN_INCEPTION_WEIGHTS"); env && *env) return env;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.cache/mmgan/inception-fid.safetensors";
}

std::unique_ptr<FeatureExtractor> make_feature_extractor(const std::string& kind, const std::string& weights,
                                                         Device d) {
  const std::string path = weights.empty() ? default_weights(kind) : weights;
  if (kind == "fmnist") return std::make_unique<FmnistFeatures>(path, d);
  MMGAN_CHECK(kind == "inception", "--features must be inception or fmnist, got '", kind, "'");
  return std::make_unique<InceptionFeatures>(path, d);
}

}  // namespace mmgan::eval
