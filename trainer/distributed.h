// Data-parallel training (issue 20): `mpirun -np N mmgan train --batch_size B ...` trains one model
// on the global batch B, each rank holding B / N samples, and computes what one process computes
// on the whole batch, to rounding:
//   - rank r takes rows r B/N .. (r+1) B/N - 1 of every global batch: of the sampler's batch k, of
//     each z and of the penalty's u, which are drawn for the whole batch from the one counter-based
//     stream (shard(), engine/ops.h), so the union is what one process draws;
//   - BatchNorm's batch statistics are the global batch's (synchronized, engine/ops/batch_norm.cpp);
//   - the critic's outputs and the penalty's per-sample norms are gathered (all_gather), so every
//     loss, relativistic batch mean, penalty reduction (mean, max, softmax), augmented-Lagrangian
//     multiplier and metric is computed on the whole batch, identically on every rank;
//   - each rank differentiates that replicated loss with seed 1/N (the job's objective is the mean
//     of the ranks' identical losses), the collectives' adjoints carry every cross-rank term, and
//     GradientReducer sums the ranks' parameter gradients once per step; Adam then runs
//     identically on every rank.
// Rank 0 owns the run folder (checkpoints, metrics, sample grids, Fréchet distances, computed in a
// LocalScope as one process would); the other ranks only train (follow()). A checkpoint holds
// nothing that depends on N, so a run resumes with any number of ranks.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "trainer/config.h"
#include "engine/tensor.h"

namespace mmgan::trainer {

// The batch each rank trains on: B / world_size(); a clear error naming --batch_size and the
// number of ranks unless B divides evenly.
int64_t local_batch_size(int64_t global_batch);

// The device a rank trains on: --device cuda (no index) under mpirun takes GPU local_rank of its
// machine, one GPU per rank; anything else as given.
Device rank_device(const std::string& device_flag);

// The gradient seed of a loss every rank holds: 1/N (undefined, i.e. 1, in one process).
Tensor replicated_loss_seed(const Tensor& loss);

// Sums the parameters' .grad over the ranks, in place, once per step: flat buckets of at most
// bucket_elems values (one all-reduce each), so a network's hundreds of small tensors cost a few
// collectives. Nothing happens in one process. Recorded by a capture like any backend call.
class GradientReducer {
 public:
  explicit GradientReducer(std::vector<Tensor> params, int64_t bucket_elems = int64_t(1) << 22);
  void reduce() const;
  // Bytes one reduce() sends through the all-reduce (the parameters' size in their dtype).
  int64_t bytes() const;

 private:
  std::vector<Tensor> params_;
  std::vector<std::pair<size_t, size_t>> buckets_;  // [first, last) parameter index
};

// The start of a multi-rank run: rank 0 (train(), which owns the run folder) sends the run's
// configuration and, when resuming, its checkpoint's bytes to the other ranks, so they need neither
// the folder nor its resume rules; they then run the same iterations (and NaN checks) and write
// nothing (follow()). Nothing happens in one process.
void lead(const TrainConfig& cfg, const std::string& checkpoint_path);
void follow();

// Ends every rank of a multi-rank job, naming this rank and the cause (MPI_Abort), so no rank is
// left waiting in a collective; in one process, returns (the caller exits as usual).
void abort_job_if_distributed(const std::string& cause, int code);

}  // namespace mmgan::trainer
