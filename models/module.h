// The module system: a Module owns named parameters, buffers and child modules, and names them
// exactly as torch.nn.Module does, so state_dict files move between this engine and PyTorch
// unchanged. Sequential chains children in registration order.
#pragma once
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/safetensors.h"
#include "engine/tensor.h"

namespace mmgan::nn {

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  // Layers keep pointers into their own slots, so a module is never copied.
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  virtual Tensor forward(const Tensor& x) = 0;
  // Fusion of a convolution or normalisation with the activation module after it (Sequential uses these): an
  // activation reports its LeakyReLU slope (0 for ReLU), and a module that can apply it in its own
  // pass returns forward-then-activation from forward_act (undefined: it cannot, this time).
  virtual bool activation_slope(double* slope) const {
    (void)slope;
    return false;
  }
  virtual Tensor forward_act(const Tensor& x, double slope) {
    (void)x, (void)slope;
    return {};
  }
  Tensor operator()(const Tensor& x) { return forward(x); }

  void train(bool on = true);  // this module and every descendant
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Full dotted names in torch.nn.Module.state_dict order: own parameters, own buffers, then each
  // child's entries in registration order.
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;
  std::vector<Tensor> parameters() const;
  int64_t parameter_count() const;  // total elements, as sum(p.numel()) in PyTorch

  // Snapshot of parameters and buffers (detached copies, so later training does not change it).
  SafeTensors state_dict(const std::string& prefix = "") const;
  // Validates every key and shape first and only then copies, so a failed load changes nothing.
  // Values are copied into the existing tensors: handles held by optimisers stay valid. The file's
  // dtype is converted to the module's.
  void load_state_dict(const SafeTensors& st, const std::string& prefix = "", bool strict = true);
  // Converts every parameter and buffer; parameters stay leaves and keep their requires_grad.
  // The tensors are replaced, so optimisers must be built after this call.
  void to(DType t);
  void to(Device d);  // the same for the device

  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }

 protected:
  Tensor& register_parameter(const std::string& name, Tensor t);  // a leaf requiring grad
  Tensor& register_buffer(const std::string& name, Tensor t, const std::string& file_dtype = "");
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }

 private:
  struct Slot {
    std::string name;
    Tensor tensor;
    std::string file_dtype;  // buffers only: the dtype state_dict writes ("" = the tensor's own)
  };
  void check_new_name(const std::string& name) const;
  void add_child(const std::string& name, std::shared_ptr<Module> m);
  // Calls f(full_name, slot, is_parameter) for every slot of the tree in state_dict order; Self is
  // Module or const Module.
  template <class Self, class F>
  static void walk(Self& m, const std::string& prefix, bool params, bool buffers, F&& f);
  // Replaces every parameter and buffer t for which keep(t) is false by convert(t) (to()).
  template <class Keep, class Convert>
  void replace_tensors(Keep keep, Convert convert);

  bool training_ = true;
  // deques: references returned by register_* stay valid as more entries are added.
  std::deque<Slot> params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

// Runs its children in registration order.
class Sequential : public Module {
 public:
  std::shared_ptr<Module> add(const std::string& name, std::shared_ptr<Module> m) { return register_module(name, m); }
  Tensor forward(const Tensor& x) override;
  size_t size() const { return children().size(); }
};

}  // namespace mmgan::nn
