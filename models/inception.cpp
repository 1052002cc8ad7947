// The FID Inception-v3 (see inception.h): torchvision's block structure with pytorch-fid's
// changes, each block's branches concatenated in torchvision's order.
#include "models/inception.h"

#include <cmath>
#include <vector>

#include "engine/autograd/grad_mode.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "engine/random.h"
#include "engine/safetensors.h"
#include "models/layers.h"

namespace mmgan::nn {

namespace {

// torchvision's BasicConv2d: conv (no bias) -> BatchNorm (eps 0.001) -> ReLU.
class BasicConv2d : public Module {
 public:
  BasicConv2d(int64_t in, int64_t out, int64_t kh, int64_t kw, ConvParams p, DType t) {
    conv_ = register_module("conv", std::make_shared<Conv2d>(in, out, kh, kw, p, false, t));
    bn_ = register_module("bn", std::make_shared<BatchNorm2d>(out, 0.1, 1e-3, t));
  }
  BasicConv2d(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad, DType t)
      : BasicConv2d(in, out, k, k, ConvParams(stride, pad), t) {}

  Tensor forward(const Tensor& x) override {
    if (is_training()) return relu(bn_->forward(conv_->forward(x)));
    // Eval: BatchNorm is an affine map per channel, folded into the conv's weight and bias, so the
    // activations are written once instead of three times.
    const Tensor scale = bn_->weight() / sqrt(bn_->running_var() + bn_->eps);
    const Tensor w = conv_->weight() * scale.reshape({-1, 1, 1, 1});
    const Tensor b = bn_->bias() - bn_->running_mean() * scale;
    return relu(conv2d(x, w, b, conv_->params));
  }

 private:
  std::shared_ptr<Conv2d> conv_;
  std::shared_ptr<BatchNorm2d> bn_;
};

using Branch = std::shared_ptr<BasicConv2d>;

// The shared shape of every block: named conv layers registered in order, and a forward that
// concatenates branch outputs along the channels.
class Block : public Module {
 protected:
  Branch conv(const std::string& name, int64_t in, int64_t out, int64_t k, int64_t stride = 1, int64_t pad = 0) {
    return register_module(name, std::make_shared<BasicConv2d>(in, out, k, stride, pad, dtype_));
  }
  // 1x7 / 7x1 style kernels, padded to keep the size.
  Branch conv_rect(const std::string& name, int64_t in, int64_t out, int64_t kh, int64_t kw) {
    return register_module(name,
                           std::make_shared<BasicConv2d>(in, out, kh, kw, ConvParams(1, 1, kh / 2, kw / 2), dtype_));
  }
  explicit Block(DType t) : dtype_(t) {}
  DType dtype_;
};

// TensorFlow's 3x3 average pool: padded zeros are not counted.
Tensor tf_avg_pool(const Tensor& x) { return avg_pool2d(x, PoolParams(3, 1, 1), /*count_include_pad=*/false); }

// Mixed_5b/c/d (35x35).
class InceptionA : public Block {
 public:
  InceptionA(int64_t in, int64_t pool_features, DType t) : Block(t) {
    b1_ = conv("branch1x1", in, 64, 1);
    b5_1_ = conv("branch5x5_1", in, 48, 1);
    b5_2_ = conv("branch5x5_2", 48, 64, 5, 1, 2);
    d1_ = conv("branch3x3dbl_1", in, 64, 1);
    d2_ = conv("branch3x3dbl_2", 64, 96, 3, 1, 1);
    d3_ = conv("branch3x3dbl_3", 96, 96, 3, 1, 1);
    pool_ = conv("branch_pool", in, pool_features, 1);
  }
  Tensor forward(const Tensor& x) override {
    return concat({(*b1_)(x), (*b5_2_)((*b5_1_)(x)), (*d3_)((*d2_)((*d1_)(x))), (*pool_)(tf_avg_pool(x))}, 1);
  }

 private:
  Branch b1_, b5_1_, b5_2_, d1_, d2_, d3_, pool_;
};

// Mixed_6a (35x35 -> 17x17).
class InceptionB : public Block {
 public:
  explicit InceptionB(int64_t in, DType t) : Block(t) {
    b3_ = conv("branch3x3", in, 384, 3, 2);
    d1_ = conv("branch3x3dbl_1", in, 64, 1);
    d2_ = conv("branch3x3dbl_2", 64, 96, 3, 1, 1);
    d3_ = conv("branch3x3dbl_3", 96, 96, 3, 2);
  }
  Tensor forward(const Tensor& x) override {
    return concat({(*b3_)(x), (*d3_)((*d2_)((*d1_)(x))), max_pool2d(x, PoolParams(3, 2))}, 1);
  }

 private:
  Branch b3_, d1_, d2_, d3_;
};

// Mixed_6b..e (17x17), factorised 7x7 convolutions.
class InceptionC : public Block {
 public:
  InceptionC(int64_t in, int64_t c7, DType t) : Block(t) {
    b1_ = conv("branch1x1", in, 192, 1);
    s1_ = conv("branch7x7_1", in, c7, 1);
    s2_ = conv_rect("branch7x7_2", c7, c7, 1, 7);
    s3_ = conv_rect("branch7x7_3", c7, 192, 7, 1);
    d1_ = conv("branch7x7dbl_1", in, c7, 1);
    d2_ = conv_rect("branch7x7dbl_2", c7, c7, 7, 1);
    d3_ = conv_rect("branch7x7dbl_3", c7, c7, 1, 7);
    d4_ = conv_rect("branch7x7dbl_4", c7, c7, 7, 1);
    d5_ = conv_rect("branch7x7dbl_5", c7, 192, 1, 7);
    pool_ = conv("branch_pool", in, 192, 1);
  }
  Tensor forward(const Tensor& x) override {
    const Tensor s = (*s3_)((*s2_)((*s1_)(x)));
    const Tensor d = (*d5_)((*d4_)((*d3_)((*d2_)((*d1_)(x)))));
    return concat({(*b1_)(x), s, d, (*pool_)(tf_avg_pool(x))}, 1);
  }

 private:
  Branch b1_, s1_, s2_, s3_, d1_, d2_, d3_, d4_, d5_, pool_;
};

// Mixed_7a (17x17 -> 8x8).
class InceptionD : public Block {
 public:
  explicit InceptionD(int64_t in, DType t) : Block(t) {
    b1_ = conv("branch3x3_1", in, 192, 1);
    b2_ = conv("branch3x3_2", 192, 320, 3, 2);
    s1_ = conv("branch7x7x3_1", in, 192, 1);
    s2_ = conv_rect("branch7x7x3_2", 192, 192, 1, 7);
    s3_ = conv_rect("branch7x7x3_3", 192, 192, 7, 1);
    s4_ = conv("branch7x7x3_4", 192, 192, 3, 2);
  }
  Tensor forward(const Tensor& x) override {
    return concat({(*b2_)((*b1_)(x)), (*s4_)((*s3_)((*s2_)((*s1_)(x)))), max_pool2d(x, PoolParams(3, 2))}, 1);
  }

 private:
  Branch b1_, b2_, s1_, s2_, s3_, s4_;
};

// Mixed_7b/c (8x8), expanded filter banks. The FID graph pools Mixed_7b's pool branch with a
// count_include_pad=false average and Mixed_7c's with a 3x3 max.
class InceptionE : public Block {
 public:
  InceptionE(int64_t in, bool max_pool_branch, DType t) : Block(t), max_pool_branch_(max_pool_branch) {
    b1_ = conv("branch1x1", in, 320, 1);
    t1_ = conv("branch3x3_1", in, 384, 1);
    t2a_ = conv_rect("branch3x3_2a", 384, 384, 1, 3);
    t2b_ = conv_rect("branch3x3_2b", 384, 384, 3, 1);
    d1_ = conv("branch3x3dbl_1", in, 448, 1);
    d2_ = conv("branch3x3dbl_2", 448, 384, 3, 1, 1);
    d3a_ = conv_rect("branch3x3dbl_3a", 384, 384, 1, 3);
    d3b_ = conv_rect("branch3x3dbl_3b", 384, 384, 3, 1);
    pool_ = conv("branch_pool", in, 192, 1);
  }
  Tensor forward(const Tensor& x) override {
    const Tensor t = (*t1_)(x), d = (*d2_)((*d1_)(x));
    const Tensor pooled = max_pool_branch_ ? max_pool2d(x, PoolParams(3, 1, 1)) : tf_avg_pool(x);
    return concat({(*b1_)(x), (*t2a_)(t), (*t2b_)(t), (*d3a_)(d), (*d3b_)(d), (*pool_)(pooled)}, 1);
  }

 private:
  bool max_pool_branch_;
  Branch b1_, t1_, t2a_, t2b_, d1_, d2_, d3a_, d3b_, pool_;
};

}  // namespace

InceptionV3Fid::InceptionV3Fid(DType t) {
  auto conv = [&](const std::string& name, int64_t in, int64_t out, int64_t k, int64_t stride = 1, int64_t pad = 0) {
    return register_module(name, std::make_shared<BasicConv2d>(in, out, k, stride, pad, t));
  };
  conv("Conv2d_1a_3x3", 3, 32, 3, 2);
  conv("Conv2d_2a_3x3", 32, 32, 3);
  conv("Conv2d_2b_3x3", 32, 64, 3, 1, 1);
  conv("Conv2d_3b_1x1", 64, 80, 1);
  conv("Conv2d_4a_3x3", 80, 192, 3);
  register_module("Mixed_5b", std::make_shared<InceptionA>(192, 32, t));
  register_module("Mixed_5c", std::make_shared<InceptionA>(256, 64, t));
  register_module("Mixed_5d", std::make_shared<InceptionA>(288, 64, t));
  register_module("Mixed_6a", std::make_shared<InceptionB>(288, t));
  register_module("Mixed_6b", std::make_shared<InceptionC>(768, 128, t));
  register_module("Mixed_6c", std::make_shared<InceptionC>(768, 160, t));
  register_module("Mixed_6d", std::make_shared<InceptionC>(768, 160, t));
  register_module("Mixed_6e", std::make_shared<InceptionC>(768, 192, t));
  register_module("Mixed_7a", std::make_shared<InceptionD>(768, t));
  register_module("Mixed_7b", std::make_shared<InceptionE>(1280, /*max_pool_branch=*/false, t));
  register_module("Mixed_7c", std::make_shared<InceptionE>(2048, /*max_pool_branch=*/true, t));
  eval();
}

Tensor InceptionV3Fid::forward(const Tensor& images) {
  MMGAN_CHECK(
      images.dim() == 4 && (images.size(1) == 1 || images.size(1) == 3) && images.size(2) > 0 && images.size(3) > 0,
      "InceptionV3Fid: images must be [N, 1 or 3, H, W], got ", images.str());
  Tensor x = images;
  if (x.size(1) == 1) x = concat({x, x, x}, 1);
  if (x.size(2) != kInputSize || x.size(3) != kInputSize) x = resize_bilinear(x, kInputSize, kInputSize);
  const auto& c = children();
  // Stem: three convs, max pool, two convs, max pool; then the eleven mixed blocks.
  for (size_t i = 0; i < c.size(); ++i) {
    x = c[i].second->forward(x);
    if (i == 2 || i == 4) x = max_pool2d(x, PoolParams(3, 2));
  }
  return adaptive_avg_pool2d(x, 1, 1).reshape({x.size(0), kFeatureDim});
}

void InceptionV3Fid::load_weights(const std::string& path) {
  const SafeTensors st = load_safetensors(path);
  try {
    load_state_dict(st, "", /*strict=*/false);  // the file may also hold the unused classifier, fc.*
  } catch (const std::exception& e) {
    MMGAN_FAIL("Inception weights ", path, ": ", e.what(),
               " (convert pytorch-fid's .pth with tools/convert_inception_weights.py)");
  }
}

void randomize_inception(InceptionV3Fid& net, uint64_t seed) {
  Generator g(seed);
  NoGradGuard ng;
  for (auto& [name, p] : net.named_parameters()) {
    if (p.dim() == 4) {  // conv weight: He-normal keeps the ReLU network's scale
      const double fan_in = double(p.size(1) * p.size(2) * p.size(3));
      p.normal_(0.0, std::sqrt(2.0 / fan_in), g);
    } else if (name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0) {
      p.uniform_(0.8, 1.2, g);  // BatchNorm gamma
    } else {
      p.uniform_(-0.1, 0.1, g);  // BatchNorm beta
    }
  }
  for (auto& [name, b] : net.named_buffers()) {
    if (name.find("running_mean") != std::string::npos) b.uniform_(-0.1, 0.1, g);
    if (name.find("running_var") != std::string::npos) b.uniform_(0.8, 1.2, g);
  }
}

}  // namespace mmgan::nn
