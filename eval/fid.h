// Fréchet distances of image sets: stream n images through a feature extractor in batches and
// accumulate their Gaussian statistics (float64), then compare two sets with frechet_distance.
// Used by `mmgan fid-stats`, `mmgan fid` and `mmgan train --fid_every` (trainer/), which supply the
// images: a data set in order, or a generator's samples.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "eval/features.h"
#include "eval/frechet.h"

namespace mmgan::eval {

// next(k) returns the next k images, [k, C, H, W] in [-1, 1]. progress(done, n), when set, is called
// after each batch. source names the images in the statistics (and in errors).
GaussianStats image_stats(const std::function<Tensor(int64_t)>& next, int64_t n, int64_t batch, FeatureExtractor& fx,
                          const std::string& source, const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace mmgan::eval
