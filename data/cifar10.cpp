// CIFAR-10 binary batches -> Dataset. The records already hold planar RGB, i.e. [3, 32, 32] bytes,
// so loading is a copy per record (and a resize when another image size is asked for).
#include "data/cifar10.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "engine/checked_math.h"
#include "engine/error.h"
#include "engine/parallel.h"
#include "data/fashion_mnist.h"
#include "data/resize.h"

namespace mmgan::data {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kSide = 32, kImage = 3 * kSide * kSide, kRecord = 1 + kImage;

std::vector<uint8_t> read_all(const fs::path& p) {
  // A device (/dev/zero) or a FIFO would be read forever: only regular files, sized first.
  std::error_code ec;
  MMGAN_CHECK(fs::is_regular_file(p, ec), "cifar10: '", p.string(), "' is not a regular file");
  const auto size = fs::file_size(p, ec);
  MMGAN_CHECK(!ec && size <= (uint64_t(1) << 34), "cifar10: '", p.string(), "' is ", size,
              " bytes, more than a CIFAR-10 batch file can be (16 GiB at most)");
  std::ifstream f(p, std::ios::binary);
  MMGAN_CHECK(f.good(), "cifar10: cannot open '", p.string(), "': ", std::strerror(errno));
  std::vector<uint8_t> out((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  MMGAN_CHECK(!f.bad(), "cifar10: cannot read '", p.string(), "'");
  return out;
}

// The batch files `path` names: itself, or the training batches in it (or in the folder the
// official archive extracts to).
std::vector<fs::path> batch_files(const std::string& path) {
  std::error_code ec;
  MMGAN_CHECK(fs::exists(path, ec), "cifar10: '", path, "' does not exist");
  if (!fs::is_directory(path, ec)) return {fs::path(path)};
  for (const fs::path& dir : {fs::path(path), fs::path(path) / "cifar-10-batches-bin"}) {
    std::vector<fs::path> files;
    for (int i = 1; i <= 5; ++i) {
      const fs::path f = dir / ("data_batch_" + std::to_string(i) + ".bin");
      if (fs::is_regular_file(f, ec)) files.push_back(f);
    }
    if (!files.empty()) return files;
  }
  MMGAN_FAIL("cifar10: no data_batch_1.bin .. data_batch_5.bin in '", path,
             "' (expected the cifar-10-batches-bin folder of the binary version, or a .bin file)");
}

}  // namespace

void append_cifar10_batch(const std::vector<uint8_t>& bytes, const std::string& name, std::vector<uint8_t>& labels,
                          std::vector<uint8_t>& pixels) {
  const int64_t size = int64_t(bytes.size());
  MMGAN_CHECK(size > 0 && size % kRecord == 0, "cifar10: '", name, "' has ", size,
              " bytes, not a positive multiple of ", kRecord,
              " (1 label + 3072 pixel bytes per record): ", "truncated or not a CIFAR-10 binary batch");
  for (int64_t r = 0; r < size / kRecord; ++r)  // all checked before anything is appended
    MMGAN_CHECK(bytes[size_t(r * kRecord)] < 10, "cifar10: '", name, "': record ", r, " has label ",
                int(bytes[size_t(r * kRecord)]), ", not a CIFAR-10 class (0-9): not a CIFAR-10 binary batch");
  for (int64_t r = 0; r < size / kRecord; ++r) {
    const uint8_t* rec = bytes.data() + r * kRecord;
    labels.push_back(rec[0]);
    pixels.insert(pixels.end(), rec + 1, rec + kRecord);
  }
}

Labeled load_cifar10_labeled(const std::string& path, int64_t image_size) {
  MMGAN_CHECK(image_size > 0 && image_size * image_size <= kMaxImagePixels,
              "cifar10: image_size must be in [1, 16384], got ", image_size);
  Labeled out;
  Dataset& ds = out.images;
  ds.name = "cifar10";
  std::vector<uint8_t> raw;  // [n, 3, 32, 32]
  for (const fs::path& f : batch_files(path)) {
    append_cifar10_batch(read_all(f), f.string(), out.labels, raw);
    if (!ds.source.empty()) ds.source += ",";
    ds.source += f.string();
  }
  ds.count = int64_t(out.labels.size());
  ds.sample_shape = {3, image_size, image_size};
  if (image_size == kSide) {
    ds.bytes = std::move(raw);
  } else {
    const int64_t m = 3 * image_size * image_size;
    ds.bytes.resize(size_t(checked_mul(ds.count, m, "cifar10: " + path + " resized to image_size")));
    parallel_for(ds.count, [&](int64_t i) {
      resize_bilinear(raw.data() + i * kImage, 3, kSide, kSide, ds.bytes.data() + i * m, image_size, image_size);
    });
  }
  return out;
}

Dataset load_cifar10(const std::string& path, int64_t image_size) {
  return std::move(load_cifar10_labeled(path, image_size).images);
}

}  // namespace mmgan::data
