// An OpenMP loop that may throw: an exception must not leave an OpenMP region (the runtime would
// call std::terminate), so each iteration's exception is caught inside and the first one is
// rethrown after the loop, on the calling thread. For loops whose body can throw (allocations,
// checks); the kernels' loops never throw and use plain pragmas.
#pragma once
#include <cstdint>
#include <exception>
#include <mutex>

namespace mmgan {

template <class F>
void parallel_for(int64_t n, F&& body) {
  std::exception_ptr first;
  std::mutex mu;
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t i = 0; i < n; ++i) {
    try {
      body(i);
    } catch (...) {
      const std::lock_guard<std::mutex> lock(mu);
      if (!first) first = std::current_exception();
    }
  }
  if (first) std::rethrow_exception(first);
}

}  // namespace mmgan
