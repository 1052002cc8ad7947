// Faults and hostile use of `mmgan` (issue 16): a run folder has one owner, resume keeps the
// checkpoint's configuration, flags that contradict or make no sense are errors naming them,
// checkpoints are finite and their metadata checked, crashes leave no temp files and no lost line,
// and a run killed at random moments resumes bit-identically. Each case failed before its fix.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <thread>

#include "tests/cli_util.h"
#include "trainer/metrics_log.h"

namespace mmgan {
namespace {

// A finished tiny run of n iterations in <root>/<name>-0.
fs::path tiny_run(const fs::path& root, const std::string& name, int n, const std::string& extra = "") {
  const Result r = run("train --n_iter " + std::to_string(n) + " --run_name " + name + " " + extra + " " + tiny(root));
  EXPECT_EQ(r.code, 0) << r.out;
  return root / (name + "-0");
}

SafeTensors read_ckpt(const fs::path& dir) { return load_safetensors((dir / "checkpoint.safetensors").string()); }

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), {});
}

// Item 3: a second process on a locked folder is refused, naming the folder and the holder's PID.
TEST(Faults, RunFolderHasOneOwner) {
  REQUIRE_CIFAR();
  const auto root = test::temp_dir("faults-lock");
  const fs::path dir = tiny_run(root, "locked", 2);
  const int fd = ::open((dir / ".lock").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);  // as a running mmgan holds it
  ASSERT_EQ(::ftruncate(fd, 0), 0);
  const std::string me = std::to_string(::getpid());
  ASSERT_EQ(::pwrite(fd, me.data(), me.size(), 0), ssize_t(me.size()));
  expect_error("train --resume " + dir.string() + " --n_iter 4", "in use by another mmgan process (PID " + me);
  ::close(fd);  // released, as the kernel does when the holder dies
  EXPECT_EQ(run("train --resume " + dir.string() + " --n_iter 4").code, 0);
  // Two fresh runs with one --run_name get two folders.
  tiny_run(root, "same", 1);
  EXPECT_EQ(run("train --n_iter 1 --run_name same " + tiny(root)).code, 0);
  EXPECT_TRUE(fs::exists(root / "same-1" / "checkpoint.safetensors"));
}

// Item 5.
TEST(Faults, RunNameStaysInsideTheOutputFolder) {
  REQUIRE_CIFAR();
  const auto root = test::temp_dir("faults-name");
  for (const char* name : {"../../escaped", "/tmp/abs", "a/b", "..", "'a\nb'"})
    expect_error(std::string("train --n_iter 1 --run_name ") + name + " " + tiny(root / "out"), "--run_name");
  EXPECT_FALSE(fs::exists(root / "escaped-0"));
}

// Items 6 and 7: the checkpoint's configuration is the authority on resume.
TEST(Faults, ResumeKeepsTheCheckpointsConfiguration) {
  REQUIRE_CIFAR();
  const auto root = test::temp_dir("faults-resume");
  const fs::path dir = tiny_run(root, "r", 2);
  const std::string resume = "train --resume " + dir.string();
  expect_error(resume + " --G_h_size 16", "--G_h_size cannot be given with --resume");
  expect_error(resume + " --lr 0.5", "--lr cannot be given with --resume");
  expect_error("train --resume \"\"", "--resume needs a run folder");
  expect_error("train --resume_n_iter 5 " + tiny(root), "--resume_n_iter needs --resume");
  expect_error(resume + " --resume_n_iter 0", "--resume_n_iter must be >= 1");
  expect_error(resume + " --resume_n_iter -7", "--resume_n_iter must be >= 1");
  expect_error(resume + " --resume_n_iter 1", "already at iteration 2");
  EXPECT_NE(slurp(dir / "config.json").find("\"n_iter\": 2"), std::string::npos);  // not rewritten by a refusal
  // Resumable flags are applied and recorded.
  const Result ok = run(resume + " --n_iter 4 --log_every 2 --graph off");
  ASSERT_EQ(ok.code, 0) << ok.out;
  const std::string cfg = slurp(dir / "config.json");
  EXPECT_NE(cfg.find("\"n_iter\": 4"), std::string::npos) << cfg;
  EXPECT_NE(cfg.find("\"log_every\": 2"), std::string::npos) << cfg;
  EXPECT_EQ(read_ckpt(dir).metadata.at("iteration"), "4");
  // An edited config.json is refused, naming the key; so are unknown keys.
  const std::string good = slurp(dir / "config.json");
  for (const auto& [from, to, needle] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"\"loss_D\": 3", "\"loss_D\": 1", "'loss_D' differs"},
           {"\"dtype\": \"float32\"", "\"dtype\": \"float64\"", "'dtype' differs"},
           {"\"lr_D\": 0.0002", "\"lr_D\": 0.5", "'lr_D' differs"},
           {"\"seed\": 1", "\"seed\": 1, \"sede\": 2", "unknown configuration field 'sede'"},
           {"\"z_size\": 8", "\"z_size\": 8.5", "'z_size' has a wrong value"}}) {
    std::string edited = good;
    ASSERT_NE(edited.find(from), std::string::npos) << from;
    edited.replace(edited.find(from), from.size(), to);
    std::ofstream(dir / "config.json") << edited;
    expect_error(resume + " --n_iter 6", needle);
  }
  std::ofstream(dir / "config.json") << good;
  EXPECT_EQ(run(resume + " --n_iter 5").code, 0);
}

// Item 6: numbers and contradictions.
TEST(Faults, ContradictoryOrImpossibleFlagsAreErrors) {
  REQUIRE_CIFAR();
  const auto root = test::temp_dir("faults-flags");
  for (const char* lr : {"0", "-1", "nan", "inf"})
    expect_error(std::string("train --lr ") + lr + " " + tiny(root), "--lr");
  expect_error("train --lr_D inf " + tiny(root), "--lr_D must be a finite number");
  expect_error("train --penalty nan " + tiny(root), "--penalty must be a finite number");
  expect_error("train --lr 1e-3 --lr_D 1e-4 " + tiny(root), "--lr sets both learning rates");
  expect_error("train --grad_penalty --no_grad_penalty " + tiny(root), "contradict");
}

// Item 2: sizes that cannot fit are refused before anything is allocated, naming the flag.
TEST(Faults, ConfigurationsThatCannotFitAreRefusedUpFront) {
  REQUIRE_CIFAR();
  const auto root = test::temp_dir("faults-size");
  expect_error("train " + tiny(root, "--z_size 1e9"), "--z_size");
  expect_error("train " + tiny(root, "--z_size 1000000000 --G_h_size 128"), "--z_size, --G_h_size: the generator");
  expect_error("train " + tiny(root, "--G_h_size 1000000"), "--z_size, --G_h_size");
  expect_error("train " + tiny(root, "--D_h_size 1000000"), "--D_h_size");
  expect_error("train " + tiny(root, "--image_size 1073741824"), "--image_size");
  expect_error("train " + tiny(root, "--n_samples 1000000000"), "--n_samples");
  expect_error("train " + tiny(root, "--batch_size 1000000000"), "--batch_size");
  expect_error("train " + tiny(root, "--dataset folder --input_folder /dev/zero"), "/dev/zero");
  expect_error("train " + tiny(root, "--input_folder /dev/zero"), "/dev/zero");
  const fs::path dir = tiny_run(root, "s", 1);
  expect_error("sample --n 1000000000 --checkpoint " + (dir / "checkpoint.safetensors").string(), "--n");
  // A checkpoint whose configuration asks for the impossible is refused the same way.
  SafeTensors st = read_ckpt(dir);
  std::string& cfg = st.metadata.at("config");
  cfg.replace(cfg.find("\"z_size\": 8"), 11, "\"z_size\": 1000000000");
  save_safetensors((root / "huge.safetensors").string(), st);
  expect_error("sample --checkpoint " + (root / "huge.safetensors").string(), "the generator");
}

// Item 9: a run that blows up never writes a non-finite checkpoint; sample refuses NaN weights.
TEST(Faults, DivergedRunsKeepAFiniteCheckpoint) {
  REQUIRE_CIFAR();
  const auto root = test::temp_dir("faults-nan");
  const Result r = run("train --lr 1e17 --n_iter 100 --save_every 1 --run_name nan " + tiny(root));
  EXPECT_EQ(r.code, 3) << r.out;
  const fs::path dir = root / "nan-0";
  if (fs::exists(dir / "checkpoint.safetensors")) {
    const SafeTensors st = read_ckpt(dir);
    for (const std::string& n : st.names)
      for (double v : st.at(n).to_vector()) ASSERT_TRUE(std::isfinite(v)) << n;
    EXPECT_NE(r.out.find("the last good checkpoint is"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("(iteration " + st.metadata.at("iteration") + ")"), std::string::npos) << r.out;
  }
  const fs::path good = tiny_run(root, "g", 1);
  SafeTensors st = read_ckpt(good);
  Tensor w = st.at("G.main.Start-ConvTranspose2d.weight").clone();
  w.fill_(NAN);
  st.tensors["G.main.Start-ConvTranspose2d.weight"] = w;
  save_safetensors((root / "nan.safetensors").string(), st);
  expect_error("sample --checkpoint " + (root / "nan.safetensors").string() + " --out " + (root / "x.png").string(),
               "non-finite");
  EXPECT_FALSE(fs::exists(root / "x.png"));
}

// Item 10: every metadata value of a checkpoint is checked, errors name the file and key.
TEST(Faults, CheckpointMetadataIsValidated) {
  REQUIRE_CIFAR();
  const auto root = test::temp_dir("faults-meta");
  const fs::path dir = tiny_run(root, "m", 2);
  const SafeTensors good = read_ckpt(dir);
  const fs::path ck = dir / "checkpoint.safetensors";
  auto with = [&](const std::function<void(SafeTensors&)>& edit, const std::string& needle) {
    SafeTensors st = good;
    edit(st);
    save_safetensors(ck.string(), st);
    expect_error("train --resume " + dir.string() + " --n_iter 4", needle);
  };
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"iteration", "-5"},
                                                        {"iteration", "abc"},
                                                        {"iteration", "1000000000000000000"},
                                                        {"rng_offset", "-1"},
                                                        {"data_position", "18446744073709551615"},
                                                        {"lagrange", "nan"},
                                                        {"lr_D", "inf"}})
    with([&](SafeTensors& st) { st.metadata[key] = value; }, "metadata '" + key + "'");
  with([](SafeTensors& st) { st.tensors["optD.main.Start-Conv2d.weight.step"] = scalar(-5.0, DType::F64); },
       "Start-Conv2d.weight.step' is -5");
  with([](SafeTensors& st) { st.tensors["optD.main.Start-Conv2d.weight.step"] = zeros({3}, DType::F64); },
       "has shape [3]");
  with([](SafeTensors& st) { st.tensors["z_test"] = full(st.at("z_test").shape(), NAN); }, "'z_test' is not finite");
  for (const char* n : {"iteration"}) EXPECT_EQ(good.metadata.at(n), "2");
  save_safetensors(ck.string(), good);
  EXPECT_EQ(run("train --resume " + dir.string() + " --n_iter 3").code, 0);
}

// Items 11 and 13: temp files of dead writers go when the folder is opened; messages name things.
TEST(Faults, StaleTempFilesAreRemovedAndMessagesNameThePath) {
  REQUIRE_CIFAR();
  const auto root = test::temp_dir("faults-tmp");
  const fs::path dir = tiny_run(root, "t", 2);
  std::ofstream(dir / "checkpoint.safetensors.tmp.99999") << "half";
  std::ofstream(dir / "samples" / "iter_000002.png.tmp.12345") << "half";
  ASSERT_EQ(run("train --resume " + dir.string() + " --n_iter 3").code, 0);
  EXPECT_FALSE(fs::exists(dir / "checkpoint.safetensors.tmp.99999"));
  EXPECT_FALSE(fs::exists(dir / "samples" / "iter_000002.png.tmp.12345"));
  expect_error("sample --checkpoint " + dir.string(), "is a directory");
  const fs::path taken = root / "taken";
  fs::create_directories(taken);
  expect_error("sample --checkpoint " + (dir / "checkpoint.safetensors").string() + " --out " + taken.string(),
               taken.string());
  for (const auto& e : fs::directory_iterator(root))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
  // A configuration whose batch size is impossible names the checkpoint, not a flag of `fid`.
  SafeTensors st = read_ckpt(dir);
  std::string& cfg = st.metadata.at("config");
  cfg.replace(cfg.find("\"batch_size\": 6"), 15, "\"batch_size\": 0");
  save_safetensors((root / "b0.safetensors").string(), st);
  expect_error("sample --checkpoint " + (root / "b0.safetensors").string(), "b0.safetensors (metadata 'config')");
}

// Item 4: a metrics line that cannot be written is an error naming the file, never a silent gap.
TEST(Faults, MetricsWriteErrorsAreNotSilent) {
  const auto root = test::temp_dir("faults-metrics");
  fs::create_symlink("/dev/full", root / "metrics.jsonl");
  trainer::MetricsLog log(root / "metrics.jsonl", -1);
  EXPECT_NE(test::error_of([&] {
              log.write({{"iter", 3}});
            }).find("metrics.jsonl: No space left on device"),
            std::string::npos);
}

// A run checkpointing every iteration, killed with SIGKILL at random moments and resumed each time:
// the checkpoint always loads, no temp file survives the next start, and the run ends bit-identical
// to one never interrupted.
TEST(Faults, KilledAtRandomMomentsResumesBitIdentical) {
  REQUIRE_CIFAR();
  const auto root = test::temp_dir("faults-kill");
  const int n = 150;
  const fs::path whole = tiny_run(root, "whole", n, "--save_every 1 --graph off");
  const fs::path dir = root / "killed-0";
  std::mt19937 rng(7);
  int kills = 0;
  for (int attempt = 0; attempt < 60 && kills < 12; ++attempt) {
    const bool fresh = !fs::exists(dir / "checkpoint.safetensors");
    const std::string args =
        fresh ? "train --n_iter " + std::to_string(n) + " --save_every 1 --graph off --run_name killed " + tiny(root)
              : "train --resume " + dir.string();
    if (fresh && fs::exists(dir)) fs::remove_all(dir);  // killed before its first checkpoint
    const pid_t pid = ::fork();
    if (pid == 0) {
      const std::string cmd = std::string(MMGAN_BINARY) + " " + args + " >/dev/null 2>&1";
      ::execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), (char*)nullptr);
      ::_exit(127);
    }
    // A fresh start first runs to its first checkpoint (however slow the machine), so that every
    // kill lands in a run that has one to resume from.
    for (int ms = 0; fresh && ms < 30000 && !fs::exists(dir / "checkpoint.safetensors"); ms += 5)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(20, 150)(rng)));
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      ++kills;
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      break;  // finished before the kill
    }
    if (fs::exists(dir / "checkpoint.safetensors")) {
      EXPECT_NO_THROW(read_ckpt(dir)) << "after kill " << kills;
    }
  }
  EXPECT_GE(kills, 10);
  if (read_ckpt(dir).metadata.at("iteration") != std::to_string(n)) {
    const Result r = run("train --resume " + dir.string());
    ASSERT_EQ(r.code, 0) << r.out;
  }
  for (const fs::path& d : {dir, dir / "samples"})
    for (const auto& e : fs::directory_iterator(d))
      EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
  const SafeTensors a = read_ckpt(whole), b = read_ckpt(dir);
  ASSERT_EQ(a.names, b.names);
  for (const std::string& k : a.names) EXPECT_EQ(a.at(k).to_vector(), b.at(k).to_vector()) << k;
  for (const char* k : {"iteration", "rng_offset", "data_position", "lr_D", "lr_G", "lagrange"})
    EXPECT_EQ(a.metadata.at(k), b.metadata.at(k)) << k;
  // Every iteration's metrics line is there once.
  std::ifstream m(dir / "metrics.jsonl");
  int lines = 0;
  for (std::string l; std::getline(m, l);) ++lines;
  EXPECT_EQ(lines, n);
}

}  // namespace
}  // namespace mmgan
