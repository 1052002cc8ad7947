// Which loader a configuration means (data/), with the flag named in every error.
#include "data/cifar10.h"
#include "data/fashion_mnist.h"
#include "data/image_folder.h"
#include "data/toy.h"
#include "trainer/trainer.h"

namespace mmgan::trainer {

std::shared_ptr<const data::Dataset> load_dataset(const TrainConfig& c) {
  try {
    if (c.dataset == "fashion-mnist") {
      const std::string dir = c.input_folder.empty() ? data::kFashionMnistDir : c.input_folder;
      return std::make_shared<data::Dataset>(data::load_fashion_mnist(dir, true, c.image_size, c.fmnist_fit).images);
    }
    if (c.dataset == "cifar10")
      return std::make_shared<data::Dataset>(data::load_cifar10(c.input_folder, c.image_size));
    if (c.dataset == "folder")
      return std::make_shared<data::Dataset>(
          data::load_image_folder(c.input_folder, c.image_size, c.n_colors, c.centercrop, c.on_bad_image));
  } catch (const Error& e) {
    throw Error(std::string("--dataset ") + c.dataset + ": " + e.what());
  }
  MMGAN_FAIL("--dataset ", c.dataset, ": not a data set `mmgan train` can load");
}

}  // namespace mmgan::trainer
