// tapezoo: small helpers shared by the op files (autograd/ops_*.cpp). Not part of the public API.
#pragma once

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

template <class S>
AxisView axis_view(const char* op, const S& shape, int axis) {
  AxisView v;
  v.axis = normalize_axis(op, axis, shape.size());
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i < v.axis) v.outer *= shape[i];
    else if (i == v.axis) v.n = shape[i];
    else v.inner *= shape[i];
  }
  return v;
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

}  // namespace tz::detail


namespace tz::detail {

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

}  // namespace tz::detail
