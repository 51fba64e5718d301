// tapezoo: a mixture of K Gaussians in D dimensions, fitted by EM (or by gradient ascent on the
// same log-likelihood, on the autograd tape).
//
// Generative model (Bishop, PRML §9.2, eq. 9.7):
//   z_n ~ Categorical(π),   x_n | z_n = k ~ N(μ_k, Σ_k),   n = 1..N
//   p(x_n) = Σ_k π_k N(x_n | μ_k, Σ_k)
// Objective: the mean log-likelihood  (1/N) Σ_n log Σ_k π_k N(x_n | μ_k, Σ_k)    (PRML eq. 9.14)
// Paper: Dempster, Laird & Rubin (1977), "Maximum likelihood from incomplete data via the EM
// algorithm"; the view of EM as coordinate ascent on the ELBO is Neal & Hinton (1998).
//
//   tz::models::gmm::Options opt;
//   opt.n_components = 3;                                   // K
//   opt.covariance_type = tz::models::gmm::CovarianceType::full;
//   tz::models::gmm::GaussianMixture model(opt);
//   model.fit(x);                                           // EM; x is [N, D] doubles
//   auto labels = model.predict(x);                         // argmax_k r_nk
//   double avg = model.score(x);                            // (1/N) Σ_n log p(x_n)
//
// The API, its defaults and its conventions follow scikit-learn 1.2's GaussianMixture: the same
// initialisation from responsibilities, the same tol on the change of the mean lower bound,
// reg_covar added to the diagonal in the M-step, the same BIC/AIC parameter counts, and the same
// shapes of `covariances` and `precisions_cholesky` per covariance type:
//   full [K, D, D]   tied [D, D]   diag [K, D]   spherical [K]
// precisions_cholesky holds P with P Pᵀ = Σ⁻¹ (P upper triangular for full and tied), so that
//   log N(x | μ, Σ) = −½ D log 2π + Σ_d log P_dd − ½ ‖(x − μ) P‖².
//
// Everything is float64: EM divides sums of N terms, and the data are doubles. The files:
//   models/gmm_em.cpp        EM: the textbook E- and M-steps on plain arrays, with the formulas, and fit()
//   models/gmm_kernels.cpp   the fast path of the same two steps (blocked layout, SIMD, BLAS)
//   models/gmm_init.cpp      the initialisation (k-means++ or random responsibilities)
//   models/gmm.cpp           the estimator API: checks, parameters, predict, score, BIC, sampling
//   models/gmm_gradient.cpp  gradient ascent on the same log-likelihood (fit_gradient)
//   models/gmm_tape.hpp      that log-likelihood on the tape, written once (also for models/gmm_gd.cpp,
//                            the registered model `./zoo train gmm_gd`)
//   models/gmm_io.cpp        .npz files
// The path switch (autograd/path.hpp): with --textbook or TAPEZOO_TEXTBOOK=1, fit(), score() and
// the rest run e_step_textbook and m_step_textbook; otherwise the kernels, which a test proves
// equal to them (tests/test_gmm_em.cpp).
//
// Note: tz::MixtureTruth (datasets/synthetic.hpp) is the ground truth of synthetic data;
// this model is tz::models::gmm::GaussianMixture.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <xtensor/xarray.hpp>
#include <xtensor/xtensor.hpp>

#include "autograd/random.hpp"
#include "autograd/tape.hpp"

namespace tz::models::gmm {

namespace kernels {
struct Blocked;  // the data in the kernels' layout (models/gmm_kernels.hpp)
}

using Matrix = xt::xtensor<double, 2>;
using Vector = xt::xtensor<double, 1>;

enum class CovarianceType { full, tied, diag, spherical };
// "full", "tied", "diag", "spherical"
std::string_view to_string(CovarianceType type);
// Parses one of the names above; throws std::invalid_argument listing them otherwise.
CovarianceType parse_covariance_type(std::string_view name);

// How the responsibilities are initialised when no parameters are given (as scikit-learn):
// kmeans_pp puts r_nk = 1 on the K points chosen by (greedy) k-means++ seeding; random draws
// r_nk ~ U(0, 1) and normalises each row.
enum class Init { kmeans_pp, random };
std::string_view to_string(Init init);
Init parse_init(std::string_view name);  // "kmeans++" or "random"

// π, μ and Σ of a mixture. covariances has the shape of its covariance type (see above).
struct Parameters {
  Vector weights;                // [K], π_k ≥ 0, Σ_k π_k = 1
  Matrix means;                  // [K, D], μ_k
  xt::xarray<double> covariances;  // full [K,D,D] | tied [D,D] | diag [K,D] | spherical [K]
};

// The shape `covariances` (and `precisions_cholesky`) must have, e.g. {3, 2, 2} for full, K=3, D=2.
std::vector<std::size_t> covariance_shape(CovarianceType type, std::size_t k, std::size_t d);

struct Options {
  std::size_t n_components = 1;                             // K
  CovarianceType covariance_type = CovarianceType::full;
  double tol = 1e-3;            // converged when |Δ mean lower bound| < tol
  double reg_covar = 1e-6;      // added to the diagonal of every covariance in the M-step
  std::size_t max_iter = 100;   // EM iterations per initialisation
  std::size_t n_init = 1;       // initialisations; the run with the best lower bound is kept
  Init init = Init::kmeans_pp;
  std::uint64_t seed = 0;       // for the initialisation (the only randomness in EM)
  // Start from these parameters instead (--init-from). Its run is deterministic, so it is run
  // once whatever n_init says.
  std::optional<Parameters> init_parameters;
};

// A component that has collapsed: its covariance is no longer positive definite, or narrower
// than doubles can resolve at the data's scale (a standard deviation, along some direction,
// below 1000 rounding steps of the largest |x| in that column). This needs reg_covar = 0 or
// degenerate data. The message names the component, its N_k, and suggests reg_covar.
class ComponentCollapse : public std::runtime_error {
 public:
  ComponentCollapse(const std::string& message, std::size_t component)
      : std::runtime_error(message), component_(component) {}
  // The component (0-based), or K for the shared covariance of the tied type.
  std::size_t component() const { return component_; }

 private:
  std::size_t component_;
};

// ---- gradient ascent (models/gmm_gradient.cpp) ----------------------------------------------------------

// The mixture's parameters without constraints, for the autograd tape:
//   π = softmax(logits)                                        logits [K]
//   μ = means                                                  means  [K, D]
//   P_k = strict_upper(chol_offdiag_k) + diag(e^{log_diag_k})  full: chol_offdiag [K, D, D], log_diag [K, D]
//                                                              tied: [D, D] and [D]; diag: log_diag [K, D];
//                                                              spherical: log_diag [K] (P_k = e^{s_k} I)
// P_k is the precision Cholesky factor (P_k P_kᵀ = Σ_k⁻¹), so log det P_k = Σ_d log_diag_kd and
// the Mahalanobis term is ‖(x − μ_k) P_k‖²: matmuls only, no triangular solve. Entries of
// chol_offdiag on and below the diagonal are ignored (masked: their gradient is 0).
struct UnconstrainedParameters {
  Param<double> logits, means, chol_offdiag, log_diag;
  std::vector<Param<double>*> all();  // the ones the covariance type uses
};

// The mean log-likelihood (1/N) Σ_n log Σ_k π_k N(x_n | μ_k, Σ_k) recorded on x's tape, with x a
// constant [N, D] and the parameters as above (chol_offdiag is unused, and may be an empty Var,
// for diag and spherical). The ops are models/gmm_tape.hpp's, shared with the model gmm_gd.
Var<double> mean_log_likelihood(const Var<double>& x, const Var<double>& logits, const Var<double>& means,
                                const Var<double>& chol_offdiag, const Var<double>& log_diag, CovarianceType type);
// The same with the parameters read in place (gradients accumulate into theta's Params).
Var<double> mean_log_likelihood(const Var<double>& x, UnconstrainedParameters& theta, CovarianceType type);

struct GradientOptions {
  std::string optimizer = "adam";  // "adam" or "sgd"
  double learning_rate = 0.05;
  std::size_t max_iter = 500;      // full-batch steps
  double tol = 1e-6;               // stop when |Δ mean log-likelihood| < tol
};

class GaussianMixture {
 public:
  explicit GaussianMixture(Options options);

  // ---- fitting ---------------------------------------------------------------------------------
  // EM, n_init times; keeps the run with the highest final lower bound (scikit-learn's rule).
  // Throws std::invalid_argument for bad data or options (K > N, NaN or Inf, D mismatch with
  // init_parameters) and ComponentCollapse when a covariance stops being positive definite.
  GaussianMixture& fit(const Matrix& x);
  // Gradient ascent (Adam or SGD, full batch) on the same objective, from the current parameters
  // if the model is fitted, else from fit()'s first initialisation followed by one EM iteration
  // (the k-means++ start has Σ_k = reg_covar·I, spikes that gradient steps would take thousands
  // of iterations to widen). Same result accessors as fit(); lower_bounds() holds L before each step.
  GaussianMixture& fit_gradient(const Matrix& x, const GradientOptions& gd = {});

  // ---- the two EM steps (models/gmm_em.cpp), public for tutorials and tests ------------------------
  // E-step: resp[n,k] = r_nk = p(z_n = k | x_n) under the current parameters (resized to [N, K]).
  // Returns the mean log-likelihood (1/N) Σ_n log p(x_n) before the M-step that follows.
  // The textbook path when tz::textbook() (autograd/path.hpp), the fast path otherwise.
  double e_step(const Matrix& x, Matrix& resp) const;
  // M-step: π, μ, Σ (plus reg_covar on the diagonal) maximising the ELBO for fixed resp [N, K].
  void m_step(const Matrix& x, const Matrix& resp);
  // Each path by name. The textbook steps are loops over points and components on plain arrays,
  // one formula per line; the fast ones run the kernels of models/gmm_kernels.cpp on the blocked
  // layout. tests/test_gmm_em.cpp proves the two equal within float64 rounding.
  double e_step_textbook(const Matrix& x, Matrix& resp) const;
  void m_step_textbook(const Matrix& x, const Matrix& resp);
  // The textbook E-step's first half: log ρ_nk = log π_k + log N(x_n | μ_k, Σ_k), [N, K], on plain
  // loops (tutorial 02 builds the ELBO from it).
  Matrix log_joint(const Matrix& x) const;
  double e_step_fast(const Matrix& x, Matrix& resp) const;
  void m_step_fast(const Matrix& x, const Matrix& resp);

  // ---- using a fitted model (scikit-learn names) -------------------------------------------------
  std::vector<std::size_t> predict(const Matrix& x) const;  // argmax_k r_nk
  Matrix predict_proba(const Matrix& x) const;              // r_nk, rows sum to 1
  Vector score_samples(const Matrix& x) const;              // log p(x_n)
  double score(const Matrix& x) const;                      // (1/N) Σ_n log p(x_n)
  // n points and the component of each: z ~ Categorical(π), x = μ_z + L_z ε, Σ_z = L_z L_zᵀ.
  std::pair<Matrix, std::vector<std::size_t>> sample(std::size_t n, Rng& rng) const;
  // −2 N score + p log N  and  −2 N score + 2p, with p = n_parameters().
  double bic(const Matrix& x) const;
  double aic(const Matrix& x) const;
  // Free parameters: (K − 1) + K·D + the covariances' (K·D(D+1)/2, D(D+1)/2, K·D or K).
  std::size_t n_parameters() const;

  // ---- state -----------------------------------------------------------------------------------
  bool fitted() const { return fitted_; }
  bool converged() const { return converged_; }
  std::size_t n_iter() const { return n_iter_; }
  // The mean lower bound at each iteration of the kept run (scikit-learn's lower_bound_ is the last):
  // the mean log-likelihood of the parameters each E-step saw. EM never lowers it.
  const std::vector<double>& lower_bounds() const { return lower_bounds_; }
  double lower_bound() const { return lower_bounds_.empty() ? -HUGE_VAL : lower_bounds_.back(); }
  // Milliseconds per iteration of the kept run (E-step + M-step + bookkeeping).
  double ms_per_iter() const { return ms_per_iter_; }

  std::size_t n_components() const { return options_.n_components; }
  std::size_t n_features() const { return means_.shape(1); }
  const Options& options() const { return options_; }
  const Vector& weights() const { return weights_; }
  const Matrix& means() const { return means_; }
  const xt::xarray<double>& covariances() const { return covariances_; }
  const xt::xarray<double>& precisions_cholesky() const { return precisions_cholesky_; }
  Parameters parameters() const { return {weights_, means_, covariances_}; }

  // Sets π, μ, Σ (and P from Σ) after checking them: shapes for this K and covariance type,
  // weights ≥ 0 summing to 1, everything finite, covariances positive definite. `what` starts
  // the error messages ("--init-from model.npz").
  void set_parameters(const Parameters& p, const std::string& what = "parameters");

  // The current parameters unconstrained (logits = log π, P's off-diagonal and log-diagonal), and
  // back: weights = softmax(logits), Σ = (P Pᵀ)⁻¹.
  UnconstrainedParameters unconstrained() const;
  void set_unconstrained(const UnconstrainedParameters& theta);

 private:
  struct EmData;  // the data as the EM loop reads them (models/gmm_detail.hpp)
  // The E-steps writing r_nk (if resp) and log p(x_n) (if log_prob); return the mean log p(x_n).
  double e_step_textbook(const Matrix& x, Matrix* resp, Vector* log_prob) const;
  double e_step_fast(const EmData& data, kernels::Blocked* resp, Vector* log_prob) const;
  // (1/N) Σ_n log p(x_n) by the path tz::textbook() selects, for score() and score_samples().
  double log_likelihood(const Matrix& x, Vector* log_prob) const;
  void m_step_textbook(const EmData& data, const Matrix& resp);
  void m_step_fast(const EmData& data, const kernels::Blocked& resp);
  // The end of both M-steps: Σ becomes the covariances and P is computed from it, or a component
  // has collapsed (ComponentCollapse, naming it with its N_k).
  void set_m_step_covariances(xt::xarray<double> covariances, const Vector& nk, const EmData& data);
  // One EM run (models/gmm_em.cpp): EM iterations from the current parameters until converged or
  // max_iter; returns the lower bounds and sets converged_.
  std::vector<double> run_em(const EmData& data);
  void initialize(const EmData& data, Rng& rng);
  void initialize(const Matrix& x, Rng& rng);  // the same, for gmm_gradient.cpp
  void check_data(const Matrix& x, const char* caller, bool fitting) const;
  void check_fitted(const char* caller) const;

  Options options_;
  Vector weights_;
  Matrix means_;
  xt::xarray<double> covariances_;
  xt::xarray<double> precisions_cholesky_;
  bool fitted_ = false;
  bool converged_ = false;
  std::size_t n_iter_ = 0;
  std::vector<double> lower_bounds_;
  double ms_per_iter_ = 0;
};

// ---- files (models/gmm_io.cpp) -----------------------------------------------------------------------
// An .npz with weights [K], means [K, D], covariances and precisions_cholesky (shaped as above),
// as float64, written atomically; NumPy reads it with numpy.load.
void save_parameters(const std::string& path, const GaussianMixture& model);
// Reads weights, means and covariances from such an .npz (precisions_cholesky, if present, is
// ignored: it is recomputed from the covariances). Throws tz::FileError naming the file and the
// missing or misshapen array; GaussianMixture::set_parameters checks the shapes against K and D.
Parameters load_parameters(const std::string& path);

}  // namespace tz::models::gmm
