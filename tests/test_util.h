// Shared helpers for the tests: random inputs, closeness checks, and the PyTorch oracle runner.
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <sstream>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "data/fashion_mnist.h"
#include "engine/mmgan.h"

namespace mmgan::test {

// Uniform in [lo, hi), float64 by default, optionally requiring grad.
inline Tensor uniform(const Shape& s, double lo, double hi, Generator& g, bool req = false, DType t = DType::F64) {
  Tensor x = empty(s, t);
  x.uniform_(lo, hi, g);
  if (req) x.requires_grad_(true);
  return x;
}

// Uniform magnitudes in [lo, hi) with random signs: keeps inputs away from kinks at 0.
inline Tensor away_from_zero(const Shape& s, double lo, double hi, Generator& g, bool req = false) {
  Tensor mag = uniform(s, lo, hi, g), sgn = uniform(s, -1, 1, g);
  Tensor x = mag * sign(sgn);
  x = x.detach();
  if (req) x.requires_grad_(true);
  return x;
}

// max |a - b| / max(max |b|, tiny): the relative error used by all parity checks.
inline double rel_error(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (std::isnan(a[i]) || std::isnan(b[i])) return INFINITY;
    num = std::max(num, std::fabs(a[i] - b[i]));
    den = std::max(den, std::fabs(b[i]));
  }
  return num / std::max(den, 1e-300);
}
inline double rel_error(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(shape_str(a.shape()), shape_str(b.shape()));
  return rel_error(a.to_vector(), b.to_vector());
}

inline std::string source_dir() { return MMGAN_SOURCE_DIR; }

// A fresh directory under /tmp, removed with everything in it when the test process exits
// (set MMGAN_KEEP_TEST_FILES=1 to keep them for inspection).
inline std::filesystem::path temp_dir(const std::string& name) {
  struct Cleanup {
    std::vector<std::filesystem::path> dirs;
    ~Cleanup() {
      if (std::getenv("MMGAN_KEEP_TEST_FILES")) return;
      std::error_code ec;
      for (const auto& d : dirs) std::filesystem::remove_all(d, ec);
    }
  };
  static Cleanup cleanup;
  auto p = std::filesystem::temp_directory_path() / ("mmgan-test-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::create_directories(p);
  cleanup.dirs.push_back(p);
  return p;
}

// PyTorch is the independent oracle: Debian's python3-torch, run with /usr/bin/python3.
inline bool torch_available() {
  static const bool ok = std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0;
  return ok;
}

// A shell command's exit status (-1 when it did not exit normally) and its stdout and stderr.
struct CommandResult {
  int code;
  std::string out;
};
inline CommandResult run_command(const std::string& cmd) {
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return {-1, "popen failed: " + cmd};
  std::string out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// Runs tests/oracle/<script> with arguments; fails the test with the script's output if it fails,
// and prints its summary (the worst errors) with its time when it passes.
inline void run_oracle(const std::string& script, const std::string& args) {
  const std::string cmd = "/usr/bin/python3 " + source_dir() + "/tests/oracle/" + script + " " + args;
  const auto t0 = std::chrono::steady_clock::now();
  const CommandResult r = run_command(cmd);
  ASSERT_EQ(r.code, 0) << cmd << "\n" << r.out;
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("  oracle %s (%.1f s): %s", script.c_str(), s, r.out.c_str());
}

// The message of the exception f throws, or "<no error>".
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "<no error>";
}

// Closeness of inputs to the kinks where two engines may legitimately differ: the smallest |v| over
// all values (relu, abs at 0), how many values are positive (hinges active), and per sample the gap
// between the largest and second largest |g| relative to the largest (L-inf norm ties).
inline double min_abs(const std::vector<Tensor>& ts) {
  double m = INFINITY;
  for (const Tensor& t : ts)
    for (double v : t.to_vector()) m = std::min(m, std::fabs(v));
  return m;
}
inline int64_t count_positive(const Tensor& t) {
  int64_t n = 0;
  for (double v : t.to_vector()) n += v > 0;
  return n;
}
inline double min_linf_gap(const Tensor& g) {
  const std::vector<double> v = g.to_vector();
  const int64_t n = g.size(0), k = g.numel() / n;
  double gap = INFINITY;
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> row(v.begin() + i * k, v.begin() + (i + 1) * k);
    for (double& x : row) x = std::fabs(x);
    std::partial_sort(row.begin(), row.begin() + 2, row.end(), std::greater<>());
    gap = std::min(gap, (row[0] - row[1]) / row[0]);
  }
  return gap;
}
inline std::string values_str(const Tensor& t) {
  std::ostringstream os;
  os.precision(6);
  for (double v : t.to_vector()) os << v << " ";
  return os.str();
}

// Skips the current test cleanly on machines without a CUDA device (or builds without CUDA).
#define MMGAN_REQUIRE_CUDA()                                                                           \
  do {                                                                                                 \
    if (!::mmgan::cuda_available()) GTEST_SKIP() << "no CUDA device (or built with -DMMGAN_CUDA=OFF)"; \
  } while (0)

// Tests on the real Fashion-MNIST (Debian's dataset-fashion-mnist) skip without it.
#define MMGAN_REQUIRE_FASHION_MNIST()                                                                           \
  do {                                                                                                          \
    if (!std::filesystem::exists(std::string(::mmgan::data::kFashionMnistDir) + "/train-images-idx3-ubyte.gz")) \
      GTEST_SKIP() << "Fashion-MNIST is not installed in " << ::mmgan::data::kFashionMnistDir                   \
                   << " (Debian's dataset-fashion-mnist; tools/install-deps.sh installs it)";                   \
  } while (0)

#define MMGAN_REQUIRE_TORCH()                                                               \
  do {                                                                                      \
    if (!::mmgan::test::torch_available())                                                  \
      GTEST_SKIP() << "python3-torch is not installed (tools/install-deps.sh installs it)"; \
  } while (0)

}  // namespace mmgan::test
