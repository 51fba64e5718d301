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
// Steps: 1 data, 2 initialise, 3 the E-step, 4 the ELBO, 5 the M-step, 6 iterate, 7 the fit
// against the truth, 8 pictures (<out>/gmm_em.png and friends).
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "autograd/random.hpp"
#include "datasets/synthetic.hpp"
#include "io/plot.hpp"
#include "models/gmm.hpp"
#include "tutorials/gmm_data.hpp"
#include "tutorials/tutorial.hpp"
#include "distributions/constants.hpp"

using tz::models::gmm::Matrix;
using tz::models::gmm::Vector;
// The mixture shared with tutorial 03 (tutorials/gmm_data.hpp): K = 3 components in D = 2
// dimensions, its data make_data() and the start of the fit initial_parameters().
using namespace tz::tutorial::gmm_data;

using tz::kLog2Pi;

namespace {

// a_nk = log π_k + log N(x_n | μ_k, Σ_k) = log π_k − ½ D log 2π + Σ_d log P_dd − ½ ‖(x − μ) P‖²: the
// textbook E-step's first half (GaussianMixture::log_joint, models/gmm_em.cpp), on plain loops,
// independent of the fast path's kernels (models/gmm_kernels.cpp), so it cross-checks them.
Matrix log_joint(const Matrix& x, const tz::models::gmm::GaussianMixture& m) { return m.log_joint(x); }

// log Σ_k e^{a_k}, stably: m + log Σ_k e^{a_k − m} with m = max_k a_k (docs/pitfalls.md#logsumexp).
double logsumexp_row(const Matrix& a, std::size_t n) {
  double m = -std::numeric_limits<double>::infinity();
  for (std::size_t k = 0; k < a.shape(1); ++k) m = std::max(m, a(n, k));
  double s = 0;
  for (std::size_t k = 0; k < a.shape(1); ++k) s += std::exp(a(n, k) - m);
  return m + std::log(s);
}

// (1/N) ℓ(θ) = (1/N) Σ_n log Σ_k e^{a_nk}
double mean_log_likelihood(const Matrix& a) {
  double s = 0;
  for (std::size_t n = 0; n < a.shape(0); ++n) s += logsumexp_row(a, n);
  return s / static_cast<double>(a.shape(0));
}

// (1/N) ELBO(q, θ) = (1/N) Σ_n Σ_k q_nk (a_nk − log q_nk), with 0 log 0 = 0.
double mean_elbo(const Matrix& q, const Matrix& a) {
  double s = 0;
  for (std::size_t n = 0; n < q.shape(0); ++n)
    for (std::size_t k = 0; k < K; ++k)
      if (q(n, k) > 0) s += q(n, k) * (a(n, k) - std::log(q(n, k)));
  return s / static_cast<double>(q.shape(0));
}

// (1/N) Σ_n KL(q_n ‖ r_n) = (1/N) Σ_n Σ_k q_nk log(q_nk / r_nk), computed directly.
double mean_kl(const Matrix& q, const Matrix& r) {
  double s = 0;
  for (std::size_t n = 0; n < q.shape(0); ++n)
    for (std::size_t k = 0; k < K; ++k)
      if (q(n, k) > 0) s += q(n, k) * std::log(q(n, k) / r(n, k));
  return s / static_cast<double>(q.shape(0));
}

std::string vec2(double a, double b) { return fmt::format("({:6.3f}, {:6.3f})", a, b); }

// The 2×2 covariance [[a, b], [b, c]] as "[[a, b], [b, c]]".
std::string cov2(double a, double b, double c) {
  return fmt::format("[[{:.3f}, {:.3f}], [{:.3f}, {:.3f}]]", a, b, b, c);
}

// The permutation of the fitted components that best matches the true ones (smallest Σ ‖μ − μ*‖²).
std::vector<std::size_t> match_components(const Matrix& means, const xt::xtensor<double, 2>& true_means) {
  std::vector<std::size_t> perm(K), best;
  std::iota(perm.begin(), perm.end(), std::size_t{0});
  double best_cost = HUGE_VAL;
  do {
    double cost = 0;
    for (std::size_t k = 0; k < K; ++k)
      for (std::size_t j = 0; j < D; ++j) cost += std::pow(means(perm[k], j) - true_means(k, j), 2);
    if (cost < best_cost) best_cost = cost, best = perm;
  } while (std::next_permutation(perm.begin(), perm.end()));
  return best;  // fitted component best[k] plays true component k
}

std::vector<tz::CovarianceEllipse> ellipses(const tz::models::gmm::GaussianMixture& m) {
  std::vector<tz::CovarianceEllipse> e;
  const auto& S = m.covariances();
  for (std::size_t k = 0; k < K; ++k)
    e.push_back({m.means()(k, 0), m.means()(k, 1), S(k, 0, 0), S(k, 0, 1), S(k, 1, 1), tz::palette_color(k)});
  return e;
}

using tz::models::gmm::GaussianMixture;
using tz::tutorial::Tutorial;

// What step 6 hands on to steps 7 and 8: ℓ before each E-step, and the number of iterations.
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
  t.say("k-means++ (Arthur & Vassilvitskii 2007) picks K data points as the means: the first at random,");
  t.say("each next one with probability ∝ its squared distance to the nearest mean so far, so the starts");
  t.say("spread over the clusters. EM only finds a local maximum, and a good start makes it the right one.");
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

// Step 3: the model's E-step (GaussianMixture::e_step: e_step_textbook under --textbook, the
// kernels otherwise), checked against logsumexp of log_joint. Returns r.
Matrix step_e_step(Tutorial& t, const Matrix& x, const GaussianMixture& model) {
  const std::size_t N = x.shape(0);
  t.step(3, "E-step: r_nk = π_k N(x_n|μ_k,Σ_k) / Σ_j π_j N(x_n|μ_j,Σ_j)");
  t.say("The responsibility r_nk is the posterior p(z_n = k | x_n, θ), by Bayes' rule. Densities of");
  t.say("far-away points underflow, so it is computed in log space (docs/pitfalls.md#em-stability):");
  t.say("  a_nk = log π_k − ½ D log 2π + Σ_d log P_k,dd − ½ ‖(x_n − μ_k) P_k‖²   (P_k P_kᵀ = Σ_k⁻¹)");
  t.say("  log p(x_n) = m_n + log Σ_k e^{a_nk − m_n},  m_n = max_k a_nk,    r_nk = e^{a_nk − log p(x_n)}");
  Matrix resp;
  const double ll_lib = model.e_step(x, resp);
  const Matrix a = log_joint(x, model);
  // The point whose responsibilities are most evenly split: the most interesting one.
  std::size_t show = 0;
  double best_entropy = -1;
  for (std::size_t n = 0; n < N; ++n) {
    double h = 0;
    for (std::size_t k = 0; k < K; ++k) h -= resp(n, k) > 0 ? resp(n, k) * std::log(resp(n, k)) : 0;
    if (h > best_entropy) best_entropy = h, show = n;
  }
  const double lse = logsumexp_row(a, show);
  t.say("");
  t.say("The point the components disagree on most, x_{} = {}:", show, vec2(x(show, 0), x(show, 1)));
  for (std::size_t k = 0; k < K; ++k)
    t.say("  k = {}: a = {:9.5f}   r = e^(a − log p) = e^({:8.5f}) = {:.5f}", k, a(show, k), a(show, k) - lse,
          std::exp(a(show, k) - lse));
  t.say("  log p(x_{}) = logsumexp(a) = {:.5f}", show, lse);
  double row_err = 0, r_err = 0;
  for (std::size_t n = 0; n < N; ++n) {
    double s = 0;
    const double lp = logsumexp_row(a, n);
    for (std::size_t k = 0; k < K; ++k) {
      s += resp(n, k);
      r_err = std::max(r_err, std::abs(resp(n, k) - std::exp(a(n, k) - lp)));
    }
    row_err = std::max(row_err, std::abs(s - 1));
  }
  t.check("every row of r sums to one", row_err < 1e-14, fmt::format("max_n |Σ_k r_nk − 1| = {:.1e}", row_err));
  t.check("GaussianMixture::e_step's r_nk = the loops above", r_err < 1e-13,
          fmt::format("max |Δr_nk| = {:.1e} over {} entries", r_err, N * K));
  t.check_close("e_step's (1/N) ℓ(θ) = (1/N) Σ_n logsumexp_k a_nk", ll_lib, mean_log_likelihood(a), 1e-13);
  return resp;
}

// Step 4: the ELBO of three q's against ℓ at the initial θ.
void step_elbo_is_a_lower_bound(Tutorial& t, const Matrix& x, const GaussianMixture& model, const Matrix& resp) {
  const std::size_t N = x.shape(0);
  t.step(4, "The ELBO: log p(x_n) = ELBO_n(q, θ) + KL(q(z_n) ‖ p(z_n | x_n, θ)) for every q");
  t.say("ELBO_n(q, θ) = Σ_k q_nk [a_nk − log q_nk]. Since KL ≥ 0, the ELBO is a lower bound on the");
  t.say("log-likelihood for any q, and it touches it exactly when q is the posterior: q = r.");
  const Matrix a = log_joint(x, model);
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
  struct QCase {
    const char* name;
    const Matrix* q;
  };
  for (const QCase& c : {QCase{"q = r (the E-step)", &resp}, QCase{"q = uniform 1/K", &uniform},
                         QCase{"q = one-hot argmax r", &hard}}) {
    const double elbo = mean_elbo(*c.q, a);
    const double gap = ll0 - elbo, kl = mean_kl(*c.q, resp);
    t.say("  {:<22} ELBO = {:.8f}   gap ℓ − ELBO = {:.3e}   KL(q ‖ r) = {:.3e}", c.name, elbo, gap, kl);
    if (c.q == &resp) {
      t.check("q = r: the bound is tight", std::abs(gap) < 1e-10, fmt::format("|gap| = {:.1e} < 1e-10", std::abs(gap)));
    } else {
      t.check(fmt::format("{}: a strict lower bound", c.name), elbo < ll0,
              fmt::format("ELBO = {:.6f} < ℓ = {:.6f}", elbo, ll0));
      t.check_close(fmt::format("{}: gap = KL(q ‖ p(z|x)), computed directly", c.name), gap, kl, 1e-9, 1e-14);
    }
  }
}

// Step 5: the model's M-step (GaussianMixture::m_step: m_step_textbook under --textbook) and the
// chain of inequalities, with numbers.
void step_m_step_raises_the_elbo(Tutorial& t, const Matrix& x, GaussianMixture& model, const Matrix& resp) {
  const std::size_t N = x.shape(0);
  t.step(5, "M-step: θ = argmax_θ ELBO(r, θ), in closed form");
  t.say("With q = r fixed, only Σ_n Σ_k r_nk log π_k N(x_n | μ_k, Σ_k) depends on θ. Setting its");
  t.say("gradient to zero (a Lagrange multiplier for Σ_k π_k = 1) gives weighted MLEs, as in tutorial 01:");
  t.say("  N_k = Σ_n r_nk,  π_k = N_k / N,  μ_k = (1/N_k) Σ_n r_nk x_n,");
  t.say("  Σ_k = (1/N_k) Σ_n r_nk (x_n − μ_k)(x_n − μ_k)ᵀ");
  Vector nk = xt::zeros<double>({K});
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t k = 0; k < K; ++k) nk(k) += resp(n, k);
  t.say("N_k = {:.2f}, {:.2f}, {:.2f}   (Σ_k N_k = {:.6f} = N)", nk(0), nk(1), nk(2), xt::sum(nk)());
  const double ll0 = mean_log_likelihood(log_joint(x, model));
  const double elbo_before = mean_elbo(resp, log_joint(x, model));
  model.m_step(x, resp);
  const Matrix a_new = log_joint(x, model);
  const double elbo_after = mean_elbo(resp, a_new), ll1 = mean_log_likelihood(a_new);
  for (std::size_t k = 0; k < K; ++k) {
    const auto& S = model.covariances();
    t.say("  k = {}: π = {:.3f}  μ = {}  Σ = {}", k, model.weights()(k), vec2(model.means()(k, 0), model.means()(k, 1)),
          cov2(S(k, 0, 0), S(k, 0, 1), S(k, 1, 1)));
  }
  t.check_close("π_k = N_k / N for k = 0", model.weights()(0), nk(0) / N, 1e-12);
  t.say("The chain ℓ(θ_new) ≥ ELBO(r, θ_new) ≥ ELBO(r, θ_old) = ℓ(θ_old), with numbers:");
  t.check("the M-step raises the ELBO", elbo_after > elbo_before,
          fmt::format("ELBO(r, θ_new) = {:.6f} > ELBO(r, θ_old) = {:.6f}", elbo_after, elbo_before));
  t.check("the new ELBO is below the new ℓ (r is no longer the posterior)", elbo_after <= ll1,
          fmt::format("ELBO(r, θ_new) = {:.6f} ≤ ℓ(θ_new) = {:.6f}, gap {:.3e}", elbo_after, ll1, ll1 - elbo_after));
  t.check("so the log-likelihood rose", ll1 > ll0, fmt::format("ℓ: {:.6f} → {:.6f}", ll0, ll1));
}

// Step 6: EM from the start of step 2 until ℓ stops moving, every link of the chain checked.
EmRun step_em_never_decreases(Tutorial& t, const Matrix& x, GaussianMixture& model,
                              const tz::models::gmm::Parameters& init, std::size_t max_iter, double tol) {
  const std::size_t N = x.shape(0);
  t.step(6, "Iterate E, M until (1/N) ℓ changes by less than {:.0e}", tol);
  t.say("Each row: ℓ before the E-step of that iteration; the gap ℓ − ELBO(q_old, θ) of the previous");
  t.say("responsibilities (> 0: q_old is not the posterior of the new θ); the gap after the E-step (0);");
  t.say("and the M-step's rise of the ELBO. Iteration 1 is steps 3–5, with q_old = uniform.");
  t.say("");
  t.say("  iter    (1/N) ℓ(θ)          Δℓ   gap before E   |gap| after E   M-step ΔELBO");
  EmRun run;
  std::vector<double>& lls = run.lls;
  double min_delta = HUGE_VAL, max_gap_after = 0, max_kl_err = 0, min_gap_before = HUGE_VAL, min_m_rise = HUGE_VAL;
  double last_delta = HUGE_VAL;
  Matrix q_old = xt::ones<double>({N, K}) / static_cast<double>(K), resp;
  model.set_parameters(init, "the initial parameters");  // start again from step 2: iteration 1 is steps 3–5
  std::size_t iter = 0;
  std::vector<std::string> rows;
  for (iter = 1; iter <= max_iter; ++iter) {
    const Matrix a = log_joint(x, model);
    const double ll = mean_log_likelihood(a);
    // before the E-step: q_old, the responsibilities of the previous θ
    const double gap_before = ll - mean_elbo(q_old, a);
    // E-step
    model.e_step(x, resp);
    const double gap_after = ll - mean_elbo(resp, a);
    max_kl_err = std::max(max_kl_err, std::abs(gap_before - mean_kl(q_old, resp)));
    // M-step
    const double elbo_old = mean_elbo(resp, a);
    model.m_step(x, resp);
    const double m_rise = mean_elbo(resp, log_joint(x, model)) - elbo_old;

    const double delta = lls.empty() ? NAN : ll - lls.back();
    if (!lls.empty()) min_delta = std::min(min_delta, delta);
    lls.push_back(ll);
    max_gap_after = std::max(max_gap_after, std::abs(gap_after));
    min_gap_before = std::min(min_gap_before, gap_before);
    min_m_rise = std::min(min_m_rise, m_rise);
    const std::string delta_text = lls.size() == 1 ? std::string("—") : fmt::format("{:.3e}", delta);
    rows.push_back(fmt::format("  {:4d}  {:13.10f}  {:>10}  {:13.3e}  {:14.1e}  {:13.3e}", iter, ll, delta_text,
                               gap_before, std::abs(gap_after), m_rise));
    q_old = resp;
    last_delta = delta;
    if (std::abs(delta) < tol) break;
  }
  run.n_iter = std::min(iter, max_iter);
  // All rows when they fit on a screen; otherwise the first 15, every 10th, and the last.
  for (std::size_t i = 0; i < rows.size(); ++i)
    if (rows.size() <= 40 || i < 15 || (i + 1) % 10 == 0 || i + 1 == rows.size()) t.say(rows[i]);
  t.say("");
  // ℓ is the mean of N numbers of size ~3: its rounding error is ~1e-15, so a fall smaller than
  // 1e-13 is not a fall. EM's proof admits none at all.
  t.check("ℓ never decreases", min_delta > -1e-13,
          fmt::format("smallest Δℓ over {} iterations = {:+.1e} (rounding: 1e-13)", run.n_iter, min_delta));
  t.check("after every E-step the ELBO equals ℓ", max_gap_after < 1e-10,
          fmt::format("max |gap| = {:.1e} < 1e-10", max_gap_after));
  t.check("before every E-step the old q gives a lower bound", min_gap_before >= -1e-13,
          fmt::format("smallest gap = {:.1e} ≥ 0", min_gap_before));
  t.check("and that gap is KL(q_old ‖ p(z|x, θ))", max_kl_err < 1e-10,
          fmt::format("max |gap − KL| = {:.1e}", max_kl_err));
  t.check("every M-step raises the ELBO", min_m_rise >= -1e-13, fmt::format("smallest rise = {:.1e}", min_m_rise));
  t.check("converged", std::abs(last_delta) < tol,
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
  for (std::size_t k = 0; k < K; ++k) {
    const std::size_t f = match[k];
    const auto& S = model.covariances();
    t.say("  true k = {} (fitted {}):  π {:.3f} vs {:.3f}   μ {} vs {}", k, f, model.weights()(f), truth.weights(k),
          vec2(model.means()(f, 0), model.means()(f, 1)), vec2(truth.means(k, 0), truth.means(k, 1)));
    t.say("                          Σ {} vs {}", cov2(S(f, 0, 0), S(f, 0, 1), S(f, 1, 1)),
          cov2(truth.covs(k, 0, 0), truth.covs(k, 0, 1), truth.covs(k, 1, 1)));
  }
  double max_mu_err = 0;
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t j = 0; j < D; ++j)
      max_mu_err = std::max(max_mu_err, std::abs(model.means()(match[k], j) - truth.means(k, j)));
  // μ̂_k has standard error about √(λ_max(Σ_k) / N_k) ≤ √(1.2 / (N π_min)) per coordinate.
  double min_w = 1;
  for (std::size_t k = 0; k < K; ++k) min_w = std::min(min_w, truth.weights(k));
  const double se = std::sqrt(1.2 / (static_cast<double>(N) * min_w));
  t.check("every fitted mean is within 5 standard errors of the true one", max_mu_err < 5 * se,
          fmt::format("max |μ̂ − μ*| = {:.3f} < 5·{:.3f}", max_mu_err, se));
  t.check("ℓ(θ_EM) ≥ ℓ(θ_true): the truth is one of the θ the MLE beats", ll_em >= ll_truth,
          fmt::format("{:.6f} ≥ {:.6f} (per point)", ll_em, ll_truth));
  t.say("");
  t.say("GaussianMixture::fit() runs the same loop (with tol on Δℓ). From the same start, with tol = 0:");
  tz::models::gmm::Options lib_options = model.options();
  lib_options.init_parameters = init;
  lib_options.max_iter = run.n_iter;
  lib_options.tol = 0;
  GaussianMixture lib(lib_options);
  lib.fit(x);
  double max_ll_diff = 0;
  for (std::size_t i = 0; i < std::min(lib.lower_bounds().size(), run.lls.size()); ++i)
    max_ll_diff = std::max(max_ll_diff, std::abs(lib.lower_bounds()[i] - run.lls[i]));
  t.check("its lower bounds are our ℓ, iteration by iteration",
          lib.lower_bounds().size() == run.lls.size() && max_ll_diff < 1e-12,
          fmt::format("{} iterations, max difference {:.1e}", lib.lower_bounds().size(), max_ll_diff));
  t.say("EM took {:.3f} ms per iteration on N = {} (model.ms_per_iter(); tutorial 03 races it).", lib.ms_per_iter(), N);
}

// Step 8: the pictures: the first iteration (colours_first, ellipses_first), the fit, the curve.
void step_pictures(Tutorial& t, const Matrix& x, const GaussianMixture& model, const std::vector<tz::Rgb>& colors_first,
                   const std::vector<tz::CovarianceEllipse>& ellipses_first, const EmRun& run, double ll_truth) {
  const std::size_t N = x.shape(0);
  t.step(8, "Pictures: points coloured by responsibility, with the fitted 1σ and 2σ ellipses");
  t.say("Each point is drawn in Σ_k r_nk colour_k: pure blue, orange or green where one component");
  t.say("owns it, a blend where they share it.");
  const auto first_png = t.out_file("gmm_em_iter1.png");
  tz::save_scatter_plot(first_png.string(), x, colors_first, ellipses_first,
                        {.title = "EM, iteration 1",
                         .xlabel = "x1", .ylabel = "x2", .point_radius = N > 1000 ? 1.3 : 2.0});
  Matrix final_resp;
  model.e_step(x, final_resp);
  const auto png = t.out_file("gmm_em.png");
  tz::save_scatter_plot(png.string(), x, tz::responsibility_colors(final_resp), ellipses(model),
                        {.title = fmt::format("EM, {} iterations", run.n_iter),
                         .xlabel = "x1", .ylabel = "x2", .point_radius = N > 1000 ? 1.3 : 2.0});
  std::vector<double> its(run.lls.size());
  std::iota(its.begin(), its.end(), 1.0);
  const auto curve = t.out_file("gmm_em_loglik.png");
  tz::save_line_plot(curve.string(),
                     {{"EM: (1/N) log p(x | theta)", its, run.lls},
                      {"true parameters", {1.0, static_cast<double>(run.lls.size())}, {ll_truth, ll_truth},
                       tz::Rgb{127, 127, 127}}},
                     {.title = "EM never lowers the log-likelihood",
                      .xlabel = "iteration",
                      .ylabel = "nats per point"});
  for (const auto& p : {first_png, png, curve}) {
    const bool ok = std::filesystem::exists(p) && std::filesystem::file_size(p) > 1000;
    t.check(fmt::format("wrote {}", p.filename().string()), ok,
            ok ? fmt::format("{} ({} bytes)", p.string(), std::filesystem::file_size(p)) : p.string());
  }
  t.say("gmm_em_iter1.png: the colours are r from the initial θ, the ellipses the M-step's fit to them:");
  t.say("  after one iteration the three wide components have begun to split the data.");
  t.say("gmm_em.png: the fitted ellipses sit on the three clusters; blends remain only where they touch.");
  t.say("gmm_em_loglik.png: the curve rises and flattens at (slightly above) the truth's log-likelihood.");
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
  const double ll_truth = mean_log_likelihood(log_joint(x, true_model));

  GaussianMixture model(options);
  const tz::models::gmm::Parameters init = step_initialise(t, x, rng, model);
  const Matrix resp = step_e_step(t, x, model);
  step_elbo_is_a_lower_bound(t, x, model, resp);
  step_m_step_raises_the_elbo(t, x, model, resp);
  // pictures of the first iteration, for step 8
  const std::vector<tz::Rgb> colors_first = tz::responsibility_colors(resp);
  const auto ellipses_first = ellipses(model);
  const EmRun run = step_em_never_decreases(t, x, model, init, max_iter, tol);
  step_fit_against_truth(t, x, model, data.truth, init, run, ll_truth);
  step_pictures(t, x, model, colors_first, ellipses_first, run, ll_truth);
  return t.finish();
}
