#include "engine/distributed.h"

#include "kernels/collective.h"

namespace mmgan {

namespace {
thread_local int local_depth = 0;
}

int process_count() { return kernels::Communicator::world().size(); }
int process_rank() { return kernels::Communicator::world().rank(); }
int world_size() { return local_depth > 0 ? 1 : process_count(); }
int world_rank() { return local_depth > 0 ? 0 : process_rank(); }

LocalScope::LocalScope() { ++local_depth; }
LocalScope::~LocalScope() { --local_depth; }

}  // namespace mmgan
