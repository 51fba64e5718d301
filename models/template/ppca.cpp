// tapezoo model template: probabilistic PCA trained by the ELBO.
// The model and its derivation are in models/template/ppca.hpp; each loss term below carries its
// formula on the line above it. The file reads as every model of the zoo does (models/vae.cpp,
// vae_eval.cpp, vae_info.cpp): the model and its bound, then evaluation, then flags and the registry.
#include "models/template/ppca.hpp"

#include <cmath>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "datasets/linalg.hpp"
#include "models/evaluate.hpp"

namespace tz::models {

// ---- the model ----------------------------------------------------------------------------------

template <class T>
Ppca<T>::Ppca(const PpcaOptions& options, Rng& rng) : options_(options) {
  const std::size_t d = options_.d, q = options_.z;
  if (q > d) throw std::invalid_argument(fmt::format("--z: expected 1 ≤ z ≤ {} (--d), got {}", d, q));
  // ✎ Parameters, named as in the paper. Small random W, as any symmetric init would stall.
  auto& P = this->params_;
  const T k = T(1) / static_cast<T>(std::sqrt(static_cast<double>(d)));
  A_ = &P.add("enc.A", rng.uniform<T>({d, q}, -k, k));
  a_ = &P.add("enc.a", xt::zeros<T>({q}));
  c_ = &P.add("enc.c", xt::zeros<T>({q}));
  W_ = &P.add("dec.W", rng.uniform<T>({q, d}, -k, k));
  mu_ = &P.add("dec.mu", xt::zeros<T>({d}));
  s_ = &P.add("dec.s", xt::zeros<T>({1}));
}

template <class T>
Gaussian<T> Ppca<T>::encode(Tape<T>& tape, const Var<T>& x) const {
  // m = x A + a
  Var<T> m = linear(x, tape.param(*A_), tape.param(*a_));
  // v = softplus(c) + 1e-8, the same for every x (broadcast over the batch)
  Var<T> v = broadcast_to(softplus(tape.param(*c_)) + 1e-8, Shape(m.shape().begin(), m.shape().end()));
  return {m, v};
}

template <class T>
Gaussian<T> Ppca<T>::decode(Tape<T>& tape, const Var<T>& z) const {
  // mean z W + μ
  Var<T> mean = linear(z, tape.param(*W_), tape.param(*mu_));
  // σ² = softplus(s) + 1e-6 > 0
  Var<T> var = broadcast_to(softplus(tape.param(*s_)) + 1e-6, Shape(mean.shape().begin(), mean.shape().end()));
  return {mean, var};
}

template <class T>
typename Ppca<T>::Bound Ppca<T>::negative_elbo_bound(Tape<T>& tape, const Var<T>& x, const Var<T>& eps) const {
  Gaussian<T> q = encode(tape, x);
  // z = m + √v ⊙ ε,  ε ~ N(0, I)   (the reparameterization trick)
  Var<T> z = sample_gaussian(q.m, q.v, eps);
  Gaussian<T> px = decode(tape, z);
  // rec = −log p(x|z) = ½ Σ_j [log 2πσ² + (x_j − μ_j)²/σ²]
  Var<T> rec = -log_normal(x, px.m, px.v);
  // KL(q(z|x) ‖ N(0, I)) = ½ Σ_j (v_j + m_j² − 1 − log v_j)     (Kingma & Welling 2014, App. B)
  Var<T> kl = kl_std_normal(q.m, q.v);
  // −ELBO = rec + KL, per example
  return {rec + kl, kl, rec};
}

template <class T>
typename Ppca<T>::Bound Ppca<T>::negative_elbo_bound(Tape<T>& tape, const Var<T>& x, Rng& rng) const {
  return negative_elbo_bound(tape, x, tape.constant(rng.normal<T>({x.shape()[0], options_.z}), "ε"));
}

template <class T>
Loss<T> Ppca<T>::loss(Tape<T>& tape, const Batch<T>& batch, Rng& rng) {
  Bound b = negative_elbo_bound(tape, tape.constant(batch.x, "x"), rng);
  // the batch mean of −ELBO(x); the terms are batch means too
  Var<T> nelbo = mean(b.nelbo);
  return {nelbo, {{"nelbo", nelbo.item()}, {"kl", batch_mean(b.kl)}, {"rec", batch_mean(b.rec)}}};
}

template <class T>
void Ppca<T>::prepare_data(Dataset& data, Rng& /*rng*/) {
  if (data.dim() != options_.d)
    throw std::invalid_argument(fmt::format("ppca: the data '{}' have {} columns, but the model was built with "
                                            "--d {}; pass --d {}", data.name, data.dim(), options_.d, data.dim()));
}

// ---- evaluation ----------------------------------------------------------------------------------

template <class T>
Metrics Ppca<T>::evaluate(const Dataset& data, Rng& rng) {
  const std::size_t n = data.test_x.shape()[0];
  const double nd = static_cast<double>(std::max<std::size_t>(n, 1));
  // Σ_x of −ELBO(x), KL and rec, 500 rows at a time (models/evaluate.hpp)
  const auto [nelbo, kl, rec] = sum_over_chunks<T>(n, 500, [&](Tape<T>& tape, std::size_t b, std::size_t e) {
    Bound bound = negative_elbo_bound(tape, tape.constant(rows_as<T>(data.test_x, b, e)), rng);
    return std::array{bound.nelbo, bound.kl, bound.rec};
  });
  return {{"test_nelbo", nelbo / nd}, {"test_kl", kl / nd}, {"test_rec", rec / nd},
          {"test_nll", negative_log_likelihood(data.test_x)}};
}

// −log p(x) exactly, from p(x) = N(μ, C), C = WᵀW + σ² I, by a Cholesky factor of C: the number
// the NELBO bounds from above.
template <class T>
double Ppca<T>::negative_log_likelihood(const Array<float>& X) const {
  const std::size_t d_ = options_.d, q_ = options_.z;
  const Array<T>& W = W_->value;
  const double s2 = std::log1p(std::exp(static_cast<double>(s_->value(0)))) + 1e-6;
  std::vector<double> C(d_ * d_), L(d_ * d_, 0.0);
  for (std::size_t i = 0; i < d_; ++i)
    for (std::size_t j = 0; j < d_; ++j) {
      double c = i == j ? s2 : 0.0;
      for (std::size_t k = 0; k < q_; ++k) c += static_cast<double>(W(k, i)) * static_cast<double>(W(k, j));
      C[i * d_ + j] = c;
    }
  L = C;  // C = L Lᵀ (datasets/linalg.hpp); C ⪰ σ² I is positive definite
  if (!cholesky_lower_inplace(L.data(), d_)) throw std::runtime_error("ppca: C = WᵀW + σ² I is not positive definite");
  double logdet = 0;
  for (std::size_t j = 0; j < d_; ++j) logdet += 2 * std::log(L[j * d_ + j]);
  const std::size_t n = X.shape()[0];
  double total = 0;
  std::vector<double> y(d_);
  for (std::size_t r = 0; r < n; ++r) {
    double maha = 0;  // ‖L⁻¹(x − μ)‖² by forward substitution
    for (std::size_t i = 0; i < d_; ++i) {
      double s = static_cast<double>(X(r, i)) - static_cast<double>(mu_->value(i));
      for (std::size_t k = 0; k < i; ++k) s -= L[i * d_ + k] * y[k];
      y[i] = s / L[i * d_ + i];
      maha += y[i] * y[i];
    }
    total += 0.5 * (static_cast<double>(d_) * kLog2Pi + logdet + maha);
  }
  return total / static_cast<double>(n);
}

template class Ppca<float>;
template class Ppca<double>;

// ---- flags and the registry entry ---------------------------------------------------------------

PpcaOptions ppca_options(const Config& c) {
  PpcaOptions o;
  o.d = count_flag(c, "d");
  o.z = count_flag(c, "z");
  return o;
}

namespace {

// ✎ Data: low-rank Gaussian points, x = z W* + μ* + 0.1 ε, with z in 2 dimensions and x in 10.
Dataset synthetic(std::size_t n_train, std::size_t n_test, Rng& rng) {
  const std::size_t d = 10, q = 2;
  Array<double> W = rng.normal<double>({q, d});
  Array<double> mu = rng.normal<double>({d});
  Dataset out;
  out.name = "synthetic";
  auto draw = [&](std::size_t n) {
    Array<float> x = Array<float>::from_shape({n, d});
    for (std::size_t r = 0; r < n; ++r) {
      const double z0 = rng.normal(), z1 = rng.normal();
      for (std::size_t j = 0; j < d; ++j)
        x(r, j) = static_cast<float>(z0 * W(0, j) + z1 * W(1, j) + mu(j) + 0.1 * rng.normal());
    }
    return x;
  };
  out.train_x = draw(n_train);
  out.test_x = draw(n_test);
  return out;
}

}  // namespace

ModelInfo ppca_info() {
  ModelInfo m;
  m.name = "ppca";
  m.description = "probabilistic PCA by the ELBO: the template to copy for a new model";
  // ✎ The model's own flags (the loop has --data, --iters, --batch, --lr, --seed, --out, --json …).
  m.flags = {{"z", "2", "latent dimensions q"},
             {"d", "10", "data dimensions (must match the data; the synthetic data are 10-D)"}};
  m.tiny_flags = {{"z", "2"}, {"d", "10"}};
  m.default_data = "synthetic";
  m.conformance_lr = 1e-2;
  // The data width is a flag, as the factories do not see the data; prepare_data checks it.
  // ✎ An image model would fix d = 784 instead.
  m.make_float = [](const Config& c, Rng& r) -> std::unique_ptr<Model<float>> {
    return std::make_unique<Ppca<float>>(ppca_options(c), r);
  };
  m.make_double = [](const Config& c, Rng& r) -> std::unique_ptr<Model<double>> {
    return std::make_unique<Ppca<double>>(ppca_options(c), r);
  };
  m.tiny_data = [](Rng& r) { return synthetic(256, 64, r); };
  m.load_data = [](const std::string& spec, Rng&, Dataset& out) {
    if (spec != "synthetic") return false;
    Rng data_rng(2014);  // the data set is fixed: its own seed, not the run's
    out = synthetic(5000, 1000, data_rng);
    return true;
  };
  return m;
}

}  // namespace tz::models
