// MetricsLog (metrics_log.h).
#include "trainer/metrics_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>

#include "engine/error.h"
#include "engine/safetensors.h"

namespace mmgan::trainer {

MetricsLog::MetricsLog(std::filesystem::path path, int64_t keep_before) : path_(std::move(path)) {
  std::error_code ec;
  if (keep_before >= 0 && std::filesystem::exists(path_, ec)) {
    std::ifstream in(path_);
    std::string line, kept;
    while (std::getline(in, line)) {
      const auto j = nlohmann::json::parse(line, nullptr, false);
      // A line cut short by a crash is dropped with the ones after the checkpoint.
      if (!j.is_discarded() && j.is_object() && j.contains("iter") && j["iter"].is_number_integer() &&
          j["iter"].get<int64_t>() < keep_before)
        kept += line + "\n";
    }
    write_file_atomic(path_.string(), kept);
  }
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  MMGAN_CHECK(fd_ >= 0, "cannot open ", path_.string(), " for writing: ", std::strerror(errno));
}

MetricsLog::~MetricsLog() {
  if (fd_ >= 0) ::close(fd_);
}

void MetricsLog::write(const nlohmann::json& line) {
  const std::string text = line.dump() + "\n";
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t w = ::write(fd_, text.data() + done, text.size() - done);
    if (w < 0 && errno == EINTR) continue;
    MMGAN_CHECK(w > 0, "cannot write ", path_.string(), ": ", std::strerror(errno), " (the metrics of iteration ",
                line.value("iter", int64_t(-1)), " are lost; the run stops here)");
    done += size_t(w);
  }
}

double MetricsLog::min_of(const std::string& key) const {
  double best = INFINITY;
  std::ifstream in(path_);
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.is_object() && j.contains(key) && j[key].is_number())
      best = std::min(best, j[key].get<double>());
  }
  return best;
}

}  // namespace mmgan::trainer
