// The data library: loaders checked against the raw files read independently here (real CIFAR-10
// and Fashion-MNIST bytes), Pillow's resize values, image folders written by the test, the toy
// sets' geometry, the sampler's statistics and the prefetcher's ordering, resume and errors.
#include <stb_image_write.h>
#include <zlib.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "data/data.h"
#include "tests/test_util.h"

namespace mmgan {
namespace {

namespace fs = std::filesystem;
using namespace data;

std::vector<uint8_t> read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
void write_bytes(const fs::path& p, const std::vector<uint8_t>& b) {
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}
std::vector<uint8_t> read_gz(const fs::path& p) {
  gzFile f = gzopen(p.c_str(), "rb");
  EXPECT_NE(f, nullptr) << p;
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  int n;
  while (f && (n = gzread(f, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + n);
  if (f) gzclose(f);
  return out;
}
void write_gz(const fs::path& p, const std::vector<uint8_t>& b) {
  gzFile f = gzopen(p.c_str(), "wb");
  ASSERT_NE(f, nullptr) << p;
  ASSERT_EQ(gzwrite(f, b.data(), unsigned(b.size())), int(b.size()));
  gzclose(f);
}

// The independent float formula: torchvision's ToTensor (/ 255) then Normalize(0.5, 0.5), float32.
float expected_float(uint8_t b) {
  const float x = float(b) / 255.0f;
  return (x - 0.5f) / 0.5f;
}

// ---------------------------------------------------------------------------------------------
// Byte -> float

TEST(Data, ByteScalingMatchesTorchvision) {
  EXPECT_EQ(byte_to_float(0), -1.0f);
  EXPECT_EQ(byte_to_float(255), 1.0f);
  EXPECT_EQ(byte_to_float(128), expected_float(128));
  // float32 arithmetic cancels in x - 0.5 near 0.5, so 128 is 15 float32 ulps from the rounded
  // exact value (0.003921628 vs 0.0039215686); PyTorch computes the same float32 value.
  EXPECT_NEAR(byte_to_float(128), (128.0 / 255.0 - 0.5) / 0.5, 1e-7);
  for (int b = 0; b < 256; ++b) EXPECT_EQ(byte_to_float(uint8_t(b)), expected_float(uint8_t(b))) << b;
  Dataset ds;
  ds.name = "bytes";
  ds.sample_shape = {1, 1, 3};
  ds.count = 2;
  ds.bytes = {0, 128, 255, 1, 2, 3};
  const Tensor t = ds.gather({1, 0, 1});
  EXPECT_EQ(shape_str(t.shape()), "[3, 1, 1, 3]");
  EXPECT_EQ(t.dtype(), DType::F32);
  const float* p = t.data<float>();
  EXPECT_EQ(p[3], -1.0f);
  EXPECT_EQ(p[4], expected_float(128));
  EXPECT_EQ(p[5], 1.0f);
  EXPECT_EQ(p[0], expected_float(1));
  EXPECT_NE(test::error_of([&] { ds.gather({2}); }).find("sample index 2 out of range"), std::string::npos);
}

// The whole table against PyTorch's ToTensor + Normalize arithmetic, bit for bit.
TEST(Data, ByteScalingMatchesPyTorchBits) {
  MMGAN_REQUIRE_TORCH();
  const char* cmd =
      "/usr/bin/python3 -c \"import torch; x = torch.arange(256, dtype=torch.uint8).float().div(255); "
      "m = torch.tensor([0.5]); print(((x - m) / m).view(torch.int32).tolist())\"";
  const test::CommandResult r = test::run_command(cmd);
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string& out = r.out;
  std::vector<int32_t> bits;
  for (size_t i = 0; i < out.size();) {
    if (out[i] == '-' || std::isdigit(static_cast<unsigned char>(out[i]))) {
      size_t used = 0;
      bits.push_back(int32_t(std::stol(out.substr(i), &used)));
      i += used;
    } else {
      ++i;
    }
  }
  ASSERT_EQ(bits.size(), 256u) << out;
  for (int b = 0; b < 256; ++b) {
    const float f = byte_to_float(uint8_t(b));
    int32_t mine;
    std::memcpy(&mine, &f, 4);
    EXPECT_EQ(mine, bits[size_t(b)]) << "byte " << b;
  }
}

// ---------------------------------------------------------------------------------------------
// Resize: Pillow's BILINEAR, byte for byte

TEST(Data, ResizeIsIdentityForEqualSizes) {
  std::vector<uint8_t> img(2 * 5 * 7);
  for (size_t i = 0; i < img.size(); ++i) img[i] = uint8_t(i * 37 % 256);
  EXPECT_EQ(resize_bilinear(img, 2, 5, 7, 5, 7), img);
}

TEST(Data, ResizeUpscaleByTwoInterpolatesAtHalfPixelCentres) {
  // src x = (dst + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25 -> clamp, 1/4, 3/4, clamp.
  EXPECT_EQ(resize_bilinear(std::vector<uint8_t>{0, 100}, 1, 1, 2, 1, 4), (std::vector<uint8_t>{0, 25, 75, 100}));
  EXPECT_EQ(resize_bilinear(std::vector<uint8_t>{0, 100}, 1, 2, 1, 4, 1), (std::vector<uint8_t>{0, 25, 75, 100}));
  // A 2x2 image doubled: the inner pixels mix all four, as the tensor product of the 1-d case.
  const std::vector<uint8_t> out = resize_bilinear(std::vector<uint8_t>{0, 100, 200, 40}, 1, 2, 2, 4, 4);
  EXPECT_EQ(out[0], 0);
  EXPECT_EQ(out[3], 100);
  EXPECT_EQ(out[12], 200);
  EXPECT_EQ(out[15], 40);
  // (1, 1): rows 0.25 between row 0 and row 1 after the horizontal pass: 25 and 160 -> 58.75 -> 59.
  EXPECT_EQ(out[5], 59);
}

// Expected values from Pillow 9.4: Image.fromarray(img, "L").resize((w, h), Image.BILINEAR).
TEST(Data, ResizeMatchesPillow) {
  std::vector<uint8_t> grad(64);
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x) grad[size_t(y * 8 + x)] = uint8_t(30 * x + 5 * y);
  EXPECT_EQ(resize_bilinear(grad, 1, 8, 8, 4, 4),
            (std::vector<uint8_t>{25, 79, 139, 193, 34, 88, 148, 202, 44, 98, 158, 212, 52, 106, 166, 220}));

  std::vector<uint8_t> p(9 * 13);
  for (int y = 0; y < 9; ++y)
    for (int x = 0; x < 13; ++x) p[size_t(y * 13 + x)] = uint8_t((37 * x + 11 * y + 7 * x * y) % 256);
  EXPECT_EQ(resize_bilinear(p, 1, 9, 13, 4, 5),
            (std::vector<uint8_t>{55,  145, 114, 112, 140, 92,  134, 122, 140, 137,
                                  122, 121, 141, 117, 134, 133, 139, 140, 149, 165}));
  const std::vector<uint8_t> up = resize_bilinear(p, 1, 9, 13, 11, 17);
  const std::vector<uint8_t> row0{0, 24, 52, 81, 109, 137, 165, 194, 222, 55, 23, 51, 79, 107, 136, 164, 188};
  const std::vector<uint8_t> row10{88, 148, 114, 34, 106, 177, 127, 63, 134, 205, 141, 91, 162, 234, 154, 120, 180};
  EXPECT_EQ(std::vector<uint8_t>(up.begin(), up.begin() + 17), row0);
  EXPECT_EQ(std::vector<uint8_t>(up.begin() + 170, up.end()), row10);
  EXPECT_EQ(up[5 * 17 + 4], 235);
  // Channels are independent: a 2-channel image is the two planes resized one by one.
  std::vector<uint8_t> two = grad;
  two.insert(two.end(), grad.rbegin(), grad.rend());
  const std::vector<uint8_t> both = resize_bilinear(two, 2, 8, 8, 3, 5);
  const std::vector<uint8_t> c1 = resize_bilinear(std::vector<uint8_t>(two.begin() + 64, two.end()), 1, 8, 8, 3, 5);
  EXPECT_EQ(std::vector<uint8_t>(both.begin() + 15, both.end()), c1);
}

// ---------------------------------------------------------------------------------------------
// CIFAR-10

fs::path cifar_sample() {
  for (const fs::path& p : {fs::path(test::source_dir()) / ".." / "shared" / "data" / "cifar10-sample",
                            fs::path("/work/shared/data/cifar10-sample")}) {
    if (fs::exists(p / "data_batch_1_first474.bin")) return p / "data_batch_1_first474.bin";
  }
  return {};
}
#define REQUIRE_CIFAR_SAMPLE()            \
  const fs::path sample = cifar_sample(); \
  if (sample.empty()) GTEST_SKIP() << "shared/data/cifar10-sample/data_batch_1_first474.bin is missing"

TEST(Data, Cifar10SampleMatchesRawRecords) {
  REQUIRE_CIFAR_SAMPLE();
  const std::vector<uint8_t> raw = read_bytes(sample);
  ASSERT_EQ(raw.size(), 474u * 3073u);
  const Labeled l = load_cifar10_labeled(sample.string());
  const Dataset& ds = l.images;
  EXPECT_EQ(ds.name, "cifar10");
  EXPECT_EQ(ds.count, 474);
  EXPECT_EQ(shape_str(ds.sample_shape), "[3, 32, 32]");
  ASSERT_EQ(l.labels.size(), 474u);
  EXPECT_EQ(l.labels[0], 6);  // a frog
  EXPECT_EQ(raw[0], 6);
  for (uint8_t lab : l.labels) EXPECT_LT(lab, 10);
  // Images are the records without their label bytes, planes in file order (R, G, B).
  for (int64_t r : {0, 1, 473})
    for (int64_t j = 0; j < 3072; ++j)
      ASSERT_EQ(ds.bytes[size_t(r * 3072 + j)], raw[size_t(r * 3073 + 1 + j)]) << "record " << r << " byte " << j;
  const Tensor t = ds.gather({0, 473});
  EXPECT_EQ(shape_str(t.shape()), "[2, 3, 32, 32]");
  const float* p = t.data<float>();
  // Pixel (y, x) = (0, 0), (0, 1), (5, 7) of each colour plane of image 0, then image 473's first.
  for (int c = 0; c < 3; ++c)
    for (auto [y, x] : {std::pair{0, 0}, {0, 1}, {5, 7}})
      EXPECT_EQ(p[c * 1024 + y * 32 + x], expected_float(raw[size_t(1 + c * 1024 + y * 32 + x)]));
  EXPECT_EQ(p[3072], expected_float(raw[473 * 3073 + 1]));
  EXPECT_EQ(load_cifar10(sample.string()).bytes, ds.bytes);
}

TEST(Data, Cifar10DirectoryAndResize) {
  REQUIRE_CIFAR_SAMPLE();
  const fs::path dir = test::temp_dir("cifar-dir");
  fs::copy_file(sample, dir / "data_batch_1.bin", fs::copy_options::overwrite_existing);
  const Dataset one = load_cifar10(sample.string());
  const Dataset ds = load_cifar10(dir.string());
  EXPECT_EQ(ds.count, 474);
  EXPECT_EQ(ds.bytes, one.bytes);
  EXPECT_NE(ds.source.find("data_batch_1.bin"), std::string::npos);
  // All batches that exist are read, in order; test_batch.bin is not part of the training set.
  fs::copy_file(sample, dir / "data_batch_3.bin", fs::copy_options::overwrite_existing);
  fs::copy_file(sample, dir / "test_batch.bin", fs::copy_options::overwrite_existing);
  EXPECT_EQ(load_cifar10(dir.string()).count, 948);
  // The archive's own folder name is found one level down.
  const fs::path parent = test::temp_dir("cifar-parent");
  fs::create_directories(parent / "cifar-10-batches-bin");
  fs::copy_file(sample, parent / "cifar-10-batches-bin" / "data_batch_1.bin", fs::copy_options::overwrite_existing);
  EXPECT_EQ(load_cifar10(parent.string()).count, 474);

  const Dataset big = load_cifar10(sample.string(), 64);
  EXPECT_EQ(shape_str(big.sample_shape), "[3, 64, 64]");
  EXPECT_EQ(big.bytes.size(), 474u * 3 * 64 * 64);
  const std::vector<uint8_t> first(one.bytes.begin(), one.bytes.begin() + 3072);
  const std::vector<uint8_t> expect = resize_bilinear(first, 3, 32, 32, 64, 64);
  EXPECT_TRUE(std::equal(expect.begin(), expect.end(), big.bytes.begin()));
  fs::remove_all(dir);
  fs::remove_all(parent);
}

TEST(Data, Cifar10Errors) {
  REQUIRE_CIFAR_SAMPLE();
  const fs::path dir = test::temp_dir("cifar-bad");
  std::vector<uint8_t> raw = read_bytes(sample);
  raw.resize(raw.size() - 100);
  write_bytes(dir / "cut.bin", raw);
  const std::string e = test::error_of([&] { load_cifar10((dir / "cut.bin").string()); });
  EXPECT_NE(e.find((dir / "cut.bin").string()), std::string::npos) << e;
  EXPECT_NE(e.find(std::to_string(raw.size())), std::string::npos) << e;
  EXPECT_NE(e.find("truncated or not a CIFAR-10 binary batch"), std::string::npos) << e;
  write_bytes(dir / "empty.bin", {});
  EXPECT_NE(test::error_of([&] { load_cifar10((dir / "empty.bin").string()); }).find("empty.bin"), std::string::npos);
  const fs::path none = dir / "nothing-here";
  fs::create_directories(none);
  EXPECT_NE(test::error_of([&] { load_cifar10(none.string()); }).find(none.string()), std::string::npos);
  EXPECT_NE(test::error_of([&] { load_cifar10((dir / "missing").string()); }).find("missing' does not exist"),
            std::string::npos);
  fs::remove_all(dir);
}

// ---------------------------------------------------------------------------------------------
// Fashion-MNIST

TEST(Data, FashionMnistTrainPadded) {
  MMGAN_REQUIRE_FASHION_MNIST();
  const Labeled l = load_fashion_mnist(kFashionMnistDir, true);
  const Dataset& ds = l.images;
  EXPECT_EQ(ds.name, "fashion-mnist");
  EXPECT_EQ(ds.count, 60000);
  EXPECT_EQ(shape_str(ds.sample_shape), "[1, 32, 32]");
  ASSERT_EQ(l.labels.size(), 60000u);
  // Independent decode of the raw files.
  const std::vector<uint8_t> raw_labels = read_gz(fs::path(kFashionMnistDir) / "train-labels-idx1-ubyte.gz");
  const std::vector<uint8_t> raw_images = read_gz(fs::path(kFashionMnistDir) / "train-images-idx3-ubyte.gz");
  ASSERT_EQ(raw_labels.size(), 8u + 60000u);
  ASSERT_EQ(raw_images.size(), 16u + 60000u * 784u);
  EXPECT_EQ(l.labels[0], raw_labels[8]);
  EXPECT_EQ(l.labels[0], 9);  // an ankle boot
  EXPECT_TRUE(std::equal(l.labels.begin(), l.labels.end(), raw_labels.begin() + 8));
  std::map<int, int> hist;
  for (uint8_t lab : l.labels) ++hist[lab];
  EXPECT_EQ(hist.size(), 10u);
  for (auto [c, n] : hist) EXPECT_EQ(n, 6000) << "class " << c;
  // Pad: a 2-pixel border of zeros (-1 after scaling) around the original 28x28.
  for (int64_t i : {0, 12345, 59999}) {
    const Tensor t = ds.gather({i});
    const float* p = t.data<float>();
    for (int y = 0; y < 32; ++y)
      for (int x = 0; x < 32; ++x) {
        const bool inside = y >= 2 && y < 30 && x >= 2 && x < 30;
        const float want = inside ? expected_float(raw_images[size_t(16 + i * 784 + (y - 2) * 28 + (x - 2))]) : -1.0f;
        ASSERT_EQ(p[y * 32 + x], want) << "image " << i << " (" << y << ", " << x << ")";
      }
  }
}

TEST(Data, FashionMnistTestSplitResized) {
  MMGAN_REQUIRE_FASHION_MNIST();
  const Labeled l = load_fashion_mnist(kFashionMnistDir, false, 32, "resize");
  EXPECT_EQ(l.images.count, 10000);
  std::map<int, int> hist;
  for (uint8_t lab : l.labels) ++hist[lab];
  for (auto [c, n] : hist) EXPECT_EQ(n, 1000) << "class " << c;
  const std::vector<uint8_t> raw = read_gz(fs::path(kFashionMnistDir) / "t10k-images-idx3-ubyte.gz");
  const std::vector<uint8_t> first(raw.begin() + 16, raw.begin() + 16 + 784);
  const std::vector<uint8_t> want = resize_bilinear(first, 1, 28, 28, 32, 32);
  EXPECT_TRUE(std::equal(want.begin(), want.end(), l.images.bytes.begin()));
  const Labeled s16 = load_fashion_mnist(kFashionMnistDir, false, 16, "resize");
  EXPECT_EQ(shape_str(s16.images.sample_shape), "[1, 16, 16]");
  const std::string e = test::error_of([] { load_fashion_mnist(kFashionMnistDir, false, 31, "pad"); });
  EXPECT_NE(e.find("image_size 31"), std::string::npos) << e;
  EXPECT_NE(test::error_of([] { load_fashion_mnist(kFashionMnistDir, false, 32, "crop"); }).find("'crop'"),
            std::string::npos);
}

// A tiny idx set of `n` images (pixel value = image index * 10 + row) and labels, as the files hold them.
std::vector<uint8_t> idx_images(uint32_t magic, uint32_t n, uint32_t stored) {
  std::vector<uint8_t> b;
  for (uint32_t v : {magic, n, 28u, 28u})
    for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(v >> s));
  for (uint32_t i = 0; i < stored; ++i)
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x) b.push_back(uint8_t(i * 10 + y));
  return b;
}
std::vector<uint8_t> idx_labels(uint32_t n) {
  std::vector<uint8_t> b{0, 0, 8, 1};
  for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(n >> s));
  for (uint32_t i = 0; i < n; ++i) b.push_back(uint8_t(i % 10));
  return b;
}

TEST(Data, FashionMnistFormatChecks) {
  const fs::path dir = test::temp_dir("fmnist");
  // Uncompressed files are accepted too.
  write_bytes(dir / "train-images-idx3-ubyte", idx_images(2051, 3, 3));
  write_bytes(dir / "train-labels-idx1-ubyte", idx_labels(3));
  const Labeled ok = load_fashion_mnist(dir.string(), true);
  EXPECT_EQ(ok.images.count, 3);
  EXPECT_EQ(ok.labels, (std::vector<uint8_t>{0, 1, 2}));
  EXPECT_EQ(ok.images.bytes[size_t(2 * 1024 + 2 * 32 + 2)], 20);  // image 2, row 0 at (2, 2)
  EXPECT_EQ(ok.images.bytes[size_t(2 * 1024 + 29 * 32 + 29)], 47);
  EXPECT_EQ(ok.images.bytes[size_t(2 * 1024 + 1 * 32 + 5)], 0);

  // A .gz beside the plain file wins; a wrong magic number names the file and the magic.
  const fs::path gz = dir / "train-images-idx3-ubyte.gz";
  write_gz(gz, idx_images(2049, 3, 3));
  std::string e = test::error_of([&] { load_fashion_mnist(dir.string(), true); });
  EXPECT_NE(e.find(gz.string()), std::string::npos) << e;
  EXPECT_NE(e.find("magic number 2049"), std::string::npos) << e;
  // Header promising more images than the file holds.
  write_gz(gz, idx_images(2051, 3, 2));
  e = test::error_of([&] { load_fashion_mnist(dir.string(), true); });
  EXPECT_NE(e.find(gz.string()), std::string::npos) << e;
  EXPECT_NE(e.find("truncated or corrupt"), std::string::npos) << e;
  // A corrupt gzip stream: a valid gzip header followed by garbage.
  std::vector<uint8_t> bad{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
  for (int i = 0; i < 200; ++i) bad.push_back(uint8_t(i * 97 + 13));
  write_bytes(gz, bad);
  e = test::error_of([&] { load_fashion_mnist(dir.string(), true); });
  EXPECT_NE(e.find(gz.string()), std::string::npos) << e;
  EXPECT_NE(e.find("cannot decompress"), std::string::npos) << e;
  // A truncated gzip file.
  write_gz(gz, idx_images(2051, 3, 3));
  std::vector<uint8_t> cut = read_bytes(gz);
  cut.resize(cut.size() / 2);
  write_bytes(gz, cut);
  e = test::error_of([&] { load_fashion_mnist(dir.string(), true); });
  EXPECT_NE(e.find(gz.string()), std::string::npos) << e;
  // Label count disagreeing with the image count.
  write_gz(gz, idx_images(2051, 3, 3));
  write_bytes(dir / "train-labels-idx1-ubyte", idx_labels(4));
  e = test::error_of([&] { load_fashion_mnist(dir.string(), true); });
  EXPECT_NE(e.find("has 4 labels"), std::string::npos) << e;
  // Missing files name both candidates.
  e = test::error_of([&] { load_fashion_mnist(dir.string(), false); });
  EXPECT_NE(e.find("t10k-images-idx3-ubyte.gz"), std::string::npos) << e;
  fs::remove_all(dir);
}

// ---------------------------------------------------------------------------------------------
// Image folders

uint8_t grad_r(int y, int x) { return uint8_t(30 * x + 5 * y); }
uint8_t grad_b(int y, int x) { return uint8_t(20 * y + x); }
uint8_t grey_v(int y, int x) { return uint8_t(10 * x + 20 * y); }

// dir/a/grad.png (8x8 RGB), dir/b/grey.png (8x8 grey), dir/bad.png (not an image), dir/c.bmp
// (10x6 RGB), dir/notes.txt (ignored).
fs::path make_folder() {
  const fs::path dir = test::temp_dir("folder");
  fs::create_directories(dir / "a");
  fs::create_directories(dir / "b");
  std::vector<uint8_t> rgb(8 * 8 * 3), grey(8 * 8), bmp(6 * 10 * 3);
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x) {
      uint8_t* p = &rgb[size_t((y * 8 + x) * 3)];
      p[0] = grad_r(y, x);
      p[1] = uint8_t(255 - grad_r(y, x));
      p[2] = grad_b(y, x);
      grey[size_t(y * 8 + x)] = grey_v(y, x);
    }
  for (size_t i = 0; i < bmp.size(); ++i) bmp[i] = uint8_t(i);
  EXPECT_TRUE(stbi_write_png((dir / "a" / "grad.png").c_str(), 8, 8, 3, rgb.data(), 8 * 3));
  EXPECT_TRUE(stbi_write_png((dir / "b" / "grey.png").c_str(), 8, 8, 1, grey.data(), 8));
  EXPECT_TRUE(stbi_write_bmp((dir / "c.bmp").c_str(), 10, 6, 3, bmp.data()));
  std::ofstream(dir / "bad.png") << "this is not a PNG file";
  std::ofstream(dir / "notes.txt") << "ignored";
  return dir;
}

TEST(Data, ImageFolderReadsSortedSkipsBadFiles) {
  const fs::path dir = make_folder();
  testing::internal::CaptureStderr();
  const Dataset ds = load_image_folder(dir.string(), 8);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(ds.name, "folder");
  EXPECT_EQ(ds.count, 3);
  EXPECT_EQ(ds.skipped, 1);
  EXPECT_NE(err.find((dir / "bad.png").string()), std::string::npos) << err;
  EXPECT_EQ(shape_str(ds.sample_shape), "[3, 8, 8]");
  // Sorted by path: a/grad.png, b/grey.png, c.bmp (bad.png skipped). Same size: no resampling.
  const uint8_t* g = ds.bytes.data();
  const uint8_t* v = g + 192;
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x) {
      ASSERT_EQ(g[y * 8 + x], grad_r(y, x));
      ASSERT_EQ(g[64 + y * 8 + x], 255 - grad_r(y, x));
      ASSERT_EQ(g[128 + y * 8 + x], grad_b(y, x));
      for (int c = 0; c < 3; ++c) ASSERT_EQ(v[c * 64 + y * 8 + x], grey_v(y, x));  // grey expanded
    }
  // One colour: grey images stay exact, RGB ones take PIL's luma.
  testing::internal::CaptureStderr();
  const Dataset one = load_image_folder(dir.string(), 8, 1);
  testing::internal::GetCapturedStderr();
  EXPECT_EQ(shape_str(one.sample_shape), "[1, 8, 8]");
  const int r = grad_r(3, 5), gg = 255 - r, b = grad_b(3, 5);
  EXPECT_EQ(one.bytes[size_t(3 * 8 + 5)], (19595 * r + 38470 * gg + 7471 * b + 0x8000) >> 16);
  EXPECT_EQ(one.bytes[size_t(64 + 3 * 8 + 5)], grey_v(3, 5));

  const std::string e = test::error_of([&] { load_image_folder(dir.string(), 8, 3, 0, "stop"); });
  EXPECT_NE(e.find((dir / "bad.png").string()), std::string::npos) << e;
  EXPECT_NE(e.find("cannot read"), std::string::npos) << e;
  fs::remove_all(dir);
}

TEST(Data, ImageFolderCropAndResize) {
  const fs::path dir = make_folder();
  fs::remove(dir / "bad.png");
  // Resize 8x8 -> 4x4: the red plane is the gradient of ResizeMatchesPillow, so Pillow's values.
  const Dataset small = load_image_folder(dir.string(), 4);
  EXPECT_EQ(shape_str(small.sample_shape), "[3, 4, 4]");
  EXPECT_EQ(small.skipped, 0);
  EXPECT_EQ(std::vector<uint8_t>(small.bytes.begin(), small.bytes.begin() + 16),
            (std::vector<uint8_t>{25, 79, 139, 193, 34, 88, 148, 202, 44, 98, 158, 212, 52, 106, 166, 220}));
  // The 10x6 BMP is squashed to 4x4 (aspect not kept).
  EXPECT_EQ(small.bytes.size(), 3u * 48u);
  // Centre crop 4 of 8: offset 2, then no resize.
  const Dataset crop = load_image_folder(dir.string(), 4, 3, 4);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) {
      EXPECT_EQ(crop.bytes[size_t(y * 4 + x)], grad_r(y + 2, x + 2));
      EXPECT_EQ(crop.bytes[size_t(48 + y * 4 + x)], grey_v(y + 2, x + 2));
    }
  // Crop 5 of 8: (8 - 5) / 2 = 1.5 rounds half to even (Python's round, as torchvision) -> 2.
  const Dataset odd = load_image_folder(dir.string(), 5, 1, 5);
  EXPECT_EQ(odd.bytes[size_t(25 + 0)], grey_v(2, 2));
  EXPECT_EQ(odd.bytes[size_t(25 + 4 * 5 + 4)], grey_v(6, 6));
  // Crop 10 of 8: zero padding of 1 around the image, as torchvision pads before cropping.
  const Dataset pad = load_image_folder(dir.string(), 10, 1, 10);
  EXPECT_EQ(pad.bytes[size_t(100 + 0)], 0);
  EXPECT_EQ(pad.bytes[size_t(100 + 1 * 10 + 1)], grey_v(0, 0));
  EXPECT_EQ(pad.bytes[size_t(100 + 8 * 10 + 8)], grey_v(7, 7));
  EXPECT_EQ(pad.bytes[size_t(100 + 9 * 10 + 9)], 0);
  // Crop then resize = resize of the crop.
  const Dataset cr = load_image_folder(dir.string(), 3, 1, 6);
  std::vector<uint8_t> c6;
  for (int y = 1; y < 7; ++y)
    for (int x = 1; x < 7; ++x) c6.push_back(grey_v(y, x));
  const std::vector<uint8_t> want = resize_bilinear(c6, 1, 6, 6, 3, 3);
  EXPECT_TRUE(std::equal(want.begin(), want.end(), cr.bytes.begin() + 9));
  fs::remove_all(dir);
}

TEST(Data, ImageFolderErrors) {
  const fs::path dir = test::temp_dir("folder-empty");
  std::ofstream(dir / "readme.txt") << "no images";
  std::string e = test::error_of([&] { load_image_folder(dir.string(), 8); });
  EXPECT_NE(e.find(dir.string()), std::string::npos) << e;
  EXPECT_NE(e.find("holds no images"), std::string::npos) << e;
  e = test::error_of([&] { load_image_folder((dir / "nope").string(), 8); });
  EXPECT_NE(e.find((dir / "nope").string() + "' does not exist"), std::string::npos) << e;
  std::ofstream(dir / "only.png") << "garbage";
  testing::internal::CaptureStderr();
  e = test::error_of([&] { load_image_folder(dir.string(), 8); });
  testing::internal::GetCapturedStderr();
  EXPECT_NE(e.find("none of its 1 images could be read"), std::string::npos) << e;
  EXPECT_NE(test::error_of([&] { load_image_folder(dir.string(), 8, 2); }).find("n_colors"), std::string::npos);
  EXPECT_NE(test::error_of([&] { load_image_folder(dir.string(), 8, 3, 0, "ignore"); }).find("on_bad"),
            std::string::npos);
  fs::remove_all(dir);
}

// ---------------------------------------------------------------------------------------------
// Toy sets

TEST(Data, ToySegment) {
  const Dataset ds = make_toy("segment", 4000, 1);
  EXPECT_EQ(ds.name, "toy-segment");
  EXPECT_EQ(shape_str(ds.sample_shape), "[2]");
  EXPECT_EQ(ds.count, 4000);
  double mean = 0, sq = 0;
  for (int64_t i = 0; i < ds.count; ++i) {
    EXPECT_EQ(ds.values[size_t(2 * i)], 0.9f);
    const double y = ds.values[size_t(2 * i + 1)];
    ASSERT_GE(y, -0.9f);
    ASSERT_LE(y, 0.9f);
    mean += y / 4000;
    sq += y * y / 4000;
  }
  // Uniform on [-0.9, 0.9]: mean 0 (sd 0.52 / sqrt(4000) = 0.008), variance 0.27.
  EXPECT_NEAR(mean, 0.0, 0.04);
  EXPECT_NEAR(sq, 0.81 / 3, 0.02);
  EXPECT_EQ(make_toy("segment", 4000, 1).values, ds.values);
  EXPECT_NE(make_toy("segment", 4000, 2).values, ds.values);
  const Tensor t = ds.gather({3, 1});
  EXPECT_EQ(shape_str(t.shape()), "[2, 2]");
  EXPECT_EQ(t.data<float>()[1], ds.values[7]);
}

TEST(Data, ToyRing8ClustersNearTheCentres) {
  const int64_t n = 8000;
  const Dataset ds = make_toy("ring8", n, 3);
  EXPECT_EQ(ds.name, "toy-ring8");
  std::vector<int> per(8, 0);
  double mean_dist = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double x = ds.values[size_t(2 * i)], y = ds.values[size_t(2 * i + 1)];
    ASSERT_TRUE(x >= -1 && x <= 1 && y >= -1 && y <= 1);
    int best = 0;
    double bd = 1e9;
    for (int k = 0; k < 8; ++k) {
      const double d = std::hypot(x - 0.8 * std::cos(k * M_PI / 4), y - 0.8 * std::sin(k * M_PI / 4));
      if (d < bd) bd = d, best = k;
    }
    ASSERT_LT(bd, 0.3) << "point " << i << " is 6 standard deviations from every centre";
    ++per[size_t(best)];
    mean_dist += bd / double(n);
  }
  // Equal weights: n/8 = 1000 each, binomial sd about 30.
  for (int k = 0; k < 8; ++k) EXPECT_NEAR(per[size_t(k)], n / 8, 150) << "centre " << k;
  // Distance to the centre of a 2-d Gaussian with std 0.05: Rayleigh, mean 0.05 sqrt(pi / 2) = 0.0627.
  EXPECT_NEAR(mean_dist, 0.05 * std::sqrt(M_PI / 2), 0.003);
  EXPECT_EQ(make_toy("ring8", n, 3).values, ds.values);
  EXPECT_NE(test::error_of([] { make_toy("spiral", 10, 1); }).find("'spiral'"), std::string::npos);
  EXPECT_NE(test::error_of([] { make_toy("ring8", 0, 1); }).find("n > 0"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Batch sampling

TEST(Data, SamplerDrawsDistinctIndicesDeterministically) {
  const BatchSampler s(1000, 64, 42);
  std::set<std::vector<int64_t>> seen;
  for (uint64_t k = 0; k < 200; ++k) {
    const std::vector<int64_t> idx = s.indices(k);
    ASSERT_EQ(idx.size(), 64u);
    EXPECT_EQ(std::set<int64_t>(idx.begin(), idx.end()).size(), 64u) << "repeat in batch " << k;
    for (int64_t i : idx) ASSERT_TRUE(i >= 0 && i < 1000) << i;
    seen.insert(idx);
  }
  EXPECT_EQ(seen.size(), 200u);
  EXPECT_EQ(BatchSampler(1000, 64, 42).indices(17), s.indices(17));  // a pure function of (seed, k)
  EXPECT_NE(BatchSampler(1000, 64, 43).indices(17), s.indices(17));
  // batch == n: a permutation.
  std::vector<int64_t> all = BatchSampler(50, 50, 1).indices(3);
  std::sort(all.begin(), all.end());
  for (int64_t i = 0; i < 50; ++i) EXPECT_EQ(all[size_t(i)], i);
  // O(batch): a batch from a huge index range costs nothing.
  const std::vector<int64_t> huge = BatchSampler(int64_t(1) << 40, 16, 1).indices(0);
  EXPECT_EQ(std::set<int64_t>(huge.begin(), huge.end()).size(), 16u);
  const std::string e = test::error_of([] { BatchSampler(10, 11, 0); });
  EXPECT_NE(e.find("batch size 11"), std::string::npos) << e;
  EXPECT_NE(e.find("data set size 10"), std::string::npos) << e;
}

TEST(Data, SamplerCoversIndicesUniformly) {
  // Each index is in a batch with probability b / n, independently across batches: counts over
  // K batches are Binomial(K, b / n); every one must lie within 5 standard deviations.
  const int64_t n = 100, b = 10, K = 20000;
  const BatchSampler s(n, b, 7);
  std::vector<int64_t> count(size_t(n), 0);
  std::vector<int64_t> first(size_t(n), 0);  // position 0 alone: uniform over n as well
  for (int64_t k = 0; k < K; ++k) {
    const std::vector<int64_t> idx = s.indices(uint64_t(k));
    for (int64_t i : idx) ++count[size_t(i)];
    ++first[size_t(idx[0])];
  }
  const double p = double(b) / double(n), mean = double(K) * p, sd = std::sqrt(double(K) * p * (1 - p));
  for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(double(count[size_t(i)]), mean, 5 * sd) << "index " << i;
  const double m1 = double(K) / double(n), s1 = std::sqrt(double(K) / double(n) * (1 - 1.0 / double(n)));
  for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(double(first[size_t(i)]), m1, 5 * s1) << "index " << i;
}

// ---------------------------------------------------------------------------------------------
// Prefetcher

std::vector<float> floats(const Tensor& t) { return std::vector<float>(t.data<float>(), t.data<float>() + t.numel()); }

TEST(Data, PrefetcherReturnsSamplerBatchesInOrderAndSeeks) {
  const Dataset ds = make_toy("ring8", 500, 9);
  const BatchSampler s(500, 32, 11);
  Prefetcher p(ds, 32, 11);
  EXPECT_EQ(p.position(), 0u);
  for (uint64_t k = 0; k < 10; ++k) {
    const Tensor t = p.next();
    EXPECT_EQ(shape_str(t.shape()), "[32, 2]");
    EXPECT_EQ(floats(t), floats(ds.gather(s.indices(k)))) << "batch " << k;
    EXPECT_EQ(p.position(), k + 1);
  }
  p.seek(3);
  EXPECT_EQ(p.position(), 3u);
  EXPECT_EQ(floats(p.next()), floats(ds.gather(s.indices(3))));
  EXPECT_EQ(floats(p.next()), floats(ds.gather(s.indices(4))));
  p.seek(1000);
  EXPECT_EQ(floats(p.next()), floats(ds.gather(s.indices(1000))));
  EXPECT_EQ(p.position(), 1001u);
  // A fresh prefetcher seeked to k resumes with the same batches as one that got there by next().
  Prefetcher q(ds, 32, 11, 1);
  q.seek(1001);
  EXPECT_EQ(floats(q.next()), floats(p.next()));
}

TEST(Data, PrefetcherDestructorDoesNotWaitForQueuedWork) {
  Dataset ds;
  ds.name = "big";
  ds.sample_shape = {3, 32, 32};
  ds.count = 1000;
  ds.bytes.assign(size_t(ds.count * 3 * 32 * 32), 7);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 12; ++i) {
    // Destroyed while a gather is under way, or with the queue full and the thread waiting.
    Prefetcher p(ds, 256, uint64_t(i), 2);
    if (i % 3 == 1) p.next();
    if (i % 3 == 2) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(s, 5.0);
}

TEST(Data, PrefetcherRethrowsWorkerErrors) {
  Dataset broken;  // claims 10 samples but stores none
  broken.name = "broken";
  broken.sample_shape = {2};
  broken.count = 10;
  Prefetcher p(broken, 4, 1);
  const std::string e = test::error_of([&] { p.next(); });
  EXPECT_NE(e.find("data set 'broken'"), std::string::npos) << e;
  EXPECT_EQ(p.position(), 0u);  // the failed batch is not consumed
  EXPECT_NE(test::error_of([&] { p.next(); }), "<no error>");
  EXPECT_NE(test::error_of([] {
              Dataset d;
              d.count = 3;
              Prefetcher(d, 4, 0);
            }).find("batch size 4"),
            std::string::npos);
}

// A real JPEG (stb_image_write) with one more Huffman table after its SOI marker: table class 1,
// id 0, the given 16 code counts, then as many value bytes as the counts add up to.
std::vector<uint8_t> jpeg_with_dht(const std::vector<uint8_t>& counts) {
  std::vector<uint8_t> jpg;
  std::vector<uint8_t> rgb(8 * 8 * 3);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = uint8_t(i * 7);
  auto append = [](void* ctx, void* data, int size) {
    auto* out = static_cast<std::vector<uint8_t>*>(ctx);
    out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
  };
  EXPECT_TRUE(stbi_write_jpg_to_func(append, &jpg, 8, 8, 3, rgb.data(), 90));
  size_t n = 0;
  for (uint8_t c : counts) n += c;
  std::vector<uint8_t> seg = {0xFF, 0xC4, uint8_t((3 + 16 + n) >> 8), uint8_t((3 + 16 + n) & 0xFF), 0x10};
  seg.insert(seg.end(), counts.begin(), counts.end());
  seg.resize(seg.size() + n, 1);
  jpg.insert(jpg.begin() + 2, seg.begin(), seg.end());
  return jpg;
}

// Debian's stb_image 2.27 writes past its Huffman tables for a DHT segment of more than 256 codes
// (fuzz/regressions/image/); data/stb_guard.h refuses such JPEGs before stb sees them.
TEST(Data, JpegHuffmanTablesAreCheckedBeforeStb) {
  std::vector<uint8_t> ok(16, 0);
  ok[1] = 2, ok[2] = 3;  // 2 codes of length 2, 3 of length 3: a valid table
  EXPECT_EQ(decode_image(jpeg_with_dht(ok), "ok.jpg", 8).size(), 3u * 8 * 8);

  std::vector<uint8_t> too_many(16, 0);
  too_many[15] = 255, too_many[14] = 45;  // 300 codes whose lengths fit: stb accepted them
  const std::string e = test::error_of([&] { decode_image(jpeg_with_dht(too_many), "many.jpg", 8); });
  EXPECT_NE(e.find("'many.jpg': JPEG Huffman table at byte 6 has 300 codes, more than the 256"), std::string::npos)
      << e;

  std::vector<uint8_t> overfull(16, 0);
  overfull[0] = 3;  // 3 codes of length 1
  const std::string e2 = test::error_of([&] { decode_image(jpeg_with_dht(overfull), "bad.jpg", 8); });
  EXPECT_NE(e2.find("more codes of length <= 1 than fit in 1 bits"), std::string::npos) << e2;
}

// stb reads zeros past the end of a truncated BMP: a 12x8 BMP whose header claims 8,257,544 rows
// asked for a 99-megapixel decode from 334 bytes (fuzz/regressions/image/). Refused before decoding.
TEST(Data, ImagesWithFarMorePixelsThanBytesAreRefused) {
  std::vector<uint8_t> bmp;
  const std::vector<uint8_t> rgb(12 * 8 * 3, 77);
  auto append = [](void* ctx, void* data, int size) {
    auto* out = static_cast<std::vector<uint8_t>*>(ctx);
    out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
  };
  ASSERT_TRUE(stbi_write_bmp_to_func(append, &bmp, 12, 8, 3, rgb.data()));
  EXPECT_EQ(decode_image(bmp, "ok.bmp", 4).size(), 3u * 4 * 4);
  const uint32_t rows = 8257544;
  std::memcpy(&bmp[22], &rows, 4);  // BITMAPINFOHEADER height, little-endian
  const std::string e = test::error_of([&] { decode_image(bmp, "tall.bmp", 4); });
  EXPECT_NE(e.find("'tall.bmp': 12x8257544 pixels in " + std::to_string(bmp.size()) +
                   " bytes, more than 16384 pixels per byte"),
            std::string::npos)
      << e;
}

}  // namespace
}  // namespace mmgan
