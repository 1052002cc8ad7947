// BatchSampler: a partial Fisher-Yates shuffle of 0..n-1 driven by Philox at counter (draw, k),
// stopped after batch_size steps. Positions the shuffle has touched live in a small hash map, so
// a batch of 64 from a million samples costs 64 steps, not a million-entry permutation.
#include "data/sampler.h"

#include <unordered_map>

#include "engine/error.h"
#include "kernels/philox.h"

namespace mmgan::data {

namespace {

constexpr uint64_t kSamplerKey = 0xBA7C'4E55'0000'0000ull;  // mixed into the seed: the sampler's stream

// Uniform 64-bit words for batch k: word t is lanes (2 (t % 2), 2 (t % 2) + 1) of block (t / 2, k).
struct Words {
  uint64_t key, k, t = 0;
  uint64_t next() {
    const kernels::Philox4 r = kernels::philox4x32_10(t / 2, k, key);
    const int lane = int(t % 2) * 2;
    ++t;
    return uint64_t(r.v[lane]) << 32 | r.v[lane + 1];
  }
  // Uniform integer in [0, m), unbiased (Lemire's multiply-and-reject).
  uint64_t below(uint64_t m) {
    unsigned __int128 p = (unsigned __int128)next() * m;
    if (uint64_t(p) < m) {
      const uint64_t threshold = (0 - m) % m;
      while (uint64_t(p) < threshold) p = (unsigned __int128)next() * m;
    }
    return uint64_t(p >> 64);
  }
};

}  // namespace

BatchSampler::BatchSampler(int64_t dataset_size, int64_t batch_size, uint64_t seed)
    : n_(dataset_size), batch_(batch_size), seed_(seed) {
  MMGAN_CHECK(batch_size > 0, "BatchSampler: batch size must be positive, got ", batch_size);
  MMGAN_CHECK(batch_size <= dataset_size, "BatchSampler: batch size ", batch_size, " exceeds the data set size ",
              dataset_size, " (batches are drawn without replacement)");
}

std::vector<int64_t> BatchSampler::indices(uint64_t k) const {
  Words rng{seed_ ^ kSamplerKey, k};
  std::unordered_map<int64_t, int64_t> moved;  // position -> value, for positions the shuffle changed
  moved.reserve(size_t(batch_));
  auto at = [&](int64_t pos) {
    auto it = moved.find(pos);
    return it == moved.end() ? pos : it->second;
  };
  std::vector<int64_t> out(static_cast<size_t>(batch_));
  for (int64_t i = 0; i < batch_; ++i) {
    const int64_t j = i + int64_t(rng.below(uint64_t(n_ - i)));
    out[size_t(i)] = at(j);
    moved[j] = at(i);  // swap; position i is never read again
  }
  return out;
}

}  // namespace mmgan::data
