// The layers the paper's networks use, with PyTorch's weight layouts and state_dict names.
// spectral=true reproduces torch.nn.utils.spectral_norm: the parameter is stored as "weight_orig"
// (registered after "bias", as torch re-registers it) with buffers "weight_u" [h] and "weight_v"
// [rest], and every forward uses weight_orig / sigma, with one power iteration when training.
// Constructors give PyTorch's default initialisation drawn from Generator(0), so a lone layer is
// usable at once; networks re-draw everything from the caller's generator (models/init.h).
#pragma once
#include <cstdint>

#include "engine/ops.h"
#include "models/module.h"

namespace mmgan::nn {

// The weight of a convolution or linear layer, plain or spectrally normalised.
class WeightedLayer : public Module {
 public:
  Tensor weight() const { return *weight_; }                 // the parameter: "weight", or "weight_orig" when spectral
  Tensor bias() const { return bias_ ? *bias_ : Tensor(); }  // undefined without bias
  bool spectral() const { return u_ != nullptr; }
  int64_t spectral_dim() const { return sn_dim_; }
  Tensor weight_u() const { return u_ ? *u_ : Tensor(); }
  Tensor weight_v() const { return v_ ? *v_ : Tensor(); }
  // The weight the forward uses: weight_orig / sigma when spectral (power iteration in training).
  Tensor effective_weight();
  // fan_in for PyTorch's default U(-1/sqrt(fan_in), 1/sqrt(fan_in)) of weight and bias.
  virtual int64_t fan_in() const = 0;

 protected:
  // Registers "weight" and "bias" (torch's order), or "bias", "weight_orig", "weight_u", "weight_v";
  // out_dim is the weight's output-channel dimension (the bias size and the spectral dimension).
  void init_weight(const Shape& shape, int64_t out_dim, bool bias, bool spectral, DType t);

 private:
  Tensor* weight_ = nullptr;
  Tensor* bias_ = nullptr;
  Tensor* u_ = nullptr;
  Tensor* v_ = nullptr;
  int64_t sn_dim_ = 0;
};

struct Conv2d : WeightedLayer {
  // weight [out, in, k, k]; spectral normalisation over dim 0.
  Conv2d(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad, bool bias, bool spectral = false,
         DType t = DType::F32);
  // A rectangular kernel [out, in, kh, kw] with per-axis stride and padding (Inception's 1x7, 7x1).
  Conv2d(int64_t in, int64_t out, int64_t kh, int64_t kw, ConvParams p, bool bias, DType t = DType::F32);
  Tensor forward(const Tensor& x) override;
  Tensor forward_act(const Tensor& x, double slope) override;  // conv2d_act: the activation in its epilogue
  int64_t fan_in() const override { return in_channels * kernel_h * kernel_w; }
  const int64_t in_channels, out_channels, kernel_h, kernel_w;
  const ConvParams params;

 private:
  Conv2d(int64_t in, int64_t out, int64_t kh, int64_t kw, ConvParams p, bool bias, bool spectral, DType t);
  void check_input(const Tensor& x) const;
};

struct ConvTranspose2d : WeightedLayer {
  // weight [in, out, k, k]; spectral normalisation over dim 1 (torch's choice for transposed convs).
  ConvTranspose2d(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad, bool bias, bool spectral = false,
                  DType t = DType::F32);
  Tensor forward(const Tensor& x) override;
  // PyTorch computes fan_in from weight.size(1) * k * k, i.e. out_channels for a transposed conv.
  int64_t fan_in() const override { return out_channels * kernel * kernel; }
  const int64_t in_channels, out_channels, kernel, stride, padding;
};

struct Linear : WeightedLayer {
  // weight [out, in]; spectral normalisation over dim 0.
  Linear(int64_t in, int64_t out, bool bias, bool spectral = false, DType t = DType::F32);
  Tensor forward(const Tensor& x) override;
  int64_t fan_in() const override { return in_features; }
  const int64_t in_features, out_features;
};

struct BatchNorm2d : Module {
  // weight (1), bias (0); buffers running_mean (0), running_var (1), num_batches_tracked (scalar 0,
  // written to files as I64 like PyTorch's int64 counter).
  explicit BatchNorm2d(int64_t c, double momentum = 0.1, double eps = 1e-5, DType t = DType::F32);
  Tensor forward(const Tensor& x) override;
  Tensor forward_act(const Tensor& x, double slope) override;  // training mode: batch_norm2d_act
  Tensor weight() const { return *weight_; }
  Tensor bias() const { return *bias_; }
  Tensor running_mean() const { return *running_mean_; }
  Tensor running_var() const { return *running_var_; }
  Tensor num_batches_tracked() const { return *num_batches_tracked_; }
  const int64_t num_features;
  const double momentum, eps;

 private:
  void start_forward(const Tensor& x) const;
  Tensor *weight_, *bias_, *running_mean_, *running_var_, *num_batches_tracked_;
};

struct ReLU : Module {
  Tensor forward(const Tensor& x) override;
  bool activation_slope(double* s) const override { return *s = 0, true; }
};

struct LeakyReLU : Module {
  explicit LeakyReLU(double slope);
  Tensor forward(const Tensor& x) override;
  bool activation_slope(double* s) const override { return *s = slope, slope >= 0; }
  const double slope;
};

struct Tanh : Module {
  Tensor forward(const Tensor& x) override;
};

}  // namespace mmgan::nn
