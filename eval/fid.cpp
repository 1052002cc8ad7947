// image_stats (fid.h): batches of images -> features -> streaming float64 statistics.
#include "eval/fid.h"

#include "engine/error.h"
#include "eval/feature_stats.h"

namespace mmgan::eval {

GaussianStats image_stats(const std::function<Tensor(int64_t)>& next, int64_t n, int64_t batch, FeatureExtractor& fx,
                          const std::string& source, const std::function<void(int64_t, int64_t)>& progress) {
  MMGAN_CHECK(n >= 2, "a Fréchet distance needs at least 2 images, got --n ", n);
  MMGAN_CHECK(batch >= 1, "--batch must be >= 1, got ", batch);
  FeatureStats stats(fx.dim());
  for (int64_t done = 0; done < n;) {
    const int64_t k = std::min(batch, n - done);
    const Tensor images = next(k);
    MMGAN_CHECK(images.dim() == 4 && images.size(0) == k, source, ": expected ", k, " images [", k, ", C, H, W], got ",
                images.str());
    stats.add(fx.features(images));
    done += k;
    if (progress) progress(done, n);
  }
  GaussianStats s = stats.finish(fx.name());
  s.source = source;
  return s;
}

}  // namespace mmgan::eval
