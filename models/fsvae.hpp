// tapezoo: the fully supervised VAE (FSVAE), a conditional VAE trained with every label.
//
// Generative model (Sohn, Lee & Yan 2015, "Learning structured output representation using deep
// conditional generative models"; CS236 homework 2, fsvae.py):
//   z ~ p(z) = N(0, I)                                   z = 10 dimensions
//   x | y, z ~ Bernoulli(sigmoid(f_θ([z, y])))           decoder (z+K)-300-300-784, ELU
// Inference model:
//   q(z|x,y) = N(m_φ([x, y]), diag v_φ([x, y]))           encoder (784+K)-300-300-2z, ELU
// Objective: the ELBO of the conditional likelihood log p(x|y) (Sohn et al. 2015, eq. 4), minimised
// as its negative:
//   −ELBO(x|y) = E_q(z|x,y)[−log p(x|y,z)] + KL(q(z|x,y) ‖ N(0, I))      ≥ −log p(x|y)
// with KL(q ‖ N(0, I)) = ½ Σ_j (v_j + m_j² − 1 − log v_j) (Kingma & Welling 2014, App. B) and one
// reparameterised sample z = m + √v ⊙ ε. Evaluation adds the importance-weighted bound of log p(x|y)
// (Burda et al. 2016, eq. 8):  −L_k(x|y) = −log (1/k) Σ_j p(x|y,z_j) p(z_j) / q(z_j|x,y), k importance samples.
//
// With --prior learned the prior is conditional as well, p(z|y) = N(μ_y, diag σ_y²), one learned mean
// and variance per class (parameter prior.z_pre [K, 2z]: row y is [μ_y, h_y], σ_y² = softplus(h_y) + 1e-8,
// docs/pitfalls.md#variances; they start at μ_y = 0, σ_y² = 1 + 1e-8, i.e. N(0, I)). Its KL is
//   KL(N(m, v) ‖ N(μ_y, σ_y²)) = ½ Σ_j [log σ²_yj − log v_j + v_j/σ²_yj + (m_j − μ_yj)²/σ²_yj − 1]
// and, at a fixed encoder, it is smallest at μ_y = E_{x|y}[m], σ_y² = E_{x|y}[v + (m − μ_y)²]: the
// moments of the class's aggregate posterior. The default, --prior standard, is N(0, I) for every y.
//
// Because y is given to the decoder, z is free to hold what y does not: the style (slant, stroke
// width). class_style_grid() shows it: one row per class, one column per shared z, so the style is
// held fixed down each column while the class changes along it.
//
// CS236's FSVAE models SVHN with a Gaussian decoder; here, as for the other VAEs of the zoo, x is a
// binarized 28×28 image (MNIST or Fashion-MNIST) with a Bernoulli decoder.
//
//   tz::models::FSVAE<float> model({}, rng);
//   auto b = model.negative_elbo_bound(tape, tape.constant(x), labels, rng);   // nelbo, kl, rec: [n]
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "distributions/distributions.hpp"
#include "models/model.hpp"
#include "nn/nn.hpp"

namespace tz::models {

struct FSVAEOptions {
  std::size_t x_dim = 784;
  std::size_t hidden = 300;
  std::size_t z = 10;        // CS236 fsvae.py: z_dim = 10
  std::size_t classes = 10;  // K
  std::vector<long> iwae = {1, 10, 100};  // importance samples k of the reported −L_k bounds (as vae)
  bool learned_prior = false;  // --prior learned: p(z|y) = N(μ_y, diag σ_y²); standard (false): N(0, I)
};

template <class T>
class FSVAE : public Model<T> {
 public:
  FSVAE(const FSVAEOptions& options, Rng& rng);

  // −ELBO(x|y) per example [n], and its terms: nelbo = kl + rec.
  struct Bound {
    Var<T> nelbo, kl, rec;
  };

  // q(z|x,y) = N(m, diag v), y one-hot [n, K].
  Gaussian<T> encode(Tape<T>& tape, const Var<T>& x, const Var<T>& y) const;
  // The prior p(z|y) of each row's label, [n, z] each: N(μ_y, diag σ_y²), or N(0, I) (m = 0, v = 1)
  // with the standard prior.
  Gaussian<T> prior(Tape<T>& tape, const std::vector<int>& y) const;
  // The logits of p(x|z,y), [n, x_dim].
  Var<T> decode(Tape<T>& tape, const Var<T>& z, const Var<T>& y) const;

  // −ELBO(x|y) with ε [n, z] given, or drawn from rng.
  Bound negative_elbo_bound(Tape<T>& tape, const Var<T>& x, const std::vector<int>& y, const Var<T>& eps) const;
  Bound negative_elbo_bound(Tape<T>& tape, const Var<T>& x, const std::vector<int>& y, Rng& rng) const;
  // −L_k(x|y) per example [n], k importance samples; for k = 1 it draws the same ε as negative_elbo_bound.
  Var<T> negative_iwae_bound(Tape<T>& tape, const Var<T>& x, const std::vector<int>& y, std::size_t k,
                             Rng& rng) const;

  // [K·columns, x_dim] Bernoulli means: image y·columns + j (row y, column j of a grid with
  // `columns` per row) decodes (z_j, y), with z_j ~ N(0, I) shared by every row (with the learned
  // prior, ε_j ~ N(0, I) is shared and z = μ_y + σ_y ⊙ ε_j, the same quantile of each class's prior).
  Array<float> class_style_grid(std::size_t columns, Rng& rng);

  // ---- Model --------------------------------------------------------------------------------
  // loss = the batch mean of −ELBO(x|y); every row must have a label. Terms nelbo, kl, rec (batch means).
  Loss<T> loss(Tape<T>& tape, const Batch<T>& batch, Rng& rng) override;
  // Dynamic binarization of the batch's images.
  void prepare_batch(Batch<T>& batch, Rng& rng) override;
  // test_nelbo, test_kl, test_rec of log p(x|y) on the binarized test set; test_niwae_<k>.
  Metrics evaluate(const Dataset& data, Rng& rng) override;
  // class_style_grid.png (10 columns) and reconstructions.png.
  void write_pictures(const std::string& dir, const Dataset& data, Rng& rng) override;
  bool can_sample() const override { return true; }
  // Bernoulli means for y ~ Cat(1/K), z ~ p(z|y).
  Array<float> sample(std::size_t n, Rng& rng) override;

  const FSVAEOptions& options() const { return options_; }

 private:
  FSVAEOptions options_;
  nn::MLP<T> encoder_, decoder_;
  Param<T>* prior_ = nullptr;  // [K, 2z]: μ_y, then the pre-softplus σ_y²; only with learned_prior
  Array<T> xbin_;              // the binarized batch, swapped with batch.x (prepare_batch)
  // Codes z = μ_y + σ_y ⊙ ε of the prior p(z|y) of each label, from ε ~ N(0, I) [n, z] (z = ε when standard).
  Array<T> prior_codes(Array<T> eps, const std::vector<int>& y) const;
};

// The registry entry: flags z, hidden, iwae, prior.
ModelInfo fsvae_info();

extern template class FSVAE<float>;
extern template class FSVAE<double>;

}  // namespace tz::models
