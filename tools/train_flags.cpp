// Flag definitions of train_flags.h.
#include "tools/train_flags.h"

#include <cmath>
#include <set>

#include "engine/error.h"

namespace mmgan::tools {

namespace {
const std::set<std::string> kBoolFlags = {"--CIFAR10",
                                          "--no_batch_norm_G",
                                          "--no_batch_norm_D",
                                          "--spectral",
                                          "--spectral_G",
                                          "--grad_penalty",
                                          "--no_grad_penalty",
                                          "--grad_penalty_aug",
                                          "--fake_only",
                                          "--real_only",
                                          "--l1_margin",
                                          "--linf_margin",
                                          "--l1_margin_smoothmax",
                                          "--l1_margin_logsumexp",
                                          "--resample"};
const std::set<std::string> kBoolValues = {"True", "False", "true", "false", "1", "0",
                                           "yes",  "no",    "on",   "off",   "t", "f"};
}  // namespace

std::vector<std::string> normalise_bool_args(int argc, char** argv) {
  std::vector<std::string> out;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (kBoolFlags.count(a) && i + 1 < argc && kBoolValues.count(argv[i + 1])) a += std::string("=") + argv[++i];
    out.push_back(a);
  }
  return out;
}

void add_data_flags(CLI::App* c, TrainFlags& f) {
  f.app = c;
  trainer::TrainConfig& g = f.cfg;
  c->add_option("--dataset,--data", g.dataset,
                "fashion-mnist (default, from Debian's dataset-fashion-mnist), cifar10, folder")
      ->capture_default_str();
  c->add_option("--input_folder,--CIFAR10_input_folder", g.input_folder,
                "data location: the Fashion-MNIST idx directory, a cifar-10-batches-bin directory or .bin file, or an "
                "image folder");
  c->add_flag("--CIFAR10", f.cifar10, "use CIFAR-10 (same as --dataset cifar10)");
  c->add_option("--image_size", g.image_size, "image size (DCGAN: 16, 32, 64, ...; standard CNN: 32)")
      ->capture_default_str();
  c->add_option("--n_colors", g.n_colors, "colours (default: the data set's)");
  c->add_option("--centercrop", g.centercrop, "centre-crop image-folder images to this size first (0: none)")
      ->capture_default_str();
  c->add_option("--fmnist_fit", g.fmnist_fit, "Fashion-MNIST 28x28 -> image size: pad or resize")
      ->capture_default_str();
  c->add_option("--on_bad_image", g.on_bad_image, "unreadable image-folder files: skip (warn and count) or stop")
      ->capture_default_str();
}

bool TrainFlags::given(const std::string& flag) const {
  const CLI::Option* o = app ? app->get_option_no_throw(flag) : nullptr;
  return o && o->count() > 0;
}

void add_train_flags(CLI::App* c, TrainFlags& f) {
  f.app = c;
  trainer::TrainConfig& g = f.cfg;
  add_data_flags(c, f);
  // Networks.
  c->add_option("--arch", f.arch, "0 or dcgan: DCGAN sized by --image_size; 1 or cnn: the standard CNN (32x32)")
      ->capture_default_str();
  c->add_option("--z_size", g.z_size, "latent size")->capture_default_str();
  c->add_option("--G_h_size", g.G_h_size, "DCGAN generator width")->capture_default_str();
  c->add_option("--D_h_size", g.D_h_size, "DCGAN discriminator width")->capture_default_str();
  c->add_flag("--no_batch_norm_G", g.no_batch_norm_G, "no BatchNorm in G");
  c->add_flag("--no_batch_norm_D", g.no_batch_norm_D, "no BatchNorm in D");
  c->add_flag("--spectral", g.spectral, "spectral normalisation in D (removes its BatchNorm)");
  c->add_flag("--spectral_G", g.spectral_G, "spectral normalisation in G (removes its BatchNorm)");
  c->add_option("--leaky_slope", g.leaky_slope, "LeakyReLU slope in D (default 0.2 DCGAN, 0.1 standard CNN)");
  // Optimisation.
  c->add_option("--batch_size", g.batch_size, "batch size")->capture_default_str();
  c->add_option("--n_iter", g.n_iter, "iterations (the paper's runs: 100001)")->capture_default_str();
  c->add_option("--Diters", g.Diters, "D steps per iteration")->capture_default_str();
  c->add_option("--Giters", g.Giters, "G steps per iteration")->capture_default_str();
  c->add_option("--lr_D", g.lr_D, "D learning rate")->capture_default_str();
  c->add_option("--lr_G", g.lr_G, "G learning rate")->capture_default_str();
  c->add_option("--lr", f.lr, "both learning rates");
  c->add_option("--beta1", g.beta1, "Adam beta1")->capture_default_str();
  c->add_option("--beta2", g.beta2, "Adam beta2")->capture_default_str();
  c->add_option("--decay", g.decay, "lr *= 1 - decay every iteration")->capture_default_str();
  c->add_option("--weight_decay", g.weight_decay, "Adam L2 weight decay")->capture_default_str();
  c->add_option("--seed", g.seed, "seed of initialisation, noise and batch order")->capture_default_str();
  c->add_flag("--resample", g.resample, "fresh z (and real batch for relativistic losses) in the G step")
      ->capture_default_str();
  // Loss and penalty.
  c->add_option(
       "--loss_D,--loss", f.loss,
       "GAN loss: official number or name: 1 sgan, 2 lsgan, 3 hinge, 4 wgan (penalty on), 11-13 ra*, 21-23 rc*, "
       "31-33 rp*, 41-43 rp*-mvue")
      ->capture_default_str();
  c->add_flag("--grad_penalty", g.grad_penalty,
              "gradient penalty with any loss (default on; --grad_penalty=false: off)")
      ->capture_default_str();
  c->add_flag("--no_grad_penalty", g.no_grad_penalty, "no gradient penalty, even with WGAN");
  c->add_option("--penalty,--lambda", g.penalty.lambda, "penalty weight lambda")->capture_default_str();
  c->add_option("--penalty-type,--penalty_type,--gp-form", f.gp_form,
                "squared-diff (n-1)^2, hinge max(0,n-1) (default), clamp, squared-clamp, squared, TV, abs, hinge2");
  c->add_option("--gp-norm,--gp_norm", f.gp_norm, "gradient norm: l1, l2, linf (default), smoothmax, logsumexp");
  c->add_flag("--l1_margin", f.l1_margin, "official: maximise the L1 margin = penalise the L-infinity norm");
  c->add_flag("--linf_margin", f.linf_margin, "official: maximise the L-infinity margin = penalise the L1 norm");
  c->add_flag("--l1_margin_smoothmax", f.l1_margin_smoothmax, "official: smooth max stand-in for the L-infinity norm");
  c->add_flag("--l1_margin_logsumexp", f.l1_margin_logsumexp, "official: logsumexp stand-in for the L-infinity norm");
  c->add_option("--smoothmax", g.penalty.smoothmax, "s of the smooth max")->capture_default_str();
  c->add_option("--reduction", f.reduction, "penalty over the batch: mean, max, softmax")->capture_default_str();
  c->add_option("--gp-where,--gp_where", f.gp_where, "penalty points: interpolate (default), real, fake");
  c->add_flag("--real_only", f.real_only, "official: penalty at real samples only");
  c->add_flag("--fake_only", f.fake_only, "official: penalty at fake samples only");
  c->add_flag("--grad_penalty_aug", g.penalty.augmented, "augmented Lagrangian penalty (official code's form)");
  c->add_option("--rho", g.penalty.rho, "augmented Lagrangian step")->capture_default_str();
  // Run.
  c->add_option("--output_folder", g.output_folder, "where run folders go")->capture_default_str();
  c->add_option("--run_name", g.run_name, "run folder name (default: loss-norm-form-seedS, numbered)");
  c->add_option("--print_every", g.print_every, "sample grid every N iterations")->capture_default_str();
  c->add_option("--log_every", g.log_every, "metrics line every N iterations")->capture_default_str();
  c->add_option("--margin_every", g.margin_every, "pseudo-margins every N iterations")->capture_default_str();
  c->add_option("--save_every", g.save_every, "checkpoint every N iterations")->capture_default_str();
  c->add_option("--n_samples", g.n_samples, "images per sample grid")->capture_default_str();
  c->add_option("--fid_every", g.fid_every, "Fréchet distance of G's samples every N iterations (0: never)")
      ->capture_default_str();
  c->add_option("--fid_n", g.fid_n, "samples per Fréchet distance")->capture_default_str();
  c->add_option("--fid_features", g.fid_features,
                "auto (fmnist for 1x32x32 data, else inception), inception (FID) or fmnist")
      ->capture_default_str();
  c->add_option("--fid_weights", g.fid_weights, "weights of the feature network (default: see `mmgan fid --help`)");
  c->add_option("--fid_stats", g.fid_stats,
                "reference statistics (mmgan fid-stats); default: computed from the training data at the start");
  c->add_option("--device", g.device, kDeviceHelp)->capture_default_str();
  c->add_option("--dtype", g.dtype, "float32 or float64")->capture_default_str();
  c->add_option("--graph", g.graph,
                "on: after the first iteration, capture one and replay it (a CUDA graph on the GPU); off: run each "
                "iteration eagerly. Same numbers either way")
      ->capture_default_str();
}

trainer::TrainConfig finish_train_flags(TrainFlags& f) {
  trainer::TrainConfig c = f.cfg;
  if (f.cifar10) {
    MMGAN_CHECK(c.dataset == "fashion-mnist" || c.dataset == "cifar10", "--CIFAR10 conflicts with --dataset ",
                c.dataset);
    c.dataset = "cifar10";
  }
  c.loss = losses::parse_gan_loss(f.loss);
  if (f.arch == "0" || f.arch == "dcgan")
    c.arch = 0;
  else if (f.arch == "1" || f.arch == "cnn" || f.arch == "standard-cnn")
    c.arch = 1;
  else
    MMGAN_FAIL("--arch: unknown architecture '", f.arch, "' (0/dcgan or 1/cnn)");
  if (f.given("--lr")) {
    MMGAN_CHECK(!f.given("--lr_D") && !f.given("--lr_G"),
                "--lr sets both learning rates: give it or --lr_D/--lr_G, "
                "not both");
    MMGAN_CHECK(std::isfinite(f.lr) && f.lr > 0, "--lr must be a positive finite number, got ", f.lr);
    c.lr_D = c.lr_G = f.lr;
  }
  MMGAN_CHECK(!(f.given("--grad_penalty") && f.given("--no_grad_penalty") && c.grad_penalty && c.no_grad_penalty),
              "--grad_penalty and --no_grad_penalty contradict each other");
  const int margin_flags =
      int(f.l1_margin) + int(f.linf_margin) + int(f.l1_margin_smoothmax) + int(f.l1_margin_logsumexp);
  MMGAN_CHECK(margin_flags <= 1,
              "--l1_margin, --linf_margin, --l1_margin_smoothmax and --l1_margin_logsumexp exclude "
              "each other");
  MMGAN_CHECK(margin_flags == 0 || f.gp_norm.empty(), "--gp-norm conflicts with the official margin flags");
  if (f.l1_margin) c.penalty.norm = losses::GpNorm::LInf;
  if (f.linf_margin) c.penalty.norm = losses::GpNorm::L1;
  if (f.l1_margin_smoothmax) c.penalty.norm = losses::GpNorm::SmoothMax;
  if (f.l1_margin_logsumexp) c.penalty.norm = losses::GpNorm::LogSumExp;
  if (!f.gp_norm.empty()) c.penalty.norm = losses::parse_gp_norm(f.gp_norm);
  if (!f.gp_form.empty()) c.penalty.form = losses::parse_gp_form(f.gp_form);
  c.penalty.reduction = losses::parse_gp_reduction(f.reduction);
  MMGAN_CHECK(!(f.real_only && f.fake_only), "--real_only and --fake_only exclude each other");
  MMGAN_CHECK(!((f.real_only || f.fake_only) && !f.gp_where.empty()),
              "--gp-where conflicts with --real_only/--fake_only");
  if (f.real_only) c.penalty.where = losses::GpWhere::Real;
  if (f.fake_only) c.penalty.where = losses::GpWhere::Fake;
  if (!f.gp_where.empty()) c.penalty.where = losses::parse_gp_where(f.gp_where);
  MMGAN_CHECK(!(c.no_grad_penalty && c.penalty.augmented),
              "--grad_penalty_aug needs the penalty (drop --no_grad_penalty)");
  c.resolve();
  return c;
}

trainer::RunOptions resume_options(const TrainFlags& f, const std::string& resume_dir, bool resume_given,
                                   int64_t resume_n_iter, bool resume_n_iter_given) {
  trainer::RunOptions o;
  if (!resume_given) {
    MMGAN_CHECK(!resume_n_iter_given, "--resume_n_iter needs --resume (a fresh run takes --n_iter)");
    return o;
  }
  MMGAN_CHECK(!resume_dir.empty(), "--resume needs a run folder, got an empty path");
  o.resume_dir = resume_dir;
  const std::vector<std::string> keys = trainer::resumable_keys();
  for (const CLI::Option* opt : f.app->get_options()) {
    if (opt->count() == 0 || opt->check_name("--resume") || opt->check_name("--resume_n_iter")) continue;
    bool ok = false;
    for (const std::string& k : keys)
      if (opt->check_name("--" + k)) ok = true, o.override_keys.push_back(k);
    MMGAN_CHECK(
        ok, opt->get_name(), " cannot be given with --resume: the checkpoint's configuration is kept (only ",
        "--n_iter, --print_every, --log_every, --margin_every, --save_every, --fid_every, --device and --graph ",
        "may change)");
  }
  o.overrides = f.cfg;
  if (resume_n_iter_given) {
    MMGAN_CHECK(!f.given("--n_iter"), "--resume_n_iter and --n_iter both set the iterations: give one");
    MMGAN_CHECK(resume_n_iter >= 1, "--resume_n_iter must be >= 1, got ", resume_n_iter);
    o.overrides.n_iter = resume_n_iter;
    o.override_keys.push_back("n_iter");
  }
  return o;
}

}  // namespace mmgan::tools
