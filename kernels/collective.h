// The process group of a data-parallel run: MPI to launch and to reduce host memory (OpenMPI),
// NCCL to reduce CUDA memory (its communicator bootstrapped through MPI, as llm.c does). No
// transport of our own.
//
// CUDA tensors are reduced by the backend call all_reduce (kernels/cuda/collective.cu), which
// keeps one NCCL communicator per device and gets its id from rank 0 through broadcast() here.
//
// One Communicator per process (world()). It starts MPI only when the process was launched by
// mpirun / srun (their environment variables say so): without a launcher nothing is initialised
// and the group is this one process, so a plain run is exactly what it was. Every MPI and NCCL
// call is checked and throws CollectiveError naming the rank, file:line and the failing
// expression; MPI's own errors are returned to us (MPI_ERRORS_RETURN), not fatal.
// Built with MPI when MMGAN_HAS_MPI is defined (CMake option MMGAN_MPI), with NCCL for CUDA
// tensors when MMGAN_HAS_NCCL is also defined.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/op_codes.h"
#include "kernels/tensor_view.h"

namespace mmgan::kernels {

struct CollectiveError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throws CollectiveError("rank R: file:line: expr failed: what").
[[noreturn]] void throw_collective_error(const char* file, int line, const char* expr, const std::string& what);

class Communicator {
 public:
  // The process's group (created on first use; MPI_Init_thread then, when launched by mpirun).
  static Communicator& world();
  ~Communicator();  // MPI_Finalize (after the NCCL communicators are destroyed)
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool has_mpi() const { return mpi_; }
  // This rank's index among the ranks on its machine (which GPU it takes).
  int local_rank() const { return local_rank_; }  // MPI was initialised (launched by mpirun / srun)

  // In place over `count` elements of host memory, on every rank: Sum or Max (ReduceOp).
  void all_reduce_host(void* data, int64_t count, DType t, ReduceOp op);
  // Root's `bytes` bytes at data to every rank.
  void broadcast(void* data, std::size_t bytes, int root);
  void barrier();
  // Ends every rank of the job (MPI_Abort) after printing `message` prefixed with this rank; used
  // when an exception on one rank would otherwise leave the others waiting in a collective.
  [[noreturn]] void abort(const std::string& message, int code = 1) noexcept;

 private:
  Communicator();

  int rank_ = 0, size_ = 1, local_rank_ = 0;
  bool mpi_ = false;
};

}  // namespace mmgan::kernels
