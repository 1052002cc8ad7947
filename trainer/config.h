// The full configuration of a training run: every flag of `mmgan train`, with the official code's
// names and defaults where they mean the same thing (AlexiaJM/MaximumMarginGANs, Code/GAN.py),
// except that the default run is the paper's best setting (HingeGAN + L-infinity hinge penalty,
// lambda 20) of DCGAN32 on Fashion-MNIST. Saved as JSON in every run folder and checkpoint, so a run
// can be resumed and reproduced from its folder alone.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "losses/gan_loss.h"
#include "losses/gradient_penalty.h"
#include "models/networks.h"

namespace mmgan::trainer {

struct TrainConfig {
  // Data.
  std::string dataset = "fashion-mnist";  // fashion-mnist, cifar10, folder, toy-ring8, toy-segment
  std::string input_folder;               // cifar10: batches dir or .bin; folder: image root; fashion-mnist: idx dir
  int64_t image_size = 32;
  int64_t n_colors = -1;  // -1: the data set's (1 for Fashion-MNIST, 3 otherwise; set by resolve())
  int64_t centercrop = 0;
  std::string fmnist_fit = "pad";  // pad 28 -> 32, or resize
  std::string on_bad_image = "skip";

  // Networks (models/networks.h).
  int arch = 0;  // 0 DCGAN, 1 standard CNN
  int64_t z_size = 128, G_h_size = 128, D_h_size = 128;
  bool no_batch_norm_G = false, no_batch_norm_D = false, spectral = false, spectral_G = false;
  double leaky_slope = -1;  // -1: the paper's (0.2 DCGAN, 0.1 standard CNN)

  // Optimisation.
  int64_t batch_size = 32;
  int64_t n_iter = 2000;
  int64_t Diters = 1, Giters = 1;
  double lr_D = 2e-4, lr_G = 2e-4, beta1 = 0.5, beta2 = 0.999, decay = 0, weight_decay = 0;
  int64_t seed = 1;
  bool resample = true;  // fresh z (and, for relativistic losses, a fresh real batch) in the G step

  // Loss and penalty.
  losses::GanLoss loss = losses::GanLoss::Hinge;
  bool grad_penalty = true;       // on for any loss; WGAN turns it on by itself
  bool no_grad_penalty = false;   // off even for WGAN
  losses::PenaltyConfig penalty;  // lambda, norm, form, reduction, location, augmented, rho, smoothmax

  // Run.
  std::string output_folder = "runs";
  std::string run_name;        // empty: <loss>-<norm>-<form>-seed<seed>-<n>
  int64_t print_every = 500;   // sample grids
  int64_t log_every = 10;      // metrics lines
  int64_t margin_every = 100;  // pseudo-margins at real and fake samples
  int64_t save_every = 500;    // checkpoints
  int64_t n_samples = 64;      // images in each grid
  // Fréchet distance during training (eval/): every fid_every iterations (0: never), fid_n samples
  // of G against fid_stats (empty: computed once from the training data, kept in the run folder),
  // with fid_features "inception", "fmnist" or "auto" (fmnist for 1x32x32 data, else inception).
  int64_t fid_every = 0;
  int64_t fid_n = 5000;
  std::string fid_features = "auto";
  std::string fid_weights;  // empty: eval::default_weights
  std::string fid_stats;
  std::string device = "auto";  // engine/device.h: auto = the first CUDA device if there is one
  std::string dtype = "float32";
  // The fast path: after one eager iteration, capture the whole iteration once (engine/capture.h:
  // a CUDA graph on the GPU, a recorded call list on the CPU) and replay it. "on" or "off"; the
  // numbers are the same either way (tests/test_trainer.cpp).
  std::string graph = "on";

  // The networks' configuration implied by these flags.
  nn::NetConfig net() const;
  // Whether the gradient penalty runs (flags and the loss together).
  bool penalty_on() const;
  // Whether iterations are captured and replayed (--graph).
  bool graph_on() const { return graph == "on"; }
  // Fills defaults that depend on other flags (colours of the data set, the slope of the
  // architecture) and checks every impossible combination, naming the flags at fault.
  void resolve();
};

// --run_name must name one folder inside --output_folder; throws naming the flag otherwise.
void check_run_name(const std::string& name);

// Every field of TrainConfig, declared once: its JSON key (the flag is "--" + key) and whether a
// resumed run may change it. JSON in both directions, the resume rules and the round-trip test all
// derive from this list, so a new field is one line here. `v(key, field, resumable)`.
template <class Config, class Visitor>
void visit_fields(Config& c, Visitor&& v) {
  constexpr bool fixed = false, resumable = true;
  v("dataset", c.dataset, fixed);
  v("input_folder", c.input_folder, fixed);
  v("image_size", c.image_size, fixed);
  v("n_colors", c.n_colors, fixed);
  v("centercrop", c.centercrop, fixed);
  v("fmnist_fit", c.fmnist_fit, fixed);
  v("on_bad_image", c.on_bad_image, fixed);
  v("arch", c.arch, fixed);
  v("z_size", c.z_size, fixed);
  v("G_h_size", c.G_h_size, fixed);
  v("D_h_size", c.D_h_size, fixed);
  v("no_batch_norm_G", c.no_batch_norm_G, fixed);
  v("no_batch_norm_D", c.no_batch_norm_D, fixed);
  v("spectral", c.spectral, fixed);
  v("spectral_G", c.spectral_G, fixed);
  v("leaky_slope", c.leaky_slope, fixed);
  v("batch_size", c.batch_size, fixed);
  v("n_iter", c.n_iter, resumable);
  v("Diters", c.Diters, fixed);
  v("Giters", c.Giters, fixed);
  v("lr_D", c.lr_D, fixed);
  v("lr_G", c.lr_G, fixed);
  v("beta1", c.beta1, fixed);
  v("beta2", c.beta2, fixed);
  v("decay", c.decay, fixed);
  v("weight_decay", c.weight_decay, fixed);
  v("seed", c.seed, fixed);
  v("resample", c.resample, fixed);
  v("loss_D", c.loss, fixed);
  v("grad_penalty", c.grad_penalty, fixed);
  v("no_grad_penalty", c.no_grad_penalty, fixed);
  v("penalty", c.penalty.lambda, fixed);
  v("gp_norm", c.penalty.norm, fixed);
  v("penalty_type", c.penalty.form, fixed);
  v("reduction", c.penalty.reduction, fixed);
  v("gp_where", c.penalty.where, fixed);
  v("smoothmax", c.penalty.smoothmax, fixed);
  v("grad_penalty_aug", c.penalty.augmented, fixed);
  v("rho", c.penalty.rho, fixed);
  v("output_folder", c.output_folder, fixed);
  v("run_name", c.run_name, fixed);
  v("print_every", c.print_every, resumable);
  v("log_every", c.log_every, resumable);
  v("margin_every", c.margin_every, resumable);
  v("save_every", c.save_every, resumable);
  v("n_samples", c.n_samples, fixed);
  v("fid_every", c.fid_every, resumable);
  v("fid_n", c.fid_n, fixed);
  v("fid_features", c.fid_features, fixed);
  v("fid_weights", c.fid_weights, fixed);
  v("fid_stats", c.fid_stats, fixed);
  v("device", c.device, resumable);
  v("dtype", c.dtype, fixed);
  v("graph", c.graph, resumable);
}

// Keys written for readers (tools/plot_run.py, people) that are derived, never read back.
inline constexpr const char* kDerivedKeys[] = {"loss_name", "penalty_on"};

// The keys of the fields a resumed run may change (n_iter, cadences, device, graph).
std::vector<std::string> resumable_keys();

std::string to_json(const TrainConfig& c);
// Strict: unknown keys and values of the wrong type are errors naming `source` and the key; keys
// that are absent keep their defaults. The result is resolve()d, so impossible values are refused
// here too, naming the file.
TrainConfig config_from_json(const std::string& json, const std::string& source);
// Copies the fields named by `keys` from `from` into `to`.
void copy_fields(const TrainConfig& from, TrainConfig& to, const std::vector<std::string>& keys);
// The first key (in table order) whose value differs between a and b, skipping resumable fields
// when `fixed_only`; "" when they agree.
std::string first_difference(const TrainConfig& a, const TrainConfig& b, bool fixed_only);

}  // namespace mmgan::trainer
