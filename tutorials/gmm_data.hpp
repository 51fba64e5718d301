// tapezoo tutorials 02 and 03: the Gaussian mixture they both fit, and the point both fits start from.
//
// Tutorial 02 fits it by EM, tutorial 03 by gradient ascent on the tape; with the same seed they see
// the same points and the same start, so their results can be compared number for number.
// Random draws, in this order: make_data() draws the mixture and its points, initial_parameters()
// then draws the K k-means++ seeds.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "autograd/random.hpp"
#include "datasets/synthetic.hpp"
#include "models/gmm.hpp"

namespace tz::tutorial::gmm_data {

// The mixture: K = 3 components in D = 2 dimensions.
constexpr std::size_t K = 3, D = 2;

// N points from three 2-D Gaussians with known π, μ, Σ (returned with the points, as the truth).
tz::MixtureData make_data(std::size_t n, tz::Rng& rng);

// k-means++ seeding (Arthur & Vassilvitskii 2007): K data points, the first uniformly at random,
// each next one with probability ∝ D(x_n)², its squared distance to the nearest point chosen so far.
std::vector<std::size_t> kmeans_pp_seeds(const tz::models::gmm::Matrix& x, tz::Rng& rng);

// The start: π_k = 1/K, μ_k = the k-means++ seeds, Σ_k = the covariance of all the data (every
// component starts as wide as the whole data set). seeds_out, if given, receives the seeds' rows.
tz::models::gmm::Parameters initial_parameters(const tz::models::gmm::Matrix& x, tz::Rng& rng,
                                       std::vector<std::size_t>* seeds_out = nullptr);

// ---- the ELBO's pieces on plain loops, for both tutorials ----------------------------------------
// a = GaussianMixture::log_joint(x), a_nk = log π_k + log N(x_n | μ_k, Σ_k) [N, K]; q, r: [N, K].

// log Σ_k e^{a_nk}, stably: m + log Σ_k e^{a_nk − m} with m = max_k a_nk (docs/pitfalls.md#logsumexp).
double logsumexp_row(const tz::models::gmm::Matrix& a, std::size_t n);
// (1/N) ℓ(θ) = (1/N) Σ_n log Σ_k e^{a_nk}
double mean_log_likelihood(const tz::models::gmm::Matrix& a);
// (1/N) ELBO(q, θ) = (1/N) Σ_n Σ_k q_nk (a_nk − log q_nk), with 0 log 0 = 0.
double mean_elbo(const tz::models::gmm::Matrix& q, const tz::models::gmm::Matrix& a);
// (1/N) Σ_n KL(q_n ‖ r_n) = (1/N) Σ_n Σ_k q_nk log(q_nk / r_nk), computed directly.
double mean_kl(const tz::models::gmm::Matrix& q, const tz::models::gmm::Matrix& r);

// One iteration of EM by hand (e_step, then m_step), every link of the chain
//   ℓ(θ_new) ≥ ELBO(r, θ_new) ≥ ELBO(r, θ) = ℓ(θ) ≥ ELBO(q_old, θ)
// measured in nats per point.
struct EmIteration {
  double ll = 0;          // (1/N) ℓ(θ) before the E-step
  double gap_before = 0;  // ℓ − ELBO(q_old, θ): q_old, the previous r (iteration 1: uniform)
  double kl_before = 0;   // KL(q_old ‖ r), computed directly: equals gap_before when r is p(z | x, θ)
  double gap_after = 0;   // ℓ − ELBO(r, θ): 0 when the E-step is the posterior
  double m_rise = 0;      // ELBO(r, θ_new) − ELBO(r, θ): ≥ 0 when the M-step maximises the ELBO
};

// EM from init (set on model) until |Δℓ| < tol or max_iter iterations; model ends at the last θ.
std::vector<EmIteration> em_by_hand(const tz::models::gmm::Matrix& x, tz::models::gmm::GaussianMixture& model,
                                    const tz::models::gmm::Parameters& init, std::size_t max_iter, double tol);

// Per-label moments of points x with labels z: the frequency N_k / N, the mean and the covariance
// (1/N_k) Σ_{z_n = k} (x_n − x̄_k)(x_n − x̄_k)ᵀ of each label, and the counts N_k.
struct LabelMoments {
  std::vector<double> freq, count;
  tz::models::gmm::Matrix mean;
  xt::xarray<double> cov;  // [K, D, D]
};
LabelMoments moments_by_label(const tz::models::gmm::Matrix& x, const std::vector<std::size_t>& z);

// The permutation of the fitted components that best matches the true ones (smallest Σ ‖μ − μ*‖²):
// fitted component perm[k] plays true component k.
std::vector<std::size_t> match_components(const tz::models::gmm::Matrix& means, const tz::models::gmm::Matrix& truth);

// "(a, b)" and the 2×2 covariance [[a, b], [b, c]] as "[[a, b], [b, c]]", for printing.
std::string vec2(double a, double b);
std::string cov2(double a, double b, double c);

// log N(x_n; μ_k, Σ_k) for D = 2 from the density's definition, with Σ_k itself (not the model's
// Cholesky factors of the precisions): N(x; μ, Σ) = exp(−½ (x − μ)ᵀ Σ⁻¹ (x − μ)) / (2π √det Σ).
double log_normal_by_hand(const tz::models::gmm::Matrix& x, std::size_t n, const tz::models::gmm::GaussianMixture& m,
                          std::size_t k);
// Bayes' rule for every point by hand: max_nk |r_nk − resp_nk|, and *mean_log_p = (1/N) Σ_n log p(x_n).
double bayes_by_hand_error(const tz::models::gmm::Matrix& x, const tz::models::gmm::GaussianMixture& m,
                           const tz::models::gmm::Matrix& resp, double* mean_log_p);

}  // namespace tz::tutorial::gmm_data
