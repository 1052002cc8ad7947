// Fréchet distances of the trainer's images: a data set's (reference statistics) and a generator's
// samples, through eval/ (feature networks, float64 statistics). Used by `mmgan fid-stats`,
// `mmgan fid` and `mmgan train --fid_every`. Checked by tests/test_fid.cpp.
#pragma once
#include <cstdint>
#include <string>

#include "trainer/config.h"
#include "data/dataset.h"
#include "eval/features.h"
#include "eval/frechet.h"
#include "models/module.h"

namespace mmgan::trainer {

// "auto" -> "fmnist" for one-colour 32x32 images (Fashion-MNIST as the GANs see it), else
// "inception"; other kinds are returned unchanged.
std::string resolve_features(const std::string& kind, const Shape& sample_shape);

// Statistics of the first n images of ds in order (all of them when n <= 0), in batches.
eval::GaussianStats dataset_stats(const data::Dataset& ds, eval::FeatureExtractor& fx, int64_t n, int64_t batch,
                                  bool show_progress);

// Statistics of n samples of G, z ~ N(0, 1) from Generator(seed), in batches of `batch`. G runs in
// its current mode; in train mode BatchNorm normalises each batch with its own statistics (as the
// official code samples), so pass the training batch size. G's buffers may change: callers that
// care keep a copy.
eval::GaussianStats generator_stats(nn::Module& G, int64_t z_size, DType dtype, Device device,
                                    eval::FeatureExtractor& fx, int64_t n, int64_t batch, uint64_t seed,
                                    bool show_progress);

struct FidOptions {
  std::string features = "auto";  // inception, fmnist, auto
  std::string feature_weights;    // empty: eval::default_weights
  int64_t n = 0;                  // images (fid-stats: 0 = the whole data set; fid: samples, default 50000)
  int64_t batch_size = 0;         // 0: 50 for data, the run's training batch size for samples
  std::string device = "auto";
  uint64_t seed = 0;           // of z (fid)
  bool running_stats = false;  // fid: G in eval mode
};

// `mmgan fid-stats`: statistics of data (the training flags' data set) written to out.
void fid_stats_command(TrainConfig data, const FidOptions& o, const std::string& out);

// `mmgan fid`: the Fréchet distance of a checkpoint's generator against statistics; the feature
// network is the one the statistics were computed with.
double fid_command(const std::string& checkpoint, const std::string& stats, const FidOptions& o);

}  // namespace mmgan::trainer
