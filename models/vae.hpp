// tapezoo: the variational autoencoder (VAE), its importance-weighted bound (IWAE) and its
// KL-weighted variant (β-VAE), on binarized images.
//
// Generative model (Kingma & Welling 2014, "Auto-Encoding Variational Bayes", §3 and App. C.1):
//   z ~ p(z) = N(0, I)                                latent, z dimensions (--z)
//   x | z ~ p_θ(x|z) = Π_j Bernoulli(x_j; σ(f_θ(z)_j)) decoder f_θ: z-300-300-784, ELU (CS236 hw2)
// Inference model (amortised, §2.4):
//   q_φ(z|x) = N(z; m, diag v),  [m, h] = e_φ(x),  v = softplus(h) + 1e-8
//                                                     encoder e_φ: 784-300-300-2z, ELU
//
// Objective. log p(x) = log ∫ p(x,z) dz has no closed form. For any q(z|x),
//   log p(x) = log E_q[p(x,z)/q(z|x)] ≥ E_q[log p(x,z) − log q(z|x)] =: ELBO(x)        (Jensen)
//   ELBO(x) = E_q[log p(x|z)] − KL(q(z|x) ‖ p(z))                                     (K&W eq. 3)
//   log p(x) − ELBO(x) = KL(q(z|x) ‖ p(z|x)) ≥ 0                                      (the gap)
// The KL to N(0, I) is in closed form (K&W App. B), the expectation is estimated with one
// reparameterised sample z = m + √v ⊙ ε, ε ~ N(0, I) (K&W §2.4), and the loss is the batch mean of
//   −ELBO(x) = rec + KL,  rec = −log p(x|z).
//
// β-VAE (Higgins et al. 2017, "β-VAE", eq. 4): minimise rec + β·KL. β = 1 is the VAE; β > 1 buys
// a simpler (often more disentangled) code with worse reconstructions, β < 1 the reverse.
// KL annealing (Bowman et al. 2016, §3.1; cyclic: Fu et al. 2019, "Cyclical Annealing Schedule",
// eq. 6 with R = 0.5): the weight goes from 0 to β over the first --anneal iterations, so the
// encoder learns to use z before the KL term pushes q(z|x) onto the prior (posterior collapse).
//
// IWAE (Burda, Grosse & Salakhutdinov 2016, "Importance Weighted Autoencoders", eq. 8):
//   L_k(x) = E[log (1/k) Σ_i w_i],   w_i = p(x, z_i) / q(z_i|x),   z_1..z_k ~ q(z|x) independent
// log p(x) ≥ L_{k+1} ≥ L_k ≥ L_1 = ELBO (their Theorem 1), and L_k → log p(x) as k → ∞. We report
// −L_k as test_niwae_<k> (k up to thousands, evaluated in chunks without a tape), and train on it
// with --objective iwae --k K. log w is around −100 on MNIST: it is never exponentiated, the mean
// is log_mean_exp (docs/pitfalls.md#logsumexp), whose gradient weights each sample by w_i / Σ_j w_j.
//
// Gradient estimators of L_k (--estimator; log w_i = log p(x, z_i) − log q(z_i|x), z_i = m + √v ⊙ ε_i,
// w̃_i = w_i / Σ_j w_j; derived in models/vae.cpp above log_importance_weights):
//   standard  ∇ L_k = Σ_i w̃_i ∇ log w_i, the total derivative: through z_i and through q's (m, v)
//             (Burda et al. 2016, §3).
//   stl       "sticking the landing" (Roeder, Wu & Duvenaud 2017): log q(z_i|x) is evaluated
//             with detach(m), detach(v), so the score term −∂ log q/∂φ at fixed z is dropped and only
//             the path through z_i stays. Unbiased at k = 1 (the score has mean 0), biased for k > 1
//             (Tucker et al. 2019).
//   dreg      doubly reparameterised (Tucker, Lawson, Gu & Maddison 2019, eq. 6): the encoder gets
//             Σ_i w̃_i² ∂ log w_i/∂z_i · ∂z_i/∂φ (unbiased for every k), the decoder the standard
//             Σ_i w̃_i ∇_θ log w_i.
// Every estimator has the same value, −L_k: only the gradient differs. --objective elbo takes only
// --estimator standard: its KL is in closed form, with no sampled log q to detach (for STL at k = 1
// use --objective iwae --k 1 --estimator stl).
//
//   tz::models::VAE<float> vae({.z = 10}, rng);
//   tz::Tape<float> tape;
//   auto b = vae.negative_elbo_bound(tape, tape.constant(x), rng);   // per example: nelbo, kl, rec [n]
//   tape.backward(mean(b.nelbo));
//   std::vector<double> niwae = vae.negative_iwae_bound_eval(x, 1000, rng);  // per row, no tape
//
// `./zoo train vae` trains it through the shared loop (models/train.hpp); registered in
// models/registry.cpp as vae_info(), with the presets iwae_info() and beta_vae_info().
// The files: models/vae.cpp the model and its bounds, models/vae_eval.cpp evaluation and pictures,
// models/vae_info.cpp flags and the registry entries.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "distributions/distributions.hpp"
#include "models/model.hpp"
#include "models/vae_common.hpp"  // binarized_test_rows, and the helpers the VAE family shares
#include "nn/nn.hpp"

namespace tz::models {

enum class Objective { elbo, iwae };
enum class AnnealShape { linear, cyclic };
enum class Estimator { standard, stl, dreg };
Objective parse_objective(const std::string& name);       // "elbo" or "iwae"
Estimator parse_estimator(const std::string& name);       // "standard", "stl" or "dreg"
const char* to_string(Estimator e);                       // the flag's value: "standard", "stl", "dreg"
AnnealShape parse_anneal_shape(const std::string& name);  // "linear" or "cyclic"

// The KL weight's schedule, a fraction in [0, 1] at iteration t = 0, 1, …:
//   linear   min(1, t / N)                                        (Bowman et al. 2016)
//   cyclic   τ = (t mod N) / N;  2τ while τ < ½, then 1           (Fu et al. 2019, R = ½)
// N = anneal ≤ 0 means no annealing: always 1.
double anneal_fraction(long t, long anneal, AnnealShape shape);

struct VAEOptions {
  std::size_t x_dim = 784;   // pixels
  std::size_t hidden = 300;  // width of the two hidden layers of encoder and decoder
  std::size_t z = 10;        // latent dimensions
  double beta = 1.0;         // weight of the KL term (β-VAE)
  long anneal = 0;           // iterations of KL annealing (0: off)
  AnnealShape anneal_shape = AnnealShape::linear;
  Objective objective = Objective::elbo;
  std::size_t k = 1;                    // importance samples of the IWAE objective
  Estimator estimator = Estimator::standard;  // the gradient estimator of L_k (--objective iwae)
  std::vector<long> iwae = {1, 10, 100};  // k of the reported −IWAE_k bounds
  std::size_t eval_rows = 4096;         // rows decoded at once when evaluating −IWAE_k
};

template <class T>
class VAE : public Model<T> {
 public:
  VAE(const VAEOptions& options, Rng& rng);

  // −ELBO(x) = rec + KL per example, and its two terms: each of shape [n] (loss() takes the batch mean).
  struct Bound {
    Var<T> nelbo, kl, rec;
  };

  // q_φ(z|x) = N(m, diag v): m and v of shape [n, z].
  Gaussian<T> encode(Tape<T>& tape, const Var<T>& x) const;
  // The logits f_θ(z) of p_θ(x|z), shape [n, x_dim].
  Var<T> decode(Tape<T>& tape, const Var<T>& z) const;

  // −ELBO(x) with the closed-form KL and one reparameterised sample z = m + √v ⊙ ε; ε [n, z] given
  // (tests share it) or drawn from rng into a buffer the model reuses (no allocation per step).
  Bound negative_elbo_bound(Tape<T>& tape, const Var<T>& x, const Var<T>& eps) const;
  Bound negative_elbo_bound(Tape<T>& tape, const Var<T>& x, Rng& rng);
  // The same with the KL weighted by beta (the β-VAE objective, and annealing): rec + β·KL, [n].
  Var<T> weighted_objective(const Bound& b, double beta) const;

  // log w_i = log p(x|z_i) + log p(z_i) − log q(z_i|x) for k samples per example, shape [k, n]
  // (row i holds sample i of every example). eps is [k·n, z], its row i·n + j is sample i of x_j.
  // The value is the same for every estimator; the graph behind it is the estimator's, so that
  // the gradient of −log_mean_exp_i log w_i is the estimator of ∇(−L_k) (models/vae.cpp).
  Var<T> log_importance_weights(Tape<T>& tape, const Var<T>& x, const Gaussian<T>& q, std::size_t k,
                                const Var<T>& eps, Estimator estimator = Estimator::standard) const;
  // −L_k(x) = −log_mean_exp_i log w_i per example [n], on the tape (differentiable: the IWAE
  // objective), its gradient by options().estimator, or by the estimator given. With k = 1 and the
  // same ε it is the one-sample ELBO with a Monte-Carlo KL.
  Var<T> negative_iwae_bound(Tape<T>& tape, const Var<T>& x, std::size_t k, const Var<T>& eps) const;
  Var<T> negative_iwae_bound(Tape<T>& tape, const Var<T>& x, std::size_t k, const Var<T>& eps,
                             Estimator estimator) const;
  Var<T> negative_iwae_bound(Tape<T>& tape, const Var<T>& x, std::size_t k, Rng& rng);

  // −L_k(x) for every row of x, without gradients, decoding at most options().eval_rows samples at
  // a time so that memory stays bounded for k in the thousands. The ε are drawn in the order of
  // negative_iwae_bound's (sample-major), so chunked and unchunked runs see the same samples.
  std::vector<double> negative_iwae_bound_eval(const Array<T>& x, std::size_t k, Rng& rng,
                                               std::size_t max_rows = 0);
  // The log weights behind it: log w_ij for k samples of every row x_j, sample i of row j at i·n + j,
  // drawn in the same order (so −log_mean_exp_i of them is negative_iwae_bound_eval).
  std::vector<double> log_importance_weights_eval(const Array<T>& x, std::size_t k, Rng& rng,
                                                  std::size_t max_rows = 0);

  // The KL weight at the current iteration: β · anneal_fraction(t, anneal, anneal_shape).
  double kl_weight() const;

  // ---- Model --------------------------------------------------------------------------------
  // --objective elbo: loss = batch mean of rec + β(t)·KL, terms nelbo, kl, rec (batch means; nelbo
  // is the unweighted bound). --objective iwae: loss = batch mean of −L_k (k = --k), term niwae.
  Loss<T> loss(Tape<T>& tape, const Batch<T>& batch, Rng& rng) override;
  // Checks that the data has x_dim columns.
  void prepare_data(Dataset& data, Rng& rng) override;
  // Dynamic binarization: x ~ Bernoulli(pixel intensities), fresh every batch.
  void prepare_batch(Batch<T>& batch, Rng& rng) override;
  void set_iteration(long t) override { iteration_ = t; }
  // test_nelbo, test_kl, test_rec and test_niwae_<k> for k in options().iwae, on the test rows
  // binarized once with a fixed seed (the same binary images for every run).
  Metrics evaluate(const Dataset& data, Rng& rng) override;
  // samples.png (100 samples' Bernoulli means), reconstructions.png (inputs above their
  // reconstructions σ(f(m))), and for z = 2 manifold.png (K&W Fig. 4: f over a grid of z).
  void write_pictures(const std::string& dir, const Dataset& data, Rng& rng) override;
  bool can_sample() const override { return true; }
  // Rows of Bernoulli means σ(f_θ(z)), z ~ N(0, I).
  Array<float> sample(std::size_t n, Rng& rng) override;

  // ---- pictures and analysis (tutorials) ------------------------------------------------------
  // Bernoulli means σ(f_θ(z)) for given latent rows z [n, z], without a tape.
  Array<float> decode_means(const Array<float>& z);
  // E_q[z|x] = m for every row of x: [n, z] (active units, traversals, reconstructions).
  Array<float> posterior_means(const Array<float>& x);
  // q(z|x) = N(m, diag v) for every row of x (./zoo diagnose --active-units: models/model.hpp).
  GaussianCode gaussian_code(const Array<float>& x) override;

  const VAEOptions& options() const { return options_; }
  long iteration() const { return iteration_; }

 private:
  // −ELBO(x) for an encoded q(z|x) and given noise ε.
  Bound elbo_from(Tape<T>& tape, const Var<T>& x, const Gaussian<T>& q, const Var<T>& eps) const;
  // log w for k samples of each row of xg (at most max_rows decoded at once) into out[i·g + j].
  void log_weights_of_group(Tape<T>& tape, const Array<T>& xg, std::size_t k, Rng& rng, std::size_t max_rows,
                            double* out);
  // f(b, g, log_w) for the groups of 100 rows [b, b + g) of x, with log_w [k, g] their log weights.
  template <class F>
  void for_each_group(const Array<T>& x, std::size_t k, Rng& rng, std::size_t max_rows, F&& f);
  // log w for samples z [k·n, z] of q = N(m, v) (m, v, x already k copies), as [k·n].
  Var<T> log_weights_at(Tape<T>& tape, const Var<T>& xk, const Var<T>& z, const Var<T>& m, const Var<T>& v) const;
  // ε ~ N(0, I) of shape [rows, z], drawn into eps_ and recorded as a constant.
  Var<T> draw_eps(Tape<T>& tape, std::size_t rows, Rng& rng);

  VAEOptions options_;
  nn::MLP<T> encoder_, decoder_;
  long iteration_ = 0;
  Array<T> eps_;   // ε, reused across steps
  Array<T> xbin_;  // the binarized batch, swapped with batch.x
};

// binarized_test_rows(data), the test set binarized once with a fixed seed, is in models/vae_common.hpp.
// Burda et al. (2016, §5.2): unit j is active when Cov_x(E_q[z_j|x]) > threshold (1e-2).
// means: [n, z] posterior means of n data points. Returns the variance of each unit.
std::vector<double> unit_activities(const Array<float>& means);
std::size_t active_units(const Array<float>& means, double threshold = 1e-2);

// The registry entries (models/registry.cpp): vae, and its presets iwae (--objective iwae --k 5)
// and beta_vae (--beta 4).
ModelInfo vae_info();
ModelInfo iwae_info();
ModelInfo beta_vae_info();
// The options a Config of vae_info()'s flags describes (throws std::invalid_argument naming a bad flag).
VAEOptions vae_options(const Config& config);

extern template class VAE<float>;
extern template class VAE<double>;

}  // namespace tz::models
