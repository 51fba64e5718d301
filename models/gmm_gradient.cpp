// tapezoo: a Gaussian mixture fitted by gradient ascent on its log-likelihood, on the autograd
// tape (see models/gmm.hpp). The objective is EM's (PRML eq. 9.14),
//   L(θ) = (1/N) Σ_n log Σ_k π_k N(x_n | μ_k, Σ_k),
// over unconstrained parameters, so that Adam or SGD may take any step:
//   log π_k = log_softmax(logits)_k                                  (π stays on the simplex)
//   P_k = strict_upper(A_k) + diag(e^{s_k}),  Σ_k⁻¹ = P_k P_kᵀ       (positive definite for any A_k, s_k)
//   log N(x | μ_k, Σ_k) = −½ D log 2π + Σ_d s_kd − ½ ‖(x − μ_k) P_k‖²
// The ops are models/gmm_tape.hpp's, shared with the registered model gmm_gd. The cross-check with
// EM (tests/test_gmm_gradient.cpp): at an EM fixed point with reg_covar = 0 the M-step equations
// hold, which are exactly ∇L = 0, so the tape's gradient vanishes there.
#include <chrono>
#include <cmath>
#include <optional>
#include <limits>

#include "models/gmm.hpp"
#include "models/gmm_kernels.hpp"
#include "models/gmm_tape.hpp"
#include "nn/optim.hpp"
#include "distributions/constants.hpp"

namespace tz::models::gmm {

std::vector<Param<double>*> UnconstrainedParameters::all() {
  std::vector<Param<double>*> out{&logits, &means, &log_diag};
  if (chol_offdiag.value.size() > 0) out.push_back(&chol_offdiag);
  return out;
}

Var<double> mean_log_likelihood(const Var<double>& x, UnconstrainedParameters& theta, CovarianceType type) {
  Tape<double>& tape = x.tape();
  const bool triangular = type == CovarianceType::full || type == CovarianceType::tied;
  return mean_log_likelihood(x, tape.param(theta.logits), tape.param(theta.means),
                             triangular ? tape.param(theta.chol_offdiag) : Var<double>(), tape.param(theta.log_diag),
                             type);
}

Var<double> mean_log_likelihood(const Var<double>& x, const Var<double>& logits, const Var<double>& means,
                                const Var<double>& offdiag, const Var<double>& log_diag, CovarianceType type) {
  // (1/N) Σ_n log p(x_n), the ops of models/gmm_tape.hpp
  return mean(mixture_log_likelihood<double>(x, {logits, means, offdiag, log_diag}, type));
}

UnconstrainedParameters GaussianMixture::unconstrained() const {
  check_fitted("unconstrained");
  const std::size_t K = weights_.size(), D = means_.shape(1);
  const CovarianceType type = options_.covariance_type;
  UnconstrainedParameters t;
  // logits = log π (softmax(log π) = π)
  Array<double> logits = xt::zeros<double>({K});
  for (std::size_t k = 0; k < K; ++k) logits(k) = std::log(weights_(k));
  t.logits = Param<double>("logits", logits);
  t.means = Param<double>("means", means_);
  const double* P = precisions_cholesky_.data();
  if (type == CovarianceType::full || type == CovarianceType::tied) {
    const std::size_t n_mat = type == CovarianceType::full ? K : 1;
    Array<double> A = precisions_cholesky_, s = type == CovarianceType::full ? Array<double>(xt::zeros<double>({K, D}))
                                                                              : Array<double>(xt::zeros<double>({D}));
    for (std::size_t k = 0; k < n_mat; ++k)
      for (std::size_t d = 0; d < D; ++d) {
        s.data()[k * D + d] = std::log(P[(k * D + d) * D + d]);
        A.data()[(k * D + d) * D + d] = 0.0;
      }
    t.chol_offdiag = Param<double>("chol_offdiag", A);
    t.log_diag = Param<double>("log_diag", s);
  } else {
    Array<double> s = precisions_cholesky_;
    for (double& v : s) v = std::log(v);
    t.log_diag = Param<double>("log_diag", s);
  }
  return t;
}

void GaussianMixture::set_unconstrained(const UnconstrainedParameters& t) {
  const std::size_t K = options_.n_components, D = t.means.value.shape(1);
  const CovarianceType type = options_.covariance_type;
  Parameters p;
  // π = softmax(logits), max-shifted
  const double m = xt::amax(t.logits.value)();
  p.weights = Vector::from_shape({K});
  double total = 0;
  for (std::size_t k = 0; k < K; ++k) total += (p.weights(k) = std::exp(t.logits.value(k) - m));
  for (auto& w : p.weights) w /= total;
  p.means = Matrix::from_shape({K, D});
  std::copy(t.means.value.begin(), t.means.value.end(), p.means.begin());
  p.covariances = xt::zeros<double>(covariance_shape(type, K, D));
  if (type == CovarianceType::full || type == CovarianceType::tied) {
    // P = strict_upper(A) + diag(e^s), then Σ = (P Pᵀ)⁻¹
    const std::size_t n_mat = type == CovarianceType::full ? K : 1;
    std::vector<double> P(D * D);
    for (std::size_t k = 0; k < n_mat; ++k) {
      for (std::size_t i = 0; i < D; ++i)
        for (std::size_t j = 0; j < D; ++j)
          P[i * D + j] = j > i ? t.chol_offdiag.value.data()[(k * D + i) * D + j]
                               : (j == i ? std::exp(t.log_diag.value.data()[k * D + i]) : 0.0);
      kernels::covariance_from_precision_cholesky(P.data(), p.covariances.data() + k * D * D, D);
    }
  } else {
    // σ² = 1 / (e^s)²
    for (std::size_t i = 0; i < p.covariances.size(); ++i)
      p.covariances.data()[i] = std::exp(-2.0 * t.log_diag.value.data()[i]);
  }
  set_parameters(p, "set_unconstrained");
}

// θ ← optimiser step on ∇_θ(−(1/N) ℓ(θ)) over the unconstrained θ of models/gmm_tape.hpp, from the current θ.
GaussianMixture& GaussianMixture::fit_gradient(const Matrix& x, const GradientOptions& gd) {
  check_data(x, "fit_gradient", /*fitting=*/true);
  if (gd.optimizer != "adam" && gd.optimizer != "sgd")
    throw std::invalid_argument("fit_gradient: optimizer '" + gd.optimizer + "' is not one of adam, sgd");
  if (!(gd.learning_rate > 0)) throw std::invalid_argument("fit_gradient: learning_rate must be > 0");
  if (means_.size() == 0 || (fitted_ && means_.shape(1) != x.shape(1)) || !fitted_) {
    // fit()'s first initialisation, then one EM iteration (see gmm.hpp)
    Rng rng(options_.seed);
    initialize(x, rng);
    Matrix resp;
    e_step(x, resp);
    m_step(x, resp);
  }
  UnconstrainedParameters theta = unconstrained();
  std::vector<Param<double>*> params = theta.all();
  std::optional<nn::Adam<double>> adam;
  std::optional<nn::SGD<double>> sgd;
  if (gd.optimizer == "adam") adam.emplace(params, nn::Adam<double>::Options{.lr = gd.learning_rate});
  else sgd.emplace(params, nn::SGD<double>::Options{.lr = gd.learning_rate});

  const Array<double> x_array = x;
  Tape<double> tape;
  std::vector<double> lower_bounds;
  bool converged = false;
  double previous = -std::numeric_limits<double>::infinity();
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t iter = 1; iter <= gd.max_iter; ++iter) {
    tape.clear();
    for (auto* p : params) p->zero_grad();
    const Var<double> loglik = mean_log_likelihood(tape.constant(x_array), theta, options_.covariance_type);
    const double value = loglik.item();
    if (!std::isfinite(value))
      throw std::runtime_error("fit_gradient: the log-likelihood became " + std::to_string(value) + " at step " +
                               std::to_string(iter) + ": lower the learning rate (now " +
                               std::to_string(gd.learning_rate) + ")");
    // ascend L: descend −L
    tape.backward(-loglik);
    if (adam) adam->step();
    else sgd->step();
    lower_bounds.push_back(value);
    if (std::abs(value - previous) < gd.tol) {
      converged = true;
      break;
    }
    previous = value;
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  set_unconstrained(theta);
  lower_bounds_ = std::move(lower_bounds);
  n_iter_ = lower_bounds_.size();
  converged_ = converged;
  ms_per_iter_ = ms / static_cast<double>(std::max<std::size_t>(1, n_iter_));
  fitted_ = true;
  return *this;
}

}  // namespace tz::models::gmm
