// The all-reduce backend call on host memory: MPI through the process's Communicator (in one
// process, nothing to do).
#include "kernels/collective.h"
#include "kernels/cpu/cpu_kernels.h"

namespace mmgan::kernels::cpu {

void all_reduce(ReduceOp op, const View& x) { Communicator::world().all_reduce_host(x.data, x.numel(), x.dtype, op); }

}  // namespace mmgan::kernels::cpu
