// tapezoo: reductions and normalisations along an axis. Written as plain loops over the
// [outer, n, inner] view of the input (autograd/op_helpers.hpp): xtensor's lazy reducers inside
// expressions give wrong values on this stack (docs/pitfalls.md#lazy-reducers), and loops make the -inf guards explicit.
// Full sums accumulate in double even for float tensors (docs/pitfalls.md#double-accumulators).
// Each op: its kOps row as a one-line comment, then its forward, then its backward.
#include <cmath>
#include <limits>
#include <tuple>

#include "autograd/op_helpers.hpp"
#include "autograd/path.hpp"

namespace tz {

using detail::at_each;
using detail::AxisView;
using detail::axis_view;
using detail::axis_view_at;
using detail::GradOf;
using detail::record;
using detail::reduced_shape;

// ---- full reductions ------------------------------------------------------------------------------

// sum: y = Σ_i x_i                              gx += gy (broadcast)
template <class T>
Var<T> sum(const Var<T>& x) {
  return record<T>(Op::sum, {x},
      [](Tape<T>& t, Node<T>& n) {
        const Array<T>& x = t.val(n.in[0]);
        double s = 0;
        for (std::size_t i = 0; i < x.size(); ++i) s += x.data()[i];
        n.value = Array<T>(static_cast<T>(s));
      },
      [](Tape<T>& t, Node<T>& n) {
        const T gy = *n.grad.data();
        GradOf gx(t, n.in[0]);
        gx += at_each([gy](std::size_t) { return gy; });
      });
}

// mean: y = (1/n) Σ_i x_i                       gx += gy / n
template <class T>
Var<T> mean(const Var<T>& x) {
  if (x.size() == 0) throw AutogradError("mean: the input is empty");
  return record<T>(Op::mean, {x},
      [](Tape<T>& t, Node<T>& n) {
        const Array<T>& x = t.val(n.in[0]);
        double s = 0;
        for (std::size_t i = 0; i < x.size(); ++i) s += x.data()[i];
        n.value = Array<T>(static_cast<T>(s / static_cast<double>(x.size())));
      },
      [](Tape<T>& t, Node<T>& n) {
        const T gy = *n.grad.data();
        const T g = gy / static_cast<T>(t.val(n.in[0]).size());  // gy / n
        GradOf gx(t, n.in[0]);
        gx += at_each([g](std::size_t) { return g; });
      });
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
  // TASK 1.6 spread_along: the backward of sum_axis (scale 1) and mean_axis (1/n): gx[a, i, j] += scale · gy[a, j]
  const Array<T>& x = t.val(n.in[0]);
  const AxisView v = axis_view_at(x.shape(), n.saved.axis);
  const T* gy = n.grad.data();
  GradOf gx(t, n.in[0]);
  gx += at_each([&](std::size_t k) {
    const std::size_t j = k % v.inner, a = k / (v.n * v.inner);
    return scale * gy[a * v.inner + j];
  });
  // END TASK
}

// sum_axis: y = Σ_axis x                        gx += broadcast(gy) along axis
template <class T>
Var<T> sum(const Var<T>& x, int axis, bool keepdims) {
  const AxisView v = axis_view("sum", x.shape(), axis);
  return record<T>(Op::sum_axis, {x},
      [&](Tape<T>& t, Node<T>& n) {
        const Array<T>& x = t.val(n.in[0]);
        n.saved.axis = v.axis;
        n.value.resize(reduced_shape(x.shape(), v.axis, keepdims));
        sum_along(x, v, T(1), n.value);
      },
      [](Tape<T>& t, Node<T>& n) { spread_along(t, n, T(1)); });
}

// mean_axis: y = (1/n) Σ_axis x                 gx += broadcast(gy) / n
template <class T>
Var<T> mean(const Var<T>& x, int axis, bool keepdims) {
  const AxisView v = axis_view("mean", x.shape(), axis);
  if (v.n == 0) throw AutogradError(fmt::format("mean: axis {} of {} is empty", axis, shape_str(x.shape())));
  return record<T>(Op::mean_axis, {x},
      [&](Tape<T>& t, Node<T>& n) {
        const Array<T>& x = t.val(n.in[0]);
        n.saved.axis = v.axis;
        n.value.resize(reduced_shape(x.shape(), v.axis, keepdims));
        sum_along(x, v, T(1) / static_cast<T>(v.n), n.value);
      },
      [](Tape<T>& t, Node<T>& n) {
        const std::size_t len = t.val(n.in[0]).shape()[n.saved.axis];  // n
        spread_along(t, n, T(1) / static_cast<T>(len));
      });
}

// log √(smallest normal T): −43.67 for float, −354.0 for double (logsumexp's weight cutoff).
template <class T>
const T kLogSqrtMinNormal = static_cast<T>(0.5 * std::log(static_cast<double>(std::numeric_limits<T>::min())));

// logsumexp: y = m + log Σ_axis e^(x-m), m = max  gx += gy·softmax(x)   (0 for an all -inf row)
// softmax(x) = e^(x - y). An all -inf row has y = -inf and gets gradient 0, not NaN
// (docs/pitfalls.md#logsumexp). Stable: the largest term is e^0 = 1.
template <class T>
Var<T> logsumexp(const Var<T>& x, int axis, bool keepdims) {
  const AxisView v = axis_view("logsumexp", x.shape(), axis);
  return record<T>(Op::logsumexp, {x},
      [&](Tape<T>& t, Node<T>& n) {
        const Array<T>& xv = t.val(n.in[0]);
        n.saved.axis = v.axis;
        n.value.resize(reduced_shape(xv.shape(), v.axis, keepdims));
        const T* p = xv.data();
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
      },
      [](Tape<T>& t, Node<T>& n) {
        // TASK 1.8 logsumexp: gx += gy · softmax(x) = gy · e^(x − y), and 0 for a row that is all −inf
        const T* gy = n.grad.data();
        const Array<T>& x = t.val(n.in[0]);
        const T* y = n.value.data();
        const AxisView v = axis_view_at(x.shape(), n.saved.axis);
        const T* px = x.data();
        // Fast path: a weight w = e^(x - y) below √(smallest normal), about 2⁻⁶³ in float, is taken
        // as 0. The textbook path (tz::textbook()) keeps every weight. Why: the IWAE's weights of
        // its unlikely samples underflow, and a product meeting subnormals runs many times slower
        // (bench/zoo_step counts them); √ leaves room for one more small factor (gy, then the
        // backward's own) before the floor of the normal range. What it costs: the weights of a
        // row sum to 1, so a dropped one is 2⁻⁶³/max_i w_i ≤ k·2⁻⁶³ of the largest, k·2⁻³⁹ of
        // float rounding (tests/test_fast_paths.cpp: "logsumexp's backward …").
        const T cutoff = textbook() ? -std::numeric_limits<T>::infinity() : kLogSqrtMinNormal<T>;
        GradOf gx(t, n.in[0]);
        gx += at_each([&](std::size_t k) {
          const std::size_t j = k % v.inner, a = k / (v.n * v.inner), r = a * v.inner + j;
          if (y[r] == -std::numeric_limits<T>::infinity()) return T(0);
          const T d = px[k] - y[r];
          return d < cutoff ? T(0) : gy[r] * std::exp(d);
        });
        // END TASK
      });
}

// max_axis: y = max_axis x                      gx += gy at the (first) argmax
// 0 elsewhere; saved.argmax holds, for each element of y, the index along the axis it came from.
template <class T>
Var<T> max(const Var<T>& x, int axis, bool keepdims) {
  const AxisView v = axis_view("max", x.shape(), axis);
  if (v.n == 0) throw AutogradError(fmt::format("max: axis {} of {} is empty", axis, shape_str(x.shape())));
  return record<T>(Op::max_axis, {x},
      [&](Tape<T>& t, Node<T>& n) {
        const Array<T>& xv = t.val(n.in[0]);
        std::vector<std::size_t>& argmax = n.saved.argmax;
        n.saved.axis = v.axis;
        n.value.resize(reduced_shape(xv.shape(), v.axis, keepdims));
        argmax.resize(v.outer * v.inner);  // keeps its capacity across steps
        const T* p = xv.data();
        for (std::size_t a = 0; a < v.outer; ++a)
          for (std::size_t j = 0; j < v.inner; ++j) {
            std::size_t best = 0;
            for (std::size_t i = 1; i < v.n; ++i)
              if (p[(a * v.n + i) * v.inner + j] > p[(a * v.n + best) * v.inner + j]) best = i;
            argmax[a * v.inner + j] = best;
            n.value.data()[a * v.inner + j] = p[(a * v.n + best) * v.inner + j];
          }
      },
      [](Tape<T>& t, Node<T>& n) {
        const T* gy = n.grad.data();
        const Array<T>& x = t.val(n.in[0]);
        const AxisView v = axis_view_at(x.shape(), n.saved.axis);
        const std::size_t* argmax = n.saved.argmax.data();
        GradOf gx(t, n.in[0]);
        gx += at_each([&](std::size_t k) {
          const std::size_t j = k % v.inner, i = (k / v.inner) % v.n, a = k / (v.n * v.inner);
          const std::size_t r = a * v.inner + j;
          return argmax[r] == i ? gy[r] : T(0);
        });
      });
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

// softmax: y = e^x / Σ_axis e^x                gx += y·(gy - Σ_axis gy·y)
template <class T>
Var<T> softmax(const Var<T>& x, int axis) {
  const AxisView v = axis_view("softmax", x.shape(), axis);
  return record<T>(Op::softmax, {x},
      [&](Tape<T>& t, Node<T>& n) {
        const Array<T>& x = t.val(n.in[0]);
        n.saved.axis = v.axis;
        n.value.resize(x.shape());
        log_softmax_into(x.data(), v, n.value.data());
        n.value = xt::exp(n.value);
      },
      [](Tape<T>& t, Node<T>& n) {
        const T* gy = n.grad.data();
        const T* y = n.value.data();
        const AxisView v = axis_view_at(n.value.shape(), n.saved.axis);
        thread_local std::vector<T> dot;  // Σ_axis gy·y per row; a scratch buffer that keeps its capacity
        dot.assign(v.outer * v.inner, T(0));
        for (std::size_t k = 0; k < n.value.size(); ++k) {
          const std::size_t j = k % v.inner, a = k / (v.n * v.inner);
          dot[a * v.inner + j] += gy[k] * y[k];
        }
        GradOf gx(t, n.in[0]);
        gx += at_each([&](std::size_t k) {
          const std::size_t j = k % v.inner, a = k / (v.n * v.inner);
          return y[k] * (gy[k] - dot[a * v.inner + j]);
        });
      });
}

// log_softmax: y = x - logsumexp_axis(x)         gx += gy - softmax(x)·Σ_axis gy
// softmax(x) = e^y.
template <class T>
Var<T> log_softmax(const Var<T>& x, int axis) {
  const AxisView v = axis_view("log_softmax", x.shape(), axis);
  return record<T>(Op::log_softmax, {x},
      [&](Tape<T>& t, Node<T>& n) {
        const Array<T>& x = t.val(n.in[0]);
        n.saved.axis = v.axis;
        n.value.resize(x.shape());
        log_softmax_into(x.data(), v, n.value.data());
      },
      [](Tape<T>& t, Node<T>& n) {
        const T* gy = n.grad.data();
        const T* y = n.value.data();
        const AxisView v = axis_view_at(n.value.shape(), n.saved.axis);
        thread_local std::vector<T> total;  // Σ_axis gy per row; a scratch buffer that keeps its capacity
        total.assign(v.outer * v.inner, T(0));
        for (std::size_t k = 0; k < n.value.size(); ++k) {
          const std::size_t j = k % v.inner, a = k / (v.n * v.inner);
          total[a * v.inner + j] += gy[k];
        }
        GradOf gx(t, n.in[0]);
        gx += at_each([&](std::size_t k) {
          const std::size_t j = k % v.inner, a = k / (v.n * v.inner);
          return gy[k] - std::exp(y[k]) * total[a * v.inner + j];
        });
      });
}

// ---- for float (training) and double (gradient checks): autograd/op_helpers.hpp -------------------
// Every op of this file, once; a new op's address goes here too. sum and mean have two overloads
// each, so their entries name the signature.
template <class T>
auto reduce_ops() {
  using Full = Var<T> (*)(const Var<T>&);
  using Along = Var<T> (*)(const Var<T>&, int, bool);
  return std::tuple{Full(&sum<T>), Along(&sum<T>), Full(&mean<T>), Along(&mean<T>), &logsumexp<T>, &max<T>,
                    &softmax<T>, &log_softmax<T>};
}
template auto reduce_ops<float>();
template auto reduce_ops<double>();
static_assert(std::tuple_size_v<decltype(reduce_ops<float>())> == ops_in_groups({"reduction", "normalise"}),
              "ops_reduce.cpp: reduce_ops() must list every op of the groups 'reduction' and 'normalise' in "
              "kOps, once: add the new op's address to it");

}  // namespace tz
