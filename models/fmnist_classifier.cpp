// The Fashion-MNIST feature classifier of fmnist_classifier.h and its weight-file loader.
#include "models/fmnist_classifier.h"

#include "engine/error.h"
#include "engine/ops.h"
#include "models/init.h"

namespace mmgan::nn {

FmnistClassifier::FmnistClassifier(Generator& gen, DType t) {
  conv_ = register_module("conv", std::make_shared<Sequential>());
  // (in, out, kernel, stride, pad): each 4x4 stride-2 conv halves the size, 32 -> 16 -> 8 -> 4, then a 3x3
  // conv at 4x4. Starting at full resolution (a 3x3 conv at 32x32) costs 2.8x the time per step on the CPU
  // (BatchNorm and ReLU on 32 x 32 x 32 activations, col2im of a 32x32 input) for little accuracy.
  struct Spec {
    int64_t in, out, k, s, p;
  };
  const Spec specs[] = {{1, 32, 4, 2, 1}, {32, 64, 4, 2, 1}, {64, 128, 4, 2, 1}, {128, kFeatureDim, 3, 1, 1}};
  for (const Spec& s : specs) {
    const auto name = [&] { return std::to_string(conv_->size()); };  // torch.nn.Sequential numbering
    conv_->add(name(), std::make_shared<Conv2d>(s.in, s.out, s.k, s.s, s.p, false, false, t));
    conv_->add(name(), std::make_shared<BatchNorm2d>(s.out, 0.1, 1e-5, t));
    conv_->add(name(), std::make_shared<ReLU>());
  }
  fc_ = register_module("fc", std::make_shared<Linear>(kFeatureDim, kFeatureDim, true, false, t));
  head_ = register_module("head", std::make_shared<Linear>(kFeatureDim, kClasses, true, false, t));
  reset_parameters(*this, gen);
}

Tensor FmnistClassifier::features(const Tensor& x) {
  MMGAN_CHECK(x.dim() == 4 && x.size(1) == 1 && x.size(2) == kImageSize && x.size(3) == kImageSize,
              "FmnistClassifier: images must be [N, 1, 32, 32] in [-1, 1], got ", x.str());
  return relu(fc_->forward(mean(conv_->forward(x), {2, 3})));
}

Tensor FmnistClassifier::forward(const Tensor& x) { return head_->forward(features(x)); }

std::shared_ptr<FmnistClassifier> load_fmnist_classifier(const std::string& path, DType t) {
  const SafeTensors st = load_safetensors(path);
  const auto meta = [&](const std::string& key) {
    const auto it = st.metadata.find(key);
    MMGAN_CHECK(it != st.metadata.end(), path, ": not an mmgan Fashion-MNIST classifier (metadata '", key,
                "' missing; write it with `mmgan train-classifier`)");
    return it->second;
  };
  MMGAN_CHECK(meta("format") == FmnistClassifier::kFormat, path, ": unknown classifier format '", meta("format"),
              "', expected '", FmnistClassifier::kFormat, "'");
  MMGAN_CHECK(meta("feature_dim") == std::to_string(FmnistClassifier::kFeatureDim), path, ": feature dimension ",
              meta("feature_dim"), " in the metadata, but this build's classifier has ", FmnistClassifier::kFeatureDim);
  Generator gen(0);  // every value is replaced by the file's
  auto net = std::make_shared<FmnistClassifier>(gen, t);
  try {
    net->load_state_dict(st);
  } catch (const Error& e) {
    MMGAN_FAIL(path, ": ", e.what());
  }
  net->eval();
  return net;
}

}  // namespace mmgan::nn
