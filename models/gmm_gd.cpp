// tapezoo model gmm_gd: a Gaussian mixture with full covariances, trained by gradient descent through
// the shared loop (`./zoo train gmm_gd`: minibatches, Adam, checkpoints, the conformance suite).
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
// Parameterization: logits [K], means [K, D], chol_offdiag [K, D, D] and log_diag [K, D], the
// unconstrained coordinates of models/gmm_tape.hpp (P_k = A_k ⊙ M + diag(e^{s_k}), P_k P_kᵀ = Σ_k⁻¹),
// where the log-likelihood is written once, as a template on T, for this model (float32 training,
// float64 gradient checks) and for GaussianMixture::fit_gradient (models/gmm_gradient.cpp). Every
// real value of these parameters is a valid mixture: no projection or clipping is needed.
//
// The closed-form alternative, EM, is models/gmm_em.cpp (GaussianMixture::fit, `./zoo fit gmm`); its
// score() is the same log-likelihood, which tests/test_model_gmm_registry.cpp checks to 1e-10.
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "datasets/synthetic.hpp"
#include "models/gmm_tape.hpp"
#include "models/model.hpp"

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
  }

  // log p(x_n) for each row of x [N, D], as [N] (models/gmm_tape.hpp).
  Var<T> log_likelihood(Tape<T>& t, const Var<T>& x) {
    check_width(x.shape()[1]);
    auto& P = this->params_;
    const gmm::TapeParameters<T> theta{t.param(P["logits"]), t.param(P["means"]), t.param(P["chol_offdiag"]),
                                       t.param(P["log_diag"])};
    return gmm::mixture_log_likelihood(x, theta, gmm::CovarianceType::full);
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
          "gmm_gd: the data have {} columns but the model was built with --d {}; pass --d {}", width, d_, width));
  }

  std::size_t k_ = 0, d_ = 0;
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

ModelInfo gmm_gd_info() {
  ModelInfo m;
  m.name = "gmm_gd";
  m.description = "Gaussian mixture, full covariances, maximum likelihood by gradient descent (EM: ./zoo fit gmm)";
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
