// tapezoo: the SSVAE's fused ops (declared in autograd/ops_fused_ssvae.hpp). Like the engine's own
// (autograd/ops_fused.cpp), each computes what a composite of the table's plain ops computes, its
// comment names that composite, and the caller chooses between the two with tz::textbook():
// SSVAE::encode records gaussian_variance or gaussian_parameters' `softplus(narrow(h)) + 1e-8`
// (models/ssvae_fast.cpp). tests/test_fast_paths_ssvae.cpp compares the two paths.
// Each op: its kOps row as a one-line comment, then its forward, then its backward.
#include <algorithm>
#include <cmath>
#include <tuple>

#include "autograd/op_helpers.hpp"
#include "autograd/ops_fused_ssvae.hpp"
#include "autograd/simd_softplus.hpp"  // softplus_simd, softplus_scalar

namespace tz {

using detail::record;

namespace {

// v_j = softplus(y_j) + c, j < size: xsimd batches (log_bernoulli's softplus), the tail in scalars.
template <class T>
void softplus_plus(const T* y, T c, T* v, std::size_t size) {
  std::size_t j = 0;
#ifdef XTENSOR_USE_XSIMD
  using B = xsimd::batch<T>;
  for (; j + B::size <= size; j += B::size)
    (detail::softplus_simd(B::load_unaligned(y + j)) + B(c)).store_unaligned(v + j);
#endif
  for (; j < size; ++j) v[j] = detail::softplus_scalar(y[j]) + c;
}

// g_j (+)= gv_j·σ(y_j), σ(y) = 1/(1 + e^−y) (0 for y = −inf, 1 for y = +inf: never NaN); add or assign.
template <class T>
void times_sigmoid(const T* gv, const T* y, T* g, std::size_t size, bool add) {
  std::size_t j = 0;
#ifdef XTENSOR_USE_XSIMD
  using B = xsimd::batch<T>;
  const B one(T(1));
  for (; j + B::size <= size; j += B::size) {
    B r = B::load_unaligned(gv + j) * (one / (one + xsimd::exp(-B::load_unaligned(y + j))));
    if (add) r += B::load_unaligned(g + j);
    r.store_unaligned(g + j);
  }
#endif
  for (; j < size; ++j) {
    const T r = gv[j] * (T(1) / (T(1) + std::exp(-y[j])));
    g[j] = add ? g[j] + r : r;
  }
}

}  // namespace

// ---- the variance of a Gaussian head, read in place --------------------------------------------------

// gauss_var: v = softplus(h[:, d:]) + 1e-8, h [n, 2d]   gh[:, d:] += gv·σ(h[:, d:])
// The textbook code it replaces: softplus(narrow(h, 1, d, d)) + 1e-8 (gaussian_parameters,
// distributions/distributions.cpp, CS236's variance: positive, and at least 1e-8), three nodes and
// two more [n, d] arrays. Here each row's second half is read where it lies, softplus runs in xsimd
// batches (log_bernoulli's, autograd/simd_softplus.hpp) where xtensor 0.24 calls libm's log1pf and
// expf per element, and the backward writes h's gradient directly: d/dy softplus(y) = σ(y), and the
// mean half h[:, :d] gets 0 from this node (narrow's backward adds its own). Not bit for bit: the
// float series for log1p(e^−|y|) is within a few ε of libm's (tests/test_fast_paths.cpp bounds it at
// 24ε), and σ(y) is rounded as 1/(1 + e^−y) times gv where softplus's backward divides gv by
// 1 + e^−y; tests/test_fast_paths_ssvae.cpp checks both against the composite.
template <class T>
Var<T> gaussian_variance(const Var<T>& h) {
  if (h.dim() != 2 || h.shape()[1] == 0 || h.shape()[1] % 2 != 0)
    throw AutogradError(fmt::format("gaussian_variance: expected h [n, 2d] with d ≥ 1, got {}", shape_str(h.shape())));
  return record<T>(Op::gauss_var, {h},
      [](Tape<T>& t, Node<T>& nd) {
        const Array<T>& hv = t.val(nd.in[0]);
        const std::size_t n = hv.shape()[0], d = hv.shape()[1] / 2;
        nd.value.resize(Shape{n, d});
        for (std::size_t r = 0; r < n; ++r)  // v_r = softplus(h_r[d:]) + 1e-8
          softplus_plus(hv.data() + r * 2 * d + d, static_cast<T>(1e-8), nd.value.data() + r * d, d);
      },
      [](Tape<T>& t, Node<T>& nd) {
        if (!t.wants_grad(nd.in[0])) return;
        const Array<T>& hv = t.val(nd.in[0]);
        const std::size_t n = hv.shape()[0], d = hv.shape()[1] / 2;
        T beta;
        T* gh = t.grad_dest(nd.in[0], beta).data();
        for (std::size_t r = 0; r < n; ++r) {  // gh_r[d:] += gv_r·σ(h_r[d:]); a first write zeroes gh_r[:d]
          T* row = gh + r * 2 * d;
          if (beta == T(0)) std::fill(row, row + d, T(0));
          times_sigmoid(nd.grad.data() + r * d, hv.data() + r * 2 * d + d, row + d, d, beta != T(0));
        }
      });
}

// ---- for float (training) and double (gradient checks): autograd/op_helpers.hpp -------------------
// Every op of this file, once; a new op's address goes here too.
template <class T>
auto fused_ssvae_ops() {
  return std::tuple{&gaussian_variance<T>};
}
template auto fused_ssvae_ops<float>();
template auto fused_ssvae_ops<double>();
static_assert(std::tuple_size_v<decltype(fused_ssvae_ops<float>())> == ops_in_groups({"fused_ssvae"}),
              "ops_fused_ssvae.cpp: fused_ssvae_ops() must list every op of the group 'fused_ssvae' in kOps, "
              "once: add the new op's address to it");

}  // namespace tz
