// tapezoo: shape ops. They move values; their backward moves gradients back to where each value
// came from (and adds, where one value went to several places). Each op: its kOps row as a one-line
// comment, then its forward, then its backward.
#include <algorithm>
#include <cstring>
#include <tuple>

#include "autograd/op_helpers.hpp"

namespace tz {

using detail::at_each;
using detail::AxisView;
using detail::axis_view;
using detail::axis_view_at;
using detail::GradOf;
using detail::record;
using detail::to_shape;

namespace {

// The shape that reshape's argument asks for, with its one -1 (if any) inferred from x's size.
template <class T>
Shape reshape_target(const Var<T>& x, const std::vector<std::ptrdiff_t>& shape) {
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
  return out;
}

}  // namespace

// reshape: y = x viewed as a new shape          gx += reshape(gy, shape x)
template <class T>
Var<T> reshape(const Var<T>& x, const std::vector<std::ptrdiff_t>& shape) {
  const Shape out = reshape_target(x, shape);
  return record<T>(Op::reshape, {x},
      [&](Tape<T>& t, Node<T>& n) {
        const Array<T>& x = t.val(n.in[0]);
        n.value.resize(out);
        std::memcpy(n.value.data(), x.data(), x.size() * sizeof(T));
      },
      [](Tape<T>& t, Node<T>& n) {
        const T* gy = n.grad.data();
        GradOf gx(t, n.in[0]);
        gx += at_each([gy](std::size_t k) { return gy[k]; });
      });
}

// transpose: y = xᵀ (2-D)                       gx += gyᵀ
template <class T>
Var<T> transpose(const Var<T>& x) {
  if (x.dim() != 2) throw AutogradError(fmt::format("transpose: expected a 2-D input, got {}", shape_str(x.shape())));
  return record<T>(Op::transpose, {x},
      [](Tape<T>& t, Node<T>& n) { n.value = xt::transpose(t.val(n.in[0])); },
      [](Tape<T>& t, Node<T>& n) {
        const Array<T>& gy = n.grad;
        GradOf gx(t, n.in[0]);
        gx += xt::transpose(gy);
      });
}

// concat: y = [x1, x2, …] along axis            gx_i += the slice of gy that x_i filled
// saved.offsets holds where each input starts along the axis.
template <class T>
Var<T> concat(const std::vector<Var<T>>& xs, int axis) {
  if (xs.empty()) throw AutogradError("concat: no inputs");
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
  return record<T>(Op::concat, xs,
      [&](Tape<T>& t, Node<T>& n) {
        n.saved.axis = ax;
        n.value.resize(out);
        const AxisView vy = axis_view_at(out, ax);
        std::size_t off = 0;
        for (std::uint32_t id : n.in) {
          n.saved.offsets.push_back(off);  // keeps its capacity across steps
          const Array<T>& x = t.val(id);
          const AxisView vx = axis_view_at(x.shape(), ax);
          for (std::size_t a = 0; a < vx.outer; ++a)
            std::memcpy(n.value.data() + (a * vy.n + off) * vy.inner, x.data() + a * vx.n * vx.inner,
                        vx.n * vx.inner * sizeof(T));
          off += vx.n;
        }
      },
      [](Tape<T>& t, Node<T>& n) {
        const T* gy = n.grad.data();
        const AxisView vy = axis_view_at(n.value.shape(), n.saved.axis);
        for (std::size_t k = 0; k < n.in.size(); ++k) {
          const std::size_t off = n.saved.offsets[k];
          const AxisView vx = axis_view_at(t.val(n.in[k]).shape(), n.saved.axis);
          GradOf gx(t, n.in[k]);
          gx += at_each([&](std::size_t q) {
            const std::size_t j = q % vx.inner, i = (q / vx.inner) % vx.n, a = q / (vx.n * vx.inner);
            return gy[(a * vy.n + off + i) * vy.inner + j];
          });
        }
      });
}

// narrow: y = x[start : start+len] along axis   gx[start : start+len] += gy
// 0 elsewhere.
template <class T>
Var<T> narrow(const Var<T>& x, int axis, std::size_t start, std::size_t length) {
  const AxisView v = axis_view("narrow", x.shape(), axis);
  if (start + length > v.n)
    throw AutogradError(fmt::format("narrow: [{}, {}) is outside axis {} of {} (length {})", start,
                                    start + length, v.axis, shape_str(x.shape()), v.n));
  return record<T>(Op::narrow, {x},
      [&](Tape<T>& t, Node<T>& n) {
        const Array<T>& x = t.val(n.in[0]);
        n.saved.axis = v.axis;
        n.saved.start = start;
        n.saved.length = length;
        Shape out = to_shape(x.shape());
        out[v.axis] = length;
        n.value.resize(out);
        for (std::size_t a = 0; a < v.outer; ++a)
          std::memcpy(n.value.data() + a * length * v.inner, x.data() + (a * v.n + start) * v.inner,
                      length * v.inner * sizeof(T));
      },
      [](Tape<T>& t, Node<T>& n) {
        if (!t.wants_grad(n.in[0])) return;
        const T* gy = n.grad.data();
        const AxisView v = axis_view_at(t.val(n.in[0]).shape(), n.saved.axis);
        const std::size_t start = n.saved.start, len = n.saved.length;
        T beta;
        T* gx = t.grad_dest(n.in[0], beta).data();
        // block a of gx (v.n·inner elements) gets block a of gy (len·inner) at offset start·inner,
        // by whole rows, not element by element with a division each (the SSVAE's [1000, 128] heads)
        const std::size_t block = v.n * v.inner, from = start * v.inner, width = len * v.inner;
        for (std::size_t a = 0; a < v.outer; ++a) {
          T* dst = gx + a * block;
          const T* src = gy + a * width;
          if (beta == T(0)) {
            std::fill(dst, dst + from, T(0));
            std::copy(src, src + width, dst + from);
            std::fill(dst + from + width, dst + block, T(0));
          } else {
            for (std::size_t q = 0; q < width; ++q) dst[from + q] += src[q];
          }
        }
      });
}

// gather_rows: y_i = x[idx_i]                   gx[idx_i] += gy_i   (scatter-add)
// Rows along axis 0; a row picked twice gets both. saved.rows holds idx.
template <class T>
Var<T> gather_rows(const Var<T>& x, const std::vector<std::size_t>& idx) {
  if (x.dim() == 0) throw AutogradError("gather_rows: expected an input with at least one axis");
  const std::size_t rows = x.shape()[0], width = rows ? x.size() / rows : 0;
  for (std::size_t r : idx)
    if (r >= rows)
      throw AutogradError(fmt::format("gather_rows: index {} is out of range for {} ({} rows)", r,
                                      shape_str(x.shape()), rows));
  return record<T>(Op::gather_rows, {x},
      [&](Tape<T>& t, Node<T>& n) {
        const Array<T>& x = t.val(n.in[0]);
        n.saved.rows.assign(idx.begin(), idx.end());  // keeps its capacity across steps
        Shape out = to_shape(x.shape());
        out[0] = idx.size();
        n.value.resize(out);
        for (std::size_t i = 0; i < idx.size(); ++i)
          std::memcpy(n.value.data() + i * width, x.data() + idx[i] * width, width * sizeof(T));
      },
      [](Tape<T>& t, Node<T>& n) {
        const T* gy = n.grad.data();
        const std::vector<std::size_t>& idx = n.saved.rows;
        if (!t.wants_grad(n.in[0])) return;
        T beta;
        Array<T>& gx = t.grad_dest(n.in[0], beta);  // scatter-add: zero it first on the first contribution
        if (beta == T(0)) gx.fill(T(0));
        const std::size_t width = idx.empty() ? 0 : n.grad.size() / idx.size();
        for (std::size_t i = 0; i < idx.size(); ++i)
          for (std::size_t c = 0; c < width; ++c) gx.data()[idx[i] * width + c] += gy[i * width + c];
      });
}

// tile: y = [x; x; …; x] (k copies on axis 0)   gx += Σ_copies gy
// IWAE's k samples per example. saved.copies holds k.
template <class T>
Var<T> tile(const Var<T>& x, std::size_t k) {
  if (x.dim() == 0) throw AutogradError("tile: expected an input with at least one axis");
  if (k == 0) throw AutogradError("tile: k must be at least 1");
  return record<T>(Op::tile, {x},
      [k](Tape<T>& t, Node<T>& n) {
        const Array<T>& x = t.val(n.in[0]);
        n.saved.copies = k;
        Shape out = to_shape(x.shape());
        out[0] *= k;
        n.value.resize(out);
        const std::size_t m = x.size();
        for (std::size_t c = 0; c < k; ++c) std::memcpy(n.value.data() + c * m, x.data(), m * sizeof(T));
      },
      [](Tape<T>& t, Node<T>& n) {
        const T* gy = n.grad.data();
        const std::size_t m = t.val(n.in[0]).size(), k = n.saved.copies;
        GradOf gx(t, n.in[0]);
        gx += at_each([=](std::size_t q) {
          T s = 0;
          for (std::size_t c = 0; c < k; ++c) s += gy[c * m + q];
          return s;
        });
      });
}

// broadcast_to: y = x broadcast to a shape      gx += sum_to(gy, shape x)
template <class T>
Var<T> broadcast_to(const Var<T>& x, const Shape& shape) {
  const Shape b = broadcast_shape("broadcast_to", to_shape(x.shape()), shape);
  if (b != shape)
    throw AutogradError(fmt::format("broadcast_to: {} cannot be broadcast to {}", shape_str(x.shape()),
                                    shape_str(shape)));
  return record<T>(Op::broadcast_to, {x},
      [&](Tape<T>& t, Node<T>& n) {
        n.value.resize(shape);
        n.value = xt::broadcast(t.val(n.in[0]), shape);
      },
      [](Tape<T>& t, Node<T>& n) {
        const Array<T>& gy = n.grad;
        detail::SumToGrad gx(t, n.in[0]);  // sum_to(·, shape x)
        gx += gy;
      });
}

// detach: y = x, cut from the graph             none
// A constant with x's value: no inputs, no backward, so no gradient flows back.
template <class T>
Var<T> detach(const Var<T>& x) {
  Tape<T>& t = x.tape();
  t.check(x, "detach");
  const std::uint32_t id = t.push(Op::detach, std::vector<Var<T>>{}, nullptr);
  t.node(id).value = t.val(x);
  return t.finish(id);
}

// ---- for float (training) and double (gradient checks): autograd/op_helpers.hpp -------------------
// Every op of this file, once; a new op's address goes here too.
template <class T>
auto shape_ops() {
  return std::tuple{&reshape<T>, &transpose<T>, &concat<T>, &narrow<T>, &gather_rows<T>, &tile<T>,
                    &broadcast_to<T>, &detach<T>};
}
template auto shape_ops<float>();
template auto shape_ops<double>();
static_assert(std::tuple_size_v<decltype(shape_ops<float>())> == ops_in_groups({"shape"}),
              "ops_shape.cpp: shape_ops() must list every op of the group 'shape' in kOps, once: add the "
              "new op's address to it");

}  // namespace tz
