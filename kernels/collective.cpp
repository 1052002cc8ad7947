// The MPI side of kernels/collective.h.
#include "kernels/collective.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string>

#ifdef MMGAN_HAS_MPI
#include <mpi.h>
#endif

namespace mmgan::kernels {

namespace {

// The rank the launcher gave this process, from its environment (before MPI is up), and the
// size of the job: OpenMPI's mpirun, PMI (MPICH, Slurm's srun --mpi=pmi2) and PMIx. (Not SLURM_NTASKS: a plain
// process inside an allocation has it too.)
int env_int(std::initializer_list<const char*> names, int fallback) {
  for (const char* n : names)
    if (const char* v = std::getenv(n)) return std::atoi(v);
  return fallback;
}
int launcher_size() { return env_int({"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"}, 0); }
[[maybe_unused]] int launcher_rank() { return env_int({"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"}, 0); }

int current_rank = 0;  // for error messages, set once the group exists

}  // namespace

void throw_collective_error(const char* file, int line, const char* expr, const std::string& what) {
  throw CollectiveError("rank " + std::to_string(current_rank) + ": " + file + ":" + std::to_string(line) + ": " +
                        expr + " failed: " + what);
}

#ifdef MMGAN_HAS_MPI

#define MMGAN_MPI_CHECK(expr)                                                                         \
  do {                                                                                                \
    const int mmgan_rc_ = (expr);                                                                     \
    if (mmgan_rc_ != MPI_SUCCESS) {                                                                   \
      char mmgan_msg_[MPI_MAX_ERROR_STRING];                                                          \
      int mmgan_len_ = 0;                                                                             \
      MPI_Error_string(mmgan_rc_, mmgan_msg_, &mmgan_len_);                                           \
      throw_collective_error(__FILE__, __LINE__, #expr, std::string(mmgan_msg_, size_t(mmgan_len_))); \
    }                                                                                                 \
  } while (0)

namespace {
MPI_Datatype mpi_type(DType t) { return t == DType::F64 ? MPI_DOUBLE : MPI_FLOAT; }
MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return MPI_SUM;
    case ReduceOp::Max: return MPI_MAX;
    case ReduceOp::Min: return MPI_MIN;
  }
  return MPI_SUM;
}
}  // namespace

Communicator::Communicator() {
  if (launcher_size() == 0) return;  // not launched by mpirun / srun: one process, no MPI
  int provided = 0;
  // Funneled: only the training thread calls MPI (the prefetch thread never does).
  MMGAN_MPI_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided));
  mpi_ = true;
  MMGAN_MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  MMGAN_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
  MMGAN_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size_));
  current_rank = rank_;
  MPI_Comm node;
  MMGAN_MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node));
  MMGAN_MPI_CHECK(MPI_Comm_rank(node, &local_rank_));
  MMGAN_MPI_CHECK(MPI_Comm_free(&node));
}

Communicator::~Communicator() {
  int finalized = 0;
  if (mpi_ && MPI_Finalized(&finalized) == MPI_SUCCESS && !finalized) MPI_Finalize();
}

void Communicator::all_reduce_host(void* data, int64_t count, DType t, ReduceOp op) {
  if (!mpi_ || count == 0) return;
  // MPI counts are int: large buffers go in chunks (a gradient bucket never needs this, but a
  // caller may pass anything).
  const int64_t chunk = int64_t(1) << 30;
  char* p = static_cast<char*>(data);
  const std::size_t esize = t == DType::F64 ? 8 : 4;
  for (int64_t done = 0; done < count; done += chunk) {
    const int n = int(std::min(chunk, count - done));
    MMGAN_MPI_CHECK(
        MPI_Allreduce(MPI_IN_PLACE, p + std::size_t(done) * esize, n, mpi_type(t), mpi_op(op), MPI_COMM_WORLD));
  }
}

void Communicator::broadcast(void* data, std::size_t bytes, int root) {
  if (size_ == 1) return;
  const std::size_t chunk = std::size_t(1) << 30;  // MPI counts are int
  for (std::size_t done = 0; done < bytes; done += chunk)
    MMGAN_MPI_CHECK(
        MPI_Bcast(static_cast<char*>(data) + done, int(std::min(chunk, bytes - done)), MPI_BYTE, root, MPI_COMM_WORLD));
}

void Communicator::barrier() {
  if (size_ > 1) MMGAN_MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
}

void Communicator::abort(const std::string& message, int code) noexcept {
  std::fprintf(stderr, "mmgan: rank %d of %d: %s; aborting every rank\n", rank_, size_, message.c_str());
  std::fflush(stderr);
  if (mpi_) MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

#else  // no MPI in this build: the group is this process

Communicator::Communicator() {
  if (launcher_size() > 1)
    throw CollectiveError("rank " + std::to_string(launcher_rank()) + ": launched as one of " +
                          std::to_string(launcher_size()) +
                          " processes (mpirun / srun), but this build has no MPI (install libopenmpi-dev and "
                          "configure with -DMMGAN_MPI=ON)");
}
Communicator::~Communicator() = default;
void Communicator::all_reduce_host(void*, int64_t, DType, ReduceOp) {}
void Communicator::broadcast(void*, std::size_t, int) {}
void Communicator::barrier() {}
void Communicator::abort(const std::string& message, int code) noexcept {
  std::fprintf(stderr, "mmgan: %s\n", message.c_str());
  std::_Exit(code);
}

#endif

Communicator& Communicator::world() {
  static Communicator c;
  return c;
}

}  // namespace mmgan::kernels
