// tapezoo: reductions and normalisations along an axis. Written as plain loops over the
// [outer, n, inner] view of the input (autograd/op_helpers.hpp): xtensor's lazy reducers inside
// expressions give wrong values on this stack (docs/pitfalls.md#lazy-reducers), and loops make the -inf guards explicit.
// Full sums accumulate in double even for float tensors (docs/pitfalls.md#double-accumulators).
#include <cmath>
#include <limits>

#ifdef XTENSOR_USE_XSIMD
#include <xsimd/xsimd.hpp>
#endif

#include "autograd/op_helpers.hpp"

namespace tz {

using detail::accumulate_loop;
using detail::AxisView;
using detail::axis_view;
using detail::reduced_shape;

// ---- full reductions ------------------------------------------------------------------------------

// y = Σ_i x_i                     gx += gy (broadcast)
template <class T>
Var<T> sum(const Var<T>& x) {
  Tape<T>& t = x.tape();
  const std::uint32_t id = t.push(Op::sum, {x}, [](Tape<T>& t, Node<T>& n) {
    const T gy = *n.grad.data();
    accumulate_loop(t, n.in[0], [gy](std::size_t) { return gy; });
  });
  const Array<T>& xv = t.val(x);
  double s = 0;
  for (std::size_t i = 0; i < xv.size(); ++i) s += xv.data()[i];
  t.node(id).value = Array<T>(static_cast<T>(s));
  return t.finish(id);
}

// y = (1/n) Σ_i x_i               gx += gy / n
template <class T>
Var<T> mean(const Var<T>& x) {
  Tape<T>& t = x.tape();
  if (x.size() == 0) throw AutogradError("mean: the input is empty");
  const std::uint32_t id = t.push(Op::mean, {x}, [](Tape<T>& t, Node<T>& n) {
    const T g = *n.grad.data() / static_cast<T>(t.val(n.in[0]).size());
    accumulate_loop(t, n.in[0], [g](std::size_t) { return g; });
  });
  const Array<T>& xv = t.val(x);
  double s = 0;
  for (std::size_t i = 0; i < xv.size(); ++i) s += xv.data()[i];
  t.node(id).value = Array<T>(static_cast<T>(s / static_cast<double>(xv.size())));
  return t.finish(id);
}

// ---- reductions along an axis ---------------------------------------------------------------------
// The output (with or without keepdims) holds element (o, j) at o·inner + j.

template <class T>
static void sum_along(const Array<T>& x, const AxisView& v, T scale, Array<T>& y) {
  const T* p = x.data();
  T* o = y.data();
  for (std::size_t a = 0; a < v.outer; ++a)
    for (std::size_t j = 0; j < v.inner; ++j) {
      double s = 0;
      for (std::size_t i = 0; i < v.n; ++i) s += p[(a * v.n + i) * v.inner + j];
      o[a * v.inner + j] = static_cast<T>(s * scale);
    }
}

// Backward of sum/mean along an axis: gx(o, i, j) += scale·gy(o, j).
template <class T>
static void spread_along(Tape<T>& t, Node<T>& n, T scale) {
  const Array<T>& x = t.val(n.in[0]);
  const AxisView v = axis_view("sum", x.shape(), static_cast<int>(n.c0));
  const T* gy = n.grad.data();
  accumulate_loop(t, n.in[0], [&](std::size_t k) {
    const std::size_t j = k % v.inner, a = k / (v.n * v.inner);
    return scale * gy[a * v.inner + j];
  });
}

// y = Σ_axis x                    gx += broadcast(gy) along axis
template <class T>
Var<T> sum(const Var<T>& x, int axis, bool keepdims) {
  Tape<T>& t = x.tape();
  const AxisView v = axis_view("sum", x.shape(), axis);
  const std::uint32_t id = t.push(Op::sum_axis, {x}, [](Tape<T>& t, Node<T>& n) {
    spread_along(t, n, T(1));
  });
  Node<T>& n = t.node(id);
  n.c0 = static_cast<double>(v.axis);
  n.c1 = keepdims;
  n.value.resize(reduced_shape(x.shape(), v.axis, keepdims));
  sum_along(t.val(x), v, T(1), n.value);
  return t.finish(id);
}

// y = (1/n) Σ_axis x              gx += broadcast(gy) / n
template <class T>
Var<T> mean(const Var<T>& x, int axis, bool keepdims) {
  Tape<T>& t = x.tape();
  const AxisView v = axis_view("mean", x.shape(), axis);
  if (v.n == 0) throw AutogradError(fmt::format("mean: axis {} of {} is empty", axis, shape_str(x.shape())));
  const std::uint32_t id = t.push(Op::mean_axis, {x}, [](Tape<T>& t, Node<T>& n) {
    const std::size_t len = t.val(n.in[0]).shape()[static_cast<std::size_t>(n.c0)];
    spread_along(t, n, T(1) / static_cast<T>(len));
  });
  Node<T>& n = t.node(id);
  n.c0 = static_cast<double>(v.axis);
  n.c1 = keepdims;
  n.value.resize(reduced_shape(x.shape(), v.axis, keepdims));
  sum_along(t.val(x), v, T(1) / static_cast<T>(v.n), n.value);
  return t.finish(id);
}

// y = m + log Σ_axis e^(x - m), m = max_axis x
// gx += gy·e^(x - y) = gy·softmax(x). A row that is all -inf has y = -inf and gets gradient 0, not
// NaN (docs/pitfalls.md#logsumexp). Stable: the largest term is e^0 = 1.
template <class T>
Var<T> logsumexp(const Var<T>& x, int axis, bool keepdims) {
  Tape<T>& t = x.tape();
  const AxisView v = axis_view("logsumexp", x.shape(), axis);
  const std::uint32_t id = t.push(Op::logsumexp, {x}, [](Tape<T>& t, Node<T>& n) {
    const Array<T>& x = t.val(n.in[0]);
    const AxisView v = axis_view("logsumexp", x.shape(), static_cast<int>(n.c0));
    const T* px = x.data();
    const T* py = n.value.data();
    const T* gy = n.grad.data();
    accumulate_loop(t, n.in[0], [&](std::size_t k) {
      const std::size_t j = k % v.inner, a = k / (v.n * v.inner), r = a * v.inner + j;
      if (py[r] == -std::numeric_limits<T>::infinity()) return T(0);
      return gy[r] * std::exp(px[k] - py[r]);
    });
  });
  Node<T>& n = t.node(id);
  n.c0 = static_cast<double>(v.axis);
  n.value.resize(reduced_shape(x.shape(), v.axis, keepdims));
  const T* p = t.val(x).data();
  T* y = n.value.data();
  for (std::size_t a = 0; a < v.outer; ++a)
    for (std::size_t j = 0; j < v.inner; ++j) {
      T m = -std::numeric_limits<T>::infinity();
      for (std::size_t i = 0; i < v.n; ++i) m = std::max(m, p[(a * v.n + i) * v.inner + j]);
      if (!std::isfinite(m)) {  // all -inf -> -inf; any +inf -> +inf; NaN stays NaN
        y[a * v.inner + j] = m;
        continue;
      }
      double s = 0;
      for (std::size_t i = 0; i < v.n; ++i) s += std::exp(static_cast<double>(p[(a * v.n + i) * v.inner + j] - m));
      y[a * v.inner + j] = m + static_cast<T>(std::log(s));
    }
  return t.finish(id);
}

// y = max_axis x                  gx += gy at the first argmax, 0 elsewhere
template <class T>
Var<T> max(const Var<T>& x, int axis, bool keepdims) {
  Tape<T>& t = x.tape();
  const AxisView v = axis_view("max", x.shape(), axis);
  if (v.n == 0) throw AutogradError(fmt::format("max: axis {} of {} is empty", axis, shape_str(x.shape())));
  const std::uint32_t id = t.push(Op::max_axis, {x}, [](Tape<T>& t, Node<T>& n) {
    const Array<T>& x = t.val(n.in[0]);
    const AxisView v = axis_view("max", x.shape(), static_cast<int>(n.c0));
    const T* gy = n.grad.data();
    const std::size_t* arg = n.aux.data();
    accumulate_loop(t, n.in[0], [&](std::size_t k) {
      const std::size_t j = k % v.inner, i = (k / v.inner) % v.n, a = k / (v.n * v.inner);
      const std::size_t r = a * v.inner + j;
      return arg[r] == i ? gy[r] : T(0);
    });
  });
  Node<T>& n = t.node(id);
  n.c0 = static_cast<double>(v.axis);
  n.value.resize(reduced_shape(x.shape(), v.axis, keepdims));
  n.aux.resize(v.outer * v.inner);
  const T* p = t.val(x).data();
  for (std::size_t a = 0; a < v.outer; ++a)
    for (std::size_t j = 0; j < v.inner; ++j) {
      std::size_t best = 0;
      for (std::size_t i = 1; i < v.n; ++i)
        if (p[(a * v.n + i) * v.inner + j] > p[(a * v.n + best) * v.inner + j]) best = i;
      n.aux[a * v.inner + j] = best;
      n.value.data()[a * v.inner + j] = p[(a * v.n + best) * v.inner + j];
    }
  return t.finish(id);
}

// ---- the Bernoulli log-likelihood from logits, fused ----------------------------------------------

// y_r = Σ_j [x_rj·l_rj − softplus(l_rj)] over the last axis,  softplus(l) = max(l,0) + log1p(e^−|l|)
// gl += gy_r·(x_rj − σ(l_rj)),  gx += gy_r·l_rj
// A composite of mul, softplus, sub and sum would do the same in four passes with five [n, d]
// arrays; this op is one pass each way, vectorised with xsimd (xtensor 0.24 calls the scalar
// log1pf here, which made softplus of a 100×784 batch cost more than the decoder's matrix
// products); plain loops when the build has no xsimd (simd=none). The formula is the stable one (docs/pitfalls.md#bernoulli-logits): no log σ(l), and σ(l) = 1/(1 + e^−l)
// saturates to 0 or 1 without NaN. Lane sums run in T over d/lanes terms, row sums in double.
namespace {

#ifdef XTENSOR_USE_XSIMD
template <class T>
xsimd::batch<T> softplus_simd(const xsimd::batch<T>& l) {
  using B = xsimd::batch<T>;
  return xsimd::max(l, B(T(0))) + xsimd::log1p(xsimd::exp(-xsimd::abs(l)));
}
#endif

template <class T>
T softplus_scalar(T l) {
  return std::max(l, T(0)) + std::log1p(std::exp(-std::abs(l)));
}

}  // namespace

template <class T>
Var<T> log_bernoulli(const Var<T>& x, const Var<T>& logits) {
  Tape<T>& t = x.tape();
  if (x.dim() == 0 || x.shape() != logits.shape())
    throw AutogradError(fmt::format("log_bernoulli: expected x and logits of one shape [..., d], got {} and {}",
                                    shape_str(x.shape()), shape_str(logits.shape())));
#ifdef XTENSOR_USE_XSIMD
  using B = xsimd::batch<T>;
  constexpr std::size_t S = B::size;
#endif
  const std::uint32_t id = t.push(Op::log_bernoulli, {x, logits}, [](Tape<T>& t, Node<T>& n) {
    const Array<T>& xv = t.val(n.in[0]);
    const Array<T>& lv = t.val(n.in[1]);
    const std::size_t d = xv.shape()[xv.dimension() - 1], rows = xv.size() / d;
    const T* px = xv.data();
    const T* pl = lv.data();
    const T* gy = n.grad.data();
    T beta;
    if (t.wants_grad(n.in[1])) {  // gl += gy·(x − σ(l))
      T* g = t.grad_dest(n.in[1], beta).data();
      for (std::size_t r = 0; r < rows; ++r) {
        const std::size_t o = r * d;
        std::size_t j = 0;
#ifdef XTENSOR_USE_XSIMD
        const B gr(gy[r]), one(T(1));
        for (; j + S <= d; j += S) {
          const B l = B::load_unaligned(pl + o + j);
          B v = gr * (B::load_unaligned(px + o + j) - one / (one + xsimd::exp(-l)));
          if (beta != T(0)) v += B::load_unaligned(g + o + j);
          v.store_unaligned(g + o + j);
        }
#endif
        for (; j < d; ++j) {
          const T v = gy[r] * (px[o + j] - T(1) / (T(1) + std::exp(-pl[o + j])));
          g[o + j] = beta != T(0) ? g[o + j] + v : v;
        }
      }
    }
    if (t.wants_grad(n.in[0])) {  // gx += gy·l
      T* g = t.grad_dest(n.in[0], beta).data();
      for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t j = 0; j < d; ++j) {
          const T v = gy[r] * pl[r * d + j];
          g[r * d + j] = beta != T(0) ? g[r * d + j] + v : v;
        }
    }
  });
  Node<T>& n = t.node(id);
  const Array<T>& xv = t.val(x);
  const std::size_t d = xv.shape()[xv.dimension() - 1], rows = xv.size() / d;
  n.value.resize(reduced_shape(xv.shape(), xv.dimension() - 1, false));
  const T* px = xv.data();
  const T* pl = t.val(logits).data();
  T* y = n.value.data();
  for (std::size_t r = 0; r < rows; ++r) {
    const std::size_t o = r * d;
    double s = 0;
    std::size_t j = 0;
#ifdef XTENSOR_USE_XSIMD
    B acc(T(0));
    for (; j + S <= d; j += S) {
      const B l = B::load_unaligned(pl + o + j);
      acc += B::load_unaligned(px + o + j) * l - softplus_simd(l);
    }
    s = static_cast<double>(xsimd::hadd(acc));
#endif
    for (; j < d; ++j) s += static_cast<double>(px[o + j] * pl[o + j] - softplus_scalar(pl[o + j]));
    y[r] = static_cast<T>(s);
  }
  return t.finish(id);
}

// ---- normalisation along an axis ------------------------------------------------------------------

// Computes log_softmax of x along v into out (same shape as x). An all -inf row gives -inf.
template <class T>
static void log_softmax_into(const T* p, const AxisView& v, T* out) {
  for (std::size_t a = 0; a < v.outer; ++a)
    for (std::size_t j = 0; j < v.inner; ++j) {
      T m = -std::numeric_limits<T>::infinity();
      for (std::size_t i = 0; i < v.n; ++i) m = std::max(m, p[(a * v.n + i) * v.inner + j]);
      double s = 0;
      if (std::isfinite(m))
        for (std::size_t i = 0; i < v.n; ++i) s += std::exp(static_cast<double>(p[(a * v.n + i) * v.inner + j] - m));
      const T lse = std::isfinite(m) ? m + static_cast<T>(std::log(s)) : m;
      for (std::size_t i = 0; i < v.n; ++i) {
        const std::size_t k = (a * v.n + i) * v.inner + j;
        out[k] = std::isfinite(lse) ? p[k] - lse : -std::numeric_limits<T>::infinity();
      }
    }
}

// y = e^x / Σ_axis e^x            gx += y·(gy - Σ_axis gy·y)
template <class T>
Var<T> softmax(const Var<T>& x, int axis) {
  Tape<T>& t = x.tape();
  const AxisView v = axis_view("softmax", x.shape(), axis);
  const std::uint32_t id = t.push(Op::softmax, {x}, [](Tape<T>& t, Node<T>& n) {
    const AxisView v = axis_view("softmax", n.value.shape(), static_cast<int>(n.c0));
    const T* y = n.value.data();
    const T* gy = n.grad.data();
    std::vector<T> dot(v.outer * v.inner, T(0));  // Σ_axis gy·y per row
    for (std::size_t k = 0; k < n.value.size(); ++k) {
      const std::size_t j = k % v.inner, a = k / (v.n * v.inner);
      dot[a * v.inner + j] += gy[k] * y[k];
    }
    accumulate_loop(t, n.in[0], [&](std::size_t k) {
      const std::size_t j = k % v.inner, a = k / (v.n * v.inner);
      return y[k] * (gy[k] - dot[a * v.inner + j]);
    });
  });
  Node<T>& n = t.node(id);
  n.c0 = static_cast<double>(v.axis);
  n.value.resize(x.shape());
  log_softmax_into(t.val(x).data(), v, n.value.data());
  n.value = xt::exp(n.value);
  return t.finish(id);
}

// y = x - logsumexp_axis(x)       gx += gy - e^y·Σ_axis gy
template <class T>
Var<T> log_softmax(const Var<T>& x, int axis) {
  Tape<T>& t = x.tape();
  const AxisView v = axis_view("log_softmax", x.shape(), axis);
  const std::uint32_t id = t.push(Op::log_softmax, {x}, [](Tape<T>& t, Node<T>& n) {
    const AxisView v = axis_view("log_softmax", n.value.shape(), static_cast<int>(n.c0));
    const T* y = n.value.data();
    const T* gy = n.grad.data();
    std::vector<T> total(v.outer * v.inner, T(0));  // Σ_axis gy per row
    for (std::size_t k = 0; k < n.value.size(); ++k) {
      const std::size_t j = k % v.inner, a = k / (v.n * v.inner);
      total[a * v.inner + j] += gy[k];
    }
    accumulate_loop(t, n.in[0], [&](std::size_t k) {
      const std::size_t j = k % v.inner, a = k / (v.n * v.inner);
      return gy[k] - std::exp(y[k]) * total[a * v.inner + j];
    });
  });
  Node<T>& n = t.node(id);
  n.c0 = static_cast<double>(v.axis);
  n.value.resize(x.shape());
  log_softmax_into(t.val(x).data(), v, n.value.data());
  return t.finish(id);
}

template Var<float> sum(const Var<float>&);
template Var<double> sum(const Var<double>&);
template Var<float> mean(const Var<float>&);
template Var<double> mean(const Var<double>&);
#define TZ_AXIS_REDUCE(f)                                    \
  template Var<float> f(const Var<float>&, int, bool);      \
  template Var<double> f(const Var<double>&, int, bool);
TZ_AXIS_REDUCE(sum) TZ_AXIS_REDUCE(mean) TZ_AXIS_REDUCE(logsumexp) TZ_AXIS_REDUCE(max)
template Var<float> log_bernoulli(const Var<float>&, const Var<float>&);
template Var<double> log_bernoulli(const Var<double>&, const Var<double>&);
template Var<float> softmax(const Var<float>&, int);
template Var<double> softmax(const Var<double>&, int);
template Var<float> log_softmax(const Var<float>&, int);
template Var<double> log_softmax(const Var<double>&, int);

}  // namespace tz
