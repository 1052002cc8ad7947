// The loop of run.h. Metrics are one JSON object per line, flushed as written, so a crash keeps
// everything up to the crash; resuming drops the lines after the checkpoint's iteration.
#include "trainer/run.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "trainer/distributed.h"
#include "engine/distributed.h"
#include "engine/safetensors.h"
#include "trainer/fid.h"
#include "trainer/memory_estimate.h"
#include "trainer/metrics_log.h"
#include "trainer/run_folder.h"
#include "trainer/trainer.h"

namespace mmgan::trainer {

namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  MMGAN_CHECK(f.good(), "cannot read ", p.string());
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string exact_short(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string duration(double s) {
  char buf[32];
  const long t = long(s + 0.5);
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else
    std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  return buf;
}

// --fid_every: the feature network and reference statistics, set up once (the statistics computed
// from the training data unless --fid_stats names a file, and kept in the run folder for resumes),
// and the best value so far, whose checkpoint is kept as best.safetensors.
class FidTracker {
 public:
  FidTracker(const TrainConfig& c, Trainer& t, const fs::path& dir, const MetricsLog& metrics)
      : c_(c), t_(t), dir_(dir) {
    if (c.fid_every <= 0) return;
    const std::string kind = resolve_features(c.fid_features, t.dataset().sample_shape);
    fx_ = eval::make_feature_extractor(kind, c.fid_weights, t.device());
    const fs::path kept = dir / "fid_stats.safetensors";
    if (!c.fid_stats.empty()) {
      ref_ = eval::load_stats(c.fid_stats);
    } else if (fs::exists(kept)) {
      ref_ = eval::load_stats(kept.string());
    } else {
      const int64_t n = std::min<int64_t>(t.dataset().count, 50000);
      std::cout << "computing " << fx_->name() << " statistics of " << n << " training images for --fid_every"
                << std::endl;
      ref_ = dataset_stats(t.dataset(), *fx_, n, 50, true);
      eval::save_stats(kept.string(), ref_);
    }
    MMGAN_CHECK(ref_.features == fx_->name(), "--fid_stats ", c.fid_stats, " holds ", ref_.features,
                " statistics, but --fid_features gives ", fx_->name());
    best_ = metrics.min_of("fid");  // a resumed run continues with the best value it had logged
  }

  bool due(int64_t done) const { return fx_ && (done % c_.fid_every == 0 || done == c_.n_iter); }

  void evaluate(int64_t done, nlohmann::json& m, bool tty) {
    const auto t0 = std::chrono::steady_clock::now();
    const eval::FrechetResult r = t_.fid(*fx_, ref_, c_.fid_n);
    const bool better = r.distance < best_;
    if (better) {
      best_ = r.distance;
      t_.save_checkpoint((dir_ / "best.safetensors").string());
    }
    m["fid"] = r.distance;
    m["fid_best"] = best_;
    m["fid_features"] = fx_->name();
    std::cout << (tty ? "\n" : "") << "iter " << done << ": Fréchet distance (" << fx_->name() << ", " << c_.fid_n
              << " samples) " << r.distance << (better ? ", the best so far: best.safetensors" : "") << " ("
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s)" << std::endl;
  }

 private:
  const TrainConfig& c_;
  Trainer& t_;
  fs::path dir_;
  std::unique_ptr<eval::FeatureExtractor> fx_;
  eval::GaussianStats ref_;
  double best_ = INFINITY;
};

// The progress line: a bar on a terminal, one plain line per log otherwise.
void print_progress(const TrainConfig& c, int64_t done, const StepStats& s, double rate, double sec_per_iter,
                    bool tty) {
  const double eta = double(c.n_iter - done) / std::max(rate, 1e-9);
  char line[256];
  if (tty) {
    const int width = 30, filled = int(double(width) * double(done) / double(c.n_iter));
    std::string bar = std::string(size_t(filled), '#') + std::string(size_t(width - filled), '.');
    std::snprintf(line, sizeof line, "\r%lld/%lld [%s] %.2f it/s ETA %s  D %.4f G %.4f pen %.4f   ",
                  static_cast<long long>(done), static_cast<long long>(c.n_iter), bar.c_str(), rate,
                  duration(eta).c_str(), s.loss_D, s.loss_G, s.penalty);
    std::cout << line << std::flush;
  } else {
    std::snprintf(line, sizeof line,
                  "iter %lld/%lld  D %.4f  G %.4f  penalty %.4f  |grad| %.3f/%.3f  %.3f s/it  ETA %s",
                  static_cast<long long>(done), static_cast<long long>(c.n_iter), s.loss_D, s.loss_G, s.penalty,
                  s.grad_norm_mean, s.grad_norm_max, sec_per_iter, duration(eta).c_str());
    std::cout << line << std::endl;
  }
}

// --resume: the checkpoint's configuration is the authority. config.json must agree with it on
// every field a resume cannot change; the resumable fields given as flags are applied.
TrainConfig resumed_config(const RunFolder& dir, const SafeTensors& st, const RunOptions& opts) {
  const fs::path ckpt = dir / "checkpoint.safetensors", cfg_path = dir / "config.json";
  TrainConfig c = checkpoint_config(st, ckpt.string());
  const TrainConfig on_disk = config_from_json(read_file(cfg_path), cfg_path.string());
  const std::string differs = first_difference(c, on_disk, /*fixed_only=*/true);
  MMGAN_CHECK(differs.empty(), cfg_path.string(), ": '", differs, "' differs from the checkpoint's configuration (",
              ckpt.string(), "), which a resume keeps; restore it, or start a new run to change it");
  copy_fields(opts.overrides, c, opts.override_keys);
  c.resolve();
  return c;
}

}  // namespace

std::string train(TrainConfig cfg, const RunOptions& opts) {
  if (process_rank() != 0) return follow(), std::string();  // rank 0 owns the run folder (distributed.h)
  const bool resuming = !opts.resume_dir.empty();
  if (!resuming) cfg.resolve();
  if (!resuming) local_batch_size(cfg.batch_size);  // splits across the ranks? checked before a folder is made
  RunFolder dir = resuming ? RunFolder::open(opts.resume_dir) : RunFolder::create(cfg);
  const fs::path ckpt = dir / "checkpoint.safetensors";
  SafeTensors resumed;  // the checkpoint, read once for its configuration and its state
  if (resuming) {
    resumed = load_safetensors(ckpt.string());
    cfg = resumed_config(dir, resumed, opts);
  }
  lead(cfg, resuming ? ckpt.string() : std::string());
  Trainer t(cfg);
  if (resuming) {
    t.load_checkpoint(resumed, ckpt.string());
    MMGAN_CHECK(t.iteration() <= cfg.n_iter, "--n_iter ", cfg.n_iter, ": the run in ", dir.path().string(),
                " is already at iteration ", t.iteration());
    std::cerr << "resuming " << dir.path().string() << " at iteration " << t.iteration() << "\n";
  }
  write_file_atomic((dir / "config.json").string(), to_json(t.config()) + "\n");
  MetricsLog metrics(dir / "metrics.jsonl", resuming ? t.iteration() : -1);  // a fresh folder has none to drop

  const TrainConfig& c = t.config();
  const bool tty = ::isatty(STDOUT_FILENO);
  FidTracker fid(c, t, dir.path(), metrics);
  int64_t last_saved = resuming ? t.iteration() : -1;
  std::cout << "run folder " << dir.path().string() << ": " << losses::gan_loss_name(c.loss)
            << (c.penalty_on() ? " + " + losses::to_string(c.penalty.norm) + " " + losses::to_string(c.penalty.form) +
                                     " penalty (lambda " + exact_short(c.penalty.lambda) + ")"
                               : std::string(" (no penalty)"))
            << ", " << t.dataset().name << " (" << t.dataset().count << " samples"
            << (t.dataset().skipped ? ", " + std::to_string(t.dataset().skipped) + " unreadable files skipped" : "")
            << "), " << c.n_iter << " iterations on " << t.device().str()
            << (c.device == "auto" ? " (--device auto)" : "") << ", memory at least "
            << human_bytes(estimate_memory(c).total()) << std::endl;
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  auto window = start;
  int64_t window_iters = 0;
  const int64_t first = t.iteration();
  auto samples_path = [&](int64_t i) {
    char name[32];
    std::snprintf(name, sizeof name, "iter_%06lld.png", static_cast<long long>(i));
    return (dir / "samples" / name).string();
  };
  // Iterations do not wait for the device; the NaN check reads its record before anything is
  // logged or saved, so a diverged run never overwrites the last good checkpoint.
  auto stop = [&](const Diverged& e) {
    std::string msg = e.what();
    msg += last_saved >= 0 ? "; the last good checkpoint is " + ckpt.string() + " (iteration " +
                                 std::to_string(last_saved) + "), left untouched"
                           : std::string("; no checkpoint had been written yet");
    std::cout << (tty ? "\n" : "") << msg << std::endl;
    throw Diverged(msg);
  };
  auto check_finite = [&] {
    try {
      t.check_finite();
    } catch (const Diverged& e) {
      stop(e);
    }
  };
  while (t.iteration() < c.n_iter) {
    const int64_t i = t.iteration();
    if (i % c.print_every == 0) {
      check_finite();
      t.save_samples(samples_path(i));
    }
    t.step();
    ++window_iters;
    const int64_t done = i + 1;
    const bool log_now = done % c.log_every == 0 || done == c.n_iter;
    const bool margin_now = done % c.margin_every == 0;
    const bool fid_now = fid.due(done);
    const bool save_now = done % c.save_every == 0 || done == c.n_iter;
    if (log_now || margin_now || fid_now || save_now) check_finite();
    if (log_now || margin_now || fid_now) {
      const StepStats s = t.stats();
      const auto now = clock::now();
      nlohmann::json m;
      m["iter"] = i;
      m["loss_D"] = s.loss_D;
      m["loss_G"] = s.loss_G;
      if (c.penalty_on()) {
        m["penalty"] = s.penalty;
        m["grad_norm_mean"] = s.grad_norm_mean;
        m["grad_norm_max"] = s.grad_norm_max;
        m["penalty_active"] = s.penalty_active;
      }
      const double sec_per_iter = std::chrono::duration<double>(now - window).count() / double(window_iters);
      m["sec_per_iter"] = sec_per_iter;
      if (margin_now) {
        const auto [mr, mf] = t.margins();
        m["margin_real"] = mr;
        m["margin_fake"] = mf;
      }
      if (fid_now) fid.evaluate(done, m, tty);
      metrics.write(m);
      const double elapsed = std::chrono::duration<double>(now - start).count();
      print_progress(c, done, s, double(done - first) / std::max(elapsed, 1e-9), sec_per_iter, tty);
      window = clock::now();
      window_iters = 0;
    }
    if (save_now) {
      try {
        t.save_checkpoint(ckpt.string());
      } catch (const Diverged& e) {
        stop(e);
      }
      last_saved = done;
    }
  }
  check_finite();
  t.save_samples(samples_path(t.iteration()));
  if (tty) std::cout << "\n";
  std::cout << "done: " << dir.path().string() << " (checkpoint, metrics.jsonl, samples/); curves: "
            << "tools/plot_run.py " << dir.path().string() << std::endl;
  return dir.path().string();
}

}  // namespace mmgan::trainer
