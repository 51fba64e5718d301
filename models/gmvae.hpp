// tapezoo: the Gaussian-mixture VAE (GMVAE), a VAE whose prior is a learned mixture of k Gaussians.
//
// Generative model (CS236 homework 2, the mixture-of-Gaussians prior, gmvae.py):
//   z ~ p(z) = (1/k) Σ_i N(z; μ_i, diag σ_i²)        a uniform mixture; μ_i, σ_i² are trained
//   x | z ~ Bernoulli(sigmoid(f_θ(z)))                decoder z-300-300-784, ELU
// Inference model:
//   q(z|x) = N(z; m_φ(x), diag v_φ(x))               encoder 784-300-300-2z, ELU, gaussian_parameters
// Objective, the ELBO (Kingma & Welling 2014, eq. 3), minimised as its negative:
//   −ELBO(x) = E_q[−log p(x|z)] + KL(q(z|x) ‖ p(z))
// The KL between a Gaussian and a mixture of Gaussians has no closed form, so it is replaced by
// its one-sample Monte-Carlo estimate, which is unbiased (as CS236 gmvae.py):
//   KL(q(z|x) ‖ p(z)) ≈ log q(z|x) − log p(z),     z = m + √v ⊙ ε,  ε ~ N(0, I)
// with log p(z) = log_mean_exp_i log N(z; μ_i, σ_i²) taken stably (log_normal_mixture).
// Evaluation adds the importance-weighted bound (Burda, Grosse & Salakhutdinov 2016, eq. 8):
//   −IWAE_m(x) = −log (1/m) Σ_j p(x|z_j) p(z_j) / q(z_j|x),    z_j ~ q(z|x), j = 1..m
// which equals the ELBO for m = 1 and tightens to −log p(x) as m grows (their Theorem 1).
//
// The prior is initialised as in CS236:  z_pre ~ N(0, 1) / √(k·z) with shape [2k, z], then
//   μ = z_pre[0:k],  σ² = softplus(z_pre[k:2k]) + 1e-8      (gaussian_parameters along axis 0)
// With k = 1 and a fixed standard-normal component this is exactly the VAE with a Monte-Carlo KL
// (tests/test_model_gmvae.cpp checks it). Tomczak & Welling (2018, "VAE with a VampPrior")
// explain why a learned, multimodal prior can fit the aggregate posterior better than N(0, I).
//
//   tz::models::GMVAE<float> model({.z = 10, .k = 500}, rng);
//   tz::Tape<float> tape;
//   auto b = model.negative_elbo_bound(tape, tape.constant(x), rng);   // per example: nelbo, kl, rec
//   tape.backward(mean(b.nelbo));
//
// `./zoo train gmvae` trains it (registered in models/registry.cpp as gmvae_info()).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "distributions/distributions.hpp"
#include "models/model.hpp"
#include "nn/nn.hpp"

namespace tz::models {

struct GMVAEOptions {
  std::size_t x_dim = 784;   // pixels
  std::size_t hidden = 300;  // width of the two hidden layers of encoder and decoder
  std::size_t z = 10;        // latent dimension (CS236 run_gmvae.py: --z 10)
  std::size_t k = 500;       // mixture components of the prior (CS236: --k 500)
  std::vector<long> iwae = {1, 10, 100};  // importance samples m of the reported −IWAE_m bounds (as vae)
};

template <class T>
class GMVAE : public Model<T> {
 public:
  GMVAE(const GMVAEOptions& options, Rng& rng);

  // One −ELBO per example, and its two terms: nelbo = kl + rec, each of shape [n].
  struct Bound {
    Var<T> nelbo, kl, rec;
  };

  // q(z|x) = N(m, diag v): m and v of shape [n, z].
  Gaussian<T> encode(Tape<T>& tape, const Var<T>& x) const;
  // The logits of p(x|z), shape [n, x_dim].
  Var<T> decode(Tape<T>& tape, const Var<T>& z) const;
  // The prior's means μ and variances σ², each [k, z].
  Gaussian<T> prior(Tape<T>& tape) const;

  // −ELBO(x) with the one-sample KL estimate; ε [n, z] given (tests share it) or drawn from rng.
  Bound negative_elbo_bound(Tape<T>& tape, const Var<T>& x, const Var<T>& eps) const;
  Bound negative_elbo_bound(Tape<T>& tape, const Var<T>& x, Rng& rng) const;
  // −IWAE_iw(x) per example [n]. For iw = 1 it draws the same ε as negative_elbo_bound.
  Var<T> negative_iwae_bound(Tape<T>& tape, const Var<T>& x, std::size_t iw, Rng& rng) const;

  // ---- Model --------------------------------------------------------------------------------
  // loss = mean over the batch of −ELBO(x); terms nelbo, kl, rec.
  Loss<T> loss(Tape<T>& tape, const Batch<T>& batch, Rng& rng) override;
  // Dynamic binarization: x ~ Bernoulli(pixel intensities), fresh every batch.
  void prepare_batch(Batch<T>& batch, Rng& rng) override;
  // test_nelbo, test_kl, test_rec on the binarized test set, and test_niwae_<m> for m in iwae.
  Metrics evaluate(const Dataset& data, Rng& rng) override;
  // samples.png (one row per mixture component drawn) and reconstructions.png.
  void write_pictures(const std::string& dir, const Dataset& data, Rng& rng) override;
  bool can_sample() const override { return true; }
  // Rows of Bernoulli means sigmoid(f(z)), z ~ p(z).
  Array<float> sample(std::size_t n, Rng& rng) override;
  // The same with the mixture component of each row given (pictures of one cluster).
  Array<float> sample_components(const std::vector<std::size_t>& components, Rng& rng);

  const GMVAEOptions& options() const { return options_; }

 private:
  GMVAEOptions options_;
  nn::MLP<T> encoder_, decoder_;
  Param<T>* z_pre_ = nullptr;  // [2k, z]: the prior's means, then its pre-softplus variances
};

// The registry entry (models/registry.cpp): flags z, k, hidden, iwae.
ModelInfo gmvae_info();

// A tiny labelled image set that needs no files, for the conformance checks of the VAE-family
// models here (gmvae, ssvae, fsvae): 28×28 blurred bars whose angle is the class (10 classes),
// jittered and noisy; 200 training and 100 test images, in class order 0, 1, …, 9, 0, 1, ….
Dataset tiny_stroke_images(Rng& rng);

extern template class GMVAE<float>;
extern template class GMVAE<double>;

}  // namespace tz::models
