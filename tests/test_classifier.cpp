// The Fashion-MNIST feature classifier (models/fmnist_classifier.h), its loss (losses/classification.h)
// and its training (trainer/classifier_training.h, `mmgan train-classifier`):
// 1. cross_entropy's value and gradient against PyTorch's F.cross_entropy (float64, 1e-12), including
//    logits large enough to overflow a naive exp; its first and second derivatives against finite
//    differences; bad labels.
// 2. The network's eval-mode features and logits, and in train mode its logits, loss, every parameter
//    gradient and the BatchNorm buffers after the forward, against a PyTorch model of the same
//    architecture loaded with the shipped weights, whose state_dict names must be the file's (float64,
//    1e-9; tests/oracle/classifier.py).
// 3. A short run of the command's training code on 2,000 training images learns: > 70% on 1,000
//    held-out t10k images (chance is 10%), and the file it writes loads back with the same accuracy.
// 4. The shipped weights reach >= 91% on the full t10k split.
// 5. Weight files with the wrong feature dimension, a missing key or no metadata: errors name the file.
// Tests 3 and 4 need Debian's dataset-fashion-mnist and skip without it.
#include <filesystem>
#include <sstream>

#include "data/fashion_mnist.h"
#include "losses/classification.h"
#include "models/fmnist_classifier.h"
#include "tests/test_util.h"
#include "trainer/classifier_training.h"

namespace mmgan {
namespace {

using nn::FmnistClassifier;
using test::uniform;

std::string shipped_weights() { return test::source_dir() + "/" + nn::kFmnistClassifierWeights; }

Tensor labels_tensor(const std::vector<uint8_t>& labels) {
  return from_vector(std::vector<double>(labels.begin(), labels.end()), {int64_t(labels.size())}, DType::F64);
}

std::vector<uint8_t> random_labels(int64_t n, int64_t classes, Generator& g) {
  std::vector<uint8_t> out;
  for (double u : uniform({n}, 0, double(classes), g).to_vector()) out.push_back(uint8_t(u));
  return out;
}

// The first n samples of a labelled set.
data::Labeled head(const data::Labeled& d, int64_t n) {
  data::Labeled s;
  s.images.name = d.images.name;
  s.images.source = d.images.source + " (first " + std::to_string(n) + ")";
  s.images.sample_shape = d.images.sample_shape;
  s.images.count = n;
  s.images.bytes.assign(d.images.bytes.begin(), d.images.bytes.begin() + n * d.images.sample_numel());
  s.labels.assign(d.labels.begin(), d.labels.begin() + n);
  return s;
}

// ---- 1. cross_entropy ------------------------------------------------------------------------

TEST(CrossEntropy, ValueAndGradientMatchPyTorch) {
  MMGAN_REQUIRE_TORCH();
  Generator g(11);
  struct Case {
    std::string name;
    Tensor logits;
    std::vector<uint8_t> labels;
  };
  std::vector<Case> cases;
  cases.push_back({"small", uniform({7, 10}, -3, 3, g), random_labels(7, 10, g)});
  cases.push_back({"one_row", uniform({1, 4}, -1, 1, g), {3}});
  // exp(800) overflows float64: only a max-subtracted logsumexp survives.
  cases.push_back({"large", add(mul(uniform({5, 10}, -1, 1, g), 300.0), 500.0), random_labels(5, 10, g)});
  cases.push_back({"confident", mul(uniform({6, 3}, -1, 1, g), 40.0), random_labels(6, 3, g)});
  SafeTensors out;
  for (Case& c : cases) {
    const Tensor logits = c.logits.detach().requires_grad_(true);
    const Tensor loss = losses::cross_entropy(logits, c.labels);
    ASSERT_EQ(loss.dim(), 0) << c.name;
    ASSERT_TRUE(std::isfinite(loss.item())) << c.name;
    const Tensor gx = grad({loss}, {logits})[0];
    out.add(c.name + ".logits", logits.detach());
    out.add(c.name + ".labels", labels_tensor(c.labels), "I64");
    out.add(c.name + ".loss", loss.detach());
    out.add(c.name + ".grad", gx);
  }
  const std::string path = (test::temp_dir("classifier") / "ce.safetensors").string();
  save_safetensors(path, out);
  test::run_oracle("classifier.py", "ce " + path);
}

TEST(CrossEntropy, FirstAndSecondDerivativesMatchFiniteDifferences) {
  Generator g(5);
  const std::vector<uint8_t> labels = {2, 0, 4, 4};
  const TensorFn f = [&](const std::vector<Tensor>& in) {
    return std::vector<Tensor>{losses::cross_entropy(in[0], labels)};
  };
  const std::vector<Tensor> inputs{uniform({4, 5}, -2, 2, g, true)};
  const GradcheckResult r1 = gradcheck(f, inputs);
  EXPECT_TRUE(r1.ok) << r1.message;
  const GradcheckResult r2 = gradgradcheck(f, inputs);
  EXPECT_TRUE(r2.ok) << r2.message;
}

TEST(CrossEntropy, BadLabelsNameTheShapesAndTheSample) {
  Generator g(1);
  const Tensor logits = uniform({3, 10}, -1, 1, g);
  const std::string count = test::error_of([&] { losses::cross_entropy(logits, {1, 2}); });
  EXPECT_NE(count.find("2 labels"), std::string::npos) << count;
  EXPECT_NE(count.find("[3, 10]"), std::string::npos) << count;
  const std::string range = test::error_of([&] { losses::cross_entropy(logits, {1, 10, 2}); });
  EXPECT_NE(range.find("label 10 of sample 1"), std::string::npos) << range;
  EXPECT_NE(range.find("[3, 10]"), std::string::npos) << range;
  const std::string rank = test::error_of([&] { losses::cross_entropy(uniform({3}, -1, 1, g), {1, 2, 3}); });
  EXPECT_NE(rank.find("[N, C]"), std::string::npos) << rank;
}

TEST(CrossEntropy, ArgmaxTakesTheFirstMaximumOfEachRow) {
  const Tensor logits =
      from_vector(std::vector<double>{0, 3, 3, 1, /**/ -5, -6, -7, -5, /**/ 0, 0, 0, 9}, {3, 4}, DType::F64);
  EXPECT_EQ(losses::argmax_rows(logits), (std::vector<int64_t>{1, 0, 3}));
  EXPECT_EQ(losses::count_correct(logits, {1, 3, 3}), 2);
}

// ---- 2. the network against PyTorch ------------------------------------------------------------

TEST(FmnistClassifier, ShipsAnArchitectureOfTheDocumentedSize) {
  Generator g(0);
  FmnistClassifier net(g);
  EXPECT_LT(net.parameter_count(), 500000);
  const Tensor x = uniform({3, 1, 32, 32}, -1, 1, g, false, DType::F32);
  EXPECT_EQ(shape_str(net.features(x).shape()), shape_str(Shape{3, FmnistClassifier::kFeatureDim}));
  EXPECT_EQ(shape_str(net(x).shape()), shape_str(Shape{3, FmnistClassifier::kClasses}));
  const std::string e = test::error_of([&] { net(uniform({3, 3, 32, 32}, -1, 1, g, false, DType::F32)); });
  EXPECT_NE(e.find("[N, 1, 32, 32]"), std::string::npos) << e;
}

TEST(FmnistClassifier, ForwardFeaturesAndGradientsMatchPyTorch) {
  MMGAN_REQUIRE_TORCH();
  ASSERT_TRUE(std::filesystem::exists(shipped_weights())) << shipped_weights() << " is missing";
  auto net = nn::load_fmnist_classifier(shipped_weights(), DType::F64);
  Generator g(21);
  const int64_t n = 6;
  const Tensor x = uniform({n, 1, 32, 32}, -1, 1, g);
  const std::vector<uint8_t> labels = random_labels(n, 10, g);
  SafeTensors out;
  out.add_all(net->state_dict(), "state.");
  out.add("x", x);
  out.add("labels", labels_tensor(labels), "I64");
  {
    NoGradGuard ng;
    net->eval();
    out.add("features_eval", net->features(x));
    out.add("logits_eval", (*net)(x));
  }
  net->train();
  const Tensor logits = (*net)(x);
  const Tensor loss = losses::cross_entropy(logits, labels);
  loss.backward();
  out.add("logits_train", logits.detach());
  out.add("loss_train", loss.detach());
  for (const auto& [name, p] : net->named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << name;
    out.add("grad." + name, p.grad());
  }
  for (const auto& [name, b] : net->named_buffers())
    out.add("after." + name, b, name.find("num_batches_tracked") != std::string::npos ? "I64" : "");
  const std::string path = (test::temp_dir("classifier") / "model.safetensors").string();
  save_safetensors(path, out);
  test::run_oracle("classifier.py", "model " + path + " " + shipped_weights());
}

// ---- 3. a short training run learns --------------------------------------------------------------

TEST(ClassifierTraining, ShortRunOnASubsetBeatsChanceClearly) {
  MMGAN_REQUIRE_FASHION_MNIST();
  const data::Labeled train = head(data::load_fashion_mnist(data::kFashionMnistDir, true, 32, "pad"), 2000);
  const data::Labeled held_out = head(data::load_fashion_mnist(data::kFashionMnistDir, false, 32, "pad"), 1000);
  trainer::ClassifierConfig cfg;
  cfg.epochs = 10;  // 31 steps each: 310 steps
  cfg.batch_size = 64;
  cfg.seed = 3;
  cfg.out = (test::temp_dir("classifier") / "short.safetensors").string();
  std::ostringstream log;
  const trainer::ClassifierResult r = trainer::train_classifier(cfg, train, held_out, log);
  std::printf("%s", log.str().c_str());
  EXPECT_EQ(r.steps, 310);
  ASSERT_EQ(r.epochs.size(), 10u);
  EXPECT_LT(r.epochs.back().loss, r.epochs.front().loss);
  EXPECT_GT(r.test_accuracy(), 0.70);
  // The written file loads and classifies the held-out images exactly as the trained network did.
  auto loaded = nn::load_fmnist_classifier(cfg.out);
  EXPECT_EQ(trainer::classifier_accuracy(*loaded, held_out, Device::cpu()), r.test_accuracy());
  const SafeTensors st = load_safetensors(cfg.out);
  EXPECT_EQ(std::stod(st.metadata.at("test_accuracy")), r.test_accuracy());
  EXPECT_NE(st.metadata.at("recipe").find("\"batch_size\":64"), std::string::npos) << st.metadata.at("recipe");
  EXPECT_NE(st.metadata.at("lr_schedule").find("cosine"), std::string::npos);
}

// The command reproduces its weights: the same recipe twice gives the same bits (the shipped file is
// `mmgan train-classifier` with the defaults), another seed other weights.
TEST(ClassifierTraining, SameRecipeSameWeights) {
  MMGAN_REQUIRE_FASHION_MNIST();
  const data::Labeled train = head(data::load_fashion_mnist(data::kFashionMnistDir, true, 32, "pad"), 640);
  const data::Labeled held_out = head(data::load_fashion_mnist(data::kFashionMnistDir, false, 32, "pad"), 100);
  trainer::ClassifierConfig cfg;
  cfg.epochs = 2;
  cfg.batch_size = 64;
  std::ostringstream log;
  const auto state = [&](int64_t seed) {
    cfg.seed = seed;
    return trainer::train_classifier(cfg, train, held_out, log).net->state_dict();
  };
  const SafeTensors a = state(1), b = state(1), c = state(2);
  ASSERT_EQ(a.names, b.names);
  for (const std::string& n : a.names) EXPECT_EQ(a.at(n).to_vector(), b.at(n).to_vector()) << n;
  EXPECT_NE(a.at("head.weight").to_vector(), c.at("head.weight").to_vector());
}

// ---- 4. the shipped weights ----------------------------------------------------------------------

TEST(ClassifierTraining, ShippedWeightsReach91PercentOnT10k) {
  MMGAN_REQUIRE_FASHION_MNIST();
  auto net = nn::load_fmnist_classifier(shipped_weights());
  const data::Labeled test = data::load_fashion_mnist(data::kFashionMnistDir, false, 32, "pad");
  ASSERT_EQ(test.images.count, 10000);
  const double acc = trainer::classifier_accuracy(*net, test, Device::cpu());
  const SafeTensors st = load_safetensors(shipped_weights());
  std::printf("shipped weights: t10k accuracy %.2f%% (recorded at training: %.2f%%)\n", 100 * acc,
              100 * std::stod(st.metadata.at("test_accuracy")));
  EXPECT_GE(acc, 0.91);
  // The same evaluation as at training time, up to a rounding-level flip of a near-tie.
  EXPECT_NEAR(acc, std::stod(st.metadata.at("test_accuracy")), 2e-4);
}

// ---- 5. bad weight files ---------------------------------------------------------------------------

TEST(FmnistClassifier, BadWeightFilesNameTheFile) {
  Generator g(0);
  FmnistClassifier net(g);
  const auto dir = test::temp_dir("classifier");
  const auto write = [&](const std::string& name, SafeTensors st) {
    const std::string p = (dir / name).string();
    save_safetensors(p, st);
    return p;
  };
  SafeTensors good = net.state_dict();
  good.metadata = {{"format", FmnistClassifier::kFormat}, {"feature_dim", "128"}};
  ASSERT_NO_THROW(nn::load_fmnist_classifier(write("good.safetensors", good)));

  SafeTensors dim = good;
  dim.metadata["feature_dim"] = "64";
  const std::string p_dim = write("dim64.safetensors", dim);
  std::string e = test::error_of([&] { nn::load_fmnist_classifier(p_dim); });
  EXPECT_NE(e.find(p_dim), std::string::npos) << e;
  EXPECT_NE(e.find("feature dimension 64"), std::string::npos) << e;

  SafeTensors missing;
  missing.metadata = good.metadata;
  for (const std::string& k : good.names)
    if (k != "fc.bias") missing.add(k, good.at(k), good.file_dtype.at(k));
  const std::string p_missing = write("missing.safetensors", missing);
  e = test::error_of([&] { nn::load_fmnist_classifier(p_missing); });
  EXPECT_NE(e.find(p_missing), std::string::npos) << e;
  EXPECT_NE(e.find("missing key 'fc.bias'"), std::string::npos) << e;

  SafeTensors bare = good;
  bare.metadata.clear();
  const std::string p_bare = write("bare.safetensors", bare);
  e = test::error_of([&] { nn::load_fmnist_classifier(p_bare); });
  EXPECT_NE(e.find(p_bare), std::string::npos) << e;
  EXPECT_NE(e.find("'format' missing"), std::string::npos) << e;

  const std::string p_none = (dir / "absent.safetensors").string();
  e = test::error_of([&] { nn::load_fmnist_classifier(p_none); });
  EXPECT_NE(e.find(p_none), std::string::npos) << e;
}

}  // namespace
}  // namespace mmgan
