// tapezoo: the VampPrior (Tomczak & Welling 2018, "VAE with a VampPrior"): a VAE whose prior is the
// mixture of its own variational posteriors at K learned pseudo-inputs u_k.
//
// Generative model:
//   z ~ p_λ(z) = (1/K) Σ_k q_φ(z | u_k) = (1/K) Σ_k N(z; m_φ(u_k), diag v_φ(u_k))
//   x | z ~ Bernoulli(sigmoid(f_θ(z)))                decoder z-300-300-784, ELU (as the GMVAE)
// Inference model: q_φ(z|x) = N(z; m_φ(x), diag v_φ(x)), the same encoder that makes the prior.
//
// Why this prior. Averaged over the N training images, the ELBO's prior term is
//   (1/N) Σ_n E_q(z|x_n)[log p(z)] = E_q(z)[log p(z)],   q(z) = (1/N) Σ_n q(z|x_n)  (the aggregate posterior)
// and −E_q(z)[log p(z)] = H(q(z)) + KL(q(z) ‖ p(z)) is smallest for p = q(z). The best prior is thus
// a mixture of N posteriors: too big to keep, and it would overfit. The VampPrior keeps K ≪ N of them
// at pseudo-inputs u_k that are trained with everything else.
//
// One code path with the GMVAE. VampPrior<T> is a GMVAE<T> (models/gmvae.hpp) that overrides prior()
// alone: the GMVAE's components (μ_k, σ_k²) are free parameters, here they are
//   μ_k = m_φ(u_k),  σ_k² = v_φ(u_k)                  (the encoder applied to the [K, 784] pseudo-inputs)
// so the Monte-Carlo KL, log p(z) = log_normal_mixture(z, μ, σ²), the IWAE bound, the sampler
// (k ~ Uniform{1..K}, z ~ N(μ_k, σ_k²): the mixture, not N(0, I)) and the pictures are the GMVAE's
// code. The gradient of log p(z) reaches u_k (and the encoder a second time) through m_φ and v_φ.
//
// Pseudo-inputs. u_k = hardtanh(w_k) = min(max(w_k, 0), 1), with w [K, 784] trained: the paper's
// "pseudo-input layer" keeps the u_k in the pixel range [0, 1] the encoder was trained on. Its
// gradient is 1 inside (0, 1) and 0 outside, so a pixel that leaves [0, 1] stays at 0 or 1.
// w starts at 0.05 + 0.01·N(0, 1): nearly blank images like MNIST's background, well inside (0, 1),
// and different enough to break the symmetry between the K components. (Initialising them from
// training images is the paper's alternative; a model is built before it sees data here.)
// The cost: every step runs the encoder on K pseudo-inputs besides the batch (K = 500 against a batch
// of 100: six times the encoder's work); bench numbers in docs/vampprior.md.
//
//   tz::models::VampPrior<float> model({.z = 10, .components = 500}, rng);
//   tz::Tape<float> tape;
//   auto b = model.negative_elbo_bound(tape, tape.constant(x), rng);   // as the GMVAE's
//   tape.backward(mean(b.nelbo));
//
// `./zoo train vamp` trains it (models/registry.cpp: vamp_info()).
#pragma once

#include <string>

#include "models/gmvae.hpp"

namespace tz::models {

template <class T>
class VampPrior : public GMVAE<T> {
 public:
  VampPrior(const GMVAEOptions& options, Rng& rng);

  // The pseudo-inputs u = hardtanh(w), [K, x_dim].
  Var<T> pseudo_inputs(Tape<T>& tape) const;
  // (μ_k, σ_k²) = the encoder's q(z | u_k), each [K, z].
  Gaussian<T> prior(Tape<T>& tape) const override;
  // The GMVAE's pictures, and pseudo_inputs.png (the first 100 u_k).
  void write_pictures(const std::string& dir, const Dataset& data, Rng& rng) override;

 private:
  Param<T>* w_ = nullptr;  // [K, x_dim]: the pseudo-inputs before the hardtanh
};

// The registry entry (models/registry.cpp): flags z, components, hidden, iwae, as gmvae's.
ModelInfo vamp_info();

extern template class VampPrior<float>;
extern template class VampPrior<double>;

}  // namespace tz::models
