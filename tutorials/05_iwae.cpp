// tutorial: importance-weighted bounds: log p(x) ≥ L_k ≥ L_1, and log p(x) − ELBO = KL(q ‖ p(z|x)) on a grid
//
// Model: the VAE of 04_vae with a 2-D latent space (models/vae.hpp), so that p(x) = ∫ p(x|z) p(z) dz
// can be computed by numerical integration (tutorials/iwae_grid.hpp) and every bound compared with the truth.
// Bounds (Burda, Grosse & Salakhutdinov 2016, "Importance Weighted Autoencoders", eq. 8 and Thm. 1):
//   L_k(x) = E[log (1/k) Σ_i w_i],  w_i = p(x, z_i)/q(z_i|x),  z_1..z_k ~ q(z|x)
//   log p(x) ≥ L_{k+1}(x) ≥ L_k(x) ≥ L_1(x) = ELBO(x),   L_k → log p(x) as k → ∞
// The gap of the ELBO (Kingma & Welling 2014, eq. 1–2), which variational inference minimises over φ:
//   log p(x) − ELBO(x) = KL(q(z|x) ‖ p(z|x)),   p(z|x) = p(x|z) p(z) / p(x)
//
// Steps: 1 data, 2 training with z = 2, followed on the grid (log p(x) and the ELBO rise), 3 variational
// inference: φ alone, θ held, lowers the gap, 4 log p(x) on the grid (checked for convergence), 5 the
// bounds L_k, each from its own samples, against it, 6 the gap identity, 7 Jensen's gap
// log E[w] − E[log w] against the grid's KL.
// Monte-Carlo checks hold to 4 standard errors (a false alarm once in 16 000 runs of a true claim).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "autograd/random.hpp"
#include "distributions/distributions.hpp"
#include "models/train.hpp"
#include "nn/optim.hpp"
#include "models/vae.hpp"
#include "tutorials/iwae_grid.hpp"
#include "tutorials/tutorial.hpp"
#include "tutorials/vae_steps.hpp"

using tz::Array;
using tz::Rng;
using tz::Tape;
using tz::tutorial::claim;
using tz::tutorial::mean_of;
using tz::tutorial::iwae::GridResult;
namespace zm = tz::models;

namespace {

// q(z|x) = N(m, diag v) of every test image, one row per image, and the model's closed-form
// KL(q ‖ N(0, I)) = ½ Σ_j (v_j + m_j² − 1 − log v_j) of each (distributions/distributions.cpp: kl_std_normal).
struct Posterior {
  Array<float> m, v;
  std::vector<double> kl;
};

Posterior posterior_of(zm::VAE<float>& vae, const Array<float>& x) {
  Tape<float> tape;
  tz::NoGrad<float> no_grad(tape);
  tz::Gaussian<float> q = vae.encode(tape, tape.constant(x));
  const Array<float>& kl = tz::kl_std_normal(q.m, q.v).value();
  return {q.m.value(), q.v.value(), std::vector<double>(kl.begin(), kl.end())};
}

// The grid of a model: its step h (at most half the narrowest q's standard deviation, unless
// --grid-step says; 2R/h whole), and what it gives for every image.
struct Grid {
  double h = 0, R = 0, min_sd = 0;
  std::size_t G = 0;
  std::vector<GridResult> at;
  std::vector<double> log_px, elbo;  // log p(x), and ELBO = E_q[log p(x|z)] (grid) − KL (closed form)
};

Grid grid_of(const tz::tutorial::Tutorial& t, zm::VAE<float>& vae, const Array<float>& x, const Posterior& q,
             double grid_step, double R) {
  Grid g;
  g.min_sd = 1e9;
  for (float a : q.v) g.min_sd = std::min(g.min_sd, std::sqrt(static_cast<double>(a)));
  const double h_max = grid_step > 0 ? grid_step : std::min(t.pick(0.025, 0.05), g.min_sd / 2);
  g.G = 4 * static_cast<std::size_t>(std::ceil(2 * R / h_max / 4));  // a multiple of 4, for the 4h grid
  g.R = R;
  g.h = 2 * R / static_cast<double>(g.G);
  g.at = tz::tutorial::iwae::integrate_on_grid(vae, x, q.m, q.v, R, g.h);
  for (std::size_t i = 0; i < g.at.size(); ++i) {
    g.log_px.push_back(g.at[i].log_px);
    g.elbo.push_back(g.at[i].e_log_px_z - q.kl[i]);
  }
  return g;
}

// Step 1: the data set, and the first n test images, which every later step scores.
zm::Dataset step_data(tz::tutorial::Tutorial& t, const zm::ModelInfo& info, std::string& data_spec, Rng& rng,
                      std::size_t n) {
  const zm::Dataset data = tz::tutorial::load_tutorial_data(t, info, data_spec, rng);
  const zm::Dataset eval = zm::first_test_rows(data, static_cast<long>(n));
  t.step(1, "Data: {}, {} training images; the first {} test images, binarized once", data.name,
         data.train_x.shape()[0], n);
  return eval;
}

// The trained model, and its grid at the end of training.
struct Trained {
  std::unique_ptr<zm::Model<float>> model;
  Posterior q;
  Grid grid;
};

// Step 2: a VAE with a 2-D latent space, trained in stages (each resumes the last one's checkpoint,
// bit for bit as one run: models/train.hpp); after each, log p(x), the ELBO and their gap on the grid.
Trained step_train_and_follow_the_gap(tz::tutorial::Tutorial& t, const zm::ModelInfo& info, const zm::Config& config,
                                      zm::TrainOptions opt, const Array<float>& x, double grid_step, double R) {
  const std::vector<long> stages = t.pick(std::vector<long>{100, 300, 1000, 2000, 5000}, std::vector<long>{50, 100, 200, 500});
  t.step(2, "A VAE with a 2-D latent space: {} Adam steps of 100 images (lr 1e-3), followed on the grid", stages.back());
  t.say("Maximising the ELBO moves θ (the decoder, hence log p(x)) and φ (the encoder, hence the gap\n"
        "KL(q(z|x) ‖ p(z|x)) = log p(x) − ELBO): variational inference is φ* = argmin_φ KL(q_φ ‖ p(z|x)).\n"
        "After each stage, means over the test images (the grid of step 4):");
  t.say("{:>6} {:>12} {:>12} {:>12}", "steps", "log p(x)", "ELBO", "gap");
  opt.out = t.out_file("training").string();
  Trained r;
  std::vector<double> log_px, gap;
  for (long s : stages) {
    zm::TrainOptions o = opt;
    o.iters = s;
    if (s != stages.front()) o.resume = opt.out;
    zm::train(info, config, o, &r.model);
    auto& vae = dynamic_cast<zm::VAE<float>&>(*r.model);
    r.q = posterior_of(vae, x);
    r.grid = grid_of(t, vae, x, r.q, grid_step, R);
    log_px.push_back(mean_of(r.grid.log_px));
    gap.push_back(log_px.back() - mean_of(r.grid.elbo));
    t.say("{:>6} {:>12.4f} {:>12.4f} {:>12.4f}", s, log_px.back(), log_px.back() - gap.back(), gap.back());
  }
  // Both columns are quadratures of one model (no Monte-Carlo noise), with a grid error below 1e-3 nats
  // (step 4): any change of more than that is real.
  bool px_rises = true, elbo_rises = true;
  for (std::size_t i = 1; i < stages.size(); ++i) {
    px_rises = px_rises && log_px[i] > log_px[i - 1] + 1e-3;
    elbo_rises = elbo_rises && log_px[i] - gap[i] > log_px[i - 1] - gap[i - 1] + 1e-3;
  }
  t.check(claim("elbo-improves-theta-and-phi"), "θ: log p(x) rises at every stage", px_rises,
          fmt::format("{:.3f} → {:.3f} nats", log_px.front(), log_px.back()));
  t.check(claim("elbo-improves-theta-and-phi"), "the ELBO, which Adam climbs, rises at every stage", elbo_rises,
          fmt::format("{:.3f} → {:.3f} nats", log_px.front() - gap.front(), log_px.back() - gap.back()));
  t.say("The gap {} from {:.3f} to {:.3f} nats: Adam climbs ELBO = log p(x) − gap, and a step of θ that raises\n"
        "log p(x) can also make p(z|x) harder for a Gaussian q to match. Step 3 holds θ and moves φ alone.",
        gap.back() < gap.front() ? "fell" : "grew", gap.front(), gap.back());
  return r;
}

// Step 3: variational inference proper. With θ held, Adam on φ alone minimises the mean −ELBO of the n
// images, that is the mean KL(q_φ(z|x) ‖ p(z|x)), since log p(x) does not move: φ* = argmin_φ KL.
void step_fit_phi_alone(tz::tutorial::Tutorial& t, zm::VAE<float>& vae, const Array<float>& x, Trained& r,
                        double grid_step, double R) {
  const long steps = t.pick(1000L, 300L);
  t.step(3, "Variational inference: θ held, {} Adam steps on φ alone (the encoder) for these {} images", steps,
         x.shape()[0]);
  std::vector<tz::Param<float>*> encoder;
  for (tz::Param<float>* p : vae.params().all())
    if (p->name.rfind("enc", 0) == 0) encoder.push_back(p);
  tz::nn::Adam<float> adam(encoder, {.lr = 1e-3});
  Rng rng(t.seed() + 3);
  const double px0 = mean_of(r.grid.log_px), gap0 = px0 - mean_of(r.grid.elbo);
  Tape<float> tape;
  for (long s = 0; s < steps; ++s) {
    tape.clear();
    // −ELBO(x) = rec + KL with one z = m + √v ε per image: the loss of 04_vae, on these images
    tape.backward(tz::mean(vae.negative_elbo_bound(tape, tape.constant(x), rng).nelbo));
    adam.step();
    vae.params().zero_grad();  // the decoder's gradients too, which nothing applies
  }
  r.q = posterior_of(vae, x);
  r.grid = grid_of(t, vae, x, r.q, grid_step, R);
  const double px1 = mean_of(r.grid.log_px), gap1 = px1 - mean_of(r.grid.elbo);
  t.say("log p(x) = {:.4f} before and {:.4f} after: only the encoder's {} arrays were in Adam's list.", px0, px1,
        encoder.size());
  // Quadratures of a fixed model on converged grids (step 4): a fall of more than 1e-3 nats is real.
  t.check(claim("vi-gap-falls"), "the gap log p(x) − ELBO = KL(q ‖ p(z|x)) falls as φ alone is fitted",
          gap1 < gap0 - 1e-3, fmt::format("{:.4f} → {:.4f} nats", gap0, gap1));
}

// Step 3: log p(x) on the grid of the trained model: converged, with all the mass on it.
void step_log_px_on_a_grid(tz::tutorial::Tutorial& t, const Grid& g, const Posterior& q) {
  const std::size_t n = g.at.size();
  t.step(4, "log p(x) = log Σ_g h² p(x|z_g) p(z_g) on a {}×{} grid over [−{}, {}]², h = {:.4f}", g.G, g.G, g.R, g.R, g.h);
  t.say("The decoder does not depend on x, so each of the {} grid points is decoded once for all {} images.\n"
        "The grid must resolve q(z|x) and p(z|x): the narrowest q here has standard deviation {:.3f} = {:.1f} h.",
        g.G * g.G, n, g.min_sd, g.min_sd / g.h);
  double d1 = 0, d2 = 0, edge = 0, q_off = 0, kl_off = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const GridResult& r = g.at[i];
    d1 = std::max(d1, std::abs(r.log_px - r.log_px_2h));
    d2 = std::max(d2, std::abs(r.log_px_2h - r.log_px_4h));
    edge = std::max(edge, r.edge_mass);
    q_off = std::max(q_off, std::max(std::abs(r.q_mass - 1), std::abs(r.prior_mass - 1)));
    kl_off = std::max(kl_off, std::abs(r.kl_prior - q.kl[i]));
  }
  t.say("Every fourth point (step 4h) differs from every other point (2h) by at most {:.1e} nats, and the 2h grid\n"
        "from the full grid by {:.1e}: halving the step shrank the difference {:.0f}-fold. Whatever the rate, as\n"
        "soon as halving the step at least halves the error, the error at step h is below its difference to\n"
        "the grid at 2h. (For an integrand that is smooth and decays like a Gaussian the error goes like\n"
        "e^(−c/h²), and halving h raises the factor by which it falls to the fourth power.)",
        d2, d1, d2 / std::max(d1, 1e-300));
  // 1e-3 nats: a tenth of the smallest standard error the grid's numbers are compared with in steps 5-7.
  t.check(claim("grid-quadrature-converged"), "converged: the 2h grid agrees with the h grid to 1e-3 nats",
          d1 < 1e-3 && d1 < d2 / 2,
          fmt::format("max over images |log p_h(x) − log p_2h(x)| = {:.1e}, below half of 4h vs 2h ({:.1e})", d1, d2));
  t.check(claim("grid-quadrature-converged"), "the grid holds the mass: p(x, z) on its outer ring is negligible",
          edge < 1e-6, fmt::format("largest share on the edge: {:.1e}", edge));
  t.check(claim("grid-quadrature-converged"), "the weights integrate densities: Σ_g h² q(z_g|x) = Σ_g h² p(z_g) = 1",
          q_off < 1e-6, fmt::format("max over images of |Σ h² q − 1| and |Σ h² p(z) − 1| = {:.1e}", q_off));
  // The model computes the KL in float32 (relative rounding 6e-8 on each of a few terms of size ≤ 10).
  t.check(claim("grid-quadrature-converged"), "Σ_g h² q log(q/p(z)) is the model's closed-form KL(q ‖ N(0, I))",
          kl_off < 1e-5, fmt::format("max over images |KL_grid − KL_closed| = {:.1e} nats", kl_off));
  t.say("log p(x) = {:.3f} (mean over images); image 0: {:.3f}", mean_of(g.log_px), g.log_px[0]);
  const double G10 = std::pow(static_cast<double>(g.G), 10.0);
  t.say("A grid is no way out in general: with the same {} points per axis, d = 2 takes {} decoder passes, d = 10\n"
        "would take G^10 = {:.1e}; the importance-weighted bounds below take thousands per image in any d.",
        g.G, g.G * g.G, G10);
}

// An estimate of L_k(x) for every image, and its standard error.
struct Estimate {
  std::vector<double> est, se, log_w;  // log_w: the weights it came from, sample i of image j at i·n + j
  double mean = 0, se_mean = 0;        // over images: Σ est / n, and √(Σ se²) / n
};

// L_k(x) from B independent blocks of k samples: the mean over blocks of log (1/k) Σ_{i in block} w_i,
// with the standard error sd/√B over blocks; for B = 1 the delta method, se(log ŵ) = sd(w) / (√k · mean(w)).
Estimate estimate_iwae(zm::VAE<float>& vae, const Array<float>& x, std::size_t k, std::size_t B, Rng& rng) {
  const std::size_t n = x.shape()[0];
  Estimate e;
  e.log_w = vae.log_importance_weights_eval(x, k * B, rng);
  for (std::size_t j = 0; j < n; ++j) {
    std::vector<double> blocks(B), w(k);
    for (std::size_t b = 0; b < B; ++b) blocks[b] = tz::log_mean_exp(e.log_w.data() + b * k * n + j, k, n);
    if (B > 1) {
      const auto s = tz::tutorial::stats(blocks);
      e.est.push_back(s.mean), e.se.push_back(s.se);
    } else {
      for (std::size_t i = 0; i < k; ++i) w[i] = std::exp(e.log_w[i * n + j] - blocks[0]);  // w / mean(w)
      e.est.push_back(blocks[0]), e.se.push_back(tz::tutorial::stats(w).sd / std::sqrt(static_cast<double>(k)));
    }
  }
  double v = 0;
  for (double s : e.se) v += s * s;
  e.mean = mean_of(e.est);
  e.se_mean = std::sqrt(v) / static_cast<double>(n);
  return e;
}

// Step 4: L_1 ≤ L_10 ≤ L_100 ≤ L_1000 ≤ L_5000 ≤ log p(x), each L_k from samples of its own. Returns
// L_5000, whose weights step 7 uses.
Estimate step_iwae_bounds(tz::tutorial::Tutorial& t, zm::VAE<float>& vae, const Array<float>& x,
                                               const Grid& g) {
  const std::vector<std::size_t> ks = {1, 10, 100, 1000, 5000}, blocks = {1000, 100, 20, 5, 1};
  t.step(5, "The bounds L_k = E[log (1/k) Σ_i w_i] for k = 1 … 5000, each from independent samples");
  Rng rng(t.seed() + 4);
  std::vector<Estimate> L;
  for (std::size_t a = 0; a < ks.size(); ++a) {
    L.push_back(estimate_iwae(vae, x, ks[a], blocks[a], rng));
    t.say("L_{:<5} = {:9.4f} ± {:.4f}   ({:>4} × {:<4} samples per image)   log p(x) − L_k = {:.4f}", ks[a],
          L[a].mean, L[a].se_mean, blocks[a], ks[a], mean_of(g.log_px) - L[a].mean);
  }
  t.say("log w_i averages {:.1f} nats here: means of w are taken in log space (log_mean_exp), never as e^{{log w}}.",
        mean_of(L[0].est));
  // Independent estimates of ordered expectations: each difference is checked to 4 standard errors.
  for (std::size_t a = 1; a < ks.size(); ++a) {
    const double diff = L[a].mean - L[a - 1].mean, se = std::hypot(L[a].se_mean, L[a - 1].se_mean);
    t.check(claim("iwae-bounds-ordered"), fmt::format("L_{} ≥ L_{}", ks[a], ks[a - 1]), diff > -4 * se,
            fmt::format("L_{} − L_{} = {:.4f} ± {:.4f} > −4 SE", ks[a], ks[a - 1], diff, se));
  }
  // L_1 is the mean of log w: it estimates the ELBO, E_q[log p(x|z)] on the grid minus the closed-form KL.
  const double d1 = L[0].mean - mean_of(g.elbo);
  t.check(claim("iwae-bounds-ordered"), "L_1 = ELBO: the mean of log w against the grid's ELBO",
          std::abs(d1) < 4 * L[0].se_mean, fmt::format("L_1 − ELBO = {:.4f}, |·| < 4 SE = {:.4f}", d1, 4 * L[0].se_mean));
  // Two-sided: ELBO = L_1 ≤ E[L̂_5000] ≤ log p(x), so −4 SE ≤ log p(x) − L̂_5000 ≤ (log p(x) − ELBO) + 4 SE,
  // on the mean over images, with the grid's gap. How close to log p(x) it comes depends on how well q
  // covers p(z|x); the samples' own standard error only sees the region they visit.
  const Estimate& top = L.back();
  std::vector<double> off(x.shape()[0]);
  std::size_t above = 0;
  for (std::size_t j = 0; j < off.size(); ++j) {
    off[j] = g.log_px[j] - top.est[j];
    above += off[j] < 0;
  }
  const double d = mean_of(off), gap = mean_of(g.log_px) - mean_of(g.elbo), se = top.se_mean;
  t.check(claim("latent-marginal-by-grid"), "IWAE-5000 brackets the grid's log p(x): −4 SE ≤ log p(x) − L_5000 ≤ gap + 4 SE",
          d > -4 * se && d < gap + 4 * se,
          fmt::format("−{:.4f} ≤ {:.4f} ≤ {:.4f} + {:.4f}: {:.0f}% of the ELBO's gap closed", 4 * se, d, gap, 4 * se,
                      100 * (1 - d / gap)));
  t.say("{} of {} images have their estimate of L_5000 above log p(x): one estimate is random (its standard\n"
        "error per image is about {:.3f}), and only its expectation is below log p(x).",
        above, off.size(), mean_of(top.se));
  if (d > 4 * se)
    t.say("L_5000 stays {:.3f} nats below log p(x), far more than the samples' own standard error ({:.4f}) says:\n"
          "q(z|x) misses part of p(z|x) there, and importance sampling cannot see where it does not sample.", d, se);
  // The nested blocks of one sample set: merging blocks can only raise log-mean-exp (Jensen once more).
  const std::size_t n = x.shape()[0];
  bool nested = true;
  for (std::size_t j = 0; j < n; ++j) {
    double prev = -1e300;
    for (std::size_t k : ks) {
      double sum = 0;
      for (std::size_t b = 0; b < 5000 / k; ++b) sum += tz::log_mean_exp(top.log_w.data() + b * k * n + j, k, n);
      const double est = sum / static_cast<double>(5000 / k);
      nested = nested && est >= prev - 1e-12 * std::abs(est);
      prev = est;
    }
  }
  t.identity("nested blocks of the 5000 samples of one image are ordered L_1 ≤ … ≤ L_5000",
             fmt::format("{} for all {} images: Jensen on the same numbers, so no check", nested ? "true" : "false", n));
  return L.back();
}

// Step 5: log p(x) − ELBO(x) = KL(q(z|x) ‖ p(z|x)): the ELBO by Monte Carlo (the model's own bound: one
// reparameterised z per call, closed-form KL), the KL from the grid's posterior.
void step_elbo_gap_is_the_posterior_kl(tz::tutorial::Tutorial& t, zm::VAE<float>& vae, const Array<float>& x,
                                       const Grid& g) {
  const std::size_t n = x.shape()[0], S = 1000;
  t.step(6, "The gap: log p(x) − ELBO(x) = KL(q(z|x) ‖ p(z|x)), the two sides computed apart");
  t.say("ELBO(x) = −(rec + KL) from negative_elbo_bound, averaged over {} draws of z ~ q(z|x): Monte Carlo.\n"
        "KL(q ‖ p(z|x)) = Σ_g h² q(z_g|x) [log q(z_g|x) − log p(z_g|x)], with log p(z_g|x) =\n"
        "log p(x|z_g) + log p(z_g) − log p(x) from the grid.", S);
  Rng rng(t.seed() + 5);
  std::vector<std::vector<double>> nelbo(n);
  {
    Tape<float> tape;
    tz::NoGrad<float> no_grad(tape);
    for (std::size_t s = 0; s < S; ++s) {
      tape.clear();
      const Array<float>& b = vae.negative_elbo_bound(tape, tape.constant(x), rng).nelbo.value();
      for (std::size_t j = 0; j < n; ++j) nelbo[j].push_back(b(j));
    }
  }
  std::vector<double> diff(n);
  double v = 0;
  for (std::size_t j = 0; j < n; ++j) {
    const auto s = tz::tutorial::stats(nelbo[j]);  // −ELBO(x_j) and its standard error
    const double gap = g.log_px[j] + s.mean;
    diff[j] = gap - g.at[j].kl_posterior;
    v += s.se * s.se;
    if (j < 3)
      t.say("image {}: log p(x) − ELBO = {:.4f} − ({:.4f} ± {:.4f}) = {:.4f};  KL(q ‖ p(z|x)) = {:.4f}", j,
            g.log_px[j], -s.mean, s.se, gap, g.at[j].kl_posterior);
  }
  const double se = std::sqrt(v) / static_cast<double>(n);
  t.check(claim("variational-gap-on-grid"), "log p(x) − ELBO = KL(q(z|x) ‖ p(z|x)), on average over the images",
          std::abs(mean_of(diff)) < 4 * se,
          fmt::format("mean (gap − KL) = {:.4f}, |·| < 4 SE = {:.4f}", mean_of(diff), 4 * se));
  double min_kl = 1e300;
  for (const GridResult& r : g.at) min_kl = std::min(min_kl, r.kl_posterior);
  t.identity("the grid's KL is never negative",
             fmt::format("smallest {:.5f} nats: Gibbs' inequality between two distributions on the same points", min_kl));
}

// Step 6: Jensen, log E_q[w] ≥ E_q[log w], and its gap is KL(q ‖ p(z|x)): E_q[w] = p(x).
void step_jensen_gap(tz::tutorial::Tutorial& t, const Estimate& top, const Grid& g) {
  const std::size_t n = g.at.size(), S = top.log_w.size() / n;
  t.step(7, "Jensen: log E[w] − E[log w] = log p(x) − ELBO = KL(q ‖ p(z|x)), from the {} samples of L_5000", S);
  t.say("log is concave, so the log of a mean is at least the mean of the logs. A common presentation of this\n"
        "road captions its Jensen figure the other way round (E[log w] above log E[w]): the numbers say otherwise.");
  std::vector<double> jensen(n), kl(n);
  double v = 0;
  std::size_t holds = 0;
  for (std::size_t j = 0; j < n; ++j) {
    std::vector<double> lw(S);
    for (std::size_t i = 0; i < S; ++i) lw[i] = top.log_w[i * n + j];
    const auto s = tz::tutorial::stats(lw);  // E[log w] and its standard error
    jensen[j] = top.est[j] - s.mean;          // log (1/S) Σ w − (1/S) Σ log w
    holds += jensen[j] >= 0;
    kl[j] = g.at[j].kl_posterior;
    v += (top.se[j] + s.se) * (top.se[j] + s.se);  // the two errors are correlated: their sum bounds the sd
  }
  t.identity("log (1/S) Σ w_i ≥ (1/S) Σ log w_i on the same samples",
             fmt::format("for {} of {} images: the AM–GM inequality, so no check", holds, n));
  // With S samples, E[log (1/S) Σ w] = L_S ≤ log E[w] = log p(x): the estimated gap is at most the KL.
  const double se = std::sqrt(v) / static_cast<double>(n);
  t.check(claim("jensen-gap-is-kl"), "Jensen's gap from S samples is at most the grid's KL(q ‖ p(z|x))",
          mean_of(jensen) < mean_of(kl) + 4 * se,
          fmt::format("{:.4f} ≤ {:.4f} + 4 SE ({:.4f}): {:.0f}% of it", mean_of(jensen), mean_of(kl), 4 * se,
                      100 * mean_of(jensen) / mean_of(kl)));
}

}  // namespace

int main(int argc, char** argv) {
  tz::tutorial::Tutorial t("05_iwae", "importance-weighted bounds, and the ELBO's gap as a KL, checked on a grid");
  std::string data_spec;
  double grid_step = 0, grid_radius = 6.0;
  tz::tutorial::add_data_option(t, data_spec);
  t.add_option("--grid-step", grid_step,
               "step h of the integration grid (default: 0.025, --quick 0.05, or less to resolve the narrowest q)");
  t.add_option("--grid-radius", grid_radius, "the grid covers [−R, R]² (default 6: q(z|x) = N(0, 1) puts 2e-9 outside)");
  if (auto rc = t.parse(argc, argv)) return *rc;

  Rng rng(t.seed());
  const zm::ModelInfo& info = zm::find_model("vae");
  const std::size_t n = t.pick<std::size_t>(100, 20);  // test images
  const zm::Config config = zm::Config::from(info.flags, {{"z", "2"}, {"iwae", "1"}}, "vae");

  const zm::Dataset eval = step_data(t, info, data_spec, rng, n);  // 1 data
  const Array<float> x = zm::binarized_test_rows(eval);           // the test images, binarized once
  // after step 1, which settles data_spec: the training run loads the data step 1 loaded
  const zm::TrainOptions opt = tz::tutorial::train_options(t, data_spec, 0, static_cast<long>(n));
  Trained run = step_train_and_follow_the_gap(t, info, config, opt, x, grid_step, grid_radius);  // 2
  auto& vae = dynamic_cast<zm::VAE<float>&>(*run.model);
  step_fit_phi_alone(t, vae, x, run, grid_step, grid_radius);          // 3 VI: φ alone
  step_log_px_on_a_grid(t, run.grid, run.q);                             // 4 log p(x) on a grid
  const Estimate L_5000 = step_iwae_bounds(t, vae, x, run.grid);         // 5 the bounds L_k
  step_elbo_gap_is_the_posterior_kl(t, vae, x, run.grid);                // 6 the gap
  step_jensen_gap(t, L_5000, run.grid);                                  // 7 Jensen
  return t.finish();
}
