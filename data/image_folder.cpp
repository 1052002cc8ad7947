// Image folders -> Dataset: list, decode (stb_image, in parallel), crop, resize, keep the bytes.
#include "image_folder.h"

#include <stb_image.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include "../engine/error.h"
#include "resize.h"

namespace mmgan::data {

namespace fs = std::filesystem;

namespace {

const std::set<std::string>& image_extensions() {
  static const std::set<std::string> ext = {".png", ".jpg", ".jpeg", ".bmp", ".tga", ".gif",
                                            ".ppm", ".pgm", ".pnm",  ".psd", ".hdr", ".pic"};
  return ext;
}

std::vector<std::string> list_images(const std::string& dir) {
  std::error_code ec;
  MMGAN_CHECK(fs::exists(dir, ec), "image folder '", dir, "' does not exist");
  MMGAN_CHECK(fs::is_directory(dir, ec), "image folder '", dir, "' is not a directory");
  std::vector<std::string> files;
  const auto opts = fs::directory_options::follow_directory_symlink | fs::directory_options::skip_permission_denied;
  for (auto it = fs::recursive_directory_iterator(dir, opts, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::string ext = it->path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
    if (image_extensions().count(ext)) files.push_back(it->path().string());
  }
  MMGAN_CHECK(!ec, "image folder '", dir, "': cannot list it: ", ec.message());
  // Byte order of the full paths: the same on every machine, whatever order the file system lists.
  std::sort(files.begin(), files.end());
  MMGAN_CHECK(!files.empty(), "image folder '", dir, "' holds no images (png, jpg, jpeg, bmp, tga, gif, ppm, pgm, ",
              "pnm, psd, hdr, pic)");
  return files;
}

// torchvision's CenterCrop offset along one axis: round((size - crop) / 2) with Python's round
// (halves to even) when cropping; when the crop is larger, the image is zero-padded by
// (crop - size) // 2 before it, so the offset is negative.
int64_t crop_offset(int64_t size, int64_t crop) {
  if (crop > size) return -((crop - size) / 2);
  return int64_t(std::nearbyint(double(size - crop) / 2.0));  // default rounding mode: half to even
}

// Decoded interleaved pixels [h, w, 3] -> planar [c, h', w'] at the final size.
std::vector<uint8_t> prepare(const uint8_t* rgb, int64_t h, int64_t w, int64_t n_colors, int64_t centercrop,
                             int64_t image_size) {
  // Planar copy; grey by PIL's convert("L"): L = (19595 R + 38470 G + 7471 B + 2^15) >> 16, which
  // gives back v exactly for a grey image expanded to v, v, v.
  std::vector<uint8_t> planar(size_t(n_colors * h * w));
  for (int64_t i = 0; i < h * w; ++i) {
    const uint8_t* p = rgb + 3 * i;
    if (n_colors == 3) {
      for (int ch = 0; ch < 3; ++ch) planar[size_t(ch * h * w + i)] = p[ch];
    } else {
      planar[size_t(i)] = uint8_t((19595u * p[0] + 38470u * p[1] + 7471u * p[2] + 0x8000u) >> 16);
    }
  }
  if (centercrop > 0) {
    const int64_t top = crop_offset(h, centercrop), left = crop_offset(w, centercrop), s = centercrop;
    std::vector<uint8_t> crop(size_t(n_colors * s * s), 0);
    for (int64_t ch = 0; ch < n_colors; ++ch)
      for (int64_t y = 0; y < s; ++y)
        for (int64_t x = 0; x < s; ++x) {
          const int64_t sy = y + top, sx = x + left;
          if (sy >= 0 && sy < h && sx >= 0 && sx < w)
            crop[size_t((ch * s + y) * s + x)] = planar[size_t((ch * h + sy) * w + sx)];
        }
    planar = std::move(crop);
    h = w = s;
  }
  return resize_bilinear(planar, n_colors, h, w, image_size, image_size);
}

}  // namespace

Dataset load_image_folder(const std::string& dir, int64_t image_size, int64_t n_colors, int64_t centercrop,
                          const std::string& on_bad) {
  MMGAN_CHECK(image_size > 0, "image folder '", dir, "': image_size must be positive, got ", image_size);
  MMGAN_CHECK(n_colors == 1 || n_colors == 3, "image folder '", dir, "': n_colors must be 1 or 3, got ", n_colors);
  MMGAN_CHECK(centercrop >= 0, "image folder '", dir, "': centercrop must be >= 0 (0: none), got ", centercrop);
  MMGAN_CHECK(on_bad == "skip" || on_bad == "stop", "image folder '", dir, "': on_bad must be 'skip' or 'stop', got '",
              on_bad, "'");
  const std::vector<std::string> files = list_images(dir);
  const int64_t n = int64_t(files.size()), m = n_colors * image_size * image_size;

  // Decode in parallel into per-file slots; stb keeps its failure reason per thread.
  std::vector<uint8_t> bytes(size_t(n * m));
  std::vector<std::string> failure(static_cast<size_t>(n));
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t i = 0; i < n; ++i) {
    int w = 0, h = 0, comp = 0;
    uint8_t* rgb = stbi_load(files[size_t(i)].c_str(), &w, &h, &comp, 3);
    if (!rgb) {
      const char* why = stbi_failure_reason();
      failure[size_t(i)] = why ? why : "unknown error";
      continue;
    }
    try {
      const std::vector<uint8_t> img = prepare(rgb, h, w, n_colors, centercrop, image_size);
      std::copy(img.begin(), img.end(), bytes.begin() + i * m);
    } catch (const std::exception& e) {  // exceptions must not leave an OpenMP region
      failure[size_t(i)] = e.what();
    }
    stbi_image_free(rgb);
  }

  // Report and compact in file order, so messages and the kept samples do not depend on threads.
  Dataset ds;
  ds.name = "folder";
  ds.source = dir;
  ds.sample_shape = {n_colors, image_size, image_size};
  int64_t kept = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (!failure[size_t(i)].empty()) {
      MMGAN_CHECK(on_bad == "skip", "image folder '", dir, "': cannot read '", files[size_t(i)], "': ",
                  failure[size_t(i)], " (on_bad 'skip' would skip it)");
      std::fprintf(stderr, "mmgan: skipping unreadable image '%s': %s\n", files[size_t(i)].c_str(),
                   failure[size_t(i)].c_str());
      ++ds.skipped;
      continue;
    }
    if (kept != i) std::copy_n(bytes.begin() + i * m, m, bytes.begin() + kept * m);
    ++kept;
  }
  MMGAN_CHECK(kept > 0, "image folder '", dir, "': none of its ", n, " images could be read");
  bytes.resize(size_t(kept * m));
  ds.bytes = std::move(bytes);
  ds.count = kept;
  return ds;
}

}  // namespace mmgan::data
