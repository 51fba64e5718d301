// tapezoo tutorial 07's numerics: the Monte-Carlo KL to a mixture (step 3), and the GMVAE's −ELBO by
// plain loops, against which step 4 checks the model's negative_elbo_bound and measures what training
// did. Only the networks come from the model (the encoder's m, v, the decoder's logits, the prior's
// μ_c, σ_c²); how they are combined is written here.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "autograd/random.hpp"
#include "distributions/distributions.hpp"
#include "models/gmvae.hpp"

namespace tz::tutorial {

// S one-sample KL estimates log q(z|x) − log p(z) for one q = N(m, v) (a single row) and a prior, in
// chunks of 500 samples (the mixture density holds [samples, K, z] numbers at once).
inline std::vector<double> kl_samples(const Array<double>& m, const Array<double>& v, const Array<double>& mu,
                               const Array<double>& var, std::size_t S, Rng& rng) {
  Tape<double> tape;
  NoGrad<double> no_grad(tape);
  const std::size_t d = m.shape()[1];
  std::vector<double> out;
  for (std::size_t done = 0; done < S; done += 500) {
    const std::size_t s = std::min<std::size_t>(500, S - done);
    tape.clear();
    Var<double> m_s = duplicate(tape.constant(m), s), v_s = duplicate(tape.constant(v), s);
    Var<double> z = sample_gaussian(m_s, v_s, tape.constant(rng.normal<double>({s, d})));
    Var<double> kl = log_normal(z, m_s, v_s) - log_normal_mixture(z, tape.constant(mu), tape.constant(var));
    out.insert(out.end(), kl.value().begin(), kl.value().end());
  }
  return out;
}

// −ELBO(x_i) = rec_i + log q(z_i|x_i) − log p(z_i) for every row of the binary images x_bin and one ε
// [n, z], z_i = m_i + √v_i ⊙ ε_i, in double:
//   rec_i      = Σ_j [softplus(l_ij) − x_ij l_ij],   l_i = f_θ(z_i),  softplus(l) = max(l, 0) + log1p(e^−|l|)
//   log q(z_i) = −½ Σ_j [log 2π v_ij + (z_ij − m_ij)² / v_ij]
//   log p(z_i) = log (1/K) Σ_c N(z_i; μ_c, σ_c²), by log-sum-exp (every log N is about −1 to −100)
inline std::vector<double> gmvae_nelbo_by_hand(const models::GMVAE<float>& model, const Array<float>& x_bin,
                                               const Array<float>& eps) {
  Tape<float> tape;
  NoGrad<float> no_grad(tape);
  const Gaussian<float> q = model.encode(tape, tape.constant(x_bin));
  const Array<float> m = q.m.value(), v = q.v.value();
  const std::size_t n = m.shape()[0], d = m.shape()[1], pixels = x_bin.shape()[1];
  Array<float> z = Array<float>::from_shape({n, d});
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < d; ++j) z(i, j) = m(i, j) + std::sqrt(v(i, j)) * eps(i, j);
  const Array<float> l = model.decode(tape, tape.constant(z)).value();
  const Gaussian<float> prior = model.prior(tape);
  const Array<float> mu = prior.m.value(), var = prior.v.value();
  const std::size_t K = mu.shape()[0];
  std::vector<double> out(n), log_n(K);
  for (std::size_t i = 0; i < n; ++i) {
    double rec = 0, log_q = 0;
    for (std::size_t j = 0; j < pixels; ++j) {
      const double a = l(i, j);
      rec += std::max(a, 0.0) + std::log1p(std::exp(-std::abs(a))) - x_bin(i, j) * a;
    }
    for (std::size_t j = 0; j < d; ++j) {
      const double dz = double(z(i, j)) - m(i, j);
      log_q -= 0.5 * (std::log(2 * M_PI * v(i, j)) + dz * dz / v(i, j));
    }
    for (std::size_t c = 0; c < K; ++c) {
      log_n[c] = 0;
      for (std::size_t j = 0; j < d; ++j) {
        const double dz = double(z(i, j)) - mu(c, j);
        log_n[c] -= 0.5 * (std::log(2 * M_PI * var(c, j)) + dz * dz / var(c, j));
      }
    }
    const double top = *std::max_element(log_n.begin(), log_n.end());
    double s = 0;
    for (double a : log_n) s += std::exp(a - top);
    out[i] = rec + log_q - (top + std::log(s / static_cast<double>(K)));
  }
  return out;
}

}  // namespace tz::tutorial
