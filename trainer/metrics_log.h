// metrics.jsonl: one JSON object per logged iteration, each line written whole and flushed, every
// write checked (a full disk ends the run with an error naming the file, never a silent gap). A
// resumed run first keeps only the lines before its checkpoint's iteration (rewritten atomically),
// so a crash never leaves lines of iterations that are trained again.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace mmgan::trainer {

class MetricsLog {
 public:
  // Opens path for appending; with keep_before >= 0, first drops the lines of iterations >= it.
  MetricsLog(std::filesystem::path path, int64_t keep_before);
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;
  ~MetricsLog();

  void write(const nlohmann::json& line);
  // The smallest value of key over the lines so far (+inf when none): a resumed run's best FID.
  double min_of(const std::string& key) const;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

}  // namespace mmgan::trainer
