// tapezoo: the GMVAE's fused op (declared in autograd/ops_fused_gmvae.hpp). Like the engine's own
// (autograd/ops_fused.cpp), it computes what a composite of the table's plain ops computes, its
// comment names that composite, and its caller chooses between the two with tz::textbook():
// GMVAE::prior (models/gmvae.cpp) and gaussian_parameters (distributions/distributions.cpp)
// record softplus_rows or `softplus(narrow(…)) + 1e-8`.
// tests/test_fast_paths_gmvae.cpp compares the two paths. The op: its kOps row as a one-line
// comment, then its forward, then its backward. Float is vectorised with xsimd batches when the
// build defines XTENSOR_USE_XSIMD, with libm on the tail; double (gradient checks) is libm's alone.
#include <algorithm>
#include <cmath>
#include <tuple>
#include <type_traits>

#ifdef XTENSOR_USE_XSIMD
#include <xsimd/xsimd.hpp>
#endif

#include "autograd/op_helpers.hpp"
#include "autograd/ops_fused_gmvae.hpp"

namespace tz {

using detail::AxisView;
using detail::axis_view;
using detail::axis_view_at;
using detail::record;

namespace {

// y_i = softplus(x_i) + c = max(x_i, 0) + log1p(e^−|x_i|) + c, i < size: the stable form
// (docs/pitfalls.md#softplus).
template <class T>
void softplus_plus(const T* x, T* y, std::size_t size, T c) {
  std::size_t i = 0;
#ifdef XTENSOR_USE_XSIMD
  if constexpr (std::is_same_v<T, float>) {
    using B = xsimd::batch<float>;
    for (; i + B::size <= size; i += B::size) {
      const B a = B::load_unaligned(x + i);
      (xsimd::max(a, B(0.0f)) + xsimd::log1p(xsimd::exp(-xsimd::abs(a))) + B(c)).store_unaligned(y + i);
    }
  }
#endif
  for (; i < size; ++i) y[i] = std::max(x[i], T(0)) + std::log1p(std::exp(-std::abs(x[i]))) + c;
}

// g_i (+)= gy_i·σ(x_i) = gy_i / (1 + e^−x_i), i < size; added when add, else assigned. Finite for
// every x: e^−x = inf gives 0.
template <class T>
void times_sigmoid(const T* x, const T* gy, T* g, std::size_t size, bool add) {
  std::size_t i = 0;
#ifdef XTENSOR_USE_XSIMD
  if constexpr (std::is_same_v<T, float>) {
    using B = xsimd::batch<float>;
    for (; i + B::size <= size; i += B::size) {
      const B s = B::load_unaligned(gy + i) / (B(1.0f) + xsimd::exp(-B::load_unaligned(x + i)));
      (add ? B::load_unaligned(g + i) + s : s).store_unaligned(g + i);
    }
  }
#endif
  for (; i < size; ++i) {
    const T s = gy[i] / (T(1) + std::exp(-x[i]));
    g[i] = add ? g[i] + s : s;
  }
}

}  // namespace

// softplus_rows: y = softplus(x[start : start+len] along axis) + c (fused)   gx[start : start+len] += gy·sigmoid(x), 0 elsewhere
// The textbook code it replaces: softplus(narrow(x, axis, start, length)) + c (as gaussian_parameters
// writes a variance, v = softplus(h) + 1e-8), three nodes: a copy of the slice, softplus on it, and
// the floor added. Here each of the outer blocks of the slice is read in place, one pass each way.
// Not bit for bit: xsimd's exp and log1p are not libm's (each within a few ε; the float bound of
// tests/test_fast_paths_gmvae.cpp is 8ε·y forward and 8ε·|gy·σ(x)| backward), and the floor c is
// added to softplus in T as add_scalar adds it.
template <class T>
Var<T> softplus_rows(const Var<T>& x, int axis, std::size_t start, std::size_t length, double c) {
  const AxisView v = axis_view("softplus_rows", x.shape(), axis);
  if (start + length > v.n)
    throw AutogradError(fmt::format("softplus_rows: [{}, {}) is outside axis {} of {} (length {})", start,
                                    start + length, v.axis, shape_str(x.shape()), v.n));
  if (!(c >= 0)) throw AutogradError(fmt::format("softplus_rows: the floor c = {} must be 0 or more", c));
  return record<T>(Op::softplus_rows, {x},
      [&](Tape<T>& t, Node<T>& n) {
        const Array<T>& xv = t.val(n.in[0]);
        n.saved.axis = v.axis;
        n.saved.start = start;
        n.saved.length = length;
        n.saved.c = c;
        Shape out(xv.shape().begin(), xv.shape().end());
        out[v.axis] = length;
        n.value.resize(out);
        const std::size_t block = length * v.inner;
        for (std::size_t a = 0; a < v.outer; ++a)  // y's block a = softplus(x's rows [start, start+len) of block a) + c
          softplus_plus(xv.data() + (a * v.n + start) * v.inner, n.value.data() + a * block, block, static_cast<T>(c));
      },
      [](Tape<T>& t, Node<T>& n) {
        if (!t.wants_grad(n.in[0])) return;
        const T* xv = t.val(n.in[0]).data();
        const AxisView v = axis_view_at(t.val(n.in[0]).shape(), n.saved.axis);
        const std::size_t start = n.saved.start, block = n.saved.length * v.inner, whole = v.n * v.inner;
        T beta;
        T* gx = t.grad_dest(n.in[0], beta).data();
        for (std::size_t a = 0; a < v.outer; ++a) {
          const std::size_t at = a * whole + start * v.inner;  // the slice's rows of block a
          if (beta == T(0)) {  // the first contribution: 0 outside the slice
            std::fill(gx + a * whole, gx + at, T(0));
            std::fill(gx + at + block, gx + (a + 1) * whole, T(0));
          }
          times_sigmoid(xv + at, n.grad.data() + a * block, gx + at, block, beta != T(0));
        }
      });
}

// ---- for float (training) and double (gradient checks): autograd/op_helpers.hpp -------------------
// Every op of this file, once; a new op's address goes here too.
template <class T>
auto fused_gmvae_ops() {
  return std::tuple{&softplus_rows<T>};
}
template auto fused_gmvae_ops<float>();
template auto fused_gmvae_ops<double>();
static_assert(std::tuple_size_v<decltype(fused_gmvae_ops<float>())> == ops_in_groups({"fused_gmvae"}),
              "ops_fused_gmvae.cpp: fused_gmvae_ops() must list every op of the group 'fused_gmvae' in kOps, once: "
              "add the new op's address to it");

}  // namespace tz
