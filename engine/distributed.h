// The engine's view of the data-parallel process group (kernels/collective.h): its size and this
// process's rank, and a scope in which collectives are the identity, for the work one rank does
// alone (rank 0's sample grids, margins and Fréchet distances, computed as one process would).
// The collective ops themselves (all_reduce, all_gather, shard) are in ops.h.
#pragma once

namespace mmgan {

// The number of processes and this one's rank; 1 and 0 without mpirun or inside a LocalScope.
int world_size();
int world_rank();
// Rank and size of the job, whatever scope is open (who owns the run folder, error messages).
int process_rank();
int process_count();

// While one is alive on this thread, world_size() is 1: collectives do nothing and every op
// computes over this rank's tensors alone.
class LocalScope {
 public:
  LocalScope();
  ~LocalScope();
  LocalScope(const LocalScope&) = delete;
  LocalScope& operator=(const LocalScope&) = delete;
};

}  // namespace mmgan
