// The module system and the paper's networks: state_dict names and order exactly as the official
// PyTorch code (AlexiaJM/MaximumMarginGANs, Code/GAN.py) produces them, parameter counts worked
// out by hand from the layer shapes, the initialisation's statistics, save/load round trips and
// their errors, train/eval and dtype conversion, and forward shapes.
#include <algorithm>
#include <cmath>
#include <functional>

#include "models/init.h"
#include "models/layers.h"
#include "models/networks.h"
#include "tests/test_util.h"

namespace mmgan {
namespace {

using nn::Arch;
using nn::NetConfig;
using Names = std::vector<std::string>;

NetConfig dcgan(int64_t size, int64_t h) {
  NetConfig c;
  c.image_size = size;
  c.G_h_size = c.D_h_size = h;
  c.z_size = 16;
  return c;
}

NetConfig cnn() {
  NetConfig c;
  c.arch = Arch::StandardCNN;
  c.z_size = 16;
  return c;
}

Names names_of(const std::vector<std::pair<std::string, Tensor>>& v) {
  Names out;
  for (const auto& [n, t] : v) out.push_back(n);
  return out;
}

// The five state entries of a BatchNorm2d named `m`.
Names bn(const std::string& m) {
  return {m + ".weight", m + ".bias", m + ".running_mean", m + ".running_var", m + ".num_batches_tracked"};
}
Names cat(std::initializer_list<Names> parts) {
  Names out;
  for (const Names& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// ---- names and order -----------------------------------------------------------------------

TEST(Modules, DcganDiscriminatorStateNamesWithBatchNorm) {
  Generator g(1);
  auto d = nn::make_discriminator(dcgan(32, 8), g);
  // 32 -> Start 16 -> Middle [0] 8 -> Middle [1] 4 -> End 1.
  const Names expected = cat({{"main.Start-Conv2d.weight", "main.Middle-Conv2d [0].weight"},
                              bn("main.Middle-BatchNorm2d [0]"),
                              {"main.Middle-Conv2d [1].weight"},
                              bn("main.Middle-BatchNorm2d [1]"),
                              {"main.End-Conv2d.weight"}});
  const SafeTensors st = d->state_dict();
  EXPECT_EQ(st.names, expected);
  EXPECT_EQ(
      names_of(d->named_parameters()),
      (Names{"main.Start-Conv2d.weight", "main.Middle-Conv2d [0].weight", "main.Middle-BatchNorm2d [0].weight",
             "main.Middle-BatchNorm2d [0].bias", "main.Middle-Conv2d [1].weight", "main.Middle-BatchNorm2d [1].weight",
             "main.Middle-BatchNorm2d [1].bias", "main.End-Conv2d.weight"}));
  EXPECT_EQ(names_of(d->named_buffers()),
            (Names{"main.Middle-BatchNorm2d [0].running_mean", "main.Middle-BatchNorm2d [0].running_var",
                   "main.Middle-BatchNorm2d [0].num_batches_tracked", "main.Middle-BatchNorm2d [1].running_mean",
                   "main.Middle-BatchNorm2d [1].running_var", "main.Middle-BatchNorm2d [1].num_batches_tracked"}));
  EXPECT_EQ(st.file_dtype.at("main.Middle-BatchNorm2d [0].num_batches_tracked"), "I64");
  EXPECT_EQ(st.file_dtype.at("main.Start-Conv2d.weight"), "F32");
  EXPECT_EQ(shape_str(st.at("main.Middle-BatchNorm2d [0].num_batches_tracked").shape()), "[]");
  EXPECT_EQ(shape_str(st.at("main.Start-Conv2d.weight").shape()), "[8, 3, 4, 4]");
  EXPECT_EQ(shape_str(st.at("main.Middle-Conv2d [1].weight").shape()), "[32, 16, 4, 4]");
  EXPECT_EQ(shape_str(st.at("main.End-Conv2d.weight").shape()), "[1, 32, 4, 4]");
  // Activations are modules without state: 2 + 3 * 2 + 1 children in main.
  ASSERT_EQ(d->children().size(), 1u);
  EXPECT_EQ(d->children()[0].first, "main");
  EXPECT_EQ(d->children()[0].second->children().size(), 9u);
}

TEST(Modules, DcganGeneratorStateNamesWithBatchNorm) {
  Generator g(1);
  auto gen = nn::make_generator(dcgan(32, 8), g);
  // mult = 4: Start (4x4), Middle [1] (8x8), Middle [2] (16x16), End (32x32).
  const Names expected = cat({{"main.Start-ConvTranspose2d.weight"},
                              bn("main.Start-BatchNorm2d"),
                              {"main.Middle-ConvTranspose2d [1].weight"},
                              bn("main.Middle-BatchNorm2d [1]"),
                              {"main.Middle-ConvTranspose2d [2].weight"},
                              bn("main.Middle-BatchNorm2d [2]"),
                              {"main.End-ConvTranspose2d.weight"}});
  const SafeTensors st = gen->state_dict();
  EXPECT_EQ(st.names, expected);
  EXPECT_EQ(shape_str(st.at("main.Start-ConvTranspose2d.weight").shape()), "[16, 32, 4, 4]");  // [in, out, k, k]
  EXPECT_EQ(shape_str(st.at("main.Middle-BatchNorm2d [2].running_var").shape()), "[8]");
  EXPECT_EQ(shape_str(st.at("main.End-ConvTranspose2d.weight").shape()), "[8, 3, 4, 4]");
}

TEST(Modules, DcganWithoutBatchNormHasOnlyConvolutions) {
  Generator g(1);
  NetConfig c = dcgan(64, 4);
  c.batch_norm_G = c.batch_norm_D = false;
  EXPECT_EQ(nn::make_generator(c, g)->state_dict().names,
            (Names{"main.Start-ConvTranspose2d.weight", "main.Middle-ConvTranspose2d [1].weight",
                   "main.Middle-ConvTranspose2d [2].weight", "main.Middle-ConvTranspose2d [3].weight",
                   "main.End-ConvTranspose2d.weight"}));
  EXPECT_EQ(nn::make_discriminator(c, g)->state_dict().names,
            (Names{"main.Start-Conv2d.weight", "main.Middle-Conv2d [0].weight", "main.Middle-Conv2d [1].weight",
                   "main.Middle-Conv2d [2].weight", "main.End-Conv2d.weight"}));
}

TEST(Modules, SpectralDcganNamesAndShapes) {
  Generator g(1);
  NetConfig c = dcgan(32, 8);
  c.spectral_G = c.spectral_D = true;  // also removes BatchNorm even though batch_norm_* is true
  auto sn = [](const std::string& m) { return Names{m + ".weight_orig", m + ".weight_u", m + ".weight_v"}; };
  const SafeTensors sd = nn::make_discriminator(c, g)->state_dict();
  EXPECT_EQ(sd.names, cat({sn("main.Start-SpectralConv2d"), sn("main.Middle-SpectralConv2d [0]"),
                           sn("main.Middle-SpectralConv2d [1]"), sn("main.End-SpectralConv2d")}));
  // Conv2d: dim 0. Start weight [8, 3, 4, 4]: u [8], v [48].
  EXPECT_EQ(shape_str(sd.at("main.Start-SpectralConv2d.weight_u").shape()), "[8]");
  EXPECT_EQ(shape_str(sd.at("main.Start-SpectralConv2d.weight_v").shape()), "[48]");
  const SafeTensors sg = nn::make_generator(c, g)->state_dict();
  EXPECT_EQ(sg.names, cat({sn("main.Start-SpectralConvTranspose2d"), sn("main.Middle-SpectralConvTranspose2d [1]"),
                           sn("main.Middle-SpectralConvTranspose2d [2]"), sn("main.End-SpectralConvTranspose2d")}));
  // ConvTranspose2d: dim 1. Start weight [16, 32, 4, 4]: u [32], v [16 * 16].
  EXPECT_EQ(shape_str(sg.at("main.Start-SpectralConvTranspose2d.weight_u").shape()), "[32]");
  EXPECT_EQ(shape_str(sg.at("main.Start-SpectralConvTranspose2d.weight_v").shape()), "[256]");
  // u and v start as unit vectors.
  for (const std::string& n : sg.names)
    if (n.ends_with("_u") || n.ends_with("_v")) {
      EXPECT_NEAR(std::sqrt(sum(square(sg.at(n))).item()), 1.0, 1e-5) << n;
    }
}

TEST(Modules, LayerParameterOrderPlainAndSpectral) {
  EXPECT_EQ(nn::Linear(3, 2, true).state_dict().names, (Names{"weight", "bias"}));
  // torch.nn.utils.spectral_norm re-registers the weight after the bias.
  EXPECT_EQ(nn::Linear(3, 2, true, true).state_dict().names, (Names{"bias", "weight_orig", "weight_u", "weight_v"}));
  EXPECT_EQ(nn::Conv2d(3, 2, 3, 1, 1, true, true).state_dict().names,
            (Names{"bias", "weight_orig", "weight_u", "weight_v"}));
  nn::ConvTranspose2d t(3, 5, 4, 2, 1, true, true);
  EXPECT_EQ(shape_str(t.weight().shape()), "[3, 5, 4, 4]");
  EXPECT_EQ(shape_str(t.bias().shape()), "[5]");
  EXPECT_EQ(shape_str(t.weight_u().shape()), "[5]");
  EXPECT_EQ(shape_str(t.weight_v().shape()), "[48]");
  EXPECT_EQ(nn::Conv2d(3, 2, 3, 1, 1, false).state_dict().names, (Names{"weight"}));
}

TEST(Modules, StandardCnnNamesWithAndWithoutBatchNorm) {
  Generator g(1);
  NetConfig c = cnn();
  // Blocks of conv (model.3i), BatchNorm (model.3i+1) and activation, then a last conv.
  auto blocks = [](int k) {
    Names out{"dense.weight", "dense.bias"};
    for (int i = 0; i < k; ++i) {
      const std::string conv = "model." + std::to_string(3 * i);
      out = cat({out, {conv + ".weight", conv + ".bias"}, bn("model." + std::to_string(3 * i + 1))});
    }
    const std::string last = "model." + std::to_string(3 * k);
    return cat({out, {last + ".weight", last + ".bias"}});
  };
  // G: ConvT, BN, ReLU x3, then Conv, Tanh: the last conv is model.9.
  EXPECT_EQ(nn::make_generator(c, g)->state_dict().names, blocks(3));
  // D: Conv, BN, act x6, then Conv, act (no BN after the last conv): the last conv is model.18.
  EXPECT_EQ(nn::make_discriminator(c, g)->state_dict().names, blocks(6));
  c.batch_norm_G = c.batch_norm_D = false;
  EXPECT_EQ(nn::make_generator(c, g)->state_dict().names,
            (Names{"dense.weight", "dense.bias", "model.0.weight", "model.0.bias", "model.2.weight", "model.2.bias",
                   "model.4.weight", "model.4.bias", "model.6.weight", "model.6.bias"}));
  Names d_names{"dense.weight", "dense.bias"};
  for (int i = 0; i <= 12; i += 2)
    for (const char* p : {".weight", ".bias"}) d_names.push_back("model." + std::to_string(i) + p);
  EXPECT_EQ(nn::make_discriminator(c, g)->state_dict().names, d_names);
}

TEST(Modules, StandardCnnSpectralNames) {
  Generator g(1);
  NetConfig c = cnn();
  c.spectral_G = c.spectral_D = true;
  auto sn = [](int i) {
    const std::string m = "model." + std::to_string(i);
    return Names{m + ".bias", m + ".weight_orig", m + ".weight_u", m + ".weight_v"};
  };
  // The dense layers are not spectral; no BatchNorm.
  EXPECT_EQ(nn::make_generator(c, g)->state_dict().names,
            cat({{"dense.weight", "dense.bias"}, sn(0), sn(2), sn(4), sn(6)}));
  EXPECT_EQ(nn::make_discriminator(c, g)->state_dict().names,
            cat({{"dense.weight", "dense.bias"}, sn(0), sn(2), sn(4), sn(6), sn(8), sn(10), sn(12)}));
}

// ---- parameter counts ----------------------------------------------------------------------

TEST(Modules, ParameterCountsFromLayerShapes) {
  Generator g(1);
  NetConfig c = dcgan(32, 128);
  c.z_size = 128;
  // D: conv 3->128, conv 128->256 + BN(256), conv 256->512 + BN(512), conv 512->1; all 4x4, no bias.
  EXPECT_EQ(nn::make_discriminator(c, g)->parameter_count(),
            3 * 128 * 16 + 128 * 256 * 16 + 2 * 256 + 256 * 512 * 16 + 2 * 512 + 512 * 16);
  // G: convT 128->512 + BN(512), 512->256 + BN(256), 256->128 + BN(128), 128->3.
  EXPECT_EQ(nn::make_generator(c, g)->parameter_count(),
            128 * 512 * 16 + 2 * 512 + 512 * 256 * 16 + 2 * 256 + 256 * 128 * 16 + 2 * 128 + 128 * 3 * 16);
  // Spectral: same parameters (weight_orig), minus BatchNorm; u and v are buffers.
  c.spectral_D = true;
  EXPECT_EQ(nn::make_discriminator(c, g)->parameter_count(), 3 * 128 * 16 + 128 * 256 * 16 + 256 * 512 * 16 + 512 * 16);
  // Standard CNN G without BN: dense 128 -> 8192 with bias, three 4x4 convT, one 3x3 conv, all biased.
  NetConfig s = cnn();
  s.z_size = 128;
  s.batch_norm_G = false;
  EXPECT_EQ(nn::make_generator(s, g)->parameter_count(),
            128 * 8192 + 8192 + 512 * 256 * 16 + 256 + 256 * 128 * 16 + 128 + 128 * 64 * 16 + 64 + 64 * 3 * 9 + 3);
}

// ---- initialisation ------------------------------------------------------------------------

struct Stats {
  double mean = 0, std = 0, maxabs = 0;
  int64_t n = 0;
};
Stats stats(const Tensor& t) {
  Stats s;
  const auto v = t.to_vector();
  s.n = int64_t(v.size());
  for (double x : v) s.mean += x, s.maxabs = std::max(s.maxabs, std::fabs(x));
  s.mean /= double(s.n);
  for (double x : v) s.std += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(s.std / double(s.n - 1));
  return s;
}

// N(mu, sigma) sample of n: the mean is within 6 sigma/sqrt(n) and the standard deviation within
// 6 sigma/sqrt(2n) (its standard error for a normal sample) with overwhelming probability.
void expect_normal(const Tensor& t, double mu, double sigma, const std::string& what) {
  const Stats s = stats(t);
  ASSERT_GE(s.n, 50) << what;
  EXPECT_NEAR(s.mean, mu, 6 * sigma / std::sqrt(double(s.n))) << what;
  EXPECT_NEAR(s.std, sigma, 6 * sigma / std::sqrt(2.0 * double(s.n))) << what;
}

TEST(Modules, DcganInitialisationStatistics) {
  Generator g(7);
  NetConfig c = dcgan(32, 32);
  for (bool spectral : {false, true}) {
    c.spectral_D = spectral;
    auto d = nn::make_discriminator(c, g);
    for (const auto& [n, t] : d->named_parameters()) {
      if (n.ends_with("weight") && n.find("BatchNorm") != std::string::npos)
        expect_normal(t, 1.0, 0.02, n);
      else if (n.ends_with(".bias"))
        EXPECT_EQ(stats(t).maxabs, 0.0) << n;
      else
        expect_normal(t, 0.0, 0.02, n);  // conv weights, weight_orig when spectral
    }
    for (const auto& [n, t] : d->named_buffers()) {
      const Stats s = stats(t);
      if (n.ends_with("running_var")) {
        EXPECT_EQ(s.mean, 1.0) << n;
        EXPECT_EQ(s.std, 0.0) << n;
      } else if (n.ends_with("running_mean") || n.ends_with("num_batches_tracked")) {
        EXPECT_EQ(s.maxabs, 0.0) << n;
      } else {  // spectral u and v: unit vectors
        EXPECT_NEAR(std::sqrt(sum(square(t)).item()), 1.0, 1e-5) << n;
      }
    }
  }
}

TEST(Modules, PytorchDefaultsForLinearAndConvBiases) {
  Generator g(3);
  auto gen = nn::make_generator(cnn(), g);
  const SafeTensors st = gen->state_dict();
  // Linear 16 -> 8192: weight and bias ~ U(-1/sqrt(16), 1/sqrt(16)) = U(-0.25, 0.25), not N(0, 0.02).
  for (const char* n : {"dense.weight", "dense.bias"}) {
    const Stats s = stats(st.at(n));
    EXPECT_LE(s.maxabs, 0.25) << n;
    EXPECT_GT(s.maxabs, 0.24) << n;
    EXPECT_NEAR(s.std, 0.25 / std::sqrt(3.0), 0.01) << n;
  }
  // ConvTranspose2d(512, 256, 4) bias: fan_in = weight.size(1) * 16 = 4096, bound 1/64. With fan_in
  // from the input channels (8192) the bound would be 0.011; 256 draws all below it have
  // probability 0.71^256 under the right rule.
  const Stats b0 = stats(st.at("model.0.bias"));
  EXPECT_LE(b0.maxabs, 1.0 / 64);
  EXPECT_GT(b0.maxabs, 1.0 / std::sqrt(8192.0));
  // Conv2d(64, 3, 3) bias: fan_in 64 * 9, bound 1/24.
  EXPECT_LE(stats(st.at("model.9.bias")).maxabs, 1.0 / 24);
  // ConvTranspose weights follow weights_init, not the default.
  expect_normal(st.at("model.0.weight"), 0.0, 0.02, "model.0.weight");
}

TEST(Modules, InitialisationIsReproducibleFromTheSeed) {
  NetConfig c = dcgan(32, 8);
  c.spectral_D = true;
  Generator g1(42), g2(42), g3(43);
  const SafeTensors a = nn::make_discriminator(c, g1)->state_dict();
  const SafeTensors b = nn::make_discriminator(c, g2)->state_dict();
  const SafeTensors d = nn::make_discriminator(c, g3)->state_dict();
  for (const std::string& n : a.names) {
    EXPECT_EQ(a.at(n).to_vector(), b.at(n).to_vector()) << n;
    // (The End layer's u has one element, +-1 whatever the seed.)
    if (a.at(n).numel() > 1) {
      EXPECT_NE(a.at(n).to_vector(), d.at(n).to_vector()) << n;
    }
  }
}

// ---- state_dict round trips and load errors ------------------------------------------------

void expect_same_state(const nn::Module& a, const nn::Module& b) {
  const SafeTensors sa = a.state_dict(), sb = b.state_dict();
  ASSERT_EQ(sa.names, sb.names);
  for (const std::string& n : sa.names) {
    EXPECT_EQ(sa.at(n).dtype(), sb.at(n).dtype()) << n;
    EXPECT_EQ(sa.at(n).to_vector(), sb.at(n).to_vector()) << n;
  }
}

TEST(Modules, StateDictRoundTripThroughAFile) {
  const auto dir = test::temp_dir("modules");
  NetConfig plain = dcgan(32, 8), spectral = dcgan(32, 8), standard = cnn();
  spectral.spectral_D = spectral.spectral_G = true;
  int k = 0;
  for (const NetConfig& c : {plain, spectral, standard}) {
    for (bool is_d : {true, false}) {
      Generator g1(1), g2(2);
      auto make = [&](Generator& g) { return is_d ? nn::make_discriminator(c, g) : nn::make_generator(c, g); };
      auto a = make(g1), b = make(g2);
      {  // counters and statistics that differ from their initial values
        NoGradGuard ng;
        for (auto [n, t] : a->named_buffers())
          if (n.ends_with("num_batches_tracked"))
            t.fill_(12345);
          else if (n.ends_with("running_mean"))
            t.fill_(0.25);
      }
      const std::vector<Tensor> handles = b->parameters();
      const std::string path = (dir / ("m" + std::to_string(k++) + ".safetensors")).string();
      save_safetensors(path, a->state_dict());
      b->load_state_dict(load_safetensors(path));
      expect_same_state(*a, *b);
      // Values were copied into the existing tensors: optimisers built earlier still see them.
      const std::vector<Tensor> after = b->parameters();
      ASSERT_EQ(handles.size(), after.size());
      for (size_t i = 0; i < handles.size(); ++i) {
        EXPECT_EQ(handles[i].impl(), after[i].impl());
        EXPECT_TRUE(after[i].requires_grad() && after[i].is_leaf());
      }
    }
  }
  std::filesystem::remove_all(dir);
}

TEST(Modules, LoadConvertsTheFileDtypeAndHonoursThePrefix) {
  Generator g1(1), g2(2);
  auto a = nn::make_discriminator(dcgan(16, 4), g1), b = nn::make_discriminator(dcgan(16, 4), g2);
  a->to(DType::F64);
  SafeTensors st = a->state_dict("D.");
  EXPECT_EQ(st.names.front(), "D.main.Start-Conv2d.weight");
  st.add("G.main.other", zeros({2}));  // another model's entries in the same file are not ours
  b->load_state_dict(st, "D.");
  EXPECT_EQ(b->parameters()[0].dtype(), DType::F32);
  a->to(DType::F32);
  expect_same_state(*a, *b);
}

TEST(Modules, LoadErrorsNameTheKeyAndChangeNothing) {
  Generator g1(1), g2(2);
  NetConfig c = dcgan(16, 4);
  auto a = nn::make_discriminator(c, g1), b = nn::make_discriminator(c, g2);
  const SafeTensors before = b->state_dict();
  auto unchanged = [&] {
    const SafeTensors now = b->state_dict();
    for (const std::string& n : before.names) EXPECT_EQ(before.at(n).to_vector(), now.at(n).to_vector()) << n;
  };

  SafeTensors missing = a->state_dict();
  const std::string key = "main.Middle-BatchNorm2d [0].running_var";
  missing.tensors.erase(key);
  missing.names.erase(std::find(missing.names.begin(), missing.names.end(), key));
  std::string msg = test::error_of([&] { b->load_state_dict(missing); });
  EXPECT_NE(msg.find("missing key 'main.Middle-BatchNorm2d [0].running_var'"), std::string::npos) << msg;
  unchanged();

  SafeTensors extra = a->state_dict();
  extra.add("main.Middle-Conv2d [7].weight", zeros({1}));
  msg = test::error_of([&] { b->load_state_dict(extra); });
  EXPECT_NE(msg.find("unexpected key 'main.Middle-Conv2d [7].weight'"), std::string::npos) << msg;
  unchanged();
  b->load_state_dict(extra, "", /*strict=*/false);  // allowed when not strict
  expect_same_state(*a, *b);

  SafeTensors wrong = b->state_dict();
  wrong.tensors["main.End-Conv2d.weight"] = zeros({1, 8, 3, 3});
  msg = test::error_of([&] { a->load_state_dict(wrong); });
  EXPECT_NE(msg.find("'main.End-Conv2d.weight'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[1, 8, 3, 3]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[1, 8, 4, 4]"), std::string::npos) << msg;
}

// ---- modes, dtypes, registration -----------------------------------------------------------

void expect_mode(const nn::Module& m, bool training) {
  EXPECT_EQ(m.is_training(), training);
  for (const auto& [n, c] : m.children()) expect_mode(*c, training);
}

TEST(Modules, TrainAndEvalReachEveryDescendant) {
  Generator g(1);
  auto d = nn::make_discriminator(cnn(), g);
  expect_mode(*d, true);  // PyTorch modules start in training mode
  d->eval();
  expect_mode(*d, false);
  d->train();
  expect_mode(*d, true);
  d->train(false);
  expect_mode(*d, false);
}

TEST(Modules, ToConvertsEveryParameterAndBuffer) {
  Generator g(1);
  NetConfig c = dcgan(16, 4);
  c.spectral_G = true;
  for (auto m : {nn::make_discriminator(c, g), nn::make_generator(c, g)}) {
    const SafeTensors before = m->state_dict();
    m->parameters()[0].requires_grad_(false);  // a frozen parameter stays frozen
    m->to(DType::F64);
    for (const auto& [n, t] : m->named_parameters()) {
      EXPECT_EQ(t.dtype(), DType::F64) << n;
      EXPECT_TRUE(t.is_leaf()) << n;
      EXPECT_EQ(t.requires_grad(), n != m->named_parameters()[0].first) << n;
    }
    for (const auto& [n, t] : m->named_buffers()) {
      EXPECT_EQ(t.dtype(), DType::F64) << n;
      EXPECT_FALSE(t.requires_grad()) << n;
    }
    const SafeTensors after = m->state_dict();
    for (const std::string& n : before.names) EXPECT_EQ(before.at(n).to_vector(), after.at(n).to_vector()) << n;
    for (const std::string& n : after.names)
      if (n.ends_with("num_batches_tracked")) {
        EXPECT_EQ(after.file_dtype.at(n), "I64") << n;
      }
  }
}

TEST(Modules, RegistrationRejectsBadAndDuplicateNames) {
  nn::Sequential s;
  s.add("a", std::make_shared<nn::ReLU>());
  EXPECT_THROW(s.add("a", std::make_shared<nn::Tanh>()), Error);
  EXPECT_THROW(s.add("b.c", std::make_shared<nn::Tanh>()), Error);
  EXPECT_THROW(s.add("", std::make_shared<nn::Tanh>()), Error);
  EXPECT_EQ(s.size(), 1u);
}

TEST(Modules, ImpossibleConfigsNameTheField) {
  Generator g(1);
  NetConfig c = dcgan(24, 8);
  EXPECT_NE(test::error_of([&] { nn::make_generator(c, g); }).find("image_size"), std::string::npos);
  c.image_size = 8;
  EXPECT_NE(test::error_of([&] { nn::make_discriminator(c, g); }).find("image_size"), std::string::npos);
  NetConfig s = cnn();
  s.image_size = 64;
  EXPECT_NE(test::error_of([&] { nn::make_discriminator(s, g); }).find("image_size"), std::string::npos);
  c = dcgan(32, 8);
  c.z_size = 0;
  EXPECT_NE(test::error_of([&] { nn::make_generator(c, g); }).find("z_size"), std::string::npos);
  c = dcgan(32, 8);
  c.D_h_size = 0;
  EXPECT_NE(test::error_of([&] { nn::make_discriminator(c, g); }).find("D_h_size"), std::string::npos);
}

// ---- forward passes ------------------------------------------------------------------------

TEST(Modules, SequentialChainsItsChildren) {
  nn::Sequential s;
  auto lin = std::dynamic_pointer_cast<nn::Linear>(s.add("0", std::make_shared<nn::Linear>(3, 2, true)));
  s.add("1", std::make_shared<nn::Tanh>());
  Generator g(5);
  const Tensor x = randn({4, 3}, g);
  const Tensor y = s(x);
  EXPECT_LT(test::rel_error(y, tanh(linear(x, lin->weight(), lin->bias()))), 1e-6);
}

TEST(Modules, DcganForwardShapes) {
  Generator g(1);
  for (int64_t size : {32, 64}) {
    NetConfig c = dcgan(size, 8);
    auto G = nn::make_generator(c, g);
    auto D = nn::make_discriminator(c, g);
    const Tensor z = randn({2, c.z_size}, g);
    const Tensor x = (*G)(z);
    EXPECT_EQ(shape_str(x.shape()), shape_str({2, 3, size, size}));
    EXPECT_LE(stats(x).maxabs, 1.0);
    EXPECT_EQ(shape_str((*G)(z.reshape({2, c.z_size, 1, 1})).shape()), shape_str({2, 3, size, size}));
    const Tensor y = (*D)(x);
    EXPECT_EQ(shape_str(y.shape()), "[2]");
    // Gradients reach every parameter of both networks.
    sum(y).backward();
    for (auto* m : {G.get(), D.get()})
      for (const auto& [n, p] : m->named_parameters()) {
        ASSERT_TRUE(p.grad().defined()) << n;
        EXPECT_EQ(p.grad().shape(), p.shape()) << n;
      }
    EXPECT_THROW((*D)(zeros({2, 3, size / 2, size / 2})), Error);
    EXPECT_THROW((*G)(zeros({2, c.z_size + 1})), Error);
  }
}

TEST(Modules, StandardCnnForwardShapes) {
  Generator g(1);
  NetConfig c = cnn();
  for (bool spectral : {false, true}) {
    c.spectral_G = c.spectral_D = spectral;
    auto G = nn::make_generator(c, g);
    auto D = nn::make_discriminator(c, g);
    const Tensor x = (*G)(randn({2, c.z_size, 1, 1}, g));
    EXPECT_EQ(shape_str(x.shape()), "[2, 3, 32, 32]");
    EXPECT_EQ(shape_str((*D)(x).shape()), "[2]");
  }
}

TEST(Modules, BatchNormCountsTrainingBatchesOnly) {
  Generator g(1);
  auto D = nn::make_discriminator(dcgan(16, 4), g);
  const Tensor x = randn({3, 3, 16, 16}, g);
  const std::string key = "main.Middle-BatchNorm2d [0].num_batches_tracked";
  (*D)(x);
  (*D)(x);
  EXPECT_EQ(D->state_dict().at(key).item(), 2.0);
  const Tensor rm = D->state_dict().at("main.Middle-BatchNorm2d [0].running_mean");
  EXPECT_GT(stats(rm).maxabs, 0.0);  // the running statistics moved
  D->eval();
  const Tensor y1 = (*D)(x), y2 = (*D)(x.reshape({3, 3, 16, 16}));
  EXPECT_EQ(D->state_dict().at(key).item(), 2.0);
  EXPECT_EQ(y1.to_vector(), y2.to_vector());
  // In eval mode a sample's output does not depend on the rest of the batch.
  const Tensor one = (*D)(slice(x, 0, 0, 1));
  EXPECT_NEAR(one.item(), y1.to_vector()[0], 1e-5);
}

TEST(Modules, SpectralPowerIterationRunsOnlyInTraining) {
  Generator g(1);
  NetConfig c = dcgan(16, 4);
  c.spectral_D = true;
  auto D = nn::make_discriminator(c, g);
  auto* conv = dynamic_cast<nn::Conv2d*>(D->children()[0].second->children()[0].second.get());
  ASSERT_NE(conv, nullptr);
  const Tensor x = randn({2, 3, 16, 16}, g);
  const auto u0 = conv->weight_u().to_vector();
  (*D)(x);
  const auto u1 = conv->weight_u().to_vector();
  EXPECT_NE(u0, u1);
  D->eval();
  const Tensor y1 = (*D)(x), y2 = (*D)(x);
  EXPECT_EQ(conv->weight_u().to_vector(), u1);
  EXPECT_EQ(y1.to_vector(), y2.to_vector());
  // After many iterations sigma is the top singular value, so the normalised weight's is 1 (found
  // here by an independent power iteration on W^T W, in float64).
  D->train();
  for (int i = 0; i < 50; ++i) (*D)(x);
  D->eval();
  const Tensor w = conv->effective_weight().detach().reshape({conv->out_channels, -1}).to(DType::F64);
  Tensor r = randn({w.size(1), 1}, g, DType::F64);
  double top = 0;
  for (int i = 0; i < 300; ++i) {
    const Tensor s = matmul(w.t(), matmul(w, r));
    top = std::sqrt(sum(square(s)).item() / sum(square(r)).item());
    r = s / std::sqrt(sum(square(s)).item());
  }
  EXPECT_NEAR(std::sqrt(top), 1.0, 1e-3);
}

}  // namespace
}  // namespace mmgan
