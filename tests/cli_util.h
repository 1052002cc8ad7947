// Running the `mmgan` binary as a user does, for the command-line tests: tiny runs on the real
// CIFAR-10 sample of the workspace (a second or two each) and checks of their messages.
#pragma once
#include <filesystem>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/test_util.h"

namespace mmgan {

namespace fs = std::filesystem;

using Result = test::CommandResult;

inline Result run(const std::string& args) { return test::run_command(std::string(MMGAN_BINARY) + " " + args); }

// The real CIFAR-10 sample of the workspace (../shared/data next to the checkout).
inline std::string cifar_path() {
  for (const std::string& p : {test::source_dir() + "/../shared/data/cifar10-sample/data_batch_1_first474.bin",
                               std::string("/work/shared/data/cifar10-sample/data_batch_1_first474.bin")})
    if (fs::exists(p)) return p;
  return "";
}

#define REQUIRE_CIFAR()                                                                                      \
  do {                                                                                                       \
    if (cifar_path().empty()) GTEST_SKIP() << "the CIFAR-10 sample (../shared/data) is not on this machine"; \
  } while (0)

// The flags of a tiny run writing into `out`; `replace` ("--flag value ...") gives some of them
// other values (a flag may be given once).
inline std::string tiny(const fs::path& out, const std::string& replace = "") {
  std::vector<std::pair<std::string, std::string>> flags = {
      {"--dataset", "cifar10"}, {"--input_folder", cifar_path()},
      {"--image_size", "16"},   {"--z_size", "8"},
      {"--G_h_size", "4"},      {"--D_h_size", "4"},
      {"--batch_size", "6"},    {"--n_samples", "4"},
      {"--log_every", "1"},     {"--margin_every", "2"},
      {"--print_every", "2"},   {"--output_folder", out.string()},
      {"--device", "cpu"}};  // the reference (Cli.DeviceAutoTrainsOnCudaWhereThereIsOne runs auto)
  std::istringstream in(replace);
  for (std::string flag, value; in >> flag >> value;) {
    bool found = false;
    for (auto& [f, v] : flags)
      if (f == flag) v = value, found = true;
    if (!found) flags.push_back({flag, value});
  }
  std::string s;
  for (const auto& [f, v] : flags) s += (s.empty() ? "" : " ") + f + " " + v;
  return s;
}

inline void expect_error(const std::string& args, const std::string& needle) {
  const Result r = run(args);
  EXPECT_NE(r.code, 0) << args << "\n" << r.out;
  EXPECT_NE(r.out.find(needle), std::string::npos) << args << "\nexpected '" << needle << "' in:\n" << r.out;
}

}  // namespace mmgan
