// Initialisation, every draw from one Generator so a seed reproduces a network exactly.
// reset_parameters gives PyTorch's defaults; dcgan_weights_init is the official code's
// weights_init (applied on top of the defaults, as G.apply(weights_init) is in GAN.py).
#pragma once
#include "engine/random.h"
#include "models/layers.h"

namespace mmgan::nn {

// One layer's PyTorch reset_parameters: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (what
// kaiming_uniform_(a=sqrt(5)) amounts to for the weight), then, when spectral, u ~ normalize(N(0, 1))
// of size h and v ~ normalize(N(0, 1)) of size numel/h, as torch.nn.utils.spectral_norm draws them.
void reset_layer(WeightedLayer& l, Generator& gen);
// BatchNorm's: weight 1, bias 0, running mean 0, running var 1, num_batches_tracked 0.
void reset_layer(BatchNorm2d& l);

// reset_layer on every layer of m, in registration order.
void reset_parameters(Module& m, Generator& gen);

// The official weights_init on every layer of m: convolution weights (weight_orig when spectral)
// ~ N(0, 0.02); BatchNorm weight ~ N(1, 0.02), bias 0. Linear layers and conv biases keep their values.
void dcgan_weights_init(Module& m, Generator& gen);

// What make_generator / make_discriminator do: reset_parameters, then dcgan_weights_init.
void init_network(Module& m, Generator& gen);

}  // namespace mmgan::nn
