// Fréchet distances end to end (eval/features.h, eval/fid.h, trainer/fid.h, `mmgan fid-stats`,
// `mmgan fid`, `mmgan train --fid_every`):
// 1. The whole pipeline with the shipped Fashion-MNIST classifier (features in batches, float64
//    statistics, the distance) against PyTorch features and pytorch-fid's scipy formula
//    (tests/oracle/fid.py); a set against itself is 0.
// 2. Statistics do not depend on how the images are batched.
// 3. Feature extractors: the fmnist one is the classifier's features; the inception one is the FID
//    network with the given weights (random ones here; test_inception.cpp checks the network against
//    PyTorch); wrong images, missing weights and unknown kinds are clear errors.
// 4. Trainer::fid never changes the run (bit-identical parameters and buffers with and without it)
//    and is deterministic.
// 5. The commands: fid-stats on an image folder, train --fid_every (values logged, the best kept as
//    best.safetensors, reference statistics kept in the run folder and reused on resume), fid on
//    the checkpoint, and the errors of mismatched features and missing files.
// Parts needing Debian's dataset-fashion-mnist skip without it.
#include <stb/stb_image_write.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "data/fashion_mnist.h"
#include "engine/autograd/grad_mode.h"
#include "eval/fid.h"
#include "models/fmnist_classifier.h"
#include "models/inception.h"
#include "tests/test_util.h"
#include "tests/trainer_util.h"
#include "trainer/fid.h"
#include "trainer/trainer.h"

namespace mmgan {
namespace {

namespace fs = std::filesystem;

// Images [first, first + n) of a Fashion-MNIST split (32x32, padded) as a data set.
std::shared_ptr<data::Dataset> fmnist_slice(bool train, int64_t first, int64_t n) {
  static const data::Labeled sets[2] = {data::load_fashion_mnist(data::kFashionMnistDir, false, 32, "pad"),
                                        data::load_fashion_mnist(data::kFashionMnistDir, true, 32, "pad")};
  const data::Dataset& d = sets[train].images;
  auto s = std::make_shared<data::Dataset>();
  s->name = "fashion-mnist";
  s->source = d.source + " [" + std::to_string(first) + ", " + std::to_string(first + n) + ")";
  s->sample_shape = d.sample_shape;
  s->count = n;
  const int64_t k = d.sample_numel();
  s->bytes.assign(d.bytes.begin() + first * k, d.bytes.begin() + (first + n) * k);
  return s;
}

Tensor all_images(const data::Dataset& d) {
  std::vector<int64_t> idx(size_t(d.count));
  for (int64_t i = 0; i < d.count; ++i) idx[size_t(i)] = i;
  return d.gather(idx);
}

double max_rel(const Tensor& a, const Tensor& b) { return test::rel_error(a.to_vector(), b.to_vector()); }

// ---- 1. the pipeline against PyTorch and scipy --------------------------------------------------

TEST(Fid, FmnistPipelineMatchesPyTorchFeaturesAndScipy) {
  MMGAN_REQUIRE_FASHION_MNIST();
  MMGAN_REQUIRE_TORCH();
  auto fx = eval::make_feature_extractor("fmnist", "", Device::cpu());
  // Two different sets: test images and training images (batches that do not divide the count).
  const auto a = fmnist_slice(false, 0, 300), b = fmnist_slice(true, 1000, 250);
  const eval::GaussianStats sa = trainer::dataset_stats(*a, *fx, 0, 64, false);
  const eval::GaussianStats sb = trainer::dataset_stats(*b, *fx, 0, 64, false);
  EXPECT_EQ(sa.count, 300);
  EXPECT_EQ(sa.features, "fmnist-128");
  const double d = eval::frechet_distance(sa, sb).distance;
  const double self = eval::frechet_distance(sa, sa).distance;
  EXPECT_GT(d, 0);
  SafeTensors out;
  out.add("a.x", all_images(*a).to(DType::F64));
  out.add("b.x", all_images(*b).to(DType::F64));
  out.add("a.mu", sa.mu);
  out.add("a.sigma", sa.sigma);
  out.add("b.mu", sb.mu);
  out.add("b.sigma", sb.sigma);
  out.add("distance", scalar(d, DType::F64));
  out.add("self_distance", scalar(self, DType::F64));
  const std::string path = (test::temp_dir("fid") / "pipeline.safetensors").string();
  save_safetensors(path, out);
  test::run_oracle("fid.py", path + " " + eval::default_weights("fmnist"));
}

// ---- 2. batching ---------------------------------------------------------------------------------

TEST(Fid, StatisticsDoNotDependOnTheBatchSize) {
  MMGAN_REQUIRE_FASHION_MNIST();
  auto fx = eval::make_feature_extractor("fmnist", "", Device::cpu());
  const auto a = fmnist_slice(false, 500, 120);
  const eval::GaussianStats one = trainer::dataset_stats(*a, *fx, 0, 120, false);
  const eval::GaussianStats odd = trainer::dataset_stats(*a, *fx, 0, 7, false);
  EXPECT_EQ(odd.count, 120);
  EXPECT_LT(max_rel(odd.mu, one.mu), 1e-5);
  EXPECT_LT(max_rel(odd.sigma, one.sigma), 1e-5);
  // --n takes the first n images.
  const eval::GaussianStats first = trainer::dataset_stats(*a, *fx, 40, 16, false);
  const eval::GaussianStats sub = trainer::dataset_stats(*fmnist_slice(false, 500, 40), *fx, 0, 40, false);
  EXPECT_EQ(first.count, 40);
  EXPECT_LT(max_rel(first.mu, sub.mu), 1e-5);
  const std::string e = test::error_of([&] { trainer::dataset_stats(*a, *fx, 121, 16, false); });
  EXPECT_NE(e.find("--n 121"), std::string::npos) << e;
}

// ---- 3. feature extractors -----------------------------------------------------------------------

TEST(Fid, FeaturesChoiceAndExtractors) {
  EXPECT_EQ(trainer::resolve_features("auto", {1, 32, 32}), "fmnist");
  EXPECT_EQ(trainer::resolve_features("auto", {3, 32, 32}), "inception");
  EXPECT_EQ(trainer::resolve_features("auto", {1, 64, 64}), "inception");
  EXPECT_EQ(trainer::resolve_features("inception", {1, 32, 32}), "inception");

  auto fx = eval::make_feature_extractor("fmnist", "", Device::cpu());
  EXPECT_EQ(fx->dim(), nn::FmnistClassifier::kFeatureDim);
  Generator g(4);
  const Tensor x = test::uniform({5, 1, 32, 32}, -1, 1, g, false, DType::F32);
  auto net = nn::load_fmnist_classifier(eval::default_weights("fmnist"));
  NoGradGuard ng;
  EXPECT_EQ(fx->features(x).to_vector(), net->features(x).to_vector());
  std::string e = test::error_of([&] { fx->features(test::uniform({2, 3, 32, 32}, -1, 1, g, false, DType::F32)); });
  EXPECT_NE(e.find("[2, 3, 32, 32]"), std::string::npos) << e;
  EXPECT_NE(e.find("--features inception"), std::string::npos) << e;

  const std::string missing = (test::temp_dir("fid") / "none.safetensors").string();
  e = test::error_of([&] { eval::make_feature_extractor("inception", missing, Device::cpu()); });
  EXPECT_NE(e.find(missing), std::string::npos) << e;
  EXPECT_NE(e.find("convert_inception_weights.py"), std::string::npos) << e;
  e = test::error_of([&] { eval::make_feature_extractor("fmnist", missing, Device::cpu()); });
  EXPECT_NE(e.find(missing), std::string::npos) << e;
  EXPECT_NE(e.find("train-classifier"), std::string::npos) << e;
  e = test::error_of([&] { eval::make_feature_extractor("vgg", "", Device::cpu()); });
  EXPECT_NE(e.find("'vgg'"), std::string::npos) << e;
}

TEST(Fid, InceptionExtractorRunsTheFidNetworkWithTheGivenWeights) {
  nn::InceptionV3Fid net;
  nn::randomize_inception(net, 17);
  const std::string path = (test::temp_dir("fid") / "inception-random.safetensors").string();
  save_safetensors(path, net.state_dict());
  auto fx = eval::make_feature_extractor("inception", path, Device::cpu());
  EXPECT_EQ(fx->name(), "inception-2048");
  Generator g(8);
  const Tensor x = test::uniform({2, 3, 20, 24}, -1, 1, g, false, DType::F32);
  NoGradGuard ng;
  net.eval();
  const Tensor want = net(x);
  const Tensor got = fx->features(x.to(DType::F64));  // any dtype in; float32 features out
  EXPECT_EQ(shape_str(got.shape()), "[2, 2048]");
  EXPECT_EQ(got.to_vector(), want.to_vector());
}

// ---- 4. Trainer::fid -------------------------------------------------------------------------------

trainer::TrainConfig tiny_fmnist_config() { return test::tiny_config(32, 5); }

TEST(Fid, TrainerFidNeverChangesTheRunAndIsDeterministic) {
  MMGAN_REQUIRE_FASHION_MNIST();
  auto ds = fmnist_slice(true, 0, 60);
  auto fx = eval::make_feature_extractor("fmnist", "", Device::cpu());
  const eval::GaussianStats ref = trainer::dataset_stats(*ds, *fx, 0, 30, false);
  trainer::Trainer with(tiny_fmnist_config(), ds), without(tiny_fmnist_config(), ds);
  with.step();
  without.step();
  const double f1 = with.fid(*fx, ref, 20).distance;
  const double f2 = with.fid(*fx, ref, 20).distance;
  EXPECT_TRUE(std::isfinite(f1) && f1 > 0) << f1;
  EXPECT_EQ(f1, f2);
  with.step();
  without.step();
  const SafeTensors a = with.checkpoint(), b = without.checkpoint();
  ASSERT_EQ(a.names, b.names);
  for (const std::string& n : a.names) EXPECT_EQ(a.tensors.at(n).to_vector(), b.tensors.at(n).to_vector()) << n;
  for (const auto& [k, v] : a.metadata) EXPECT_EQ(v, b.metadata.at(k)) << k;
}

// ---- 5. the commands -------------------------------------------------------------------------------

test::CommandResult run(const std::string& args) { return test::run_command(std::string(MMGAN_BINARY) + " " + args); }

std::vector<nlohmann::json> metrics_with_fid(const fs::path& run) {
  std::vector<nlohmann::json> out;
  std::ifstream in(run / "metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    if (j.contains("fid")) out.push_back(j);
  }
  return out;
}

// The first n Fashion-MNIST training images as one-colour 32x32 PNGs in dir/images (features
// auto-resolve to fmnist for them); returns the data flags that name the folder.
std::string write_image_folder(const fs::path& dir, int64_t n) {
  const fs::path images = dir / "images";
  fs::create_directories(images);
  const auto ds = fmnist_slice(true, 0, n);
  for (int64_t i = 0; i < ds->count; ++i)
    EXPECT_TRUE(stbi_write_png((images / ("img" + std::to_string(i) + ".png")).c_str(), 32, 32, 1,
                               ds->bytes.data() + i * 1024, 32));
  return "--dataset folder --input_folder " + images.string() + " --image_size 32 --n_colors 1";
}

// Networks small enough that an iteration takes milliseconds.
const char* kTinyNets =
    "--z_size 8 --G_h_size 4 --D_h_size 4 --batch_size 6 --n_samples 4 --log_every 100 "
    "--margin_every 100 --print_every 100";

TEST(Fid, CommandsOnAnImageFolder) {
  MMGAN_REQUIRE_FASHION_MNIST();
  const fs::path dir = test::temp_dir("fid-cli");
  const std::string data = write_image_folder(dir, 40);
  const auto ds = fmnist_slice(true, 0, 40);
  const std::string tiny = data + " " + kTinyNets + " --save_every 2 --output_folder " + dir.string();

  // fid-stats: the folder's statistics equal the library's on the same images.
  const std::string stats = (dir / "stats.safetensors").string();
  test::CommandResult r = run("fid-stats " + data + " --out " + stats);
  ASSERT_EQ(r.code, 0) << r.out;
  const eval::GaussianStats s = eval::load_stats(stats);
  EXPECT_EQ(s.count, 40);
  EXPECT_EQ(s.features, "fmnist-128");
  auto fx = eval::make_feature_extractor("fmnist", "", Device::cpu());
  EXPECT_LT(max_rel(s.mu, trainer::dataset_stats(*ds, *fx, 0, 50, false).mu), 1e-5);

  // train --fid_every 2: values at iterations 2 and 4, the best kept, the reference statistics
  // computed from the training images once and kept in the run folder.
  r = run("train " + tiny + " --run_name r --n_iter 4 --fid_every 2 --fid_n 12");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("computing fmnist-128 statistics of 40 training images"), std::string::npos) << r.out;
  const fs::path run_dir = dir / "r-0";  // run folders are numbered
  std::vector<nlohmann::json> m = metrics_with_fid(run_dir);
  ASSERT_EQ(m.size(), 2u) << r.out;
  EXPECT_EQ(m[0]["iter"].get<int64_t>() + 1, 2);
  EXPECT_EQ(m[1]["iter"].get<int64_t>() + 1, 4);
  EXPECT_EQ(m[1]["fid_features"], "fmnist-128");
  const double best = std::min(m[0]["fid"].get<double>(), m[1]["fid"].get<double>());
  EXPECT_EQ(m[1]["fid_best"].get<double>(), best);
  EXPECT_TRUE(fs::exists(run_dir / "best.safetensors"));
  EXPECT_TRUE(fs::exists(run_dir / "fid_stats.safetensors"));
  EXPECT_EQ(eval::load_stats((run_dir / "fid_stats.safetensors").string()).mu.to_vector(), s.mu.to_vector());

  // Resume: the kept statistics are reused and the best carries over.
  r = run("train --resume " + run_dir.string() + " --resume_n_iter 6");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.find("computing"), std::string::npos) << r.out;
  m = metrics_with_fid(run_dir);
  ASSERT_EQ(m.size(), 3u) << r.out;
  EXPECT_EQ(m[2]["fid_best"].get<double>(), std::min(best, m[2]["fid"].get<double>()));

  // fid on the checkpoint, against the folder's statistics.
  r = run("fid --checkpoint " + (run_dir / "checkpoint.safetensors").string() + " --stats " + stats + " --n 12");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("Fréchet distance (fmnist-128)"), std::string::npos) << r.out;

  // Errors name what is wrong.
  r = run("fid --checkpoint " + (run_dir / "checkpoint.safetensors").string() + " --stats " + stats +
          " --features inception --n 12");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("fmnist-128"), std::string::npos) << r.out;
  const std::string absent = (dir / "absent.safetensors").string();
  r = run("fid --checkpoint " + (run_dir / "checkpoint.safetensors").string() + " --stats " + absent);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find(absent), std::string::npos) << r.out;
  r = run("train " + tiny + " --run_name r2 --n_iter 2 --fid_every 1 --fid_stats " + absent);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find(absent), std::string::npos) << r.out;
}

}  // namespace
}  // namespace mmgan
