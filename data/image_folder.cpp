// Image folders -> Dataset: list, decode (stb_image, in parallel), crop, resize, keep the bytes.
#include "data/image_folder.h"

#include <stb_image.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>

#include "engine/checked_math.h"
#include "engine/error.h"
#include "engine/parallel.h"
#include "data/fashion_mnist.h"
#include "data/resize.h"
#include "data/stb_guard.h"

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
  // Canonical paths already taken: a symlinked directory seen before is not entered again (a link
  // to an ancestor would loop until the path is too long), and a file reached twice counts once.
  std::set<fs::path> seen_dirs = {fs::canonical(dir, ec)}, seen_files;
  const auto opts = fs::directory_options::follow_directory_symlink | fs::directory_options::skip_permission_denied;
  for (auto it = fs::recursive_directory_iterator(dir, opts, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_directory(ec)) {
      if (!seen_dirs.insert(fs::canonical(it->path(), ec)).second) it.disable_recursion_pending();
      ec.clear();
      continue;
    }
    if (!it->is_regular_file(ec)) continue;
    if (!seen_files.insert(fs::canonical(it->path(), ec)).second) continue;
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

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) throw Error("cannot read the file: " + ec.message());
  // No image under the pixel cap is anywhere near this; /dev/zero-like files are not regular.
  if (size > (uint64_t(1) << 32)) throw Error("file of " + std::to_string(size) + " bytes is too large for an image");
  std::ifstream f(path, std::ios::binary);
  std::vector<uint8_t> out(size);
  if (!f.read(reinterpret_cast<char*>(out.data()), std::streamsize(size))) throw Error("cannot read the file");
  return out;
}

}  // namespace

std::vector<uint8_t> decode_image(const std::vector<uint8_t>& encoded, const std::string& name, int64_t image_size,
                                  int64_t n_colors, int64_t centercrop) {
  MMGAN_CHECK(encoded.size() <= size_t(INT32_MAX), "image '", name, "': ", encoded.size(), " bytes, too large");
  const int len = int(encoded.size());
  check_before_stb(encoded.data(), encoded.size(), name);  // inputs stb 2.27 mishandles
  int w = 0, h = 0, comp = 0;
  // Sizes first, from the header: a 60000 x 60000 PNG of a few KiB must not be decoded to 10 GiB.
  MMGAN_CHECK(stbi_info_from_memory(encoded.data(), len, &w, &h, &comp), "image '", name,
              "': ", stbi_failure_reason() ? stbi_failure_reason() : "not an image");
  MMGAN_CHECK(w > 0 && h > 0 && int64_t(w) * int64_t(h) <= kMaxImagePixels, "image '", name, "': ", w, "x", h,
              " pixels, more than the ", kMaxImagePixels, " a loader accepts");
  check_pixels_per_byte(w, h, encoded.size(), name);
  uint8_t* rgb = stbi_load_from_memory(encoded.data(), len, &w, &h, &comp, 3);
  MMGAN_CHECK(rgb != nullptr, "image '", name, "': ", stbi_failure_reason() ? stbi_failure_reason() : "cannot decode");
  std::unique_ptr<uint8_t, void (*)(void*)> owned(rgb, stbi_image_free);
  MMGAN_CHECK(w > 0 && h > 0 && int64_t(w) * int64_t(h) <= kMaxImagePixels, "image '", name, "': ", w, "x", h,
              " pixels, more than the ", kMaxImagePixels, " a loader accepts");
  return prepare(rgb, h, w, n_colors, centercrop, image_size);
}

Dataset load_image_folder(const std::string& dir, int64_t image_size, int64_t n_colors, int64_t centercrop,
                          const std::string& on_bad) {
  MMGAN_CHECK(image_size > 0 && image_size * image_size <= kMaxImagePixels, "image folder '", dir,
              "': image_size must be in [1, 16384], got ", image_size);
  MMGAN_CHECK(n_colors == 1 || n_colors == 3, "image folder '", dir, "': n_colors must be 1 or 3, got ", n_colors);
  MMGAN_CHECK(centercrop >= 0 && centercrop * centercrop <= kMaxImagePixels, "image folder '", dir,
              "': centercrop must be in [0, 16384] (0: none), got ", centercrop);
  MMGAN_CHECK(on_bad == "skip" || on_bad == "stop", "image folder '", dir, "': on_bad must be 'skip' or 'stop', got '",
              on_bad, "'");
  const std::vector<std::string> files = list_images(dir);
  const int64_t n = int64_t(files.size()), m = n_colors * image_size * image_size;

  // Decode in parallel into per-file slots.
  std::vector<uint8_t> bytes(size_t(checked_mul(n, m, "image folder '" + dir + "' at image_size")));
  std::vector<std::string> failure(static_cast<size_t>(n));
  parallel_for(n, [&](int64_t i) {
    try {
      const std::string& f = files[size_t(i)];
      const std::vector<uint8_t> img = decode_image(read_file_bytes(f), f, image_size, n_colors, centercrop);
      std::copy(img.begin(), img.end(), bytes.begin() + i * m);
    } catch (const std::exception& e) {  // a file's failure is reported (or skipped) below, in file order
      failure[size_t(i)] = e.what();
    }
  });

  // Report and compact in file order, so messages and the kept samples do not depend on threads.
  Dataset ds;
  ds.name = "folder";
  ds.source = dir;
  ds.sample_shape = {n_colors, image_size, image_size};
  int64_t kept = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (!failure[size_t(i)].empty()) {
      MMGAN_CHECK(on_bad == "skip", "image folder '", dir, "': cannot read '", files[size_t(i)],
                  "': ", failure[size_t(i)], " (on_bad 'skip' would skip it)");
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
