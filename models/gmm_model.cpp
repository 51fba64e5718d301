// tapezoo model: a Gaussian mixture with full covariances, trained by gradient descent through the
// shared loop (`./zoo train gmm`: minibatches, Adam, checkpoints, the conformance suite).
//
// Generative model (Bishop, PRML §9.2, eq. 9.7):
//     z ~ Cat(π),  π ∈ Δ^{K−1}             which of the K components
//     x | z = k ~ N(μ_k, Σ_k)              a D-dimensional Gaussian per component
//   so that p(x) = Σ_k π_k N(x | μ_k, Σ_k).
//
// Objective: maximum likelihood by gradient descent. The loss is the negative mean
// log-likelihood of the batch (PRML eq. 9.14, negated because the loop minimises):
//     loss = −(1/B) Σ_n log Σ_k π_k N(x_n | μ_k, Σ_k)
//   Unlike a VAE's ELBO this is exact — z is summed out, no sampling, so the loss is a
//   deterministic function of the parameters and the batch.
//
// Parameterization (the same as models/gmm_gd.cpp, written here once more as a template on T so the
// model trains in float and is gradient-checked in double; gmm_gd.cpp is double-only):
//     "logits"       [K]        log π = log_softmax(logits)          π stays on the simplex for any logits
//     "means"        [K, D]     μ_k
//     "chol_offdiag" [K, D, D]  A_k, used only strictly above the diagonal (a constant mask)
//     "log_diag"     [K, D]     s_k
//     P_k = A_k ⊙ M + diag(e^{s_k}),   M_ij = [j > i]               P_k P_kᵀ = Σ_k⁻¹
//   Why Σ_k stays positive definite whatever step Adam takes: P_k is upper triangular with a
//   diagonal e^{s_k} > 0, so it is invertible, and Σ_k⁻¹ = P_k P_kᵀ is then symmetric positive
//   definite (vᵀ P Pᵀ v = ‖Pᵀ v‖² > 0 for v ≠ 0); so is its inverse Σ_k. Every real value of the
//   unconstrained parameters is a valid mixture, and no projection or clipping is needed.
//   This is scikit-learn's precisions_cholesky (see models/gmm.hpp) with its diagonal in log space.
//
// The component density needs only matmuls — no triangular solve, no determinant routine:
//     log N(x | μ_k, Σ_k) = −½ D log 2π + ½ log det Σ_k⁻¹ − ½ (x − μ_k) Σ_k⁻¹ (x − μ_k)ᵀ
//                         = −½ D log 2π + Σ_d s_kd − ½ ‖y‖²,   y = (x − μ_k) P_k = x P_k − μ_k P_k
//   since log det Σ_k⁻¹ = 2 log det P_k = 2 Σ_d s_kd (P_k triangular) and (x−μ)P Pᵀ(x−μ)ᵀ = ‖(x−μ)P‖².
// Then, stably,
//     log p(x) = logsumexp_k (log_softmax(logits)_k + log N(x | μ_k, Σ_k)).
//
// The closed-form alternative, EM, is models/gmm.cpp (tz::gmm::GaussianMixture::fit); its score()
// is the same log-likelihood, which tests/test_model_gmm_registry.cpp checks to 1e-10.
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "datasets/synthetic.hpp"
#include "models/model.hpp"
#include "distributions/constants.hpp"

namespace tz::models {

namespace {


template <class T>
class GmmModel : public Model<T> {
 public:
  GmmModel(const Config& cfg, Rng& rng) {
    const long k = cfg.integer("k"), d = cfg.integer("d");
    if (k < 1) throw std::invalid_argument(fmt::format("--k: expected at least 1 component, got {}", k));
    if (d < 1) throw std::invalid_argument(fmt::format("--d: expected a data width of at least 1, got {}", d));
    k_ = static_cast<std::size_t>(k);
    d_ = static_cast<std::size_t>(d);
    auto& P = this->params_;
    // π uniform, Σ_k = I (P_k = I), μ_k ~ N(0, I): distinct means break the symmetry between
    // components, which identical means would keep forever (their gradients would be equal).
    P.add("logits", xt::zeros<T>({k_}));
    P.add("means", rng.normal<T>({k_, d_}));
    P.add("chol_offdiag", xt::zeros<T>({k_, d_, d_}));
    P.add("log_diag", xt::zeros<T>({k_, d_}));
    Array<T> mask = xt::zeros<T>({d_, d_});
    for (std::size_t i = 0; i < d_; ++i)
      for (std::size_t j = i + 1; j < d_; ++j) mask(i, j) = T(1);
    mask_ = mask;
    eye_ = xt::eval(xt::eye<T>(d_));
  }

  // log p(x_n) for each row of x [N, D], as [N].
  Var<T> log_likelihood(Tape<T>& t, const Var<T>& x) {
    check_width(x.shape()[1]);
    auto& P = this->params_;
    const Var<T> logits = t.param(P["logits"]), means = t.param(P["means"]);
    const Var<T> offdiag = t.param(P["chol_offdiag"]), log_diag = t.param(P["log_diag"]);
    const Var<T> mask = t.constant(mask_), eye = t.constant(eye_);
    const auto D = static_cast<std::ptrdiff_t>(d_);
    std::vector<Var<T>> columns;  // log N(x_n | μ_k, Σ_k) + ½ D log 2π, one [N, 1] column per k
    for (std::size_t k = 0; k < k_; ++k) {
      // s_k [1, D] and P_k = A_k ⊙ M + diag(e^{s_k}): the row e^{s_k} times I puts e^{s_kd} at (d, d)
      const Var<T> s = narrow(log_diag, 0, k, 1);
      const Var<T> Pk = reshape(narrow(offdiag, 0, k, 1), {D, D}) * mask + exp(s) * eye;
      // y = x P_k − μ_k P_k, [N, D] (the [1, D] row μ_k P_k broadcasts over the batch)
      const Var<T> y = matmul(x, Pk) - matmul(narrow(means, 0, k, 1), Pk);
      // log det P_k − ½ ‖y_n‖² = Σ_d s_kd − ½ Σ_j y_nj²
      columns.push_back(sum(s) - 0.5 * sum(square(y), 1, /*keepdims=*/true));
    }
    // a_nk = log π_k + log N(x_n | μ_k, Σ_k), [N, K]
    const Var<T> log_pi = reshape(log_softmax(logits, 0), {1, static_cast<std::ptrdiff_t>(k_)});
    const Var<T> a = concat(columns, 1) + log_pi - 0.5 * static_cast<double>(d_) * kLog2Pi;
    // log p(x_n) = logsumexp_k a_nk
    return logsumexp(a, 1);
  }

  Loss<T> loss(Tape<T>& t, const Batch<T>& batch, Rng& /*rng*/) override {
    // loss = −(1/B) Σ_n log p(x_n)
    const Var<T> nll = -mean(log_likelihood(t, t.constant(batch.x)));
    return {nll, {}};
  }

  void prepare_data(Dataset& data, Rng& /*rng*/) override { check_width(data.dim()); }

  Metrics evaluate(const Dataset& data, Rng& /*rng*/) override {
    Tape<T> t;
    NoGrad<T> guard(t);
    const Array<T> x = xt::cast<T>(data.test_x);
    const double avg = mean(log_likelihood(t, t.constant(x))).item();
    return {{"test_avg_loglik", avg}, {"test_nll", -avg}};
  }

 private:
  void check_width(std::size_t width) const {
    if (width != d_)
      throw std::invalid_argument(fmt::format(
          "gmm: the data have {} columns but the model was built with --d {}; pass --d {}", width, d_, width));
  }

  std::size_t k_ = 0, d_ = 0;
  Array<T> mask_, eye_;  // M (strictly upper ones) and I, [D, D]
};

// Data: a random 2-D mixture of 3 Gaussians (datasets/synthetic.hpp), the first n_train points to
// train on and the next n_test to test on.
Dataset synthetic(std::size_t n_train, std::size_t n_test, std::size_t k, Rng& rng) {
  MixtureData m = make_gaussian_mixture(n_train + n_test, k, 2, rng);
  const xt::xtensor<float, 2> x = points_to_float(m.x);
  Dataset out;
  out.name = "synthetic";
  out.train_x = Array<float>::from_shape({n_train, std::size_t{2}});
  out.test_x = Array<float>::from_shape({n_test, std::size_t{2}});
  std::copy_n(x.data(), n_train * 2, out.train_x.data());
  std::copy_n(x.data() + n_train * 2, n_test * 2, out.test_x.data());
  return out;
}

}  // namespace

ModelInfo gmm_info() {
  ModelInfo m;
  m.name = "gmm";
  m.description = "Gaussian mixture, full covariances, maximum likelihood by gradient descent (EM: models/gmm.cpp)";
  m.flags = {{"k", "3", "mixture components K"},
             {"d", "2", "data width D (must match the data; the synthetic data are 2-D)"}};
  m.tiny_flags = {{"k", "2"}, {"d", "2"}};
  m.default_data = "synthetic";
  m.conformance_lr = 0.05;
  m.default_lr = 0.05;  // the mixture's parameters move units, not fractions
  m.make_float = [](const Config& c, Rng& r) { return std::make_unique<GmmModel<float>>(c, r); };
  m.make_double = [](const Config& c, Rng& r) { return std::make_unique<GmmModel<double>>(c, r); };
  m.tiny_data = [](Rng& r) { return synthetic(256, 64, 2, r); };
  m.load_data = [](const std::string& spec, Rng&, Dataset& out) {
    if (spec != "synthetic") return false;
    Rng data_rng(1977);  // the data set is fixed: its own seed, not the run's
    out = synthetic(5000, 1000, 3, data_rng);
    return true;
  };
  return m;
}

}  // namespace tz::models
