// tapezoo model template: probabilistic PCA trained by the ELBO.
//
// ─── COPY ME ──────────────────────────────────────────────────────────────────────────────────────
// `./zoo new-model NAME` copies this file to models/NAME.cpp, renames ppca → NAME and Ppca → Name,
// adds it to models/meson.build and registers it in models/registry.cpp. It then builds and passes
// the conformance suite at once. Change the parts marked ✎ (docs/adding-a-model.md walks through
// them), keep the shape: header with the model and objective → parameters → loss with one formula
// comment per term → evaluation → ModelInfo.
// ──────────────────────────────────────────────────────────────────────────────────────────────────
//
// ✎ Generative model (Tipping & Bishop 1999, "Probabilistic principal component analysis", eq. 1–2):
//     z ~ N(0, I_q)                       a q-dimensional latent
//     x | z ~ N(z W + μ, σ² I_d)          a linear decoder plus isotropic noise
//   so that p(x) = N(μ, WᵀW + σ² I) — PCA when σ² → 0.
//
// ✎ Inference network (amortised, Kingma & Welling 2014, §2.4):
//     q(z|x) = N(x A + a, diag v),  v = softplus(c) + 1e-8
//   PPCA's exact posterior is Gaussian with a covariance that does not depend on x
//   (σ² M⁻¹, M = W Wᵀ + σ² I, Tipping & Bishop eq. 6), so a diagonal v loses only the correlations.
//
// ✎ Objective: the negative ELBO, averaged over the batch,
//     −ELBO(x) = −E_q[log p(x|z)] + KL(q(z|x) ‖ p(z))     ≥ −log p(x)
//   with one reparameterised sample z = m + √v ⊙ ε.
#include <cmath>

#include <fmt/format.h>

#include "datasets/synthetic.hpp"
#include "distributions/distributions.hpp"
#include "models/model.hpp"

namespace tz::models {

namespace {

template <class T>
class Ppca : public Model<T> {
 public:
  Ppca(const Config& cfg, Rng& rng) {
    const long d = cfg.integer("d"), q = cfg.integer("z");
    if (d < 1) throw std::invalid_argument(fmt::format("--d: expected a positive width, got {}", d));
    if (q < 1 || q > d) throw std::invalid_argument(fmt::format("--z: expected 1 ≤ z ≤ {} (--d), got {}", d, q));
    d_ = static_cast<std::size_t>(d);
    q_ = static_cast<std::size_t>(q);
    // ✎ Parameters, named as in the paper. Small random W, as any symmetric init would stall.
    auto& P = this->params_;
    const T k = T(1) / static_cast<T>(std::sqrt(static_cast<double>(d_)));
    P.add("enc.A", rng.uniform<T>({d_, q_}, -k, k));
    P.add("enc.a", xt::zeros<T>({q_}));
    P.add("enc.c", xt::zeros<T>({q_}));
    P.add("dec.W", rng.uniform<T>({q_, d_}, -k, k));
    P.add("dec.mu", xt::zeros<T>({d_}));
    P.add("dec.s", xt::zeros<T>({1}));
  }

  // q(z|x) = N(m, diag v)
  Gaussian<T> encode(Tape<T>& t, const Var<T>& x) {
    auto& P = this->params_;
    // m = x A + a
    Var<T> m = linear(x, t.param(P["enc.A"]), t.param(P["enc.a"]));
    // v = softplus(c) + 1e-8, the same for every x (broadcast over the batch)
    Var<T> v = broadcast_to(softplus(t.param(P["enc.c"])) + 1e-8, Shape(m.shape().begin(), m.shape().end()));
    return {m, v};
  }

  // p(x|z) = N(z W + μ, σ² I)
  Gaussian<T> decode(Tape<T>& t, const Var<T>& z) {
    auto& P = this->params_;
    Var<T> mean = linear(z, t.param(P["dec.W"]), t.param(P["dec.mu"]));
    // σ² = softplus(s) + 1e-6 > 0
    Var<T> var = broadcast_to(softplus(t.param(P["dec.s"])) + 1e-6, Shape(mean.shape().begin(), mean.shape().end()));
    return {mean, var};
  }

  struct Bound {
    Var<T> nelbo, kl, rec;  // batch means
  };

  Bound negative_elbo_bound(Tape<T>& t, const Var<T>& x, Rng& rng) {
    Gaussian<T> q = encode(t, x);
    // z = m + √v ⊙ ε,  ε ~ N(0, I)   (the reparameterization trick)
    Var<T> z = sample_gaussian(q.m, q.v, rng);
    Gaussian<T> px = decode(t, z);
    // rec = −log p(x|z) = ½ Σ_j [log 2πσ² + (x_j − μ_j)²/σ²]
    Var<T> rec = -log_normal(x, px.m, px.v);
    // KL(q(z|x) ‖ N(0, I)) = ½ Σ_j (v_j + m_j² − 1 − log v_j)     (Kingma & Welling 2014, App. B)
    Shape zs(q.m.shape().begin(), q.m.shape().end());
    Var<T> kl = kl_normal(q.m, q.v, t.constant(xt::zeros<T>(zs)), t.constant(xt::ones<T>(zs)));
    // −ELBO = rec + KL
    return {mean(rec + kl), mean(kl), mean(rec)};
  }

  // The data must have the width the model was built for (--d): say so before any matrix product.
  void prepare_data(Dataset& data, Rng&) override {
    if (data.dim() != d_)
      throw std::invalid_argument(fmt::format("ppca: the data '{}' have {} columns, but the model was built with "
                                              "--d {}; pass --d {}", data.name, data.dim(), d_, data.dim()));
  }

  Loss<T> loss(Tape<T>& t, const Batch<T>& batch, Rng& rng) override {
    Bound b = negative_elbo_bound(t, t.constant(batch.x), rng);
    return {b.nelbo, {{"kl", b.kl.item()}, {"rec", b.rec.item()}}};
  }

  Metrics evaluate(const Dataset& data, Rng& rng) override {
    Tape<T> t;
    NoGrad<T> guard(t);
    Array<T> x = xt::cast<T>(data.test_x);
    Bound b = negative_elbo_bound(t, t.constant(x), rng);
    return {{"test_nelbo", b.nelbo.item()}, {"test_kl", b.kl.item()}, {"test_rec", b.rec.item()},
            {"test_nll", negative_log_likelihood(data.test_x)}};
  }

  // −log p(x) exactly, from p(x) = N(μ, C), C = WᵀW + σ² I, by a Cholesky factor of C: the number
  // the NELBO bounds from above.
  double negative_log_likelihood(const Array<float>& X) {
    auto& P = this->params_;
    const Array<T>& W = P["dec.W"].value;
    const double s2 = std::log1p(std::exp(static_cast<double>(P["dec.s"].value(0)))) + 1e-6;
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
        double s = static_cast<double>(X(r, i)) - static_cast<double>(P["dec.mu"].value(i));
        for (std::size_t k = 0; k < i; ++k) s -= L[i * d_ + k] * y[k];
        y[i] = s / L[i * d_ + i];
        maha += y[i] * y[i];
      }
      total += 0.5 * (static_cast<double>(d_) * kLog2Pi + logdet + maha);
    }
    return total / static_cast<double>(n);
  }

 private:
  std::size_t q_ = 0, d_ = 0;
};

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
  m.make_float = [](const Config& c, Rng& r) { return std::make_unique<Ppca<float>>(c, r); };
  m.make_double = [](const Config& c, Rng& r) { return std::make_unique<Ppca<double>>(c, r); };
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
