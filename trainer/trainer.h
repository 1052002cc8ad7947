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
// An iteration never waits for the device: the real batches are staged into fixed input tensors
// first, then the computation keeps every value on the device (the generator's position, Adam's
// rate and step counts, the multiplier, the losses and a record of the first non-finite one), so
// it can be captured once and replayed (--graph; engine/capture.h), with the same numbers as the
// eager path. Metrics and the NaN check are read only when the caller asks (stats(), check_finite()).
// Checked by tests/test_trainer.cpp (resume bit-identity, NaN stop, bad flags) and, through
// `mmgan step-dump`, by tests/test_step_parity.cpp against PyTorch.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "trainer/config.h"
#include "trainer/distributed.h"
#include "data/dataset.h"
#include "data/sampler.h"
#include "engine/capture.h"
#include "engine/error.h"
#include "engine/optim/adam.h"
#include "engine/random.h"
#include "engine/safetensors.h"
#include "engine/staging.h"
#include "eval/features.h"
#include "eval/frechet.h"
#include "models/module.h"

namespace mmgan::trainer {

// What the last iteration produced (the last D and G step of it), read from the device.
struct StepStats {
  double loss_D = 0, loss_G = 0;
  double penalty = 0;                            // the reduced constraint (before lambda)
  double grad_norm_mean = 0, grad_norm_max = 0;  // penalised norm at xhat (0 without a penalty)
  // The fraction of penalty points with ||g|| > 1: the only ones the hinge forms act on at all
  // (0 without a penalty). A hinge penalty whose points all sit below 1 is inert, whatever lambda.
  double penalty_active = 0;
};

// Thrown by check_finite() when a loss became NaN or infinite; the message names the iteration.
struct Diverged : Error {
  using Error::Error;
};

class Trainer;

// What one iteration shows to whoever watches it (`mmgan step-dump` records it all); every hook is
// a no-op by default, so the step itself reads as the official iteration and nothing else.
class StepObserver {
 public:
  struct CriticStep {                                              // one D step, after its gradients, before Adam
    const Tensor &x_real, &z, &u, &loss, &penalty, &penalty_term;  // u, penalty: undefined without a penalty
    const std::vector<Tensor>& grads;                              // D's parameter gradients
  };
  struct GeneratorStep {              // one G step, after its gradients, before Adam
    const Tensor &z, &x_real, &loss;  // x_real: undefined unless the loss is relativistic
    const std::vector<Tensor>& grads;
  };
  virtual ~StepObserver() = default;
  virtual void before(Trainer&) {}
  virtual void critic_step(Trainer&, const CriticStep&) {}
  virtual void critic_updated(Trainer&) {}
  virtual void generator_step(Trainer&, const GeneratorStep&) {}
};

class Trainer {
 public:
  // Loads the data set named by cfg unless one is given (tests pass small ones).
  explicit Trainer(TrainConfig cfg, std::shared_ptr<const data::Dataset> dataset = nullptr);
  ~Trainer();

  // One iteration, queued on the device without waiting for it. With an observer, eagerly, showing
  // it the inputs, losses and gradients of every step (what `mmgan step-dump` writes).
  void step(StepObserver* observer = nullptr);
  // The last iteration's metrics (waits for the device).
  StepStats stats() const;
  // Throws Diverged if a loss of any iteration so far was NaN or infinite, naming the first such
  // iteration and loss (waits for the device). Call before saving anything.
  void check_finite() const;
  // Whether iterations are being replayed from a capture (--graph, after the first iteration).
  bool replaying() const { return captured_ != nullptr; }

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
  // Atomic, and only when every tensor of it is finite: otherwise throws Diverged naming the
  // tensor, and whatever checkpoint was at path stays as it was.
  void save_checkpoint(const std::string& path) const;
  void load_checkpoint(const std::string& path);
  // The same from a checkpoint already read (`path` names it in errors).
  void load_checkpoint(const SafeTensors& st, const std::string& path);

  int64_t iteration() const { return iteration_; }
  const TrainConfig& config() const { return cfg_; }
  Device device() const { return device_; }  // --device resolved (auto, this rank's GPU)
  nn::Module& generator() { return *G_; }
  nn::Module& discriminator() { return *D_; }
  const data::Dataset& dataset() const { return *data_; }

 private:
  void stage_inputs();  // the next real batches into real_in_ (host work, queued before the computation, no wait)
  void compute(StepObserver& observer);  // the iteration itself: device work only
  Tensor noise(int64_t n);
  Tensor critic(const Tensor& x);

  TrainConfig cfg_;
  Device device_;
  DType dtype_;
  std::shared_ptr<const data::Dataset> data_;
  std::unique_ptr<data::Prefetcher> real_;
  std::shared_ptr<nn::Module> G_, D_;
  std::unique_ptr<Adam> optD_, optG_;
  std::unique_ptr<GradientReducer> reduce_D_, reduce_G_;  // sums gradients over the ranks (distributed.h)
  Generator rng_;  // draws relative to rng_base_, which holds the stream position on the device
  Tensor rng_base_;
  Tensor z_test_;
  Tensor lagrange_;  // float64 scalar: the augmented Lagrangian's multiplier (starts at lambda, as the official code)
  std::vector<Tensor> real_in_;                    // the iteration's real batches (D steps, then relativistic G steps)
  std::vector<std::unique_ptr<Staging>> staging_;  // one per real_in_: pinned, double-buffered
  Tensor iter_dev_;                                // float64 scalar: the iteration count, on the device
  Tensor bad_iter_;                                // float64 scalar: the first iteration with a non-finite loss, or -1
  Tensor bad_vals_;                                // float64 [3]: its D loss, penalty and G loss
  Tensor last_;                                    // float64 [6]: the last iteration's StepStats, in their order
  std::unique_ptr<CapturedStep> captured_;
  bool warmed_ = false;  // an iteration ran eagerly in this process (so a capture may follow)
  int64_t iteration_ = 0;
};

// The training configuration a checkpoint embeds (its metadata 'config'), parsed and resolved;
// errors name `path`.
TrainConfig checkpoint_config(const SafeTensors& st, const std::string& path);

// Loads the data set a configuration names (data/), with errors naming the flag and path.
std::shared_ptr<const data::Dataset> load_dataset(const TrainConfig& cfg);

// Writes a grid of images x [N, C, H, W] (any range; min-max normalised) as PNG, 8 per row with
// 2-pixel padding like torchvision.utils.save_image.
void save_image_grid(const Tensor& x, const std::string& png_path);

}  // namespace mmgan::trainer
