// tapezoo: the Gaussian-mixture VAE (GMVAE), a VAE whose prior is a learned mixture of K Gaussians.
//
// Generative model (CS236 homework 2, the mixture-of-Gaussians prior, gmvae.py):
//   z ~ p(z) = (1/K) Σ_i N(z; μ_i, diag σ_i²)        a uniform mixture of K = --components; μ_i, σ_i² trained
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
//   −L_k(x) = −log (1/k) Σ_j p(x|z_j) p(z_j) / q(z_j|x),    z_j ~ q(z|x), j = 1..k
// which equals the ELBO for k = 1 and tightens to −log p(x) as k grows (their Theorem 1).
// (k counts importance samples, as in models/vae.hpp; K counts the prior's components.)
//
// The prior is initialised as in CS236:  z_pre ~ N(0, 1) / √(K·z) with shape [2K, z], then
//   μ = z_pre[0:K],  σ² = softplus(z_pre[K:2K]) + 1e-8      (gaussian_parameters along axis 0)
// With K = 1 and a fixed standard-normal component this is exactly the VAE with a Monte-Carlo KL
// (tests/test_model_gmvae.cpp checks it). Tomczak & Welling (2018, "VAE with a VampPrior")
// explain why a learned, multimodal prior can fit the aggregate posterior better than N(0, I).
//
//   tz::models::GMVAE<float> model({.z = 10, .components = 500}, rng);
//   tz::Tape<float> tape;
//   auto b = model.negative_elbo_bound(tape, tape.constant(x), rng);   // per example: nelbo, kl, rec
//   tape.backward(mean(b.nelbo));
//
// `./zoo train gmvae` trains it (registered in models/registry.cpp as gmvae_info()). The mixture's
// size is --components (it was --k before k came to mean importance samples everywhere; checkpoints
// that store k still load).
//
// The one mixture-prior code path. Everything above uses the prior only through prior(tape), the K
// components (μ_i, σ_i²): the bounds (log_normal_mixture), the sampler (i ~ Uniform, z ~ N(μ_i, σ_i²))
// and the pictures. prior() is virtual, so a prior whose components come from elsewhere is a
// subclass that overrides prior() alone: the VampPrior (models/vamp.hpp) takes them from the encoder
// applied to K learned pseudo-inputs, μ_i = m_φ(u_i), σ_i² = v_φ(u_i).
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
  std::size_t components = 500;  // K, mixture components of the prior (CS236: --k 500)
  std::vector<long> iwae = {1, 10, 100};  // importance samples k of the reported −L_k bounds (as vae)
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
  // The prior's means μ and variances σ², each [K, z]: here the free parameters z_pre; a subclass
  // may take them from elsewhere (the VampPrior: the encoder of its pseudo-inputs).
  virtual Gaussian<T> prior(Tape<T>& tape) const;

  // −ELBO(x) with the one-sample KL estimate; ε [n, z] given (tests share it) or drawn from rng.
  Bound negative_elbo_bound(Tape<T>& tape, const Var<T>& x, const Var<T>& eps) const;
  Bound negative_elbo_bound(Tape<T>& tape, const Var<T>& x, Rng& rng) const;
  // −L_k(x) per example [n], k importance samples. For k = 1 it draws the same ε as negative_elbo_bound.
  Var<T> negative_iwae_bound(Tape<T>& tape, const Var<T>& x, std::size_t k, Rng& rng) const;

  // ---- Model --------------------------------------------------------------------------------
  // loss = the batch mean of −ELBO(x); terms nelbo, kl, rec (batch means).
  Loss<T> loss(Tape<T>& tape, const Batch<T>& batch, Rng& rng) override;
  // Dynamic binarization: x ~ Bernoulli(pixel intensities), fresh every batch.
  void prepare_batch(Batch<T>& batch, Rng& rng) override;
  // test_nelbo, test_kl, test_rec on the binarized test set, and test_niwae_<k> for k in iwae.
  Metrics evaluate(const Dataset& data, Rng& rng) override;
  // samples.png (one row per mixture component drawn) and reconstructions.png.
  void write_pictures(const std::string& dir, const Dataset& data, Rng& rng) override;
  bool can_sample() const override { return true; }
  // Rows of Bernoulli means sigmoid(f(z)), z ~ p(z).
  Array<float> sample(std::size_t n, Rng& rng) override;
  // The same with the mixture component of each row given (pictures of one cluster).
  Array<float> sample_components(const std::vector<std::size_t>& components, Rng& rng);
  // Latent draws z ~ p(z) [n, z]: i ~ Uniform{1..K}, then z ~ N(μ_i, σ_i²) (what sample() decodes).
  Array<T> sample_prior(std::size_t n, Rng& rng);
  // z ~ N(μ_i, σ_i²) [n, z] for the given component i of each row.
  Array<T> sample_latent(const std::vector<std::size_t>& components, Rng& rng);
  // q(z|x) = N(m, diag v) of every row of x, with the prior's (μ, σ²) [K, z] (./zoo diagnose --active-units).
  GaussianCode gaussian_code(const Array<float>& x) override;

  const GMVAEOptions& options() const { return options_; }

 protected:
  // The encoder and the decoder alone, for a subclass that brings its own prior() and its
  // parameters; name ("gmvae", "vamp") starts its error messages.
  GMVAE(const GMVAEOptions& options, Rng& rng, std::string name);

 private:
  GMVAEOptions options_;
  std::string name_;
  nn::MLP<T> encoder_, decoder_;
  Param<T>* z_pre_ = nullptr;  // [2K, z]: the prior's means, then its pre-softplus variances
  Array<T> xbin_;              // the binarized batch, swapped with batch.x (prepare_batch)
};

// The registry entry (models/registry.cpp): flags z, components, hidden, iwae.
ModelInfo gmvae_info();
// The options a Config of gmvae_info()'s flags describes; a Config of an older checkpoint, which
// names the component count k, gives the same model.
GMVAEOptions gmvae_options(const Config& config);

extern template class GMVAE<float>;
extern template class GMVAE<double>;

}  // namespace tz::models
