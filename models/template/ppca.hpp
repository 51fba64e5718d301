// tapezoo model template: probabilistic PCA trained by the ELBO.
//
// ─── COPY ME ──────────────────────────────────────────────────────────────────────────────────────
// `./zoo new-model NAME` copies this file and ppca.cpp to models/NAME.hpp and models/NAME.cpp,
// renames the model after NAME (its class, options, functions and messages), adds NAME.cpp to
// models/meson.build and registers it in models/registry.cpp. It then builds and passes the conformance suite at once. Change the parts
// marked ✎ (docs/adding-a-model.md walks through them) and keep the shape, which is the shape of
// every model of the zoo (models/vae.hpp, models/vae.cpp):
//   NAME.hpp   the model and its objective with the paper → options → the class, declared → ModelInfo
//   NAME.cpp   the model and its bound, one formula comment per term → evaluation → flags and registry
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
// ✎ Objective: the negative ELBO per example, and its batch mean as the loss,
//     −ELBO(x) = −E_q[log p(x|z)] + KL(q(z|x) ‖ p(z))     ≥ −log p(x)
//   with the KL to N(0, I) in closed form (K&W App. B) and one reparameterised sample z = m + √v ⊙ ε.
//
//   tz::models::Ppca<float> model({.d = 10, .z = 2}, rng);
//   tz::Tape<float> tape;
//   auto b = model.negative_elbo_bound(tape, tape.constant(x), rng);   // per example: nelbo, kl, rec [n]
//   tape.backward(mean(b.nelbo));
//
// `./zoo train ppca` trains it through the shared loop (models/train.hpp); registered in
// models/registry.cpp as ppca_info().
#pragma once

#include <cstddef>
#include <string>

#include "distributions/distributions.hpp"
#include "models/model.hpp"
#include "models/vae_common.hpp"  // rows_as, batch_mean, count_flag: the helpers the VAE family shares

namespace tz::models {

// ✎ The model's options, one per flag of ppca_info().
struct PpcaOptions {
  std::size_t d = 10;  // data dimensions (the factories do not see the data: prepare_data checks it)
  std::size_t z = 2;   // latent dimensions q
};

template <class T>
class Ppca : public Model<T> {
 public:
  Ppca(const PpcaOptions& options, Rng& rng);

  // −ELBO(x) = rec + KL per example, and its two terms: each of shape [n] (loss() takes the batch mean).
  struct Bound {
    Var<T> nelbo, kl, rec;
  };

  // ✎ q(z|x) = N(m, diag v): m and v of shape [n, q].
  Gaussian<T> encode(Tape<T>& tape, const Var<T>& x) const;
  // ✎ p(x|z) = N(zW + μ, σ² I): its means and variances, [n, d].
  Gaussian<T> decode(Tape<T>& tape, const Var<T>& z) const;

  // ✎ −ELBO(x) with one reparameterised sample z = m + √v ⊙ ε; ε [n, q] given (tests share it) or
  // drawn from rng.
  Bound negative_elbo_bound(Tape<T>& tape, const Var<T>& x, const Var<T>& eps) const;
  Bound negative_elbo_bound(Tape<T>& tape, const Var<T>& x, Rng& rng) const;

  // ---- Model --------------------------------------------------------------------------------
  // loss = the batch mean of −ELBO(x); terms nelbo, kl, rec (batch means).
  Loss<T> loss(Tape<T>& tape, const Batch<T>& batch, Rng& rng) override;
  // Checks that the data has d columns (--d), before any matrix product.
  void prepare_data(Dataset& data, Rng& rng) override;
  // ✎ test_nelbo, test_kl, test_rec, and the exact test_nll = −log p(x) that the NELBO bounds.
  Metrics evaluate(const Dataset& data, Rng& rng) override;

  // −log p(x) exactly, averaged over the rows of x: p(x) = N(μ, C), C = WᵀW + σ² I.
  double negative_log_likelihood(const Array<float>& x) const;

  const PpcaOptions& options() const { return options_; }

 private:
  PpcaOptions options_;
  // ✎ The parameters, named as in the paper ("enc.A", "dec.W": the checkpoint's keys).
  Param<T>*A_ = nullptr, *a_ = nullptr, *c_ = nullptr;   // q(z|x): m = xA + a, v = softplus(c) + 1e-8
  Param<T>*W_ = nullptr, *mu_ = nullptr, *s_ = nullptr;  // p(x|z): mean zW + μ, σ² = softplus(s) + 1e-6
};

// The registry entry (models/registry.cpp): flags z, d; the data "synthetic".
ModelInfo ppca_info();
// The options a Config of ppca_info()'s flags describes (throws std::invalid_argument naming a bad flag).
PpcaOptions ppca_options(const Config& config);

extern template class Ppca<float>;
extern template class Ppca<double>;

}  // namespace tz::models
