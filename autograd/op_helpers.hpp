// tapezoo: small helpers shared by the op files (autograd/ops_*.cpp). Not part of the public API.
//
// Every op is written in one shape, forward first, then backward, under its formula comment:
//
//   // log: y = log x                           gx += gy / x
//   template <class T>
//   Var<T> log(const Var<T>& x) {
//     return unary<T>(Op::log, x,
//         [](Array<T>& y, const Array<T>& x) { xt::noalias(y) = xt::log(x); },   // forward
//         [](Tape<T>& t, Node<T>& n) {                                            // backward
//           const Array<T>& gy = n.grad;
//           const Array<T>& x = t.val(n.in[0]);
//           GradOf gx(t, n.in[0]);
//           gx += gy / x;
//         });
//   }
//
// unary and binary are for elementwise ops; record is the general form, whose forward fills the
// node (n.value, and n.saved for what the backward needs) from its inputs.
#pragma once

#include <tuple>

#include <fmt/format.h>

#include "autograd/ops.hpp"

namespace tz::detail {

// A row-major array seen as [outer, n, inner] around one axis: element (o, i, j) sits at
// o·n·inner + i·inner + j. Reductions and normalisations along any axis are loops over this.
struct AxisView {
  std::size_t outer = 1, n = 1, inner = 1;
  std::size_t axis = 0;
};

inline std::size_t normalize_axis(const char* op, int axis, std::size_t dim) {
  const int d = static_cast<int>(dim);
  if (axis < -d || axis >= d)
    throw AutogradError(fmt::format("{}: axis {} is out of range for a {}-D input", op, axis, dim));
  return static_cast<std::size_t>(axis < 0 ? axis + d : axis);
}

// The view around an axis that is already normalised (0 ≤ axis < rank), such as Saved::axis.
template <class S>
AxisView axis_view_at(const S& shape, std::size_t axis) {
  AxisView v;
  v.axis = axis;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i < v.axis) v.outer *= shape[i];
    else if (i == v.axis) v.n = shape[i];
    else v.inner *= shape[i];
  }
  return v;
}

// The view around a user's axis (negative counts from the end); throws naming op if out of range.
template <class S>
AxisView axis_view(const char* op, const S& shape, int axis) {
  return axis_view_at(shape, normalize_axis(op, axis, shape.size()));
}

// The shape with `axis` removed (or kept as 1).
template <class S>
Shape reduced_shape(const S& shape, std::size_t axis, bool keepdims) {
  Shape out;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i != axis) out.push_back(shape[i]);
    else if (keepdims) out.push_back(1);
  }
  return out;
}

template <class S>
Shape to_shape(const S& s) {
  return Shape(s.begin(), s.end());
}

// ---- accumulating into an input's gradient --------------------------------------------------------

// Writes a gradient element by element: g[i] = f(i) for the first contribution, g[i] += f(i)
// after. For ops whose backward is a loop (reductions, shape ops).
template <class T, class F>
void accumulate_loop(Tape<T>& t, std::uint32_t id, F&& f) {
  if (!t.wants_grad(id)) return;
  T beta;
  Array<T>& g = t.grad_dest(id, beta);
  T* p = g.data();
  const std::size_t n = g.size();
  if (beta == T(0))
    for (std::size_t i = 0; i < n; ++i) p[i] = f(i);
  else
    for (std::size_t i = 0; i < n; ++i) p[i] += f(i);
}

// Accumulates a gradient computed at the output's (broadcast) shape into input id, reducing it to
// the input's shape with sum_to when broadcasting stretched the input. The one home of
// broadcasting in backward.
template <class T, class E>
void accumulate_sum_to(Tape<T>& t, std::uint32_t id, const E& g) {
  if (!t.wants_grad(id)) return;
  const auto& want = t.val(id).shape();
  const auto& got = g.shape();
  if (got.size() == want.size() && std::equal(got.begin(), got.end(), want.begin())) {
    t.accumulate(id, g);
  } else {
    Array<T> full = g;
    t.accumulate(id, sum_to(full, to_shape(want)));
  }
}

// `gx += at_each(f)`: element k of the gradient receives f(k).
template <class F>
struct AtEach {
  F f;
};
template <class F>
AtEach<F> at_each(F f) {
  return {std::move(f)};
}

// gx, the gradient of one input, as the table writes it: `gx += e` adds e (an array or expression of
// the input's shape) to it, `gx += at_each(f)` adds f(k) to element k. The first contribution of a
// sweep assigns, later ones add (Tape::accumulate); nothing happens if the input wants no gradient.
template <class T>
struct GradOf {
  Tape<T>& t;
  std::uint32_t id;
  GradOf(Tape<T>& tape, std::uint32_t input) : t(tape), id(input) {}
  bool wanted() const { return t.wants_grad(id); }
  template <class E>
  void operator+=(const E& e) { t.accumulate(id, e); }
  template <class F>
  void operator+=(const AtEach<F>& e) { accumulate_loop(t, id, e.f); }
};

// ga or gb of a broadcasting binary op: `ga += e` adds sum_to(e, shape of a), as in the table's
// `ga += sum_to(…)`.
template <class T>
struct SumToGrad {
  Tape<T>& t;
  std::uint32_t id;
  SumToGrad(Tape<T>& tape, std::uint32_t input) : t(tape), id(input) {}
  bool wanted() const { return t.wants_grad(id); }
  template <class E>
  void operator+=(const E& e) { accumulate_sum_to(t, id, e); }
};

// ---- recording an op: forward first, then backward ------------------------------------------------

// The general form: pushes the node, runs forward(t, n) to fill n.value (and n.saved) from the
// inputs n.in, and returns the result. backward(t, n) runs later, in the reverse sweep.
template <class T, class Forward>
Var<T> record(Op op, std::initializer_list<Var<T>> inputs, Forward&& forward, BackwardFn<T> backward) {
  Tape<T>& t = inputs.begin()->tape();
  const std::uint32_t id = t.push(op, inputs, backward);
  forward(t, t.node(id));
  return t.finish(id);
}

template <class T, class Forward>
Var<T> record(Op op, const std::vector<Var<T>>& inputs, Forward&& forward, BackwardFn<T> backward) {
  Tape<T>& t = inputs.front().tape();
  const std::uint32_t id = t.push(op, inputs, backward);
  forward(t, t.node(id));
  return t.finish(id);
}

// An elementwise op of one input: forward(y, x) fills y. Forwards assign with xt::noalias: y is
// this node's own buffer, never read by the expression, so xtensor need not build a temporary
// (which cost half the time of a tiny op).
template <class T, class Forward>
Var<T> unary(Op op, const Var<T>& x, Forward&& forward, BackwardFn<T> backward) {
  Tape<T>& t = x.tape();
  const std::uint32_t id = t.push(op, {x}, backward);
  forward(t.node(id).value, t.val(x));
  return t.finish(id);
}

// An elementwise op of two inputs, broadcast by NumPy's rules: forward(y, a, b) fills y, which has
// the broadcast shape.
template <class T, class Forward>
Var<T> binary(Op op, const Var<T>& a, const Var<T>& b, Forward&& forward, BackwardFn<T> backward) {
  Tape<T>& t = a.tape();
  const char* name = op_name(op).data();
  const Shape out = broadcast_shape(name, to_shape(a.shape()), to_shape(b.shape()));
  const std::uint32_t id = t.push(op, {a, b}, backward);
  Node<T>& n = t.node(id);
  n.value.resize(out);
  forward(n.value, t.val(a), t.val(b));
  return t.finish(id);
}

// ---- y = x @ W + b, for linear (ops_linalg.cpp) and linear_elu (ops_fused.cpp) ---------------------
// Defined in ops_linalg.cpp for float and double, so that the fused op runs the very same products.

// Throws AutogradError naming op unless x [n,in], W [in,out], b [out] or [1,out].
template <class T> void check_linear(const char* op, const Var<T>& x, const Var<T>& W, const Var<T>& b);
// n.value = x @ W + b from the node's inputs (x, W, b): the bias copied in, then one gemm with beta = 1.
template <class T> void linear_forward(Tape<T>& t, Node<T>& n);
// Given gy [n,out] at y = x @ W + b: gx += gy @ Wᵀ, gW += xᵀ @ gy, gb += Σ_rows gy.
template <class T> void linear_backward(Tape<T>& t, const Node<T>& n, const T* gy);

// ---- for float (training) and double (gradient checks) --------------------------------------------

// The op functions are templates defined in the .cpp files, so the compiler emits them only for
// the types it is asked for there. Each ops_*.cpp ends with one list of its ops' addresses,
//   template <class T> auto elementwise_ops() { return std::tuple{&neg<T>, &log<T>, …}; }
// instantiated for float and double: that asks for every op of the file at once, and a
// static_assert (with ops_in_groups, autograd/op_table.hpp) checks the list against the file's
// groups in kOps, so an op missing from it is a compile error naming the file, not an undefined
// reference at link time.

}  // namespace tz::detail
