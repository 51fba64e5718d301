// tapezoo: the tape's recording, its reverse sweep, anomaly mode, printing and DOT export.
#include "autograd/tape.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include <fmt/format.h>

namespace tz {

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + "]";
}

// ---- Var ----------------------------------------------------------------------------------------

template <class T>
Tape<T>& Var<T>::tape() const {
  if (!tape_) throw AutogradError("Var: this Var is empty (default-constructed); it belongs to no tape");
  return *tape_;
}

template <class T>
const Array<T>& Var<T>::value() const {
  return tape().val(*this);
}

template <class T>
Array<T> Var<T>::grad() const {
  Tape<T>& t = tape();
  t.check(*this, "grad");
  const Node<T>& n = t.node(id_);
  if (n.param) return n.param->grad;
  if (n.has_grad) return n.grad;
  return xt::zeros<T>(n.val().shape());
}

template <class T>
T Var<T>::item() const {
  const Array<T>& v = value();
  if (v.size() != 1)
    throw AutogradError(fmt::format("item: {} has {} elements, expected exactly one",
                                    tape().describe(id_), v.size()));
  return *v.data();
}

template <class T>
bool Var<T>::requires_grad() const {
  tape().check(*this, "requires_grad");
  return tape().node(id_).needs_grad;
}

// ---- recording ----------------------------------------------------------------------------------

template <class T>
void Tape<T>::check(const Var<T>& v, const char* op) const {
  if (!v.valid())
    throw AutogradError(fmt::format("{}: an input Var is empty (default-constructed)", op));
  if (&v.tape() != this)
    throw AutogradError(fmt::format("{}: input #{} was recorded on another tape", op, v.index()));
  // A Var carries the generation it was made in; clear() starts a new one.
  if (v.generation() != gen_ || v.index() >= n_)
    throw AutogradError(fmt::format(
        "{}: input #{} is from a cleared tape (made in generation {}, the tape is now at generation {}); "
        "record it again after clear()",
        op, v.index(), v.generation(), gen_));
}

template <class T>
const Array<T>& Tape<T>::val(const Var<T>& v) const {
  check(v, "value");
  return nodes_[v.index()].val();
}

template <class T>
std::string Tape<T>::describe(std::uint32_t id) const {
  const Node<T>& n = nodes_[id];
  std::string name = n.param ? n.param->name : n.label;
  return fmt::format("#{} '{}'{} {}", id, op_name(n.op), name.empty() ? "" : " (" + name + ")",
                     shape_str(n.val().shape()));
}

template <class T>
std::uint32_t Tape<T>::new_node(Op op) {
  if (n_ == nodes_.size()) nodes_.emplace_back();
  Node<T>& n = nodes_[n_];
  // Recycle: keep value/grad storage, reset everything else.
  n.op = op;
  n.ext_value = nullptr;
  n.param = nullptr;
  n.needs_grad = false;
  n.has_grad = false;
  n.first_use = false;
  n.in.clear();
  n.saved.reset();
  n.backward = nullptr;
  n.label.clear();
  return static_cast<std::uint32_t>(n_++);
}

template <class T>
Var<T> Tape<T>::leaf(const Array<T>& value, std::string label) {
  std::uint32_t id = new_node(Op::leaf);
  Node<T>& n = nodes_[id];
  n.value = value;
  n.needs_grad = recording_;
  n.label = std::move(label);
  return finish(id);
}

template <class T>
Var<T> Tape<T>::constant(const Array<T>& value, std::string label) {
  std::uint32_t id = new_node(Op::constant);
  nodes_[id].value = value;
  nodes_[id].label = std::move(label);
  return finish(id);
}

template <class T>
Var<T> Tape<T>::constant(Array<T>&& value, std::string label) {
  std::uint32_t id = new_node(Op::constant);
  nodes_[id].value = std::move(value);
  nodes_[id].label = std::move(label);
  return finish(id);
}

template <class T>
Var<T> Tape<T>::constant_view(const Array<T>& value, std::string label) {
  std::uint32_t id = new_node(Op::constant);
  nodes_[id].ext_value = &value;  // read in place: the caller keeps it alive until clear()
  nodes_[id].label = std::move(label);
  return finish(id);
}

template <class T>
Var<T> Tape<T>::param(Param<T>& p) {
  std::uint32_t id = new_node(Op::param);
  Node<T>& n = nodes_[id];
  n.ext_value = &p.value;  // read in place: parameters do not change during a step
  n.param = &p;
  n.needs_grad = recording_;
  // A handful of parameters per model: a linear search costs less than a hash, and allocates
  // nothing once the vector has its capacity.
  if (std::find(params_.begin(), params_.end(), &p) == params_.end()) {
    params_.push_back(&p);
    n.first_use = true;
  }
  if (p.grad.shape() != p.value.shape()) p.grad = xt::zeros<T>(p.value.shape());
  return finish(id);
}

template <class T>
std::uint32_t Tape<T>::push(Op op, std::initializer_list<Var<T>> inputs, BackwardFn<T> backward) {
  const char* name = op_name(op).data();
  bool any = false;
  for (const Var<T>& v : inputs) {
    check(v, name);
    any = any || nodes_[v.index()].needs_grad;
  }
  std::uint32_t id = new_node(op);
  Node<T>& n = nodes_[id];
  for (const Var<T>& v : inputs) n.in.push_back(v.index());  // kept for print/DOT and backward
  if (recording_ && any) {
    n.needs_grad = true;
    n.backward = backward;
  }
  return id;
}

template <class T>
std::uint32_t Tape<T>::push(Op op, const std::vector<Var<T>>& inputs, BackwardFn<T> backward) {
  const char* name = op_name(op).data();
  bool any = false;
  for (const Var<T>& v : inputs) {
    check(v, name);
    any = any || nodes_[v.index()].needs_grad;
  }
  std::uint32_t id = new_node(op);
  Node<T>& n = nodes_[id];
  for (const Var<T>& v : inputs) n.in.push_back(v.index());
  if (recording_ && any) {
    n.needs_grad = true;
    n.backward = backward;
  }
  return id;
}

template <class T>
Var<T> Tape<T>::finish(std::uint32_t id) {
  if (anomaly_) check_finite_forward(id);
  return Var<T>(this, id, gen_);
}

template <class T>
void Tape<T>::clear() {
  n_ = 0;
  params_.clear();
  ++gen_;
}

// ---- the reverse sweep ----------------------------------------------------------------------------

template <class T>
void Tape<T>::backward(const Var<T>& loss) {
  backward_from(loss, nullptr, nullptr);
}

template <class T>
void Tape<T>::backward(const Var<T>& loss, const ParamReady& ready) {
  backward_from(loss, nullptr, &ready);
}

template <class T>
void Tape<T>::backward(const Var<T>& y, const Array<T>& seed) {
  backward_from(y, &seed, nullptr);
}

template <class T>
void Tape<T>::backward_from(const Var<T>& y, const Array<T>* seed, const ParamReady* ready) {
  check(y, "backward");
  const std::uint32_t last = y.index();
  Node<T>& top = nodes_[last];
  const auto& shape = top.val().shape();
  if (!seed && top.val().size() != 1)
    throw AutogradError(fmt::format(
        "backward: the loss {} is not a scalar; reduce it with sum() or mean(), or call "
        "backward(y, seed) with a seed of shape {}",
        describe(last), shape_str(shape)));
  if (seed && seed->shape() != shape)
    throw AutogradError(fmt::format("backward: the seed has shape {} but y {} has shape {}",
                                    shape_str(seed->shape()), describe(last), shape_str(shape)));
  for (std::size_t i = 0; i <= last; ++i) nodes_[i].has_grad = false;  // a fresh sweep
  if (!top.needs_grad) return;  // nothing on the path requires a gradient
  // TASK 2.1 backward_from: seed dy/dy = 1 (or the given vector) into y's gradient (a parameter's: added)
  // Seed dy/dy = 1 (or the given vector), then walk back.
  Array<T>& g = top.param ? top.param->grad : top.grad;
  if (seed) {
    if (top.param) g += *seed; else g = *seed;
  } else {
    if (top.param) g += T(1); else g = xt::ones<T>(shape);
  }
  if (!top.param) top.has_grad = true;
  // END TASK
  sweep(last, ready);
}

template <class T>
void Tape<T>::sweep(std::uint32_t last, const ParamReady* ready) {
  // TASK 2.1 sweep: for i = last, …, 0: a node whose gradient was reached calls its backward
  // Creation order is topological: every input of node i has an index below i.
  for (std::size_t i = last + 1; i-- > 0;) {
    Node<T>& n = nodes_[i];
    if (ready && n.first_use) {  // every node that read this parameter lies behind us
      (*ready)(*n.param);
      continue;
    }
    if (!n.has_grad || !n.backward) continue;
    n.backward(*this, n);
    if (anomaly_) check_finite_backward(static_cast<std::uint32_t>(i));
  }
  // END TASK
}

template <class T>
Array<T>& Tape<T>::grad_dest(std::uint32_t id, T& beta) {
  Node<T>& p = nodes_[id];
  if (p.param) {
    beta = T(1);
    return p.param->grad;
  }
  if (!p.has_grad) {
    p.grad.resize(p.val().shape());  // no allocation when the shape is the same as last step
    p.has_grad = true;
    beta = T(0);
  } else {
    beta = T(1);
  }
  return p.grad;
}

template <class T>
void Tape<T>::throw_grad_shape(std::uint32_t id, const Shape& got) const {
  throw AutogradError(fmt::format("internal: a gradient of shape {} was accumulated into {}",
                                  shape_str(got), describe(id)));
}

// ---- anomaly mode ---------------------------------------------------------------------------------

namespace {
template <class T>
std::ptrdiff_t first_nonfinite(const Array<T>& a) {
  const T* p = a.data();
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!std::isfinite(p[i])) return static_cast<std::ptrdiff_t>(i);
  return -1;
}
}  // namespace

template <class T>
void Tape<T>::check_finite_forward(std::uint32_t id) const {
  const Node<T>& n = nodes_[id];
  std::ptrdiff_t k = first_nonfinite(n.val());
  if (k < 0) return;
  std::string ins;
  for (std::uint32_t j : n.in) ins += (ins.empty() ? "" : ", ") + describe(j);
  throw AnomalyError(fmt::format(
      "anomaly: forward of op '{}' at tape position {} produced {} at element {} of its value {} "
      "(inputs: {})",
      op_name(n.op), id, static_cast<double>(n.val().data()[k]), k, shape_str(n.val().shape()),
      ins.empty() ? "none" : ins));
}

template <class T>
void Tape<T>::check_finite_backward(std::uint32_t id) const {
  const Node<T>& n = nodes_[id];
  for (std::size_t j = 0; j < n.in.size(); ++j) {
    const Node<T>& p = nodes_[n.in[j]];
    const Array<T>* g = p.param ? &p.param->grad : (p.has_grad ? &p.grad : nullptr);
    if (!g) continue;
    std::ptrdiff_t k = first_nonfinite(*g);
    if (k < 0) continue;
    throw AnomalyError(fmt::format(
        "anomaly: backward of op '{}' at tape position {} produced {} at element {} of the "
        "gradient of its input {} ({})",
        op_name(n.op), id, static_cast<double>(g->data()[k]), k, j, describe(n.in[j])));
  }
}

// ---- printing and DOT -----------------------------------------------------------------------------

namespace {
template <class T>
std::string brief(const Array<T>& a, std::size_t max_items = 6) {
  std::string s = "{";
  const std::size_t n = std::min(a.size(), max_items);
  for (std::size_t i = 0; i < n; ++i) s += fmt::format("{}{:.6g}", i ? ", " : "", static_cast<double>(a.data()[i]));
  if (a.size() > n) s += ", …";
  return s + "}";
}
}  // namespace

template <class T>
std::string Tape<T>::print(bool with_values) const {
  std::ostringstream os;
  for (std::size_t i = 0; i < n_; ++i) {
    const Node<T>& n = nodes_[i];
    std::string args;
    for (std::uint32_t j : n.in) args += fmt::format("{}#{}", args.empty() ? "" : ", ", j);
    std::string name = n.param ? n.param->name : n.label;
    os << fmt::format("#{:<3} {:<12} {:<14} {:<10}", i,
                      std::string(op_name(n.op)) + (args.empty() ? "" : "(" + args + ")"),
                      name.empty() ? "" : name, shape_str(n.val().shape()));
    if (with_values) {
      os << " value " << brief(n.val());
      const Array<T>* g = n.param ? &n.param->grad : (n.has_grad ? &n.grad : nullptr);
      if (g) os << "  grad " << brief(*g);
    }
    const OpInfo& row = op_info(n.op);  // the formula, from the one table (autograd/op_table.hpp)
    os << fmt::format("\n       {}    {}\n", row.forward, row.backward);
  }
  return os.str();
}

template <class T>
std::string Tape<T>::to_dot() const {
  std::ostringstream os;
  os << "digraph tape {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=11];\n";
  for (std::size_t i = 0; i < n_; ++i) {
    const Node<T>& n = nodes_[i];
    std::string name = n.param ? n.param->name : n.label;
    std::string label = fmt::format("#{} {}{}\\n{}", i, op_name(n.op), name.empty() ? "" : " " + name,
                                    shape_str(n.val().shape()));
    if (n.val().size() == 1) label += fmt::format("\\n= {:.6g}", static_cast<double>(*n.val().data()));
    const char* style = "shape=box, style=rounded";
    if (n.op == Op::param) style = "shape=box, style=filled, fillcolor=\"#cfe2f3\"";
    else if (n.op == Op::leaf) style = "shape=box, style=filled, fillcolor=\"#d9ead3\"";
    else if (n.op == Op::constant) style = "shape=box, style=dashed";
    os << fmt::format("  n{} [label=\"{}\", {}];\n", i, label, style);
    for (std::uint32_t j : n.in) os << fmt::format("  n{} -> n{};\n", j, i);
  }
  os << "}\n";
  return os.str();
}

std::string op_table_text() {
  std::string out;
  std::string_view group;
  for (const OpInfo& row : kOps) {
    if (row.group != group) {
      group = row.group;
      out += fmt::format("{}{}\n", out.empty() ? "" : "\n", group);
    }
    out += fmt::format("  {:<14}{:<42}  {}\n", row.name, row.forward, row.backward);  // two spaces at least
  }
  return out;
}

template class Var<float>;
template class Var<double>;
template class Tape<float>;
template class Tape<double>;

}  // namespace tz
