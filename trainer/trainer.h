// One GAN training run, in the official code's order (Code/GAN.py):
//   for each iteration:
//     D step (x Diters): real batch; z ~ N(0, 1); x_fake = G(z) (no graph);
//       loss = d_loss(D(x_real), D(x_fake)) [+ penalty at xhat, u ~ U(0, 1) per sample]; Adam on D
//     G step (x Giters): fresh z (and, for relativistic losses, a fresh real batch);
//       loss = g_loss(D(x_real), D(G(z))); Adam on G; D's parameters get no gradient
//     lr <- lr * (1 - decay)
// Random draws come from one counter-based Generator (z for D, u, z for G, in that order) and real
// batches from a counter-based sampler, so a checkpoint (networks, Adam moments, generator state,
// batch position, lr, Lagrange multiplier) resumes bit-identically.
// Checked by tests/test_trainer.cpp (resume bit-identity, NaN stop, bad flags) and, through
// `mmgan step-dump`, by tests/test_step_parity.cpp against PyTorch.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "config.h"
#include "data/dataset.h"
#include "data/sampler.h"
#include "engine/error.h"
#include "engine/optim/adam.h"
#include "engine/random.h"
#include "engine/safetensors.h"
#include "eval/features.h"
#include "eval/frechet.h"
#include "models/module.h"

namespace mmgan::trainer {

// What one iteration produced (the last D and G step of it).
struct StepStats {
  double loss_D = 0, loss_G = 0;
  double penalty = 0;  // the reduced constraint (before lambda)
  double grad_norm_mean = 0, grad_norm_max = 0;  // penalised norm at xhat (0 without a penalty)
};

// Thrown when a loss becomes NaN or infinite; the message names the iteration.
struct Diverged : Error {
  using Error::Error;
};

class Trainer {
 public:
  // Loads the data set named by cfg unless one is given (tests pass small ones).
  explicit Trainer(TrainConfig cfg, std::shared_ptr<const data::Dataset> dataset = nullptr);
  ~Trainer();

  // One iteration; with capture, also records its inputs, the parameters before it, the losses
  // and every parameter gradient under the official key names (what `mmgan step-dump` writes).
  StepStats step(SafeTensors* capture = nullptr);

  // Mean pseudo-margins y C(x) / ||grad C(x)||_q at a real and a fake batch (Section 3.1.2).
  // Computed in train mode with D's buffers restored afterwards, so it never changes the run.
  std::pair<double, double> margins();

  // The Fréchet distance of n samples of G (train mode, batches of the training batch size, a fixed
  // z stream of its own) against ref. G's buffers are restored, so it never changes the run.
  eval::FrechetResult fid(eval::FeatureExtractor& fx, const eval::GaussianStats& ref, int64_t n);

  // A grid of G(z_test) images ([-1, 1] -> PNG), min-max normalised as torchvision's
  // save_image(normalize=True) does.
  void save_samples(const std::string& png_path);

  SafeTensors checkpoint() const;
  void save_checkpoint(const std::string& path) const;  // atomic
  void load_checkpoint(const std::string& path);

  int64_t iteration() const { return iteration_; }
  const TrainConfig& config() const { return cfg_; }
  nn::Module& generator() { return *G_; }
  nn::Module& discriminator() { return *D_; }
  const data::Dataset& dataset() const { return *data_; }

 private:
  Tensor next_real();
  Tensor noise(int64_t n);
  Tensor critic(const Tensor& x);

  TrainConfig cfg_;
  Device device_;
  DType dtype_;
  std::shared_ptr<const data::Dataset> data_;
  std::unique_ptr<data::Prefetcher> real_;
  std::shared_ptr<nn::Module> G_, D_;
  std::unique_ptr<Adam> optD_, optG_;
  Generator rng_;
  Tensor z_test_;
  double lagrange_;  // the augmented Lagrangian's multiplier (starts at lambda, as the official code)
  int64_t iteration_ = 0;
};

// Loads the data set a configuration names (data/), with errors naming the flag and path.
std::shared_ptr<const data::Dataset> load_dataset(const TrainConfig& cfg);

// Writes a grid of images x [N, C, H, W] (any range; min-max normalised) as PNG, 8 per row with
// 2-pixel padding like torchvision.utils.save_image.
void save_image_grid(const Tensor& x, const std::string& png_path);

}  // namespace mmgan::trainer
