// tutorial: the variational autoencoder: the ELBO by Jensen's inequality, its forms, its Monte-Carlo error, the reparameterization trick
//
// Model (Kingma & Welling 2014, "Auto-Encoding Variational Bayes"; models/vae.hpp):
//   z ~ N(0, I),   x | z ~ Π_j Bernoulli(σ(f_θ(z)_j)),   q_φ(z|x) = N(m_φ(x), diag v_φ(x))
// The derivation, one checked step at a time:
//   log p(x) = log ∫ p(x, z) dz = log E_q[w],  w = p(x, z) / q(z|x)            (importance sampling)
//            ≥ E_q[log w] = E_q[log p(x, z) − log q(z|x)] =: ELBO(x)            (form 1; Jensen: log is concave)
//   ELBO(x)  = E_q[log p(x|z)] − KL(q(z|x) ‖ p(z))                              (form 2, K&W eq. 3, KL in closed form)
//            = log p(x) − KL(q(z|x) ‖ p(z|x))                                   (the gap is a KL: 05_iwae checks it)
// and its gradient with respect to φ flows through z = m + √v ⊙ ε (K&W §2.4), which a score-function
// estimator does not need but pays for in variance (step 9).
//
// Steps: 1 data, 2 the bound by hand, 3 training, 4 Jensen's inequality, 5 the forms of the ELBO,
// 6 the KL in closed form against 10⁶ samples, 7 the KL's asymmetry, 8 the L-sample ELBO's error,
// 9 the reparameterization trick against the score function, 10 samples.
// Every statistical check's tolerance is 4 standard errors, computed from the samples it checks.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "autograd/random.hpp"
#include "distributions/distributions.hpp"
#include "models/train.hpp"
#include "models/vae.hpp"
#include "tutorials/tutorial.hpp"
#include "tutorials/vae_steps.hpp"

using tz::Array, tz::Rng, tz::Tape, tz::Var;
using tz::tutorial::claim, tz::tutorial::Spread, tz::tutorial::Stats, tz::tutorial::Tutorial;
namespace zm = tz::models;
namespace tt = tz::tutorial;

namespace {

// The standard error of a mean over n images of per-image means of S samples each, from the
// variance within each image (the spread between images is not Monte-Carlo noise).
double se_within(const std::vector<std::vector<double>>& per_image) {
  double var = 0;
  for (const auto& s : per_image) var += std::pow(tt::stats(s).sd, 2) / static_cast<double>(s.size());
  return std::sqrt(var) / static_cast<double>(per_image.size());
}
double mean_over(const std::vector<std::vector<double>>& per_image) {
  double m = 0;
  for (const auto& s : per_image) m += tt::mean_of(s) / static_cast<double>(per_image.size());
  return m;
}

// Step 1: the data set, and the first test_rows test images, which every later step scores.
zm::Dataset step_data(Tutorial& t, const zm::ModelInfo& info, std::string& data_spec, Rng& rng, long test_rows) {
  const zm::Dataset data = tt::load_tutorial_data(t, info, data_spec, rng);
  const zm::Dataset eval = zm::first_test_rows(data, test_rows);
  t.step(1, "Data: {}, {} training images of {}×{} pixels; {} test images, binarized once", data.name,
         data.train_x.shape()[0], data.rows, data.cols, eval.test_x.shape()[0]);
  t.say("Pixels are Bernoulli(intensity) draws, afresh for every training batch (dynamic binarization).");
  return eval;
}

// negative_elbo_bound on one batch with a given ε, against rec and KL by plain loops over the encoder's
// m, v and the decoder's logits. Returns the batch mean of −ELBO, and the logits' rms in *rms.
double check_objective_by_hand(Tutorial& t, zm::VAE<float>& vae, const Array<float>& x, const Array<float>& eps,
                               const std::string& when, double* rms = nullptr) {
  Tape<float> tape;
  tz::NoGrad<float> no_grad(tape);
  const Var<float> xv = tape.constant(x);
  const auto b = vae.negative_elbo_bound(tape, xv, tape.constant(eps));
  const tz::Gaussian<float> q = vae.encode(tape, xv);
  const std::size_t n = x.shape()[0], d = eps.shape()[1];
  Array<float> z = Array<float>::from_shape({n, d});
  double kl = 0, rec = 0, l2 = 0;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < d; ++j) {
      const float m = q.m.value()(i, j), v = q.v.value()(i, j);
      z(i, j) = m + std::sqrt(v) * eps(i, j);                    // z = m + √v ε
      kl += 0.5 * (v + double(m) * m - 1 - std::log(double(v)));  // KL = ½ Σ_j (v_j + m_j² − 1 − log v_j)
    }
  const Array<float> logits = vae.decode(tape, tape.constant(z)).value();
  for (std::size_t i = 0; i < logits.size(); ++i) {  // rec = −Σ_j [x_j l_j − softplus(l_j)]
    const double l = logits.data()[i];
    l2 += l * l / double(logits.size());
    rec -= x.data()[i] * l - (std::max(l, 0.0) + std::log1p(std::exp(-std::abs(l))));
  }
  kl /= double(n), rec /= double(n);
  if (rms) *rms = std::sqrt(l2);
  // float32 sums of 784 non-negative terms: relative error ≤ 784·2⁻²⁴ ≈ 5e-5; 1e-4 allows twice that
  t.check_close(claim("vae-objective"), when + ": the model's KL vs ½ Σ_j (v_j + m_j² − 1 − log v_j) by hand",
                tt::mean_of(std::vector<double>(b.kl.value().begin(), b.kl.value().end())), kl, 1e-4);
  t.check_close(claim("vae-objective"), when + ": the model's rec vs −Σ_j [x_j l_j − softplus(l_j)] by hand",
                tt::mean_of(std::vector<double>(b.rec.value().begin(), b.rec.value().end())), rec, 1e-4);
  const double nelbo = tt::mean_of(std::vector<double>(b.nelbo.value().begin(), b.nelbo.value().end()));
  t.check_close(claim("vae-objective"), when + ": −ELBO = rec + KL", nelbo, rec + kl, 1e-4);
  return nelbo;
}

// Step 2: the loss is rec + KL, and a fresh network's rec is 784 log 2 (every pixel a coin flip).
void step_the_bound(Tutorial& t, const zm::ModelInfo& info, const zm::Config& config, const zm::Dataset& eval,
                    const Array<float>& batch, const Array<float>& eps) {
  t.step(2, "The bound: −ELBO(x) = rec + KL,  rec = −log p(x|z),  KL = KL(q(z|x) ‖ N(0, I))");
  t.say("For any q(z|x), log p(x) = log E_q[p(x,z)/q(z|x)] ≥ E_q[log p(x,z) − log q(z|x)]: the loss is the\n"
        "negative of that lower bound, averaged over a batch, with one sample z = m + √v ⊙ ε per image.\n"
        "negative_elbo_bound, checked here by plain loops on a batch of 100 test images and one fixed ε:");
  Rng init(t.seed());
  auto fresh = info.make_float(config, init);
  double r = 0;
  check_objective_by_hand(t, dynamic_cast<zm::VAE<float>&>(*fresh), batch, eps, "iteration 0", &r);
  Rng eval_rng(1);
  const auto before = tt::as_map(fresh->evaluate(eval, eval_rng));
  // rec − 784 log 2 = Σ_j [(½ − x_j) l_j + log cosh(l_j/2)]; log cosh(u) ≈ u²/2, so the second sum is
  // ≈ 784 r²/8 for logits of rms r, and the first, of terms of either sign, mostly cancels
  t.say("A fresh network's logits are near 0 (rms r = {:.3f} on the batch), so p(x_j = 1|z) ≈ ½ for every pixel:\n"
        "rec − 784 log 2 = Σ_j [(½ − x_j) l_j + log cosh(l_j/2)] ≈ 784 r²/8 = {:.2f} nats (the first terms, of either\n"
        "sign, mostly cancel), well within 1% of 784 log 2 = 5.4 nats.", r, 784 * r * r / 8);
  t.check_close(claim("fresh-decoder-flips-coins"), "fresh model: test rec ≈ 784 log 2 (within 1%)", before.at("test_rec"),
                784 * std::log(2.0), 0.01);
}

// Step 3: the shared training loop of ./zoo train, in three legs (each resumes the last one's
// checkpoint, bit for bit as one run): the objective checked by hand after each. Returns the model.
std::unique_ptr<zm::Model<float>> step_training(Tutorial& t, const zm::ModelInfo& info, const zm::Config& config,
                                                zm::TrainOptions opt, const Array<float>& batch,
                                                const Array<float>& eps) {
  const long iters = opt.iters;
  t.step(3, "Training: {} Adam steps of 100 images (lr 1e-3, z = 10, the shared loop of ./zoo train vae)", iters);
  std::unique_ptr<zm::Model<float>> model;
  opt.out = t.out_file("training").string();
  zm::TrainResult run;
  std::vector<double> nelbo;
  for (int leg = 1; leg <= 3; ++leg) {
    opt.iters = iters * leg / 3;
    opt.resume = leg == 1 ? "" : opt.out;
    run = zm::train(info, config, opt, &model);
    nelbo.push_back(check_objective_by_hand(t, dynamic_cast<zm::VAE<float>&>(*model), batch, eps,
                                            fmt::format("iteration {}", opt.iters)));
  }
  const auto metrics = tt::as_map(run.metrics);
  const std::vector<double> curve = tt::curve_of(run, "nelbo");
  t.say("{:.1f} ms per step. Test: −ELBO {:.2f} = KL {:.2f} + rec {:.2f} nats", run.ms_per_iter,
        metrics.at("test_nelbo"), metrics.at("test_kl"), metrics.at("test_rec"));
  t.check(claim("training-lowers-nelbo"), "the training −ELBO fell", !curve.empty() && curve.back() < curve.front(),
          fmt::format("first 100 steps {:.2f} → last 100 steps {:.2f}", curve.front(), curve.back()));
  t.check(claim("training-lowers-nelbo"), "the −ELBO of the fixed batch and ε fell after every leg",
          nelbo[1] < nelbo[0] && nelbo[2] < nelbo[1], fmt::format("{:.2f} → {:.2f} → {:.2f}", nelbo[0], nelbo[1], nelbo[2]));
  return model;
}

// S samples of every image, each scored both ways on the same z = m + √v ⊙ ε.
struct Samples {
  std::vector<std::vector<double>> log_w;  // form 1: log p(x|z) + log p(z) − log q(z|x)   [image][sample]
  std::vector<std::vector<double>> form2;  // form 2: log p(x|z) − KL(q ‖ p(z))           [image][sample]
};

// Form 1 from the model's log_importance_weights, form 2 from its negative_elbo_bound, on one ε; images
// in groups of at most 10⁴ rows per tape.
Samples score_samples(zm::VAE<float>& vae, const Array<float>& x, std::size_t S, Rng& rng) {
  const std::size_t n = x.shape()[0], g = std::max<std::size_t>(1, 10000 / S), z_dim = vae.options().z;
  Samples out{std::vector<std::vector<double>>(n, std::vector<double>(S)), std::vector<std::vector<double>>(n, std::vector<double>(S))};
  for (std::size_t b = 0; b < n; b += g) {
    const std::size_t e = std::min(n, b + g);
    Tape<float> tape;
    tz::NoGrad<float> no_grad(tape);
    const Var<float> xg = tape.constant(zm::rows_as<float>(x, b, e));
    const Var<float> eps = tape.constant(rng.normal<float>({S * (e - b), z_dim}));  // row i·g + j: sample i of x_j
    const Array<float> log_w = vae.log_importance_weights(tape, xg, vae.encode(tape, xg), S, eps).value();  // [S, g]
    const Array<float> nelbo = vae.negative_elbo_bound(tape, tz::duplicate(xg, S), eps).nelbo.value();  // [S·g]
    for (std::size_t i = 0; i < S; ++i)
      for (std::size_t j = 0; j < e - b; ++j) {
        out.log_w[b + j][i] = log_w(i, j);
        out.form2[b + j][i] = -nelbo(i * (e - b) + j);
      }
  }
  return out;
}

// Step 4: log E_q[w] ≥ E_q[log w] on the same samples holds for any numbers (AM–GM): an identity.
Samples step_jensen(Tutorial& t, zm::VAE<float>& vae, const Array<float>& x_test) {
  const std::size_t n = t.pick<std::size_t>(100, 20), S = t.pick<std::size_t>(1000, 200);
  t.step(4, "Jensen's inequality: log E_q[w] ≥ E_q[log w],  w = p(x,z)/q(z|x),  S = {} samples of z", S);
  Rng rng(t.seed() + 4);
  Samples s = score_samples(vae, zm::rows_as<float>(x_test, 0, n), S, rng);
  t.say("log is concave: the chord between two points of its graph lies below the graph, so the log of a mean\n"
        "is at least the mean of the logs. (A common presentation of this road captions its Jensen figure the\n"
        "other way round, as if log E[w] ≤ E[log w]: that is the inequality of a convex function, not of log.)");
  double lhs = 0, rhs = 0;
  for (const auto& lw : s.log_w) {
    lhs += tz::log_mean_exp(lw.data(), S) / double(n);  // never exp(log w): docs/pitfalls.md#logsumexp
    rhs += tt::mean_of(lw) / double(n);
  }
  t.identity(fmt::format("Jensen on the same samples, mean over {} images", n),
             fmt::format("L_{} = log (1/S) Σ w = {:.2f} ≥ (1/S) Σ log w = {:.2f} (gap {:.2f} nats): AM–GM, true of any numbers",
                         S, lhs, rhs, lhs - rhs));
  t.say("So this printed inequality checks no code. What is claimed is about expectations: E[L_S] ≤ log p(x) and\n"
        "ELBO = E[log w] ≤ log p(x). A single L_S is a random variable whose mean is ≤ log p(x), so one L_S\n"
        "can lie above log p(x) (05_iwae finds images where it does); 05_iwae checks the bounds against log p(x)\n"
        "computed on a grid, and the gap log p(x) − ELBO against the grid's KL(q(z|x) ‖ p(z|x)).");
  return s;
}

// Step 5: form 1 and form 2 agree in expectation; on the same samples they differ by the KL's
// Monte-Carlo error; a trained q makes form 1's terms the quieter ones.
void step_forms_of_the_elbo(Tutorial& t, const Samples& s) {
  const std::size_t n = s.log_w.size(), S = s.log_w[0].size(), h = S / 2;
  t.step(5, "The forms of the ELBO on {} images × {} samples: form 1 E_q[log p(x,z) − log q], form 2 E_q[log p(x|z)] − KL", n, S);
  std::vector<std::vector<double>> diff(n), first(n), second(n);
  for (std::size_t j = 0; j < n; ++j) {
    for (std::size_t i = 0; i < S; ++i) diff[j].push_back(s.log_w[j][i] - s.form2[j][i]);  // KL − (log q − log p(z))
    first[j].assign(s.log_w[j].begin(), s.log_w[j].begin() + h);   // form 1 on samples 0 … S/2 − 1
    second[j].assign(s.form2[j].begin() + h, s.form2[j].end());    // form 2 on the other, independent half
  }
  const double f1 = mean_over(s.log_w), f2 = mean_over(s.form2);
  t.say("form 1, models/vae.cpp log_importance_weights     = {:.4f}", f1);
  t.say("form 2, models/vae.cpp negative_elbo_bound (−nelbo) = {:.4f}", f2);
  t.identity("form 1 regrouped: E_q[log p(x|z)] − E_q[log q − log p(z)]",
             "the same numbers summed in another order, equal whatever the code computes");
  const double se12 = std::sqrt(std::pow(se_within(first), 2) + std::pow(se_within(second), 2));
  t.check_close(claim("elbo-form-1"), fmt::format("form 1 on samples 1…{} vs form 2 on samples {}…{} (4 SE)", h, h + 1, S),
                mean_over(first), mean_over(second), 0, 4 * se12);
  t.say("On the same samples, form 1 − form 2 = KL − (log q(z|x) − log p(z)): the closed-form KL minus its\n"
        "one-sample Monte-Carlo estimate. Its mean over the samples is 0 within its standard error:");
  t.check_close(claim("elbo-form-2"), "Monte-Carlo KL E_q[log q − log p(z)] − closed-form KL (4 SE)", -mean_over(diff), 0,
                0, 4 * se_within(diff));
  double var1 = 0, var2 = 0;
  for (std::size_t j = 0; j < n; ++j) {
    var1 += std::pow(tt::stats(s.log_w[j]).sd, 2) / double(n);
    var2 += std::pow(tt::stats(s.form2[j]).sd, 2) / double(n);
  }
  t.say("Their noise differs. log w = log p(x) + log p(z|x) − log q(z|x) would not vary at all if q(z|x) were\n"
        "the posterior, while log p(x|z) in form 2 always varies with z: once q is close to p(z|x), the one-sample\n"
        "terms of form 1 are the quieter ones (Roeder et al. 2017, \"Sticking the landing\").");
  t.check(claim("trained-q-quiets-log-w"), "a trained q makes log w quieter than log p(x|z)", var1 < var2,
          fmt::format("variance of one-sample terms within an image: form 1 {:.3f} < form 2 {:.3f}", var1, var2));
  t.note("The third form, log p(x) − KL(q(z|x) ‖ p(z|x)), needs log p(x): 05_iwae computes it on a grid for a 2-D latent.");
}

// Step 6: the closed-form KL of one test image's q(z|x) against 10⁶ samples, in float64.
void step_kl_closed_form(Tutorial& t, zm::VAE<float>& vae, const Array<float>& x_test) {
  const std::size_t N = 1000000, C = 100000;
  t.step(6, "KL(q(z|x) ‖ N(0, I)) = ½ Σ_j (v_j + m_j² − 1 − log v_j) against {} samples of log q(z|x) − log p(z)", N);
  Tape<float> ftape;
  tz::NoGrad<float> no_grad_f(ftape);
  const tz::Gaussian<float> qf = vae.encode(ftape, ftape.constant(zm::rows_as<float>(x_test, 0, 1)));
  Tape<double> tape;
  tz::NoGrad<double> no_grad(tape);
  const Var<double> m = tape.constant(Array<double>(xt::cast<double>(qf.m.value())));
  const Var<double> v = tape.constant(Array<double>(xt::cast<double>(qf.v.value())));
  const double closed = tz::kl_std_normal(m, v).value()(0);
  const Var<double> mc = tz::duplicate(m, C), vc = tz::duplicate(v, C);
  const Var<double> zero = tape.constant(Array<double>(xt::zeros<double>(mc.shape())));
  const Var<double> one = tape.constant(Array<double>(xt::ones<double>(mc.shape())));
  Rng rng(t.seed() + 6);
  std::vector<double> kl1(N);
  for (std::size_t b = 0; b < N; b += C) {
    const Var<double> z = tz::sample_gaussian(mc, vc, tape.constant(rng.normal<double>({C, m.shape()[1]})));
    const Array<double> d = (tz::log_normal(z, mc, vc) - tz::log_normal(z, zero, one)).value();  // log q − log p(z)
    std::copy(d.begin(), d.end(), kl1.begin() + b);
  }
  const Stats st = tt::stats(kl1);
  t.say("test image 0: closed form {:.5f} nats; mean of log q(z|x) − log p(z) over z ~ q: {:.5f} ± {:.5f} (SE)", closed,
        st.mean, st.se);
  t.check_close(claim("kl-closed-form-vs-mc"), "Monte-Carlo KL vs distributions' kl_std_normal (4 SE)", st.mean, closed, 0,
                4 * st.se);
}

// Step 7: one Gaussian fitted to a two-mode mixture by forward and by reverse KL, on a grid.
void step_kl_is_asymmetric(Tutorial& t) {
  t.step(7, "KL is asymmetric: one Gaussian q fitted to p = ½ N(−4, 1) + ½ N(4, 1) by KL(p ‖ q) and by KL(q ‖ p)");
  tt::GridDensity p{-25, 0.02, std::vector<double>(2501)};  // x from −25 to 25, dx = 0.02
  const tt::GridDensity a = tt::grid_normal(p, -4, 1), b = tt::grid_normal(p, 4, 1);
  for (std::size_t i = 0; i < p.log_p.size(); ++i) {  // log p = log ½ + logsumexp(log N(x; −4, 1), log N(x; 4, 1))
    const double mx = std::max(a.log_p[i], b.log_p[i]);
    p.log_p[i] = std::log(0.5) + mx + std::log(std::exp(a.log_p[i] - mx) + std::exp(b.log_p[i] - mx));
  }
  const tt::GaussianFit fwd = tt::fit_gaussian_by_kl(p, true), rev = tt::fit_gaussian_by_kl(p, false);
  const tt::GridDensity qf = tt::grid_normal(p, fwd.mu, fwd.sigma), qr = tt::grid_normal(p, rev.mu, rev.sigma);
  t.say("                              KL(p ‖ q)   KL(q ‖ p)\n"
        "forward fit  N({:6.3f}, {:.3f}²)  {:9.4f}   {:9.4f}\n"
        "reverse fit  N({:6.3f}, {:.3f}²)  {:9.4f}   {:9.4f}",
        fwd.mu, fwd.sigma, tt::grid_kl(p, qf), tt::grid_kl(qf, p), rev.mu, rev.sigma, tt::grid_kl(p, qr), tt::grid_kl(qr, p));
  t.say("Forward KL weighs log p − log q where p has mass: setting its derivatives in μ and σ to 0 gives q the moments\n"
        "of p, μ = 0 and σ² = 1 + 4² = 17, a q that covers both modes and the empty valley between them.");
  // 2e-3: a few of the search's last steps (1e-3 in μ, 5e-4 in σ); the grid's sums are exact to far better
  t.check_close(claim("kl-asymmetry"), "forward fit: μ = E_p[x] = 0 (to a few steps of the search)", fwd.mu, 0, 0, 2e-3);
  t.check_close(claim("kl-asymmetry"), "forward fit: σ = √Var_p[x] = √17", fwd.sigma, std::sqrt(17.0), 0, 2e-3);
  t.say("Reverse KL weighs log q − log p where q has mass, and log p is very negative in the valley: q sits on one\n"
        "mode, where KL(N(±4, 1) ‖ p) = log 2 − E_q[log(1 + N(x; ∓4, 1)/N(x; ±4, 1))], and the other mode, 8σ away,\n"
        "lowers that by under 1e-4 nats (of the order of Φ(−4) ≈ 3e-5, q's mass beyond 0). Tolerances of 0.01 cover it.");
  t.check_close(claim("kl-asymmetry"), "reverse fit: |μ| = 4, one mode", std::abs(rev.mu), 4, 0, 0.01);
  t.check_close(claim("kl-asymmetry"), "reverse fit: σ = 1, that mode's width", rev.sigma, 1, 0, 0.01);
  t.check_close(claim("kl-asymmetry"), "reverse fit: KL(q ‖ p) = log 2", rev.kl, std::log(2.0), 0, 0.01);
  t.check(claim("kl-asymmetry"), "each fit is the better one by its own KL only",
          tt::grid_kl(p, qf) < tt::grid_kl(p, qr) && tt::grid_kl(qr, p) < tt::grid_kl(qf, p),
          fmt::format("KL(p ‖ q): {:.3f} < {:.3f};  KL(q ‖ p): {:.3f} < {:.3f}", tt::grid_kl(p, qf), tt::grid_kl(p, qr),
                      tt::grid_kl(qr, p), tt::grid_kl(qf, p)));
  t.say("The ELBO's gap is KL(q(z|x) ‖ p(z|x)), the reverse one: were p(z|x) two-moded, a VAE's Gaussian q would pick one.");
}

// Step 8: the L-sample Monte-Carlo ELBO, R times for L = 1, 10, 100: unbiased, with error sd/√L.
void step_mc_elbo_error(Tutorial& t, zm::VAE<float>& vae, const Array<float>& x_test) {
  const std::size_t R = t.pick<std::size_t>(4000, 2000), M = t.pick<std::size_t>(40000, 10000);
  t.step(8, "The Monte-Carlo ELBO (1/L) Σ_l log w_l of test image 0, {} times for each L = 1, 10, 100", R);
  const Array<float> x0 = zm::rows_as<float>(x_test, 0, 1);
  Rng rng(t.seed() + 8);
  std::vector<double> ref;  // the closed-form-KL ELBO, −negative_elbo_bound, one sample each
  for (std::size_t b = 0; b < M; b += 2000) {
    Tape<float> tape;
    tz::NoGrad<float> no_grad(tape);
    const Array<float> nelbo = vae.negative_elbo_bound(tape, tz::duplicate(tape.constant(x0), 2000), rng).nelbo.value();
    for (float a : nelbo) ref.push_back(-a);
  }
  const Stats r = tt::stats(ref);
  t.say("reference: form 2 (closed-form KL) over {} samples: ELBO = {:.3f} ± {:.3f} (SE)", M, r.mean, r.se);
  // L·Var[(1/L) Σ_l log w_l] = Var[log w] for independent samples. The reference Var[log w] pools every
  // sample below; the SE of L·s²_L over R repeats follows from the fourth moment of a mean of L terms,
  // μ₄,L = (μ₄ + 3(L − 1)σ⁴) / L³:  Var(L s²_L) = ((μ₄ − 3σ⁴)/L + 2σ⁴) / R.
  std::vector<std::vector<double>> log_w(3);
  const std::size_t Ls[3] = {1, 10, 100};
  std::vector<double> pooled;
  for (int i = 0; i < 3; ++i) {
    log_w[i] = vae.log_importance_weights_eval(x0, Ls[i] * R, rng);  // independent samples
    pooled.insert(pooled.end(), log_w[i].begin(), log_w[i].end());
  }
  const Spread all = tt::spread(pooled);
  t.say("Var[log w] over all {} samples: {:.4f} ± {:.4f} (SE), sd {:.4f}", pooled.size(), all.var, all.se_var, all.sd);
  for (int i = 0; i < 3; ++i) {
    const std::size_t L = Ls[i];
    std::vector<double> est(R);
    for (std::size_t k = 0; k < R; ++k) est[k] = tt::mean_of(std::vector<double>(log_w[i].begin() + k * L, log_w[i].begin() + (k + 1) * L));
    const Stats st = tt::stats(est);
    const double scaled = double(L) * st.sd * st.sd, s4 = all.var * all.var;
    const double se = std::sqrt(((all.m4 - 3 * s4) / double(L) + 2 * s4) / double(R) + all.se_var * all.se_var);
    t.say("L = {:3}: mean {:.3f} ± {:.3f}, sd {:.4f}, sd·√L = {:.4f}", L, st.mean, st.se, st.sd, std::sqrt(scaled));
    t.check_close(claim("mc-elbo-spread"), fmt::format("L = {}: unbiased, mean = the closed-form-KL ELBO (4 SE)", L), st.mean,
                  r.mean, 0, 4 * std::hypot(st.se, r.se));
    if (L > 1)  // (L = 1's R samples are part of the pool: compared with it, it would check next to nothing)
      t.check_close(claim("mc-elbo-spread"), fmt::format("L = {}: L · sd² = Var[log w], i.e. sd·√L constant (4 SE)", L),
                    scaled, all.var, 0, 4 * se);
  }
  t.say("Halving the error takes four times the samples: the spread of a mean of L independent terms is sd/√L.");
}

// Step 9: the pathwise gradient (through distributions' sample_gaussian) and the score function (through
// log_normal) agree in the mean; the pathwise one has far less variance.
void step_reparameterization(Tutorial& t) {
  const double mu = 1.5, v = 0.25;
  const std::size_t N = t.pick<std::size_t>(200000, 40000);
  t.step(9, "The reparameterization trick: two estimators of ∂/∂μ E_{{N(μ,v)}}[z²] = 2μ at μ = {}, v = {}", mu, v);
  t.say("Score function (REINFORCE): ∇_μ E[f(z)] = E[f(z) ∇_μ log N(z; μ, v)] = E[z² (z − μ)/v], z a constant sample.\n"
        "Pathwise: z = μ + √v ε, ε ~ N(0, 1), so ∇_μ E[f(z)] = E[2z], and ∇_v E[z²] = E[2z ε/(2√v)] = 1.\n"
        "Both on the tape, one gradient per sample: μ (and v) are leaves of N copies.");
  Rng rng(t.seed() + 9);
  const Array<double> eps = rng.normal<double>({N, 1});
  std::vector<double> g_path, g_v, g_score;
  {
    Tape<double> tape;
    Var<double> mu_n = tape.leaf(Array<double>(xt::ones<double>({N, std::size_t(1)}) * mu));
    Var<double> v_n = tape.leaf(Array<double>(xt::ones<double>({N, std::size_t(1)}) * v));
    tape.backward(tz::sum(tz::square(tz::sample_gaussian(mu_n, v_n, tape.constant(eps)))));  // Σ_n z_n²
    const Array<double> gm = mu_n.grad(), gv = v_n.grad();
    g_path.assign(gm.begin(), gm.end());
    g_v.assign(gv.begin(), gv.end());
  }
  {
    Tape<double> tape;
    Var<double> mu_n = tape.leaf(Array<double>(xt::ones<double>({N, std::size_t(1)}) * mu));
    const Array<double> z = eps * std::sqrt(v) + mu;  // a sample, cut from μ
    Array<double> f = z * z;                          // f(z) = z², a constant weight, [N]
    f.reshape({N});
    // Σ_n f(z_n) log N(z_n; μ, v)
    tape.backward(tz::sum(tape.constant(f) *
                          tz::log_normal(tape.constant(z), mu_n, tape.constant(Array<double>(xt::ones<double>({N, std::size_t(1)}) * v)))));
    const Array<double> g = mu_n.grad();
    g_score.assign(g.begin(), g.end());
  }
  const Stats sp = tt::stats(g_path), sv = tt::stats(g_v), ss = tt::stats(g_score);
  const Spread pp = tt::spread(g_path), ps = tt::spread(g_score);
  // Var[2z] = 4v;  Var[z²(z − μ)/v] = E[(μ + √v ε)⁴ ε²]/v − 4μ² = μ⁴/v + 14μ² + 15v
  const double var_path = 4 * v, var_score = std::pow(mu, 4) / v + 14 * mu * mu + 15 * v;
  t.check_close(claim("reparameterisation-variance"), "pathwise: mean = 2μ (4 SE)", sp.mean, 2 * mu, 0, 4 * sp.se);
  t.check_close(claim("reparameterisation-variance"), "pathwise: ∂/∂v mean = 1 (4 SE)", sv.mean, 1, 0, 4 * sv.se);
  t.check_close(claim("reparameterisation-variance"), "score function: mean = 2μ (4 SE)", ss.mean, 2 * mu, 0, 4 * ss.se);
  t.check_close(claim("reparameterisation-variance"), "pathwise variance = Var[2z] = 4v (4 SE)", pp.var, var_path, 0, 4 * pp.se_var);
  t.check_close(claim("reparameterisation-variance"), "score-function variance = μ⁴/v + 14μ² + 15v (4 SE)", ps.var, var_score,
                0, 4 * ps.se_var);
  t.say("variance ratio {:.1f} (closed form {:.1f}): the score function needs that many times the samples for the same error.",
        ps.var / pp.var, var_score / var_path);
  t.say("In the VAE, z = m + √v ⊙ ε carries the gradient of rec into the encoder the same way.");
}

// Step 10: samples from the trained model put ink where the test images do.
void step_samples(Tutorial& t, zm::VAE<float>& vae, const zm::Dataset& eval, const Array<float>& x_test) {
  t.step(10, "Samples: z ~ N(0, I), then the decoder's Bernoulli means σ(f_θ(z))");
  Rng pic_rng(t.seed() + 2);
  const std::string dir = t.out_dir().string();
  vae.write_pictures(dir, eval, pic_rng);
  // The mean of 1000 samples against the mean test image: where the model puts ink.
  const Array<float> samples = vae.sample(1000, pic_rng);
  const std::size_t d = samples.shape()[1];
  std::vector<double> ms(d, 0.0), md(d, 0.0);
  for (std::size_t i = 0; i < samples.shape()[0]; ++i)
    for (std::size_t j = 0; j < d; ++j) ms[j] += samples(i, j) / static_cast<double>(samples.shape()[0]);
  for (std::size_t i = 0; i < x_test.shape()[0]; ++i)
    for (std::size_t j = 0; j < d; ++j) md[j] += x_test(i, j) / static_cast<double>(x_test.shape()[0]);
  double sa = 0, sb = 0, sab = 0, saa = 0, sbb = 0;
  for (std::size_t j = 0; j < d; ++j) sa += ms[j] / d, sb += md[j] / d;
  for (std::size_t j = 0; j < d; ++j) {
    sab += (ms[j] - sa) * (md[j] - sb);
    saa += (ms[j] - sa) * (ms[j] - sa);
    sbb += (md[j] - sb) * (md[j] - sb);
  }
  const double corr = sab / std::sqrt(saa * sbb);
  // r ≥ 0.9: the mean sample accounts for at least r² = 81% of the mean test image's variation over pixels
  t.check(claim("samples-match-the-data"), "the mean sample has the shape of the mean test image (r ≥ 0.9)", corr >= 0.9,
          fmt::format("correlation of the two 28×28 mean images {:.3f}; ink per pixel {:.3f} (samples) vs {:.3f} (test)",
                      corr, sa, sb));
  t.say("Pictures in {}: samples.png (100 samples' Bernoulli means), reconstructions.png (inputs above σ(f_θ(m))).", dir);
}

}  // namespace

int main(int argc, char** argv) {
  Tutorial t("04_vae", "the VAE: the ELBO by Jensen, its forms, its Monte-Carlo error, the reparameterization trick");
  std::string data_spec;
  if (auto rc = tt::parse_with_data(t, data_spec, argc, argv)) return *rc;
  Rng rng(t.seed());
  const zm::ModelInfo& info = zm::find_model("vae");
  const long iters = t.pick(5000L, 300L), test_rows = t.pick(1000L, 200L);
  const zm::Config config = zm::Config::from(info.flags, {{"z", "10"}, {"iwae", "1"}}, "vae");

  const zm::Dataset eval = step_data(t, info, data_spec, rng, test_rows);                    // 1 data
  // after step 1, which settles data_spec: the training runs load the data step 1 loaded
  const zm::TrainOptions opt = tt::train_options(t, data_spec, iters, test_rows);
  const Array<float> x_test = zm::binarized_test_rows(eval);  // binarized once, for every later step
  const Array<float> batch = zm::rows_as<float>(x_test, 0, 100);
  Rng eps_rng(t.seed() + 3);
  const Array<float> eps = eps_rng.normal<float>({std::size_t(100), std::size_t(10)});  // one fixed ε for steps 2, 3
  step_the_bound(t, info, config, eval, batch, eps);                                         // 2 the bound
  const auto model = step_training(t, info, config, opt, batch, eps);                        // 3 training
  auto& vae = dynamic_cast<zm::VAE<float>&>(*model);
  const Samples samples = step_jensen(t, vae, x_test);                                       // 4 Jensen
  step_forms_of_the_elbo(t, samples);                                                        // 5 the forms
  step_kl_closed_form(t, vae, x_test);                                                       // 6 KL closed form
  step_kl_is_asymmetric(t);                                                                  // 7 KL asymmetry
  step_mc_elbo_error(t, vae, x_test);                                                        // 8 MC error
  step_reparameterization(t);                                                                // 9 the trick
  step_samples(t, vae, eval, x_test);                                                        // 10 samples
  return t.finish();
}
