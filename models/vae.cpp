// tapezoo: the VAE, IWAE and β-VAE: the model and its bounds. The derivation is in models/vae.hpp;
// each loss term below carries its formula on the line above it. Evaluation and pictures are in
// models/vae_eval.cpp, flags and the registry entries in models/vae_info.cpp.
#include "models/vae.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>

#include <fmt/format.h>

#include "distributions/constants.hpp"

namespace tz::models {

// ---- the model ----------------------------------------------------------------------------------

template <class T>
VAE<T>::VAE(const VAEOptions& options, Rng& rng)
    : options_(options),
      // e_φ: x → [m, h]   (784-300-300-2z, ELU)
      encoder_(this->params_, "enc", {options.x_dim, options.hidden, options.hidden, 2 * options.z},
               nn::Activation::elu, rng),
      // f_θ: z → logits   (z-300-300-784, ELU)
      decoder_(this->params_, "dec", {options.z, options.hidden, options.hidden, options.x_dim},
               nn::Activation::elu, rng) {}

template <class T>
Gaussian<T> VAE<T>::encode(Tape<T>& tape, const Var<T>& x) const {
  // m = e_φ(x)[:, :z],  v = softplus(e_φ(x)[:, z:]) + 1e-8
  return gaussian_parameters(encoder_(tape, x));
}

template <class T>
Var<T> VAE<T>::decode(Tape<T>& tape, const Var<T>& z) const {
  // logits of p_θ(x|z): f_θ(z)
  return decoder_(tape, z);
}

template <class T>
Var<T> VAE<T>::draw_eps(Tape<T>& tape, std::size_t rows, Rng& rng) {
  if (eps_.dimension() != 2 || eps_.shape()[0] != rows || eps_.shape()[1] != options_.z)
    eps_.resize(Shape{rows, options_.z});
  rng.fill_normal(eps_);
  return tape.constant(eps_, "ε");  // copied into the node's recycled storage
}

template <class T>
typename VAE<T>::Bound VAE<T>::elbo_from(Tape<T>& tape, const Var<T>& x, const Gaussian<T>& q,
                                          const Var<T>& eps) const {
  // TASK 6.1 elbo_from: −ELBO(x) = rec + KL per example, rec = −log p(x|z), z = m + √v ⊙ ε (Kingma & Welling 2014, eq. 10)
  // z = m + √v ⊙ ε: one sample from q(z|x), differentiable in φ (the reparameterization trick)
  Var<T> z = sample_gaussian(q.m, q.v, eps);
  Var<T> logits = decode(tape, z);
  // rec = −log p(x|z) = −Σ_j [x_j l_j − softplus(l_j)],  l = f_θ(z)      (never log σ(l): docs/pitfalls.md#bernoulli-logits)
  // (the composite of table ops on --textbook, the fused log_bernoulli op otherwise: docs/fast-paths.md)
  Var<T> rec = -log_bernoulli_with_logits(x, logits);
  // KL(q(z|x) ‖ N(0, I)) = ½ Σ_j (v_j + m_j² − 1 − log v_j)      (Kingma & Welling 2014, App. B)
  Var<T> kl = kl_std_normal(q.m, q.v);
  // −ELBO = rec + KL, per example
  return {rec + kl, kl, rec};
  // END TASK
}

template <class T>
typename VAE<T>::Bound VAE<T>::negative_elbo_bound(Tape<T>& tape, const Var<T>& x, const Var<T>& eps) const {
  return elbo_from(tape, x, encode(tape, x), eps);
}

template <class T>
typename VAE<T>::Bound VAE<T>::negative_elbo_bound(Tape<T>& tape, const Var<T>& x, Rng& rng) {
  Gaussian<T> q = encode(tape, x);
  return elbo_from(tape, x, q, draw_eps(tape, x.shape()[0], rng));
}

template <class T>
Var<T> VAE<T>::weighted_objective(const Bound& b, double beta) const {
  if (beta == 1.0) return b.nelbo;
  // β-VAE: rec + β·KL      (Higgins et al. 2017, eq. 4), per example
  return b.rec + beta * b.kl;
}

template <class T>
Var<T> VAE<T>::log_weights_at(Tape<T>& tape, const Var<T>& xk, const Var<T>& z, const Var<T>& m,
                              const Var<T>& v) const {
  // TASK 6.2 log_weights_at: log w_i = log p(x|z_i) + log p(z_i) − log q(z_i|x), z_i = m + √v ⊙ ε_i, one per row of z (Burda et al. 2016)
  // log p(x|z_i) = Σ_j [x_j l_ij − softplus(l_ij)]
  Var<T> log_px_z = log_bernoulli_with_logits(xk, decode(tape, z));
  // log p(z_i) = log N(z_i; 0, I) = −½ Σ_j (z_ij² + log 2π)
  Var<T> log_pz = -0.5 * (sum(square(z), -1) + kLog2Pi * static_cast<double>(options_.z));
  // log q(z_i|x) = log N(z_i; m, diag v)
  Var<T> log_qz = log_normal(z, m, v);
  // log w_i = log p(x|z_i) + log p(z_i) − log q(z_i|x)
  return log_px_z + log_pz - log_qz;
  // END TASK
}

// The three estimators of ∇ L_k, L_k = log (1/k) Σ_i w_i, all as one graph whose value is log w.
// φ (the encoder) reaches log w_i two ways: through the sample z_i = m + √v ⊙ ε_i (the path), and
// through the parameters (m, v) of log q(z_i|x) at a fixed z_i (the score):
//   ∇_φ log w_i = ∂ log w_i/∂z_i · ∂z_i/∂φ − ∂ log q_φ(z_i|x)/∂φ |_{z_i}                         (1)
// standard: the total derivative (1), ∇ L_k = Σ_i w̃_i ∇ log w_i (Burda et al. 2016, §3).
// stl (Roeder et al. 2017): log q(z_i|x) with detach(m), detach(v) drops the score term of (1).
//   At k = 1 its mean is E_q[∂ log q/∂φ] = ∫ ∂q/∂φ dz = 0, so STL is unbiased there, and at q = p(z|x)
//   the path term is 0 for every ε ("sticking the landing"). For k > 1 the weights w̃_i depend on z_i
//   and the dropped term's mean is not 0: STL is biased (Tucker et al. 2019).
// dreg (Tucker et al. 2019, eq. 6): the score term's mean, E[Σ_i w̃_i ∂ log q/∂φ], is rewritten by
//   the reparameterisation identity E_q[f(z) ∂ log q/∂φ] = E_ε[∂f/∂z · ∂z/∂φ] with f = w̃_i, and
//   ∂w̃_i/∂z_i = (w̃_i − w̃_i²) ∂ log w_i/∂z_i, so that
//     ∇_φ L_k = E[Σ_i (w̃_i − (w̃_i − w̃_i²)) ∂ log w_i/∂z_i · ∂z_i/∂φ] = E[Σ_i w̃_i² ∂ log w_i/∂z_i · ∂z_i/∂φ]
//   while θ (the decoder) gets the standard Σ_i w̃_i ∇_θ log w_i.
// On the tape, DReG is STL with the sample's gradient scaled by w̃_i on its way back to φ:
//   z'_i = detach(z_i) + detach(w̃_i) · (z_i − detach(z_i))        value z_i exactly (z − detach(z) = 0)
// so that −log_mean_exp(log w(z')) has the value −L_k, hands log w_i the adjoint −w̃_i (θ's gradient is
// the standard one) and hands z_i the adjoint −w̃_i · w̃_i ∂ log w_i/∂z_i (φ's is eq. 6). The weights w̃_i
// must be known before z' is recorded: one decoder pass without a tape computes them first.
template <class T>
Var<T> VAE<T>::log_importance_weights(Tape<T>& tape, const Var<T>& x, const Gaussian<T>& q, std::size_t k,
                                      const Var<T>& eps, Estimator estimator) const {
  const std::size_t n = x.shape()[0];
  if (eps.dim() != 2 || eps.shape()[0] != k * n || eps.shape()[1] != options_.z)
    throw std::invalid_argument(fmt::format("log_importance_weights: ε must be [k·n, z] = [{}, {}], got {}", k * n,
                                            options_.z, shape_str(eps.shape())));
  const std::vector<std::ptrdiff_t> kn = {static_cast<std::ptrdiff_t>(k), static_cast<std::ptrdiff_t>(n)};
  // k copies of q(z|x) and of x: row i·n + j belongs to sample i of example j
  Var<T> m = k == 1 ? q.m : duplicate(q.m, k);
  Var<T> v = k == 1 ? q.v : duplicate(q.v, k);
  Var<T> xk = k == 1 ? x : duplicate(x, k);
  // z_i = m + √v ⊙ ε_i
  Var<T> z = sample_gaussian(m, v, eps);
  // standard: log w_i as [k, n], differentiated through z_i and through (m, v) of log q
  if (estimator == Estimator::standard) return reshape(log_weights_at(tape, xk, z, m, v), kn);
  // stl and dreg: log q(z_i|x) at detach(m), detach(v): no score term
  const Var<T> m_cut = detach(m), v_cut = detach(v);
  if (estimator == Estimator::stl) return reshape(log_weights_at(tape, xk, z, m_cut, v_cut), kn);
  // dreg: w̃_i = softmax_i(log w_i), each example's k weights, from a pass that records nothing
  Array<T> w_tilde;
  {
    NoGrad<T> no_grad(tape);
    w_tilde = softmax(reshape(log_weights_at(tape, xk, z, m_cut, v_cut), kn), 0).value();
  }
  // z' = detach(z) + detach(w̃) · (z − detach(z)): the value z, φ's gradient through it scaled by w̃_i
  Var<T> z_cut = detach(z);
  w_tilde.reshape({k * n, 1});  // row i·n + j: w̃_i of example j, as z's rows
  Var<T> scale = tape.constant(std::move(w_tilde), "w̃");
  Var<T> z_scaled = z_cut + scale * (z - z_cut);
  return reshape(log_weights_at(tape, xk, z_scaled, m_cut, v_cut), kn);
}

template <class T>
Var<T> VAE<T>::negative_iwae_bound(Tape<T>& tape, const Var<T>& x, std::size_t k, const Var<T>& eps) const {
  return negative_iwae_bound(tape, x, k, eps, options_.estimator);
}

template <class T>
Var<T> VAE<T>::negative_iwae_bound(Tape<T>& tape, const Var<T>& x, std::size_t k, const Var<T>& eps,
                                   Estimator estimator) const {
  Var<T> log_w = log_importance_weights(tape, x, encode(tape, x), k, eps, estimator);
  // −L_k(x) = −log (1/k) Σ_i w_i      (Burda et al. 2016, eq. 8), per example
  return -log_mean_exp(log_w, 0);
}

template <class T>
Var<T> VAE<T>::negative_iwae_bound(Tape<T>& tape, const Var<T>& x, std::size_t k, Rng& rng) {
  Gaussian<T> q = encode(tape, x);
  Var<T> log_w = log_importance_weights(tape, x, q, k, draw_eps(tape, k * x.shape()[0], rng), options_.estimator);
  // −L_k(x) = −log (1/k) Σ_i w_i      (Burda et al. 2016, eq. 8), per example
  return -log_mean_exp(log_w, 0);
}

double anneal_fraction(long t, long anneal, AnnealShape shape) {
  if (anneal <= 0) return 1.0;
  const double n = static_cast<double>(anneal);
  // linear: the KL weight's fraction min(1, t / N)   (Bowman et al. 2016, §3.1)
  if (shape == AnnealShape::linear) return std::min(1.0, static_cast<double>(t) / n);
  // τ = (t mod N) / N;  β = 2τ on the first half of each cycle, then 1 (Fu et al. 2019, R = ½)
  const double tau = static_cast<double>(t % anneal) / n;
  return tau < 0.5 ? 2 * tau : 1.0;
}

template <class T>
double VAE<T>::kl_weight() const {
  return options_.beta * anneal_fraction(iteration_, options_.anneal, options_.anneal_shape);
}

template <class T>
Loss<T> VAE<T>::loss(Tape<T>& tape, const Batch<T>& batch, Rng& rng) {
  Var<T> x = tape.constant_view(batch.x, "x");  // read in place: no copy of the batch per step
  if (options_.objective == Objective::iwae) {
    // the batch mean of −L_k(x)
    Var<T> niwae = mean(negative_iwae_bound(tape, x, options_.k, rng));
    return {niwae, {{"niwae", niwae.item()}}};
  }
  Bound b = negative_elbo_bound(tape, x, rng);
  // the batch mean of rec + β(t)·KL (of −ELBO when β(t) = 1); the terms are batch means too
  Var<T> value = mean(weighted_objective(b, kl_weight()));
  return {value, {{"nelbo", batch_mean(b.nelbo)}, {"kl", batch_mean(b.kl)}, {"rec", batch_mean(b.rec)}}};
}

template <class T>
void VAE<T>::prepare_data(Dataset& data, Rng& /*rng*/) {
  if (data.dim() != options_.x_dim)
    throw std::invalid_argument(fmt::format("vae: the data '{}' has {} columns, but the model takes {} (28×28 images)",
                                            data.name, data.dim(), options_.x_dim));
}

template <class T>
void VAE<T>::prepare_batch(Batch<T>& batch, Rng& rng) {
  // x ~ Bernoulli(intensities), fresh every time a batch is seen (Burda et al. 2016, §5), two
  // pixels per 64-bit draw (models/vae_common.hpp)
  binarize_batch(batch, xbin_, rng);
}

template <class T>
GaussianCode VAE<T>::gaussian_code(const Array<float>& x) {
  // m and v of q(z|x) = N(m, diag v), 1000 rows at a time
  GaussianCode c;
  c.m = map_rows<T>(x, options_.z, [&](Tape<T>& tape, const Var<T>& xc) { return encode(tape, xc).m.value(); });
  c.v = map_rows<T>(x, options_.z, [&](Tape<T>& tape, const Var<T>& xc) { return encode(tape, xc).v.value(); });
  return c;
}

template class VAE<float>;
template class VAE<double>;

}  // namespace tz::models
