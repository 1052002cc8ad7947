// RunFolder (run_folder.h): atomic creation, the flock owner lock, stale temp files.
#include "trainer/run_folder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/error.h"

namespace mmgan::trainer {

namespace fs = std::filesystem;

namespace {

std::string default_name(const TrainConfig& c) {
  std::string base = losses::gan_loss_name(c.loss);
  if (c.penalty_on()) {
    base.append("-").append(losses::to_string(c.penalty.norm));
    base.append("-").append(losses::to_string(c.penalty.form));
  }
  return base.append("-seed").append(std::to_string(c.seed));
}

// write_file_atomic's temp names: <name>.tmp.<digits>.
bool is_temp_name(const std::string& name) {
  const size_t at = name.rfind(".tmp.");
  if (at == std::string::npos || at + 5 == name.size()) return false;
  for (size_t i = at + 5; i < name.size(); ++i)
    if (name[i] < '0' || name[i] > '9') return false;
  return true;
}

}  // namespace

RunFolder::RunFolder(fs::path dir) : dir_(std::move(dir)) {
  const fs::path lock = dir_ / ".lock";
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  MMGAN_CHECK(lock_fd_ >= 0, "run folder ", dir_.string(), ": cannot open its lock file ", lock.string(), ": ",
              std::strerror(errno));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int e = errno;
    char pid[32] = {0};
    const ssize_t n = ::pread(lock_fd_, pid, sizeof pid - 1, 0);
    ::close(lock_fd_);
    MMGAN_CHECK(e != EWOULDBLOCK, "run folder ", dir_.string(), " is in use by another mmgan process (PID ",
                n > 0 ? std::string(pid, size_t(n)) : std::string("unknown"), "); one process owns a run folder");
    MMGAN_FAIL("run folder ", dir_.string(), ": cannot lock ", lock.string(), ": ", std::strerror(e));
  }
  const std::string me = std::to_string(::getpid());
  if (::ftruncate(lock_fd_, 0) != 0 || ::pwrite(lock_fd_, me.data(), me.size(), 0) != ssize_t(me.size())) {
    ::close(lock_fd_);
    MMGAN_FAIL("run folder ", dir_.string(), ": cannot write its lock file: ", std::strerror(errno));
  }
  // Ours now: any temp file here belongs to a writer that died before its rename.
  std::error_code ec;
  for (const fs::path& d : {dir_, dir_ / "samples"})
    for (auto it = fs::directory_iterator(d, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
      if (it->is_regular_file() && is_temp_name(it->path().filename().string())) fs::remove(it->path(), ec);
}

RunFolder::RunFolder(RunFolder&& o) noexcept : dir_(std::move(o.dir_)), lock_fd_(o.lock_fd_) { o.lock_fd_ = -1; }

RunFolder::~RunFolder() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

RunFolder RunFolder::create(const TrainConfig& c) {
  check_run_name(c.run_name);
  const std::string base = c.run_name.empty() ? default_name(c) : c.run_name;
  std::error_code ec;
  fs::create_directories(c.output_folder, ec);
  MMGAN_CHECK(!ec, "--output_folder ", c.output_folder, ": cannot create it: ", ec.message());
  for (int k = 0; k < 100000; ++k) {
    const fs::path p = fs::path(c.output_folder) / (base + "-" + std::to_string(k));
    // mkdir either makes the folder or finds it taken: no window between a test and the creation.
    if (fs::create_directory(p, ec)) {
      fs::create_directories(p / "samples", ec);
      MMGAN_CHECK(!ec, "run folder ", p.string(), ": cannot create samples/: ", ec.message());
      return RunFolder(p);
    }
    MMGAN_CHECK(!ec, "run folder ", p.string(), ": cannot create it: ", ec.message());
  }
  MMGAN_FAIL("--output_folder ", c.output_folder, ": no free run folder name for ", base);
}

RunFolder RunFolder::open(const fs::path& dir) {
  std::error_code ec;
  MMGAN_CHECK(fs::is_directory(dir, ec), "--resume ", dir.string(), ": not a folder");
  MMGAN_CHECK(fs::exists(dir / "config.json", ec) && fs::exists(dir / "checkpoint.safetensors", ec), "--resume ",
              dir.string(), ": not a run folder with config.json and checkpoint.safetensors");
  fs::create_directories(dir / "samples", ec);
  return RunFolder(dir);
}

}  // namespace mmgan::trainer
