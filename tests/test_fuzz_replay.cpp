// The fuzz targets' seed corpus and every input that once was a finding (fuzz/regressions), replayed
// through the targets' entry code (fuzz/harness.h) in the normal build, so CI checks them on every
// run without clang: each is accepted or refused with mmgan's own error, and every target's corpus
// holds at least one input its parser accepts (seeds the parser refuses outright would leave the
// fuzzer little to explore, e.g. after a format change: rerun fuzz/make_corpus.py).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include "fuzz/harness.h"

namespace mmgan {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file()) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

class FuzzReplay : public ::testing::TestWithParam<std::string> {};

TEST_P(FuzzReplay, CorpusAndRegressionsAreAcceptedOrRefused) {
  const fuzz::Target& t = fuzz::target(GetParam());
  const fs::path root = fs::path(MMGAN_SOURCE_DIR) / "fuzz";
  const std::vector<fs::path> corpus = files_in(root / "corpus" / t.name);
  ASSERT_FALSE(corpus.empty()) << "no seed corpus in " << (root / "corpus" / t.name);
  int accepted = 0;
  for (const fs::path& p : corpus) {
    const std::string b = read_bytes(p);
    const fuzz::Outcome o = fuzz::run(t, reinterpret_cast<const uint8_t*>(b.data()), b.size());
    EXPECT_EQ(o.finding, "") << p;
    accepted += o.accepted;
  }
  EXPECT_GT(accepted, 0) << "the parser refuses every seed in " << (root / "corpus" / t.name);
  std::cout << t.name << ": " << accepted << " of " << corpus.size() << " seeds accepted\n";
  for (const fs::path& p : files_in(root / "regressions" / t.name)) {
    const std::string b = read_bytes(p);
    EXPECT_EQ(fuzz::run(t, reinterpret_cast<const uint8_t*>(b.data()), b.size()).finding, "") << p;
  }
}

std::vector<std::string> target_names() {
  std::vector<std::string> out;
  for (const fuzz::Target& t : fuzz::targets()) out.push_back(t.name);
  return out;
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzReplay, ::testing::ValuesIn(target_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace mmgan
