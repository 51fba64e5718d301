// tapezoo tutorial 03: steps 5 and 6, why the parameterization of a covariance matters, and the
// 2×2 helpers they need (see 03_gmm_gradient.cpp for the story they belong to).
//
// f(Σ) = Σ_n w_n log N(x_n | μ, Σ), w_n = r_nk / N_k, is the part of the ELBO that component k's
// covariance controls (its maximiser is the M-step's Σ_k). Step 5 takes one gradient step on it in
// two parameterizations, raw Σ = [[a, b], [b, c]] and the Cholesky factor of the precision; step 6
// runs whole fits in both, with anomaly mode on.
#pragma once

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

// Step 5: one gradient step on a raw Σ can leave the positive-definite cone; on the Cholesky factor
// of Σ⁻¹ it cannot. em: EM's fit of x (2-D, full covariances).
void step_raw_step_leaves_the_cone(Tutorial& t, const tz::models::gmm::Matrix& x,
                                   const tz::models::gmm::GaussianMixture& em);

// Step 6: the same inside whole fits, from init, at several learning rates; ll_em: EM's (1/N) ℓ.
void step_same_inside_a_fit(Tutorial& t, const tz::Array<double>& x_array, const tz::models::gmm::Options& options,
                            const tz::models::gmm::Parameters& init, double ll_em);

}  // namespace tz::tutorial::gmm_grad
