// safetensors files: round trips, files written by an independent writer (Python), atomic
// writes, and a clear error naming the file for every kind of bad input.
#include <cstring>
#include <filesystem>
#include <fstream>

#include "tests/test_util.h"

namespace mmgan {
namespace {

namespace fs = std::filesystem;

std::string read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
void write_bytes(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }

// `bytes` with the first occurrence of `from` replaced by `to` (a test failure if absent).
std::string replace_once(std::string bytes, const std::string& from, const std::string& to) {
  const size_t pos = bytes.find(from);
  EXPECT_NE(pos, std::string::npos) << "'" << from << "' not in the file";
  if (pos != std::string::npos) bytes.replace(pos, from.size(), to);
  return bytes;
}

std::string load_error(const fs::path& p) {
  return test::error_of([&] { load_safetensors(p.string()); });
}

SafeTensors sample(Generator& g) {
  SafeTensors st;
  st.add("main.Start-ConvTranspose2d.weight", test::uniform({2, 3, 4}, -1, 1, g, false, DType::F32));
  st.add("b64", test::uniform({5}, -1, 1, g));
  st.add("main.Middle-BatchNorm2d [0].num_batches_tracked", scalar(7.0, DType::F64), "I64");
  st.add("empty", zeros({0, 3}));
  st.metadata["config"] = "{\"loss\": \"hinge\"}";
  return st;
}

TEST(SafeTensors, RoundTripKeepsValuesDtypesOrderAndMetadata) {
  Generator g(1);
  const SafeTensors st = sample(g);
  const auto dir = test::temp_dir("st");
  const std::string path = (dir / "a.safetensors").string();
  save_safetensors(path, st);
  const SafeTensors back = load_safetensors(path);
  EXPECT_EQ(back.names, st.names);
  EXPECT_EQ(back.metadata, st.metadata);
  for (const auto& name : st.names) {
    EXPECT_EQ(back.file_dtype.at(name), st.file_dtype.at(name)) << name;
    EXPECT_EQ(back.at(name).shape(), st.at(name).shape()) << name;
    EXPECT_EQ(back.at(name).to_vector(), st.at(name).to_vector()) << name;  // bit-exact
  }
  EXPECT_EQ(back.at("main.Start-ConvTranspose2d.weight").dtype(), DType::F32);
  // Header is 8-byte aligned and the file has no trailing bytes.
  const std::string bytes = read_bytes(path);
  uint64_t hl;
  std::memcpy(&hl, bytes.data(), 8);
  EXPECT_EQ(hl % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + hl + 4 * 24 + 8 * 5 + 8);
}

TEST(SafeTensors, WritesAtomicallyLeavingNoTemporaryFiles) {
  Generator g(2);
  const auto dir = test::temp_dir("st-atomic");
  const std::string path = (dir / "ckpt.safetensors").string();
  save_safetensors(path, sample(g));
  save_safetensors(path, sample(g));  // replaces the old file
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    ++files;
    EXPECT_EQ(e.path().filename(), "ckpt.safetensors");
  }
  EXPECT_EQ(files, 1);
  // An unwritable destination fails with the path in the message and leaves the old file intact.
  const std::string before = read_bytes(path);
  EXPECT_THROW(save_safetensors((dir / "missing-dir" / "x.safetensors").string(), sample(g)), Error);
  EXPECT_EQ(read_bytes(path), before);
}

TEST(SafeTensors, ReadsFilesWrittenByAnIndependentWriter) {
  MMGAN_REQUIRE_TORCH();  // needs /usr/bin/python3 with numpy (installed with torch)
  const auto dir = test::temp_dir("st-py");
  const std::string path = (dir / "py.safetensors").string();
  const std::string script = "import sys; sys.path.insert(0, '" + test::source_dir() +
                             "/tests/oracle'); import numpy as np, st_io; "
                             "st_io.save('" +
                             path +
                             "', {'w': np.arange(6, dtype=np.float32).reshape(2, 3) / 4, "
                             "'d': np.array([1.5, -2.25]), 'n': np.array(42, dtype=np.int64)}, {'who': 'python'})";
  ASSERT_EQ(std::system(("/usr/bin/python3 -c \"" + script + "\"").c_str()), 0);
  const SafeTensors st = load_safetensors(path);
  EXPECT_EQ(st.at("w").shape(), (Shape{2, 3}));
  EXPECT_EQ(st.at("w").to_vector(), (std::vector<double>{0, 0.25, 0.5, 0.75, 1.0, 1.25}));
  EXPECT_EQ(st.at("d").to_vector(), (std::vector<double>{1.5, -2.25}));
  EXPECT_EQ(st.at("n").item(), 42.0);
  EXPECT_EQ(st.file_dtype.at("n"), "I64");
  EXPECT_EQ(st.metadata.at("who"), "python");
}

TEST(SafeTensors, BadFilesGetErrorsNamingTheFile) {
  Generator g(3);
  const auto dir = test::temp_dir("st-bad");
  const fs::path good = dir / "good.safetensors";
  save_safetensors(good.string(), sample(g));
  const std::string bytes = read_bytes(good);
  uint64_t hl;
  std::memcpy(&hl, bytes.data(), 8);

  const fs::path missing = dir / "missing.safetensors";
  EXPECT_NE(load_error(missing).find(missing.string()), std::string::npos);

  const fs::path tiny = dir / "tiny.safetensors";
  write_bytes(tiny, "abc");
  EXPECT_NE(load_error(tiny).find("truncated"), std::string::npos);

  const fs::path cut = dir / "cut.safetensors";
  write_bytes(cut, bytes.substr(0, bytes.size() - 5));
  const std::string cut_err = load_error(cut);
  EXPECT_NE(cut_err.find(cut.string()), std::string::npos) << cut_err;
  EXPECT_NE(cut_err.find("offsets"), std::string::npos) << cut_err;

  const fs::path huge_header = dir / "huge.safetensors";
  std::string h = bytes;
  const uint64_t big = 1ull << 40;
  std::memcpy(h.data(), &big, 8);
  write_bytes(huge_header, h);
  EXPECT_NE(load_error(huge_header).find("header length"), std::string::npos);

  const fs::path bad_json = dir / "badjson.safetensors";
  std::string j = bytes;
  j[8] = '[';
  j[9] = '!';
  write_bytes(bad_json, j);
  EXPECT_NE(load_error(bad_json).find("not valid JSON"), std::string::npos);

  const fs::path bad_dtype = dir / "dtype.safetensors";
  write_bytes(bad_dtype, replace_once(bytes, "\"F64\"", "\"C64\""));
  EXPECT_NE(load_error(bad_dtype).find("unsupported dtype C64"), std::string::npos);

  const fs::path bad_shape = dir / "shape.safetensors";
  write_bytes(bad_shape, replace_once(bytes, "[5]", "[6]"));
  EXPECT_NE(load_error(bad_shape).find("needs 48 bytes"), std::string::npos);

  SafeTensors frac;
  frac.add("n", scalar(1.5, DType::F64), "I64");
  EXPECT_THROW(save_safetensors((dir / "frac.safetensors").string(), frac), Error);
}

}  // namespace
}  // namespace mmgan
