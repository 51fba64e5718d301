// tapezoo: the Gaussian mixture's estimator API (see models/gmm.hpp): names, options and data
// checks, parameters, and what a fitted model answers (predict, score, BIC/AIC, samples).
// EM itself is models/gmm_em.cpp, its initialisation models/gmm_init.cpp.
//
// A component collapses when it sits on fewer distinct points than dimensions: its Σ_k becomes
// singular and log N(x | μ_k, Σ_k) → +∞ (PRML §9.2.1). reg_covar (default 1e-6) keeps Σ_k
// positive definite; with reg_covar = 0 the M-step stops with a ComponentCollapse that names the
// component and suggests reg_covar, rather than re-initialising it behind the user's back.
#include "models/gmm.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "datasets/linalg.hpp"
#include "models/gmm_detail.hpp"

namespace tz::models::gmm {

using detail::num;
using detail::shape_text;

// ---- shared with the other files (models/gmm_detail.hpp) -------------------------------------------

std::string detail::shape_text(const std::vector<std::size_t>& s) {
  std::string t = "[";
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i) t += ',';
    t += std::to_string(s[i]);
  }
  return t + "]";
}

std::string detail::num(double v) {
  std::ostringstream o;
  o.precision(6);
  o << v;
  return o.str();
}

std::optional<std::size_t> detail::compute_precision_cholesky(CovarianceType type, const xt::xarray<double>& covariances,
                                                              std::size_t K, std::size_t D,
                                                              xt::xarray<double>& prec_chol,
                                                              const std::vector<double>& max_p) {
  prec_chol = covariances;
  double* P = prec_chol.data();
  auto too_narrow = [&](double p_dd, std::size_t d) { return !max_p.empty() && p_dd > max_p[d]; };
  switch (type) {
    case CovarianceType::full:
    case CovarianceType::tied:
      for (std::size_t k = 0; k < (type == CovarianceType::full ? K : 1); ++k) {
        double* Pk = P + k * D * D;
        const std::size_t who = type == CovarianceType::full ? k : K;
        if (!tz::precision_cholesky_inplace(Pk, D)) return who;  // P_k P_kᵀ = Σ_k⁻¹ (datasets/linalg.hpp)
        for (std::size_t d = 0; d < D; ++d)
          if (too_narrow(Pk[d * D + d], d)) return who;
      }
      break;
    case CovarianceType::diag:
      // P_k = diag(1/σ_kd)
      for (std::size_t k = 0; k < K; ++k)
        for (std::size_t d = 0; d < D; ++d) {
          if (!(P[k * D + d] > 0)) return k;
          P[k * D + d] = 1.0 / std::sqrt(P[k * D + d]);
          if (too_narrow(P[k * D + d], d)) return k;
        }
      break;
    case CovarianceType::spherical:
      // P_k = I/σ_k
      for (std::size_t k = 0; k < K; ++k) {
        if (!(P[k] > 0)) return k;
        P[k] = 1.0 / std::sqrt(P[k]);
        for (std::size_t d = 0; d < D; ++d)
          if (too_narrow(P[k], d)) return k;
      }
      break;
  }
  return std::nullopt;
}

Vector detail::log_det_cholesky(CovarianceType type, const xt::xarray<double>& prec_chol, std::size_t K,
                                std::size_t D) {
  Vector log_det = xt::zeros<double>({K});
  const double* P = prec_chol.data();
  for (std::size_t k = 0; k < K; ++k) {
    double s = 0;
    switch (type) {
      case CovarianceType::full:
        for (std::size_t d = 0; d < D; ++d) s += std::log(P[(k * D + d) * D + d]);
        break;
      case CovarianceType::tied:
        for (std::size_t d = 0; d < D; ++d) s += std::log(P[d * D + d]);
        break;
      case CovarianceType::diag:
        for (std::size_t d = 0; d < D; ++d) s += std::log(P[k * D + d]);
        break;
      case CovarianceType::spherical:
        s = static_cast<double>(D) * std::log(P[k]);
        break;
    }
    log_det(k) = s;
  }
  return log_det;
}

Vector detail::column_mean(const Matrix& x) {
  const std::size_t N = x.shape(0), D = x.shape(1);
  Vector mean = xt::zeros<double>({D});
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t d = 0; d < D; ++d) mean(d) += x(n, d);
  return mean / static_cast<double>(N);
}

// The collapse limit on P_dd for each column: a standard deviation below 1000 rounding steps of
// the column's largest |x| cannot be resolved in doubles (the points it covers are, to within
// rounding, identical). No limit for an all-zero column.
std::vector<double> detail::max_precision_diagonal(const Matrix& x) {
  const std::size_t N = x.shape(0), D = x.shape(1);
  std::vector<double> scale(D, 0.0), max_p(D);
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t d = 0; d < D; ++d) scale[d] = std::max(scale[d], std::abs(x(n, d)));
  for (std::size_t d = 0; d < D; ++d)
    max_p[d] = scale[d] > 0 ? 1.0 / (1e3 * kEps * scale[d]) : std::numeric_limits<double>::infinity();
  return max_p;
}

// ---- names -------------------------------------------------------------------------------------

std::string_view to_string(CovarianceType type) {
  switch (type) {
    case CovarianceType::full: return "full";
    case CovarianceType::tied: return "tied";
    case CovarianceType::diag: return "diag";
    case CovarianceType::spherical: return "spherical";
  }
  return "?";
}

CovarianceType parse_covariance_type(std::string_view name) {
  for (auto t : {CovarianceType::full, CovarianceType::tied, CovarianceType::diag, CovarianceType::spherical})
    if (name == to_string(t)) return t;
  throw std::invalid_argument("covariance type '" + std::string(name) +
                              "' is not one of full, tied, diag, spherical");
}

std::string_view to_string(Init init) { return init == Init::kmeans_pp ? "kmeans++" : "random"; }

Init parse_init(std::string_view name) {
  if (name == "kmeans++") return Init::kmeans_pp;
  if (name == "random") return Init::random;
  throw std::invalid_argument("initialisation '" + std::string(name) + "' is not one of kmeans++, random");
}

std::vector<std::size_t> covariance_shape(CovarianceType type, std::size_t k, std::size_t d) {
  switch (type) {
    case CovarianceType::full: return {k, d, d};
    case CovarianceType::tied: return {d, d};
    case CovarianceType::diag: return {k, d};
    case CovarianceType::spherical: return {k};
  }
  return {};
}

// ---- construction and checks ----------------------------------------------------------------------

GaussianMixture::GaussianMixture(Options options) : options_(std::move(options)) {
  const Options& o = options_;
  if (o.n_components < 1) throw std::invalid_argument("n_components (k) must be at least 1, got 0");
  if (!(o.tol >= 0)) throw std::invalid_argument("tol must be >= 0, got " + num(o.tol));
  if (!(o.reg_covar >= 0)) throw std::invalid_argument("reg_covar must be >= 0, got " + num(o.reg_covar));
  if (o.max_iter < 1) throw std::invalid_argument("max_iter must be at least 1, got 0");
  if (o.n_init < 1) throw std::invalid_argument("n_init must be at least 1, got 0");
  if (o.init_parameters) set_parameters(*o.init_parameters, "init parameters");
  fitted_ = false;  // given parameters are a starting point, not a fit
}

void GaussianMixture::check_data(const Matrix& x, const char* caller, bool fitting) const {
  const std::size_t N = x.shape(0), D = x.shape(1), K = options_.n_components;
  if (N == 0 || D == 0)
    throw std::invalid_argument(std::string(caller) + ": the data are empty (shape " + shape_text(x.shape()) +
                                "): expected [n, d] with n >= 1 and d >= 1");
  if (fitting && K > N)
    throw std::invalid_argument(std::string(caller) + ": k = " + std::to_string(K) + " components but only n = " +
                                std::to_string(N) + " data points: k must be at most n");
  const std::size_t want_d = fitting ? (options_.init_parameters ? options_.init_parameters->means.shape(1) : D)
                                     : means_.shape(1);
  if (D != want_d)
    throw std::invalid_argument(std::string(caller) + ": the data have d = " + std::to_string(D) + " columns but " +
                                (fitting ? "the init parameters have" : "the model was fitted with") +
                                " d = " + std::to_string(want_d));
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t j = 0; j < D; ++j)
      if (!std::isfinite(x(n, j)))
        throw std::invalid_argument(std::string(caller) + ": data row " + std::to_string(n) + ", column " +
                                    std::to_string(j) + " is " + num(x(n, j)) +
                                    ": the data must be finite (no NaN or Inf)");
}

void GaussianMixture::check_fitted(const char* caller) const {
  if (means_.size() == 0)
    throw std::logic_error(std::string(caller) + ": the model has no parameters yet: call fit() first");
}

void GaussianMixture::set_parameters(const Parameters& p, const std::string& what) {
  const std::size_t K = options_.n_components;
  const CovarianceType type = options_.covariance_type;
  auto fail = [&](const std::string& m) { throw std::invalid_argument(what + ": " + m); };

  if (p.weights.size() != K) fail("weights has shape " + shape_text(p.weights.shape()) + " but k = " + std::to_string(K) + " expects [" + std::to_string(K) + "]");
  if (p.means.shape(0) != K || p.means.shape(1) == 0)
    fail("means has shape " + shape_text(p.means.shape()) + " but k = " + std::to_string(K) + " expects [" +
         std::to_string(K) + ", d]");
  const std::size_t D = p.means.shape(1);
  const auto want = covariance_shape(type, K, D);
  const std::vector<std::size_t> got(p.covariances.shape().begin(), p.covariances.shape().end());
  if (got != want)
    fail("covariances has shape " + shape_text(got) + " but covariance type '" + std::string(to_string(type)) +
         "' with k = " + std::to_string(K) + ", d = " + std::to_string(D) + " expects " + shape_text(want));

  double total = 0;
  for (std::size_t k = 0; k < K; ++k) {
    if (!(p.weights(k) >= 0) || !std::isfinite(p.weights(k)))
      fail("weights[" + std::to_string(k) + "] = " + num(p.weights(k)) + ": weights must be >= 0 and finite");
    total += p.weights(k);
  }
  if (std::abs(total - 1.0) > 1e-6) fail("weights sum to " + num(total) + ", not 1");
  for (double v : p.means)
    if (!std::isfinite(v)) fail("means contain " + num(v) + ": they must be finite");
  for (double v : p.covariances)
    if (!std::isfinite(v)) fail("covariances contain " + num(v) + ": they must be finite");
  if (type == CovarianceType::full || type == CovarianceType::tied) {
    const std::size_t n_mat = type == CovarianceType::full ? K : 1;
    const double* c = p.covariances.data();
    for (std::size_t k = 0; k < n_mat; ++k)
      for (std::size_t i = 0; i < D; ++i)
        for (std::size_t j = 0; j < i; ++j) {
          const double a = c[(k * D + i) * D + j], b = c[(k * D + j) * D + i];
          if (std::abs(a - b) > 1e-8 * std::max({1.0, std::abs(a), std::abs(b)}))
            fail("covariances" + (type == CovarianceType::full ? "[" + std::to_string(k) + "]" : std::string()) +
                 " is not symmetric: entry (" + std::to_string(i) + "," + std::to_string(j) + ") = " + num(a) +
                 " but (" + std::to_string(j) + "," + std::to_string(i) + ") = " + num(b));
        }
  }

  xt::xarray<double> prec_chol;
  if (auto k = detail::compute_precision_cholesky(type, p.covariances, K, D, prec_chol)) {
    if (*k >= K) fail("the tied covariance is not positive definite");
    fail("covariances[" + std::to_string(*k) + "] is not positive definite");
  }
  weights_ = p.weights;
  means_ = p.means;
  covariances_ = p.covariances;
  precisions_cholesky_ = std::move(prec_chol);
  fitted_ = true;
}

// ---- using a fitted model ---------------------------------------------------------------------------

Matrix GaussianMixture::predict_proba(const Matrix& x) const {
  check_fitted("predict_proba");
  check_data(x, "predict_proba", false);
  Matrix resp;
  e_step(x, resp);
  return resp;
}

// ẑ_n = argmax_k r_nk = argmax_k p(z_n = k | x_n, θ): the Bayes classifier of the model.
std::vector<std::size_t> GaussianMixture::predict(const Matrix& x) const {
  check_fitted("predict");
  check_data(x, "predict", false);
  const std::size_t N = x.shape(0), K = weights_.size();
  Matrix resp;
  e_step(x, resp);
  std::vector<std::size_t> labels(N);
  for (std::size_t n = 0; n < N; ++n) {
    std::size_t best = 0;
    for (std::size_t k = 1; k < K; ++k)
      if (resp(n, k) > resp(n, best)) best = k;
    labels[n] = best;
  }
  return labels;
}

Vector GaussianMixture::score_samples(const Matrix& x) const {
  check_fitted("score_samples");
  check_data(x, "score_samples", false);
  Vector log_prob = Vector::from_shape({x.shape(0)});
  log_likelihood(x, &log_prob);
  return log_prob;
}

double GaussianMixture::score(const Matrix& x) const {
  check_fitted("score");
  check_data(x, "score", false);
  return log_likelihood(x, nullptr);
}

std::size_t GaussianMixture::n_parameters() const {
  const std::size_t K = options_.n_components;
  check_fitted("n_parameters");
  const std::size_t D = means_.shape(1);
  std::size_t cov_params = 0;
  switch (options_.covariance_type) {
    case CovarianceType::full: cov_params = K * D * (D + 1) / 2; break;
    case CovarianceType::tied: cov_params = D * (D + 1) / 2; break;
    case CovarianceType::diag: cov_params = K * D; break;
    case CovarianceType::spherical: cov_params = K; break;
  }
  // covariances + means + the K − 1 free weights
  return cov_params + K * D + K - 1;
}

// BIC = −2 log p(x | θ) + p log N                                            (Schwarz 1978)
double GaussianMixture::bic(const Matrix& x) const {
  const double N = static_cast<double>(x.shape(0));
  return -2.0 * score(x) * N + static_cast<double>(n_parameters()) * std::log(N);
}

// AIC = −2 log p(x | θ) + 2p                                                  (Akaike 1974)
double GaussianMixture::aic(const Matrix& x) const {
  const double N = static_cast<double>(x.shape(0));
  return -2.0 * score(x) * N + 2.0 * static_cast<double>(n_parameters());
}

// z ~ Categorical(π), x = μ_z + L_z ε with ε ~ N(0, I) and Σ_z = L_z L_zᵀ
std::pair<Matrix, std::vector<std::size_t>> GaussianMixture::sample(std::size_t n, Rng& rng) const {
  check_fitted("sample");
  const std::size_t K = weights_.size(), D = means_.shape(1);
  const CovarianceType type = options_.covariance_type;
  // L_k for each component, [K, D, D] (a diagonal for diag and spherical)
  xt::xtensor<double, 3> L = xt::zeros<double>({K, D, D});
  const double* C = covariances_.data();
  for (std::size_t k = 0; k < K; ++k) {
    for (std::size_t i = 0; i < D; ++i) {
      switch (type) {
        case CovarianceType::full:
          for (std::size_t j = 0; j < D; ++j) L(k, i, j) = C[(k * D + i) * D + j];
          break;
        case CovarianceType::tied:
          for (std::size_t j = 0; j < D; ++j) L(k, i, j) = C[i * D + j];
          break;
        case CovarianceType::diag: L(k, i, i) = std::sqrt(C[k * D + i]); break;
        case CovarianceType::spherical: L(k, i, i) = std::sqrt(C[k]); break;
      }
    }
    if ((type == CovarianceType::full || type == CovarianceType::tied) &&
        !tz::cholesky_lower_inplace(&L(k, 0, 0), D))
      throw std::logic_error("sample: covariance " + std::to_string(k) + " is not positive definite");
  }
  Matrix x = xt::zeros<double>({n, D});
  std::vector<std::size_t> z(n);
  std::vector<double> eps(D);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t k = z[i] = rng.categorical(weights_);
    for (auto& e : eps) e = rng.normal();
    for (std::size_t r = 0; r < D; ++r) {
      double s = means_(k, r);
      for (std::size_t c = 0; c <= r; ++c) s += L(k, r, c) * eps[c];
      x(i, r) = s;
    }
  }
  return {std::move(x), std::move(z)};
}

}  // namespace tz::models::gmm
