// The all-reduce backend call on CUDA memory. With NCCL (MMGAN_HAS_NCCL): ncclAllReduce in place on
// the backend's stream, which a CUDA graph can capture; one NCCL communicator per device, made on
// first use from an id that rank 0 draws and broadcasts over MPI (llm.c's bootstrap). Without
// NCCL: staged through the host and reduced with MPI, synchronously (such a call refuses capture).
// A process not started by mpirun has nothing to reduce and launches nothing.
#include <cuda_runtime.h>

#include <map>
#include <memory>
#include <vector>

#ifdef MMGAN_HAS_NCCL
#include <nccl.h>
#endif

#include "kernels/collective.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/cuda_kernels.h"

namespace mmgan::kernels::cuda {
namespace {

#ifdef MMGAN_HAS_NCCL

#define MMGAN_NCCL_CHECK(expr)                                                                            \
  do {                                                                                                    \
    const ncclResult_t mmgan_nr_ = (expr);                                                                \
    if (mmgan_nr_ != ncclSuccess)                                                                         \
      ::mmgan::kernels::throw_collective_error(__FILE__, __LINE__, #expr, ncclGetErrorString(mmgan_nr_)); \
  } while (0)

// An NCCL communicator, destroyed with its owner.
struct NcclComm {
  ncclComm_t comm = nullptr;
  NcclComm(int rank, int size, const ncclUniqueId& id) { MMGAN_NCCL_CHECK(ncclCommInitRank(&comm, size, id, rank)); }
  ~NcclComm() {
    if (comm) ncclCommDestroy(comm);
  }
  NcclComm(const NcclComm&) = delete;
  NcclComm& operator=(const NcclComm&) = delete;
};

// The communicators, one per device. Made after Communicator::world() (which it uses), so it is
// destroyed before MPI is finalised.
class NcclComms {
 public:
  static NcclComms& get() {
    Communicator::world();
    static NcclComms c;
    return c;
  }
  ncclComm_t of(int device) {
    auto it = comms_.find(device);
    if (it != comms_.end()) return it->second->comm;
    Communicator& w = Communicator::world();
    ncclUniqueId id{};
    if (w.rank() == 0) MMGAN_NCCL_CHECK(ncclGetUniqueId(&id));
    w.broadcast(&id, sizeof id, 0);
    return comms_.emplace(device, std::make_unique<NcclComm>(w.rank(), w.size(), id)).first->second->comm;
  }

 private:
  std::map<int, std::unique_ptr<NcclComm>> comms_;
};

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return ncclSum;
    case ReduceOp::Max: return ncclMax;
    case ReduceOp::Min: return ncclMin;
  }
  return ncclSum;
}

#endif

}  // namespace

void all_reduce(cudaStream_t s, ReduceOp op, const View& x) {
  Communicator& w = Communicator::world();
  const int64_t n = x.numel();
  // Under mpirun even one rank goes through NCCL (so a one-GPU machine tests that path); a plain
  // process has nothing to reduce.
  if (!w.has_mpi() || n == 0) return;
#ifdef MMGAN_HAS_NCCL
  int device = 0;
  MMGAN_CUDA_CHECK(cudaGetDevice(&device));
  const ncclComm_t comm = NcclComms::get().of(device);
  MMGAN_NCCL_CHECK(
      ncclAllReduce(x.data, x.data, size_t(n), x.dtype == DType::F64 ? ncclDouble : ncclFloat, nccl_op(op), comm, s));
#else
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  MMGAN_CUDA_CHECK(cudaStreamIsCapturing(s, &status));
  if (status != cudaStreamCaptureStatusNone)
    throw_collective_error(__FILE__, __LINE__, "all_reduce",
                           "this build has no NCCL: a CUDA all-reduce goes through "
                           "the host with MPI and cannot be captured (--graph off)");
  const std::size_t bytes = std::size_t(n) * (x.dtype == DType::F64 ? 8 : 4);
  std::vector<char> host(bytes);
  MMGAN_CUDA_CHECK(cudaMemcpyAsync(host.data(), x.data, bytes, cudaMemcpyDeviceToHost, s));
  MMGAN_CUDA_CHECK(cudaStreamSynchronize(s));
  w.all_reduce_host(host.data(), n, x.dtype, op);
  MMGAN_CUDA_CHECK(cudaMemcpyAsync(x.data, host.data(), bytes, cudaMemcpyHostToDevice, s));
  MMGAN_CUDA_CHECK(cudaStreamSynchronize(s));
#endif
}

}  // namespace mmgan::kernels::cuda
