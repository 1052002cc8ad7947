#include "engine/autograd/node.h"

#include <limits>

#include "engine/error.h"
#include "engine/ops.h"
#include "engine/autograd/grad_mode.h"
#include "engine/autograd/recording.h"

namespace mmgan {

std::atomic<int64_t> Node::live_{0};

namespace {
std::atomic<uint64_t> g_next_seq{0};
thread_local int g_record_order = 0;
thread_local bool g_grad_enabled = true;
constexpr size_t kInputSlot = std::numeric_limits<size_t>::max();
}  // namespace

bool GradMode::enabled() { return g_grad_enabled; }
void GradMode::set(bool on) { g_grad_enabled = on; }

RecordOrderGuard::RecordOrderGuard(int order) : prev_(g_record_order) { g_record_order = order; }
RecordOrderGuard::~RecordOrderGuard() { g_record_order = prev_; }

Node::Node(std::string name) : name_(std::move(name)), seq_(g_next_seq++), order_(g_record_order) { ++live_; }
Node::~Node() { --live_; }

SavedTensor SavedTensor::input(const Tensor& t) {
  SavedTensor s;
  s.data_ = t;
  return s;
}

SavedTensor SavedTensor::output(const Tensor& t, const std::shared_ptr<Node>& producer) {
  SavedTensor s;
  s.data_ = t.detach();
  s.producer_ = producer;
  s.output_nr_ = t.output_nr();
  s.is_output_ = true;
  return s;
}

Tensor SavedTensor::unpack() const {
  if (!is_output_) return data_;
  // Re-attach the history: the node is alive while its backward runs (the engine holds it).
  Tensor t = data_.detach();
  if (auto n = producer_.lock()) {
    auto& m = t.impl()->autograd;
    m.requires_grad = true;
    m.grad_fn = std::move(n);
    m.output_nr = output_nr_;
  }
  return t;
}

std::vector<Tensor> FunctionNode::apply(std::vector<Tensor>&& grads, const std::vector<bool>& needed) {
  MMGAN_CHECK(!released_, "trying to backward through the graph a second time (node '", name(),
              "'): its saved tensors were freed; pass retain_graph=true to the first backward/grad");
  BackwardContext ctx(*this, grads, needed);
  std::vector<Tensor> out = fn_(ctx);
  MMGAN_CHECK(out.size() == next_edges.size(), "backward of '", name(), "' returned ", out.size(), " gradients for ",
              next_edges.size(), " inputs");
  for (size_t i = 0; i < out.size(); ++i)
    if (!needed[i]) out[i] = Tensor();
  return out;
}

void FunctionNode::release_saved() {
  saved.clear();
  saved.shrink_to_fit();
  fn_ = nullptr;
  released_ = true;
}

Tensor BackwardContext::grad(size_t output) {
  Tensor& g = grads_.at(output);
  if (!g.defined()) {
    const OutputMeta& m = node_.outputs.at(output);
    g = zeros(m.shape, m.dtype, m.device);
  }
  return g;
}

AccumulateGrad::AccumulateGrad(const std::shared_ptr<TensorImpl>& leaf) : Node("AccumulateGrad"), leaf_(leaf) {
  outputs.push_back({leaf->sizes, leaf->dtype, leaf->storage->device()});
}

std::vector<Tensor> AccumulateGrad::apply(std::vector<Tensor>&& grads, const std::vector<bool>&) {
  auto leaf = leaf_.lock();
  if (!leaf || !grads[0].defined()) return {};
  Tensor incoming = GradMode::enabled() ? grads[0] : grads[0].detach();
  Tensor& g = leaf->autograd.grad;
  // Out of place, so a gradient handed out earlier (or recorded in a graph) is never mutated.
  g = g.defined() ? add(g, incoming) : incoming;
  return {};
}

Edge gradient_edge(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return {};
  auto& m = t.impl()->autograd;
  if (m.grad_fn) return {m.grad_fn, m.output_nr};
  if (!m.grad_accumulator) m.grad_accumulator = std::make_shared<AccumulateGrad>(t.impl_ptr());
  return {m.grad_accumulator, 0};
}

Recorder::Recorder(const char* name) : name_(name), active_(GradMode::enabled()) {}

Recorder& Recorder::input(const Tensor& t) {
  edges_.push_back(GradMode::enabled() ? gradient_edge(t) : Edge{});
  return *this;
}

Recorder& Recorder::save(const Tensor& t) {
  saved_.push_back(t);
  saved_slot_outputs_.push_back(kInputSlot);
  return *this;
}

Recorder& Recorder::save_output(size_t i) {
  saved_.emplace_back();
  saved_slot_outputs_.push_back(i);
  return *this;
}

Tensor Recorder::finish(Tensor out, BackwardFn fn) {
  return finish(std::vector<Tensor>{std::move(out)}, std::move(fn))[0];
}

std::vector<Tensor> Recorder::finish(std::vector<Tensor> outs, BackwardFn fn) {
  bool any = false;
  for (const Edge& e : edges_) any = any || e.valid();
  if (!active_ || !any) return outs;
  auto node = std::make_shared<FunctionNode>(name_, std::move(fn));
  node->next_edges = std::move(edges_);
  for (size_t i = 0; i < outs.size(); ++i) {
    Tensor& o = outs[i];
    node->outputs.push_back({o.shape(), o.dtype(), o.device()});
    auto& m = o.impl()->autograd;
    MMGAN_CHECK(!m.grad_fn && !m.requires_grad, "op '", name_, "': output ", i, " already has history");
    m.requires_grad = true;
    m.grad_fn = node;
    m.output_nr = uint32_t(i);
  }
  for (size_t s = 0; s < saved_.size(); ++s) {
    const size_t oi = saved_slot_outputs_[s];
    node->saved.push_back(oi == kInputSlot ? SavedTensor::input(saved_[s]) : SavedTensor::output(outs.at(oi), node));
  }
  return outs;
}

}  // namespace mmgan
