// TrainConfig: defaults, consistency checks and JSON (nlohmann_json) round trip.
#include "config.h"

#include <nlohmann/json.hpp>

#include "engine/error.h"

namespace mmgan::trainer {

using nlohmann::json;

nn::NetConfig TrainConfig::net() const {
  nn::NetConfig n;
  n.arch = arch == 1 ? nn::Arch::StandardCNN : nn::Arch::DCGAN;
  n.image_size = image_size;
  n.n_colors = n_colors;
  n.z_size = z_size;
  n.G_h_size = G_h_size;
  n.D_h_size = D_h_size;
  n.batch_norm_G = !no_batch_norm_G;
  n.batch_norm_D = !no_batch_norm_D;
  n.spectral_G = spectral_G;
  n.spectral_D = spectral;
  n.leaky_slope = leaky_slope;
  n.dtype = dtype == "float64" ? DType::F64 : DType::F32;
  return n;
}

bool TrainConfig::penalty_on() const {
  return !no_grad_penalty && (grad_penalty || losses::penalty_implied(loss));
}

void TrainConfig::resolve() {
  const bool toy = dataset.rfind("toy-", 0) == 0;
  MMGAN_CHECK(dataset == "fashion-mnist" || dataset == "cifar10" || dataset == "folder" || toy,
              "--dataset: unknown data set '", dataset, "' (fashion-mnist, cifar10, folder, toy-ring8, toy-segment)");
  MMGAN_CHECK(dataset != "folder" || !input_folder.empty(), "--dataset folder needs --input_folder");
  MMGAN_CHECK(dataset != "cifar10" || !input_folder.empty(),
              "--dataset cifar10 needs --input_folder (cifar-10-batches-bin directory or a .bin file)");
  if (dataset == "fashion-mnist") {
    MMGAN_CHECK(n_colors == 1 || n_colors == -1, "--n_colors: Fashion-MNIST has 1 colour, got ", n_colors);
    n_colors = 1;
  } else if (n_colors == -1) {
    n_colors = 3;
  }
  MMGAN_CHECK(arch == 0 || arch == 1, "--arch must be 0 (DCGAN) or 1 (standard CNN), got ", arch);
  MMGAN_CHECK(!toy, "--dataset ", dataset, ": the 2-d toy sets need an MLP architecture, which `mmgan train` does not "
              "provide yet; use them through the library (data/toy.h)");
  if (leaky_slope < 0) leaky_slope = arch == 1 ? 0.1 : 0.2;
  MMGAN_CHECK(batch_size >= 2, "--batch_size must be >= 2 (BatchNorm and the penalty need a batch), got ", batch_size);
  MMGAN_CHECK(n_iter >= 1, "--n_iter must be >= 1, got ", n_iter);
  MMGAN_CHECK(Diters >= 1 && Giters >= 1, "--Diters and --Giters must be >= 1");
  MMGAN_CHECK(lr_D > 0 && lr_G > 0, "--lr_D and --lr_G must be positive");
  MMGAN_CHECK(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1, "--beta1 and --beta2 must be in [0, 1)");
  MMGAN_CHECK(decay >= 0 && decay < 1, "--decay must be in [0, 1), got ", decay);
  MMGAN_CHECK(z_size >= 1 && G_h_size >= 1 && D_h_size >= 1, "--z_size, --G_h_size and --D_h_size must be positive");
  MMGAN_CHECK(penalty.lambda >= 0, "--penalty (lambda) must be >= 0, got ", penalty.lambda);
  MMGAN_CHECK(print_every >= 1 && log_every >= 1 && margin_every >= 1 && save_every >= 1,
              "--print_every, --log_every, --margin_every and --save_every must be >= 1");
  MMGAN_CHECK(fid_every >= 0, "--fid_every must be >= 0 (0: no FID), got ", fid_every);
  MMGAN_CHECK(fid_n >= 2, "--fid_n must be >= 2, got ", fid_n);
  MMGAN_CHECK(fid_features == "auto" || fid_features == "inception" || fid_features == "fmnist",
              "--fid_features must be auto, inception or fmnist, got '", fid_features, "'");
  MMGAN_CHECK(n_samples >= 1, "--n_samples must be >= 1");
  MMGAN_CHECK(device == "cpu" || device == "cuda" || device.rfind("cuda:", 0) == 0,
              "--device must be cpu or cuda[:N], got '", device, "'");
  MMGAN_CHECK(dtype == "float32" || dtype == "float64", "--dtype must be float32 or float64, got '", dtype, "'");
  MMGAN_CHECK(graph == "on" || graph == "off", "--graph must be on or off, got '", graph, "'");
  MMGAN_CHECK(fmnist_fit == "pad" || fmnist_fit == "resize", "--fmnist_fit must be pad or resize");
  MMGAN_CHECK(fmnist_fit != "pad" || dataset != "fashion-mnist" || image_size == 32,
              "--image_size ", image_size, " with Fashion-MNIST needs --fmnist_fit resize (padding gives 32x32)");
  MMGAN_CHECK(on_bad_image == "skip" || on_bad_image == "stop", "--on_bad_image must be skip or stop");
  penalty.enabled = penalty_on();
  nn::check_config(net());
}

std::string to_json(const TrainConfig& c) {
  json j;
  j["dataset"] = c.dataset;
  j["input_folder"] = c.input_folder;
  j["image_size"] = c.image_size;
  j["n_colors"] = c.n_colors;
  j["centercrop"] = c.centercrop;
  j["fmnist_fit"] = c.fmnist_fit;
  j["on_bad_image"] = c.on_bad_image;
  j["arch"] = c.arch;
  j["z_size"] = c.z_size;
  j["G_h_size"] = c.G_h_size;
  j["D_h_size"] = c.D_h_size;
  j["no_batch_norm_G"] = c.no_batch_norm_G;
  j["no_batch_norm_D"] = c.no_batch_norm_D;
  j["spectral"] = c.spectral;
  j["spectral_G"] = c.spectral_G;
  j["leaky_slope"] = c.leaky_slope;
  j["batch_size"] = c.batch_size;
  j["n_iter"] = c.n_iter;
  j["Diters"] = c.Diters;
  j["Giters"] = c.Giters;
  j["lr_D"] = c.lr_D;
  j["lr_G"] = c.lr_G;
  j["beta1"] = c.beta1;
  j["beta2"] = c.beta2;
  j["decay"] = c.decay;
  j["weight_decay"] = c.weight_decay;
  j["seed"] = c.seed;
  j["resample"] = c.resample;
  j["loss_D"] = int(c.loss);
  j["loss_name"] = losses::gan_loss_name(c.loss);
  j["grad_penalty"] = c.grad_penalty;
  j["no_grad_penalty"] = c.no_grad_penalty;
  j["penalty_on"] = c.penalty_on();
  j["penalty"] = c.penalty.lambda;
  j["gp_norm"] = losses::to_string(c.penalty.norm);
  j["penalty_type"] = losses::to_string(c.penalty.form);
  j["reduction"] = losses::to_string(c.penalty.reduction);
  j["gp_where"] = losses::to_string(c.penalty.where);
  j["smoothmax"] = c.penalty.smoothmax;
  j["grad_penalty_aug"] = c.penalty.augmented;
  j["rho"] = c.penalty.rho;
  j["output_folder"] = c.output_folder;
  j["run_name"] = c.run_name;
  j["print_every"] = c.print_every;
  j["log_every"] = c.log_every;
  j["margin_every"] = c.margin_every;
  j["save_every"] = c.save_every;
  j["n_samples"] = c.n_samples;
  j["fid_every"] = c.fid_every;
  j["fid_n"] = c.fid_n;
  j["fid_features"] = c.fid_features;
  j["fid_weights"] = c.fid_weights;
  j["fid_stats"] = c.fid_stats;
  j["device"] = c.device;
  j["dtype"] = c.dtype;
  j["graph"] = c.graph;
  return j.dump(2);
}

TrainConfig config_from_json(const std::string& text, const std::string& source) {
  json j;
  try {
    j = json::parse(text);
  } catch (const std::exception& e) {
    MMGAN_FAIL(source, ": not a valid configuration (", e.what(), ")");
  }
  TrainConfig c;
  auto get = [&](const char* key, auto& field) {
    if (!j.contains(key)) return;
    try {
      j.at(key).get_to(field);
    } catch (const std::exception& e) {
      MMGAN_FAIL(source, ": configuration field '", key, "' has the wrong type (", e.what(), ")");
    }
  };
  get("dataset", c.dataset);
  get("input_folder", c.input_folder);
  get("image_size", c.image_size);
  get("n_colors", c.n_colors);
  get("centercrop", c.centercrop);
  get("fmnist_fit", c.fmnist_fit);
  get("on_bad_image", c.on_bad_image);
  get("arch", c.arch);
  get("z_size", c.z_size);
  get("G_h_size", c.G_h_size);
  get("D_h_size", c.D_h_size);
  get("no_batch_norm_G", c.no_batch_norm_G);
  get("no_batch_norm_D", c.no_batch_norm_D);
  get("spectral", c.spectral);
  get("spectral_G", c.spectral_G);
  get("leaky_slope", c.leaky_slope);
  get("batch_size", c.batch_size);
  get("n_iter", c.n_iter);
  get("Diters", c.Diters);
  get("Giters", c.Giters);
  get("lr_D", c.lr_D);
  get("lr_G", c.lr_G);
  get("beta1", c.beta1);
  get("beta2", c.beta2);
  get("decay", c.decay);
  get("weight_decay", c.weight_decay);
  get("seed", c.seed);
  get("resample", c.resample);
  int loss = int(c.loss);
  get("loss_D", loss);
  c.loss = losses::parse_gan_loss(std::to_string(loss));
  get("grad_penalty", c.grad_penalty);
  get("no_grad_penalty", c.no_grad_penalty);
  get("penalty", c.penalty.lambda);
  std::string s;
  if (j.contains("gp_norm")) get("gp_norm", s), c.penalty.norm = losses::parse_gp_norm(s);
  if (j.contains("penalty_type")) get("penalty_type", s), c.penalty.form = losses::parse_gp_form(s);
  if (j.contains("reduction")) get("reduction", s), c.penalty.reduction = losses::parse_gp_reduction(s);
  if (j.contains("gp_where")) get("gp_where", s), c.penalty.where = losses::parse_gp_where(s);
  get("smoothmax", c.penalty.smoothmax);
  get("grad_penalty_aug", c.penalty.augmented);
  get("rho", c.penalty.rho);
  get("output_folder", c.output_folder);
  get("run_name", c.run_name);
  get("print_every", c.print_every);
  get("log_every", c.log_every);
  get("margin_every", c.margin_every);
  get("save_every", c.save_every);
  get("n_samples", c.n_samples);
  get("fid_every", c.fid_every);
  get("fid_n", c.fid_n);
  get("fid_features", c.fid_features);
  get("fid_weights", c.fid_weights);
  get("fid_stats", c.fid_stats);
  get("device", c.device);
  get("dtype", c.dtype);
  get("graph", c.graph);
  c.penalty.enabled = c.penalty_on();
  return c;
}

}  // namespace mmgan::trainer
