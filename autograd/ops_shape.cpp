// tapezoo: shape ops. They move values; their backward moves gradients back to where each value
// came from (and adds, where one value went to several places).
#include <cstring>

#include "autograd/op_helpers.hpp"

namespace tz {

using detail::accumulate_loop;
using detail::AxisView;
using detail::axis_view;
using detail::to_shape;

// y = x viewed as a new shape      gx += reshape(gy, shape x)
template <class T>
Var<T> reshape(const Var<T>& x, const std::vector<std::ptrdiff_t>& shape) {
  Tape<T>& t = x.tape();
  Shape out(shape.size());
  std::size_t known = 1;
  int infer = -1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) throw AutogradError("reshape: at most one dimension may be -1");
      infer = static_cast<int>(i);
    } else if (shape[i] < 0) {
      throw AutogradError(fmt::format("reshape: dimension {} is {}; expected >= 0 or -1", i, shape[i]));
    } else {
      out[i] = static_cast<std::size_t>(shape[i]);
      known *= out[i];
    }
  }
  if (infer >= 0) out[static_cast<std::size_t>(infer)] = known ? x.size() / known : 0;
  std::size_t total = 1;
  for (auto d : out) total *= d;
  if (total != x.size()) {
    std::string want = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) want += (i ? "," : "") + std::to_string(shape[i]);
    throw AutogradError(fmt::format("reshape: cannot view {} ({} elements) as {}",
                                    shape_str(x.shape()), x.size(), want + "]"));
  }
  const std::uint32_t id = t.push(Op::reshape, {x}, [](Tape<T>& t, Node<T>& n) {
    const T* gy = n.grad.data();
    accumulate_loop(t, n.in[0], [gy](std::size_t k) { return gy[k]; });
  });
  Node<T>& n = t.node(id);
  n.value.resize(out);
  std::memcpy(n.value.data(), t.val(x).data(), x.size() * sizeof(T));
  return t.finish(id);
}

// y = xᵀ (2-D)                    gx += gyᵀ
template <class T>
Var<T> transpose(const Var<T>& x) {
  Tape<T>& t = x.tape();
  if (x.dim() != 2) throw AutogradError(fmt::format("transpose: expected a 2-D input, got {}", shape_str(x.shape())));
  const std::uint32_t id = t.push(Op::transpose, {x}, [](Tape<T>& t, Node<T>& n) {
    t.accumulate(n.in[0], xt::transpose(n.grad));
  });
  t.node(id).value = xt::transpose(t.val(x));
  return t.finish(id);
}

// y = [x1, x2, …] along axis      gx_i += the slice of gy that x_i filled
// aux holds the offset of each input along the axis.
template <class T>
Var<T> concat(const std::vector<Var<T>>& xs, int axis) {
  if (xs.empty()) throw AutogradError("concat: no inputs");
  Tape<T>& t = xs[0].tape();
  const auto& s0 = xs[0].shape();
  const std::size_t ax = detail::normalize_axis("concat", axis, s0.size());
  Shape out = to_shape(s0);
  out[ax] = 0;
  for (std::size_t k = 0; k < xs.size(); ++k) {
    const auto& s = xs[k].shape();
    bool ok = s.size() == s0.size();
    for (std::size_t d = 0; ok && d < s.size(); ++d) ok = d == ax || s[d] == s0[d];
    if (!ok)
      throw AutogradError(fmt::format("concat: input {} has shape {}, which does not match input 0's {} "
                                      "outside axis {}", k, shape_str(s), shape_str(s0), ax));
    out[ax] += s[ax];
  }
  const std::uint32_t id = t.push(Op::concat, xs, [](Tape<T>& t, Node<T>& n) {
    const AxisView vy = axis_view("concat", n.value.shape(), static_cast<int>(n.c0));
    for (std::size_t k = 0; k < n.in.size(); ++k) {
      const std::size_t off = n.aux[k];
      const AxisView vx = axis_view("concat", t.val(n.in[k]).shape(), static_cast<int>(n.c0));
      const T* gy = n.grad.data();
      accumulate_loop(t, n.in[k], [&](std::size_t q) {
        const std::size_t j = q % vx.inner, i = (q / vx.inner) % vx.n, a = q / (vx.n * vx.inner);
        return gy[(a * vy.n + off + i) * vy.inner + j];
      });
    }
  });
  Node<T>& n = t.node(id);
  n.c0 = static_cast<double>(ax);
  n.value.resize(out);
  const AxisView vy = axis_view("concat", out, static_cast<int>(ax));
  std::size_t off = 0;
  for (const Var<T>& x : xs) {
    n.aux.push_back(off);
    const AxisView vx = axis_view("concat", x.shape(), static_cast<int>(ax));
    const T* px = t.val(x).data();
    for (std::size_t a = 0; a < vx.outer; ++a)
      std::memcpy(n.value.data() + (a * vy.n + off) * vy.inner, px + a * vx.n * vx.inner,
                  vx.n * vx.inner * sizeof(T));
    off += vx.n;
  }
  return t.finish(id);
}

// y = x[start : start+len] along axis      gx[start : start+len] += gy, 0 elsewhere
template <class T>
Var<T> narrow(const Var<T>& x, int axis, std::size_t start, std::size_t length) {
  Tape<T>& t = x.tape();
  const AxisView v = axis_view("narrow", x.shape(), axis);
  if (start + length > v.n)
    throw AutogradError(fmt::format("narrow: [{}, {}) is outside axis {} of {} (length {})", start,
                                    start + length, v.axis, shape_str(x.shape()), v.n));
  const std::uint32_t id = t.push(Op::narrow, {x}, [](Tape<T>& t, Node<T>& n) {
    const AxisView v = axis_view("narrow", t.val(n.in[0]).shape(), static_cast<int>(n.c0));
    const std::size_t start = n.aux[0], len = n.aux[1];
    const T* gy = n.grad.data();
    accumulate_loop(t, n.in[0], [&](std::size_t q) {
      const std::size_t j = q % v.inner, i = (q / v.inner) % v.n, a = q / (v.n * v.inner);
      return (i >= start && i < start + len) ? gy[(a * len + i - start) * v.inner + j] : T(0);
    });
  });
  Node<T>& n = t.node(id);
  n.c0 = static_cast<double>(v.axis);
  n.aux = {start, length};
  Shape out = to_shape(x.shape());
  out[v.axis] = length;
  n.value.resize(out);
  const T* px = t.val(x).data();
  for (std::size_t a = 0; a < v.outer; ++a)
    std::memcpy(n.value.data() + a * length * v.inner, px + (a * v.n + start) * v.inner,
                length * v.inner * sizeof(T));
  return t.finish(id);
}

// y_i = x[idx_i] (rows, axis 0)    gx[idx_i] += gy_i   (scatter-add: a row picked twice gets both)
template <class T>
Var<T> gather_rows(const Var<T>& x, const std::vector<std::size_t>& idx) {
  Tape<T>& t = x.tape();
  if (x.dim() == 0) throw AutogradError("gather_rows: expected an input with at least one axis");
  const std::size_t rows = x.shape()[0], width = rows ? x.size() / rows : 0;
  for (std::size_t r : idx)
    if (r >= rows)
      throw AutogradError(fmt::format("gather_rows: index {} is out of range for {} ({} rows)", r,
                                      shape_str(x.shape()), rows));
  const std::uint32_t id = t.push(Op::gather_rows, {x}, [](Tape<T>& t, Node<T>& n) {
    if (!t.wants_grad(n.in[0])) return;
    T beta;
    Array<T>& gx = t.grad_dest(n.in[0], beta);
    if (beta == T(0)) gx.fill(T(0));
    const std::size_t width = n.aux.empty() ? 0 : n.grad.size() / n.aux.size();
    for (std::size_t i = 0; i < n.aux.size(); ++i)
      for (std::size_t c = 0; c < width; ++c) gx.data()[n.aux[i] * width + c] += n.grad.data()[i * width + c];
  });
  Node<T>& n = t.node(id);
  n.aux = idx;
  Shape out = to_shape(x.shape());
  out[0] = idx.size();
  n.value.resize(out);
  const T* px = t.val(x).data();
  for (std::size_t i = 0; i < idx.size(); ++i)
    std::memcpy(n.value.data() + i * width, px + idx[i] * width, width * sizeof(T));
  return t.finish(id);
}

// y = [x; x; …; x], k copies stacked on axis 0 (IWAE's k samples per example)
// gx += Σ_copies gy
template <class T>
Var<T> tile(const Var<T>& x, std::size_t k) {
  Tape<T>& t = x.tape();
  if (x.dim() == 0) throw AutogradError("tile: expected an input with at least one axis");
  if (k == 0) throw AutogradError("tile: k must be at least 1");
  const std::uint32_t id = t.push(Op::tile, {x}, [](Tape<T>& t, Node<T>& n) {
    const std::size_t m = t.val(n.in[0]).size(), k = n.aux[0];
    const T* gy = n.grad.data();
    accumulate_loop(t, n.in[0], [=](std::size_t q) {
      T s = 0;
      for (std::size_t c = 0; c < k; ++c) s += gy[c * m + q];
      return s;
    });
  });
  Node<T>& n = t.node(id);
  n.aux = {k};
  Shape out = to_shape(x.shape());
  out[0] *= k;
  n.value.resize(out);
  const std::size_t m = x.size();
  for (std::size_t c = 0; c < k; ++c) std::memcpy(n.value.data() + c * m, t.val(x).data(), m * sizeof(T));
  return t.finish(id);
}

// y = x broadcast to shape         gx += sum_to(gy, shape x)
template <class T>
Var<T> broadcast_to(const Var<T>& x, const Shape& shape) {
  Tape<T>& t = x.tape();
  const Shape b = broadcast_shape("broadcast_to", to_shape(x.shape()), shape);
  if (b != shape)
    throw AutogradError(fmt::format("broadcast_to: {} cannot be broadcast to {}", shape_str(x.shape()),
                                    shape_str(shape)));
  const std::uint32_t id = t.push(Op::broadcast_to, {x}, [](Tape<T>& t, Node<T>& n) {
    detail::accumulate_sum_to(t, n.in[0], n.grad);
  });
  Node<T>& n = t.node(id);
  n.value.resize(shape);
  n.value = xt::broadcast(t.val(x), shape);
  return t.finish(id);
}

// y = x, cut from the graph: a constant with x's value (no gradient flows back)
template <class T>
Var<T> detach(const Var<T>& x) {
  Tape<T>& t = x.tape();
  t.check(x, "detach");
  const std::uint32_t id = t.push(Op::detach, std::vector<Var<T>>{}, nullptr);
  t.node(id).value = t.val(x);
  return t.finish(id);
}

template Var<float> reshape(const Var<float>&, const std::vector<std::ptrdiff_t>&);
template Var<double> reshape(const Var<double>&, const std::vector<std::ptrdiff_t>&);
template Var<float> transpose(const Var<float>&);
template Var<double> transpose(const Var<double>&);
template Var<float> concat(const std::vector<Var<float>>&, int);
template Var<double> concat(const std::vector<Var<double>>&, int);
template Var<float> narrow(const Var<float>&, int, std::size_t, std::size_t);
template Var<double> narrow(const Var<double>&, int, std::size_t, std::size_t);
template Var<float> gather_rows(const Var<float>&, const std::vector<std::size_t>&);
template Var<double> gather_rows(const Var<double>&, const std::vector<std::size_t>&);
template Var<float> tile(const Var<float>&, std::size_t);
template Var<double> tile(const Var<double>&, std::size_t);
template Var<float> broadcast_to(const Var<float>&, const Shape&);
template Var<double> broadcast_to(const Var<double>&, const Shape&);
template Var<float> detach(const Var<float>&);
template Var<double> detach(const Var<double>&);

}  // namespace tz
