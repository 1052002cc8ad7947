// Training of the Fashion-MNIST feature classifier (models/fmnist_classifier.h), the `mmgan
// train-classifier` command: Adam on the 60k training split, a fresh shuffle per epoch drawn from the
// seed, BatchNorm in training mode, a cosine learning-rate schedule stepped per batch; after each epoch
// the t10k split is classified in eval mode and one line is printed. The weights are written atomically
// as safetensors with the recipe, the accuracies and the build in the metadata.
// Checked by tests/test_classifier.cpp (a short run on a subset learns; the shipped weights' accuracy).
#pragma once
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/fashion_mnist.h"
#include "engine/device.h"
#include "models/fmnist_classifier.h"

namespace mmgan::trainer {

// The defaults are the recipe of the shipped weights (models/weights/fmnist_classifier.safetensors).
struct ClassifierConfig {
  std::string data_dir = data::kFashionMnistDir;
  int64_t epochs = 8;
  int64_t batch_size = 128;  // the last incomplete batch of each epoch is dropped
  double lr = 2e-3;          // Adam (0.9, 0.999), cosine-annealed from lr towards 0 over all steps
  int64_t seed = 0;          // initialisation and the shuffles
  std::string device = "cpu";
  std::string out;  // the weight file; empty: not written
  int threads = 0;  // OpenMP threads; 0: the OpenMP default (OMP_NUM_THREADS)
};

// Throws naming the flag when a value cannot be used.
void check_config(const ClassifierConfig& c);
std::string to_json(const ClassifierConfig& c);  // every value, for the weight file's metadata

// The learning rate of step t (0-based) of `total`: lr (1 + cos(pi t / total)) / 2.
double cosine_lr(double lr, int64_t t, int64_t total);

struct ClassifierEpoch {
  int64_t epoch = 0;          // 1-based
  double loss = 0;            // mean training cross-entropy over the epoch's batches
  double train_accuracy = 0;  // on the training batches as they were trained on (train mode)
  double test_accuracy = 0;   // on the whole test set, eval mode
  double seconds = 0;         // training and evaluation of this epoch
};

struct ClassifierResult {
  std::shared_ptr<nn::FmnistClassifier> net;  // in eval mode, on cfg.device, float32
  std::vector<ClassifierEpoch> epochs;
  int64_t steps = 0;
  double seconds = 0;
  double test_accuracy() const { return epochs.empty() ? 0.0 : epochs.back().test_accuracy; }
};

// Loads the train and t10k splits from cfg.data_dir (32x32, padded) and trains.
ClassifierResult train_classifier(const ClassifierConfig& cfg, std::ostream& log);
// The same on given data sets (tests use subsets): images [n, 1, 32, 32] with one label each.
ClassifierResult train_classifier(const ClassifierConfig& cfg, const data::Labeled& train, const data::Labeled& test,
                                  std::ostream& log);

// The fraction of `set` the network classifies correctly, in eval mode, without recording a graph
// (the network's mode is restored afterwards). Batches of `batch` images on the network's device.
double classifier_accuracy(nn::FmnistClassifier& net, const data::Labeled& set, Device device, int64_t batch = 500);

}  // namespace mmgan::trainer
