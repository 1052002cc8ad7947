#include "models/mlp.h"

#include "engine/error.h"
#include "models/init.h"
#include "models/layers.h"

namespace mmgan::nn {

std::shared_ptr<Sequential> make_mlp(const MLPConfig& c, Generator& gen) {
  MMGAN_CHECK(c.in > 0 && c.out > 0, "make_mlp: in and out must be positive, got ", c.in, " and ", c.out);
  auto net = std::make_shared<Sequential>();
  int64_t width = c.in, index = 0;
  for (int64_t h : c.hidden) {
    MMGAN_CHECK(h > 0, "make_mlp: hidden widths must be positive, got ", h);
    net->add(std::to_string(index++), std::make_shared<Linear>(width, h, true, false, c.dtype));
    std::shared_ptr<Module> act;
    switch (c.activation) {
      case Activation::Tanh: act = std::make_shared<Tanh>(); break;
      case Activation::ReLU: act = std::make_shared<ReLU>(); break;
      case Activation::LeakyReLU: act = std::make_shared<LeakyReLU>(c.slope); break;
    }
    net->add(std::to_string(index++), act);
    width = h;
  }
  net->add(std::to_string(index), std::make_shared<Linear>(width, c.out, true, false, c.dtype));
  reset_parameters(*net, gen);
  return net;
}

}  // namespace mmgan::nn
