#include "tools/margins_command.h"

namespace mmgan::tools {

CLI::App* add_margins_command(CLI::App& app, lab::MarginLabOptions& o) {
  auto* c = app.add_subcommand(
      "margins",
      "The margin lab: small MLP critics trained on 2-d data with the HingeGAN loss and each gradient-penalty norm "
      "(L1, L2, L-inf) and form (hinge, squared-diff), with their values, gradients and margins; the paper's Figure 2; "
      "a GAN on the 8-Gaussian ring with each penalty. Writes safetensors files for tools/plot_margins.py");
  c->add_option("--out", o.out, "folder for the files")->required();
  c->add_option("--what", o.what, "parts to compute: critics, figure2, ring8")
      ->delimiter(',')
      ->check(CLI::IsMember({"critics", "figure2", "ring8"}))
      ->capture_default_str();
  c->add_option("--steps", o.critic.steps, "training steps of each critic")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  c->add_option("--gan_iters", o.gan.iters, "iterations of each ring GAN")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  c->add_option("--grid", o.grid, "grid points per axis for the critics' values and gradients")
      ->check(CLI::Range(int64_t(2), int64_t(2001)))
      ->capture_default_str();
  c->add_option("--seed", o.seed, "seed of the data draws and initialisations")->capture_default_str();
  return c;
}

}  // namespace mmgan::tools
