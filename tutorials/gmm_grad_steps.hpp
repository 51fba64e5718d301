// tapezoo tutorial 03: steps 5 and 6, why the parameterization of a covariance matters, and the
// 2×2 helpers they need (see 03_gmm_gradient.cpp for the story they belong to).
//
// f(Σ) = Σ_n w_n log N(x_n | μ, Σ), w_n = r_nk / N_k, is the part of the ELBO that component k's
// covariance controls (its maximiser is the M-step's Σ_k). Step 5 takes one gradient step on it in
// two parameterizations, raw Σ = [[a, b], [b, c]] and the Cholesky factor of the precision; step 6
// runs whole fits in both, with anomaly mode on.
#pragma once

#include <optional>
#include <string>

#include <fmt/format.h>

#include "autograd/tape.hpp"
#include "models/gmm.hpp"
#include "tutorials/tutorial.hpp"

namespace tz::tutorial::gmm_grad {

// ---- 2×2 symmetric matrices [[a, b], [b, c]] on plain doubles ------------------------------------
struct Sym2 {
  double a, b, c;
  double det() const { return a * c - b * b; }
  // eigenvalues (a + c)/2 ∓ √(((a − c)/2)² + b²): positive definite iff λ_min > 0
  double lambda_min() const { return 0.5 * (a + c) - std::hypot(0.5 * (a - c), b); }
  double lambda_max() const { return 0.5 * (a + c) + std::hypot(0.5 * (a - c), b); }
  Sym2 inverse() const { return {c / det(), -b / det(), a / det()}; }
  std::string str() const { return fmt::format("[[{:.3f}, {:.3f}], [{:.3f}, {:.3f}]]", a, b, b, c); }
};

// Σ_k of a 2-D full-covariance mixture.
Sym2 covariance(const tz::models::gmm::GaussianMixture& m, std::size_t k);

// What the two halves of step 5 share: component k's centred data u, v and weights w, its Σ̂, the
// start Σ₀ = 2Σ̂, the gradients there (the tape's g_raw, the matrix calculus' g_matrix), the start's
// Cholesky factor (p00, p01, p11) and the Σ₀ it gives back, (P₀ P₀ᵀ)⁻¹.
struct OneComponent {
  tz::Array<double> u, v, w;
  Sym2 s_hat{0, 0, 0}, sigma0{0, 0, 0}, round_trip{0, 0, 0};
  double g_raw[3] = {0, 0, 0}, g_matrix[3] = {0, 0, 0}, g_chol[3] = {0, 0, 0};
  double p00 = 0, p01 = 0, p11 = 0;
};

// Step 5, first half: the narrowest component of em's fit of x (2-D, full covariances) with its
// responsibilities held fixed, Σ₀ = 2Σ̂, and the gradient of f at Σ₀ in each parameterization.
OneComponent step_gradients_at_twice_too_wide(Tutorial& t, const tz::models::gmm::Matrix& x,
                                              const tz::models::gmm::GaussianMixture& em);

// What one gradient step of each kind did over the η of the table: the largest deviation of the raw
// λ_min(Σ₁) from 2λ − η/(8λ), λ = λ_min(Σ̂); the first η whose raw step left the cone; the raw
// λ_min at the largest η; and the smallest Cholesky λ_min over all η.
struct OneStep {
  double theory_err = 0, lambda_hat_min = 0;
  std::optional<double> first_bad_eta;
  double eta_last = 0, raw_min_at_last = 0, chol_min_over_all = 0;
};

// Step 5, second half: one gradient step on a raw Σ can leave the positive-definite cone; on the
// Cholesky factor of Σ⁻¹ it cannot.
OneStep step_one_step_each_way(Tutorial& t, const OneComponent& c);

// What step 6's fits did: how many raw and Cholesky runs stopped at a NaN or inf (anomaly mode), out
// of how many learning rates, and the smallest λ_min over the Cholesky runs.
struct FitComparison {
  int raw_failures = 0, chol_failures = 0, n_rates = 0;
  double chol_lambda_min = 0;
};

// Step 6: the same inside whole fits, from init, at several learning rates; ll_em: EM's (1/N) ℓ.
FitComparison step_same_inside_a_fit(Tutorial& t, const tz::Array<double>& x_array,
                                     const tz::models::gmm::Options& options,
                                     const tz::models::gmm::Parameters& init, double ll_em);

}  // namespace tz::tutorial::gmm_grad
