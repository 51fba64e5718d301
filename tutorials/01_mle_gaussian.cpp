// tutorial: maximum likelihood for a Gaussian — closed form, gradient ascent on the tape, KL, and the biased variance
//
// Model: x_1, …, x_n ~ N(μ, σ²) independently, with θ = (μ, σ) unknown. The log-likelihood
//   ℓ(θ) = Σ_i log N(x_i | μ, σ²) = −(n/2) log 2π − n log σ − Σ_i (x_i − μ)² / (2σ²)
// is maximised where its gradient vanishes (Bishop, PRML §2.3.4, eqs. 2.121–2.122):
//   ∂ℓ/∂μ = Σ_i (x_i − μ)/σ² = 0      ⇒  μ̂ = (1/n) Σ_i x_i
//   ∂ℓ/∂σ = −n/σ + Σ_i (x_i − μ)²/σ³ = 0  ⇒  σ̂² = (1/n) Σ_i (x_i − μ̂)²
// MLE as minimum KL: with data from p_data, (1/n) ℓ(θ) estimates E_pdata[log p_θ(x)], and
//   KL(p_data ‖ p_θ) = E_pdata[log p_data(x)] − E_pdata[log p_θ(x)]
// so raising the average log-likelihood lowers (the sample estimate of) the KL, term for term.
// Bias: E[σ̂²] = (n−1)/n · σ² (PRML eq. 1.58), because μ̂ is fitted to the same points.
//
// Steps: 1 data, 2 why a sum of logs, 3 the closed form, 4 the log-likelihood on the tape,
// 5 gradient ascent, 6 MLE is minimum KL (a table), 7 the learning rate and the curvature,
// 8 the normalising constant, 9 expected vs empirical log-likelihood, 10 bias and variance of σ̂².
// The densities, closed forms and the ascent they check are in tutorials/mle_gaussian.hpp.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "autograd/ops.hpp"
#include "autograd/random.hpp"
#include "distributions/constants.hpp"
#include "nn/optim.hpp"
#include "tutorials/mle_gaussian.hpp"
#include "tutorials/tutorial.hpp"

using tz::tutorial::claim;
using namespace tz::tutorial::mle;  // the model: densities, closed forms, the ascent

namespace {



// Step 1: n draws from p_data = N(μ*, σ*²); the rest of the tutorial pretends not to know μ* and σ*.
A step_data_from_a_known_gaussian(tz::tutorial::Tutorial& t, tz::Rng& rng, std::size_t n, double mu_true,
                                  double sigma_true) {
  t.step(1, "Data: n = {} draws from p_data = N(μ = {}, σ² = {})", n, mu_true, sigma_true * sigma_true);
  A x = rng.normal<double>({n}, mu_true, sigma_true);
  t.say("x_i = μ + σ ε_i with ε_i ~ N(0, 1) from one seeded generator (seed {}).", t.seed());
  t.say("The first five: {:.4f}, {:.4f}, {:.4f}, {:.4f}, {:.4f}", x(0), x(1), x(2), x(3), x(4));
  t.say("We pretend not to know μ and σ, and estimate them from the {} numbers.", n);
  return x;
}

// Step 2: Π_i p(x_i) underflows long before n = 1000; Σ_i log p(x_i) does not.
void step_sum_logs_not_the_product(tz::tutorial::Tutorial& t, const A& x, double mu, double sigma) {
  const std::size_t n = 1000;  // step 1 draws at least 1000 points in both modes
  t.step(2, "Why the log-likelihood: Π p(x_i) underflows to 0, Σ log p(x_i) does not");
  t.say("ℓ(θ) = log Π_i p_θ(x_i) = Σ_i log p_θ(x_i). Mathematically the two are one; in floating");
  t.say("point they are not. Each p(x_i) here is about e^−1.8, and the smallest double above 0 is");
  const double log_min = std::log(std::numeric_limits<double>::denorm_min());
  t.say("denorm_min = 4.9e−324 = e^{:.2f}: the product of a few hundred such numbers is 0.", log_min);
  double prod = 1, sum = 0, prod_100 = 0, sum_100 = 0;
  std::size_t first_zero = 0, predicted = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double lp = log_normal_pdf(x(i), mu, sigma);
    prod *= std::exp(lp);
    sum += lp;
    if (i + 1 == 100) prod_100 = prod, sum_100 = sum;
    if (prod == 0 && first_zero == 0) first_zero = i + 1;
    // Round-to-nearest sends a product below denorm_min/2 to 0.
    if (sum < log_min - std::log(2.0) && predicted == 0) predicted = i + 1;
  }
  t.say("n = 100:  Π p = {:.6e},  log Π p = {:.10f},  Σ log p = {:.10f}", prod_100, std::log(prod_100), sum_100);
  t.say("n = {}: Π p = {},  Σ log p = {:.6f}", n, prod, sum);
  // 100 products of doubles: a relative error of at most 100·2⁻⁵³ ≈ 1e−14, an absolute 1e−14 in the log.
  t.check_close(claim("log-likelihood-not-product"), "n = 100: log Π p(x_i) = Σ log p(x_i) (no underflow yet)",
                std::log(prod_100), sum_100, 0, 1e-12);
  t.check(claim("log-likelihood-not-product"), "n = 1000: Π p(x_i) is exactly 0, Σ log p(x_i) is finite",
          prod == 0 && std::isfinite(sum), fmt::format("Π = {}, Σ log = {:.4f}", prod, sum));
  // In the subnormal range each product keeps only a few bits, so its rounding may move the crossing
  // by one point; anywhere else the two indices agree.
  const bool at_bound = first_zero + 1 >= predicted && first_zero <= predicted + 1;
  t.check(claim("log-likelihood-not-product"), "Π p first hits 0 where Σ log p falls below log(denorm_min/2)",
          at_bound, fmt::format("at point {}, predicted {} (± 1 for subnormal rounding)", first_zero, predicted));
  t.say("So every model in tapezoo computes Σ log p, and sums of probabilities as log-sum-exp.");
}

// Step 3: setting the gradient to zero gives μ̂ and σ̂², and they are a maximum of ℓ.
ClosedForm step_closed_form_is_the_maximum(tz::tutorial::Tutorial& t, const A& x, double mu_true, double sigma_true) {
  const std::size_t n = x.size();
  t.step(3, "Closed form: μ̂ = (1/n) Σ x_i,  σ̂² = (1/n) Σ (x_i − μ̂)²");
  t.say("Set ∂ℓ/∂μ = Σ (x_i − μ)/σ² and ∂ℓ/∂σ = −n/σ + Σ (x_i − μ)²/σ³ to zero and solve.");
  const ClosedForm cf = closed_form_mle(x);
  t.say("μ̂ = {:.6f}   (true μ = {})", cf.mu_hat, mu_true);
  t.say("σ̂² = {:.6f}   (true σ² = {})", cf.var_hat, sigma_true * sigma_true);
  t.say("(1/n) ℓ(μ̂, σ̂) = {:.6f} nats per point", cf.ll_hat);
  // μ̂ has standard error σ/√n: the estimate should be within a few of them of the truth.
  const double se_mu = sigma_true / std::sqrt(static_cast<double>(n));
  t.check(claim("mle-mean-within-standard-errors"), "μ̂ is within 4 standard errors σ/√n of μ",
          std::abs(cf.mu_hat - mu_true) < 4 * se_mu,
          fmt::format("|μ̂ − μ| = {:.4f} < 4·{:.4f}", std::abs(cf.mu_hat - mu_true), se_mu));
  // A maximum: nudging either parameter lowers ℓ.
  const double h = 0.01;
  double best_neighbour = -HUGE_VAL;
  for (double dm : {-h, 0.0, h})
    for (double ds : {-h, 0.0, h})
      if (dm != 0 || ds != 0)
        best_neighbour = std::max(best_neighbour, mean_log_likelihood(x, cf.mu_hat + dm, cf.sigma_hat + ds));
  t.check(claim("mle-closed-form-equals-ascent"), "a maximum: all 8 neighbours (μ̂ ± 0.01, σ̂ ± 0.01) score lower",
          best_neighbour < cf.ll_hat, fmt::format("best neighbour {:.8f} < {:.8f}", best_neighbour, cf.ll_hat));
  return cf;
}

// Step 4: backward on the tape gives the chain rule's ∂/∂μ and ∂/∂s at θ = (0, 0), and a vanishing
// gradient at the closed form.
void step_backward_gives_the_chain_rule(tz::tutorial::Tutorial& t, const A& x, const ClosedForm& cf) {
  t.step(4, "The log-likelihood on the tape, in μ and s = log σ");
  t.say("(1/n) ℓ(μ, s) = −½ log 2π − s − (1/n) Σ ½ ((x_i − μ) e^−s)²");
  t.say("s = log σ is unconstrained: any real s gives σ = e^s > 0 (tutorial 03 shows why this matters).");
  t.say("The chain rule gives what backward should find:");
  t.say("  ∂/∂μ = (x̄ − μ)/σ²        ∂/∂s = −1 + (1/n) Σ (x_i − μ)²/σ²");
  const Gradient g = gradient_at(x, 0.0, 0.0);
  double mean_sq = 0;  // at μ = 0, σ = 1
  for (double v : x) mean_sq += v * v;
  mean_sq /= static_cast<double>(x.size());
  t.say("At the start μ = 0, s = 0 (σ = 1): (1/n) ℓ = {:.6f}", g.value);
  t.check_close(claim("log-likelihood-on-the-tape"), "(1/n) ℓ on the tape vs plain doubles", g.value,
                mean_log_likelihood(x, 0.0, 1.0), 1e-13);
  t.check_close(claim("log-likelihood-on-the-tape"), "∂/∂μ from backward vs x̄ − μ", g.d_mu, cf.mu_hat, 1e-12);
  t.check_close(claim("log-likelihood-on-the-tape"), "∂/∂s from backward vs −1 + (1/n) Σ x_i²", g.d_s, -1 + mean_sq,
                1e-12);
  const Gradient at_max = gradient_at(x, cf.mu_hat, std::log(cf.sigma_hat));
  const double gmax = std::max(std::abs(at_max.d_mu), std::abs(at_max.d_s));
  t.check(claim("mle-closed-form-equals-ascent"), "the gradient vanishes at (μ̂, log σ̂)", gmax < 1e-12,
          fmt::format("max |∂ℓ/∂θ| / n = {:.1e}", gmax));
}

// Step 5: gradient ascent on the tape, from θ = (0, 0), reaches the closed form.
std::vector<Row> step_gradient_ascent_reaches_the_closed_form(tz::tutorial::Tutorial& t, const A& x,
                                                              const ClosedForm& cf) {
  const double lr = 0.2;
  const int iters = t.pick(400, 300);
  t.step(5, "Gradient ascent on the tape: θ ← θ + η ∇(1/n)ℓ, η = {}, {} steps", lr, iters);
  t.say("Each step: clear the tape, record ℓ, one backward sweep, one SGD step on −ℓ (descent on −ℓ");
  t.say("is ascent on ℓ), zero the gradients. The record of every step feeds the table in step 6.");
  t.say("A common presentation of this road calls θ ← θ + η ∇L 'gradient descent': with the + it is");
  t.say("ascent on L; descent is θ ← θ − η ∇(−L), the same step. The first step shows the sign:");
  std::vector<Row> history = gradient_ascent(x, 0.0, 0.0, lr, iters);
  const Gradient g0 = gradient_at(x, 0.0, 0.0);
  t.check_close(claim("ascent-is-descent-on-the-negative"), "step 1 moves μ by +η ∂ℓ/∂μ (uphill)",
                history[1].mu, lr * g0.d_mu, 1e-13);
  t.check_close(claim("ascent-is-descent-on-the-negative"), "step 1 moves s by +η ∂ℓ/∂s (uphill)",
                std::log(history[1].sigma), lr * g0.d_s, 1e-13);
  const double mu_gd = history.back().mu, sigma_gd = history.back().sigma;
  t.say("after {} steps: μ = {:.10f}, σ² = {:.10f}", iters, mu_gd, sigma_gd * sigma_gd);
  t.say("closed form:    μ̂ = {:.10f}, σ̂² = {:.10f}", cf.mu_hat, cf.var_hat);
  t.check_close(claim("mle-closed-form-equals-ascent"), "μ by gradient ascent vs μ̂", mu_gd, cf.mu_hat, 1e-9);
  t.check_close(claim("mle-closed-form-equals-ascent"), "σ² by gradient ascent vs σ̂²", sigma_gd * sigma_gd,
                cf.var_hat, 1e-9);
  t.check_close(claim("mle-closed-form-equals-ascent"), "(1/n) ℓ by gradient ascent vs at the closed form",
                history.back().ll, cf.ll_hat, 1e-12);
  return history;
}

// Step 6: every gain in (1/n) ℓ is a loss in the sample's KL̂(p_data ‖ p_θ); the exact KL falls too.
void step_mle_is_minimum_kl(tz::tutorial::Tutorial& t, const A& x, const ClosedForm& cf,
                            const std::vector<Row>& history, double mu_true, double sigma_true) {
  const std::size_t n = x.size();
  const int iters = history.back().iter;
  t.step(6, "MLE minimises KL(p_data ‖ p_θ): the KL falls as the likelihood rises");
  t.say("KL(p_data ‖ p_θ) = E_pdata[log p_data(x)] − E_pdata[log p_θ(x)]. The first term does not");
  t.say("depend on θ. On our sample, the estimate is");
  t.say("  KL̂(θ) = (1/n) Σ log p_data(x_i) − (1/n) ℓ(θ)");
  t.say("so every gain in (1/n) ℓ is exactly a loss in KL̂. Here we know p_data, so we can also");
  t.say("print the exact KL between the two Gaussians (closed form), which the sample only estimates:");
  t.say("  KL(N(μ*, σ*²) ‖ N(μ, σ²)) = log(σ/σ*) + (σ*² + (μ* − μ)²)/(2σ²) − ½");
  const double mean_log_pdata = mean_log_likelihood(x, mu_true, sigma_true);
  t.say("");
  t.say("  iter          μ         σ²    (1/n) ℓ(θ)         KL̂    exact KL");
  const std::vector<int> shown = {0, 1, 2, 3, 5, 10, 20, 50, 100, 200, iters};
  // A rise smaller than rounding (a few ulps of |ℓ| ≈ 2) is not a rise: near the optimum both
  // sides agree to the last bit, and the difference of two such numbers is pure rounding.
  const double rounding = 1e-13;
  // For 2 parameters 2n·KL(p_data ‖ p_θ̂) → χ²₂ (KL ≈ ½ (θ̂ − θ*)ᵀ I (θ̂ − θ*), θ̂ − θ* ~ N(0, I⁻¹/n)),
  // and P(χ²₂ > 2q) = e^−q: the bound q/n with q = log 10⁴ fails once in 10⁴ samples, like 4 SE.
  // Near θ* the exact KL is ½ |θ − θ*|² in the Fisher metric; on a (nearly) straight path to θ̂ it can
  // rise only once |θ − θ*| ≤ |θ̂ − θ*|, that is below KL(θ̂) < q/n: above q/n it falls at every step.
  const double q = std::log(1e4), bound = q / static_cast<double>(n);
  int kl_hat_rises = 0, kl_exact_rises = 0, rises_above_bound = 0, min_kl_exact_iter = 0;
  double max_rise = 0, min_kl_exact = HUGE_VAL, prev_kl_hat = HUGE_VAL, prev_kl_exact = HUGE_VAL;
  for (const Row& r : history) {
    const double kl_hat = mean_log_pdata - r.ll;
    const double kl_exact = kl_gaussians(mu_true, sigma_true, r.mu, r.sigma);
    if (r.iter > 0) max_rise = std::max(max_rise, kl_hat - prev_kl_hat);
    if (kl_exact < min_kl_exact) min_kl_exact = kl_exact, min_kl_exact_iter = r.iter;
    kl_hat_rises += kl_hat > prev_kl_hat + rounding ? 1 : 0;
    kl_exact_rises += kl_exact > prev_kl_exact + rounding ? 1 : 0;
    rises_above_bound += kl_exact > prev_kl_exact + rounding && r.iter > 0 && prev_kl_exact > bound ? 1 : 0;
    prev_kl_hat = kl_hat;
    prev_kl_exact = kl_exact;
    if (std::find(shown.begin(), shown.end(), r.iter) != shown.end())
      t.say("  {:4d}  {:9.6f}  {:9.6f}  {:12.8f}  {:10.2e}  {:10.2e}", r.iter, r.mu, r.sigma * r.sigma, r.ll,
            kl_hat, kl_exact);
  }
  t.say("");
  t.identity("KL̂ + (1/n) ℓ is the same number at every step",
             fmt::format("(1/n) Σ log p_data(x_i) = {:.8f}, by the definition of KL̂", mean_log_pdata));
  t.check(claim("mle-is-min-kl"), "(1/n) ℓ never falls, so KL̂ never rises, over all the steps", kl_hat_rises == 0,
          fmt::format("{:.4f} → {:.2e}; largest step-to-step change {:+.1e} (rounding: {:.0e})",
                      mean_log_pdata - history.front().ll, mean_log_pdata - history.back().ll, max_rise, rounding));
  const double kl_exact_first = kl_gaussians(mu_true, sigma_true, history.front().mu, history.front().sigma);
  const double kl_exact_last = kl_gaussians(mu_true, sigma_true, history.back().mu, history.back().sigma);
  t.check(claim("mle-is-min-kl"), "the exact KL, which the steps never see, falls too", kl_exact_last < kl_exact_first,
          fmt::format("{:.4f} → {:.2e}, and rose at {} of {} steps", kl_exact_first, kl_exact_last, kl_exact_rises,
                      iters));
  t.check(claim("mle-is-min-kl"), "the exact KL falls at every step while it is above q/n (q: below)",
          rises_above_bound == 0, fmt::format("{} rises above {:.2e}", rises_above_bound, bound));
  t.say("The exact KL need not fall at every step: the steps follow the sample's KL̂, not it.");
  if (min_kl_exact_iter < iters) {
    t.say("Its lowest value, {:.3e}, came at step {}; the steps after it move towards the sample's", min_kl_exact,
          min_kl_exact_iter);
    t.say("optimum, which lies a little away from p_data.");
  } else {
    t.say("On this sample it happens to fall all the way (try another --seed, or the full run).");
  }
  t.say("The exact KL does not reach 0: the sample is not p_data. For 2 parameters 2n·KL is about χ²₂,");
  t.say("so KL is about 1/n = {:.1e} on average, and P(KL > q/n) = e^−q.", 1.0 / static_cast<double>(n));
  t.check(claim("mle-is-min-kl"), "exact KL at the MLE is below q/n, q = log 10⁴ (P = 10⁻⁴ under χ²₂/2n)",
          kl_exact_last < bound, fmt::format("{:.2e} < {:.2e}", kl_exact_last, bound));
  const double kl_hat_last = mean_log_pdata - cf.ll_hat;
  t.check(claim("mle-is-min-kl"), "KL̂ at the MLE is below 0: on its own sample the MLE beats even the truth",
          kl_hat_last < 0,
          fmt::format("KL̂ = {:.2e}; the true (μ*, σ*) is one of the θ the MLE maximised over", kl_hat_last));
  t.say("A negative KL estimate is the smallest case of overfitting: the fitted model explains this");
  t.say("sample better than the distribution that generated it.");
}

// Step 7: θ ← θ + η ∇L rises monotonically for η < 2/|L''| and oscillates above it. At the optimum
// the Hessian of (1/n) ℓ in (μ, s) is diag(−1/σ̂², −2): ∂²/∂s² [−s − ½ v̂ e^−2s] = −2 v̂ e^−2ŝ = −2.
// Near it each coordinate's error is multiplied by 1 − η|L''| per step, which is below 1 in size
// exactly when η < 2/|L''|: η < 2σ̂² for μ, η < 1 for s, so the threshold is η* = 1.
void step_learning_rate_and_curvature(tz::tutorial::Tutorial& t, const A& x, const ClosedForm& cf) {
  const double s_hat = std::log(cf.sigma_hat), h = 1e-4;
  const int iters = 300;
  t.step(7, "The learning rate: θ ← θ + η ∇L climbs for η < 2/|L''|, and oscillates above it");
  t.say("Near the maximum L(θ) ≈ L̂ − ½ |L''| (θ − θ̂)², and a step maps θ − θ̂ to (1 − η|L''|)(θ − θ̂):");
  t.say("it shrinks for 0 < η < 2/|L''|, flips sign for η > 1/|L''|, and grows for η > 2/|L''|.");
  t.say("In (μ, s = log σ): L''_μμ = −1/σ̂² = {:.4f}, L''_ss = −2 (for every data set), L''_μs = 0.",
        -1 / cf.var_hat);
  // Central differences of the tape's gradient: error O(h²) from the third derivative, O(ε/h) from rounding.
  const double curv_s = (gradient_at(x, cf.mu_hat, s_hat + h).d_s - gradient_at(x, cf.mu_hat, s_hat - h).d_s) / (2 * h);
  const double curv_mu = (gradient_at(x, cf.mu_hat + h, s_hat).d_mu - gradient_at(x, cf.mu_hat - h, s_hat).d_mu) / (2 * h);
  t.check_close(claim("learning-rate-threshold"), "∂²(1/n)ℓ/∂s² at the MLE is −2 (differences of backward)", curv_s,
                -2.0, 1e-7);
  t.check_close(claim("learning-rate-threshold"), "∂²(1/n)ℓ/∂μ² at the MLE is −1/σ̂²", curv_mu, -1 / cf.var_hat, 1e-7);
  // The start is close to θ̂ because L is not quadratic: its cubic term (2/3)(s − ŝ)³ changes by about
  // 1.2 (s − ŝ)³ per step when s − ŝ alternates, against the quadratic's fall of (1 − (1 − 2η)²)(s − ŝ)²
  // = 0.19 (s − ŝ)² at η = 0.95; from s − ŝ = 0.05 the quadratic wins and L rises at every step.
  t.say("So η* = min(2σ̂², 2/2) = 1. From θ₀ = (μ̂ + 0.3, ŝ + 0.05), {} steps of each η:", iters);
  t.say("");
  t.say("     η   falls   L̂ − L(last)    s − ŝ at the last two steps");
  const double rounding = 1e-13;  // as in step 6: a fall below rounding is no fall
  for (const double lr : {0.1, 0.5, 0.9, 0.95, 1.05, 1.1, 1.5}) {
    const std::vector<Row> run = gradient_ascent(x, cf.mu_hat + 0.3, s_hat + 0.05, lr, iters);
    int falls = 0;
    for (std::size_t k = 1; k < run.size(); ++k) falls += run[k].ll < run[k - 1].ll - rounding ? 1 : 0;
    const double gap = cf.ll_hat - run.back().ll;
    t.say("  {:4.2f}   {:5d}   {:12.3e}    {:+.6f}, {:+.6f}", lr, falls, gap, std::log(run[iters - 1].sigma) - s_hat,
          std::log(run[iters].sigma) - s_hat);
    if (lr < 1)
      t.check(claim("learning-rate-threshold"), fmt::format("η = {} < 1: L rises at every step to L̂", lr),
              falls == 0 && gap < 1e-10, fmt::format("{} falls, gap {:.1e} < 1e−10", falls, gap));
    else
      t.check(claim("learning-rate-threshold"), fmt::format("η = {} > 1: L falls, and never reaches L̂", lr),
              falls > 0 && gap > 1e-6, fmt::format("{} falls, gap {:.1e} > 1e−6", falls, gap));
  }
  t.say("");
  t.say("For 0.5 < η < 1 s overshoots and the sign of s − ŝ alternates, yet L rises at every step;");
  t.say("above η = 1 the step overshoots by more than it corrects, and s settles into a 2-cycle or");
  t.say("wanders. η = 0.95 and 1.05 bracket the threshold 2/|L''_ss| = 1 within 5%.");
}

// Step 8: the unnormalised log_normal keeps μ̂ but loses σ̂: without −log σ it has no maximum in σ.
void step_the_normaliser_matters_for_sigma(tz::tutorial::Tutorial& t, const A& x, const ClosedForm& cf) {
  const double lr = 0.2;
  const int iters = 300;
  t.step(8, "The normalising constant: dropping −½ log 2πσ² is fine for μ, wrong for σ");
  t.say("A common presentation of this road writes log_normal(x, μ, σ) = −(x − μ)²/(2σ²), with no");
  t.say("−½ log 2πσ². Its μ-gradient is the same (1/n) Σ (x_i − μ)/σ², zero at μ̂ = x̄ for every σ;");
  t.say("its s-gradient is (1/n) Σ (x_i − μ)² e^−2s > 0 for every s: it rises forever as σ → ∞.");
  const Gradient g1 = gradient_at(x, cf.mu_hat, std::log(cf.sigma_hat), mean_unnormalised_log_likelihood);
  const Gradient g3 = gradient_at(x, cf.mu_hat, std::log(3 * cf.sigma_hat), mean_unnormalised_log_likelihood);
  t.check(claim("unnormalised-log-normal-loses-sigma"), "unnormalised: ∂/∂μ = 0 at μ̂ = x̄, for σ = σ̂ and 3σ̂",
          std::abs(g1.d_mu) < 1e-12 && std::abs(g3.d_mu) < 1e-12,
          fmt::format("|∂/∂μ| = {:.1e}, {:.1e}", std::abs(g1.d_mu), std::abs(g3.d_mu)));
  // Each step multiplies e^2s by e^(2η v e^−2s) ≥ 1 + 2η v e^−2s, with v = (1/n) Σ (x_i − μ)² ≥ σ̂²:
  // so e^2s_k ≥ 1 + 2η σ̂² k from s_0 = 0, and σ_k ≥ √(1 + 2η σ̂² k).
  const std::vector<Row> run = gradient_ascent(x, 0.0, 0.0, lr, iters, mean_unnormalised_log_likelihood);
  const double sigma_end = run.back().sigma, bound = std::sqrt(1 + 2 * lr * cf.var_hat * iters);
  t.say("Ascent on it from (0, 0), η = {}, {} steps: σ = {:.3f} against σ̂ = {:.4f}, still rising,", lr, iters,
        sigma_end, cf.sigma_hat);
  t.say("as e^2s_k ≥ 1 + 2η σ̂² k (each step multiplies e^2s by e^(2η v e^−2s) ≥ 1 + 2η v e^−2s).");
  t.check(claim("unnormalised-log-normal-loses-sigma"), "unnormalised ascent: σ_k ≥ √(1 + 2η σ̂² k), far above σ̂",
          sigma_end >= bound && sigma_end > 5 * cf.sigma_hat,
          fmt::format("σ = {:.3f} ≥ {:.3f}, σ̂ = {:.4f}", sigma_end, bound, cf.sigma_hat));
  t.say("The dropped −log σ is what stops σ: it is the density's normaliser, and it depends on σ.");
}

// Step 9: the average log-likelihood on n points estimates E_pdata[log p_θ]: error ≈ sd/√n.
void step_expected_vs_empirical(tz::tutorial::Tutorial& t, double mu_true, double sigma_true) {
  const double mu = 2.5, sigma = 2.0;  // a fixed θ, not the MLE: the claim holds for every θ
  const std::size_t repeats = t.pick<std::size_t>(4000, 1000);
  t.step(9, "Expected vs empirical log-likelihood: (1/n) Σ log p_θ(x_i) → E_pdata[log p_θ(x)]");
  t.say("The MLE maximises (1/n) ℓ(θ), a sample mean; the KL of step 6 needs its expectation. For");
  t.say("p_data = N(μ*, σ*²) and p_θ = N({}, {}²) the expectation is a closed form:", mu, sigma);
  t.say("  E[log p_θ] = −½ log 2π − log σ − (σ*² + (μ* − μ)²)/(2σ²),  sd[log p_θ] = √(4d²σ*² + 2σ*⁴)/(2σ²)");
  const double want = expected_log_likelihood(mu_true, sigma_true, mu, sigma);
  const double sd = sd_log_likelihood(mu_true, sigma_true, mu, sigma);
  t.say("  = {:.6f} nats, sd = {:.6f}. The error of a mean of n is about sd/√n; over {} repeats,", want, sd,
        repeats);
  t.say("  E[n·err²] = sd² exactly (the variance of a mean), so √(mean n·err²) should be sd at every n.");
  t.say("");
  t.say("      n   (1/n) Σ log p_θ        err     4 SE    √(mean n·err²) over repeats");
  tz::Rng rng(t.seed() + 9);  // its own stream: later steps' numbers do not shift
  for (const std::size_t n : {std::size_t{100}, std::size_t{1000}, std::size_t{10000}}) {
    double err_one = 0, se_one = 0, sum_ne2 = 0, sum_ne4 = 0;
    for (std::size_t r = 0; r < repeats; ++r) {
      double s1 = 0, s2 = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const double lp = log_normal_pdf(rng.normal(mu_true, sigma_true), mu, sigma);
        s1 += lp;
        s2 += lp * lp;
      }
      const double mean = s1 / static_cast<double>(n), err = mean - want;
      if (r == 0) err_one = err, se_one = std::sqrt((s2 / static_cast<double>(n) - mean * mean) / static_cast<double>(n - 1));
      sum_ne2 += static_cast<double>(n) * err * err;
      sum_ne4 += static_cast<double>(n * n) * err * err * err * err;
    }
    const double R = static_cast<double>(repeats), ms = sum_ne2 / R;
    const double se_ms = std::sqrt((sum_ne4 / R - ms * ms) / (R - 1));  // SE of the mean of n·err²
    t.say("  {:5d}   {:14.6f}   {:+8.5f}  {:7.5f}    {:.4f}  (sd = {:.4f})", n, want + err_one, err_one, 4 * se_one,
          std::sqrt(ms), sd);
    t.check(claim("expected-vs-empirical-log-likelihood"), fmt::format("n = {}: |err| within 4 SE", n),
            std::abs(err_one) < 4 * se_one, fmt::format("|{:+.5f}| < 4·{:.5f}", err_one, se_one));
    t.check_close(claim("expected-vs-empirical-log-likelihood"),
                  fmt::format("n = {}: mean n·err² = sd², so the error shrinks like sd/√n (4 SE = {:.4f})", n, 4 * se_ms), ms, sd * sd, 0,
                  4 * se_ms);
  }
  t.say("");
  t.say("A tenfold n shrinks the error √10 ≈ 3.2-fold, not tenfold: that is the 1/√n of a mean.");
}

// Step 10 for one n: σ̂² = (1/n) Σ (x_i − x̄)² and s² = n/(n−1) σ̂² over `experiments` draws.
void bias_variance_for_n(tz::tutorial::Tutorial& t, tz::Rng& rng, std::size_t m, std::size_t experiments, double mu_true,
                                double sigma_true) {
  const double var_true = sigma_true * sigma_true, mm = static_cast<double>(m);
  std::vector<double> biased(experiments), unbiased(experiments), sample(m);
  double sum_d = 0, sum_d2 = 0;  // d = (s² − σ²)² − (σ̂² − σ²)², the MSE difference per experiment
  for (std::size_t e = 0; e < experiments; ++e) {
    double mean_e = 0;
    for (auto& v : sample) mean_e += (v = rng.normal(mu_true, sigma_true));
    mean_e /= mm;
    double ss = 0;
    for (double v : sample) ss += (v - mean_e) * (v - mean_e);
    biased[e] = ss / mm;
    unbiased[e] = ss / (mm - 1);
    const double d = (unbiased[e] - var_true) * (unbiased[e] - var_true) - (biased[e] - var_true) * (biased[e] - var_true);
    sum_d += d, sum_d2 += d * d;
  }
  const EstimatorStats b = estimator_stats(biased, var_true), u = estimator_stats(unbiased, var_true);
  const double s4 = var_true * var_true;
  const double bias_b = -var_true / mm, var_b = 2 * (mm - 1) * s4 / (mm * mm), var_u = 2 * s4 / (mm - 1);
  t.say("  {:3d}  σ̂²: bias {:+.4f} ± {:.4f} ({:+.4f})  Var {:.4f} ± {:.4f} ({:.4f})  MSE {:.4f} ({:.4f})", m, b.bias,
        b.se_bias, bias_b, b.var, b.se_var, var_b, b.mse, bias_b * bias_b + var_b);
  t.say("       s²: bias {:+.4f} ± {:.4f} ({:+.4f})  Var {:.4f} ± {:.4f} ({:.4f})  MSE {:.4f} ({:.4f})", u.bias,
        u.se_bias, 0.0, u.var, u.se_var, var_u, u.mse, var_u);
  t.identity(fmt::format("n = {}: MSE = bias² + Var on the same experiments", m),
             fmt::format("σ̂²: {:.6f} = {:.6f}; s²: {:.6f} = {:.6f}", b.mse, b.bias * b.bias + b.var, u.mse,
                         u.bias * u.bias + u.var));
  const auto within = [&](std::string_view what, double got, double want, double se) {
    t.check(claim("bias-variance"), fmt::format("n = {}: {}", m, what), std::abs(got - want) < 4 * se,
            fmt::format("|{:.4f} − {:.4f}| = {:.4f} < 4 SE = {:.4f}", got, want, std::abs(got - want), 4 * se));
  };
  within("bias of σ̂² is −σ²/n", b.bias, bias_b, b.se_bias);
  t.check(claim("bias-variance"), fmt::format("n = {}: and clearly below 0", m), -b.bias > 4 * b.se_bias,
          fmt::format("−bias = {:.4f} > 4 SE = {:.4f}", -b.bias, 4 * b.se_bias));
  within("bias of s² = n/(n−1)·σ̂² is 0 (Bessel)", u.bias, 0.0, u.se_bias);
  within("Var σ̂² = 2(n−1)σ⁴/n²", b.var, var_b, b.se_var);
  within("Var s² = 2σ⁴/(n−1)", u.var, var_u, u.se_var);
  const double R = static_cast<double>(experiments), md = sum_d / R, se_d = std::sqrt((sum_d2 / R - md * md) / (R - 1));
  t.check(claim("bias-variance"), fmt::format("n = {}: the biased σ̂² has the lower MSE", m), md > 4 * se_d,
          fmt::format("MSE(s²) − MSE(σ̂²) = {:.4f} > 4 SE = {:.4f} (predicted σ⁴(3n−1)/(n²(n−1)) = {:.4f})", md,
                      4 * se_d, s4 * (3 * mm - 1) / (mm * mm * (mm - 1))));
}

// Step 10: bias² + variance for the biased and the unbiased variance estimator, by repeated experiments.
void step_bias_variance(tz::tutorial::Tutorial& t, tz::Rng& rng, std::size_t n, double mu_true, double sigma_true) {
  const std::size_t experiments = t.pick<std::size_t>(200000, 20000);
  const double var_true = sigma_true * sigma_true;
  t.step(10, "The MLE of σ² is biased, and still the better estimator: MSE = bias² + Var, {} experiments", experiments);
  t.say("Why biased: Σ (x_i − x̄)² = Σ (x_i − μ)² − n (x̄ − μ)². The first sum has mean nσ², and");
  t.say("E[(x̄ − μ)²] = σ²/n, so E[Σ (x_i − x̄)²] = (n − 1) σ²: E[σ̂²] = (n−1)/n·σ², bias −σ²/n.");
  t.say("Dividing by n − 1 (Bessel) gives s², unbiased. But Σ (x_i − x̄)² = σ² χ²(n−1), whose variance");
  t.say("is 2(n−1)σ⁴, so Var σ̂² = 2(n−1)σ⁴/n² and Var s² = 2σ⁴/(n−1), and MSE = bias² + Var gives");
  t.say("  MSE(σ̂²) = (2n−1)σ⁴/n²  <  MSE(s²) = 2σ⁴/(n−1):  the bias buys a larger drop in variance.");
  t.say("Each experiment draws n fresh points from N({}, {}); measured ± SE, (closed form):", mu_true, var_true);
  t.say("");
  for (const std::size_t m : {std::size_t{2}, std::size_t{5}, std::size_t{20}})
    bias_variance_for_n(t, rng, m, experiments, mu_true, sigma_true);
  t.say("");
  t.say("The bias σ²/n vanishes as n grows: the MLE is consistent, and for n = {} (step 1) it is", n);
  t.say("{:.1e}, far below the sampling error of σ̂² itself (about σ²·√(2/n) = {:.1e}).",
        var_true / static_cast<double>(n), var_true * std::sqrt(2.0 / static_cast<double>(n)));
}

}  // namespace

int main(int argc, char** argv) {
  tz::tutorial::Tutorial t("01_mle_gaussian", "maximum likelihood for a Gaussian, and why it is minimum KL", 1);
  if (auto rc = t.parse(argc, argv)) return *rc;
  tz::Rng rng(t.seed());

  const double mu_true = 2.0, sigma_true = 1.5;  // p_data = N(2, 1.5²)
  const std::size_t n = t.pick<std::size_t>(10000, 1000);

  const A x = step_data_from_a_known_gaussian(t, rng, n, mu_true, sigma_true);              // 1 data
  step_sum_logs_not_the_product(t, x, mu_true, sigma_true);                            // 2 Σ log, not Π
  const ClosedForm cf = step_closed_form_is_the_maximum(t, x, mu_true, sigma_true);          // 3 closed form
  step_backward_gives_the_chain_rule(t, x, cf);                                              // 4 ℓ on the tape
  const std::vector<Row> run = step_gradient_ascent_reaches_the_closed_form(t, x, cf);       // 5 ascent
  step_mle_is_minimum_kl(t, x, cf, run, mu_true, sigma_true);                                // 6 minimum KL
  step_learning_rate_and_curvature(t, x, cf);                                                // 7 η and L''
  step_the_normaliser_matters_for_sigma(t, x, cf);                                           // 8 normaliser
  step_expected_vs_empirical(t, mu_true, sigma_true);                                   // 9 E vs mean
  step_bias_variance(t, rng, n, mu_true, sigma_true);                                   // 10 bias, Var

  return t.finish();
}
