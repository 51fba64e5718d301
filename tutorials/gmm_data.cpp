// tapezoo tutorials 02 and 03: the shared mixture data and starting point (see gmm_data.hpp).
#include "tutorials/gmm_data.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include <fmt/format.h>

#include "distributions/constants.hpp"

namespace tz::tutorial::gmm_data {

using tz::models::gmm::Matrix;

tz::MixtureData make_data(std::size_t n, tz::Rng& rng) {
  tz::MixtureOptions o;
  o.mean_scale = 2.5;       // μ_k ~ N(0, 2.5² I) …
  o.min_separation = 2.5;   // … redrawn until every two are at least 2.5 apart: clusters that touch
  o.var_min = 0.25;
  o.var_max = 1.2;
  return tz::make_gaussian_mixture(n, K, D, rng, o);
}

std::vector<std::size_t> kmeans_pp_seeds(const Matrix& x, tz::Rng& rng) {
  const std::size_t N = x.shape(0);
  std::vector<std::size_t> seeds{rng.below(N)};
  std::vector<double> d2(N, HUGE_VAL);
  while (seeds.size() < K) {
    const std::size_t c = seeds.back();
    for (std::size_t n = 0; n < N; ++n) {
      double s = 0;
      for (std::size_t j = 0; j < D; ++j) s += (x(n, j) - x(c, j)) * (x(n, j) - x(c, j));
      d2[n] = std::min(d2[n], s);
    }
    seeds.push_back(rng.categorical(d2));
  }
  return seeds;
}

tz::models::gmm::Parameters initial_parameters(const Matrix& x, tz::Rng& rng, std::vector<std::size_t>* seeds_out) {
  const std::size_t N = x.shape(0);
  tz::models::gmm::Parameters init;
  init.weights = xt::ones<double>({K}) / static_cast<double>(K);
  init.means = Matrix::from_shape({K, D});
  const std::vector<std::size_t> seeds = kmeans_pp_seeds(x, rng);
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t j = 0; j < D; ++j) init.means(k, j) = x(seeds[k], j);
  double mean[D] = {0, 0}, cov[D][D] = {{0, 0}, {0, 0}};
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t j = 0; j < D; ++j) mean[j] += x(n, j) / static_cast<double>(N);
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t i = 0; i < D; ++i)
      for (std::size_t j = 0; j < D; ++j) cov[i][j] += (x(n, i) - mean[i]) * (x(n, j) - mean[j]) / N;
  init.covariances = xt::xarray<double>::from_shape({K, D, D});
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t i = 0; i < D; ++i)
      for (std::size_t j = 0; j < D; ++j) init.covariances(k, i, j) = cov[i][j];
  if (seeds_out) *seeds_out = seeds;
  return init;
}

double logsumexp_row(const Matrix& a, std::size_t n) {
  double m = -std::numeric_limits<double>::infinity();
  for (std::size_t k = 0; k < a.shape(1); ++k) m = std::max(m, a(n, k));
  double s = 0;
  for (std::size_t k = 0; k < a.shape(1); ++k) s += std::exp(a(n, k) - m);
  return m + std::log(s);
}

double mean_log_likelihood(const Matrix& a) {
  double s = 0;
  for (std::size_t n = 0; n < a.shape(0); ++n) s += logsumexp_row(a, n);
  return s / static_cast<double>(a.shape(0));
}

double mean_elbo(const Matrix& q, const Matrix& a) {
  double s = 0;
  for (std::size_t n = 0; n < q.shape(0); ++n)
    for (std::size_t k = 0; k < q.shape(1); ++k)
      if (q(n, k) > 0) s += q(n, k) * (a(n, k) - std::log(q(n, k)));
  return s / static_cast<double>(q.shape(0));
}

double mean_kl(const Matrix& q, const Matrix& r) {
  double s = 0;
  for (std::size_t n = 0; n < q.shape(0); ++n)
    for (std::size_t k = 0; k < q.shape(1); ++k)
      if (q(n, k) > 0) s += q(n, k) * std::log(q(n, k) / r(n, k));
  return s / static_cast<double>(q.shape(0));
}

std::vector<EmIteration> em_by_hand(const Matrix& x, tz::models::gmm::GaussianMixture& model,
                                    const tz::models::gmm::Parameters& init, std::size_t max_iter, double tol) {
  const std::size_t N = x.shape(0), Kc = init.weights.size();
  std::vector<EmIteration> out;
  Matrix q_old = xt::ones<double>({N, Kc}) / static_cast<double>(Kc), resp;
  model.set_parameters(init, "the initial parameters");
  for (std::size_t iter = 1; iter <= max_iter; ++iter) {
    EmIteration it;
    const Matrix a = model.log_joint(x);
    it.ll = mean_log_likelihood(a);
    it.gap_before = it.ll - mean_elbo(q_old, a);
    model.e_step(x, resp);  // E-step: q = r = p(z | x, θ)
    it.kl_before = mean_kl(q_old, resp);
    const double elbo = mean_elbo(resp, a);
    it.gap_after = it.ll - elbo;
    model.m_step(x, resp);  // M-step: θ_new = argmax_θ ELBO(r, θ)
    it.m_rise = mean_elbo(resp, model.log_joint(x)) - elbo;
    const bool done = !out.empty() && std::abs(it.ll - out.back().ll) < tol;
    out.push_back(it);
    q_old = resp;
    if (done) break;
  }
  return out;
}

LabelMoments moments_by_label(const Matrix& x, const std::vector<std::size_t>& z) {
  const std::size_t N = x.shape(0);
  LabelMoments m;
  m.count.assign(K, 0.0);
  m.mean = xt::zeros<double>({K, D});
  m.cov = xt::zeros<double>({K, D, D});
  for (std::size_t n = 0; n < N; ++n) {
    m.count[z[n]] += 1;
    for (std::size_t i = 0; i < D; ++i) m.mean(z[n], i) += x(n, i);
  }
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t i = 0; i < D; ++i) m.mean(k, i) /= m.count[k];
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t i = 0; i < D; ++i)
      for (std::size_t j = 0; j < D; ++j)
        m.cov(z[n], i, j) += (x(n, i) - m.mean(z[n], i)) * (x(n, j) - m.mean(z[n], j)) / m.count[z[n]];
  for (std::size_t k = 0; k < K; ++k) m.freq.push_back(m.count[k] / static_cast<double>(N));
  return m;
}

std::vector<std::size_t> match_components(const Matrix& means, const Matrix& truth) {
  std::vector<std::size_t> perm(K), best;
  std::iota(perm.begin(), perm.end(), std::size_t{0});
  double best_cost = HUGE_VAL;
  do {
    double cost = 0;
    for (std::size_t k = 0; k < K; ++k)
      for (std::size_t j = 0; j < D; ++j) cost += std::pow(means(perm[k], j) - truth(k, j), 2);
    if (cost < best_cost) best_cost = cost, best = perm;
  } while (std::next_permutation(perm.begin(), perm.end()));
  return best;
}

std::string vec2(double a, double b) { return fmt::format("({:6.3f}, {:6.3f})", a, b); }

std::string cov2(double a, double b, double c) { return fmt::format("[[{:.3f}, {:.3f}], [{:.3f}, {:.3f}]]", a, b, b, c); }

// log N(x; μ_k, Σ_k) for D = 2 straight from the density's definition,
//   N(x; μ, Σ) = exp(−½ (x − μ)ᵀ Σ⁻¹ (x − μ)) / (2π √det Σ),   Σ⁻¹ = [[c, −b], [−b, a]] / det Σ
// for Σ = [[a, b], [b, c]]: from the covariances themselves, independent of the Cholesky factors of
// the precisions that the model's E-step computes with (models/gmm_em.cpp, models/gmm_kernels.cpp).
double log_normal_by_hand(const Matrix& x, std::size_t n, const tz::models::gmm::GaussianMixture& m, std::size_t k) {
  const auto& S = m.covariances();
  const double a = S(k, 0, 0), b = S(k, 0, 1), c = S(k, 1, 1), det = a * c - b * b;
  const double u = x(n, 0) - m.means()(k, 0), v = x(n, 1) - m.means()(k, 1);
  return -tz::kLog2Pi - 0.5 * std::log(det) - 0.5 * (c * u * u - 2 * b * u * v + a * v * v) / det;
}

// Bayes' rule for every point by hand, in log space: b_nk = log π_k + log N(x_n; μ_k, Σ_k) from the
// densities above, r_nk = e^{b_nk − logsumexp_k b_nk}. Returns max_nk |r_nk − resp_nk| and sets
// *mean_log_p = (1/N) Σ_n logsumexp_k b_nk. Both sides round differently in exp and log of |b| ≲ 30:
// ~1e-14, so the checks allow 1e-12.
double bayes_by_hand_error(const Matrix& x, const tz::models::gmm::GaussianMixture& m, const Matrix& resp,
                           double* mean_log_p) {
  const std::size_t N = x.shape(0);
  Matrix b = Matrix::from_shape({N, K});
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t k = 0; k < K; ++k) b(n, k) = std::log(m.weights()(k)) + log_normal_by_hand(x, n, m, k);
  double err = 0;
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t k = 0; k < K; ++k) err = std::max(err, std::abs(resp(n, k) - std::exp(b(n, k) - logsumexp_row(b, n))));
  *mean_log_p = mean_log_likelihood(b);
  return err;
}

}  // namespace tz::tutorial::gmm_data
