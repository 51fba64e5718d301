// tapezoo: the tape. A Wengert list of nodes in creation order, walked backwards once.
//
//   Tape<double> tape;                       // start recording
//   Var x = tape.leaf(x0);                   // inputs become leaves
//   Var y = sum(exp(x) * x);                 // every op appends one node
//   tape.backward(y);                        // one reverse sweep: for (i = n; i-- > 0;) nodes[i].backward()
//   std::cout << x.grad();                   // dy/dx = (1 + x) e^x
//
// Creation order is already a topological order, so backward needs no recursion and no sort.
// Nodes name their inputs by index into the tape, never by pointer. Gradients accumulate (+=),
// so a value used twice receives both contributions.
//
// Parameters (Param) live outside the tape and keep their gradients across steps until
// zero_grad(). A tape is cleared every step; clear() keeps the nodes' storage so that the next
// step, which records the same ops with the same shapes, allocates nothing (docs/pitfalls.md#flat-memory).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <functional>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>
#include <xtensor/xnoalias.hpp>

#include "autograd/op_table.hpp"

namespace tz {

template <class T>
using Array = xt::xarray<T>;
using Shape = std::vector<std::size_t>;

template <class T>
class Tape;
template <class T>
struct Node;

// An error in the use of the engine: shape mismatches, backward from a non-scalar, a Var from a
// cleared tape. Its message names the op and the shapes.
struct AutogradError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Anomaly mode found the first NaN or Inf: the message names the op and its tape position.
struct AnomalyError : AutogradError {
  using AutogradError::AutogradError;
};

// A trainable array that outlives tapes. Its gradient accumulates across backward passes until
// zero_grad(), exactly like PyTorch's .grad.
template <class T>
struct Param {
  std::string name;
  Array<T> value;
  Array<T> grad;

  Param() = default;
  Param(std::string name_, Array<T> value_) : name(std::move(name_)), value(std::move(value_)) {
    grad = xt::zeros<T>(value.shape());
  }
  void zero_grad() { grad.fill(T(0)); }
};

// A handle to one node of one tape: (tape, index, generation). Cheap to copy.
template <class T>
class Var {
 public:
  Var() = default;
  Var(Tape<T>* tape, std::uint32_t id, std::uint64_t gen) : tape_(tape), id_(id), gen_(gen) {}

  const Array<T>& value() const;
  // dLoss/dthis after backward (zeros if no gradient reached it).
  Array<T> grad() const;
  const auto& shape() const { return value().shape(); }
  std::size_t size() const { return value().size(); }
  std::size_t dim() const { return value().dimension(); }
  // The single value of a one-element Var (a loss).
  T item() const;
  bool requires_grad() const;

  Tape<T>& tape() const;
  std::uint32_t index() const { return id_; }
  bool valid() const { return tape_ != nullptr; }
  std::uint64_t generation() const { return gen_; }

 private:
  Tape<T>* tape_ = nullptr;
  std::uint32_t id_ = 0;
  std::uint64_t gen_ = 0;
};

// The backward function of a node: reads n.grad (gy) and accumulates into its inputs' gradients.
template <class T>
using BackwardFn = void (*)(Tape<T>&, Node<T>&);

// What an op keeps from its forward for its backward, each under its own name. One flat struct
// rather than a std::variant of per-op structs: a tape slot is recycled every step, usually for the
// same op, and a variant would destroy and rebuild the vectors' buffers whenever it is re-emplaced.
// Here the vectors keep their capacity across clear(), so a step allocates nothing
// (docs/pitfalls.md#flat-memory). Ops that save nothing leave it at its defaults.
struct Saved {
  double c = 0;                       // mul_scalar, rdiv_scalar: the constant c
  double exponent = 0;                // pow_scalar: p
  double lo = 0, hi = 0;              // clamp: the range [lo, hi]
  std::size_t axis = 0;               // the axis of sum_axis, mean_axis, logsumexp, max_axis, concat,
                                      // narrow, softmax, log_softmax (already normalised: 0 ≤ axis < dim)
  std::size_t start = 0, length = 0;  // narrow: x[start : start+length]
  std::size_t copies = 0;             // tile: k
  std::vector<std::size_t> rows;      // gather_rows: idx, the row of x behind each row of y
  std::vector<std::size_t> argmax;    // max_axis: the (first) argmax behind each element of y
  std::vector<std::size_t> offsets;   // concat: where each input starts along the axis

  // Back to the defaults, keeping the vectors' capacity.
  void reset() {
    c = exponent = lo = hi = 0;
    axis = start = length = copies = 0;
    rows.clear();
    argmax.clear();
    offsets.clear();
  }
};

template <class T>
struct Node {
  Op op = Op::constant;
  Array<T> value;                      // y, owned (empty for parameter leaves)
  const Array<T>* ext_value = nullptr; // a parameter's value, read in place (no copy)
  Param<T>* param = nullptr;           // gradients of a parameter leaf go to param->grad
  Array<T> grad;                       // gy, the adjoint dLoss/dy
  bool needs_grad = false;             // some input (transitively) requires a gradient
  bool has_grad = false;               // grad holds a value in this backward pass
  bool first_use = false;              // the first node on the tape that reads this parameter
  std::vector<std::uint32_t> in;       // input node indices (creation order: all < own index)
  Saved saved;                         // what the backward needs besides values: exponent, axis …
  BackwardFn<T> backward = nullptr;
  std::string label;                   // optional name, shown in print() and DOT

  const Array<T>& val() const { return ext_value ? *ext_value : value; }
};

template <class T>
class Tape {
 public:
  Tape() = default;
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

  // ---- recording ------------------------------------------------------------------------------
  // A leaf that requires a gradient; read it with var.grad() after backward.
  Var<T> leaf(const Array<T>& value, std::string label = "");
  // A constant: data, noise ε, labels. No gradient flows into it.
  Var<T> constant(const Array<T>& value, std::string label = "");
  Var<T> constant(Array<T>&& value, std::string label = "");
  // A constant read in place, without a copy (a minibatch, a noise buffer): value must stay alive
  // and unchanged until the tape is cleared, as a parameter's value does during a step.
  Var<T> constant_view(const Array<T>& value, std::string label = "");
  Var<T> scalar(T value) { return constant(Array<T>(value)); }
  // A parameter, read in place; backward accumulates into p.grad.
  Var<T> param(Param<T>& p);

  // ---- the reverse sweep ----------------------------------------------------------------------
  // Seeds dloss/dloss = 1 (loss must have one element) and walks the nodes in reverse, once.
  void backward(const Var<T>& loss);
  // The same with an explicit seed of y's shape (a vector-Jacobian product).
  void backward(const Var<T>& y, const Array<T>& seed);
  // backward(loss), calling ready(p) once for each parameter p on the tape as soon as p.grad is
  // complete: when the sweep reaches the first node that read p, every later use has added its
  // part. An optimizer can update p there, while p.grad is still in cache (nn::Adam::backward_step).
  using ParamReady = std::function<void(Param<T>&)>;
  void backward(const Var<T>& loss, const ParamReady& ready);

  // Forget all nodes (the next step starts afresh). Vars from before are invalid afterwards.
  void clear();
  std::size_t size() const { return n_; }
  // Node slots kept for reuse (with their arrays' storage): after the first step of a loop whose
  // steps record the same ops, this stops changing.
  std::size_t reserved_nodes() const { return nodes_.size(); }
  std::uint64_t generation() const { return gen_; }

  // ---- modes ----------------------------------------------------------------------------------
  bool recording() const { return recording_; }
  void set_recording(bool on) { recording_ = on; }
  // Anomaly mode: the first NaN or Inf in a forward value or a backward gradient throws
  // AnomalyError naming the op and its tape position. Costs a scan of every array.
  void set_detect_anomaly(bool on) { anomaly_ = on; }
  bool detect_anomaly() const { return anomaly_; }

  // ---- teaching -------------------------------------------------------------------------------
  // Two lines per node: "#3   mul(#1, #2)   [2]  value …  grad …", then its formula from kOps,
  // "       y = a ⊙ b    ga += sum_to(gy·b), gb += sum_to(gy·a)".
  std::string print(bool with_values = true) const;
  // Graphviz DOT of the recorded graph (rankdir=LR; parameters, constants and ops styled apart).
  std::string to_dot() const;

  // ---- for op authors (autograd/ops_*.cpp) ----------------------------------------------------
  // Appends a node for op with the given inputs, and returns its index. If no input needs a
  // gradient, or the tape is not recording, the node is a constant: no inputs kept, no backward.
  std::uint32_t push(Op op, std::initializer_list<Var<T>> inputs, BackwardFn<T> backward);
  std::uint32_t push(Op op, const std::vector<Var<T>>& inputs, BackwardFn<T> backward);
  Node<T>& node(std::uint32_t id) { return nodes_[id]; }
  const Node<T>& node(std::uint32_t id) const { return nodes_[id]; }
  const Array<T>& val(std::uint32_t id) const { return nodes_[id].val(); }
  const Array<T>& val(const Var<T>& v) const;  // checks that v belongs to this tape, this generation
  // Finishes an op: anomaly check of the forward value, then the Var handle.
  Var<T> finish(std::uint32_t id);
  // Whether input id wants a gradient.
  bool wants_grad(std::uint32_t id) const { return nodes_[id].needs_grad; }

  // Accumulates g into the gradient of node id: the first contribution assigns, later ones add.
  // g must already have the node's shape (reduce broadcasts with sum_to first).
  template <class E>
  void accumulate(std::uint32_t id, const E& g) {
    Node<T>& p = nodes_[id];
    if (!p.needs_grad) return;
    check_grad_shape(id, g.shape());
    // noalias: a gradient buffer is never read by the expression that updates it.
    if (p.param) {
      xt::noalias(p.param->grad) += g;
    } else if (!p.has_grad) {
      xt::noalias(p.grad) = g;
      p.has_grad = true;
    } else {
      xt::noalias(p.grad) += g;
    }
  }
  // The destination of node id's gradient for BLAS-style writers: sized and ready, with beta
  // set to 0 for the first contribution (overwrite) and 1 afterwards (accumulate).
  Array<T>& grad_dest(std::uint32_t id, T& beta);

  void check(const Var<T>& v, const char* op) const;  // throws AutogradError if v is stale
  std::string describe(std::uint32_t id) const;      // "#3 'mul' [2,3]"

 private:
  template <class S>
  void check_grad_shape(std::uint32_t id, const S& shape) const {
    const auto& want = nodes_[id].val().shape();
    if (shape.size() != want.size() || !std::equal(shape.begin(), shape.end(), want.begin()))
      throw_grad_shape(id, Shape(shape.begin(), shape.end()));
  }
  [[noreturn]] void throw_grad_shape(std::uint32_t id, const Shape& got) const;
  void backward_from(const Var<T>& y, const Array<T>* seed, const ParamReady* ready);
  void sweep(std::uint32_t last, const ParamReady* ready);
  void check_finite_forward(std::uint32_t id) const;
  void check_finite_backward(std::uint32_t id) const;
  std::uint32_t new_node(Op op);

  std::vector<Node<T>> nodes_;  // storage is recycled across clear()
  std::size_t n_ = 0;           // live nodes
  std::vector<const Param<T>*> params_;  // parameters read since clear(), in order of first use
  std::uint64_t gen_ = 1;
  bool recording_ = true;
  bool anomaly_ = false;
};

// RAII: evaluation that records nothing. Results are constants (no inputs, no backward).
//   { NoGrad guard(tape); auto nelbo = model.negative_elbo_bound(tape, x); }
template <class T>
class NoGrad {
 public:
  explicit NoGrad(Tape<T>& t) : t_(t), prev_(t.recording()) { t_.set_recording(false); }
  ~NoGrad() { t_.set_recording(prev_); }
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  Tape<T>& t_;
  bool prev_;
};

// "[2,3]" for error messages.
std::string shape_str(const Shape& s);
template <class S>
std::string shape_str(const S& s) {
  return shape_str(Shape(s.begin(), s.end()));
}

}  // namespace tz
