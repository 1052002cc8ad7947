// Reference statistics of data sets, statistics of generator samples, and the two fid commands
// (fid.h).
#include "trainer/fid.h"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <numeric>
#include <unistd.h>

#include "engine/autograd/grad_mode.h"
#include "engine/random.h"
#include "eval/fid.h"
#include "trainer/commands.h"
#include "trainer/trainer.h"

namespace mmgan::trainer {

namespace {

// One status line per batch on a terminal (overwritten), none otherwise: FID runs inside training
// runs whose logs should stay one line per event.
std::function<void(int64_t, int64_t)> progress_line(const std::string& what, bool show) {
  if (!show || !::isatty(STDERR_FILENO)) return {};
  const auto start = std::chrono::steady_clock::now();
  return [what, start](int64_t done, int64_t n) {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "\r%s: %lld/%lld images, %.1f images/s   ", what.c_str(), static_cast<long long>(done),
                 static_cast<long long>(n), double(done) / std::max(s, 1e-9));
    if (done == n) std::fprintf(stderr, "\n");
  };
}

std::string feature_kind(const std::string& name) {
  if (name.rfind("inception", 0) == 0) return "inception";
  if (name.rfind("fmnist", 0) == 0) return "fmnist";
  return name;
}

}  // namespace

std::string resolve_features(const std::string& kind, const Shape& s) {
  if (kind != "auto") return kind;
  return s.size() == 3 && s[0] == 1 && s[1] == 32 && s[2] == 32 ? "fmnist" : "inception";
}

eval::GaussianStats dataset_stats(const data::Dataset& ds, eval::FeatureExtractor& fx, int64_t n, int64_t batch,
                                  bool show_progress) {
  MMGAN_CHECK(ds.sample_shape.size() == 3, ds.name, ": Fréchet distances need images, not ", ds.name);
  if (n <= 0) n = ds.count;
  MMGAN_CHECK(n <= ds.count, "--n ", n, " is more than the ", ds.count, " images of ", ds.source);
  int64_t next = 0;
  auto images = [&](int64_t k) {
    std::vector<int64_t> idx(size_t(k), 0);
    std::iota(idx.begin(), idx.end(), next);
    next += k;
    return ds.gather(idx);
  };
  return eval::image_stats(images, n, batch, fx, ds.name + " (" + ds.source + ", first " + std::to_string(n) + ")",
                           progress_line("features of " + ds.name, show_progress));
}

eval::GaussianStats generator_stats(nn::Module& G, int64_t z_size, DType dtype, Device device,
                                    eval::FeatureExtractor& fx, int64_t n, int64_t batch, uint64_t seed,
                                    bool show_progress) {
  Generator gen(seed);
  auto images = [&](int64_t k) {
    NoGradGuard ng;
    return G(randn({k, z_size, 1, 1}, gen, dtype, device));
  };
  return eval::image_stats(images, n, batch, fx, "generator samples (seed " + std::to_string(seed) + ")",
                           progress_line("features of samples", show_progress));
}

void fid_stats_command(TrainConfig data, const FidOptions& o, const std::string& out) {
  data.resolve();
  const auto ds = load_dataset(data);
  const std::string kind = resolve_features(o.features, ds->sample_shape);
  auto fx = eval::make_feature_extractor(kind, o.feature_weights, Device::parse(o.device));
  const auto t0 = std::chrono::steady_clock::now();
  const eval::GaussianStats s = dataset_stats(*ds, *fx, o.n, o.batch_size > 0 ? o.batch_size : 50, true);
  eval::save_stats(out, s);
  std::cout << "wrote " << out << ": " << s.features << " statistics of " << s.count << " images of " << s.source
            << " in " << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s\n";
}

double fid_command(const std::string& checkpoint, const std::string& stats_path, const FidOptions& o) {
  const eval::GaussianStats ref = eval::load_stats(stats_path);
  const std::string kind = feature_kind(ref.features);
  MMGAN_CHECK(o.features == "auto" || o.features == kind, "--features ", o.features, " does not match ", stats_path,
              ", which holds ", ref.features, " statistics");
  const Device device = Device::parse(o.device);
  TrainConfig cfg;
  Generator init(0);  // every value is replaced by the checkpoint's
  auto G = generator_from_checkpoint(checkpoint, init, &cfg);
  G->to(device);
  G->train(!o.running_stats);
  auto fx = eval::make_feature_extractor(kind, o.feature_weights, device);
  const int64_t n = o.n > 0 ? o.n : 50000;
  const auto t0 = std::chrono::steady_clock::now();
  const eval::GaussianStats s = generator_stats(*G, cfg.z_size, cfg.net().dtype, device, *fx, n,
                                                o.batch_size > 0 ? o.batch_size : cfg.batch_size, o.seed, true);
  const eval::FrechetResult r = eval::frechet_distance(s, ref);
  std::cout << (kind == "inception" ? "FID " : "Fréchet distance (" + ref.features + ") ") << r.distance << "  (" << n
            << " samples of " << checkpoint << " vs " << ref.count << " images of " << ref.source << ", "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s"
            << (r.used_eps_fallback ? "; covariance product singular: eps added, as pytorch-fid does" : "") << ")\n";
  return r.distance;
}

}  // namespace mmgan::trainer
