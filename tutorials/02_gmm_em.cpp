// tutorial: EM for a Gaussian mixture, one E-step and one M-step at a time, with the ELBO checked
//
// Generative model (Bishop, PRML §9.2, eq. 9.7):
//   z_n ~ Categorical(π),   x_n | z_n = k ~ N(μ_k, Σ_k),   p(x_n) = Σ_k π_k N(x_n | μ_k, Σ_k)
// Objective: the log-likelihood ℓ(θ) = Σ_n log Σ_k π_k N(x_n | μ_k, Σ_k)  (PRML eq. 9.14), printed
// per point as (1/N) ℓ.
// EM as coordinate ascent on the ELBO (Neal & Hinton 1998; PRML §9.4). For any q(z_n),
//   log p(x_n) = ELBO_n(q, θ) + KL(q(z_n) ‖ p(z_n | x_n, θ))                        (PRML 9.70)
//   ELBO_n(q, θ) = Σ_k q_nk [log π_k + log N(x_n | μ_k, Σ_k) − log q_nk]
// E-step: q = p(z | x, θ), the responsibilities r_nk (PRML 9.23); the KL is 0, the bound is tight.
// M-step: θ = argmax_θ ELBO(r, θ), closed form (PRML 9.24–9.27). Together:
//   ℓ(θ_new) ≥ ELBO(r, θ_new) ≥ ELBO(r, θ_old) = ℓ(θ_old)
// so the log-likelihood never decreases. This tutorial runs the model's two steps by hand
// (GaussianMixture::e_step and m_step: with --textbook, e_step_textbook and m_step_textbook, the
// formulas on plain loops in models/gmm_em.cpp) and checks every link of that chain.
//
// Steps: 1 data, 2 initialise, 3 the E-step is Bayes' rule, 4 the ELBO, 5 the M-step, 6 iterate,
// 7 the fit against the truth, 8 samples from the fit, 9 pictures (<out>/gmm_em.png and friends).
// Every check names its row of tutorials/claims.hpp; what holds by construction is printed as
// "(identity)" and not counted.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "autograd/random.hpp"
#include "datasets/synthetic.hpp"
#include "io/plot.hpp"
#include "models/gmm.hpp"
#include "tutorials/gmm_data.hpp"
#include "tutorials/tutorial.hpp"

using tz::models::gmm::Matrix;
// The mixture shared with tutorial 03 (tutorials/gmm_data.hpp): K = 3 components in D = 2
// dimensions, its data make_data() and the start of the fit initial_parameters().
using namespace tz::tutorial::gmm_data;


namespace {

using tz::models::gmm::GaussianMixture;
using tz::tutorial::claim;
using tz::tutorial::Tutorial;

std::vector<tz::CovarianceEllipse> ellipses(const GaussianMixture& m) {
  std::vector<tz::CovarianceEllipse> e;
  const auto& S = m.covariances();
  for (std::size_t k = 0; k < K; ++k)
    e.push_back({m.means()(k, 0), m.means()(k, 1), S(k, 0, 0), S(k, 0, 1), S(k, 1, 1), tz::palette_color(k)});
  return e;
}

// What step 6 hands on to steps 7 and 9: ℓ before each E-step, and the number of iterations.
struct EmRun {
  std::vector<double> lls;
  std::size_t n_iter = 0;
};

// Step 1: the points and the truth they were drawn from.
tz::MixtureData step_data(Tutorial& t, std::size_t N, tz::Rng& rng) {
  t.step(1, "Data: N = {} points from a mixture of K = {} Gaussians in D = {}", N, K, D);
  t.say("z_n ~ Categorical(π), x_n | z_n = k ~ N(μ_k, Σ_k). The truth, which EM will not see:");
  tz::MixtureData data = make_data(N, rng);
  const tz::MixtureTruth& truth = data.truth;
  for (std::size_t k = 0; k < K; ++k)
    t.say("  k = {}: π = {:.3f}  μ = {}  Σ = {}", k, truth.weights(k), vec2(truth.means(k, 0), truth.means(k, 1)),
          cov2(truth.covs(k, 0, 0), truth.covs(k, 0, 1), truth.covs(k, 1, 1)));
  std::vector<std::size_t> counts(K, 0);
  for (int l : data.labels) ++counts[static_cast<std::size_t>(l)];
  t.say("Points per component: {}, {}, {} (the labels z_n are hidden from EM).", counts[0], counts[1], counts[2]);
  return data;
}

// Step 2: the start of EM, set on the model.
tz::models::gmm::Parameters step_initialise(Tutorial& t, const Matrix& x, tz::Rng& rng, GaussianMixture& model) {
  t.step(2, "Initialise: π_k = 1/K, μ_k by k-means++ seeding, Σ_k = the covariance of all data");
  t.say("k-means++ (Arthur & Vassilvitskii 2007) picks K data points as the means: the first at random, each next\n"
        "one with probability ∝ its squared distance to the nearest mean so far, so the starts spread over the\n"
        "clusters. EM only finds a local maximum, and a good start makes it the right one.");
  std::vector<std::size_t> seeds;
  const tz::models::gmm::Parameters init = initial_parameters(x, rng, &seeds);
  for (std::size_t k = 0; k < K; ++k)
    t.say("  k = {}: π = {:.3f}  μ = {} (point #{})  Σ = {}", k, init.weights(k),
          vec2(init.means(k, 0), init.means(k, 1)), seeds[k],
          cov2(init.covariances(k, 0, 0), init.covariances(k, 0, 1), init.covariances(k, 1, 1)));
  model.set_parameters(init, "the initial parameters");
  t.say("Every component starts as wide as the whole data set; the means alone tell them apart.");
  return init;
}

// Step 3: Bayes' rule by hand against the model's E-step (GaussianMixture::e_step: e_step_textbook
// under --textbook, the kernels otherwise). Returns r.
Matrix step_bayes_posterior_is_e_step(Tutorial& t, const Matrix& x, const GaussianMixture& model,
                                      const GaussianMixture& true_model) {
  const std::size_t N = x.shape(0);
  t.step(3, "E-step: Bayes' rule, r_nk = p(z_n = k | x_n) = π_k N(x_n|μ_k,Σ_k) / Σ_j π_j N(x_n|μ_j,Σ_j)");
  t.say("Prior p(z = k) = π_k, likelihood p(x | z = k) = N(x | μ_k, Σ_k), evidence p(x) = Σ_j π_j N(x | μ_j, Σ_j):");
  t.say("the responsibility r_nk is the posterior p(z_n = k | x_n) = p(x_n | z_n = k) p(z_n = k) / p(x_n).");
  t.say("The model computes it in log space, where far-away points do not underflow (docs/pitfalls.md#em-stability):");
  t.say("  a_nk = log π_k − ½ D log 2π + Σ_d log P_k,dd − ½ ‖(x_n − μ_k) P_k‖²   (P_k P_kᵀ = Σ_k⁻¹)");
  t.say("  log p(x_n) = logsumexp_k a_nk,   r_nk = e^{a_nk − log p(x_n)}");
  Matrix resp;
  const double ll_lib = model.e_step(x, resp);
  // The point whose responsibilities are most evenly split (the largest entropy): the most interesting one.
  std::size_t show = 0;
  double best_entropy = -1;
  for (std::size_t n = 0; n < N; ++n) {
    double h = 0;
    for (std::size_t k = 0; k < K; ++k) h -= resp(n, k) > 0 ? resp(n, k) * std::log(resp(n, k)) : 0;
    if (h > best_entropy) best_entropy = h, show = n;
  }
  t.say("");
  // log_normal_by_hand and bayes_by_hand_error (tutorials/gmm_data.cpp): the density's definition, from Σ_k.
  t.say("By hand, with the densities themselves, for the point the components disagree on most, x_{} = {}:", show,
        vec2(x(show, 0), x(show, 1)));
  double joint[K], evidence = 0, point_err = 0;
  for (std::size_t k = 0; k < K; ++k) evidence += joint[k] = model.weights()(k) * std::exp(log_normal_by_hand(x, show, model, k));
  for (std::size_t k = 0; k < K; ++k) {
    t.say("  k = {}: π_k = {:.4f}  N(x|μ_k,Σ_k) = {:.5e}  π_k N = {:.5e}  r = π_k N / p(x) = {:.10f}", k,
          model.weights()(k), joint[k] / model.weights()(k), joint[k], joint[k] / evidence);
    point_err = std::max(point_err, std::abs(joint[k] / evidence - resp(show, k)));
  }
  t.say("  p(x) = Σ_k π_k N = {:.5e};  e_step's r = {:.10f}, {:.10f}, {:.10f}", evidence, resp(show, 0), resp(show, 1),
        resp(show, 2));
  // The same for every point, and at the true θ too: the start's π is uniform, so log π cancels there.
  double ll_hand = 0, ll_unused = 0, row_err = 0;
  const double r_err = bayes_by_hand_error(x, model, resp, &ll_hand);
  Matrix resp_true;
  true_model.e_step(x, resp_true);
  const double r_err_true = bayes_by_hand_error(x, true_model, resp_true, &ll_unused);
  for (std::size_t n = 0; n < N; ++n) row_err = std::max(row_err, std::abs(resp(n, 0) + resp(n, 1) + resp(n, 2) - 1));
  t.check(claim("bayes-posterior-is-e-step"), fmt::format("Bayes' rule by hand for x_{} = e_step's r", show),
          point_err < 1e-12, fmt::format("max_k |Δr| = {:.1e} < 1e-12", point_err));
  t.check(claim("bayes-posterior-is-e-step"), "the same for every point, at the start and at the true θ",
          std::max(r_err, r_err_true) < 1e-12,
          fmt::format("max |Δr_nk| = {:.1e} and {:.1e} < 1e-12 over {} entries", r_err, r_err_true, N * K));
  t.check_close(claim("bayes-posterior-is-e-step"), "e_step's (1/N) ℓ = (1/N) Σ_n log p(x_n), p(x_n) by hand", ll_lib,
                ll_hand, 1e-12);
  t.identity("every row of r sums to one", fmt::format("max_n |Σ_k r_nk − 1| = {:.1e}: r is normalised by p(x_n)", row_err));
  return resp;
}

// Step 4: the ELBO of three q's against ℓ at the initial θ.
void step_elbo_is_a_lower_bound(Tutorial& t, const Matrix& x, const GaussianMixture& model, const Matrix& resp) {
  const std::size_t N = x.shape(0);
  t.step(4, "The ELBO: log p(x_n) = ELBO_n(q, θ) + KL(q(z_n) ‖ p(z_n | x_n, θ)) for every q");
  t.say("ELBO_n(q, θ) = Σ_k q_nk [a_nk − log q_nk]. Since KL ≥ 0, the ELBO is a lower bound on the");
  t.say("log-likelihood for any q, and it touches it exactly when q is the posterior: q = r.");
  const Matrix a = model.log_joint(x);
  const Matrix uniform = xt::ones<double>({N, K}) / static_cast<double>(K);
  Matrix hard = xt::zeros<double>({N, K});  // q = the one-hot argmax of r: k-means' hard assignment
  for (std::size_t n = 0; n < N; ++n) {
    std::size_t best = 0;
    for (std::size_t k = 1; k < K; ++k)
      if (resp(n, k) > resp(n, best)) best = k;
    hard(n, best) = 1.0;
  }
  const double ll0 = mean_log_likelihood(a);
  t.say("Per point, at the initial θ: (1/N) ℓ(θ) = {:.8f}", ll0);
  struct QCase { const char* name; const Matrix* q; };
  // Rounding: ℓ and the ELBO are means of N·K terms up to |log q_nk| ≈ 40 in size, summed in another
  // order than the KL: ~1e-14 absolute, which is 1e-12 of the tight bound's 0 and < 1e-10 of a gap ≈ 0.4.
  for (const QCase& c : {QCase{"q = r (the E-step)", &resp}, QCase{"q = uniform 1/K", &uniform},
                         QCase{"q = one-hot argmax r", &hard}}) {
    const double elbo = mean_elbo(*c.q, a);
    const double gap = ll0 - elbo, kl = mean_kl(*c.q, resp);
    t.say("  {:<22} ELBO = {:.8f}   gap ℓ − ELBO = {:.3e}   KL(q ‖ r) = {:.3e}", c.name, elbo, gap, kl);
    if (c.q == &resp) {
      t.check(claim("elbo-gap-is-kl"), "q = r: the bound is tight", std::abs(gap) < 1e-12,
              fmt::format("|gap| = {:.1e} < 1e-12", std::abs(gap)));
    } else {
      // Gibbs' inequality: Σ_k q_k (a_k − log q_k) ≤ logsumexp_k a_k for every q and every a.
      t.identity(fmt::format("{}: a lower bound", c.name), fmt::format("ELBO = {:.6f} < ℓ = {:.6f}", elbo, ll0));
      t.check_close(claim("elbo-gap-is-kl"), fmt::format("{}: gap = KL(q ‖ r), r from e_step", c.name), gap, kl, 1e-10,
                    1e-14);
    }
  }
}

// Step 5: the model's M-step (GaussianMixture::m_step: m_step_textbook under --textbook) against
// the weighted MLEs by hand, and the chain of inequalities, with numbers.
void step_m_step_raises_the_elbo(Tutorial& t, const Matrix& x, GaussianMixture& model, const Matrix& resp) {
  const std::size_t N = x.shape(0);
  t.step(5, "M-step: θ = argmax_θ ELBO(r, θ), in closed form");
  t.say("With q = r fixed, only Σ_n Σ_k r_nk log π_k N(x_n | μ_k, Σ_k) depends on θ. Setting its");
  t.say("gradient to zero (a Lagrange multiplier for Σ_k π_k = 1) gives weighted MLEs, as in tutorial 01:");
  t.say("  N_k = Σ_n r_nk,  π_k = N_k / N,  μ_k = (1/N_k) Σ_n r_nk x_n,");
  t.say("  Σ_k = (1/N_k) Σ_n r_nk (x_n − μ_k)(x_n − μ_k)ᵀ");
  double nk[K] = {0, 0, 0}, mu[K][D] = {}, cov[K][D][D] = {};
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t k = 0; k < K; ++k) {
      nk[k] += resp(n, k);
      for (std::size_t i = 0; i < D; ++i) mu[k][i] += resp(n, k) * x(n, i);
    }
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t i = 0; i < D; ++i) mu[k][i] /= nk[k];
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t k = 0; k < K; ++k)
      for (std::size_t i = 0; i < D; ++i)
        for (std::size_t j = 0; j < D; ++j) cov[k][i][j] += resp(n, k) * (x(n, i) - mu[k][i]) * (x(n, j) - mu[k][j]) / nk[k];
  t.say("N_k = {:.2f}, {:.2f}, {:.2f}   (Σ_k N_k = {:.6f} = N)", nk[0], nk[1], nk[2], nk[0] + nk[1] + nk[2]);
  const double ll0 = mean_log_likelihood(model.log_joint(x));
  const double elbo_before = mean_elbo(resp, model.log_joint(x));
  model.m_step(x, resp);
  const Matrix a_new = model.log_joint(x);
  const double elbo_after = mean_elbo(resp, a_new), ll1 = mean_log_likelihood(a_new);
  const auto& S = model.covariances();
  double err_pi = 0, err_mu = 0, err_cov = 0;
  for (std::size_t k = 0; k < K; ++k) {
    t.say("  k = {}: π = {:.3f}  μ = {}  Σ = {}", k, model.weights()(k), vec2(model.means()(k, 0), model.means()(k, 1)),
          cov2(S(k, 0, 0), S(k, 0, 1), S(k, 1, 1)));
    err_pi = std::max(err_pi, std::abs(model.weights()(k) - nk[k] / static_cast<double>(N)));
    for (std::size_t i = 0; i < D; ++i) {
      err_mu = std::max(err_mu, std::abs(model.means()(k, i) - mu[k][i]));
      for (std::size_t j = 0; j < D; ++j) err_cov = std::max(err_cov, std::abs(S(k, i, j) - cov[k][i][j]));
    }
  }
  // The fast M-step moves second moments to the new means (the parallel-axis theorem): rounding ~1e-14.
  t.check(claim("m-step-is-weighted-mle"), "m_step's π, μ, Σ = the weighted MLEs above",
          std::max({err_pi, err_mu, err_cov}) < 1e-12,
          fmt::format("max |Δπ| = {:.1e}, |Δμ| = {:.1e}, |ΔΣ| = {:.1e} (< 1e-12)", err_pi, err_mu, err_cov));
  t.say("The chain ℓ(θ_new) ≥ ELBO(r, θ_new) ≥ ELBO(r, θ_old) = ℓ(θ_old), with numbers:");
  t.check(claim("m-step-raises-the-elbo"), "the M-step raises the ELBO", elbo_after > elbo_before,
          fmt::format("ELBO(r, θ_new) = {:.6f} > ELBO(r, θ_old) = {:.6f}", elbo_after, elbo_before));
  t.identity("the new ELBO is below the new ℓ (Gibbs' inequality, for any r)",
             fmt::format("ELBO(r, θ_new) = {:.6f} ≤ ℓ(θ_new) = {:.6f}, gap {:.3e}", elbo_after, ll1, ll1 - elbo_after));
  t.check(claim("em-log-likelihood-rises"), "so the log-likelihood rose", ll1 > ll0,
          fmt::format("ℓ: {:.6f} → {:.6f}", ll0, ll1));
}

// Step 6: EM from the start of step 2 until ℓ stops moving, every link of the chain checked.
EmRun step_em_never_decreases(Tutorial& t, const Matrix& x, GaussianMixture& model,
                              const tz::models::gmm::Parameters& init, std::size_t max_iter, double tol) {
  t.step(6, "Iterate E, M until (1/N) ℓ changes by less than {:.0e}", tol);
  t.say("Each row: ℓ before the E-step of that iteration; the gap ℓ − ELBO(q_old, θ) of the previous");
  t.say("responsibilities (> 0: q_old is not the posterior of the new θ); the gap after the E-step (0);");
  t.say("and the M-step's rise of the ELBO. Iteration 1 is steps 3–5, with q_old = uniform.");
  t.say("");
  t.say("  iter    (1/N) ℓ(θ)          Δℓ   gap before E   |gap| after E   M-step ΔELBO");
  // em_by_hand (tutorials/gmm_data.cpp): model.e_step, then model.m_step, measuring every link.
  const std::vector<EmIteration> its = em_by_hand(x, model, init, max_iter, tol);
  EmRun run;
  run.n_iter = its.size();
  double min_delta = HUGE_VAL, max_gap_after = 0, max_kl_err = 0, min_gap_before = HUGE_VAL, min_m_rise = HUGE_VAL;
  for (std::size_t i = 0; i < its.size(); ++i) {
    const EmIteration& it = its[i];
    const double delta = i == 0 ? NAN : it.ll - its[i - 1].ll;
    if (i > 0) min_delta = std::min(min_delta, delta);
    run.lls.push_back(it.ll);
    max_gap_after = std::max(max_gap_after, std::abs(it.gap_after));
    max_kl_err = std::max(max_kl_err, std::abs(it.gap_before - it.kl_before));
    min_gap_before = std::min(min_gap_before, it.gap_before);
    min_m_rise = std::min(min_m_rise, it.m_rise);
    // All rows when they fit on a screen; otherwise the first 15, every 10th, and the last.
    if (its.size() <= 40 || i < 15 || (i + 1) % 10 == 0 || i + 1 == its.size())
      t.say("  {:4d}  {:13.10f}  {:>10}  {:13.3e}  {:14.1e}  {:13.3e}", i + 1, it.ll,
            i == 0 ? std::string("—") : fmt::format("{:.3e}", delta), it.gap_before, std::abs(it.gap_after), it.m_rise);
  }
  const double last_delta = its.size() > 1 ? its.back().ll - its[its.size() - 2].ll : HUGE_VAL;
  t.say("");
  // ℓ is the mean of N numbers of size ~3: its rounding error is ~1e-15, so a fall smaller than
  // 1e-13 is not a fall. EM's proof admits none at all; a broken M-step gives falls of 1e-3 and more.
  t.check(claim("em-log-likelihood-rises"), "ℓ never decreases", min_delta > -1e-13,
          fmt::format("smallest Δℓ over {} iterations = {:+.1e} (rounding: 1e-13)", run.n_iter, min_delta));
  t.check(claim("elbo-gap-is-kl"), "after every E-step the ELBO equals ℓ", max_gap_after < 1e-12,
          fmt::format("max |gap| = {:.1e} < 1e-12", max_gap_after));
  t.identity("before every E-step the old q gives a lower bound (Gibbs)", fmt::format("smallest gap = {:.1e} ≥ 0", min_gap_before));
  t.check(claim("elbo-gap-is-kl"), "and that gap is KL(q_old ‖ p(z|x, θ))", max_kl_err < 1e-12,
          fmt::format("max |gap − KL| = {:.1e} < 1e-12", max_kl_err));
  t.check(claim("m-step-raises-the-elbo"), "every M-step raises the ELBO", min_m_rise >= -1e-13,
          fmt::format("smallest rise = {:.1e} ≥ −1e-13 (rounding)", min_m_rise));
  t.check(claim("em-converges"), "converged", std::abs(last_delta) < tol,
          fmt::format("|Δℓ| = {:.1e} < {:.0e} after {} iterations", std::abs(last_delta), tol, run.n_iter));
  return run;
}

// Step 7: the fitted parameters against the truth, and the loop above against GaussianMixture::fit().
void step_fit_against_truth(Tutorial& t, const Matrix& x, const GaussianMixture& model, const tz::MixtureTruth& truth,
                            const tz::models::gmm::Parameters& init, const EmRun& run, double ll_truth) {
  const std::size_t N = x.shape(0);
  t.step(7, "The fit against the truth, and against GaussianMixture::fit()");
  const double ll_em = model.score(x);
  const std::vector<std::size_t> match = match_components(model.means(), truth.means);
  t.say("Components are found in any order; matched to the truth by their means (fitted vs true):");
  // μ̂_kj has standard error √(Σ_k,jj / (N π_k)) (a weighted mean of about N π_k points); the check
  // asks 4 of them for each of the K·D = 6 coordinates (a false alarm has odds ~6 · 6e-5 = 4e-4).
  double max_z = 0;
  for (std::size_t k = 0; k < K; ++k) {
    const std::size_t f = match[k];
    const auto& S = model.covariances();
    t.say("  true k = {} (fitted {}):  π {:.3f} vs {:.3f}   μ {} vs {}", k, f, model.weights()(f), truth.weights(k),
          vec2(model.means()(f, 0), model.means()(f, 1)), vec2(truth.means(k, 0), truth.means(k, 1)));
    t.say("                          Σ {} vs {}", cov2(S(f, 0, 0), S(f, 0, 1), S(f, 1, 1)),
          cov2(truth.covs(k, 0, 0), truth.covs(k, 0, 1), truth.covs(k, 1, 1)));
    for (std::size_t j = 0; j < D; ++j) {
      const double se = std::sqrt(truth.covs(k, j, j) / (static_cast<double>(N) * truth.weights(k)));
      max_z = std::max(max_z, std::abs(model.means()(f, j) - truth.means(k, j)) / se);
    }
  }
  t.check(claim("em-fit-recovers-the-truth"), "every fitted mean is within 4 standard errors of the true one",
          max_z < 4, fmt::format("max_kj |μ̂ − μ*| / √(Σ_jj / (N π_k)) = {:.2f} < 4", max_z));
  t.check(claim("em-fit-recovers-the-truth"), "ℓ(θ_EM) ≥ ℓ(θ_true): the truth is one of the θ the MLE beats",
          ll_em >= ll_truth, fmt::format("{:.6f} ≥ {:.6f} (per point)", ll_em, ll_truth));
  t.say("\nGaussianMixture::fit() runs the same loop (with tol on Δℓ). From the same start, with tol = 0:");
  tz::models::gmm::Options lib_options = model.options();
  lib_options.init_parameters = init;
  lib_options.max_iter = run.n_iter;
  lib_options.tol = 0;
  GaussianMixture lib(lib_options);
  lib.fit(x);
  double max_ll_diff = 0;
  for (std::size_t i = 0; i < std::min(lib.lower_bounds().size(), run.lls.size()); ++i)
    max_ll_diff = std::max(max_ll_diff, std::abs(lib.lower_bounds()[i] - run.lls[i]));
  t.check(claim("fit-is-the-loop"), "its lower bounds are our ℓ, iteration by iteration",
          lib.lower_bounds().size() == run.lls.size() && max_ll_diff < 1e-12,
          fmt::format("{} iterations, max difference {:.1e} < 1e-12", lib.lower_bounds().size(), max_ll_diff));
  t.say("EM took {:.3f} ms per iteration on N = {} (model.ms_per_iter(); tutorial 03 races it).", lib.ms_per_iter(), N);
}

// Step 8: the fit as a generative model: M samples from GaussianMixture::sample against its π, μ, Σ.
void step_samples_match_the_mixture(Tutorial& t, const GaussianMixture& model, std::size_t M) {
  t.step(8, "The fit is a generative model: {} samples z ~ Categorical(π), x = μ_z + L_z ε", M);
  t.say("GaussianMixture::sample draws z, then ε ~ N(0, I) and x = μ_z + L_z ε with L_z L_zᵀ = Σ_z. The");
  t.say("samples' frequencies, means and covariances per z should match π, μ and Σ within standard errors:");
  t.say("  SE(π̂_k) = √(π_k(1 − π_k)/M),  SE(x̄_kj) = √(Σ_k,jj / M_k),  SE(Ŝ_k,ij) = √((Σ_k,ii Σ_k,jj + Σ_k,ij²) / M_k)");
  tz::Rng rng(t.seed() + 8);  // a stream of its own: the other steps' numbers do not move
  const auto [xs, z] = model.sample(M, rng);
  const LabelMoments m = moments_by_label(xs, z);
  const auto& S = model.covariances();
  double z_pi = 0, z_mu = 0, z_cov = 0;
  for (std::size_t k = 0; k < K; ++k) {
    const double pk = model.weights()(k), mk = m.count[k];
    z_pi = std::max(z_pi, std::abs(m.freq[k] - pk) / std::sqrt(pk * (1 - pk) / static_cast<double>(M)));
    for (std::size_t i = 0; i < D; ++i) {
      z_mu = std::max(z_mu, std::abs(m.mean(k, i) - model.means()(k, i)) / std::sqrt(S(k, i, i) / mk));
      for (std::size_t j = i; j < D; ++j)
        z_cov = std::max(z_cov, std::abs(m.cov(k, i, j) - S(k, i, j)) / std::sqrt((S(k, i, i) * S(k, j, j) + S(k, i, j) * S(k, i, j)) / mk));
    }
    t.say("  k = {}: π̂ = {:.4f} vs {:.4f}   x̄ = {} vs {}\n         Ŝ = {} vs {}", k, m.freq[k], pk,
          vec2(m.mean(k, 0), m.mean(k, 1)), vec2(model.means()(k, 0), model.means()(k, 1)),
          cov2(m.cov(k, 0, 0), m.cov(k, 0, 1), m.cov(k, 1, 1)), cov2(S(k, 0, 0), S(k, 0, 1), S(k, 1, 1)));
  }
  // 4 standard errors for each of 3 + 6 + 9 statistics: a false alarm has odds ~18 · 6e-5 = 1e-3.
  t.check(claim("mixture-samples-match"), "frequencies match π", z_pi < 4, fmt::format("max_k |π̂ − π| / SE = {:.2f} < 4", z_pi));
  t.check(claim("mixture-samples-match"), "means match μ", z_mu < 4, fmt::format("max |x̄ − μ| / SE = {:.2f} < 4", z_mu));
  t.check(claim("mixture-samples-match"), "covariances match Σ", z_cov < 4, fmt::format("max |Ŝ − Σ| / SE = {:.2f} < 4", z_cov));
}

// Step 9: the pictures: the first iteration (colours_first, ellipses_first), the fit, the curve; and
// what gmm_em.png shows, checked: the fit's colours label the points as the true posterior does.
void step_pictures(Tutorial& t, const Matrix& x, const tz::MixtureData& data, const GaussianMixture& model,
                   const GaussianMixture& true_model, const std::vector<tz::Rgb>& colors_first,
                   const std::vector<tz::CovarianceEllipse>& ellipses_first, const EmRun& run, double ll_truth) {
  const std::size_t N = x.shape(0);
  t.step(9, "Pictures: points coloured by responsibility, with the fitted 1σ and 2σ ellipses");
  t.say("Each point is drawn in Σ_k r_nk colour_k: pure where one component owns it, a blend where they share it.");
  tz::ScatterOptions o{.xlabel = "x1", .ylabel = "x2", .point_radius = N > 1000 ? 1.3 : 2.0};
  o.title = "EM, iteration 1";
  tz::save_scatter_plot(t.out_file("gmm_em_iter1.png").string(), x, colors_first, ellipses_first, o);
  Matrix final_resp, true_resp;
  model.e_step(x, final_resp);
  true_model.e_step(x, true_resp);
  o.title = fmt::format("EM, {} iterations", run.n_iter);
  tz::save_scatter_plot(t.out_file("gmm_em.png").string(), x, tz::responsibility_colors(final_resp), ellipses(model), o);
  std::vector<double> its(run.lls.size());
  std::iota(its.begin(), its.end(), 1.0);
  tz::save_line_plot(t.out_file("gmm_em_loglik.png").string(),
                     {{"EM: (1/N) log p(x | theta)", its, run.lls},
                      {"true parameters", {1.0, static_cast<double>(run.lls.size())}, {ll_truth, ll_truth},
                       tz::Rgb{127, 127, 127}}},
                     {.title = "EM never lowers the log-likelihood", .xlabel = "iteration", .ylabel = "nats per point"});
  t.say("Wrote gmm_em_iter1.png, gmm_em.png and gmm_em_loglik.png to {}.", t.out_dir().string());
  // Each point's dominant colour is argmax_k r_nk: the fit's labels against the Bayes classifier's
  // (argmax of the true posterior), both scored on the true z_n. d_n = [fit right] − [Bayes right] is
  // paired; SE(mean d) = sd(d)/√N, and the fit should be within 4 of them (0 when both agree everywhere).
  const std::vector<std::size_t> match = match_components(model.means(), data.truth.means);
  double right_fit = 0, right_bayes = 0, sum_d2 = 0;
  for (std::size_t n = 0; n < N; ++n) {
    std::size_t f = 0, b = 0;
    for (std::size_t k = 1; k < K; ++k) {
      if (final_resp(n, match[k]) > final_resp(n, match[f])) f = k;
      if (true_resp(n, k) > true_resp(n, b)) b = k;
    }
    const double d = double(f == std::size_t(data.labels[n])) - double(b == std::size_t(data.labels[n]));
    right_fit += f == std::size_t(data.labels[n]), right_bayes += b == std::size_t(data.labels[n]), sum_d2 += d * d;
  }
  const double diff = (right_fit - right_bayes) / N, se = std::sqrt(std::max(0.0, sum_d2 / N - diff * diff) / N);
  t.check(claim("fit-classifies-like-bayes"), "gmm_em.png's colours label the points as well as the truth's posterior",
          std::abs(diff) <= 4 * se,
          fmt::format("accuracy {:.4f} (fit) vs {:.4f} (Bayes), |Δ| = {:.4f} ≤ 4·SE = {:.4f}", right_fit / N,
                      right_bayes / N, std::abs(diff), 4 * se));
  t.say("gmm_em_iter1.png: the colours are r from the initial θ, the ellipses the M-step's fit to them.");
  t.say("gmm_em.png: the fitted ellipses sit on the three clusters; blends remain only where they touch.");
  t.say("gmm_em_loglik.png: the curve rises (step 6) and ends above the truth's log-likelihood (step 7).");
}

}  // namespace

int main(int argc, char** argv) {
  Tutorial t("02_gmm_em", "EM for a Gaussian mixture, one E-step and one M-step at a time", 7);
  if (auto rc = t.parse(argc, argv)) return *rc;
  tz::Rng rng(t.seed());
  const std::size_t N = t.pick<std::size_t>(3000, 600);
  const std::size_t max_iter = 1000;  // EM iterations are cheap; overlapping clusters may need hundreds
  const double tol = 1e-10;  // stop when (1/N) ℓ changes by less than this

  const tz::MixtureData data = step_data(t, N, rng);
  const Matrix& x = data.x;
  // The log-likelihood of the true parameters, for step 7.
  tz::models::gmm::Options options;
  options.n_components = K;
  options.covariance_type = tz::models::gmm::CovarianceType::full;
  // Textbook EM: scikit-learn adds reg_covar = 1e-6 to every variance as a guard against a
  // component collapsing onto one point; it also perturbs the M-step by ½·reg_covar·tr Σ⁻¹, which
  // would blur the exact monotonicity we check below. These clusters are far from collapse.
  options.reg_covar = 0.0;
  GaussianMixture true_model(options);
  true_model.set_parameters({data.truth.weights, data.truth.means, data.truth.covs}, "the true parameters");
  const double ll_truth = mean_log_likelihood(true_model.log_joint(x));

  GaussianMixture model(options);
  const tz::models::gmm::Parameters init = step_initialise(t, x, rng, model);
  const Matrix resp = step_bayes_posterior_is_e_step(t, x, model, true_model);
  step_elbo_is_a_lower_bound(t, x, model, resp);
  step_m_step_raises_the_elbo(t, x, model, resp);
  // pictures of the first iteration, for step 9
  const std::vector<tz::Rgb> colors_first = tz::responsibility_colors(resp);
  const auto ellipses_first = ellipses(model);
  const EmRun run = step_em_never_decreases(t, x, model, init, max_iter, tol);
  step_fit_against_truth(t, x, model, data.truth, init, run, ll_truth);
  step_samples_match_the_mixture(t, model, t.pick<std::size_t>(200000, 20000));
  step_pictures(t, x, data, model, true_model, colors_first, ellipses_first, run, ll_truth);
  return t.finish();
}
