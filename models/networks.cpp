// Builders for the DCGAN and standard-CNN generators and discriminators, and their forwards.
#include "models/networks.h"

#include <cmath>
#include <string>
#include <vector>

#include "engine/checked_math.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "models/init.h"
#include "models/layers.h"

namespace mmgan::nn {

namespace {

// z as [N, z] or [N, z, 1, 1] (the official code feeds the latter).
void check_latent(const char* net, const Tensor& z, int64_t z_size) {
  const bool ok = (z.dim() == 2 && z.size(1) == z_size) ||
                  (z.dim() == 4 && z.size(1) == z_size && z.size(2) == 1 && z.size(3) == 1);
  MMGAN_CHECK(ok, net, ": z must be [N, ", z_size, "] or [N, ", z_size, ", 1, 1], got ", z.str());
}

void check_images(const char* net, const Tensor& x, int64_t colors, int64_t size) {
  MMGAN_CHECK(x.dim() == 4 && x.size(1) == colors && x.size(2) == size && x.size(3) == size, net,
              ": images must be [N, ", colors, ", ", size, ", ", size, "], got ", x.str());
}

std::string indexed(const std::string& name, int64_t i) { return name + " [" + std::to_string(i) + "]"; }

// ---- DCGAN (arch 0) ------------------------------------------------------------------------

// The convolutions of a DCGAN network in order, with the side of their output: what the builders
// below instantiate and net_size() counts, so the two never disagree.
struct ConvStep {
  std::string stage;  // "Start", "Middle" or "End"
  int64_t index;      // Middle's [ii], -1 for Start and End
  int64_t in, out, k, stride, pad, side;
};

std::vector<ConvStep> dcgan_plan(const NetConfig& c, bool generator) {
  std::vector<ConvStep> p;
  if (generator) {
    int64_t mult = c.image_size / 8, side = 4;
    p.push_back({"Start", -1, c.z_size, c.G_h_size * mult, 4, 1, 0, side});  // 1x1 -> 4x4
    // Double the size, halve the channels, up to image_size / 2.
    for (int64_t ii = 1; mult > 1; mult /= 2, ++ii)
      p.push_back({"Middle", ii, c.G_h_size * mult, c.G_h_size * (mult / 2), 4, 2, 1, side *= 2});
    p.push_back({"End", -1, c.G_h_size, c.n_colors, 4, 2, 1, side * 2});
  } else {
    p.push_back({"Start", -1, c.n_colors, c.D_h_size, 4, 2, 1, c.image_size / 2});
    // Halve the size, double the channels, down to 4x4.
    int64_t size = c.image_size / 2, mult = 1;
    for (int64_t ii = 0; size > 4; size /= 2, mult *= 2, ++ii)
      p.push_back({"Middle", ii, c.D_h_size * mult, c.D_h_size * 2 * mult, 4, 2, 1, size / 2});
    p.push_back({"End", -1, c.D_h_size * mult, 1, 4, 1, 0, 1});  // 4x4 -> 1x1
  }
  return p;
}

std::string step_name(const ConvStep& st, const std::string& what) {
  return st.index < 0 ? st.stage + "-" + what : indexed(st.stage + "-" + what, st.index);
}

class DcganGenerator : public Module {
 public:
  explicit DcganGenerator(const NetConfig& c) : z_size_(c.z_size) {
    main_ = register_module("main", std::make_shared<Sequential>());
    const bool sn = c.spectral_G, bn = c.batch_norm_G && !c.spectral_G;
    const std::string conv = sn ? "SpectralConvTranspose2d" : "ConvTranspose2d";
    for (const ConvStep& st : dcgan_plan(c, true)) {
      main_->add(step_name(st, conv),
                 std::make_shared<ConvTranspose2d>(st.in, st.out, st.k, st.stride, st.pad, false, sn, c.dtype));
      if (st.stage == "End") break;
      if (bn) main_->add(step_name(st, "BatchNorm2d"), std::make_shared<BatchNorm2d>(st.out, 0.1, 1e-5, c.dtype));
      main_->add(step_name(st, "ReLU"), std::make_shared<ReLU>());
    }
    main_->add("End-Tanh", std::make_shared<Tanh>());
  }

  Tensor forward(const Tensor& z) override {
    check_latent("DCGAN generator", z, z_size_);
    return main_->forward(z.reshape({z.size(0), z_size_, 1, 1}));
  }

 private:
  int64_t z_size_;
  std::shared_ptr<Sequential> main_;
};

class DcganDiscriminator : public Module {
 public:
  explicit DcganDiscriminator(const NetConfig& c) : n_colors_(c.n_colors), image_size_(c.image_size) {
    main_ = register_module("main", std::make_shared<Sequential>());
    const bool sn = c.spectral_D, bn = c.batch_norm_D && !c.spectral_D;
    const std::string conv = sn ? "SpectralConv2d" : "Conv2d";
    for (const ConvStep& st : dcgan_plan(c, false)) {
      main_->add(step_name(st, conv),
                 std::make_shared<Conv2d>(st.in, st.out, st.k, st.stride, st.pad, false, sn, c.dtype));
      if (st.stage == "End") break;
      // The first layer has no BatchNorm, as in the official code.
      if (bn && st.stage == "Middle")
        main_->add(step_name(st, "BatchNorm2d"), std::make_shared<BatchNorm2d>(st.out, 0.1, 1e-5, c.dtype));
      main_->add(step_name(st, "LeakyReLU"), std::make_shared<LeakyReLU>(c.leaky_slope));
    }
  }

  Tensor forward(const Tensor& x) override {
    check_images("DCGAN discriminator", x, n_colors_, image_size_);
    return main_->forward(x).reshape({-1});
  }

 private:
  int64_t n_colors_, image_size_;
  std::shared_ptr<Sequential> main_;
};

// ---- standard CNN (arch 1) -----------------------------------------------------------------

// The standard CNN's layers: G's transposed convolutions (channels in, each halving them; 4x4 stride
// 2 doubles the side from 4), D's convolutions (in, out, kernel, stride, pad; 3x3 keeps the side,
// 4x4 stride 2 halves it: 32 -> 4), then a dense layer 512 * 4 * 4 <-> the latent or the output.
constexpr int64_t kCnnGChannels[] = {512, 256, 128};
struct CnnSpec {
  int64_t in, out, k, s, p;
};
std::vector<CnnSpec> cnn_d_specs(int64_t n_colors) {
  return {{n_colors, 64, 3, 1, 1}, {64, 64, 4, 2, 1},   {64, 128, 3, 1, 1}, {128, 128, 4, 2, 1},
          {128, 256, 3, 1, 1},     {256, 256, 4, 2, 1}, {256, 512, 3, 1, 1}};
}

// Appends to a Sequential under the names "0", "1", ... as torch.nn.Sequential(*list) numbers them.
struct Numbered {
  Sequential& seq;
  void operator()(std::shared_ptr<Module> m) { seq.add(std::to_string(seq.size()), std::move(m)); }
};

class CnnGenerator : public Module {
 public:
  explicit CnnGenerator(const NetConfig& c) : z_size_(c.z_size) {
    dense_ = register_module("dense", std::make_shared<Linear>(c.z_size, 512 * 4 * 4, true, false, c.dtype));
    model_ = register_module("model", std::make_shared<Sequential>());
    const bool sn = c.spectral_G, bn = c.batch_norm_G && !c.spectral_G;
    Numbered add{*model_};
    for (int64_t ch : kCnnGChannels) {
      add(std::make_shared<ConvTranspose2d>(ch, ch / 2, 4, 2, 1, true, sn, c.dtype));
      if (bn) add(std::make_shared<BatchNorm2d>(ch / 2, 0.1, 1e-5, c.dtype));
      add(std::make_shared<ReLU>());
    }
    add(std::make_shared<Conv2d>(64, c.n_colors, 3, 1, 1, true, sn, c.dtype));
    add(std::make_shared<Tanh>());
  }

  Tensor forward(const Tensor& z) override {
    check_latent("standard CNN generator", z, z_size_);
    return model_->forward(dense_->forward(z.reshape({-1, z_size_})).reshape({-1, 512, 4, 4}));
  }

 private:
  int64_t z_size_;
  std::shared_ptr<Linear> dense_;
  std::shared_ptr<Sequential> model_;
};

class CnnDiscriminator : public Module {
 public:
  explicit CnnDiscriminator(const NetConfig& c) : n_colors_(c.n_colors) {
    dense_ = register_module("dense", std::make_shared<Linear>(512 * 4 * 4, 1, true, false, c.dtype));
    model_ = register_module("model", std::make_shared<Sequential>());
    const bool sn = c.spectral_D, bn = c.batch_norm_D && !c.spectral_D;
    Numbered add{*model_};
    const std::vector<CnnSpec> specs = cnn_d_specs(c.n_colors);
    const size_t n = specs.size();
    for (size_t i = 0; i < n; ++i) {
      const CnnSpec& s = specs[i];
      add(std::make_shared<Conv2d>(s.in, s.out, s.k, s.s, s.p, true, sn, c.dtype));
      if (bn && i + 1 < n) add(std::make_shared<BatchNorm2d>(s.out, 0.1, 1e-5, c.dtype));  // none after the last
      add(std::make_shared<LeakyReLU>(c.leaky_slope));
    }
  }

  Tensor forward(const Tensor& x) override {
    check_images("standard CNN discriminator", x, n_colors_, 32);
    return dense_->forward(model_->forward(x).reshape({-1, 512 * 4 * 4})).reshape({-1});
  }

 private:
  int64_t n_colors_;
  std::shared_ptr<Linear> dense_;
  std::shared_ptr<Sequential> model_;
};

}  // namespace

void check_config(const NetConfig& c) {
  MMGAN_CHECK(c.n_colors > 0, "NetConfig.n_colors must be positive, got ", c.n_colors);
  MMGAN_CHECK(c.z_size > 0, "NetConfig.z_size must be positive, got ", c.z_size);
  MMGAN_CHECK(std::isfinite(c.leaky_slope), "NetConfig.leaky_slope must be finite, got ", c.leaky_slope);
  MMGAN_CHECK(c.dtype == DType::F32 || c.dtype == DType::F64, "NetConfig.dtype must be float32 or float64");
  if (c.arch == Arch::DCGAN) {
    const bool pow2 = c.image_size > 0 && (c.image_size & (c.image_size - 1)) == 0;
    MMGAN_CHECK(pow2 && c.image_size >= 16,
                "NetConfig.image_size: the DCGAN architecture needs a power of two >= 16, got ", c.image_size);
    MMGAN_CHECK(c.G_h_size > 0, "NetConfig.G_h_size must be positive, got ", c.G_h_size);
    MMGAN_CHECK(c.D_h_size > 0, "NetConfig.D_h_size must be positive, got ", c.D_h_size);
  } else {
    MMGAN_CHECK(c.arch == Arch::StandardCNN, "NetConfig.arch: unknown architecture ", int(c.arch));
    MMGAN_CHECK(c.image_size == 32, "NetConfig.image_size: the standard CNN is built for 32x32 images, got ",
                c.image_size);
  }
}

NetSize net_size(const NetConfig& c, bool generator) {
  check_config(c);
  NetSize n;
  const std::string what = generator ? "the generator's size" : "the discriminator's size";
  auto add = [&](int64_t& to, std::initializer_list<int64_t> factors) {
    to = checked_add(to, checked_product(factors, what), what);
  };
  const bool bn = generator ? c.batch_norm_G && !c.spectral_G : c.batch_norm_D && !c.spectral_D;
  if (c.arch == Arch::DCGAN) {
    for (const ConvStep& st : dcgan_plan(c, generator)) {
      add(n.parameters, {st.in, st.out, st.k, st.k});
      add(n.activations, {st.out, st.side, st.side});
      if (bn && st.stage != "End" && (generator || st.stage == "Middle")) add(n.parameters, {2, st.out});
    }
  } else if (generator) {
    add(n.parameters, {c.z_size + 1, 512 * 4 * 4});
    int64_t side = 4;
    for (int64_t ch : kCnnGChannels) {
      add(n.parameters, {ch * 16 + 1, ch / 2});
      if (bn) add(n.parameters, {2, ch / 2});
      add(n.activations, {ch / 2, side *= 2, side});
    }
    add(n.parameters, {64 * 9 + 1, c.n_colors});
    add(n.activations, {c.n_colors, 32, 32});
  } else {
    int64_t side = 32;
    const std::vector<CnnSpec> specs = cnn_d_specs(c.n_colors);
    for (const CnnSpec& s : specs) {
      add(n.parameters, {s.in * s.k * s.k + 1, s.out});
      if (bn && &s != &specs.back()) add(n.parameters, {2, s.out});
      side /= s.s;
      add(n.activations, {s.out, side, side});
    }
    add(n.parameters, {512 * 4 * 4 + 1, 1});
  }
  return n;
}

std::shared_ptr<Module> make_generator(const NetConfig& cfg, Generator& gen) {
  check_config(cfg);
  std::shared_ptr<Module> g;
  if (cfg.arch == Arch::DCGAN)
    g = std::make_shared<DcganGenerator>(cfg);
  else
    g = std::make_shared<CnnGenerator>(cfg);
  init_network(*g, gen);
  return g;
}

std::shared_ptr<Module> make_discriminator(const NetConfig& cfg, Generator& gen) {
  check_config(cfg);
  std::shared_ptr<Module> d;
  if (cfg.arch == Arch::DCGAN)
    d = std::make_shared<DcganDiscriminator>(cfg);
  else
    d = std::make_shared<CnnDiscriminator>(cfg);
  init_network(*d, gen);
  return d;
}

}  // namespace mmgan::nn
