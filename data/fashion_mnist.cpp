// Fashion-MNIST idx files -> Dataset + labels. zlib's gz reader handles both gzipped and plain
// files (it passes non-gzip input through), so one code path reads either.
#include "data/fashion_mnist.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "engine/checked_math.h"
#include "engine/error.h"
#include "engine/parallel.h"
#include "data/resize.h"

namespace mmgan::data {

namespace fs = std::filesystem;

namespace {

// The .gz file if present, else the uncompressed one; an error naming both when neither exists.
std::string find_idx(const std::string& dir, const std::string& stem) {
  const fs::path gz = fs::path(dir) / (stem + ".gz"), plain = fs::path(dir) / stem;
  std::error_code ec;
  if (fs::is_regular_file(gz, ec)) return gz.string();
  if (fs::is_regular_file(plain, ec)) return plain.string();
  MMGAN_FAIL("fashion-mnist: neither '", gz.string(), "' nor '", plain.string(), "' exists (Debian's ",
             "dataset-fashion-mnist package installs them in ", kFashionMnistDir, ")");
}

std::vector<uint8_t> read_gz(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  MMGAN_CHECK(f != nullptr, "fashion-mnist: cannot open '", path, "': ", std::strerror(errno));
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  int n = 0;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + n);
  // A corrupt stream makes gzread fail; a truncated one ends early with Z_BUF_ERROR pending.
  int err = Z_OK;
  const char* msg = gzerror(f, &err);
  const std::string reason = msg ? msg : "";
  gzclose(f);
  MMGAN_CHECK(n == 0 && (err == Z_OK || err == Z_STREAM_END), "fashion-mnist: cannot decompress '", path, "': ", reason,
              " (corrupt or truncated gzip file)");
  return out;
}

uint32_t be32(const std::vector<uint8_t>& b, size_t at) {
  return uint32_t(b[at]) << 24 | uint32_t(b[at + 1]) << 16 | uint32_t(b[at + 2]) << 8 | uint32_t(b[at + 3]);
}

// Checks an idx file's header: magic, then `dims` sizes, then exactly the product of the sizes in bytes.
std::vector<int64_t> idx_header(const std::vector<uint8_t>& b, const std::string& path, uint32_t magic, int dims) {
  const size_t head = 4 * size_t(1 + dims);
  MMGAN_CHECK(b.size() >= head, "fashion-mnist: '", path, "' has ", b.size(), " bytes, shorter than an idx header");
  MMGAN_CHECK(be32(b, 0) == magic, "fashion-mnist: '", path, "' has magic number ", be32(b, 0), ", expected ", magic,
              magic == 2051 ? " (idx3 images)" : " (idx1 labels)");
  std::vector<int64_t> sizes;
  int64_t total = 1;
  for (int d = 0; d < dims; ++d) {
    sizes.push_back(int64_t(be32(b, 4 * size_t(1 + d))));
    // Checked: a wrapped product once matched the real data size and let a crafted header through.
    total = checked_mul(total, sizes.back(), "fashion-mnist: '" + path + "' header sizes");
  }
  MMGAN_CHECK(int64_t(b.size() - head) == total, "fashion-mnist: '", path, "' holds ", b.size() - head,
              " data bytes but its header promises ", total, " (", shape_str(sizes), "): truncated or corrupt");
  return sizes;
}

}  // namespace

Labeled load_fashion_mnist(const std::string& dir, bool train, int64_t image_size, const std::string& fit) {
  const std::string split = train ? "train" : "t10k";
  const std::string images_path = find_idx(dir, split + "-images-idx3-ubyte");
  const std::string labels_path = find_idx(dir, split + "-labels-idx1-ubyte");
  return fashion_mnist_from_idx(read_gz(images_path), images_path, read_gz(labels_path), labels_path, image_size, fit);
}

Labeled fashion_mnist_from_idx(const std::vector<uint8_t>& images, const std::string& images_path,
                               const std::vector<uint8_t>& labels, const std::string& labels_path, int64_t image_size,
                               const std::string& fit) {
  MMGAN_CHECK(fit == "pad" || fit == "resize", "fashion-mnist: fit must be 'pad' or 'resize', got '", fit, "'");
  MMGAN_CHECK(image_size > 0 && image_size * image_size <= kMaxImagePixels,
              "fashion-mnist: image_size must be in [1, 16384], got ", image_size);
  const std::vector<int64_t> s = idx_header(images, images_path, 2051, 3);
  const std::vector<int64_t> ls = idx_header(labels, labels_path, 2049, 1);
  MMGAN_CHECK(ls[0] == s[0], "fashion-mnist: '", labels_path, "' has ", ls[0], " labels but '", images_path, "' has ",
              s[0], " images");
  MMGAN_CHECK(s[0] > 0 && s[1] > 0 && s[2] > 0, "fashion-mnist: '", images_path, "' holds no images (", shape_str(s),
              ")");
  MMGAN_CHECK(s[1] * s[2] <= kMaxImagePixels, "fashion-mnist: '", images_path, "' has images of ", s[1], "x", s[2],
              " pixels, more than the ", kMaxImagePixels, " a loader accepts");

  Labeled out;
  out.labels.assign(labels.begin() + 8, labels.end());
  Dataset& ds = out.images;
  ds.name = "fashion-mnist";
  ds.source = images_path;
  ds.count = s[0];
  ds.sample_shape = {1, image_size, image_size};
  const int64_t h = s[1], w = s[2], in_m = h * w, m = image_size * image_size;
  const uint8_t* src = images.data() + 16;
  ds.bytes.assign(size_t(checked_mul(ds.count, m, "fashion-mnist: " + images_path + " fitted to image_size")), 0);
  if (fit == "pad") {
    const int64_t py = image_size - h, px = image_size - w;
    MMGAN_CHECK(py >= 0 && px >= 0 && py % 2 == 0 && px % 2 == 0, "fashion-mnist: fit 'pad' pads the ", h, "x", w,
                " images equally on each side (2 pixels to 32x32), which image_size ", image_size,
                " does not allow; use image_size 32 or fit 'resize'");
    for (int64_t i = 0; i < ds.count; ++i)
      for (int64_t y = 0; y < h; ++y)
        std::memcpy(&ds.bytes[size_t(i * m + (y + py / 2) * image_size + px / 2)], src + i * in_m + y * w, size_t(w));
  } else {
    parallel_for(ds.count, [&](int64_t i) {
      resize_bilinear(src + i * in_m, 1, h, w, ds.bytes.data() + i * m, image_size, image_size);
    });
  }
  return out;
}

}  // namespace mmgan::data
