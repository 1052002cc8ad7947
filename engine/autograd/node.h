// The recorded graph. A Node is one op application: it knows its differentiable inputs (edges
// to the nodes that produced them) and computes input gradients from output gradients.
//
// Reference structure (no cycles): outputs hold their node strongly; a node holds its inputs'
// nodes (edges) and the tensors it saved. An op that saves its own output keeps it as a
// SavedTensor with a weak reference to the node, re-attached on unpack, so the node does not
// keep itself alive. A leaf owns its AccumulateGrad node, which refers back to the leaf weakly.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace mmgan {

struct Edge {
  std::shared_ptr<Node> fn;  // null: that input needs no gradient
  uint32_t input_nr = 0;     // which output of fn the gradient flows into
  bool valid() const { return fn != nullptr; }
};

struct OutputMeta {
  Shape shape;
  DType dtype;
  Device device;
};

class Node {
 public:
  explicit Node(std::string name);
  virtual ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // grads[i]: gradient w.r.t. output i (undefined when none reached it). needed[j]: whether the
  // gradient of input j is wanted; a node computes only those. Returns one entry per input.
  virtual std::vector<Tensor> apply(std::vector<Tensor>&& grads, const std::vector<bool>& needed) = 0;
  virtual void release_saved() {}
  virtual bool released() const { return false; }

  const std::string& name() const { return name_; }
  uint64_t sequence_nr() const { return seq_; }
  // 0: recorded by a forward pass; k > 0: recorded while a k-th order backward ran (create_graph).
  int order() const { return order_; }

  std::vector<Edge> next_edges;
  std::vector<OutputMeta> outputs;

  static int64_t live_count() { return live_.load(); }

 private:
  std::string name_;
  uint64_t seq_;
  int order_;
  static std::atomic<int64_t> live_;
};

// A tensor a backward formula needs. Inputs are held strongly; outputs of the saving node weakly.
class SavedTensor {
 public:
  SavedTensor() = default;
  static SavedTensor input(const Tensor& t);
  static SavedTensor output(const Tensor& t, const std::shared_ptr<Node>& producer);
  Tensor unpack() const;

 private:
  Tensor data_;
  std::weak_ptr<Node> producer_;
  uint32_t output_nr_ = 0;
  bool is_output_ = false;
};

class BackwardContext;
using BackwardFn = std::function<std::vector<Tensor>(BackwardContext&)>;

// The node type of every engine op: a backward formula (a closure over shapes and scalars,
// never tensors) plus the tensors it saved.
class FunctionNode final : public Node {
 public:
  FunctionNode(std::string name, BackwardFn fn) : Node(std::move(name)), fn_(std::move(fn)) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& grads, const std::vector<bool>& needed) override;
  void release_saved() override;
  bool released() const override { return released_; }
  std::vector<SavedTensor> saved;

 private:
  BackwardFn fn_;
  bool released_ = false;
};

// What a backward formula sees.
class BackwardContext {
 public:
  BackwardContext(FunctionNode& node, std::vector<Tensor>& grads, const std::vector<bool>& needed)
      : node_(node), grads_(grads), needed_(needed) {}
  Tensor grad(size_t output = 0);  // zeros when no gradient reached that output
  bool grad_defined(size_t output = 0) const { return grads_[output].defined(); }
  bool needs(size_t input) const { return needed_[input]; }
  Tensor saved(size_t i) const { return node_.saved.at(i).unpack(); }

 private:
  FunctionNode& node_;
  std::vector<Tensor>& grads_;
  const std::vector<bool>& needed_;
};

// Leaves' gradient sink: adds incoming gradients into leaf.grad.
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(const std::shared_ptr<TensorImpl>& leaf);
  std::vector<Tensor> apply(std::vector<Tensor>&& grads, const std::vector<bool>& needed) override;
  std::shared_ptr<TensorImpl> leaf() const { return leaf_.lock(); }

 private:
  std::weak_ptr<TensorImpl> leaf_;
};

// The edge a gradient w.r.t. t flows into: (grad_fn, output_nr), or the leaf's accumulator.
Edge gradient_edge(const Tensor& t);

// Records one op application. Usage, with the forward and backward formulas side by side:
//   Tensor y = <forward kernel>(x);
//   return Recorder("exp").input(x).save_output().finish(y, [](BackwardContext& c) {
//     return grads(c.grad() * c.saved(0));
//   });
// Nothing is recorded (and nothing saved) when grad mode is off or no input requires grad.
class Recorder {
 public:
  explicit Recorder(const char* name);
  Recorder& input(const Tensor& t);     // a differentiable input, in the order the formula returns
  Recorder& save(const Tensor& t);      // saved by reference (inputs, or constants)
  Recorder& save_output(size_t i = 0);  // output i, saved without a reference cycle
  Tensor finish(Tensor out, BackwardFn fn);
  std::vector<Tensor> finish(std::vector<Tensor> outs, BackwardFn fn);
  bool active() const { return active_; }

 private:
  const char* name_;
  bool active_ = false;
  std::vector<Edge> edges_;
  std::vector<Tensor> saved_;
  std::vector<size_t> saved_slot_outputs_;  // slot index -> output index, or npos for inputs
};

inline std::vector<Tensor> grads(std::initializer_list<Tensor> g) { return std::vector<Tensor>(g); }

}  // namespace mmgan
