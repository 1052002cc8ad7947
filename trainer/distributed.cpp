// The trainer's side of data parallelism (distributed.h).
#include "trainer/distributed.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include "engine/autograd/grad_mode.h"
#include "engine/backend.h"
#include "engine/distributed.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "engine/safetensors.h"
#include "kernels/collective.h"
#include "trainer/trainer.h"

namespace mmgan::trainer {

int64_t local_batch_size(int64_t global_batch) {
  const int n = world_size();
  MMGAN_CHECK(global_batch % n == 0, "--batch_size ", global_batch, " does not split evenly across ", n,
              " ranks: use a multiple of ", n);
  return global_batch / n;
}

Device rank_device(const std::string& device_flag) {
  const Device d = Device::parse(device_flag);
  // "cuda" and "auto" (where it finds a GPU) mean each rank's own device; "cuda:N" means that one.
  if (d.type != DeviceType::CUDA || (device_flag != "cuda" && device_flag != "auto") || process_count() == 1) return d;
  return Device::cuda(kernels::Communicator::world().local_rank());
}

Tensor replicated_loss_seed(const Tensor& loss) {
  if (world_size() == 1) return {};
  return full({}, 1.0 / world_size(), loss.dtype(), loss.device());
}

GradientReducer::GradientReducer(std::vector<Tensor> params, int64_t bucket_elems) : params_(std::move(params)) {
  size_t first = 0;
  int64_t fill = 0;
  for (size_t i = 0; i < params_.size(); ++i) {
    const bool fits =
        i == first || (fill + params_[i].numel() <= bucket_elems && params_[i].dtype() == params_[first].dtype() &&
                       params_[i].device() == params_[first].device());
    if (!fits) {
      buckets_.emplace_back(first, i);
      first = i;
      fill = 0;
    }
    fill += params_[i].numel();
  }
  if (!params_.empty()) buckets_.emplace_back(first, params_.size());
}

void GradientReducer::reduce() const {
  if (world_size() == 1) return;
  NoGradGuard ng;
  for (const auto& [first, last] : buckets_) {
    std::vector<Tensor> parts;
    for (size_t i = first; i < last; ++i) {
      const Tensor g = params_[i].grad();
      MMGAN_CHECK(g.defined(), "GradientReducer: parameter ", i, " ", params_[i].str(), " has no gradient");
      parts.push_back(g.reshape({-1}));
    }
    const Tensor flat = concat(parts, 0);
    backend_for(flat.device()).all_reduce(kernels::ReduceOp::Sum, flat.view());
    // Each gradient becomes its piece of the reduced buffer (a fresh tensor: a gradient may be a
    // broadcast view that cannot be written in place).
    int64_t at = 0;
    for (size_t i = first; i < last; ++i) {
      const int64_t n = params_[i].numel();
      params_[i].set_grad(slice(flat, 0, at, at + n).reshape(params_[i].shape()));
      at += n;
    }
  }
}

int64_t GradientReducer::bytes() const {
  int64_t b = 0;
  for (const Tensor& p : params_) b += p.numel() * (p.dtype() == DType::F64 ? 8 : 4);
  return b;
}

namespace {

// Root's bytes to every rank (the receivers' string is resized to fit).
void broadcast_bytes(std::string& bytes) {
  kernels::Communicator& w = kernels::Communicator::world();
  uint64_t n = bytes.size();
  w.broadcast(&n, sizeof n, 0);
  bytes.resize(n);
  w.broadcast(bytes.data(), n, 0);
}

}  // namespace

void lead(const TrainConfig& cfg, const std::string& checkpoint_path) {
  if (process_count() == 1) return;
  std::string config = to_json(cfg), ckpt;
  if (!checkpoint_path.empty()) {
    std::ifstream f(checkpoint_path, std::ios::binary);
    MMGAN_CHECK(f.good(), "cannot read ", checkpoint_path);
    std::stringstream ss;
    ss << f.rdbuf();
    ckpt = ss.str();
  }
  broadcast_bytes(config);
  broadcast_bytes(ckpt);
}

void follow() {
  std::string config, ckpt;
  broadcast_bytes(config);
  broadcast_bytes(ckpt);
  Trainer t(config_from_json(config, "the configuration rank 0 sent"));
  if (!ckpt.empty()) {
    // Loaded from a private copy: this machine need not see rank 0's run folder.
    const std::filesystem::path tmp =
        std::filesystem::temp_directory_path() /
        ("mmgan-rank" + std::to_string(process_rank()) + "-" + std::to_string(::getpid()) + ".safetensors");
    write_file_atomic(tmp.string(), ckpt);
    try {
      t.load_checkpoint(tmp.string());
    } catch (...) {
      std::filesystem::remove(tmp);
      throw;
    }
    std::filesystem::remove(tmp);
  }
  const TrainConfig& c = t.config();
  while (t.iteration() < c.n_iter) {
    t.step();
    const int64_t done = t.iteration();
    // Rank 0 checks at least at these iterations and stops every rank on a NaN; checking here too
    // lets this rank end with the same message.
    if (done % c.log_every == 0 || done % c.save_every == 0 || done == c.n_iter) t.check_finite();
  }
}

void abort_job_if_distributed(const std::string& cause, int code) {
  int ranks = 1;
  try {
    ranks = process_count();
  } catch (const std::exception&) {
    return;  // the group never formed (the cause itself, perhaps): nothing to end but this process
  }
  if (ranks > 1) kernels::Communicator::world().abort(cause, code);
}

}  // namespace mmgan::trainer
