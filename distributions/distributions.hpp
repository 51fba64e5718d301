// tapezoo distributions: differentiable log-densities and divergences, named as in CS236 and the
// literature. Each is a composition of ops from autograd/ops.hpp (so its gradient is checked op
// by op), written in its numerically stable form. Densities of a batch [n, d] reduce over the
// last axis and return shape [n].
#pragma once

#include <cstddef>
#include <vector>

#include "autograd/ops.hpp"
#include "autograd/random.hpp"
#include "distributions/constants.hpp"  // kLog2Pi

namespace tz {

// z = m + √v ⊙ ε, ε ~ N(0, I) drawn once into a constant (the reparameterization trick).
template <class T> Var<T> sample_gaussian(const Var<T>& m, const Var<T>& v, Rng& rng);
// The same with the noise given (for tests and for sharing ε between two computations).
template <class T> Var<T> sample_gaussian(const Var<T>& m, const Var<T>& v, const Var<T>& eps);

// log N(x; m, diag v) = −½ Σ_j [log 2π + log v_j + (x_j − m_j)² / v_j]      → [n]
template <class T> Var<T> log_normal(const Var<T>& x, const Var<T>& m, const Var<T>& v);

// Uniform mixture: log (1/k) Σ_i N(z; m_i, diag v_i), z [n, d], m and v [k, d]   → [n]
template <class T> Var<T> log_normal_mixture(const Var<T>& z, const Var<T>& m, const Var<T>& v);
// Weighted mixture: log Σ_i π_i N(z; m_i, diag v_i), with log π given as [k] (normalised)   → [n]
template <class T> Var<T> log_normal_mixture(const Var<T>& z, const Var<T>& m, const Var<T>& v,
                                             const Var<T>& log_pi);

// log Bernoulli(x; σ(l)) = x·l − softplus(l) = −[max(l,0) − l·x + log1p(e^−|l|)], summed   → [n]
// Never log(sigmoid(l)): that is −inf in float for l < −88 (docs/pitfalls.md#bernoulli-logits). d/dl = x − σ(l).
template <class T> Var<T> log_bernoulli_with_logits(const Var<T>& x, const Var<T>& logits);

// KL(N(qm, qv) ‖ N(pm, pv)) = ½ Σ_j [log(pv/qv) + qv/pv + (qm − pm)²/pv − 1]   → [n]
template <class T> Var<T> kl_normal(const Var<T>& qm, const Var<T>& qv, const Var<T>& pm, const Var<T>& pv);

// ---- KL to the standard normal prior ------------------------------------------------------------
// KL(N(m, diag v) ‖ N(0, I)) = ½ Σ_j (v_j + m_j² − 1 − log v_j)   per row   → [n]
// (Kingma & Welling 2014, "Auto-Encoding Variational Bayes", App. B). kl_normal(m, v, 0, 1) to the bit,
// with the exact operations (log 1 = 0, division by 1) left out: the closed-form KL of every VAE with
// prior N(0, I).
template <class T> Var<T> kl_std_normal(const Var<T>& m, const Var<T>& v);

// KL(q ‖ p) for categoricals = Σ_j q_j (log q_j − log p_j), given q, log q, log p   → [n]
template <class T> Var<T> kl_cat(const Var<T>& q, const Var<T>& log_q, const Var<T>& log_p);

// log (1/k) Σ_i e^{x_i} along axis = logsumexp(x, axis) − log k   (stable; for IWAE)
template <class T> Var<T> log_mean_exp(const Var<T>& x, int axis);

// ---- log-mean-exp over doubles (no tape) ---------------------------------------------------------
// log (1/n) Σ_i e^{x_i} over x[0], x[stride], …, x[(n−1)·stride] = max + log((1/n) Σ_i e^{x_i − max}),
// stable for log weights of −1000 or +1000 (docs/pitfalls.md#logsumexp): the evaluation of −L_k
// without a tape. All −inf gives −inf; n must be at least 1.
double log_mean_exp(const double* x, std::size_t n, std::size_t stride = 1);

// −log softmax(logits)_y per row, labels y in [0, classes)   → [n]
template <class T> Var<T> cross_entropy(const Var<T>& logits, const std::vector<int>& labels);

// Splits h [n, 2d] into the mean (first half) and the variance softplus(second half) + 1e-8.
template <class T> struct Gaussian { Var<T> m, v; };
template <class T> Gaussian<T> gaussian_parameters(const Var<T>& h);

// k copies of the batch stacked on axis 0: [n, …] → [k·n, …] (row c·n + i is example i).
template <class T> Var<T> duplicate(const Var<T>& x, std::size_t k);

// A one-hot matrix [n, classes] (a constant) for labels y.
template <class T> Array<T> one_hot(const std::vector<int>& labels, std::size_t classes);

}  // namespace tz
