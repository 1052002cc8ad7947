// The training loop of classifier_training.h.
#include "trainer/classifier_training.h"

#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ostream>

#include <nlohmann/json.hpp>

#include "data/sampler.h"
#include "engine/autograd/grad_mode.h"
#include "engine/backend.h"
#include "engine/error.h"
#include "engine/optim/adam.h"
#include "engine/random.h"
#include "engine/safetensors.h"
#include "losses/classification.h"

#ifndef MMGAN_VERSION
#define MMGAN_VERSION "unknown"
#endif
#ifndef MMGAN_GIT_COMMIT
#define MMGAN_GIT_COMMIT ""
#endif

namespace mmgan::trainer {

namespace {

using Clock = std::chrono::steady_clock;

// Distinct streams from the one seed: initialisation and the per-epoch shuffles.
uint64_t init_seed(int64_t seed) { return uint64_t(seed); }
uint64_t shuffle_seed(int64_t seed) { return uint64_t(seed) ^ 0xD1B54A32D192ED03ull; }

void check_split(const data::Labeled& d, const char* which) {
  const Shape want{1, nn::FmnistClassifier::kImageSize, nn::FmnistClassifier::kImageSize};
  MMGAN_CHECK(d.images.sample_shape == want, "train-classifier: the ", which, " set ", d.images.source, " has samples ",
              shape_str(d.images.sample_shape), ", the classifier needs ", shape_str(want));
  MMGAN_CHECK(int64_t(d.labels.size()) == d.images.count, "train-classifier: the ", which, " set ", d.images.source,
              " has ", d.images.count, " images but ", d.labels.size(), " labels");
}

std::vector<uint8_t> pick(const std::vector<uint8_t>& labels, const std::vector<int64_t>& idx) {
  std::vector<uint8_t> out(idx.size());
  for (size_t i = 0; i < idx.size(); ++i) out[i] = labels[size_t(idx[i])];
  return out;
}

// Restores a module's train/eval mode when it goes out of scope.
class ModeGuard {
 public:
  explicit ModeGuard(nn::Module& m) : m_(m), training_(m.is_training()) {}
  ~ModeGuard() { m_.train(training_); }

 private:
  nn::Module& m_;
  bool training_;
};

}  // namespace

void check_config(const ClassifierConfig& c) {
  MMGAN_CHECK(c.epochs > 0, "--epochs must be positive, got ", c.epochs);
  MMGAN_CHECK(c.batch_size > 1, "--batch_size must be at least 2 (BatchNorm needs batch statistics), got ",
              c.batch_size);
  MMGAN_CHECK(std::isfinite(c.lr) && c.lr > 0, "--lr must be positive, got ", c.lr);
  MMGAN_CHECK(c.seed >= 0, "--seed must be non-negative, got ", c.seed);
  MMGAN_CHECK(c.threads >= 0, "--threads must be non-negative, got ", c.threads);
  (void)Device::parse(c.device);
}

std::string to_json(const ClassifierConfig& c) {
  nlohmann::json j;
  j["data_dir"] = c.data_dir;
  j["epochs"] = c.epochs;
  j["batch_size"] = c.batch_size;
  j["lr"] = c.lr;
  j["seed"] = c.seed;
  j["device"] = c.device;
  j["out"] = c.out;
  j["threads"] = c.threads;
  return j.dump();
}

double cosine_lr(double lr, int64_t t, int64_t total) {
  return lr * 0.5 * (1.0 + std::cos(M_PI * double(t) / double(total)));
}

double classifier_accuracy(nn::FmnistClassifier& net, const data::Labeled& set, Device device, int64_t batch) {
  check_split(set, "evaluation");
  MMGAN_CHECK(set.images.count > 0 && batch > 0, "classifier_accuracy: empty set ", set.images.source, " or batch ",
              batch);
  const ModeGuard keep(net);
  net.eval();
  NoGradGuard ng;
  int64_t correct = 0;
  for (int64_t start = 0; start < set.images.count; start += batch) {
    const int64_t n = std::min(batch, set.images.count - start);
    std::vector<int64_t> idx(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) idx[size_t(i)] = start + i;
    const Tensor logits = net(set.images.gather(idx).to(device));
    correct += losses::count_correct(logits, pick(set.labels, idx));
  }
  return double(correct) / double(set.images.count);
}

ClassifierResult train_classifier(const ClassifierConfig& cfg, std::ostream& log) {
  check_config(cfg);
  const data::Labeled train = data::load_fashion_mnist(cfg.data_dir, true, nn::FmnistClassifier::kImageSize, "pad");
  const data::Labeled test = data::load_fashion_mnist(cfg.data_dir, false, nn::FmnistClassifier::kImageSize, "pad");
  return train_classifier(cfg, train, test, log);
}

ClassifierResult train_classifier(const ClassifierConfig& cfg, const data::Labeled& train, const data::Labeled& test,
                                  std::ostream& log) {
  check_config(cfg);
  check_split(train, "training");
  check_split(test, "test");
  MMGAN_CHECK(train.images.count >= cfg.batch_size, "train-classifier: the training set ", train.images.source, " has ",
              train.images.count, " images, fewer than --batch_size ", cfg.batch_size);
  if (cfg.threads > 0) omp_set_num_threads(cfg.threads);
  const Device device = Device::parse(cfg.device);
  (void)backend_for(device);  // fail before training when the device does not exist

  const auto t0 = Clock::now();
  Generator init(init_seed(cfg.seed));
  ClassifierResult r;
  r.net = std::make_shared<nn::FmnistClassifier>(init);
  nn::FmnistClassifier& net = *r.net;
  net.to(device);  // initialised on the CPU: a CUDA run starts from the same weights
  net.train();
  Adam opt(net.parameters(), AdamOptions{cfg.lr, 0.9, 0.999, 1e-8, 0.0});

  const int64_t n = train.images.count, per_epoch = n / cfg.batch_size, total = per_epoch * cfg.epochs;
  // Batch k of an epoch is slice k of one permutation of the training set, drawn per epoch.
  const data::BatchSampler shuffle(n, n, shuffle_seed(cfg.seed));
  char line[256];
  std::snprintf(line, sizeof line,
                "train-classifier: %lld training and %lld test images, %lld parameters, %lld epochs of %lld steps of "
                "%lld, Adam lr %g (cosine), %s\n",
                (long long)n, (long long)test.images.count, (long long)net.parameter_count(), (long long)cfg.epochs,
                (long long)per_epoch, (long long)cfg.batch_size, cfg.lr, device.str().c_str());
  log << line << std::flush;

  for (int64_t e = 0; e < cfg.epochs; ++e) {
    const auto te = Clock::now();
    const std::vector<int64_t> order = shuffle.indices(uint64_t(e));
    double loss_sum = 0;
    int64_t correct = 0;
    for (int64_t k = 0; k < per_epoch; ++k) {
      const std::vector<int64_t> idx(order.begin() + k * cfg.batch_size, order.begin() + (k + 1) * cfg.batch_size);
      const std::vector<uint8_t> labels = pick(train.labels, idx);
      const Tensor logits = net(train.images.gather(idx).to(device));
      const Tensor loss = losses::cross_entropy(logits, labels);
      const double l = loss.item();
      MMGAN_CHECK(std::isfinite(l), "train-classifier: the loss is ", l, " at epoch ", e + 1, ", step ", k,
                  "; training stopped (try a smaller --lr)");
      loss_sum += l;
      correct += losses::count_correct(logits.detach(), labels);
      opt.zero_grad();
      loss.backward();
      opt.set_lr(cosine_lr(cfg.lr, r.steps, total));
      opt.step();
      ++r.steps;
    }
    ClassifierEpoch ep;
    ep.epoch = e + 1;
    ep.loss = loss_sum / double(per_epoch);
    ep.train_accuracy = double(correct) / double(per_epoch * cfg.batch_size);
    ep.test_accuracy = classifier_accuracy(net, test, device);
    ep.seconds = std::chrono::duration<double>(Clock::now() - te).count();
    r.epochs.push_back(ep);
    std::snprintf(line, sizeof line, "epoch %lld/%lld  loss %.4f  train acc %.2f%%  test acc %.2f%%  %.1f s\n",
                  (long long)ep.epoch, (long long)cfg.epochs, ep.loss, 100 * ep.train_accuracy, 100 * ep.test_accuracy,
                  ep.seconds);
    log << line << std::flush;
  }
  net.eval();
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();

  if (!cfg.out.empty()) {
    SafeTensors st = net.state_dict();
    nlohmann::json history = nlohmann::json::array();
    for (const ClassifierEpoch& ep : r.epochs)
      history.push_back({{"epoch", ep.epoch},
                         {"loss", ep.loss},
                         {"train_accuracy", ep.train_accuracy},
                         {"test_accuracy", ep.test_accuracy},
                         {"seconds", ep.seconds}});
    st.metadata["format"] = nn::FmnistClassifier::kFormat;
    st.metadata["feature_dim"] = std::to_string(nn::FmnistClassifier::kFeatureDim);
    st.metadata["classes"] = std::to_string(nn::FmnistClassifier::kClasses);
    st.metadata["test_accuracy"] = exact_text(r.test_accuracy());
    st.metadata["test_set"] = test.images.source + " (" + std::to_string(test.images.count) + " images)";
    st.metadata["train_set"] = train.images.source + " (" + std::to_string(n) + " images)";
    st.metadata["recipe"] = to_json(cfg);
    st.metadata["optimizer"] = "Adam betas (0.9, 0.999), eps 1e-8, no weight decay; cross-entropy loss";
    st.metadata["lr_schedule"] =
        "cosine per step: lr_t = lr (1 + cos(pi t / T)) / 2, t = 0 .. T-1, T = " + std::to_string(total) +
        " (epochs x floor(train images / batch_size))";
    st.metadata["history"] = history.dump();
    st.metadata["steps"] = std::to_string(r.steps);
    st.metadata["seconds"] = exact_text(r.seconds);
    st.metadata["mmgan_version"] = MMGAN_VERSION;
    st.metadata["mmgan_commit"] = MMGAN_GIT_COMMIT;
    save_safetensors(cfg.out, st);
    log << "wrote " << cfg.out << " (test accuracy " << 100 * r.test_accuracy() << "%)\n" << std::flush;
  }
  return r;
}

}  // namespace mmgan::trainer
