// TrainConfig: defaults, consistency checks and JSON (nlohmann_json) round trip.
#include "trainer/config.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <nlohmann/json.hpp>

#include "engine/backend.h"
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

void check_run_name(const std::string& name) {
  // The name is one folder inside --output_folder: nothing that climbs out of it or hides a line.
  MMGAN_CHECK(name.size() <= 200, "--run_name is ", name.size(), " characters long (at most 200)");
  MMGAN_CHECK(name != "." && name != "..", "--run_name '", name, "' is not a folder name");
  for (const char ch : name)
    MMGAN_CHECK(ch != '/' && ch != '\\' && (unsigned char)(ch) >= 0x20 && ch != 0x7f,
                "--run_name must be one folder name "
                "without '/', '\\' or control characters (it goes inside --output_folder), got '",
                name, "'");
}

bool TrainConfig::penalty_on() const { return !no_grad_penalty && (grad_penalty || losses::penalty_implied(loss)); }

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
  MMGAN_CHECK(!toy, "--dataset ", dataset,
              ": the 2-d toy sets need an MLP architecture, which `mmgan train` does not "
              "provide yet; use them through the library (data/toy.h)");
  if (leaky_slope < 0) leaky_slope = arch == 1 ? 0.1 : 0.2;
  MMGAN_CHECK(batch_size >= 2, "--batch_size must be >= 2 (BatchNorm and the penalty need a batch), got ", batch_size);
  MMGAN_CHECK(n_iter >= 1, "--n_iter must be >= 1, got ", n_iter);
  MMGAN_CHECK(Diters >= 1 && Giters >= 1, "--Diters and --Giters must be >= 1");
  // NaN fails every comparison, so each number is checked to be finite before its range.
  const std::pair<const char*, double> numbers[] = {{"--lr_D", lr_D},
                                                    {"--lr_G", lr_G},
                                                    {"--beta1", beta1},
                                                    {"--beta2", beta2},
                                                    {"--decay", decay},
                                                    {"--penalty", penalty.lambda},
                                                    {"--weight_decay", weight_decay},
                                                    {"--rho", penalty.rho},
                                                    {"--smoothmax", penalty.smoothmax},
                                                    {"--leaky_slope", leaky_slope}};
  for (const auto& [flag, v] : numbers) MMGAN_CHECK(std::isfinite(v), flag, " must be a finite number, got ", v);
  MMGAN_CHECK(lr_D > 0 && lr_G > 0, "--lr_D and --lr_G must be positive, got ", lr_D, " and ", lr_G);
  MMGAN_CHECK(weight_decay >= 0, "--weight_decay must be >= 0, got ", weight_decay);
  MMGAN_CHECK(penalty.rho >= 0, "--rho must be >= 0, got ", penalty.rho);
  MMGAN_CHECK(penalty.smoothmax > 0, "--smoothmax must be positive, got ", penalty.smoothmax);
  check_run_name(run_name);
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
  try {
    (void)Device::parse(device);  // the one list of device names
  } catch (const Error&) {
    MMGAN_FAIL("--device must be auto, cpu or cuda[:N], got '", device, "'");
  }
  MMGAN_CHECK(dtype == "float32" || dtype == "float64", "--dtype must be float32 or float64, got '", dtype, "'");
  MMGAN_CHECK(graph == "on" || graph == "off", "--graph must be on or off, got '", graph, "'");
  MMGAN_CHECK(fmnist_fit == "pad" || fmnist_fit == "resize", "--fmnist_fit must be pad or resize");
  MMGAN_CHECK(fmnist_fit != "pad" || dataset != "fashion-mnist" || image_size == 32, "--image_size ", image_size,
              " with Fashion-MNIST needs --fmnist_fit resize (padding gives 32x32)");
  MMGAN_CHECK(on_bad_image == "skip" || on_bad_image == "stop", "--on_bad_image must be skip or stop");
  penalty.enabled = penalty_on();
  nn::check_config(net());
}

namespace {

// Field values <-> JSON. Enums are stored by name, the loss by the official number.
template <class T>
json encode(const T& v) {
  return json(v);
}
json encode(losses::GanLoss v) { return int(v); }
json encode(losses::GpNorm v) { return losses::to_string(v); }
json encode(losses::GpForm v) { return losses::to_string(v); }
json encode(losses::GpReduction v) { return losses::to_string(v); }
json encode(losses::GpWhere v) { return losses::to_string(v); }

// Exact types only: 2.5 for an integer field, "1" for a number, 1 for a bool are errors, not casts.
void decode(const json& j, std::string& v) {
  MMGAN_CHECK(j.is_string(), "expected a string");
  v = j.get<std::string>();
}
void decode(const json& j, bool& v) {
  MMGAN_CHECK(j.is_boolean(), "expected true or false");
  v = j.get<bool>();
}
void decode(const json& j, int64_t& v) {
  MMGAN_CHECK(j.is_number_integer() && (!j.is_number_unsigned() || j.get<uint64_t>() <= uint64_t(INT64_MAX)),
              "expected an integer");
  v = j.get<int64_t>();
}
void decode(const json& j, int& v) {
  int64_t w = 0;
  decode(j, w);
  MMGAN_CHECK(w >= INT32_MIN && w <= INT32_MAX, "expected a small integer");
  v = int(w);
}
void decode(const json& j, double& v) {
  MMGAN_CHECK(j.is_number(), "expected a number");
  v = j.get<double>();
}
void decode(const json& j, losses::GanLoss& v) {
  int w = 0;
  decode(j, w);
  v = losses::parse_gan_loss(std::to_string(w));
}
template <class E, class Parse>
void decode_enum(const json& j, E& v, Parse parse) {
  std::string s;
  decode(j, s);
  v = parse(s);
}
void decode(const json& j, losses::GpNorm& v) { decode_enum(j, v, losses::parse_gp_norm); }
void decode(const json& j, losses::GpForm& v) { decode_enum(j, v, losses::parse_gp_form); }
void decode(const json& j, losses::GpReduction& v) { decode_enum(j, v, losses::parse_gp_reduction); }
void decode(const json& j, losses::GpWhere& v) { decode_enum(j, v, losses::parse_gp_where); }

json to_object(const TrainConfig& c) {
  json j;
  visit_fields(c, [&](const char* key, const auto& field, bool) { j[key] = encode(field); });
  return j;
}

}  // namespace

std::vector<std::string> resumable_keys() {
  std::vector<std::string> keys;
  TrainConfig c;
  visit_fields(c, [&](const char* key, const auto&, bool resumable) {
    if (resumable) keys.push_back(key);
  });
  return keys;
}

std::string to_json(const TrainConfig& c) {
  json j = to_object(c);
  j["loss_name"] = losses::gan_loss_name(c.loss);
  j["penalty_on"] = c.penalty_on();
  return j.dump(2);
}

TrainConfig config_from_json(const std::string& text, const std::string& source) {
  json j;
  try {
    j = json::parse(text);
  } catch (const std::exception& e) {
    MMGAN_FAIL(source, ": not a valid configuration (", e.what(), ")");
  }
  MMGAN_CHECK(j.is_object(), source, ": not a valid configuration (not a JSON object)");
  TrainConfig c;
  std::set<std::string> known(std::begin(kDerivedKeys), std::end(kDerivedKeys));
  visit_fields(c, [&](const char* key, auto& field, bool) {
    known.insert(key);
    if (!j.contains(key)) return;
    try {
      decode(j.at(key), field);
    } catch (const std::exception& e) {
      MMGAN_FAIL(source, ": configuration field '", key, "' has a wrong value ", j.at(key).dump(), ": ", e.what());
    }
  });
  for (auto it = j.begin(); it != j.end(); ++it)
    MMGAN_CHECK(known.count(it.key()), source, ": unknown configuration field '", it.key(), "'");
  try {
    c.resolve();
  } catch (const std::exception& e) {
    MMGAN_FAIL(source, ": impossible configuration: ", e.what());
  }
  return c;
}

void copy_fields(const TrainConfig& from, TrainConfig& to, const std::vector<std::string>& keys) {
  const json j = to_object(from);
  visit_fields(to, [&](const char* key, auto& field, bool) {
    if (std::find(keys.begin(), keys.end(), key) != keys.end()) decode(j.at(key), field);
  });
}

std::string first_difference(const TrainConfig& a, const TrainConfig& b, bool fixed_only) {
  const json ja = to_object(a), jb = to_object(b);
  std::string first;
  visit_fields(a, [&](const char* key, const auto&, bool resumable) {
    if (first.empty() && !(fixed_only && resumable) && ja.at(key) != jb.at(key)) first = key;
  });
  return first;
}

}  // namespace mmgan::trainer
