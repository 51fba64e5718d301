// tapezoo: a Gaussian mixture fitted by EM (see models/gmm.hpp for the generative model and API).
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
// The M-step reads the data once, for N_k and the first and second moments about the current
// means, and moves the second moments to the new means by the parallel-axis theorem (scikit-learn
// makes one pass per moment and per component).
//
// Everything happens in log space: log N is −½ D log 2π + log det P_k − ½ ‖(x − μ_k) P_k‖², with
// P_k the Cholesky factor of the precision, and the normaliser log p(x_n) is a max-shifted
// log-sum-exp over k, written as a loop (docs/pitfalls.md#lazy-reducers and #logsumexp). The loops over points are in
// models/gmm_kernels.cpp, 64 points at a time, SIMD-vectorised (BLAS for D > 32).
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
#include <sstream>

#include "models/gmm_kernels.hpp"
#include "distributions/constants.hpp"

namespace tz::gmm {

namespace {

constexpr double kEps = std::numeric_limits<double>::epsilon();

std::string shape_text(const std::vector<std::size_t>& s) {
  std::string t = "[";
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i) t += ',';
    t += std::to_string(s[i]);
  }
  return t + "]";
}
template <class S>
std::string shape_text(const S& s) {
  return shape_text(std::vector<std::size_t>(s.begin(), s.end()));
}

std::string num(double v) {
  std::ostringstream o;
  o.precision(6);
  o << v;
  return o.str();
}

// log det P for each component: Σ_d log P_dd (= −½ log det Σ), [K].
Vector log_det_cholesky(CovarianceType type, const xt::xarray<double>& prec_chol, std::size_t K, std::size_t D) {
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

// Greedy k-means++ seeding as scikit-learn's kmeans_plusplus (Arthur & Vassilvitskii 2007):
// the first centre uniformly, each next one among 2 + ⌊log K⌋ candidates drawn with probability
// ∝ D(x)², the squared distance to the closest centre so far, keeping the candidate that lowers
// the potential Σ_n D(x_n)² the most. Returns the indices of the K chosen points.
std::vector<std::size_t> kmeans_plusplus(const Matrix& x, std::size_t K, Rng& rng) {
  const std::size_t N = x.shape(0), D = x.shape(1);
  const std::size_t n_local_trials = 2 + static_cast<std::size_t>(std::log(static_cast<double>(K)));
  auto sq_dist = [&](std::size_t a, std::size_t b) {
    double s = 0;
    for (std::size_t j = 0; j < D; ++j) s += (x(a, j) - x(b, j)) * (x(a, j) - x(b, j));
    return s;
  };
  std::vector<std::size_t> centres{rng.below(N)};
  std::vector<double> closest(N), cumulative(N), candidate(N), best(N);
  double potential = 0;
  for (std::size_t n = 0; n < N; ++n) potential += (closest[n] = sq_dist(n, centres[0]));
  while (centres.size() < K) {
    double s = 0;
    for (std::size_t n = 0; n < N; ++n) cumulative[n] = (s += closest[n]);
    double best_potential = std::numeric_limits<double>::infinity();
    std::size_t best_index = 0;
    for (std::size_t t = 0; t < n_local_trials; ++t) {
      // the first n with Σ_{m≤n} D(x_m)² > u, u ~ U(0, potential)
      const double u = rng.uniform() * potential;
      const auto it = std::upper_bound(cumulative.begin(), cumulative.end(), u);
      const std::size_t c = std::min<std::size_t>(static_cast<std::size_t>(it - cumulative.begin()), N - 1);
      double p = 0;
      for (std::size_t n = 0; n < N; ++n) p += (candidate[n] = std::min(closest[n], sq_dist(n, c)));
      if (p < best_potential) {
        best_potential = p;
        best_index = c;
        best.swap(candidate);
      }
    }
    centres.push_back(best_index);
    closest.swap(best);
    potential = best_potential;
  }
  return centres;
}

// P from Σ for every component, into prec_chol (gmm_kernels.cpp). Returns the first component
// that has collapsed (K for the shared Σ of the tied type), or nothing. A component collapses when
// its Σ is not positive definite or, given max_p (one value per column), when a diagonal entry of
// P exceeds it: 1/P_dd is the standard deviation of column d given the columns before it, so
// the component has become too narrow to resolve in that direction.
std::optional<std::size_t> compute_precision_cholesky(CovarianceType type, const xt::xarray<double>& covariances,
                                                      std::size_t K, std::size_t D, xt::xarray<double>& prec_chol,
                                                      const std::vector<double>& max_p = {}) {
  prec_chol = covariances;
  double* P = prec_chol.data();
  auto too_narrow = [&](double p_dd, std::size_t d) { return !max_p.empty() && p_dd > max_p[d]; };
  switch (type) {
    case CovarianceType::full:
    case CovarianceType::tied:
      for (std::size_t k = 0; k < (type == CovarianceType::full ? K : 1); ++k) {
        double* Pk = P + k * D * D;
        const std::size_t who = type == CovarianceType::full ? k : K;
        if (!kernels::precision_cholesky_inplace(Pk, D)) return who;
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

Vector column_mean(const Matrix& x) {
  const std::size_t N = x.shape(0), D = x.shape(1);
  Vector mean = xt::zeros<double>({D});
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t d = 0; d < D; ++d) mean(d) += x(n, d);
  return mean / static_cast<double>(N);
}

// The collapse limit on P_dd for each column: a standard deviation below 1000 rounding steps of
// the column's largest |x| cannot be resolved in doubles (the points it covers are, to within
// rounding, identical). No limit for an all-zero column.
std::vector<double> max_precision_diagonal(const Matrix& x) {
  const std::size_t N = x.shape(0), D = x.shape(1);
  std::vector<double> scale(D, 0.0), max_p(D);
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t d = 0; d < D; ++d) scale[d] = std::max(scale[d], std::abs(x(n, d)));
  for (std::size_t d = 0; d < D; ++d)
    max_p[d] = scale[d] > 0 ? 1.0 / (1e3 * kEps * scale[d]) : std::numeric_limits<double>::infinity();
  return max_p;
}

std::string collapse_message(std::size_t k, double nk, std::size_t N, double reg_covar, std::size_t K) {
  return "component " + std::to_string(k) + " has collapsed onto N_k = " + num(nk) + " of " + std::to_string(N) +
         " points (which may all be equal): its covariance is singular, or too narrow to resolve at the data's scale."
         " Increase reg_covar (now " + num(reg_covar) + "), or use fewer components (k = " + std::to_string(K) + ")";
}

}  // namespace

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
  if (auto k = compute_precision_cholesky(type, p.covariances, K, D, prec_chol)) {
    if (*k >= K) fail("the tied covariance is not positive definite");
    fail("covariances[" + std::to_string(*k) + "] is not positive definite");
  }
  weights_ = p.weights;
  means_ = p.means;
  covariances_ = p.covariances;
  precisions_cholesky_ = std::move(prec_chol);
  fitted_ = true;
}

// ---- E-step ---------------------------------------------------------------------------------------

// The data as the EM loop reads them: as given, in the kernels' blocked layout, and the collapse
// limits of each column (max_precision_diagonal). Built once per fit.
struct GaussianMixture::EmData {
  const Matrix& x;
  kernels::Blocked blocked;
  std::vector<double> max_p;
  Vector mean;  // (1/N) Σ_n x_n
  explicit EmData(const Matrix& x_)
      : x(x_), blocked(kernels::to_blocked(x_)), max_p(max_precision_diagonal(x_)), mean(column_mean(x_)) {}
};

double GaussianMixture::e_step(const EmData& data, kernels::Blocked* resp, Vector* log_prob) const {
  const kernels::Blocked& x = data.blocked;
  const std::size_t N = x.rows, D = x.cols, K = weights_.size(), B = kernels::kBlock;
  const CovarianceType type = options_.covariance_type;
  // log π_k − ½ D log 2π + log det P_k: the part of log π_k N(x_n | μ_k, Σ_k) that is the same for all n
  const Vector log_det = log_det_cholesky(type, precisions_cholesky_, K, D);
  std::vector<double> constant(K);
  for (std::size_t k = 0; k < K; ++k) constant[k] = std::log(weights_(k)) - 0.5 * D * kLog2Pi + log_det(k);

  kernels::SquaredMahalanobis mahalanobis(type, means_, precisions_cholesky_);
  std::vector<double> a(resp ? 0 : K * B), log_p(B);
  double total = 0;
  for (std::size_t j = 0; j < x.n_blocks(); ++j) {
    const std::size_t rows = x.rows_in(j);
    double* a_j = resp ? resp->block(j) : a.data();  // a[k·B + b], turned into r_nk in place
    // ‖(x_n − μ_k) P_k‖² for the block
    mahalanobis(x, j, a_j);
    // a_nk = log π_k + log N(x_n | μ_k, Σ_k) = log π_k − ½ D log 2π + log det P_k − ½ ‖(x_n − μ_k) P_k‖²
    for (std::size_t k = 0; k < K; ++k)
      for (std::size_t b = 0; b < B; ++b) a_j[k * B + b] = constant[k] - 0.5 * a_j[k * B + b];
    // log p(x_n) = log Σ_k e^{a_nk} (max-shifted log-sum-exp) and r_nk = e^{a_nk − log p(x_n)}, in place
    total += kernels::log_normalize_block(a_j, K, rows, log_p.data());
    if (log_prob)
      for (std::size_t b = 0; b < rows; ++b) (*log_prob)(j * B + b) = log_p[b];
  }
  return total / static_cast<double>(N);
}

double GaussianMixture::e_step(const Matrix& x, Matrix& resp) const {
  check_fitted("e_step");
  if (x.shape(1) != means_.shape(1))
    throw std::invalid_argument("e_step: the data have d = " + std::to_string(x.shape(1)) +
                                " columns but the parameters have d = " + std::to_string(means_.shape(1)));
  const EmData data(x);
  kernels::Blocked r(x.shape(0), weights_.size());
  const double mean_log_p = e_step(data, &r, nullptr);
  kernels::to_matrix(r, resp);
  return mean_log_p;
}

// ---- M-step ---------------------------------------------------------------------------------------

void GaussianMixture::m_step(const Matrix& x, const Matrix& resp) {
  if (resp.shape(1) != options_.n_components || resp.shape(0) != x.shape(0))
    throw std::invalid_argument("m_step: resp has shape " + shape_text(resp.shape()) + " but the data need [" +
                                std::to_string(x.shape(0)) + ", " + std::to_string(options_.n_components) + "]");
  m_step(EmData(x), kernels::to_blocked(resp));
}

void GaussianMixture::m_step(const EmData& data, const kernels::Blocked& resp) {
  const kernels::Blocked& x = data.blocked;
  const std::size_t N = x.rows, D = x.cols, K = resp.cols;
  const CovarianceType type = options_.covariance_type;
  const double reg = options_.reg_covar;

  // One pass over the data: N_k and the first and second moments about a shift a_k, the current
  // μ_k (or, at initialisation, the data's mean), which keeps the subtraction below well conditioned.
  Matrix shift = Matrix::from_shape({K, D});
  const bool have_means = means_.shape(0) == K && means_.shape(1) == D;
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t j = 0; j < D; ++j) shift(k, j) = have_means ? means_(k, j) : data.mean(j);
  const kernels::Moments m = kernels::weighted_moments(x, resp, shift, type == CovarianceType::full ||
                                                                           type == CovarianceType::tied);

  // N_k = Σ_n r_nk  (+ 10 ε, scikit-learn's guard against 0/0 for an empty component)
  Vector nk = m.n + 10 * kEps;

  // π_k = N_k / N  (normalised by Σ_k N_k, which is N up to the guard)
  weights_ = nk / xt::sum(nk)();

  // μ_k = (1/N_k) Σ_n r_nk x_n = a_k + δ_k,   δ_k = (1/N_k) Σ_n r_nk (x_n − a_k)        (PRML 9.24)
  Matrix delta = Matrix::from_shape({K, D});
  means_ = Matrix::from_shape({K, D});
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t j = 0; j < D; ++j) {
      delta(k, j) = m.m1(k, j) / nk(k);
      means_(k, j) = shift(k, j) + delta(k, j);
    }

  // S_k = Σ_n r_nk (x_n − μ_k)(x_n − μ_k)ᵀ = Σ_n r_nk (x_n − a_k)(x_n − a_k)ᵀ − N_k δ_k δ_kᵀ  (parallel axes)
  switch (type) {
    case CovarianceType::full: {
      // Σ_k = S_k / N_k + reg_covar I                                             (PRML 9.25)
      xt::xtensor<double, 3> cov = xt::xtensor<double, 3>::from_shape({K, D, D});
      for (std::size_t k = 0; k < K; ++k)
        for (std::size_t i = 0; i < D; ++i)
          for (std::size_t j = 0; j < D; ++j)
            cov(k, i, j) = (m.m2(k, i, j) - nk(k) * delta(k, i) * delta(k, j)) / nk(k) + (i == j ? reg : 0.0);
      covariances_ = std::move(cov);
      break;
    }
    case CovarianceType::tied: {
      // Σ = Σ_k S_k / Σ_k N_k + reg_covar I
      Matrix cov = xt::zeros<double>({D, D});
      const double total = xt::sum(nk)();
      for (std::size_t k = 0; k < K; ++k)
        for (std::size_t i = 0; i < D; ++i)
          for (std::size_t j = 0; j < D; ++j) cov(i, j) += (m.m2(k, i, j) - nk(k) * delta(k, i) * delta(k, j)) / total;
      for (std::size_t i = 0; i < D; ++i) cov(i, i) += reg;
      covariances_ = std::move(cov);
      break;
    }
    case CovarianceType::diag:
    case CovarianceType::spherical: {
      // σ²_kd = S_k,dd / N_k + reg_covar
      Matrix var = Matrix::from_shape({K, D});
      for (std::size_t k = 0; k < K; ++k)
        for (std::size_t j = 0; j < D; ++j) var(k, j) = (m.m2(k, j) - nk(k) * delta(k, j) * delta(k, j)) / nk(k) + reg;
      if (type == CovarianceType::diag) {
        covariances_ = std::move(var);
      } else {
        // σ²_k = (1/D) Σ_d σ²_kd
        Vector s = xt::zeros<double>({K});
        for (std::size_t k = 0; k < K; ++k) {
          for (std::size_t j = 0; j < D; ++j) s(k) += var(k, j);
          s(k) /= static_cast<double>(D);
        }
        covariances_ = std::move(s);
      }
      break;
    }
  }

  if (auto k = compute_precision_cholesky(type, covariances_, K, D, precisions_cholesky_, data.max_p)) {
    if (*k >= K)
      throw ComponentCollapse("the tied covariance has collapsed: it is singular, or too narrow to resolve at the data's "
                              "scale. Increase reg_covar (now " + num(reg) + ")", K);
    throw ComponentCollapse(collapse_message(*k, nk(*k), N, reg, K), *k);
  }
}

// ---- fitting ---------------------------------------------------------------------------------------

// scikit-learn initialises from responsibilities and one M-step (its _initialize). One
// difference: the weights are normalised here (scikit-learn leaves Σ π_k = K/N after k-means++),
// which only shifts the first lower bound by a constant, never the responsibilities.
void GaussianMixture::initialize(const EmData& data, Rng& rng) {
  const Matrix& x = data.x;
  const std::size_t N = x.shape(0), K = options_.n_components;
  if (options_.init_parameters) {
    set_parameters(*options_.init_parameters, "init parameters");
    return;
  }
  Matrix resp = xt::zeros<double>({N, K});
  if (options_.init == Init::kmeans_pp) {
    // r_nk = 1 at the K points chosen by k-means++: each μ_k starts at a data point and each
    // Σ_k at reg_covar I, so the first E-step assigns every point to its nearest centre
    const std::vector<std::size_t> centres = kmeans_plusplus(x, K, rng);
    for (std::size_t k = 0; k < K; ++k) resp(centres[k], k) = 1.0;
  } else {
    // r_nk ∝ U(0, 1)
    for (std::size_t n = 0; n < N; ++n) {
      double s = 0;
      for (std::size_t k = 0; k < K; ++k) s += (resp(n, k) = rng.uniform());
      for (std::size_t k = 0; k < K; ++k) resp(n, k) /= s;
    }
  }
  m_step(data, kernels::to_blocked(resp));
}

void GaussianMixture::initialize(const Matrix& x, Rng& rng) { initialize(EmData(x), rng); }

GaussianMixture& GaussianMixture::fit(const Matrix& x) {
  check_data(x, "fit", /*fitting=*/true);
  using clock = std::chrono::steady_clock;
  const std::size_t N = x.shape(0), K = options_.n_components;
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
  const EmData data(x);
  kernels::Blocked resp(N, K);

  for (std::size_t init = 0; init < n_init; ++init) {
    std::vector<double> lower_bounds;
    bool converged = false;
    std::size_t iter = 0;  // 0 while initialising
    auto t0 = clock::now();
    try {
      initialize(data, rng);
      t0 = clock::now();
      double lower_bound = -std::numeric_limits<double>::infinity();
      for (iter = 1; iter <= options_.max_iter; ++iter) {
        const double previous = lower_bound;
        // E-step: r_nk = p(z_n = k | x_n); returns (1/N) Σ_n log p(x_n | θ_old), the tight ELBO
        lower_bound = e_step(data, &resp, nullptr);
        // M-step: θ_new = argmax_θ ELBO(r, θ)
        m_step(data, resp);
        lower_bounds.push_back(lower_bound);
        // converged when the mean lower bound changes by less than tol (scikit-learn's rule)
        if (std::abs(lower_bound - previous) < options_.tol) {
          converged = true;
          break;
        }
      }
    } catch (const ComponentCollapse& e) {
      const std::string at = "fit: initialisation " + std::to_string(init + 1) + " of " + std::to_string(n_init) +
                             (iter == 0 ? std::string(", while initialising") : ", EM iteration " + std::to_string(iter));
      throw ComponentCollapse(at + ": " + e.what(), e.component());
    }
    const double ms = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
    const double ms_per_iter = ms / static_cast<double>(lower_bounds.size());
    // keep the run with the highest final lower bound (the first one on ties)
    if (!best || lower_bounds.back() > best->lower_bounds.back())
      best = Run{weights_, means_, covariances_, precisions_cholesky_, std::move(lower_bounds), converged, ms_per_iter};
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

// ---- using a fitted model ---------------------------------------------------------------------------

Matrix GaussianMixture::predict_proba(const Matrix& x) const {
  check_fitted("predict_proba");
  check_data(x, "predict_proba", false);
  Matrix resp;
  e_step(x, resp);
  return resp;
}

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
  e_step(EmData(x), nullptr, &log_prob);
  return log_prob;
}

double GaussianMixture::score(const Matrix& x) const {
  check_fitted("score");
  check_data(x, "score", false);
  return e_step(EmData(x), nullptr, nullptr);
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
        !kernels::cholesky_lower_inplace(&L(k, 0, 0), D))
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

}  // namespace tz::gmm
