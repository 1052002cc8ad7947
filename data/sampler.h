// Batch sampling: which samples make up batch k (BatchSampler), and a background thread that
// prepares the next batches while the current one trains (Prefetcher).
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "data/dataset.h"

namespace mmgan::data {

// Batches drawn without replacement within a batch, independently across batches, as the
// official code's numpy.random.choice(n, size, replace=False) per batch. Counter-based: batch k's
// indices are a pure function of (seed, k) (Philox; a partial Fisher-Yates shuffle over a sparse
// swap map, O(batch) time and memory whatever n), so a run resumes bit-identically by restoring k
// alone, and prefetching never changes what a batch contains.
class BatchSampler {
 public:
  BatchSampler(int64_t dataset_size, int64_t batch_size, uint64_t seed);  // error if batch_size > dataset_size
  std::vector<int64_t> indices(uint64_t k) const;
  int64_t dataset_size() const { return n_; }
  int64_t batch_size() const { return batch_; }
  uint64_t seed() const { return seed_; }

 private:
  int64_t n_, batch_;
  uint64_t seed_;
};

// Overlaps loading with compute: a background thread gathers batches k+1 .. k+depth into float
// tensors while the trainer uses batch k. next() returns batches 0, 1, 2, ... in order;
// position() is the index of the batch next() returns next; seek(k) restarts there (for resume).
// An exception in the thread is re-thrown from the next() that would have returned that batch;
// the position then stays put, so a later next() retries the batch. The destructor stops and
// joins the thread. `ds` must outlive the Prefetcher.
class Prefetcher {
 public:
  // part, parts: a data-parallel rank gathers only its share, rows part b / parts .. (part + 1) b / parts
  // of each batch (batch_size divisible by parts).
  Prefetcher(const Dataset& ds, int64_t batch_size, uint64_t seed, int depth = 2, int part = 0, int parts = 1);
  ~Prefetcher();
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  Tensor next();
  uint64_t position() const;
  void seek(uint64_t k);
  const BatchSampler& sampler() const { return sampler_; }

 private:
  struct Item {
    uint64_t k;
    Tensor batch;
    std::exception_ptr error;
  };
  void work();
  void restart_locked(uint64_t k);

  const Dataset& ds_;
  const BatchSampler sampler_;
  const size_t depth_;
  const int part_, parts_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> ready_;  // consecutive batches starting at next_
  uint64_t next_ = 0;       // the batch next() returns next
  uint64_t produce_ = 0;    // the batch the thread prepares next
  uint64_t epoch_ = 0;      // bumped by every restart: batches begun before it are dropped
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace mmgan::data
