// tapezoo: elementwise and binary ops. Each op: its formula and derivative on one comment line,
// then push (inputs and backward), then the forward value. Forwards are xtensor expressions
// assigned into the node's own container (vectorised with xsimd).
#include <xtensor/xmath.hpp>
#include <xtensor/xoperation.hpp>
#include <xtensor/xnoalias.hpp>
#include <xtensor/xtensor.hpp>

#include "autograd/op_helpers.hpp"

namespace tz {

using detail::accumulate_sum_to;

// Records a unary op: pushes the node, then lets `forward` fill y from x. Forwards assign with
// xt::noalias: y is this node's own buffer, never read by the expression, so xtensor need not
// build a temporary (which cost half the time of a tiny op).
template <class T, class F>
static Var<T> unary(Op op, const Var<T>& x, BackwardFn<T> bw, F&& forward, double c0 = 0, double c1 = 0) {
  Tape<T>& t = x.tape();
  const std::uint32_t id = t.push(op, {x}, bw);
  Node<T>& n = t.node(id);
  n.c0 = c0;
  n.c1 = c1;
  forward(n.value, t.val(x));
  return t.finish(id);
}

// ---- elementwise, derivative from x ---------------------------------------------------------------

// y = -x                          gx += -gy
template <class T>
Var<T> neg(const Var<T>& x) {
  return unary<T>(Op::neg, x,
      [](Tape<T>& t, Node<T>& n) { t.accumulate(n.in[0], -n.grad); },
      [](Array<T>& y, const Array<T>& x) { xt::noalias(y) = -x; });
}

// y = x + c                       gx += gy
template <class T>
Var<T> add_scalar(const Var<T>& x, double c) {
  return unary<T>(Op::add_scalar, x,
      [](Tape<T>& t, Node<T>& n) { t.accumulate(n.in[0], n.grad); },
      [c](Array<T>& y, const Array<T>& x) { xt::noalias(y) = x + static_cast<T>(c); }, c);
}

// y = c·x                         gx += c·gy
template <class T>
Var<T> mul_scalar(const Var<T>& x, double c) {
  return unary<T>(Op::mul_scalar, x,
      [](Tape<T>& t, Node<T>& n) { t.accumulate(n.in[0], static_cast<T>(n.c0) * n.grad); },
      [c](Array<T>& y, const Array<T>& x) { xt::noalias(y) = static_cast<T>(c) * x; }, c);
}

// y = c - x                       gx += -gy
template <class T>
Var<T> rsub_scalar(double c, const Var<T>& x) {
  return unary<T>(Op::rsub_scalar, x,
      [](Tape<T>& t, Node<T>& n) { t.accumulate(n.in[0], -n.grad); },
      [c](Array<T>& y, const Array<T>& x) { xt::noalias(y) = static_cast<T>(c) - x; }, c);
}

// y = c / x                       gx += -gy·c / x²  (= -gy·y / x)
template <class T>
Var<T> rdiv_scalar(double c, const Var<T>& x) {
  return unary<T>(Op::rdiv_scalar, x,
      [](Tape<T>& t, Node<T>& n) {
        const Array<T>& x = t.val(n.in[0]);
        t.accumulate(n.in[0], -n.grad * static_cast<T>(n.c0) / (x * x));
      },
      [c](Array<T>& y, const Array<T>& x) { xt::noalias(y) = static_cast<T>(c) / x; }, c);
}

// y = x^p                         gx += gy·p·x^(p-1)
template <class T>
Var<T> pow(const Var<T>& x, double p) {
  return unary<T>(Op::pow_scalar, x,
      [](Tape<T>& t, Node<T>& n) {
        const Array<T>& x = t.val(n.in[0]);
        const T p = static_cast<T>(n.c0);
        if (p == T(0)) return;                                    // y = 1: no gradient
        if (p == T(1)) t.accumulate(n.in[0], n.grad);
        else if (p == T(2)) t.accumulate(n.in[0], T(2) * n.grad * x);
        else t.accumulate(n.in[0], n.grad * p * xt::pow(x, p - T(1)));
      },
      [p](Array<T>& y, const Array<T>& x) { xt::noalias(y) = xt::pow(x, static_cast<T>(p)); }, p);
}

// y = log x                       gx += gy / x
template <class T>
Var<T> log(const Var<T>& x) {
  return unary<T>(Op::log, x,
      [](Tape<T>& t, Node<T>& n) { t.accumulate(n.in[0], n.grad / t.val(n.in[0])); },
      [](Array<T>& y, const Array<T>& x) { xt::noalias(y) = xt::log(x); });
}

// y = log(1 + x)                  gx += gy / (1 + x)
template <class T>
Var<T> log1p(const Var<T>& x) {
  return unary<T>(Op::log1p, x,
      [](Tape<T>& t, Node<T>& n) { t.accumulate(n.in[0], n.grad / (T(1) + t.val(n.in[0]))); },
      [](Array<T>& y, const Array<T>& x) { xt::noalias(y) = xt::log1p(x); });
}

// y = x²                          gx += 2·gy·x
template <class T>
Var<T> square(const Var<T>& x) {
  return unary<T>(Op::square, x,
      [](Tape<T>& t, Node<T>& n) { t.accumulate(n.in[0], T(2) * n.grad * t.val(n.in[0])); },
      [](Array<T>& y, const Array<T>& x) { xt::noalias(y) = x * x; });
}

// y = |x|                         gx += gy·sign(x)        (0 at x = 0, as PyTorch)
template <class T>
Var<T> abs(const Var<T>& x) {
  return unary<T>(Op::abs, x,
      [](Tape<T>& t, Node<T>& n) { t.accumulate(n.in[0], n.grad * xt::sign(t.val(n.in[0]))); },
      [](Array<T>& y, const Array<T>& x) { xt::noalias(y) = xt::abs(x); });
}

// y = max(x, 0)                   gx += gy·[x > 0]        (0 at x = 0)
template <class T>
Var<T> relu(const Var<T>& x) {
  return unary<T>(Op::relu, x,
      [](Tape<T>& t, Node<T>& n) {
        t.accumulate(n.in[0], xt::where(t.val(n.in[0]) > T(0), n.grad, T(0)));
      },
      [](Array<T>& y, const Array<T>& x) { xt::noalias(y) = xt::maximum(x, T(0)); });
}

// y = x if x > 0 else e^x - 1      gx += gy·(x > 0 ? 1 : e^x) = gy·(x > 0 ? 1 : y + 1)
template <class T>
Var<T> elu(const Var<T>& x) {
  return unary<T>(Op::elu, x,
      [](Tape<T>& t, Node<T>& n) {
        t.accumulate(n.in[0], xt::where(t.val(n.in[0]) > T(0), n.grad, n.grad * (n.value + T(1))));
      },
      [](Array<T>& y, const Array<T>& x) { xt::noalias(y) = xt::where(x > T(0), x, xt::expm1(x)); });
}

// y = max(x,0) + log1p(e^-|x|)    gx += gy·sigmoid(x)     (never log(1 + e^x): e^89 overflows float)
template <class T>
Var<T> softplus(const Var<T>& x) {
  return unary<T>(Op::softplus, x,
      [](Tape<T>& t, Node<T>& n) {
        t.accumulate(n.in[0], n.grad / (T(1) + xt::exp(-t.val(n.in[0]))));
      },
      [](Array<T>& y, const Array<T>& x) {
        xt::noalias(y) = xt::maximum(x, T(0)) + xt::log1p(xt::exp(-xt::abs(x)));
      });
}

// y = -softplus(-x) = min(x,0) - log1p(e^-|x|)     gx += gy·sigmoid(-x)
template <class T>
Var<T> log_sigmoid(const Var<T>& x) {
  return unary<T>(Op::log_sigmoid, x,
      [](Tape<T>& t, Node<T>& n) {
        t.accumulate(n.in[0], n.grad / (T(1) + xt::exp(t.val(n.in[0]))));
      },
      [](Array<T>& y, const Array<T>& x) {
        xt::noalias(y) = xt::minimum(x, T(0)) - xt::log1p(xt::exp(-xt::abs(x)));
      });
}

// y = min(max(x, lo), hi)         gx += gy·[lo ≤ x ≤ hi]  (zero gradient outside the range)
template <class T>
Var<T> clamp(const Var<T>& x, double lo, double hi) {
  if (!(lo <= hi))
    throw AutogradError(fmt::format("clamp: the range [{}, {}] is empty (lo must be <= hi)", lo, hi));
  return unary<T>(Op::clamp, x,
      [](Tape<T>& t, Node<T>& n) {
        const Array<T>& x = t.val(n.in[0]);
        const T lo = static_cast<T>(n.c0), hi = static_cast<T>(n.c1);
        t.accumulate(n.in[0], xt::where(x >= lo && x <= hi, n.grad, T(0)));
      },
      [lo, hi](Array<T>& y, const Array<T>& x) {
        xt::noalias(y) = xt::clip(x, static_cast<T>(lo), static_cast<T>(hi));
      }, lo, hi);
}

// ---- elementwise, derivative from y ---------------------------------------------------------------

// y = e^x                         gx += gy·y
template <class T>
Var<T> exp(const Var<T>& x) {
  return unary<T>(Op::exp, x,
      [](Tape<T>& t, Node<T>& n) { t.accumulate(n.in[0], n.grad * n.value); },
      [](Array<T>& y, const Array<T>& x) { xt::noalias(y) = xt::exp(x); });
}

// y = √x                          gx += gy / (2y)
template <class T>
Var<T> sqrt(const Var<T>& x) {
  return unary<T>(Op::sqrt, x,
      [](Tape<T>& t, Node<T>& n) { t.accumulate(n.in[0], n.grad / (T(2) * n.value)); },
      [](Array<T>& y, const Array<T>& x) { xt::noalias(y) = xt::sqrt(x); });
}

// y = tanh x                      gx += gy·(1 - y²)
template <class T>
Var<T> tanh(const Var<T>& x) {
  return unary<T>(Op::tanh, x,
      [](Tape<T>& t, Node<T>& n) { t.accumulate(n.in[0], n.grad * (T(1) - n.value * n.value)); },
      [](Array<T>& y, const Array<T>& x) { xt::noalias(y) = xt::tanh(x); });
}

// y = 1 / (1 + e^-x)              gx += gy·y·(1 - y)
template <class T>
Var<T> sigmoid(const Var<T>& x) {
  return unary<T>(Op::sigmoid, x,
      [](Tape<T>& t, Node<T>& n) { t.accumulate(n.in[0], n.grad * n.value * (T(1) - n.value)); },
      [](Array<T>& y, const Array<T>& x) { xt::noalias(y) = T(1) / (T(1) + xt::exp(-x)); });
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

template <class T, class F>
static Var<T> binary(Op op, const Var<T>& a, const Var<T>& b, BackwardFn<T> bw, F&& forward) {
  Tape<T>& t = a.tape();
  const char* name = op_name(op).data();
  const Shape out = broadcast_shape(name, detail::to_shape(a.shape()), detail::to_shape(b.shape()));
  const std::uint32_t id = t.push(op, {a, b}, bw);
  Node<T>& n = t.node(id);
  n.value.resize(out);
  forward(n.value, t.val(a), t.val(b));
  return t.finish(id);
}

// y = a + b                       ga += sum_to(gy), gb += sum_to(gy)
template <class T>
Var<T> add(const Var<T>& a, const Var<T>& b) {
  return binary<T>(Op::add, a, b,
      [](Tape<T>& t, Node<T>& n) {
        accumulate_sum_to(t, n.in[0], n.grad);
        accumulate_sum_to(t, n.in[1], n.grad);
      },
      [](Array<T>& y, const Array<T>& a, const Array<T>& b) { xt::noalias(y) = a + b; });
}

// y = a - b                       ga += sum_to(gy), gb += sum_to(-gy)
template <class T>
Var<T> sub(const Var<T>& a, const Var<T>& b) {
  return binary<T>(Op::sub, a, b,
      [](Tape<T>& t, Node<T>& n) {
        accumulate_sum_to(t, n.in[0], n.grad);
        if (t.wants_grad(n.in[1])) accumulate_sum_to(t, n.in[1], Array<T>(-n.grad));
      },
      [](Array<T>& y, const Array<T>& a, const Array<T>& b) { xt::noalias(y) = a - b; });
}

// y = a ⊙ b                       ga += sum_to(gy·b), gb += sum_to(gy·a)
template <class T>
Var<T> mul(const Var<T>& a, const Var<T>& b) {
  return binary<T>(Op::mul, a, b,
      [](Tape<T>& t, Node<T>& n) {
        const Array<T>& a = t.val(n.in[0]);
        const Array<T>& b = t.val(n.in[1]);
        accumulate_sum_to(t, n.in[0], n.grad * b);
        accumulate_sum_to(t, n.in[1], n.grad * a);
      },
      [](Array<T>& y, const Array<T>& a, const Array<T>& b) { xt::noalias(y) = a * b; });
}

// y = a / b                       ga += sum_to(gy / b), gb += sum_to(-gy·y / b)
template <class T>
Var<T> div(const Var<T>& a, const Var<T>& b) {
  return binary<T>(Op::div, a, b,
      [](Tape<T>& t, Node<T>& n) {
        const Array<T>& b = t.val(n.in[1]);
        accumulate_sum_to(t, n.in[0], n.grad / b);
        accumulate_sum_to(t, n.in[1], -n.grad * n.value / b);
      },
      [](Array<T>& y, const Array<T>& a, const Array<T>& b) { xt::noalias(y) = a / b; });
}

// ---- instantiation for float (training) and double (gradient checks) ------------------------------
#define TZ_UNARY(f) template Var<float> f(const Var<float>&); template Var<double> f(const Var<double>&);
#define TZ_BINARY(f)                                                    \
  template Var<float> f(const Var<float>&, const Var<float>&);         \
  template Var<double> f(const Var<double>&, const Var<double>&);
TZ_UNARY(neg) TZ_UNARY(log) TZ_UNARY(log1p) TZ_UNARY(square) TZ_UNARY(abs) TZ_UNARY(relu)
TZ_UNARY(elu) TZ_UNARY(softplus) TZ_UNARY(log_sigmoid) TZ_UNARY(exp) TZ_UNARY(sqrt)
TZ_UNARY(tanh) TZ_UNARY(sigmoid)
TZ_BINARY(add) TZ_BINARY(sub) TZ_BINARY(mul) TZ_BINARY(div)
template Var<float> add_scalar(const Var<float>&, double);
template Var<double> add_scalar(const Var<double>&, double);
template Var<float> mul_scalar(const Var<float>&, double);
template Var<double> mul_scalar(const Var<double>&, double);
template Var<float> rsub_scalar(double, const Var<float>&);
template Var<double> rsub_scalar(double, const Var<double>&);
template Var<float> rdiv_scalar(double, const Var<float>&);
template Var<double> rdiv_scalar(double, const Var<double>&);
template Var<float> pow(const Var<float>&, double);
template Var<double> pow(const Var<double>&, double);
template Var<float> clamp(const Var<float>&, double, double);
template Var<double> clamp(const Var<double>&, double, double);
template Array<float> sum_to(const Array<float>&, const Shape&);
template Array<double> sum_to(const Array<double>&, const Shape&);

}  // namespace tz
