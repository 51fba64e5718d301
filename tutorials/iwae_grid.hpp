// tapezoo tutorial 05: log p(x) = ∫ p(x|z) p(z) dz and KL(q(z|x) ‖ p(z|x)) by quadrature on a 2-D grid.
//
// A VAE with z in two dimensions has a marginal likelihood that a grid can compute:
//   log p(x) ≈ log Σ_g h² p(x|z_g) p(z_g),   z_g the centres of the G×G cells of side h over [−R, R]²
// and, with the posterior p(z_g|x) = p(x|z_g) p(z_g) / p(x) on the same points,
//   KL(q(z|x) ‖ p(z|x)) ≈ Σ_g h² q(z_g|x) [log q(z_g|x) − log p(z_g|x)].
// The same sums on every other point (step 2h) and every fourth (step 4h) measure the grid's error.
// Only 05_iwae uses it: a header, so that the tutorial's build needs no new source file.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "autograd/blas.hpp"
#include "autograd/parallel.hpp"
#include "distributions/constants.hpp"
#include "distributions/distributions.hpp"
#include "models/vae.hpp"

namespace tz::tutorial::iwae {

// A running log Σ e^{a_i}: the maximum so far and the sum of e^{a_i − max} (docs/pitfalls.md#logsumexp).
struct LogSumExp {
  double max = -std::numeric_limits<double>::infinity(), sum = 0;
  void add(double a) {
    if (a <= max) {
      sum += std::exp(a - max);
    } else {
      sum = sum * std::exp(max - a) + 1;
      max = a;
    }
  }
  double value() const { return max + std::log(sum); }
};

// What the grid gives for one image x, with q(z|x) = N(m, diag v):
struct GridResult {
  double log_px = 0;     // log p(x) = log Σ_g h² p(x|z_g) p(z_g)
  double log_px_2h = 0;  // the same on every other point (step 2h)
  double log_px_4h = 0;  // and on every fourth point (step 4h): the grid's convergence
  double edge_mass = 0;  // the share of Σ_g p(x, z_g) on the grid's outer ring
  double q_mass = 0;     // Σ_g h² q(z_g|x): 1 if the grid resolves q
  double prior_mass = 0;  // Σ_g h² p(z_g), with the weights of log p(x): 1 if they are right
  double e_log_px_z = 0;    // E_q[log p(x|z)] = Σ_g h² q(z_g|x) log p(x|z_g)
  double kl_prior = 0;      // KL(q(z|x) ‖ p(z)) = Σ_g h² q(z_g|x) [log q(z_g|x) − log p(z_g)]
  double kl_posterior = 0;  // KL(q(z|x) ‖ p(z|x)) = Σ_g h² q(z_g|x) [log q(z_g|x) − log p(z_g|x)]
};

// The sums over the grid of one image, filled point by point by integrate_on_grid.
struct GridSums {
  LogSumExp fine, coarse2, coarse4, edge;
  double q_mass = 0, e_log_px_z = 0, e_log_q_pz = 0, e_log_q_joint = 0;
};

// Integrates over the grid z = (−R + (a + ½)h, −R + (b + ½)h), a, b = 0..G−1, G = 2R/h. The decoder
// does not depend on x, so each grid point is decoded once for all images: log p(x_i|z_g) =
// x_i·l_g − Σ_j softplus(l_gj), one matrix product per chunk of grid points.
inline std::vector<GridResult> integrate_on_grid(models::VAE<float>& vae, const Array<float>& x, const Array<float>& m,
                                                 const Array<float>& v, double R, double h) {
  const std::size_t n = x.shape()[0], d = x.shape()[1];
  const std::size_t G = static_cast<std::size_t>(std::llround(2 * R / h)), total = G * G, chunk = 4096;  // 2R/h whole
  const double log_h2 = 2 * std::log(h), log_4h2 = log_h2 + std::log(4.0), log_16h2 = log_h2 + std::log(16.0);
  std::vector<GridSums> s(n);
  LogSumExp prior;  // log Σ_g h² p(z_g), the same for every image
  Tape<float> tape;
  NoGrad<float> no_grad(tape);
  Array<float> z = Array<float>::from_shape({chunk, 2});
  std::vector<float> xl(n * chunk);
  auto coord = [&](std::size_t a) { return -R + (static_cast<double>(a) + 0.5) * h; };
  for (std::size_t g0 = 0; g0 < total; g0 += chunk) {
    const std::size_t c = std::min(chunk, total - g0);
    if (c != z.shape()[0]) z.resize({c, 2});
    for (std::size_t g = 0; g < c; ++g) {
      z(g, 0) = static_cast<float>(coord((g0 + g) / G));
      z(g, 1) = static_cast<float>(coord((g0 + g) % G));
    }
    tape.clear();
    Var<float> logits = vae.decode(tape, tape.constant(z));
    // −Σ_j softplus(l_gj) = log p(x = 0|z_g): log_bernoulli with x = 0
    const Array<float>& neg_softplus = log_bernoulli(tape.constant(Array<float>(xt::zeros<float>({c, d}))), logits).value();
    // x_i·l_g for every image and grid point: [n, c] = X [n, d] @ Lᵀ
    blas::gemm(false, true, n, c, d, 1.0f, x.data(), d, logits.value().data(), d, 0.0f, xl.data(), c);
    for (std::size_t g = 0; g < c; ++g) {
      const double z0 = coord((g0 + g) / G), z1 = coord((g0 + g) % G);
      prior.add(-0.5 * (z0 * z0 + z1 * z1) - kLog2Pi + log_h2);
    }
    // Images in blocks of 8 on the pool of --threads (autograd/parallel.hpp): each image's sums
    // still take the grid points in order, so the results are the same for every thread count.
    parallel_for(chunk_count(n, 8), [&](std::size_t block) {
    for (std::size_t g = 0; g < c; ++g) {
      const std::size_t a = (g0 + g) / G, b = (g0 + g) % G;
      const double z0 = coord(a), z1 = coord(b);
      const double log_pz = -0.5 * (z0 * z0 + z1 * z1) - kLog2Pi;  // log N(z; 0, I), 2-D
      const bool on_2h = a % 2 == 0 && b % 2 == 0, on_4h = a % 4 == 0 && b % 4 == 0;
      const bool is_edge = a == 0 || b == 0 || a + 1 == G || b + 1 == G;
      for (std::size_t i = block * 8; i < std::min(n, block * 8 + 8); ++i) {
        GridSums& si = s[i];
        const double log_px_z = static_cast<double>(xl[i * c + g]) + static_cast<double>(neg_softplus(g));
        const double log_joint = log_px_z + log_pz;
        si.fine.add(log_joint + log_h2);
        if (on_2h) si.coarse2.add(log_joint + log_4h2);
        if (on_4h) si.coarse4.add(log_joint + log_16h2);
        if (is_edge) si.edge.add(log_joint + log_h2);
        // log q(z_g|x_i) = −log 2π − ½ Σ_k [log v_k + (z_k − m_k)² / v_k], in double from here on
        const double m0 = m(i, 0), m1 = m(i, 1), v0 = v(i, 0), v1 = v(i, 1);
        const double d0 = z0 - m0, d1 = z1 - m1;
        const double log_q = -kLog2Pi - 0.5 * (std::log(v0) + std::log(v1) + d0 * d0 / v0 + d1 * d1 / v1);
        const double w = h * h * std::exp(log_q);
        si.q_mass += w;
        si.e_log_px_z += w * log_px_z;
        si.e_log_q_pz += w * (log_q - log_pz);
        si.e_log_q_joint += w * (log_q - log_joint);
      }
    }
    });
  }
  std::vector<GridResult> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const GridSums& si = s[i];
    GridResult& r = out[i];
    r.log_px = si.fine.value();
    r.log_px_2h = si.coarse2.value();
    r.log_px_4h = si.coarse4.value();
    r.edge_mass = std::exp(si.edge.value() - r.log_px);
    r.q_mass = si.q_mass;
    r.prior_mass = std::exp(prior.value());
    r.e_log_px_z = si.e_log_px_z;
    r.kl_prior = si.e_log_q_pz;
    // log p(z|x) = log p(x, z) − log p(x), so KL = Σ h² q [log q − log p(x, z)] + log p(x) Σ h² q
    r.kl_posterior = si.e_log_q_joint + r.log_px * si.q_mass;
  }
  return out;
}

}  // namespace tz::tutorial::iwae
