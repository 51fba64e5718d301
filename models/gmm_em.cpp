// tapezoo: EM for the Gaussian mixture (see models/gmm.hpp for the generative model and API).
//
// EM as coordinate ascent on the ELBO (Neal & Hinton 1998; Bishop, PRML §9.4). For any
// distribution q(z_n) over the K components, Jensen's inequality bounds each log-likelihood:
//   log p(x_n) = log Σ_k q_nk · π_k N(x_n | μ_k, Σ_k) / q_nk
//             ≥ Σ_k q_nk [log π_k + log N(x_n | μ_k, Σ_k) − log q_nk]  =:  ELBO_n(q, θ)   (PRML 9.70)
// and the gap is log p(x_n) − ELBO_n(q, θ) = KL(q(z_n) ‖ p(z_n | x_n, θ)) ≥ 0          (PRML 9.72)
//
// E-step: maximise the ELBO over q with θ fixed. The KL is zero at q(z_n) = p(z_n | x_n, θ):
//   r_nk = π_k N(x_n | μ_k, Σ_k) / Σ_j π_j N(x_n | μ_j, Σ_j)                            (PRML 9.23)
// and the bound is tight: ELBO(r, θ_old) = log p(x | θ_old).
// M-step: maximise the ELBO over θ with q = r fixed; only Σ_n Σ_k r_nk log π_k N(x_n | μ_k, Σ_k)
// depends on θ, and its maximiser is closed form:
//   N_k = Σ_n r_nk,   π_k = N_k / N,   μ_k = (1/N_k) Σ_n r_nk x_n,                       (PRML 9.24-9.27)
//   Σ_k = (1/N_k) Σ_n r_nk (x_n − μ_k)(x_n − μ_k)ᵀ
// Hence log p(x | θ_new) ≥ ELBO(r, θ_new) ≥ ELBO(r, θ_old) = log p(x | θ_old): the log-likelihood
// never decreases. scikit-learn adds reg_covar·I to each Σ_k, which is the maximiser of the ELBO
// minus ½ reg_covar Σ_k N_k tr(Σ_k⁻¹); the log-likelihood may then fall by at most the change of
// that tiny penalty, which vanishes at a fixed point (the tests bound it).
//
// Everything happens in log space: log N is −½ D log 2π + log det P_k − ½ ‖(x − μ_k) P_k‖², with
// P_k the Cholesky factor of the precision, and the normaliser log p(x_n) is a max-shifted
// log-sum-exp over k, written as a loop (docs/pitfalls.md#lazy-reducers and #logsumexp).
//
// Two paths (autograd/path.hpp). The textbook path, e_step_textbook and m_step_textbook below, is
// the formulas as loops over points and components on plain arrays: read it first. The fast path,
// e_step_fast and m_step_fast, computes the same numbers 64 points at a time in the kernels'
// blocked layout (models/gmm_kernels.cpp, SIMD-vectorised, BLAS for D > 32); its M-step reads the
// data once, for N_k and the moments about the current means, and moves the second moments to the
// new means by the parallel-axis theorem. fit() takes the textbook path under --textbook
// (tz::textbook()), the fast one otherwise; tests/test_gmm_em.cpp proves the two equal.
//
// A component collapses when it sits on fewer distinct points than dimensions: its Σ_k becomes
// singular and log N(x | μ_k, Σ_k) → +∞ (PRML §9.2.1). reg_covar (default 1e-6) keeps Σ_k
// positive definite; with reg_covar = 0 the M-step stops with a ComponentCollapse that names the
// component and suggests reg_covar, rather than re-initialising it behind the user's back.
#include "models/gmm.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "autograd/parallel.hpp"
#include "autograd/path.hpp"
#include "distributions/constants.hpp"
#include "models/gmm_detail.hpp"
#include "models/gmm_kernels.hpp"

namespace tz::models::gmm {

using detail::kEps;
using detail::num;

namespace {

// P_k,ij, the (i, j) entry of component k's precision Cholesky factor, whatever the covariance type
// stores: full P[k, i, j]; tied the shared P[i, j]; diag diag(P[k, :]); spherical P[k] I.
// [[maybe_unused]]: its one caller is task 4.1's region, a stub in a student copy.
[[maybe_unused]] double precision_entry(CovarianceType type, const xt::xarray<double>& prec_chol, std::size_t k,
                                        std::size_t i, std::size_t j, std::size_t D) {
  const double* P = prec_chol.data();
  switch (type) {
    case CovarianceType::full: return P[(k * D + i) * D + j];
    case CovarianceType::tied: return P[i * D + j];
    case CovarianceType::diag: return i == j ? P[k * D + i] : 0.0;
    case CovarianceType::spherical: return i == j ? P[k] : 0.0;
  }
  return 0.0;
}

std::string collapse_message(std::size_t k, double nk, std::size_t N, double reg_covar, std::size_t K) {
  return "component " + std::to_string(k) + " has collapsed onto N_k = " + num(nk) + " of " + std::to_string(N) +
         " points (which may all be equal): its covariance is singular, or too narrow to resolve at the data's scale."
         " Increase reg_covar (now " + num(reg_covar) + "), or use fewer components (k = " + std::to_string(K) + ")";
}

void check_e_step(const Matrix& x, const Matrix& means, const char* caller) {
  if (means.size() == 0) throw std::logic_error(std::string(caller) + ": the model has no parameters yet: call fit() first");
  if (x.shape(1) != means.shape(1))
    throw std::invalid_argument(std::string(caller) + ": the data have d = " + std::to_string(x.shape(1)) +
                                " columns but the parameters have d = " + std::to_string(means.shape(1)));
}

void check_m_step(const Matrix& x, const Matrix& resp, std::size_t K, const char* caller) {
  if (resp.shape(1) != K || resp.shape(0) != x.shape(0))
    throw std::invalid_argument(std::string(caller) + ": resp has shape " + detail::shape_text(resp.shape()) +
                                " but the data need [" + std::to_string(x.shape(0)) + ", " + std::to_string(K) + "]");
}

}  // namespace

// ---- the textbook E-step ---------------------------------------------------------------------------

Matrix GaussianMixture::log_joint(const Matrix& x) const {
  check_e_step(x, means_, "log_joint");
  // TASK 4.1 log_joint: log ρ_nk = log π_k + log N(x_n; μ_k, Σ_k) = log π_k − ½ D log 2π + log det P_k − ½ ‖(x_n − μ_k) P_k‖²
  const std::size_t N = x.shape(0), D = x.shape(1), K = weights_.size();
  const CovarianceType type = options_.covariance_type;
  // log det P_k = Σ_d log P_k,dd, so that log N(x | μ_k, Σ_k) = −½ D log 2π + log det P_k − ½ ‖(x − μ_k) P_k‖²
  const Vector log_det = detail::log_det_cholesky(type, precisions_cholesky_, K, D);
  Matrix log_rho = Matrix::from_shape({N, K});
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t k = 0; k < K; ++k) {
      // ‖(x_n − μ_k) P_k‖² = Σ_j y_j²,  y_j = Σ_{i≤j} (x_ni − μ_ki) P_k,ij   (P_k upper triangular)
      double mahalanobis = 0;
      for (std::size_t j = 0; j < D; ++j) {
        double y = 0;
        for (std::size_t i = 0; i <= j; ++i)
          y += (x(n, i) - means_(k, i)) * precision_entry(type, precisions_cholesky_, k, i, j, D);
        mahalanobis += y * y;
      }
      // log ρ_nk = log π_k + log N(x_n; μ_k, Σ_k)
      log_rho(n, k) = std::log(weights_(k)) - 0.5 * static_cast<double>(D) * kLog2Pi + log_det(k) - 0.5 * mahalanobis;
    }
  return log_rho;
  // END TASK
}

double GaussianMixture::e_step_textbook(const Matrix& x, Matrix* resp, Vector* log_prob) const {
  // TASK 4.2 e_step_textbook: r_nk = exp(log ρ_nk − logsumexp_k log ρ_nk), in log space; returns (1/N) Σ_n log p(x_n)
  const std::size_t N = x.shape(0), K = weights_.size();
  // log ρ_nk = log π_k + log N(x_n; μ_k, Σ_k), [N, K]
  const Matrix log_rho = log_joint(x);
  if (resp) *resp = Matrix::from_shape({N, K});
  double total = 0;
  for (std::size_t n = 0; n < N; ++n) {
    // logsumexp_k log ρ_nk = m + log Σ_k e^{log ρ_nk − m},  m = max_k log ρ_nk   (docs/pitfalls.md#logsumexp)
    double m = -std::numeric_limits<double>::infinity(), s = 0;
    for (std::size_t k = 0; k < K; ++k) m = std::max(m, log_rho(n, k));
    for (std::size_t k = 0; k < K; ++k) s += std::exp(log_rho(n, k) - m);
    // log p(x_n) = logsumexp_k log ρ_nk
    const double log_p = m + std::log(s);
    // r_nk = exp(log ρ_nk − logsumexp_k log ρ_nk)
    if (resp)
      for (std::size_t k = 0; k < K; ++k) (*resp)(n, k) = std::exp(log_rho(n, k) - log_p);
    if (log_prob) (*log_prob)(n) = log_p;
    total += log_p;
  }
  // (1/N) Σ_n log p(x_n)
  return total / static_cast<double>(N);
  // END TASK
}

// ---- the textbook M-step ---------------------------------------------------------------------------

void GaussianMixture::m_step_textbook(const EmData& data, const Matrix& resp) {
  // TASK 4.3 m_step_textbook: N_k = Σ_n r_nk, π_k = N_k / N, μ_k = Σ_n r_nk x_n / N_k, Σ_k = Σ_n r_nk (x_n − μ_k)(x_n − μ_k)ᵀ / N_k + reg I
  const Matrix& x = data.x;
  const std::size_t N = x.shape(0), D = x.shape(1), K = resp.shape(1);
  const CovarianceType type = options_.covariance_type;
  const double reg = options_.reg_covar;
  // N_k = Σ_n r_nk  (+ 10 ε, scikit-learn's guard against 0/0 for an empty component)
  Vector nk = xt::zeros<double>({K});
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t k = 0; k < K; ++k) nk(k) += resp(n, k);
  nk += 10 * kEps;
  // π_k = N_k / N  (Σ_k N_k = N up to the guard, which this normalises away)
  double total = 0;
  for (std::size_t k = 0; k < K; ++k) total += nk(k);
  weights_ = nk / total;
  // μ_k = Σ_n r_nk x_n / N_k                                                           (PRML 9.24)
  means_ = xt::zeros<double>({K, D});
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t k = 0; k < K; ++k)
      for (std::size_t i = 0; i < D; ++i) means_(k, i) += resp(n, k) * x(n, i);
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t i = 0; i < D; ++i) means_(k, i) /= nk(k);
  // S_k = Σ_n r_nk (x_n − μ_k)(x_n − μ_k)ᵀ / N_k, the weighted covariance of each component [K, D, D]
  xt::xtensor<double, 3> S = xt::zeros<double>({K, D, D});
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t k = 0; k < K; ++k)
      for (std::size_t i = 0; i < D; ++i)
        for (std::size_t j = 0; j < D; ++j)
          S(k, i, j) += resp(n, k) * (x(n, i) - means_(k, i)) * (x(n, j) - means_(k, j));
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t i = 0; i < D; ++i)
      for (std::size_t j = 0; j < D; ++j) S(k, i, j) /= nk(k);
  xt::xarray<double> cov = xt::zeros<double>(covariance_shape(type, K, D));
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t i = 0; i < D; ++i)
      for (std::size_t j = 0; j < D; ++j) {
        const double eye = i == j ? reg : 0.0;
        switch (type) {
          // Σ_k = S_k + reg I                                                              (PRML 9.25)
          case CovarianceType::full: cov(k, i, j) = S(k, i, j) + eye; break;
          // Σ = Σ_k N_k S_k / Σ_k N_k + reg I: one covariance, pooled over the components
          case CovarianceType::tied: cov(i, j) += nk(k) * S(k, i, j) / total + (k == 0 ? eye : 0.0); break;
          // σ²_kd = (S_k)_dd + reg
          case CovarianceType::diag: if (i == j) cov(k, i) = S(k, i, i) + reg; break;
          // σ²_k = (1/D) Σ_d (S_k)_dd + reg
          case CovarianceType::spherical: if (i == j) cov(k) += (S(k, i, i) + reg) / static_cast<double>(D); break;
        }
      }
  set_m_step_covariances(std::move(cov), nk, data);
  // END TASK
}

void GaussianMixture::set_m_step_covariances(xt::xarray<double> covariances, const Vector& nk, const EmData& data) {
  const std::size_t K = options_.n_components, D = data.x.shape(1), N = data.x.shape(0);
  const CovarianceType type = options_.covariance_type;
  covariances_ = std::move(covariances);
  if (auto k = detail::compute_precision_cholesky(type, covariances_, K, D, precisions_cholesky_, data.max_p)) {
    if (*k >= K)
      throw ComponentCollapse("the tied covariance has collapsed: it is singular, or too narrow to resolve at the data's "
                              "scale. Increase reg_covar (now " + num(options_.reg_covar) + ")", K);
    throw ComponentCollapse(collapse_message(*k, nk(*k), N, options_.reg_covar, K), *k);
  }
}

// ---- the fast E-step: replaces e_step_textbook ----------------------------------------------------------
// The same log ρ_nk, log p(x_n) and r_nk, for 64 points at a time in the blocked layout of
// models/gmm_kernels.hpp (a_j[k·B + b] is log ρ for point b of block j), with SIMD kernels.

double GaussianMixture::e_step_fast(const EmData& data, kernels::Blocked* resp, Vector* log_prob) const {
  const kernels::Blocked& x = data.blocked;
  const std::size_t N = x.rows, D = x.cols, K = weights_.size(), B = kernels::kBlock;
  const CovarianceType type = options_.covariance_type;
  // log π_k − ½ D log 2π + log det P_k: the part of log ρ_nk that is the same for all n
  const Vector log_det = detail::log_det_cholesky(type, precisions_cholesky_, K, D);
  std::vector<double> constant(K);
  for (std::size_t k = 0; k < K; ++k) constant[k] = std::log(weights_(k)) - 0.5 * D * kLog2Pi + log_det(k);

  // Blocks in chunks of kernels::kChunkBlocks on the pool (autograd/parallel.hpp), each chunk with its
  // own scratch; the blocks' Σ_b log p(x_b) are added in block order, so ℓ is the same for every --threads.
  std::vector<double> block_total(x.n_blocks());
  parallel_for(chunk_count(x.n_blocks(), kernels::kChunkBlocks), [&](std::size_t chunk) {
    kernels::SquaredMahalanobis mahalanobis(type, means_, precisions_cholesky_);
    std::vector<double> a(resp ? 0 : K * B), log_p(B);
    const std::size_t j_end = std::min(x.n_blocks(), (chunk + 1) * kernels::kChunkBlocks);
    for (std::size_t j = chunk * kernels::kChunkBlocks; j < j_end; ++j) {
      const std::size_t rows = x.rows_in(j);
      double* a_j = resp ? resp->block(j) : a.data();  // a[k·B + b], turned into r_nk in place
      // ‖(x_n − μ_k) P_k‖² for the block
      mahalanobis(x, j, a_j);
      // log ρ_nk = log π_k − ½ D log 2π + log det P_k − ½ ‖(x_n − μ_k) P_k‖²
      for (std::size_t k = 0; k < K; ++k)
        for (std::size_t b = 0; b < B; ++b) a_j[k * B + b] = constant[k] - 0.5 * a_j[k * B + b];
      // log p(x_n) = logsumexp_k log ρ_nk and r_nk = e^{log ρ_nk − log p(x_n)}, in place
      block_total[j] = kernels::log_normalize_block(a_j, K, rows, log_p.data());
      if (log_prob)
        for (std::size_t b = 0; b < rows; ++b) (*log_prob)(j * B + b) = log_p[b];
    }
  });
  double total = 0;
  for (double t : block_total) total += t;
  return total / static_cast<double>(N);
}

// ---- the fast M-step: replaces m_step_textbook --------------------------------------------------------
// The data are read once, for N_k and the first and second moments about the current means
// (kernels::weighted_moments); the second moments then move to the new means by the parallel-axis
// theorem (scikit-learn makes one pass per moment and per component, as the textbook step does).

void GaussianMixture::m_step_fast(const EmData& data, const kernels::Blocked& resp) {
  const kernels::Blocked& x = data.blocked;
  const std::size_t D = x.cols, K = resp.cols;
  const CovarianceType type = options_.covariance_type;
  const double reg = options_.reg_covar;

  // One pass over the data: N_k and the first and second moments about a shift a_k, the current
  // μ_k (or, at initialisation, the data's mean), which keeps the subtraction below well conditioned.
  Matrix shift = Matrix::from_shape({K, D});
  const bool have_means = means_.shape(0) == K && means_.shape(1) == D;
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t j = 0; j < D; ++j) shift(k, j) = have_means ? means_(k, j) : data.mean(j);
  const bool full = type == CovarianceType::full || type == CovarianceType::tied;
  const kernels::Moments m = kernels::weighted_moments(x, resp, shift, full);

  // N_k = Σ_n r_nk  (+ 10 ε),   π_k = N_k / Σ_k N_k
  const Vector nk = m.n + 10 * kEps;
  const double total = xt::sum(nk)();
  weights_ = nk / total;

  // μ_k = (1/N_k) Σ_n r_nk x_n = a_k + δ_k,   δ_k = (1/N_k) Σ_n r_nk (x_n − a_k)        (PRML 9.24)
  Matrix delta = Matrix::from_shape({K, D});
  means_ = Matrix::from_shape({K, D});
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t j = 0; j < D; ++j) {
      delta(k, j) = m.m1(k, j) / nk(k);
      means_(k, j) = shift(k, j) + delta(k, j);
    }

  xt::xarray<double> covariances;
  // S_k = Σ_n r_nk (x_n − μ_k)(x_n − μ_k)ᵀ = Σ_n r_nk (x_n − a_k)(x_n − a_k)ᵀ − N_k δ_k δ_kᵀ  (parallel axes)
  switch (type) {
    case CovarianceType::full: {
      // Σ_k = S_k / N_k + reg_covar I                                             (PRML 9.25)
      xt::xtensor<double, 3> cov = xt::xtensor<double, 3>::from_shape({K, D, D});
      for (std::size_t k = 0; k < K; ++k)
        for (std::size_t i = 0; i < D; ++i)
          for (std::size_t j = 0; j < D; ++j)
            cov(k, i, j) = (m.m2(k, i, j) - nk(k) * delta(k, i) * delta(k, j)) / nk(k) + (i == j ? reg : 0.0);
      covariances = std::move(cov);
      break;
    }
    case CovarianceType::tied: {
      // Σ = Σ_k S_k / Σ_k N_k + reg_covar I
      Matrix cov = xt::zeros<double>({D, D});
      for (std::size_t k = 0; k < K; ++k)
        for (std::size_t i = 0; i < D; ++i)
          for (std::size_t j = 0; j < D; ++j) cov(i, j) += (m.m2(k, i, j) - nk(k) * delta(k, i) * delta(k, j)) / total;
      for (std::size_t i = 0; i < D; ++i) cov(i, i) += reg;
      covariances = std::move(cov);
      break;
    }
    case CovarianceType::diag:
    case CovarianceType::spherical: {
      // σ²_kd = S_k,dd / N_k + reg_covar
      Matrix var = Matrix::from_shape({K, D});
      for (std::size_t k = 0; k < K; ++k)
        for (std::size_t j = 0; j < D; ++j) var(k, j) = (m.m2(k, j) - nk(k) * delta(k, j) * delta(k, j)) / nk(k) + reg;
      if (type == CovarianceType::diag) {
        covariances = std::move(var);
      } else {
        // σ²_k = (1/D) Σ_d σ²_kd
        Vector s = xt::zeros<double>({K});
        for (std::size_t k = 0; k < K; ++k) {
          for (std::size_t j = 0; j < D; ++j) s(k) += var(k, j);
          s(k) /= static_cast<double>(D);
        }
        covariances = std::move(s);
      }
      break;
    }
  }

  set_m_step_covariances(std::move(covariances), nk, data);
}

// ---- the two steps on plain arrays, by path ------------------------------------------------------------

double GaussianMixture::e_step(const Matrix& x, Matrix& resp) const {
  return tz::textbook() ? e_step_textbook(x, resp) : e_step_fast(x, resp);
}

void GaussianMixture::m_step(const Matrix& x, const Matrix& resp) {
  if (tz::textbook()) m_step_textbook(x, resp);
  else m_step_fast(x, resp);
}


double GaussianMixture::e_step_textbook(const Matrix& x, Matrix& resp) const {
  check_e_step(x, means_, "e_step");
  return e_step_textbook(x, &resp, nullptr);
}

double GaussianMixture::e_step_fast(const Matrix& x, Matrix& resp) const {
  check_e_step(x, means_, "e_step");
  kernels::Blocked r(x.shape(0), weights_.size());
  const double mean_log_p = e_step_fast(EmData(x, /*fast=*/true), &r, nullptr);
  kernels::to_matrix(r, resp);
  return mean_log_p;
}

void GaussianMixture::m_step_textbook(const Matrix& x, const Matrix& resp) {
  check_m_step(x, resp, options_.n_components, "m_step");
  m_step_textbook(EmData(x, /*fast=*/false), resp);
}

void GaussianMixture::m_step_fast(const Matrix& x, const Matrix& resp) {
  check_m_step(x, resp, options_.n_components, "m_step");
  m_step_fast(EmData(x, /*fast=*/true), kernels::to_blocked(resp));
}

double GaussianMixture::log_likelihood(const Matrix& x, Vector* log_prob) const {
  return tz::textbook() ? e_step_textbook(x, nullptr, log_prob) : e_step_fast(EmData(x, true), nullptr, log_prob);
}

// ---- fitting ---------------------------------------------------------------------------------------

// Coordinate ascent on ELBO(q, θ): the E-step sets q = p(z | x, θ), so ELBO = ℓ(θ); the M-step sets
// θ = argmax_θ ELBO(q, θ). At a fixed point θ = M(E(θ)), and the M-step equations say ∇_θ ℓ(θ) = 0.
std::vector<double> GaussianMixture::run_em(const EmData& data) {
  const bool textbook = !data.fast;
  const std::size_t N = data.x.shape(0), K = options_.n_components;
  Matrix resp;                                      // the textbook path's r_nk, [N, K]
  kernels::Blocked resp_blocked(textbook ? 0 : N, K);  // the fast path's, in the kernels' layout
  std::vector<double> lower_bounds;
  converged_ = false;
  double lower_bound = -std::numeric_limits<double>::infinity();
  for (std::size_t iter = 1; iter <= options_.max_iter; ++iter) {
    const double previous = lower_bound;
    try {
      // E-step: r_nk = p(z_n = k | x_n); returns (1/N) Σ_n log p(x_n | θ_old), the tight ELBO
      lower_bound = textbook ? e_step_textbook(data.x, &resp, nullptr) : e_step_fast(data, &resp_blocked, nullptr);
      // M-step: θ_new = argmax_θ ELBO(r, θ)
      if (textbook) m_step_textbook(data, resp);
      else m_step_fast(data, resp_blocked);
    } catch (const ComponentCollapse& e) {
      throw ComponentCollapse("EM iteration " + std::to_string(iter) + ": " + e.what(), e.component());
    }
    lower_bounds.push_back(lower_bound);
    // converged when the mean lower bound changes by less than tol (scikit-learn's rule)
    if (std::abs(lower_bound - previous) < options_.tol) {
      converged_ = true;
      break;
    }
  }
  return lower_bounds;
}

// θ̂ = argmax_θ Σ_n log p(x_n | θ), locally: run_em from each of n_init starts, the best final ℓ kept.
GaussianMixture& GaussianMixture::fit(const Matrix& x) {
  check_data(x, "fit", /*fitting=*/true);
  using clock = std::chrono::steady_clock;
  const std::size_t n_init = options_.init_parameters ? 1 : options_.n_init;
  Rng rng(options_.seed);

  struct Run {
    Vector weights;
    Matrix means;
    xt::xarray<double> covariances, precisions_cholesky;
    std::vector<double> lower_bounds;
    bool converged = false;
    double ms_per_iter = 0;
  };
  std::optional<Run> best;
  const EmData data(x, /*fast=*/!tz::textbook());

  for (std::size_t init = 0; init < n_init; ++init) {
    const std::string at = "fit: initialisation " + std::to_string(init + 1) + " of " + std::to_string(n_init);
    try {
      initialize(data, rng);
    } catch (const ComponentCollapse& e) {
      throw ComponentCollapse(at + ", while initialising: " + e.what(), e.component());
    }
    const auto t0 = clock::now();
    std::vector<double> lower_bounds;
    try {
      lower_bounds = run_em(data);
    } catch (const ComponentCollapse& e) {
      throw ComponentCollapse(at + ", " + e.what(), e.component());
    }
    const double ms = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
    const double ms_per_iter = ms / static_cast<double>(lower_bounds.size());
    // keep the run with the highest final lower bound (the first one on ties)
    if (!best || lower_bounds.back() > best->lower_bounds.back())
      best = Run{weights_, means_, covariances_, precisions_cholesky_, std::move(lower_bounds), converged_, ms_per_iter};
  }

  weights_ = std::move(best->weights);
  means_ = std::move(best->means);
  covariances_ = std::move(best->covariances);
  precisions_cholesky_ = std::move(best->precisions_cholesky);
  lower_bounds_ = std::move(best->lower_bounds);
  converged_ = best->converged;
  n_iter_ = lower_bounds_.size();
  ms_per_iter_ = best->ms_per_iter;
  fitted_ = true;
  return *this;
}

}  // namespace tz::models::gmm
