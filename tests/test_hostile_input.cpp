// Hostile input (issue 16): crafted files and sizes that once crashed, wrapped or were silently
// accepted. Each case failed before its fix; each now gives an error that names the file, tensor or
// size at fault.
#include <gmock/gmock.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "data/cifar10.h"
#include "data/fashion_mnist.h"
#include "data/image_folder.h"
#include "engine/checked_math.h"
#include "engine/parallel.h"
#include "tests/test_util.h"

namespace mmgan::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::vector<uint8_t> idx(uint32_t magic, std::vector<uint32_t> sizes, size_t data_bytes) {
  std::vector<uint8_t> b;
  auto be = [&](uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(v >> s));
  };
  be(magic);
  for (uint32_t s : sizes) be(s);
  b.resize(b.size() + data_bytes, 7);
  return b;
}

// An exception inside an OpenMP loop reaches the caller (instead of std::terminate).
TEST(HostileInput, ExceptionsLeaveParallelLoopsOnTheCallingThread) {
  std::vector<int> done(1000, 0);
  EXPECT_THAT(error_of([&] {
                parallel_for(1000, [&](int64_t i) {
                  done[size_t(i)] = 1;
                  if (i % 97 == 13) throw std::bad_alloc();
                });
              }),
              HasSubstr("bad_alloc"));
  EXPECT_EQ(std::count(done.begin(), done.end(), 1), 1000);  // the other iterations still ran
}

TEST(HostileInput, CheckedArithmeticRefusesWraps) {
  EXPECT_EQ(checked_mul(1 << 20, 1 << 20, "x"), int64_t(1) << 40);
  EXPECT_THAT(error_of([] { checked_mul(int64_t(1) << 40, int64_t(1) << 40, "the thing"); }),
              HasSubstr("the thing: size"));
  EXPECT_THAT(error_of([] { checked_mul(-1, 3, "y"); }), HasSubstr("negative"));
  EXPECT_THAT(error_of([] { shape_numel({int64_t(1) << 62, 8}); }), HasSubstr("overflows"));
  EXPECT_THAT(error_of([] { empty({int64_t(1) << 31, int64_t(1) << 31}); }), HasSubstr("overflows"));
}

// Item 1: n * h * w of this header wraps int64 to exactly 47,040,000, the real training set's data
// size, so the old size check passed and resize_bilinear read far outside the buffer.
TEST(HostileInput, IdxHeaderWhoseSizeProductWrapsIsRefused) {
  const uint32_t n = 1379408, h = 14348216, w = 14912452;
  uint64_t wrapped = uint64_t(n) * h;
  wrapped *= w;  // the old int64 product, wrapped
  ASSERT_EQ(wrapped, 47040000u);
  const auto images = idx(2051, {n, h, w}, 47040000), labels = idx(2049, {n}, n);
  EXPECT_THAT(error_of([&] { data::fashion_mnist_from_idx(images, "imgs", labels, "lbls", 32, "resize"); }),
              HasSubstr("'imgs' header sizes"));
}

TEST(HostileInput, IdxImagesLargerThanThePixelCapAreRefused) {
  const auto images = idx(2051, {1, 1 << 15, 1 << 14}, size_t(1) << 29), labels = idx(2049, {1}, 1);
  EXPECT_THAT(error_of([&] { data::fashion_mnist_from_idx(images, "imgs", labels, "lbls", 32, "resize"); }),
              HasSubstr("more than the"));
  const auto ok_images = idx(2051, {2, 28, 28}, 2 * 784), ok_labels = idx(2049, {2}, 2);
  EXPECT_THAT(error_of([&] { data::fashion_mnist_from_idx(ok_images, "i", ok_labels, "l", 1 << 20, "resize"); }),
              HasSubstr("image_size must be in [1, 16384]"));
  EXPECT_EQ(data::fashion_mnist_from_idx(ok_images, "i", ok_labels, "l", 32, "pad").images.count, 2);
}

TEST(HostileInput, CifarBatchesAreRegularFilesWithCifarLabels) {
  EXPECT_THAT(error_of([] { data::load_cifar10("/dev/zero"); }), HasSubstr("'/dev/zero' is not a regular file"));
  std::vector<uint8_t> batch(2 * 3073, 0), labels, pixels;
  batch[3073] = 200;
  EXPECT_THAT(error_of([&] { data::append_cifar10_batch(batch, "b.bin", labels, pixels); }),
              HasSubstr("'b.bin': record 1 has label 200"));
  batch[3073] = 9;
  data::append_cifar10_batch(batch, "b.bin", labels, pixels);
  EXPECT_EQ(labels.size(), 2u);
  EXPECT_EQ(pixels.size(), 2u * 3072);
}

void write_bytes(const fs::path& p, const std::vector<uint8_t>& b) {
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

// A 1x1 grey PGM (binary): the smallest image stb reads.
std::vector<uint8_t> pgm(int w, int h) {
  const std::string head = "P5\n" + std::to_string(w) + " " + std::to_string(h) + "\n255\n";
  std::vector<uint8_t> b(head.begin(), head.end());
  b.resize(b.size() + size_t(w) * size_t(h), 100);
  return b;
}

// Item 12: a link back to an ancestor once made 6 images load as 246 samples.
TEST(HostileInput, SymlinkLoopDoesNotMultiplyTheData) {
  const fs::path d = temp_dir("symlink-loop");
  fs::create_directories(d / "a" / "b");
  for (int i = 0; i < 3; ++i) write_bytes(d / ("img" + std::to_string(i) + ".pgm"), pgm(2, 2));
  for (int i = 0; i < 3; ++i) write_bytes(d / "a" / "b" / ("img" + std::to_string(i) + ".pgm"), pgm(2, 2));
  fs::create_directory_symlink("..", d / "a" / "up");
  fs::create_directory_symlink("../..", d / "a" / "b" / "top");
  fs::create_symlink(d / "img0.pgm", d / "a" / "again.pgm");  // the same file twice counts once
  EXPECT_EQ(data::load_image_folder(d.string(), 4, 1).count, 6);
}

// A few bytes that claim a huge image: refused from the header, before a gigabyte is decoded.
TEST(HostileInput, HugeImageHeaderIsRefusedBeforeDecoding) {
  std::vector<uint8_t> b = pgm(1, 1);
  const std::string head = "P5\n60000 60000\n255\n";
  b.assign(head.begin(), head.end());
  b.resize(b.size() + 16, 1);
  EXPECT_THAT(error_of([&] { data::decode_image(b, "bomb.pgm", 32); }), HasSubstr("60000x60000 pixels"));
  EXPECT_EQ(data::decode_image(pgm(3, 3), "ok.pgm", 4, 1).size(), 16u);
}

// safetensors bytes from a header (JSON text) and a data buffer.
std::string st_bytes(const std::string& header, size_t data) {
  std::string b(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(b.data(), &n, 8);
  return b + header + std::string(data, '\0');
}

std::string parse_error(const std::string& header, size_t data) {
  return error_of([&] { parse_safetensors(st_bytes(header, data), "f.st"); });
}

// Item 8: the format's offsets tile the data buffer exactly.
TEST(HostileInput, SafetensorsOffsetsMustTileTheData) {
  const std::string a = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  EXPECT_EQ(parse_safetensors(st_bytes("{" + a + "}", 8), "f.st").names.size(), 1u);
  EXPECT_THAT(parse_error("{" + a + R"(,"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12),
              HasSubstr("overlapping"));
  EXPECT_THAT(parse_error("{" + a + R"(,"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8),
              HasSubstr("overlapping"));
  EXPECT_THAT(parse_error("{" + a + R"(,"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}})", 16),
              HasSubstr("leaving a hole"));
  EXPECT_THAT(parse_error("{" + a + "}", 12), HasSubstr("trailing bytes"));
  EXPECT_THAT(parse_error(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0.5,8]}})", 8),
              HasSubstr("not a non-negative integer"));
  EXPECT_THAT(parse_error(R"({"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", 8),
              HasSubstr("not a non-negative integer"));
  EXPECT_THAT(parse_error("{" + a + "," + a + "}", 8), HasSubstr("key 'a' appears twice"));
  EXPECT_THAT(parse_error(R"({"a":{"dtype":"F32","shape":[9223372036854775807,9223372036854775807],)"
                          R"("data_offsets":[0,8]}})",
                          8),
              HasSubstr("beyond 2^53"));
  EXPECT_THAT(parse_error(R"({"a":{"dtype":"F32","shape":[4503599627370496,4096],"data_offsets":[0,8]}})", 8),
              HasSubstr("overflows"));
  EXPECT_THAT(parse_error(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", 8), HasSubstr("[begin, end]"));
  EXPECT_THAT(parse_error(R"({"a":[1,2]})", 8), HasSubstr("entry 'a' is not an object"));
}

TEST(HostileInput, SafetensorsIntegersBeyond2To53AreRefused) {
  std::string b = st_bytes(R"({"n":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", 8);
  const int64_t big = INT64_MAX;
  std::memcpy(&b[b.size() - 8], &big, 8);
  EXPECT_THAT(error_of([&] { parse_safetensors(b, "f.st"); }), HasSubstr("holds the integer 9223372036854775807"));
}

TEST(HostileInput, SafetensorsPathThatIsAFolderIsNamed) {
  const fs::path d = temp_dir("st-folder");
  EXPECT_THAT(error_of([&] { load_safetensors(d.string()); }), HasSubstr("is a directory"));
}

}  // namespace
}  // namespace mmgan::test
