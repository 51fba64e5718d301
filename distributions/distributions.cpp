// tapezoo distributions: compositions of ops, each next to its formula.
#include "distributions/distributions.hpp"
#include "distributions/constants.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

#include "autograd/ops_fused_gaussian.hpp"
#include "autograd/ops_fused_gmvae.hpp"
#include "autograd/ops_fused_zoo.hpp"
#include "autograd/path.hpp"

namespace tz {


template <class T>
Var<T> sample_gaussian(const Var<T>& m, const Var<T>& v, const Var<T>& eps) {
  // TASK 5.1 sample_gaussian: z = m + √v ⊙ ε   (v is a variance: its square root is the standard deviation)
  // z = m + √v ⊙ ε
  if (textbook() || v.shape() != m.shape() || eps.shape() != m.shape()) return m + sqrt(v) * eps;
  // END TASK
  // Fast path: the same z in one node, one pass each way instead of three nodes (reparameterize,
  // autograd/ops_fused_gaussian.cpp; the same bits, tests/test_fast_paths_gaussian.cpp).
  return reparameterize(m, v, eps);
}

template <class T>
Var<T> sample_gaussian(const Var<T>& m, const Var<T>& v, Rng& rng) {
  Shape s(m.shape().begin(), m.shape().end());
  return sample_gaussian(m, v, m.tape().constant(rng.normal<T>(s), "ε"));
}

template <class T>
Var<T> log_normal(const Var<T>& x, const Var<T>& m, const Var<T>& v) {
  // TASK 5.2 log_normal: log N(x; m, diag v), summed over the last axis   → [n]
  // −½ Σ_j [log 2π + log v_j + (x_j − m_j)² / v_j]
  Var<T> terms = log(v) + square(x - m) / v;
  return -0.5 * (sum(terms, -1) + kLog2Pi * static_cast<double>(terms.shape().back()));
  // END TASK
}

template <class T>
static Var<T> log_normal_components(const Var<T>& z, const Var<T>& m, const Var<T>& v) {
  // log N(z_n; m_i, v_i) for every pair: z [n,1,d] against m, v [1,k,d] → [n, k]
  if (z.dim() != 2 || m.dim() != 2 || v.dim() != 2 || m.shape()[1] != z.shape()[1] || v.shape() != m.shape())
    throw AutogradError(fmt::format("log_normal_mixture: expected z [n,d] and m, v [k,d], got z {}, m {}, v {}",
                                    shape_str(z.shape()), shape_str(m.shape()), shape_str(v.shape())));
  const auto n = static_cast<std::ptrdiff_t>(z.shape()[0]), d = static_cast<std::ptrdiff_t>(z.shape()[1]);
  const auto k = static_cast<std::ptrdiff_t>(m.shape()[0]);
  return log_normal(reshape(z, {n, 1, d}), reshape(m, {1, k, d}), reshape(v, {1, k, d}));
}

// The fast path of both mixtures below: the same log-sum-exp over the same [n, k] table in one
// fused node, the square expanded so that its cross term Σ_d z_nd m_id / v_id is one gemm, instead
// of [n, k, d] arrays built and summed back (autograd/ops_fused_zoo.cpp, normal_mixture: within
// float rounding of the composite, with the bound it states; tests/test_fast_paths_models.cpp).

template <class T>
Var<T> log_normal_mixture(const Var<T>& z, const Var<T>& m, const Var<T>& v) {
  // TASK 7.1 log_normal_mixture: the GMVAE's prior, log (1/k) Σ_i N(z; m_i, diag v_i), in log space   → [n]
  // log (1/k) Σ_i N(z; m_i, v_i) = log_mean_exp_i log N(z; m_i, v_i)
  if (textbook()) return log_mean_exp(log_normal_components(z, m, v), 1);
  // END TASK
  // Fast path: the same mixture with uniform weights log(1/k), one fused node (see above).
  const std::size_t k = m.dim() == 2 ? m.shape()[0] : 0;
  Array<T> log_w = xt::full_like(Array<T>::from_shape({k}), static_cast<T>(-std::log(static_cast<double>(k))));
  return normal_mixture(z, m, v, z.tape().constant(std::move(log_w), "log(1/k)"));
}

template <class T>
Var<T> log_normal_mixture(const Var<T>& z, const Var<T>& m, const Var<T>& v, const Var<T>& log_pi) {
  // log Σ_i π_i N(z; m_i, v_i) = logsumexp_i (log π_i + log N(z; m_i, v_i))
  if (textbook() || log_pi.dim() != 1) return logsumexp(log_normal_components(z, m, v) + log_pi, 1);
  return normal_mixture(z, m, v, log_pi);
}

template <class T>
Var<T> log_bernoulli_with_logits(const Var<T>& x, const Var<T>& logits) {
  // log p(x | l) = Σ_j [x_j l_j − softplus(l_j)], softplus(l) = max(l, 0) + log1p(e^−|l|): the
  // stable form, never log σ(l) (docs/pitfalls.md#bernoulli-logits). It broadcasts x against l.
  // TASK 5.5 log_bernoulli_with_logits: the textbook line, Σ_j [x_j l_j − softplus(l_j)]: finite at l = ±1000
  if (textbook() || x.shape() != logits.shape()) return sum(x * logits - softplus(logits), -1);
  // END TASK
  // Fast path: the same sum as one fused op, one pass each way instead of four nodes and five
  // [n, d] arrays (autograd/ops_fused.cpp; equal within float rounding, tests/test_fast_paths.cpp).
  return log_bernoulli(x, logits);
}

template <class T>
Var<T> kl_normal(const Var<T>& qm, const Var<T>& qv, const Var<T>& pm, const Var<T>& pv) {
  // TASK 5.3 kl_normal: KL(N(qm, qv) ‖ N(pm, pv)) per row   → [n]   (≥ 0, and 0 when q = p)
  // ½ Σ_j [log pv − log qv + qv/pv + (qm − pm)²/pv − 1]
  Var<T> terms = log(pv) - log(qv) + qv / pv + square(qm - pm) / pv;
  return 0.5 * (sum(terms, -1) - static_cast<double>(terms.shape().back()));
  // END TASK
}

template <class T>
Var<T> kl_cat(const Var<T>& q, const Var<T>& log_q, const Var<T>& log_p) {
  // Σ_j q_j (log q_j − log p_j)
  return sum(q * (log_q - log_p), -1);
}

template <class T>
Var<T> log_mean_exp(const Var<T>& x, int axis) {
  // TASK 5.4 log_mean_exp: log (1/k) Σ_i e^{x_i} along axis, stable for x of ±1000 (never exponentiate x itself)
  // logsumexp(x) − log k
  const std::size_t ax = axis < 0 ? x.dim() + axis : static_cast<std::size_t>(axis);
  return logsumexp(x, axis) - std::log(static_cast<double>(x.shape()[ax]));
  // END TASK
}

template <class T>
Array<T> one_hot(const std::vector<int>& labels, std::size_t classes) {
  Array<T> out = xt::zeros<T>({labels.size(), classes});
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || static_cast<std::size_t>(labels[i]) >= classes)
      throw std::invalid_argument(fmt::format("one_hot: label {} at row {} is outside [0, {})", labels[i], i, classes));
    out(i, static_cast<std::size_t>(labels[i])) = T(1);
  }
  return out;
}

template <class T>
Var<T> cross_entropy(const Var<T>& logits, const std::vector<int>& labels) {
  // −Σ_j onehot(y)_j log softmax(l)_j
  if (logits.dim() != 2 || logits.shape()[0] != labels.size())
    throw AutogradError(fmt::format("cross_entropy: expected logits [n, classes] for {} labels, got {}",
                                    labels.size(), shape_str(logits.shape())));
  Var<T> y = logits.tape().constant(one_hot<T>(labels, logits.shape()[1]), "onehot(y)");
  return -sum(y * log_softmax(logits, 1), 1);
}

template <class T>
Gaussian<T> gaussian_parameters(const Var<T>& h) {
  // m = h[:, :d], v = softplus(h[:, d:]) + 1e-8 (CS236): a variance that is always positive
  if (h.dim() != 2 || h.shape()[1] % 2 != 0)
    throw AutogradError(fmt::format("gaussian_parameters: expected h [n, 2d], got {}", shape_str(h.shape())));
  const std::size_t d = h.shape()[1] / 2;
  if (textbook()) return {narrow(h, 1, 0, d), softplus(narrow(h, 1, d, d)) + 1e-8};
  // Fast path: v in one node that reads h's second half in place (softplus_rows,
  // autograd/ops_fused_gmvae.cpp; within a few ε, tests/test_fast_paths_gmvae.cpp).
  return {narrow(h, 1, 0, d), softplus_rows(h, 1, d, d, 1e-8)};
}

template <class T>
Var<T> duplicate(const Var<T>& x, std::size_t k) {
  return tile(x, k);
}

// ---- KL to the standard normal prior ------------------------------------------------------------

template <class T>
Var<T> kl_std_normal(const Var<T>& m, const Var<T>& v) {
  // KL(N(m, diag v) ‖ N(0, I)) = ½ Σ_j (v_j + m_j² − 1 − log v_j)      (Kingma & Welling 2014, App. B)
  // written ½ [Σ_j (v_j − log v_j + m_j²) − d]: kl_normal(m, v, 0, 1)'s operations, in its order, less
  // those that are exact (log 1 = 0, division by 1), so that the two agree to the last bit
  const double d = static_cast<double>(m.shape().back());
  if (textbook() || v.shape() != m.shape()) return 0.5 * (sum(v - log(v) + square(m), -1) - d);
  // Fast path: the same sums in one node, one pass each way instead of seven nodes
  // (autograd/ops_fused_gaussian.cpp; the same bits, tests/test_fast_paths_gaussian.cpp).
  return kl_std_normal_fused(m, v);
}

// ---- log-mean-exp over doubles ------------------------------------------------------------------

double log_mean_exp(const double* x, std::size_t n, std::size_t stride) {
  if (n == 0) throw std::invalid_argument("log_mean_exp: needs at least one value");
  double mx = -std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < n; ++i) mx = std::max(mx, x[i * stride]);
  if (std::isinf(mx)) return mx;  // all −inf (or one +inf): the shift below would give NaN
  // max + log((1/n) Σ_i e^{x_i − max}): every exponent ≤ 0, and the largest term is e⁰ = 1
  double s = 0;
  for (std::size_t i = 0; i < n; ++i) s += std::exp(x[i * stride] - mx);
  return mx + std::log(s / static_cast<double>(n));
}

#define TZ_DIST(T)                                                                                 \
  template Var<T> sample_gaussian(const Var<T>&, const Var<T>&, Rng&);                             \
  template Var<T> sample_gaussian(const Var<T>&, const Var<T>&, const Var<T>&);                    \
  template Var<T> log_normal(const Var<T>&, const Var<T>&, const Var<T>&);                         \
  template Var<T> log_normal_mixture(const Var<T>&, const Var<T>&, const Var<T>&);                 \
  template Var<T> log_normal_mixture(const Var<T>&, const Var<T>&, const Var<T>&, const Var<T>&);  \
  template Var<T> log_bernoulli_with_logits(const Var<T>&, const Var<T>&);                         \
  template Var<T> kl_normal(const Var<T>&, const Var<T>&, const Var<T>&, const Var<T>&);           \
  template Var<T> kl_cat(const Var<T>&, const Var<T>&, const Var<T>&);                             \
  template Var<T> log_mean_exp(const Var<T>&, int);                                                \
  template Var<T> cross_entropy(const Var<T>&, const std::vector<int>&);                           \
  template Gaussian<T> gaussian_parameters(const Var<T>&);                                         \
  template Var<T> duplicate(const Var<T>&, std::size_t);                                           \
  template Array<T> one_hot(const std::vector<int>&, std::size_t);
TZ_DIST(float)
TZ_DIST(double)
template Var<float> kl_std_normal(const Var<float>&, const Var<float>&);
template Var<double> kl_std_normal(const Var<double>&, const Var<double>&);

}  // namespace tz
