// The mmgan command line:
//   mmgan train      train a GAN (run folder with config, metrics, samples, checkpoints; --resume)
//   mmgan sample     a PNG grid of samples from a checkpoint
//   mmgan step-dump  one iteration's inputs, parameters, losses and gradients, for parity checks
//   mmgan graph      print the graph a gradient-penalty step records (text or Graphviz DOT)
//   mmgan devices    list the backends this build has and the devices they see
//   mmgan train-classifier  train the Fashion-MNIST classifier whose features give a Fréchet distance
//   mmgan fid-stats  feature statistics (mean, covariance) of a data set, the reference of FIDs
//   mmgan fid        the Fréchet distance of a checkpoint's samples to such statistics
//   mmgan margins    the margin lab: 2-d critics and their margins, Figure 2, the ring GAN (lab/)
// Errors print one line naming the flag, file or shape at fault and exit non-zero (1; 3 when
// training stopped on a NaN).
#include <CLI/CLI.hpp>
#include <iostream>

#include "engine/mmgan.h"
#include "tools/margins_command.h"
#include "tools/train_flags.h"
#include "trainer/classifier_training.h"
#include "trainer/commands.h"
#include "trainer/fid.h"
#include "trainer/run.h"
#include "trainer/trainer.h"

namespace {

using namespace mmgan;

// A two-layer critic on 2-d points and its L-inf hinge gradient penalty at interpolates: the
// smallest graph that shows every stage of double backprop.
int graph_command(const std::string& format, const std::string& norm, bool outer) {
  Generator g(0);
  Tensor w1 = (randn({8, 2}, g, DType::F64) * 0.5).detach().requires_grad_(true).set_name("W1");
  Tensor b1 = zeros({8}, DType::F64).requires_grad_(true).set_name("b1");
  Tensor w2 = (randn({1, 8}, g, DType::F64) * 0.5).detach().requires_grad_(true).set_name("W2");
  Tensor xr = randn({4, 2}, g, DType::F64), xf = randn({4, 2}, g, DType::F64), u = rand({4, 1}, g, DType::F64);
  Tensor xhat = (u * xr + (1.0 - u) * xf).detach().requires_grad_(true).set_name("xhat");
  Tensor c = linear(leaky_relu(linear(xhat, w1, b1), 0.2), w2);
  GradOptions opts;
  opts.create_graph = true;
  Tensor gx = grad({sum(c)}, {xhat}, {}, opts)[0];
  const kernels::RowOp op = norm == "l1"   ? kernels::RowOp::L1
                            : norm == "l2" ? kernels::RowOp::L2
                                           : kernels::RowOp::LInf;
  Tensor penalty = 20.0 * mean(relu(reduce_per_sample(gx, op) - 1.0));
  std::vector<Tensor> roots{penalty};
  if (outer) {
    // b1 reaches the penalty only through LeakyReLU's mask, a constant: its gradient is undefined.
    opts.allow_unused = true;
    roots.clear();
    for (const Tensor& g2 : grad({penalty}, {w1, b1, w2}, {}, opts))
      if (g2.defined()) roots.push_back(g2);
  }
  std::cout << (format == "dot" ? graph_to_dot(roots) : graph_to_text(roots));
  if (format != "dot") {
    const GraphStats s = graph_stats(roots);
    std::cout << s.nodes << " nodes: " << s.by_order[0] << " forward, " << s.by_order[1] << " recorded by the first "
              << "backward, " << s.by_order[2] << " by the second\n";
  }
  return 0;
}

int devices_command() {
  std::cout << describe_devices();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mmgan: maximum-margin GANs with gradient penalties, from scratch in C++/CUDA"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("mmgan ") + "0.1");

  std::string format = "text", norm = "linf";
  bool outer = false;
  auto* graph = app.add_subcommand("graph", "Print the graph a gradient-penalty step records (double backprop)");
  graph->add_option("--format", format, "text or dot (Graphviz)")->check(CLI::IsMember({"text", "dot"}));
  graph->add_option("--norm", norm, "gradient norm of the penalty")->check(CLI::IsMember({"l1", "l2", "linf"}));
  graph->add_flag("--outer", outer, "also differentiate the penalty w.r.t. the critic's weights (second order)");

  auto* devices = app.add_subcommand("devices", "List the backends of this build and their devices");

  tools::TrainFlags train_flags;
  std::string resume;
  int64_t resume_n_iter = -1;
  auto* train = app.add_subcommand(
      "train",
      "Train a GAN. Defaults: DCGAN32 on Fashion-MNIST (Debian's dataset-fashion-mnist), HingeGAN + L-infinity hinge "
      "gradient penalty, lambda 20 (the paper's best setting), Adam 2e-4 (0.5, 0.999), batch 32.");
  tools::add_train_flags(train, train_flags);
  auto* resume_opt = train->add_option(
      "--resume", resume,
      "continue the run in this run folder from its checkpoint (bit-identical); its configuration is kept, only "
      "--n_iter, --print_every, --log_every, --margin_every, --save_every, --fid_every, --device and --graph may be "
      "given with it");
  auto* resume_n_iter_opt =
      train->add_option("--resume_n_iter", resume_n_iter, "with --resume: train to this many iterations (= --n_iter)");

  std::string ckpt, out = "samples.png";
  int64_t n = 64, sample_seed = 0;
  bool running_stats = false;
  auto* sample = app.add_subcommand("sample", "Write a PNG grid of samples from a checkpoint");
  sample->add_option("--checkpoint", ckpt, "checkpoint.safetensors of a run")->required();
  sample->add_option("--n", n, "number of samples")->capture_default_str();
  sample->add_option("--out", out, "PNG file")->capture_default_str();
  sample->add_option("--seed", sample_seed, "seed of z")->capture_default_str();
  sample->add_flag("--running_stats", running_stats, "G in eval mode (BatchNorm running statistics)");
  std::string sample_device = "auto";
  sample->add_option("--device", sample_device, tools::kDeviceHelp)->capture_default_str();

  tools::TrainFlags dump_flags;
  dump_flags.cfg.device = "cpu";  // the reference the dumps are compared with, unless asked
  std::string dump_out;
  auto* dump =
      app.add_subcommand("step-dump",
                         "Run one iteration from the seed and write its inputs, parameters, losses and every gradient "
                         "(official key names) as safetensors, to compare the engine with another framework");
  tools::add_train_flags(dump, dump_flags);
  dump->add_option("--out", dump_out, "output .safetensors")->required();

  // Defaults: the recipe of the shipped models/weights/fmnist_classifier.safetensors.
  trainer::ClassifierConfig cls;
  auto* train_cls = app.add_subcommand(
      "train-classifier",
      "Train the Fashion-MNIST classifier (models/fmnist_classifier.h) whose 128-d penultimate features give a "
      "Frechet distance for Fashion-MNIST GANs: Adam, cosine learning rate per step, a fresh shuffle per epoch; "
      "prints loss and train/test accuracy per epoch and writes the weights (safetensors, recipe in the metadata). "
      "The defaults reproduce the shipped weights.");
  train_cls->add_option("--data", cls.data_dir, "folder with Fashion-MNIST's idx files (train and t10k)")
      ->capture_default_str();
  train_cls->add_option("--epochs", cls.epochs, "passes over the 60,000 training images")->capture_default_str();
  train_cls->add_option("--batch_size", cls.batch_size, "images per step")->capture_default_str();
  train_cls->add_option("--lr", cls.lr, "Adam's initial learning rate, cosine-annealed towards 0")
      ->capture_default_str();
  train_cls->add_option("--seed", cls.seed, "initialisation and shuffles")->capture_default_str();
  train_cls->add_option("--device", cls.device, "cpu or cuda[:N]")->capture_default_str();
  train_cls->add_option("--threads", cls.threads, "OpenMP threads (0: OMP_NUM_THREADS)")->capture_default_str();
  train_cls->add_option("--out", cls.out, "the weight file to write (.safetensors)")->required();

  // FID: the data flags of `train` choose the data set of fid-stats.
  const std::string features_help =
      "inception: the FID Inception-v3 (2048-d, comparable with published FIDs; weights converted from pytorch-fid's "
      "file by tools/convert_inception_weights.py); fmnist: the shipped Fashion-MNIST classifier (128-d, offline, "
      "1x32x32 images only); auto: fmnist for 1x32x32 data, else inception";
  const std::string weights_help =
      "weights of the feature network (default: inception $MMGAN_INCEPTION_WEIGHTS or "
      "~/.cache/mmgan/inception-fid.safetensors; fmnist models/weights/fmnist_classifier.safetensors)";
  tools::TrainFlags stats_flags;
  trainer::FidOptions stats_opts;
  std::string stats_out;
  auto* fid_stats = app.add_subcommand(
      "fid-stats",
      "Write the feature statistics (float64 mean and covariance) of a data set, the reference of `mmgan "
      "fid` and `mmgan train --fid_every`. The data set is chosen with train's data flags");
  tools::add_data_flags(fid_stats, stats_flags);
  fid_stats->add_option("--features", stats_opts.features, features_help)->capture_default_str();
  fid_stats->add_option("--feature_weights", stats_opts.feature_weights, weights_help);
  fid_stats->add_option("--n", stats_opts.n, "the first N images (0: all)")->capture_default_str();
  fid_stats->add_option("--batch", stats_opts.batch_size, "images per feature batch (0: 50)")->capture_default_str();
  fid_stats->add_option("--device", stats_opts.device, tools::kDeviceHelp)->capture_default_str();
  fid_stats->add_option("--out", stats_out, "output .safetensors")->required();

  trainer::FidOptions fid_opts;
  std::string fid_ckpt, fid_ref;
  auto* fid = app.add_subcommand(
      "fid",
      "The Fréchet distance (FID with Inception features) of a checkpoint's samples to statistics from "
      "`mmgan fid-stats`, with the feature network those statistics were computed with");
  fid->add_option("--checkpoint", fid_ckpt, "checkpoint.safetensors (or best.safetensors) of a run")->required();
  fid->add_option("--stats", fid_ref, "reference statistics from `mmgan fid-stats`")->required();
  fid->add_option("--n", fid_opts.n, "number of samples (0: 50000, the FID convention)")->capture_default_str();
  fid->add_option("--batch", fid_opts.batch_size,
                  "samples per batch (0: the run's training batch size, which "
                  "matters: G's BatchNorm uses batch statistics)")
      ->capture_default_str();
  fid->add_option("--seed", fid_opts.seed, "seed of z")->capture_default_str();
  fid->add_flag("--running_stats", fid_opts.running_stats, "G in eval mode (BatchNorm running statistics)");
  fid->add_option("--features", fid_opts.features, "must match the statistics (auto: take theirs)")
      ->capture_default_str();
  fid->add_option("--feature_weights", fid_opts.feature_weights, weights_help);
  fid->add_option("--device", fid_opts.device, tools::kDeviceHelp)->capture_default_str();

  lab::MarginLabOptions margin_opts;
  auto* margins = tools::add_margins_command(app, margin_opts);

  const std::vector<std::string> args = tools::normalise_bool_args(argc, argv);
  std::vector<const char*> cargs;
  for (const std::string& a : args) cargs.push_back(a.c_str());
  CLI11_PARSE(app, int(cargs.size()), const_cast<char**>(cargs.data()));
  try {
    (void)process_count();  // joins the job's process group when started by mpirun (kernels/collective.h)
    if (graph->parsed()) return graph_command(format, norm, outer);
    if (devices->parsed()) return devices_command();
    if (train_cls->parsed()) trainer::train_classifier(cls, std::cout);
    if (fid_stats->parsed()) trainer::fid_stats_command(tools::finish_train_flags(stats_flags), stats_opts, stats_out);
    if (fid->parsed()) trainer::fid_command(fid_ckpt, fid_ref, fid_opts);
    if (margins->parsed()) lab::margin_lab(margin_opts);
    if (train->parsed()) {
      const trainer::RunOptions o = tools::resume_options(train_flags, resume, resume_opt->count() > 0, resume_n_iter,
                                                          resume_n_iter_opt->count() > 0);
      trainer::train(o.resume_dir.empty() ? tools::finish_train_flags(train_flags) : trainer::TrainConfig{}, o);
    }
    if (sample->parsed()) {
      trainer::sample_from_checkpoint(ckpt, n, uint64_t(sample_seed), out, running_stats, sample_device);
      std::cout << "wrote " << out << "\n";
    }
    if (dump->parsed()) {
      trainer::step_dump(tools::finish_train_flags(dump_flags), dump_out);
      std::cout << "wrote " << dump_out << "\n";
    }
  } catch (const trainer::Diverged& e) {
    trainer::abort_job_if_distributed(e.what(), 3);  // every rank ends, none waits in a collective
    std::cerr << "mmgan: " << e.what() << "\n";
    return 3;
  } catch (const std::exception& e) {
    trainer::abort_job_if_distributed(e.what(), 1);
    std::cerr << "mmgan: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
