// A run folder and its single owner. A fresh folder is made with mkdir (atomic: two runs asking
// for the same name never share one); an existing one is opened to resume. Either way the process
// holds an advisory lock (flock on <folder>/.lock, which records the owner's PID) until the
// RunFolder is destroyed or the process dies, when the kernel releases it; a second process gets
// an error naming the folder and the holder. Once the lock is held, temp files left by dead
// writers (*.tmp.PID from write_file_atomic) are removed.
#pragma once
#include <filesystem>
#include <string>

#include "trainer/config.h"

namespace mmgan::trainer {

class RunFolder {
 public:
  // <output_folder>/<run_name or loss-norm-form-seedS>-<k>, the first k not yet taken.
  static RunFolder create(const TrainConfig& c);
  // An existing run folder, for --resume.
  static RunFolder open(const std::filesystem::path& dir);

  RunFolder(RunFolder&& o) noexcept;
  RunFolder& operator=(RunFolder&&) = delete;
  ~RunFolder();

  const std::filesystem::path& path() const { return dir_; }
  std::filesystem::path operator/(const std::string& name) const { return dir_ / name; }

 private:
  explicit RunFolder(std::filesystem::path dir);
  std::filesystem::path dir_;
  int lock_fd_ = -1;
};

}  // namespace mmgan::trainer
