// The `mmgan` command line as a user meets it: bad flags and bad data give one clear line naming
// the flag or file and a non-zero exit; train, resume, sample and step-dump work end to end on the
// real CIFAR-10 sample (tiny widths so each run takes a second or two).
#include <filesystem>
#include <fstream>

#include "tests/cli_util.h"

namespace mmgan {
namespace {

namespace fs = std::filesystem;

TEST(Cli, BadFlagsNameTheFlag) {
  REQUIRE_CIFAR();
  const auto dir = test::temp_dir("cli-bad");
  expect_error("train --no_such_flag 3", "--no_such_flag");
  expect_error("train --loss_D 14 " + tiny(dir), "'14'");
  expect_error("train --real_only --fake_only " + tiny(dir), "--real_only and --fake_only");
  expect_error("train --penalty-type square " + tiny(dir), "'square'");
  expect_error("train --gp-norm l3 " + tiny(dir), "'l3'");
  expect_error("train --l1_margin --linf_margin " + tiny(dir), "--l1_margin");
  expect_error("train --arch 1 " + tiny(dir), "image_size");
  expect_error("train --dataset cifar10", "--input_folder");
  expect_error("train --batch_size 1 " + tiny(dir), "--batch_size");
  expect_error("train --device tpu " + tiny(dir), "--device");
  expect_error("train --graph maybe " + tiny(dir), "--graph");
  expect_error("sample --checkpoint /nonexistent/ck.safetensors", "/nonexistent/ck.safetensors");
}

TEST(Cli, BadDataNamesTheFile) {
  REQUIRE_CIFAR();
  const auto dir = test::temp_dir("cli-data");
  const fs::path cut = dir / "truncated.bin";
  {
    std::ifstream in(cifar_path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(cut, std::ios::binary) << bytes.substr(0, 3073 * 10 + 100);
  }
  expect_error("train --dataset cifar10 --input_folder " + cut.string() + " --n_iter 1", cut.string());
  expect_error("train --dataset cifar10 --input_folder " + (dir / "missing").string() + " --n_iter 1",
               (dir / "missing").string());
}

// A run interrupted at iteration 3 and resumed to 6 ends bit-identical to an uninterrupted one:
// every parameter, buffer, Adam moment and the generator state.
TEST(Cli, TrainResumeIsBitIdentical) {
  REQUIRE_CIFAR();
  const auto dir = test::temp_dir("cli-resume");
  const Result full = run("train --n_iter 6 --run_name full " + tiny(dir / "a"));
  ASSERT_EQ(full.code, 0) << full.out;
  const Result part = run("train --n_iter 3 --run_name part " + tiny(dir / "b"));
  ASSERT_EQ(part.code, 0) << part.out;
  const fs::path b = dir / "b" / "part-0";
  const Result resumed = run("train --resume " + b.string() + " --resume_n_iter 6");
  ASSERT_EQ(resumed.code, 0) << resumed.out;
  const SafeTensors x = load_safetensors((dir / "a" / "full-0" / "checkpoint.safetensors").string());
  const SafeTensors y = load_safetensors((b / "checkpoint.safetensors").string());
  ASSERT_EQ(x.names, y.names);
  for (const std::string& n : x.names) EXPECT_EQ(x.at(n).to_vector(), y.at(n).to_vector()) << n;
  for (const char* k : {"iteration", "rng_offset", "data_position", "lr_D", "lr_G"})
    EXPECT_EQ(x.metadata.at(k), y.metadata.at(k)) << k;
  EXPECT_EQ(x.metadata.at("iteration"), "6");
  // The run folder: configuration, one metrics line per iteration (resume rewrote none twice),
  // sample grids, checkpoint.
  std::ifstream m(b / "metrics.jsonl");
  int lines = 0;
  for (std::string l; std::getline(m, l);) ++lines;
  EXPECT_EQ(lines, 6);
  EXPECT_TRUE(fs::exists(b / "config.json"));
  EXPECT_TRUE(fs::exists(b / "samples" / "iter_000000.png"));
  EXPECT_TRUE(fs::exists(b / "samples" / "iter_000006.png"));
  // The eager path (--graph off) ends in the same state as the default replayed one.
  const Result eager = run("train --n_iter 6 --graph off --run_name eager " + tiny(dir / "c"));
  ASSERT_EQ(eager.code, 0) << eager.out;
  const SafeTensors z = load_safetensors((dir / "c" / "eager-0" / "checkpoint.safetensors").string());
  for (const std::string& n : x.names) EXPECT_EQ(x.at(n).to_vector(), z.at(n).to_vector()) << n;
}

// --device auto (the default) trains on the first GPU where there is one, else on the cpu, and the
// run header says which it took.
TEST(Cli, DeviceAutoTrainsOnCudaWhereThereIsOne) {
  REQUIRE_CIFAR();
  const auto dir = test::temp_dir("cli-auto");
  const Result r = run("train --n_iter 1 --run_name auto " + tiny(dir, "--device auto"));
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string want = std::string("iterations on ") + (cuda_available() ? "cuda:0" : "cpu") + " (--device auto)";
  EXPECT_NE(r.out.find(want), std::string::npos) << "expected '" << want << "' in:\n" << r.out;
}

TEST(Cli, SampleWritesAGrid) {
  REQUIRE_CIFAR();
  const auto dir = test::temp_dir("cli-sample");
  ASSERT_EQ(run("train --n_iter 2 --run_name s " + tiny(dir)).code, 0);
  const fs::path png = dir / "grid.png";
  const Result r =
      run("sample --checkpoint " + (dir / "s-0" / "checkpoint.safetensors").string() + " --n 9 --out " + png.string());
  ASSERT_EQ(r.code, 0) << r.out;
  // 9 images of 16x16 in rows of 8 with 2-pixel padding: 8*18+2 by 2*18+2, with the PNG signature.
  std::ifstream f(png, std::ios::binary);
  std::string head(24, '\0');
  f.read(head.data(), 24);
  EXPECT_EQ(head.substr(1, 3), "PNG");
  auto be32 = [&](size_t o) {
    return (uint32_t(uint8_t(head[o])) << 24) | (uint32_t(uint8_t(head[o + 1])) << 16) |
           (uint32_t(uint8_t(head[o + 2])) << 8) | uint32_t(uint8_t(head[o + 3]));
  };
  EXPECT_EQ(be32(16), 8u * 18 + 2);
  EXPECT_EQ(be32(20), 2u * 18 + 2);
}

TEST(Cli, StepDumpWritesInputsParametersAndGradients) {
  REQUIRE_CIFAR();
  const auto dir = test::temp_dir("cli-dump");
  const fs::path out = dir / "step.safetensors";
  const Result r = run("step-dump --out " + out.string() + " --loss rahinge " + tiny(dir));
  ASSERT_EQ(r.code, 0) << r.out;
  const SafeTensors st = load_safetensors(out.string());
  for (const char* k :
       {"x_real", "z_D", "u", "z_G", "x_real_G", "loss_D", "loss_G", "penalty", "G.main.Start-ConvTranspose2d.weight",
        "D.main.Start-Conv2d.weight", "grad.D.main.End-Conv2d.weight", "grad.G.main.End-ConvTranspose2d.weight",
        "D_after.main.Middle-BatchNorm2d [0].running_mean"})
    EXPECT_TRUE(st.contains(k)) << k;
  EXPECT_NE(st.metadata.at("config").find("\"loss_D\": 13"), std::string::npos) << st.metadata.at("config");
}

}  // namespace
}  // namespace mmgan
