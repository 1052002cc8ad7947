// Layer construction (PyTorch layouts and registration order) and forwards.
#include "models/layers.h"

#include "engine/autograd/grad_mode.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "models/init.h"

namespace mmgan::nn {

namespace {
void check_sizes(const char* layer, std::initializer_list<int64_t> sizes) {
  for (int64_t s : sizes) MMGAN_CHECK(s > 0, layer, ": sizes must be positive, got ", s);
}
}  // namespace

void WeightedLayer::init_weight(const Shape& shape, int64_t out_dim, bool bias, bool spectral, DType t) {
  if (!spectral) {
    weight_ = &register_parameter("weight", zeros(shape, t));
    if (bias) bias_ = &register_parameter("bias", zeros({shape[out_dim]}, t));
    return;
  }
  // torch.nn.utils.spectral_norm deletes "weight" and registers "weight_orig" after the existing
  // parameters, so "bias" comes first; then the buffers u and v. torch normalises over the output
  // dimension, which is dim 1 for transposed convolutions.
  if (bias) bias_ = &register_parameter("bias", zeros({shape[out_dim]}, t));
  weight_ = &register_parameter("weight_orig", zeros(shape, t));
  sn_dim_ = out_dim;
  const int64_t h = shape[out_dim], rest = shape_numel(shape) / h;
  u_ = &register_buffer("weight_u", zeros({h}, t));
  v_ = &register_buffer("weight_v", zeros({rest}, t));
}

Tensor WeightedLayer::effective_weight() {
  if (!spectral()) return *weight_;
  return spectral_normalize(*weight_, weight_u(), weight_v(), sn_dim_, /*power_iteration=*/is_training());
}

Conv2d::Conv2d(int64_t in, int64_t out, int64_t k, int64_t stride_, int64_t pad, bool bias, bool spectral, DType t)
    : Conv2d(in, out, k, k, ConvParams(stride_, pad), bias, spectral, t) {}

Conv2d::Conv2d(int64_t in, int64_t out, int64_t kh, int64_t kw, ConvParams p, bool bias, DType t)
    : Conv2d(in, out, kh, kw, p, bias, false, t) {}

Conv2d::Conv2d(int64_t in, int64_t out, int64_t kh, int64_t kw, ConvParams p, bool bias, bool spectral, DType t)
    : in_channels(in), out_channels(out), kernel_h(kh), kernel_w(kw), params(p) {
  check_sizes("Conv2d", {in, out, kh, kw, p.stride_h, p.stride_w});
  MMGAN_CHECK(p.pad_h >= 0 && p.pad_w >= 0, "Conv2d: padding must be >= 0, got ", p.pad_h, "x", p.pad_w);
  init_weight({out, in, kh, kw}, 0, bias, spectral, t);
  Generator g(0);
  reset_layer(*this, g);
}

void Conv2d::check_input(const Tensor& x) const {
  MMGAN_CHECK(x.dim() == 4 && x.size(1) == in_channels, "Conv2d: input must be [N, ", in_channels, ", H, W], got ",
              x.str());
}

Tensor Conv2d::forward(const Tensor& x) {
  check_input(x);
  return conv2d(x, effective_weight(), bias(), params);
}

Tensor Conv2d::forward_act(const Tensor& x, double slope) {
  check_input(x);
  return conv2d_act(x, effective_weight(), bias(), params, slope);
}

ConvTranspose2d::ConvTranspose2d(int64_t in, int64_t out, int64_t k, int64_t stride_, int64_t pad, bool bias,
                                 bool spectral, DType t)
    : in_channels(in), out_channels(out), kernel(k), stride(stride_), padding(pad) {
  check_sizes("ConvTranspose2d", {in, out, k, stride_});
  MMGAN_CHECK(pad >= 0, "ConvTranspose2d: padding must be >= 0, got ", pad);
  init_weight({in, out, k, k}, 1, bias, spectral, t);
  Generator g(0);
  reset_layer(*this, g);
}

Tensor ConvTranspose2d::forward(const Tensor& x) {
  MMGAN_CHECK(x.dim() == 4 && x.size(1) == in_channels, "ConvTranspose2d: input must be [N, ", in_channels,
              ", H, W], got ", x.str());
  return conv_transpose2d(x, effective_weight(), bias(), ConvParams(stride, padding));
}

Linear::Linear(int64_t in, int64_t out, bool bias, bool spectral, DType t) : in_features(in), out_features(out) {
  check_sizes("Linear", {in, out});
  init_weight({out, in}, 0, bias, spectral, t);
  Generator g(0);
  reset_layer(*this, g);
}

Tensor Linear::forward(const Tensor& x) {
  MMGAN_CHECK(x.dim() == 2 && x.size(1) == in_features, "Linear: input must be [N, ", in_features, "], got ", x.str());
  return linear(x, effective_weight(), bias());
}

BatchNorm2d::BatchNorm2d(int64_t c, double momentum_, double eps_, DType t)
    : num_features(c), momentum(momentum_), eps(eps_) {
  check_sizes("BatchNorm2d", {c});
  MMGAN_CHECK(momentum_ >= 0 && momentum_ <= 1 && eps_ > 0, "BatchNorm2d: momentum must be in [0, 1] and eps > 0, got ",
              momentum_, " and ", eps_);
  weight_ = &register_parameter("weight", ones({c}, t));
  bias_ = &register_parameter("bias", zeros({c}, t));
  running_mean_ = &register_buffer("running_mean", zeros({c}, t));
  running_var_ = &register_buffer("running_var", ones({c}, t));
  num_batches_tracked_ = &register_buffer("num_batches_tracked", zeros({}, t), "I64");
}

void BatchNorm2d::start_forward(const Tensor& x) const {
  MMGAN_CHECK(x.dim() == 4 && x.size(1) == num_features, "BatchNorm2d: input must be [N, ", num_features,
              ", H, W], got ", x.str());
  if (is_training()) {
    NoGradGuard ng;
    num_batches_tracked_->copy_(*num_batches_tracked_ + 1.0);  // on the device: no host round trip
  }
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  start_forward(x);
  return batch_norm2d(x, *weight_, *bias_, *running_mean_, *running_var_, is_training(), momentum, eps);
}

Tensor BatchNorm2d::forward_act(const Tensor& x, double slope) {
  if (!is_training()) return {};  // eval: the plain composite, then the activation module
  start_forward(x);
  return batch_norm2d_act(x, *weight_, *bias_, *running_mean_, *running_var_, true, slope, momentum, eps);
}

Tensor ReLU::forward(const Tensor& x) { return relu(x); }

LeakyReLU::LeakyReLU(double slope_) : slope(slope_) {}
Tensor LeakyReLU::forward(const Tensor& x) { return leaky_relu(x, slope); }

Tensor Tanh::forward(const Tensor& x) { return tanh(x); }

}  // namespace mmgan::nn
