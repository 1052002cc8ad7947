// The backward engine: dependency counting over the reachable graph, then nodes in reverse
// creation order (a valid topological order, since a node is created after its inputs).
#include "engine/autograd/engine.h"

#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "engine/error.h"
#include "engine/ops.h"
#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/autograd/recording.h"

namespace mmgan {
namespace {

struct NodeState {
  int dependencies = 0;
  bool needed = false;
  std::vector<Tensor> buffer;  // summed gradient per output of the node
};

struct BySeq {
  bool operator()(Node* a, Node* b) const { return a->sequence_nr() < b->sequence_nr(); }
};

void accumulate(std::vector<Tensor>& buffer, uint32_t slot, const Tensor& g) {
  Tensor& b = buffer.at(slot);
  b = b.defined() ? add(b, g) : g;
}

// Runs the graph. With targets (grad mode) returns the gradient captured at each target edge.
std::vector<Tensor> run(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs, bool retain_graph,
                        bool create_graph, const std::vector<Edge>* targets) {
  MMGAN_CHECK(!outputs.empty(), "backward: no outputs given");
  MMGAN_CHECK(grad_outputs.empty() || grad_outputs.size() == outputs.size(), "backward: ", outputs.size(),
              " outputs but ", grad_outputs.size(), " grad_outputs");

  // Roots and their seed gradients.
  std::vector<Edge> roots;
  std::vector<Tensor> seeds;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& o = outputs[i];
    MMGAN_CHECK(o.defined() && o.requires_grad(), "backward: output ", i,
                " does not require grad (it has no recorded history)");
    Tensor g = grad_outputs.empty() ? Tensor() : grad_outputs[i];
    if (!g.defined()) {
      MMGAN_CHECK(o.numel() == 1, "backward: output ", i, " has shape ", shape_str(o.shape()),
                  "; grad_outputs can be omitted only for one-element outputs");
      g = ones_like(o);
    }
    MMGAN_CHECK(g.shape() == o.shape(), "backward: grad_output ", i, " has shape ", shape_str(g.shape()),
                " but the output has shape ", shape_str(o.shape()));
    roots.push_back(gradient_edge(o));
    seeds.push_back(create_graph ? g : g.detach());
  }

  // Discover the reachable graph (iterative DFS) and count dependencies.
  std::unordered_map<Node*, NodeState> state;
  std::vector<Node*> order;  // discovery post-order, for the "needed" pass
  {
    std::vector<std::pair<Node*, size_t>> stack;
    for (const Edge& r : roots) {
      if (state.count(r.fn.get())) continue;
      state[r.fn.get()];
      stack.push_back({r.fn.get(), 0});
      while (!stack.empty()) {
        auto& [n, next] = stack.back();
        if (next < n->next_edges.size()) {
          const Edge& e = n->next_edges[next++];
          if (!e.valid()) continue;
          auto [it, inserted] = state.try_emplace(e.fn.get());
          ++it->second.dependencies;
          if (inserted) stack.push_back({e.fn.get(), 0});
        } else {
          order.push_back(n);
          stack.pop_back();
        }
      }
    }
  }

  std::unordered_map<Node*, std::vector<size_t>> target_slots;  // node -> indices into targets
  if (targets) {
    for (size_t i = 0; i < targets->size(); ++i)
      if ((*targets)[i].valid()) target_slots[(*targets)[i].fn.get()].push_back(i);
    // A node is needed if a target is reachable from it; children come first in post-order.
    for (Node* n : order) {
      NodeState& s = state[n];
      s.needed = target_slots.count(n) > 0;
      for (const Edge& e : n->next_edges)
        if (e.valid() && state[e.fn.get()].needed) s.needed = true;
    }
    // Recount dependencies over needed nodes only, so unneeded branches never block.
    for (auto& [n, s] : state) s.dependencies = 0;
    for (auto& [n, s] : state) {
      if (!s.needed) continue;
      for (const Edge& e : n->next_edges)
        if (e.valid() && state[e.fn.get()].needed) ++state[e.fn.get()].dependencies;
    }
  } else {
    for (auto& [n, s] : state) s.needed = true;
  }

  std::vector<Tensor> captured(targets ? targets->size() : 0);
  std::priority_queue<Node*, std::vector<Node*>, BySeq> ready;
  for (size_t i = 0; i < roots.size(); ++i) {
    NodeState& s = state[roots[i].fn.get()];
    if (!s.needed) continue;
    if (s.buffer.empty()) s.buffer.resize(roots[i].fn->outputs.size());
    accumulate(s.buffer, roots[i].input_nr, seeds[i]);
  }
  {
    std::unordered_set<Node*> pushed;
    for (const Edge& r : roots) {
      NodeState& s = state[r.fn.get()];
      if (s.needed && s.dependencies == 0 && pushed.insert(r.fn.get()).second) ready.push(r.fn.get());
    }
  }

  GradModeGuard grad_mode(create_graph);
  while (!ready.empty()) {
    Node* n = ready.top();
    ready.pop();
    NodeState& s = state[n];
    std::vector<Tensor> buffer = std::move(s.buffer);
    buffer.resize(n->outputs.size());

    if (targets) {
      auto it = target_slots.find(n);
      if (it != target_slots.end())
        for (size_t ti : it->second) captured[ti] = buffer.at((*targets)[ti].input_nr);
      // In grad() mode leaves' accumulators never run: nothing is written to .grad.
      if (dynamic_cast<AccumulateGrad*>(n)) continue;
    }

    std::vector<bool> needed(n->next_edges.size());
    bool any_needed = false;
    for (size_t j = 0; j < needed.size(); ++j) {
      const Edge& e = n->next_edges[j];
      needed[j] = e.valid() && state[e.fn.get()].needed;
      any_needed = any_needed || needed[j];
    }
    std::vector<Tensor> in_grads;
    if (any_needed || dynamic_cast<AccumulateGrad*>(n)) {
      RecordOrderGuard record_order(n->order() + 1);
      in_grads = n->apply(std::move(buffer), needed);
    }
    if (!retain_graph) n->release_saved();

    for (size_t j = 0; j < n->next_edges.size(); ++j) {
      const Edge& e = n->next_edges[j];
      if (!needed[j]) continue;
      NodeState& child = state[e.fn.get()];
      if (j < in_grads.size() && in_grads[j].defined()) {
        const OutputMeta& m = e.fn->outputs.at(e.input_nr);
        MMGAN_CHECK(in_grads[j].shape() == m.shape, "backward of '", n->name(), "' returned a gradient of shape ",
                    shape_str(in_grads[j].shape()), " for input ", j, " of shape ", shape_str(m.shape));
        if (child.buffer.empty()) child.buffer.resize(e.fn->outputs.size());
        accumulate(child.buffer, e.input_nr, in_grads[j]);
      }
      if (--child.dependencies == 0) ready.push(e.fn.get());
    }
  }
  return captured;
}

}  // namespace

void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs, bool retain_graph,
              bool create_graph) {
  run(outputs, grad_outputs, retain_graph || create_graph, create_graph, nullptr);
}

void Tensor::backward(const Tensor& grad_output, bool retain_graph, bool create_graph) const {
  mmgan::backward({*this}, grad_output.defined() ? std::vector<Tensor>{grad_output} : std::vector<Tensor>{},
                  retain_graph, create_graph);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, GradOptions opts) {
  std::vector<Edge> targets;
  for (size_t i = 0; i < inputs.size(); ++i) {
    MMGAN_CHECK(inputs[i].defined() && inputs[i].requires_grad(), "grad: input ", i, " (",
                inputs[i].defined() ? inputs[i].str() : "undefined", ") does not require grad");
    targets.push_back(gradient_edge(inputs[i]));
  }
  const bool retain = opts.retain_graph < 0 ? opts.create_graph : opts.retain_graph != 0;
  std::vector<Tensor> result = run(outputs, grad_outputs, retain, opts.create_graph, &targets);
  for (size_t i = 0; i < result.size(); ++i) {
    if (!result[i].defined()) {
      MMGAN_CHECK(opts.allow_unused, "grad: input ", i, " (", inputs[i].str(),
                  ") was not used to compute the outputs; pass allow_unused=true");
    } else if (!opts.create_graph) {
      result[i] = result[i].detach();
    }
  }
  return result;
}

}  // namespace mmgan
