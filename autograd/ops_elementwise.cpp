// tapezoo: elementwise and binary ops. Each op: its kOps row as a one-line comment
// ("// name: forward    backward"), then its forward, then its backward. Forwards are xtensor
// expressions assigned into the node's own container (vectorised with xsimd); backwards name
// gy (the upstream gradient), x (the input; a and b for binary ops) and y (the saved result) as the
// table does, then accumulate with gx += ….
#include <tuple>

#include <xtensor/xmath.hpp>
#include <xtensor/xoperation.hpp>
#include <xtensor/xnoalias.hpp>
#include <xtensor/xtensor.hpp>

#include "autograd/op_helpers.hpp"

namespace tz {

using detail::binary;
using detail::GradOf;
using detail::record;
using detail::SumToGrad;
using detail::unary;

// ---- elementwise, derivative from x ---------------------------------------------------------------

// neg: y = -x                                   gx += -gy
template <class T>
Var<T> neg(const Var<T>& x) {
  return unary<T>(Op::neg, x,
      [](Array<T>& y, const Array<T>& x) { xt::noalias(y) = -x; },
      [](Tape<T>& t, Node<T>& n) {
        const Array<T>& gy = n.grad;
        GradOf gx(t, n.in[0]);
        gx += -gy;
      });
}

// add_scalar: y = x + c                         gx += gy
template <class T>
Var<T> add_scalar(const Var<T>& x, double c) {
  return unary<T>(Op::add_scalar, x,
      [c](Array<T>& y, const Array<T>& x) { xt::noalias(y) = x + static_cast<T>(c); },
      [](Tape<T>& t, Node<T>& n) {
        const Array<T>& gy = n.grad;
        GradOf gx(t, n.in[0]);
        gx += gy;
      });
}

// mul_scalar: y = c·x                           gx += c·gy
template <class T>
Var<T> mul_scalar(const Var<T>& x, double c) {
  return record<T>(Op::mul_scalar, {x},
      [c](Tape<T>& t, Node<T>& n) {
        const Array<T>& x = t.val(n.in[0]);
        n.saved.c = c;
        xt::noalias(n.value) = static_cast<T>(c) * x;
      },
      [](Tape<T>& t, Node<T>& n) {
        const Array<T>& gy = n.grad;
        const T c = static_cast<T>(n.saved.c);
        GradOf gx(t, n.in[0]);
        gx += c * gy;
      });
}

// rsub_scalar: y = c - x                        gx += -gy
template <class T>
Var<T> rsub_scalar(double c, const Var<T>& x) {
  return unary<T>(Op::rsub_scalar, x,
      [c](Array<T>& y, const Array<T>& x) { xt::noalias(y) = static_cast<T>(c) - x; },
      [](Tape<T>& t, Node<T>& n) {
        const Array<T>& gy = n.grad;
        GradOf gx(t, n.in[0]);
        gx += -gy;
      });
}

// rdiv_scalar: y = c / x                        gx += -gy·c / x²
template <class T>
Var<T> rdiv_scalar(double c, const Var<T>& x) {
  return record<T>(Op::rdiv_scalar, {x},
      [c](Tape<T>& t, Node<T>& n) {
        const Array<T>& x = t.val(n.in[0]);
        n.saved.c = c;
        xt::noalias(n.value) = static_cast<T>(c) / x;
      },
      [](Tape<T>& t, Node<T>& n) {
        const Array<T>& gy = n.grad;
        const Array<T>& x = t.val(n.in[0]);
        const T c = static_cast<T>(n.saved.c);
        GradOf gx(t, n.in[0]);
        gx += -gy * c / (x * x);
      });
}

// pow_scalar: y = x^p                           gx += gy·p·x^(p-1)
template <class T>
Var<T> pow(const Var<T>& x, double p) {
  return record<T>(Op::pow_scalar, {x},
      [p](Tape<T>& t, Node<T>& n) {
        const Array<T>& x = t.val(n.in[0]);
        n.saved.exponent = p;
        xt::noalias(n.value) = xt::pow(x, static_cast<T>(p));
      },
      [](Tape<T>& t, Node<T>& n) {
        const Array<T>& gy = n.grad;
        const Array<T>& x = t.val(n.in[0]);
        const T p = static_cast<T>(n.saved.exponent);
        GradOf gx(t, n.in[0]);
        if (p == T(0)) return;  // y = 1: no gradient
        if (p == T(1)) gx += gy;
        else if (p == T(2)) gx += T(2) * gy * x;
        else gx += gy * p * xt::pow(x, p - T(1));
      });
}

// log: y = log x                                gx += gy / x
template <class T>
Var<T> log(const Var<T>& x) {
  return unary<T>(Op::log, x,
      [](Array<T>& y, const Array<T>& x) { xt::noalias(y) = xt::log(x); },
      [](Tape<T>& t, Node<T>& n) {
        // TASK 1.1 log: gx += gy / x   (d log x / dx = 1/x)
        const Array<T>& gy = n.grad;
        const Array<T>& x = t.val(n.in[0]);
        GradOf gx(t, n.in[0]);
        gx += gy / x;
        // END TASK
      });
}

// log1p: y = log(1 + x)                         gx += gy / (1 + x)
template <class T>
Var<T> log1p(const Var<T>& x) {
  return unary<T>(Op::log1p, x,
      [](Array<T>& y, const Array<T>& x) { xt::noalias(y) = xt::log1p(x); },
      [](Tape<T>& t, Node<T>& n) {
        const Array<T>& gy = n.grad;
        const Array<T>& x = t.val(n.in[0]);
        GradOf gx(t, n.in[0]);
        gx += gy / (T(1) + x);
      });
}

// square: y = x²                                gx += 2·gy·x
template <class T>
Var<T> square(const Var<T>& x) {
  return unary<T>(Op::square, x,
      [](Array<T>& y, const Array<T>& x) { xt::noalias(y) = x * x; },
      [](Tape<T>& t, Node<T>& n) {
        const Array<T>& gy = n.grad;
        const Array<T>& x = t.val(n.in[0]);
        GradOf gx(t, n.in[0]);
        gx += T(2) * gy * x;
      });
}

// abs: y = |x|                                  gx += gy·sign(x)   (0 at 0)
// (0 at x = 0, as PyTorch)
template <class T>
Var<T> abs(const Var<T>& x) {
  return unary<T>(Op::abs, x,
      [](Array<T>& y, const Array<T>& x) { xt::noalias(y) = xt::abs(x); },
      [](Tape<T>& t, Node<T>& n) {
        const Array<T>& gy = n.grad;
        const Array<T>& x = t.val(n.in[0]);
        GradOf gx(t, n.in[0]);
        gx += gy * xt::sign(x);
      });
}

// relu: y = max(x, 0)                           gx += gy·[x > 0]
// (0 at x = 0)
template <class T>
Var<T> relu(const Var<T>& x) {
  return unary<T>(Op::relu, x,
      [](Array<T>& y, const Array<T>& x) { xt::noalias(y) = xt::maximum(x, T(0)); },
      [](Tape<T>& t, Node<T>& n) {
        const Array<T>& gy = n.grad;
        const Array<T>& x = t.val(n.in[0]);
        GradOf gx(t, n.in[0]);
        gx += xt::where(x > T(0), gy, T(0));
      });
}

// elu: y = x if x > 0 else e^x - 1              gx += gy·(x > 0 ? 1 : e^x)
// e^x = y + 1 for x ≤ 0, so the backward reads y instead of recomputing e^x.
template <class T>
Var<T> elu(const Var<T>& x) {
  return unary<T>(Op::elu, x,
      [](Array<T>& y, const Array<T>& x) { xt::noalias(y) = xt::where(x > T(0), x, xt::expm1(x)); },
      [](Tape<T>& t, Node<T>& n) {
        const Array<T>& gy = n.grad;
        const Array<T>& x = t.val(n.in[0]);
        const Array<T>& y = n.value;
        GradOf gx(t, n.in[0]);
        gx += xt::where(x > T(0), gy, gy * (y + T(1)));
      });
}

// softplus: y = max(x,0) + log1p(e^-|x|)        gx += gy·sigmoid(x)
// Never log(1 + e^x): e^89 overflows float (docs/pitfalls.md#softplus).
template <class T>
Var<T> softplus(const Var<T>& x) {
  return unary<T>(Op::softplus, x,
      [](Array<T>& y, const Array<T>& x) {
        xt::noalias(y) = xt::maximum(x, T(0)) + xt::log1p(xt::exp(-xt::abs(x)));
      },
      [](Tape<T>& t, Node<T>& n) {
        // TASK 1.7 softplus: gx += gy · σ(x) = gy / (1 + e^−x)   (finite for every x: e^−x = inf gives 0)
        const Array<T>& gy = n.grad;
        const Array<T>& x = t.val(n.in[0]);
        GradOf gx(t, n.in[0]);
        gx += gy / (T(1) + xt::exp(-x));
        // END TASK
      });
}

// log_sigmoid: y = -softplus(-x)                gx += gy·sigmoid(-x)
// Computed as min(x,0) - log1p(e^-|x|).
template <class T>
Var<T> log_sigmoid(const Var<T>& x) {
  return unary<T>(Op::log_sigmoid, x,
      [](Array<T>& y, const Array<T>& x) {
        xt::noalias(y) = xt::minimum(x, T(0)) - xt::log1p(xt::exp(-xt::abs(x)));
      },
      [](Tape<T>& t, Node<T>& n) {
        const Array<T>& gy = n.grad;
        const Array<T>& x = t.val(n.in[0]);
        GradOf gx(t, n.in[0]);
        gx += gy / (T(1) + xt::exp(x));
      });
}

// clamp: y = min(max(x, lo), hi)                gx += gy·[lo ≤ x ≤ hi]
// (zero gradient outside the range)
template <class T>
Var<T> clamp(const Var<T>& x, double lo, double hi) {
  if (!(lo <= hi))
    throw AutogradError(fmt::format("clamp: the range [{}, {}] is empty (lo must be <= hi)", lo, hi));
  return record<T>(Op::clamp, {x},
      [lo, hi](Tape<T>& t, Node<T>& n) {
        const Array<T>& x = t.val(n.in[0]);
        n.saved.lo = lo;
        n.saved.hi = hi;
        xt::noalias(n.value) = xt::clip(x, static_cast<T>(lo), static_cast<T>(hi));
      },
      [](Tape<T>& t, Node<T>& n) {
        const Array<T>& gy = n.grad;
        const Array<T>& x = t.val(n.in[0]);
        const T lo = static_cast<T>(n.saved.lo), hi = static_cast<T>(n.saved.hi);
        GradOf gx(t, n.in[0]);
        gx += xt::where(x >= lo && x <= hi, gy, T(0));
      });
}

// ---- elementwise, derivative from y ---------------------------------------------------------------

// exp: y = e^x                                  gx += gy·y
template <class T>
Var<T> exp(const Var<T>& x) {
  return unary<T>(Op::exp, x,
      [](Array<T>& y, const Array<T>& x) { xt::noalias(y) = xt::exp(x); },
      [](Tape<T>& t, Node<T>& n) {
        // TASK 1.2 exp: gx += gy · y   (d e^x / dx = e^x = y, saved by the forward)
        const Array<T>& gy = n.grad;
        const Array<T>& y = n.value;
        GradOf gx(t, n.in[0]);
        gx += gy * y;
        // END TASK
      });
}

// sqrt: y = √x                                  gx += gy / (2y)
template <class T>
Var<T> sqrt(const Var<T>& x) {
  return unary<T>(Op::sqrt, x,
      [](Array<T>& y, const Array<T>& x) { xt::noalias(y) = xt::sqrt(x); },
      [](Tape<T>& t, Node<T>& n) {
        const Array<T>& gy = n.grad;
        const Array<T>& y = n.value;
        GradOf gx(t, n.in[0]);
        gx += gy / (T(2) * y);
      });
}

// tanh: y = tanh x                              gx += gy·(1 - y²)
template <class T>
Var<T> tanh(const Var<T>& x) {
  return unary<T>(Op::tanh, x,
      [](Array<T>& y, const Array<T>& x) { xt::noalias(y) = xt::tanh(x); },
      [](Tape<T>& t, Node<T>& n) {
        const Array<T>& gy = n.grad;
        const Array<T>& y = n.value;
        GradOf gx(t, n.in[0]);
        gx += gy * (T(1) - y * y);
      });
}

// sigmoid: y = 1 / (1 + e^-x)                   gx += gy·y·(1 - y)
template <class T>
Var<T> sigmoid(const Var<T>& x) {
  return unary<T>(Op::sigmoid, x,
      [](Array<T>& y, const Array<T>& x) { xt::noalias(y) = T(1) / (T(1) + xt::exp(-x)); },
      [](Tape<T>& t, Node<T>& n) {
        const Array<T>& gy = n.grad;
        const Array<T>& y = n.value;
        GradOf gx(t, n.in[0]);
        gx += gy * y * (T(1) - y);
      });
}

// ---- binary, broadcasting -------------------------------------------------------------------------

Shape broadcast_shape(const char* op, const Shape& a, const Shape& b) {
  const std::size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t da = i + a.size() >= n ? a[i + a.size() - n] : 1;
    const std::size_t db = i + b.size() >= n ? b[i + b.size() - n] : 1;
    if (da != db && da != 1 && db != 1)
      throw AutogradError(fmt::format("{}: shapes {} and {} cannot be broadcast together (NumPy rules: "
                                      "trailing dimensions must be equal or 1)",
                                      op, shape_str(a), shape_str(b)));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

template <class T>
Array<T> sum_to(const Array<T>& g, const Shape& shape) {
  const std::size_t gd = g.dimension(), sd = shape.size();
  if (gd == sd && std::equal(shape.begin(), shape.end(), g.shape().begin())) return g;
  if (gd < sd) throw AutogradError(fmt::format("sum_to: cannot reduce {} to the larger rank of {}",
                                               shape_str(g.shape()), shape_str(shape)));
  // Fast path, the bias gradient: [n, m] -> [m] or [1, m] is a sum of rows.
  if (gd == 2 && (sd == 1 || (sd == 2 && shape[0] == 1)) && shape[sd - 1] == g.shape()[1]) {
    const std::size_t rows = g.shape()[0], cols = g.shape()[1];
    Array<T> out = xt::zeros<T>(shape);
    T* o = out.data();
    const T* p = g.data();
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < cols; ++c) o[c] += p[r * cols + c];
    return out;
  }
  // General case: walk g with an odometer; each element adds into the target element whose index
  // is g's index with the broadcast axes (leading ones, and those stretched from 1) set to 0.
  const std::size_t lead = gd - sd;
  std::vector<std::size_t> tstride(gd, 0);  // target stride per axis of g (0 where broadcast)
  std::size_t stride = 1;
  for (std::size_t i = gd; i-- > lead;) {
    const std::size_t want = shape[i - lead];
    if (want != 1 && want != g.shape()[i])
      throw AutogradError(fmt::format("sum_to: cannot reduce {} to {}", shape_str(g.shape()), shape_str(shape)));
    tstride[i] = want == 1 ? 0 : stride;
    stride *= want;
  }
  Array<T> out = xt::zeros<T>(shape);
  std::vector<std::size_t> idx(gd, 0);
  std::size_t target = 0;
  const T* p = g.data();
  T* o = out.data();
  for (std::size_t k = 0; k < g.size(); ++k) {
    o[target] += p[k];
    for (std::size_t d = gd; d-- > 0;) {  // increment the odometer, keeping target in step
      target += tstride[d];
      if (++idx[d] < g.shape()[d]) break;
      target -= tstride[d] * idx[d];
      idx[d] = 0;
    }
  }
  return out;
}

// add: y = a + b                               ga += sum_to(gy), gb += sum_to(gy)
template <class T>
Var<T> add(const Var<T>& a, const Var<T>& b) {
  return binary<T>(Op::add, a, b,
      [](Array<T>& y, const Array<T>& a, const Array<T>& b) { xt::noalias(y) = a + b; },
      [](Tape<T>& t, Node<T>& n) {
        const Array<T>& gy = n.grad;
        SumToGrad ga(t, n.in[0]), gb(t, n.in[1]);
        ga += gy;
        gb += gy;
      });
}

// sub: y = a - b                               ga += sum_to(gy), gb += sum_to(-gy)
template <class T>
Var<T> sub(const Var<T>& a, const Var<T>& b) {
  return binary<T>(Op::sub, a, b,
      [](Array<T>& y, const Array<T>& a, const Array<T>& b) { xt::noalias(y) = a - b; },
      [](Tape<T>& t, Node<T>& n) {
        const Array<T>& gy = n.grad;
        SumToGrad ga(t, n.in[0]), gb(t, n.in[1]);
        ga += gy;
        if (gb.wanted()) gb += Array<T>(-gy);
      });
}

// mul: y = a ⊙ b                               ga += sum_to(gy·b), gb += sum_to(gy·a)
template <class T>
Var<T> mul(const Var<T>& a, const Var<T>& b) {
  return binary<T>(Op::mul, a, b,
      [](Array<T>& y, const Array<T>& a, const Array<T>& b) { xt::noalias(y) = a * b; },
      [](Tape<T>& t, Node<T>& n) {
        // TASK 1.3 mul: ga += sum_to(gy · b), gb += sum_to(gy · a)   (SumToGrad reduces a broadcast)
        const Array<T>& gy = n.grad;
        const Array<T>& a = t.val(n.in[0]);
        const Array<T>& b = t.val(n.in[1]);
        SumToGrad ga(t, n.in[0]), gb(t, n.in[1]);
        ga += gy * b;
        gb += gy * a;
        // END TASK
      });
}

// div: y = a / b                               ga += sum_to(gy / b), gb += sum_to(-gy·y / b)
template <class T>
Var<T> div(const Var<T>& a, const Var<T>& b) {
  return binary<T>(Op::div, a, b,
      [](Array<T>& y, const Array<T>& a, const Array<T>& b) { xt::noalias(y) = a / b; },
      [](Tape<T>& t, Node<T>& n) {
        // TASK 1.4 div: ga += sum_to(gy / b), gb += sum_to(−gy · y / b)   (∂(a/b)/∂b = −a/b² = −y/b)
        const Array<T>& gy = n.grad;
        const Array<T>& b = t.val(n.in[1]);
        const Array<T>& y = n.value;
        SumToGrad ga(t, n.in[0]), gb(t, n.in[1]);
        ga += gy / b;
        gb += -gy * y / b;
        // END TASK
      });
}

// ---- for float (training) and double (gradient checks): autograd/op_helpers.hpp -------------------
// Every op of this file, once; a new op's address goes here too.
template <class T>
auto elementwise_ops() {
  return std::tuple{&neg<T>, &add_scalar<T>, &mul_scalar<T>, &rsub_scalar<T>, &rdiv_scalar<T>, &pow<T>,
                    &log<T>, &log1p<T>, &square<T>, &abs<T>, &relu<T>, &elu<T>, &softplus<T>,
                    &log_sigmoid<T>, &clamp<T>, &exp<T>, &sqrt<T>, &tanh<T>, &sigmoid<T>,
                    &add<T>, &sub<T>, &mul<T>, &div<T>};
}
template auto elementwise_ops<float>();
template auto elementwise_ops<double>();
static_assert(std::tuple_size_v<decltype(elementwise_ops<float>())> == ops_in_groups({"elementwise", "binary"}),
              "ops_elementwise.cpp: elementwise_ops() must list every op of the groups 'elementwise' and "
              "'binary' in kOps, once: add the new op's address to it");

// sum_to is a helper, not an op: instantiated by hand.
template Array<float> sum_to(const Array<float>&, const Shape&);
template Array<double> sum_to(const Array<double>&, const Shape&);

}  // namespace tz
