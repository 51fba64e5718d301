// tapezoo: the fused ops, the engine's fast paths. Each computes what a composite of the table's
// plain ops computes, in one node and one pass, and its comment names that composite: the textbook
// code it stands in for. The callers choose between the two with tz::textbook()
// (autograd/path.hpp): nn::MLP records `linear` then `elu` on the textbook path and `linear_elu`
// on the fast one; log_bernoulli_with_logits (distributions/distributions.cpp) records
// `sum(x * l - softplus(l), -1)` or `log_bernoulli`. tests/test_fast_paths.cpp runs both and
// compares values and gradients; docs/fast-paths.md lists every pair and what each buys.
//
// Both are vectorised with xsimd batches when the build defines XTENSOR_USE_XSIMD (the `simd`
// option, docs/pitfalls.md#simd-flags), with a scalar loop for the tail; plain loops otherwise.
// Each op: its kOps row as a one-line comment, then its forward, then its backward.
#include <algorithm>
#include <cmath>
#include <tuple>
#include <vector>

#ifdef XTENSOR_USE_XSIMD
#include <xsimd/xsimd.hpp>
#endif

#include "autograd/op_helpers.hpp"
#include "autograd/simd_softplus.hpp"  // softplus_simd, softplus_scalar

namespace tz {

using detail::record;
using detail::reduced_shape;
using detail::softplus_scalar;
#ifdef XTENSOR_USE_XSIMD
using detail::softplus_simd;
#endif

// ---- the Bernoulli log-likelihood from logits ------------------------------------------------------

namespace {

// y_r = Σ_j [x_rj·l_rj − softplus(l_rj)]: one vectorised pass per row.
template <class T>
void log_bernoulli_forward(const Array<T>& xv, const Array<T>& lv, Array<T>& out) {
  const std::size_t d = xv.shape()[xv.dimension() - 1], rows = xv.size() / d;
  out.resize(reduced_shape(xv.shape(), xv.dimension() - 1, false));
  const T* px = xv.data();
  const T* pl = lv.data();
  T* y = out.data();
  for (std::size_t r = 0; r < rows; ++r) {
    const std::size_t o = r * d;
    double s = 0;
    std::size_t j = 0;
#ifdef XTENSOR_USE_XSIMD
    using B = xsimd::batch<T>;
    constexpr std::size_t S = B::size;
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
}

// gl += gy·(x − σ(l)), into g (beta 0: assign, 1: add).
template <class T>
void log_bernoulli_grad_logits(const T* gy, const T* px, const T* pl, std::size_t rows, std::size_t d, T beta,
                               T* g) {
  for (std::size_t r = 0; r < rows; ++r) {
    const std::size_t o = r * d;
    std::size_t j = 0;
#ifdef XTENSOR_USE_XSIMD
    using B = xsimd::batch<T>;
    constexpr std::size_t S = B::size;
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

}  // namespace

// log_bernoulli: y = Σ_last x·l − softplus(l) (fused)  gl += gy·(x − σ(l)), gx += gy·l
// In full: y_r = Σ_j [x_rj·l_rj − softplus(l_rj)] over the last axis, softplus(l) = max(l,0) + log1p(e^−|l|);
// gl += gy_r·(x_rj − σ(l_rj)), gx += gy_r·l_rj.
// The textbook code it replaces: sum(x * l - softplus(l), -1), four nodes (mul, softplus, sub,
// sum_axis) and five [n, d] arrays, each pass reading and writing all of them; this op is one pass
// each way, and it calls xsimd's exp (and log1p_unit, autograd/simd_softplus.hpp) in batches where xtensor 0.24 calls the
// scalar log1pf per element. Not bit for bit the composite: the lanes sum in T before the row sum
// in double (the composite sums in double), the gradient is gy·(x − σ(l)) where the composite adds
// gy·x and −gy/(1 + e^−l), and log1p(e^−|l|) comes from log1p_unit where softplus calls libm's;
// tests/test_fast_paths.cpp bounds the difference. The formula is the stable one
// (docs/pitfalls.md#bernoulli-logits): no log σ(l), and σ(l) = 1/(1 + e^−l) saturates to 0 or 1
// without NaN.
template <class T>
Var<T> log_bernoulli(const Var<T>& x, const Var<T>& logits) {
  if (x.dim() == 0 || x.shape() != logits.shape())
    throw AutogradError(fmt::format("log_bernoulli: expected x and logits of one shape [..., d], got {} and {}",
                                    shape_str(x.shape()), shape_str(logits.shape())));
  return record<T>(Op::log_bernoulli, {x, logits},
      [](Tape<T>& t, Node<T>& n) { log_bernoulli_forward(t.val(n.in[0]), t.val(n.in[1]), n.value); },
      [](Tape<T>& t, Node<T>& n) {
        const T* gy = n.grad.data();
        const Array<T>& x = t.val(n.in[0]);
        const Array<T>& l = t.val(n.in[1]);
        const std::size_t d = x.shape()[x.dimension() - 1], rows = x.size() / d;
        T beta;
        if (t.wants_grad(n.in[1])) {  // gl += gy·(x − σ(l))
          T* gl = t.grad_dest(n.in[1], beta).data();
          log_bernoulli_grad_logits(gy, x.data(), l.data(), rows, d, beta, gl);
        }
        if (t.wants_grad(n.in[0])) {  // gx += gy·l
          T* gx = t.grad_dest(n.in[0], beta).data();
          for (std::size_t r = 0; r < rows; ++r)
            for (std::size_t j = 0; j < d; ++j) {
              const T v = gy[r] * l.data()[r * d + j];
              gx[r * d + j] = beta != T(0) ? gx[r * d + j] + v : v;
            }
        }
      });
}

// ---- a hidden layer with its activation ------------------------------------------------------------

// linear_elu: h = elu(x @ W + b) (bias, activation fused)  gy = gh·(h > 0 ? 1 : h + 1), then linear's
// The textbook code it replaces: elu(linear(x, W, b)), two nodes (nn::MLP records them so on the
// textbook path). Here the activation is applied in place on the gemm's output, so the layer
// keeps one [n, out] array instead of two and its backward makes one pass less. With
// y = x @ W + b and elu'(y) = e^y = h + 1 for y ≤ 0 (h > 0 exactly when y > 0). The arithmetic is
// the composite's: linear's own products (detail::linear_forward, detail::linear_backward), then
// elu's formulas with the same functions (xsimd's expm1 over whole batches of the aligned array
// and libm's on the tail, as xtensor's elu; gy = gh·(h + 1) as elu's backward), so values and
// gradients are equal bit for bit (tests/test_fast_paths.cpp).
template <class T>
Var<T> linear_elu(const Var<T>& x, const Var<T>& W, const Var<T>& b) {
  detail::check_linear("linear_elu", x, W, b);
  return record<T>(Op::linear_elu, {x, W, b},
      [](Tape<T>& t, Node<T>& nd) {
        detail::linear_forward(t, nd);
        T* h = nd.value.data();  // y = x @ W + b, made h = elu(y) in place
        const std::size_t size = nd.value.size();
        std::size_t i = 0;
#ifdef XTENSOR_USE_XSIMD
        using B = xsimd::batch<T>;
        for (; i + B::size <= size; i += B::size) {
          const B v = B::load_unaligned(h + i);
          xsimd::select(v > B(T(0)), v, xsimd::expm1(v)).store_unaligned(h + i);
        }
#endif
        for (; i < size; ++i) h[i] = h[i] > T(0) ? h[i] : std::expm1(h[i]);
      },
      [](Tape<T>& t, Node<T>& nd) {
        const T* gh = nd.grad.data();
        const T* h = nd.value.data();
        // gy goes to a scratch buffer, so the node's own gradient stays dLoss/dh for print() and DOT.
        thread_local std::vector<T> gy;
        const std::size_t size = nd.value.size();
        gy.resize(size);
        for (std::size_t i = 0; i < size; ++i) gy[i] = h[i] > T(0) ? gh[i] : gh[i] * (h[i] + T(1));
        detail::linear_backward(t, nd, gy.data());
      });
}

// ---- for float (training) and double (gradient checks): autograd/op_helpers.hpp -------------------
// Every op of this file, once; a new op's address goes here too.
template <class T>
auto fused_ops() {
  return std::tuple{&log_bernoulli<T>, &linear_elu<T>};
}
template auto fused_ops<float>();
template auto fused_ops<double>();
static_assert(std::tuple_size_v<decltype(fused_ops<float>())> == ops_in_groups({"fused"}),
              "ops_fused.cpp: fused_ops() must list every op of the group 'fused' in kOps, once: add the "
              "new op's address to it");

}  // namespace tz
