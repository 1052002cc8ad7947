// cross_entropy as logsumexp minus the label's logit (picked by a constant one-hot mask), and argmax
// on the host. See classification.h.
#include "losses/classification.h"

#include "engine/error.h"
#include "engine/ops.h"

namespace mmgan::losses {

namespace {

void check_logits(const char* fn, const Tensor& logits, size_t n_labels) {
  MMGAN_CHECK(logits.defined() && logits.dim() == 2, fn, ": logits must be [N, C], got ",
              logits.defined() ? logits.str() : std::string("an undefined tensor"));
  MMGAN_CHECK(int64_t(n_labels) == logits.size(0), fn, ": ", n_labels, " labels for logits ", logits.str(),
              " (one label per row needed)");
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const std::vector<uint8_t>& labels) {
  check_logits("cross_entropy", logits, labels.size());
  const int64_t n = logits.size(0), c = logits.size(1);
  MMGAN_CHECK(n > 0, "cross_entropy: empty batch, logits ", logits.str());
  std::vector<double> onehot(size_t(n * c), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    MMGAN_CHECK(labels[size_t(i)] < c, "cross_entropy: label ", int(labels[size_t(i)]), " of sample ", i,
                " is out of range for logits ", logits.str(), " (", c, " classes)");
    onehot[size_t(i * c + labels[size_t(i)])] = 1.0;
  }
  const Tensor mask = from_vector(onehot, {n, c}, logits.dtype(), logits.device());
  const Tensor picked = sum(logits * mask, {1});
  return mean(logsumexp_per_sample(logits) - picked);
}

std::vector<int64_t> argmax_rows(const Tensor& logits) {
  MMGAN_CHECK(logits.defined() && logits.dim() == 2, "argmax_rows: logits must be [N, C], got ",
              logits.defined() ? logits.str() : std::string("an undefined tensor"));
  const int64_t n = logits.size(0), c = logits.size(1);
  MMGAN_CHECK(c > 0, "argmax_rows: logits ", logits.str(), " have no columns");
  const std::vector<double> v = logits.to_vector();
  std::vector<int64_t> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    int64_t best = 0;
    for (int64_t j = 1; j < c; ++j)
      if (v[size_t(i * c + j)] > v[size_t(i * c + best)]) best = j;
    out[size_t(i)] = best;
  }
  return out;
}

int64_t count_correct(const Tensor& logits, const std::vector<uint8_t>& labels) {
  check_logits("count_correct", logits, labels.size());
  const std::vector<int64_t> pred = argmax_rows(logits);
  int64_t k = 0;
  for (size_t i = 0; i < pred.size(); ++i) k += pred[i] == labels[i];
  return k;
}

}  // namespace mmgan::losses
