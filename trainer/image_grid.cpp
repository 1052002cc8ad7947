// PNG sample grids, laid out as torchvision.utils.save_image(x, normalize=True) does: min-max
// normalise the whole batch, 8 images per row, 2-pixel zero padding, round to bytes.
#include <stb_image_write.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/safetensors.h"
#include "trainer/trainer.h"

namespace mmgan::trainer {

void save_image_grid(const Tensor& x, const std::string& png_path) {
  MMGAN_CHECK(x.dim() == 4 && (x.size(1) == 1 || x.size(1) == 3),
              "save_image_grid: images must be [N, 1 or 3, H, W], got ", x.str());
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3), pad = 2;
  const int64_t cols = std::min<int64_t>(8, n), rows = (n + 7) / 8;
  const int64_t gh = rows * (h + pad) + pad, gw = cols * (w + pad) + pad;
  const std::vector<double> v = x.to_vector();
  const auto [lo_it, hi_it] = std::minmax_element(v.begin(), v.end());
  const double lo = *lo_it, scale = 1.0 / std::max(*hi_it - lo, 1e-5);
  std::vector<uint8_t> img(size_t(gh * gw * c), 0);
  for (int64_t k = 0; k < n; ++k) {
    const int64_t y0 = (k / 8) * (h + pad) + pad, x0 = (k % 8) * (w + pad) + pad;
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t i = 0; i < h; ++i)
        for (int64_t j = 0; j < w; ++j) {
          const double t = (v[size_t(((k * c + ch) * h + i) * w + j)] - lo) * scale;
          img[size_t(((y0 + i) * gw + x0 + j) * c + ch)] = uint8_t(std::clamp(t * 255 + 0.5, 0.0, 255.0));
        }
  }
  std::error_code ec;
  MMGAN_CHECK(!std::filesystem::is_directory(png_path, ec), "cannot write the sample grid to ", png_path,
              ": it is a directory");
  // Encoded in memory, then written atomically: a reader never sees half a PNG, and a failed write
  // leaves no temp file (write_file_atomic removes it).
  std::string png;
  const auto append = [](void* to, void* data, int n) {
    static_cast<std::string*>(to)->append(static_cast<char*>(data), size_t(n));
  };
  MMGAN_CHECK(stbi_write_png_to_func(append, &png, int(gw), int(gh), int(c), img.data(), int(gw * c)) != 0,
              "cannot encode the sample grid ", png_path);
  write_file_atomic(png_path, png);
}

}  // namespace mmgan::trainer
