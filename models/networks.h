// The paper's networks, as the official code builds them (AlexiaJM/MaximumMarginGANs, Code/GAN.py):
// the DCGAN family (arch 0, depth set by the image size) and the "standard CNN" of the spectral
// normalisation paper (arch 1, 32x32). Module names match that code's state_dict exactly, so a
// model saved here loads there with load_state_dict, and the reverse.
#pragma once
#include <cstdint>
#include <memory>

#include "engine/random.h"
#include "models/module.h"

namespace mmgan::nn {

enum class Arch { DCGAN, StandardCNN };

struct NetConfig {
  Arch arch = Arch::DCGAN;
  int64_t image_size = 32, n_colors = 3, z_size = 128, G_h_size = 128, D_h_size = 128;    // h sizes: DCGAN only
  bool batch_norm_G = true, batch_norm_D = true, spectral_G = false, spectral_D = false;  // spectral drops BN
  double leaky_slope = 0.2;                                                               // the activation slope in D
  DType dtype = DType::F32;
};

// Throws naming the field when the configuration cannot be built (DCGAN: image_size a power of two
// >= 16; standard CNN: image_size 32; positive sizes).
void check_config(const NetConfig& cfg);

// What a network of cfg holds, computed from its layer plan without building it (overflow-checked,
// so absurd flags give an error, not a wrapped number): parameters, and the elements its layers
// output per sample (what a forward keeps for the backward, before the penalty's double backprop).
struct NetSize {
  int64_t parameters = 0;
  int64_t activations = 0;  // per sample
};
NetSize net_size(const NetConfig& cfg, bool generator);

// Initialised as the official code: PyTorch's defaults, then weights_init (models/init.h), all drawn
// from gen. Both start in training mode.
// Generator: z [N, z_size] or [N, z_size, 1, 1] -> images [N, n_colors, S, S] in (-1, 1).
std::shared_ptr<Module> make_generator(const NetConfig& cfg, Generator& gen);
// Discriminator: images [N, n_colors, S, S] -> [N], the raw critic output (no sigmoid).
std::shared_ptr<Module> make_discriminator(const NetConfig& cfg, Generator& gen);

}  // namespace mmgan::nn
