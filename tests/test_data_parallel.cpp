// Data-parallel training against one process (issue 20): `mpirun -np N mmgan train` on loopback,
// float64, 5 iterations, tiny networks with BatchNorm in D and G. Every parameter, BatchNorm running
// statistic and Adam moment (and the step counts, the generator's position, the data position and
// the multiplier) of the 2- and 3-rank runs equals the one-process run's to 1e-12 relative, for the
// L-infinity hinge penalty at interpolates with HingeGAN, a relativistic loss with the max
// reduction and the augmented Lagrangian, and the pairwise (Rp-MVUE) loss with the softmax
// reduction. A 2-rank run resumed in one process, and a one-process run resumed on 3 ranks, equal
// the 2-rank run continued; replayed iterations (--graph on) equal eager ones bit for bit; a bad batch
// size is refused before anything starts; a NaN ends every rank naming the rank; a rank killed with SIGKILL ends the
// job within 10 s.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/cli_util.h"

namespace mmgan {
namespace {

std::string mpirun(int np) {
  return std::string(MMGAN_MPIRUN) + " -np " + std::to_string(np) + " -x OMP_NUM_THREADS=1 ";
}

std::string dp_flags(const fs::path& out, const std::string& name) {
  return " train --dataset cifar10 --input_folder " + cifar_path() +
         " --image_size 16 --z_size 16 --G_h_size 8 --D_h_size 8 --batch_size 6 --n_samples 4 --dtype float64"
         " --log_every 1 --print_every 100 --save_every 100 --output_folder " +
         out.string() + " --run_name " + name;
}

// Runs `mmgan <args>` under np ranks (np 0: without mpirun) and returns its checkpoint.
SafeTensors train(int np, const std::string& args, const fs::path& ckpt) {
  const test::CommandResult r =
      test::run_command("OMP_NUM_THREADS=1 " + (np ? mpirun(np) : std::string()) + MMGAN_BINARY + args);
  EXPECT_EQ(r.code, 0) << args << "\n" << r.out;
  return load_safetensors(ckpt.string());
}

// Every tensor and number the checkpoints hold agrees to tol (relative to the tensor's largest value).
void expect_equal(const SafeTensors& a, const SafeTensors& b, double tol, const std::string& what) {
  ASSERT_EQ(a.names, b.names) << what;
  double worst = 0;
  std::string at;
  for (const std::string& k : a.names) {
    const double e = test::rel_error(a.at(k), b.at(k));
    if (e > worst) worst = e, at = k;
  }
  EXPECT_LE(worst, tol) << what << ": worst " << at;
  for (const char* k : {"iteration", "rng_offset", "data_position", "lr_D", "lr_G"})
    EXPECT_EQ(a.metadata.at(k), b.metadata.at(k)) << what << ": " << k;
  const double la = std::stod(a.metadata.at("lagrange")), lb = std::stod(b.metadata.at("lagrange"));
  EXPECT_LE(std::fabs(la - lb), tol * std::fabs(lb)) << what << ": lagrange";
  std::cout << what << ": worst relative difference " << worst << " (" << at << ")\n";
}

struct Setting {
  std::string name, flags;
};

const std::vector<Setting> kSettings = {
    // A large D rate makes the critic steep enough within 5 iterations for the hinge to be active.
    {"hinge-linf-interpolates", " --lr_D 1"},
    {"rahinge-max-augmented", " --loss_D 13 --reduction max --grad_penalty_aug --rho 0.5 --Giters 2 --gp-norm l1"},
    {"rpmvue-softmax-l2", " --loss_D 43 --reduction softmax --gp-norm l2 --penalty-type squared-diff --gp-where real"},
};

// The iterations whose logged penalty is positive (so its double backward really contributes).
int active_penalty_iterations(const fs::path& metrics) {
  std::ifstream in(metrics);
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    const size_t at = line.find("\"penalty\":");
    if (at != std::string::npos && std::stod(line.substr(at + 10)) > 0) ++n;
  }
  return n;
}

TEST(DataParallel, EqualsOneProcess) {
  REQUIRE_CIFAR();
  const fs::path dir = test::temp_dir("dp-equal");
  for (const Setting& s : kSettings) {
    const auto ck = [&](const std::string& run) { return dir / (run + "-0") / "checkpoint.safetensors"; };
    const SafeTensors one = train(0, dp_flags(dir, s.name + "-1") + s.flags + " --n_iter 5", ck(s.name + "-1"));
    EXPECT_GE(active_penalty_iterations(dir / (s.name + "-1-0") / "metrics.jsonl"), 3) << s.name;
    for (int np : {2, 3}) {
      const std::string run = s.name + "-np" + std::to_string(np);
      expect_equal(train(np, dp_flags(dir, run) + s.flags + " --n_iter 5", ck(run)), one, 1e-12, run);
    }
  }
}

// The captured iteration (the CPU backend records its MPI calls like every other call) replays
// what the eager iterations compute, bit for bit.
TEST(DataParallel, ReplayedIterationsEqualEagerOnes) {
  REQUIRE_CIFAR();
  const fs::path dir = test::temp_dir("dp-graph");
  const std::string flags = kSettings[0].flags + " --n_iter 5";
  const SafeTensors on = train(2, dp_flags(dir, "on") + flags + " --graph on", dir / "on-0/checkpoint.safetensors");
  const SafeTensors off = train(2, dp_flags(dir, "off") + flags + " --graph off", dir / "off-0/checkpoint.safetensors");
  expect_equal(on, off, 0, "2 ranks, --graph on against --graph off");
}

TEST(DataParallel, ResumesWithAnyNumberOfRanks) {
  REQUIRE_CIFAR();
  const fs::path dir = test::temp_dir("dp-resume");
  const std::string flags = kSettings[1].flags;
  const SafeTensors cont =
      train(2, dp_flags(dir, "cont") + flags + " --n_iter 5", dir / "cont-0/checkpoint.safetensors");
  train(2, dp_flags(dir, "part") + flags + " --n_iter 3", dir / "part-0/checkpoint.safetensors");
  const test::CommandResult r =
      test::run_command("OMP_NUM_THREADS=1 " + std::string(MMGAN_BINARY) + " train --resume " +
                        (dir / "part-0").string() + " --resume_n_iter 5");
  ASSERT_EQ(r.code, 0) << r.out;
  expect_equal(load_safetensors((dir / "part-0/checkpoint.safetensors").string()), cont, 1e-12,
               "2 ranks to 3, then 1 process to 5, against 2 ranks to 5");
  // And the other way: one process to 3, then 3 ranks to 5 (rank 0 sends the checkpoint to the others).
  train(0, dp_flags(dir, "solo") + flags + " --n_iter 3", dir / "solo-0/checkpoint.safetensors");
  const test::CommandResult r3 =
      test::run_command("OMP_NUM_THREADS=1 " + mpirun(3) + MMGAN_BINARY + " train --resume " +
                        (dir / "solo-0").string() + " --resume_n_iter 5");
  ASSERT_EQ(r3.code, 0) << r3.out;
  expect_equal(load_safetensors((dir / "solo-0/checkpoint.safetensors").string()), cont, 1e-12,
               "1 process to 3, then 3 ranks to 5, against 2 ranks to 5");
}

TEST(DataParallel, RefusesABatchThatDoesNotSplit) {
  REQUIRE_CIFAR();
  const fs::path dir = test::temp_dir("dp-batch");
  const test::CommandResult r =
      test::run_command("OMP_NUM_THREADS=1 " + mpirun(4) + MMGAN_BINARY + dp_flags(dir, "bad") + " --n_iter 2");
  EXPECT_NE(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("--batch_size 6 does not split evenly across 4 ranks"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir / "bad-0")) << "a run folder was made before the check";
}

// A NaN stops every rank (each detects it in the replicated losses) through MPI_Abort, with exit
// status 3 and a message naming the rank and the cause.
TEST(DataParallel, ADivergedRunEndsEveryRank) {
  REQUIRE_CIFAR();
  const fs::path dir = test::temp_dir("dp-nan");
  std::string args = dp_flags(dir, "nan");
  args.replace(args.find("float64"), 7, "float32");  // float32 overflows at once
  const test::CommandResult r = test::run_command("OMP_NUM_THREADS=1 " + mpirun(2) + MMGAN_BINARY + args +
                                                  " --n_iter 20 --lr_D 1e30 --lr_G 1e30");
  EXPECT_EQ(r.code, 3) << r.out;
  EXPECT_NE(r.out.find("of 2: iteration 0: the G loss is NaN"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("aborting every rank"), std::string::npos) << r.out;
}

// Rank 1 is killed while the job trains; mpirun must end the others and exit non-zero in 10 s.
TEST(DataParallel, AKilledRankEndsTheJob) {
  REQUIRE_CIFAR();
  const fs::path dir = test::temp_dir("dp-kill");
  const fs::path pid1 = dir / "pid1";
  const std::string cmd = "OMP_NUM_THREADS=1 " + mpirun(2) + "sh -c 'echo $$ > " + dir.string() +
                          "/pid$OMPI_COMM_WORLD_RANK; exec " + MMGAN_BINARY + dp_flags(dir, "kill") +
                          " --n_iter 100000' > " + (dir / "log").string() + " 2>&1";
  const pid_t job = ::fork();
  ASSERT_GE(job, 0);
  if (job == 0) {
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Wait until both ranks train (the metrics file grows), then kill rank 1.
  const auto t0 = std::chrono::steady_clock::now();
  const fs::path metrics = dir / "kill-0" / "metrics.jsonl";
  while ((!fs::exists(pid1) || !fs::exists(metrics) || fs::file_size(metrics) < 200) &&
         std::chrono::steady_clock::now() - t0 < std::chrono::seconds(60))
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(fs::exists(pid1) && fs::exists(metrics)) << "the job did not start";
  int rank1 = 0;
  std::ifstream(pid1) >> rank1;
  ASSERT_GT(rank1, 0);
  ASSERT_EQ(::kill(rank1, SIGKILL), 0);
  const auto killed = std::chrono::steady_clock::now();
  int status = 0;
  pid_t done = 0;
  while ((done = ::waitpid(job, &status, WNOHANG)) == 0 &&
         std::chrono::steady_clock::now() - killed < std::chrono::seconds(20))
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  if (done == 0) {
    ::kill(job, SIGKILL);
    ::waitpid(job, &status, 0);
  }
  EXPECT_EQ(done, job) << "the job still ran " << secs << " s after rank 1 was killed";
  EXPECT_LT(secs, 10.0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << "exit status " << status;
  std::cout << "the job ended " << secs << " s after rank 1 was killed\n";
}

}  // namespace
}  // namespace mmgan
