// The GAN losses of the paper and its official code (AlexiaJM/MaximumMarginGANs, Code/GAN.py),
// named by the official --loss_D numbers. C(x) is the raw critic output (no sigmoid); f1, f2 below
// are the per-family functions:
//   SGAN   BCE with logits          LSGAN  squares           Hinge  relu(1 - .)
//   D: mean f1(C(xr)) + mean f2(C(xf))            G: the same family with the roles swapped
//   Ra (relativistic average):  C(xr) - mean C(xf) and C(xf) - mean C(xr)  (means not detached)
//   Rc (relativistic centred):  both against (mean C(xr) + mean C(xf)) / 2
//   Rp (relativistic paired):   C(xr) - C(xf) pairwise by index; D carries a factor 2, G does not
//   Rp MVUE:                    all N x N pairs, factor 2 on both
// Every formula is written in engine ops, so the gradient penalty's double backward sees them.
// Checked by tests/test_losses.cpp against hand-computed values and the PyTorch step-dump parity.
#pragma once
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace mmgan::losses {

enum class GanLoss {
  SGAN = 1,
  LSGAN = 2,
  Hinge = 3,
  WGAN = 4,
  RaSGAN = 11,
  RaLSGAN = 12,
  RaHinge = 13,
  RcSGAN = 21,
  RcLSGAN = 22,
  RcHinge = 23,
  RpSGAN = 31,
  RpLSGAN = 32,
  RpHinge = 33,
  RpSGAN_MVUE = 41,
  RpLSGAN_MVUE = 42,
  RpHinge_MVUE = 43,
};

// Official number (1, 2, ..., 43) or readable name ("sgan", "hinge", "rahinge", "rphinge-mvue", ...);
// throws naming the value and listing the valid ones.
GanLoss parse_gan_loss(const std::string& s);
std::string gan_loss_name(GanLoss l);  // "HingeGAN", "RaSGAN", ... (the official run titles)
std::vector<GanLoss> all_gan_losses();

// Whether the G loss needs C(x_real) (every relativistic loss; the official code then draws a
// fresh real batch for the G step).
bool relativistic(GanLoss l);
// WGAN turns the gradient penalty on by itself (official loss 4).
inline bool penalty_implied(GanLoss l) { return l == GanLoss::WGAN; }

// c_real, c_fake: [N] critic outputs. Scalars ([]) out.
Tensor d_loss(GanLoss l, const Tensor& c_real, const Tensor& c_fake);
// c_real may be undefined when !relativistic(l).
Tensor g_loss(GanLoss l, const Tensor& c_real, const Tensor& c_fake);

}  // namespace mmgan::losses
