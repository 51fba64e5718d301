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
// Steps: 1 data, 2 the closed form, 3 the log-likelihood on the tape, 4 gradient ascent,
// 5 MLE is minimum KL (a table), 6 the bias of σ̂² by repeated experiments.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "autograd/ops.hpp"
#include "autograd/random.hpp"
#include "nn/optim.hpp"
#include "tutorials/tutorial.hpp"
#include "distributions/constants.hpp"

using A = tz::Array<double>;
using V = tz::Var<double>;

using tz::kLog2Pi;

namespace {


// log N(x | μ, σ²) on plain doubles: the reference for the tape and for p_data.
double log_normal_pdf(double x, double mu, double sigma) {
  const double z = (x - mu) / sigma;
  return -0.5 * kLog2Pi - std::log(sigma) - 0.5 * z * z;
}

// (1/n) Σ_i log N(x_i | μ, σ²) on plain doubles.
double mean_log_likelihood(const A& x, double mu, double sigma) {
  double s = 0;
  for (double v : x) s += log_normal_pdf(v, mu, sigma);
  return s / static_cast<double>(x.size());
}

// KL(N(m1, s1²) ‖ N(m2, s2²)) = log(s2/s1) + (s1² + (m1 − m2)²) / (2 s2²) − ½   (closed form)
double kl_gaussians(double m1, double s1, double m2, double s2) {
  return std::log(s2 / s1) + (s1 * s1 + (m1 - m2) * (m1 - m2)) / (2 * s2 * s2) - 0.5;
}

// The average log-likelihood on the tape, in the unconstrained parameters μ and s = log σ
// (σ = e^s > 0 for every s, so a gradient step can never make σ negative):
//   (1/n) ℓ = −½ log 2π − s − (1/n) Σ_i ½ ((x_i − μ) e^−s)²
V mean_log_likelihood(tz::Tape<double>& tape, const V& x, tz::Param<double>& mu, tz::Param<double>& log_sigma) {
  V m = tape.param(mu), s = tape.param(log_sigma);
  V z = (x - m) * exp(-s);
  return mean(-0.5 * square(z)) - s - 0.5 * kLog2Pi;
}

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

// The closed-form maximum of step 2: μ̂, σ̂², σ̂ and the average log-likelihood (1/n) ℓ(μ̂, σ̂) there.
struct ClosedForm {
  double mu_hat, var_hat, sigma_hat, ll_hat;
};

// Step 2: setting the gradient to zero gives μ̂ and σ̂², and they are a maximum of ℓ.
ClosedForm step_closed_form_is_the_maximum(tz::tutorial::Tutorial& t, const A& x, double mu_true, double sigma_true) {
  const std::size_t n = x.size();
  t.step(2, "Closed form: μ̂ = (1/n) Σ x_i,  σ̂² = (1/n) Σ (x_i − μ̂)²");
  t.say("Set ∂ℓ/∂μ = Σ (x_i − μ)/σ² and ∂ℓ/∂σ = −n/σ + Σ (x_i − μ)²/σ³ to zero and solve.");
  double mu_hat = 0;
  for (double v : x) mu_hat += v;
  mu_hat /= static_cast<double>(n);
  double var_hat = 0;
  for (double v : x) var_hat += (v - mu_hat) * (v - mu_hat);
  var_hat /= static_cast<double>(n);
  const double sigma_hat = std::sqrt(var_hat);
  const double ll_hat = mean_log_likelihood(x, mu_hat, sigma_hat);
  t.say("μ̂ = {:.6f}   (true μ = {})", mu_hat, mu_true);
  t.say("σ̂² = {:.6f}   (true σ² = {})", var_hat, sigma_true * sigma_true);
  t.say("(1/n) ℓ(μ̂, σ̂) = {:.6f} nats per point", ll_hat);
  // μ̂ has standard error σ/√n: the estimate should be within a few of them of the truth.
  const double se_mu = sigma_true / std::sqrt(static_cast<double>(n));
  t.check("μ̂ is within 4 standard errors σ/√n of μ", std::abs(mu_hat - mu_true) < 4 * se_mu,
          fmt::format("|μ̂ − μ| = {:.4f} < 4·{:.4f}", std::abs(mu_hat - mu_true), se_mu));
  // A maximum: nudging either parameter lowers ℓ.
  const double h = 0.01;
  double best_neighbour = -HUGE_VAL;
  for (double dm : {-h, 0.0, h})
    for (double ds : {-h, 0.0, h})
      if (dm != 0 || ds != 0)
        best_neighbour = std::max(best_neighbour, mean_log_likelihood(x, mu_hat + dm, sigma_hat + ds));
  t.check("a maximum: all 8 neighbours (μ̂ ± 0.01, σ̂ ± 0.01) score lower", best_neighbour < ll_hat,
          fmt::format("best neighbour {:.8f} < {:.8f}", best_neighbour, ll_hat));
  return {mu_hat, var_hat, sigma_hat, ll_hat};
}

// Step 3: backward on the tape gives the chain rule's ∂/∂μ and ∂/∂s at the start θ = (mu, log_sigma),
// and a vanishing gradient at the closed form. Leaves mu and log_sigma as they were, gradients zeroed.
void step_backward_gives_the_chain_rule(tz::tutorial::Tutorial& t, const A& x, const ClosedForm& cf,
                                        tz::Param<double>& mu, tz::Param<double>& log_sigma) {
  const std::size_t n = x.size();
  const double mu_hat = cf.mu_hat, sigma_hat = cf.sigma_hat;
  t.step(3, "The log-likelihood on the tape, in μ and s = log σ");
  t.say("(1/n) ℓ(μ, s) = −½ log 2π − s − (1/n) Σ ½ ((x_i − μ) e^−s)²");
  t.say("s = log σ is unconstrained: any real s gives σ = e^s > 0 (tutorial 03 shows why this matters).");
  t.say("The chain rule gives what backward should find:");
  t.say("  ∂/∂μ = (x̄ − μ)/σ²        ∂/∂s = −1 + (1/n) Σ (x_i − μ)²/σ²");
  tz::Tape<double> tape;
  {
    V xc = tape.constant(x, "x");
    V ll = mean_log_likelihood(tape, xc, mu, log_sigma);
    tape.backward(ll);
    double mean_x = mu_hat, mean_sq = 0;  // at μ = 0, σ = 1
    for (double v : x) mean_sq += v * v;
    mean_sq /= static_cast<double>(n);
    t.say("At the start μ = 0, s = 0 (σ = 1): (1/n) ℓ = {:.6f}", ll.item());
    t.check_close("(1/n) ℓ on the tape vs plain doubles", ll.item(), mean_log_likelihood(x, 0.0, 1.0), 1e-13);
    t.check_close("∂/∂μ from backward vs x̄ − μ", mu.grad(0), mean_x, 1e-12);
    t.check_close("∂/∂s from backward vs −1 + (1/n) Σ x_i²", log_sigma.grad(0), -1 + mean_sq, 1e-12);
    mu.zero_grad();
    log_sigma.zero_grad();
  }
  {
    // At the closed form the gradient vanishes.
    tz::Param<double> m("mu", A{mu_hat}), s("log_sigma", A{std::log(sigma_hat)});
    tape.clear();
    tape.backward(mean_log_likelihood(tape, tape.constant(x), m, s));
    const double g = std::max(std::abs(m.grad(0)), std::abs(s.grad(0)));
    t.check("the gradient vanishes at (μ̂, log σ̂)", g < 1e-12,
            fmt::format("max |∂ℓ/∂θ| / n = {:.1e}", g));
  }
}

// One row of step 4's record: the iteration, (1/n) ℓ before its update, μ and σ.
struct Row {
  int iter;
  double ll, mu, sigma;
};

// What step 4 ends with: its number of steps, the record of every step, and the final μ and σ.
struct Ascent {
  int iters;
  std::vector<Row> history;
  double mu_gd, sigma_gd;
};

// Step 4: gradient ascent on the tape, from θ = (mu, log_sigma), reaches the closed form.
Ascent step_gradient_ascent_reaches_the_closed_form(tz::tutorial::Tutorial& t, const A& x, const ClosedForm& cf,
                                                    tz::Param<double>& mu, tz::Param<double>& log_sigma) {
  const double mu_hat = cf.mu_hat, var_hat = cf.var_hat, ll_hat = cf.ll_hat;
  const double lr = 0.2;
  const int iters = t.pick(400, 300);
  t.step(4, "Gradient ascent on the tape: θ ← θ + η ∇(1/n)ℓ, η = {}, {} steps", lr, iters);
  t.say("Each step: clear the tape, record ℓ, one backward sweep, one SGD step on −ℓ (descent on −ℓ");
  t.say("is ascent on ℓ), zero the gradients. The record of every step feeds the table in step 5.");
  std::vector<Row> history;
  tz::Tape<double> tape;
  tz::nn::SGD<double> opt({&mu, &log_sigma}, {.lr = lr});
  for (int it = 0; it <= iters; ++it) {
    tape.clear();
    V ll = mean_log_likelihood(tape, tape.constant(x), mu, log_sigma);
    history.push_back({it, ll.item(), mu.value(0), std::exp(log_sigma.value(0))});
    if (it == iters) break;
    tape.backward(-ll);
    opt.step();
    mu.zero_grad();
    log_sigma.zero_grad();
  }
  const double mu_gd = mu.value(0), sigma_gd = std::exp(log_sigma.value(0));
  t.say("after {} steps: μ = {:.10f}, σ² = {:.10f}", iters, mu_gd, sigma_gd * sigma_gd);
  t.say("closed form:    μ̂ = {:.10f}, σ̂² = {:.10f}", mu_hat, var_hat);
  t.check_close("μ by gradient ascent vs μ̂", mu_gd, mu_hat, 1e-9);
  t.check_close("σ² by gradient ascent vs σ̂²", sigma_gd * sigma_gd, var_hat, 1e-9);
  t.check_close("(1/n) ℓ by gradient ascent vs at the closed form", history.back().ll, ll_hat, 1e-12);
  return {iters, history, mu_gd, sigma_gd};
}

// Step 5: every gain in (1/n) ℓ is a loss in the sample's KL̂(p_data ‖ p_θ); the exact KL falls too.
void step_mle_is_minimum_kl(tz::tutorial::Tutorial& t, const A& x, const ClosedForm& cf, const Ascent& run,
                            double mu_true, double sigma_true) {
  const std::size_t n = x.size();
  const int iters = run.iters;
  const std::vector<Row>& history = run.history;
  const double mu_gd = run.mu_gd, sigma_gd = run.sigma_gd, ll_hat = cf.ll_hat;
  t.step(5, "MLE minimises KL(p_data ‖ p_θ): the KL falls as the likelihood rises");
  t.say("KL(p_data ‖ p_θ) = E_pdata[log p_data(x)] − E_pdata[log p_θ(x)]. The first term does not");
  t.say("depend on θ. On our sample, the estimate is");
  t.say("  KL̂(θ) = (1/n) Σ log p_data(x_i) − (1/n) ℓ(θ)");
  t.say("so every gain in (1/n) ℓ is exactly a loss in KL̂. Here we know p_data, so we can also");
  t.say("print the exact KL between the two Gaussians (closed form), which the sample only estimates:");
  t.say("  KL(N(μ*, σ*²) ‖ N(μ, σ²)) = log(σ/σ*) + (σ*² + (μ* − μ)²)/(2σ²) − ½");
  double mean_log_pdata = 0;
  for (double v : x) mean_log_pdata += log_normal_pdf(v, mu_true, sigma_true);
  mean_log_pdata /= static_cast<double>(n);
  t.say("");
  t.say("  iter          μ         σ²    (1/n) ℓ(θ)         KL̂    exact KL");
  const std::vector<int> shown = {0, 1, 2, 3, 5, 10, 20, 50, 100, 200, iters};
  double identity_err = 0;
  // A rise smaller than rounding (a few ulps of |ℓ| ≈ 2) is not a rise: near the optimum both
  // sides agree to the last bit, and the difference of two such numbers is pure rounding.
  const double rounding = 1e-13;
  int kl_hat_rises = 0, kl_exact_rises = 0;
  double max_rise = 0;
  double min_kl_exact = HUGE_VAL;
  int min_kl_exact_iter = 0;
  double prev_kl_hat = HUGE_VAL, prev_kl_exact = HUGE_VAL;
  for (const Row& r : history) {
    const double kl_hat = mean_log_pdata - r.ll;
    const double kl_exact = kl_gaussians(mu_true, sigma_true, r.mu, r.sigma);
    // the identity KL̂ + (1/n) ℓ = (1/n) Σ log p_data(x_i), with ℓ recomputed on plain doubles
    identity_err = std::max(identity_err, std::abs(kl_hat + mean_log_likelihood(x, r.mu, r.sigma) - mean_log_pdata));
    if (r.iter > 0) max_rise = std::max(max_rise, kl_hat - prev_kl_hat);
    if (kl_exact < min_kl_exact) {
      min_kl_exact = kl_exact;
      min_kl_exact_iter = r.iter;
    }
    kl_hat_rises += kl_hat > prev_kl_hat + rounding ? 1 : 0;
    kl_exact_rises += kl_exact > prev_kl_exact + rounding ? 1 : 0;
    prev_kl_hat = kl_hat;
    prev_kl_exact = kl_exact;
    if (std::find(shown.begin(), shown.end(), r.iter) != shown.end())
      t.say("  {:4d}  {:9.6f}  {:9.6f}  {:12.8f}  {:10.2e}  {:10.2e}", r.iter, r.mu, r.sigma * r.sigma, r.ll,
            kl_hat, kl_exact);
  }
  t.say("");
  t.check("KL̂ + (1/n) ℓ is the same number at every step", identity_err < 1e-12,
          fmt::format("(1/n) Σ log p_data(x_i) = {:.8f}, max deviation {:.1e}", mean_log_pdata, identity_err));
  t.check("(1/n) ℓ never falls, so KL̂ never rises, over all the steps", kl_hat_rises == 0,
          fmt::format("{:.4f} → {:.2e}; largest step-to-step change {:+.1e} (rounding: {:.0e})",
                      mean_log_pdata - history.front().ll, mean_log_pdata - history.back().ll, max_rise,
                      rounding));
  const double kl_exact_first = kl_gaussians(mu_true, sigma_true, history.front().mu, history.front().sigma);
  const double kl_exact_last = kl_gaussians(mu_true, sigma_true, mu_gd, sigma_gd);
  t.check("the exact KL, which the steps never see, falls too", kl_exact_last < kl_exact_first,
          fmt::format("{:.4f} → {:.2e}, and rose at {} of {} steps", kl_exact_first, kl_exact_last,
                      kl_exact_rises, iters));
  t.say("The exact KL need not fall at every step: the steps follow the sample's KL̂, not it.");
  if (min_kl_exact_iter < iters) {
    t.say("Its lowest value, {:.3e}, came at step {}; the steps after it move towards the sample's", min_kl_exact,
          min_kl_exact_iter);
    t.say("optimum, which lies a little away from p_data.");
  } else {
    t.say("On this sample it happens to fall all the way (try another --seed, or the full run).");
  }
  t.say("The exact KL does not reach 0: the sample is not p_data. For 2 parameters it is about");
  t.say("2/(2n) on average (a χ²₂/2n variable): here 1/n = {:.1e}.", 1.0 / static_cast<double>(n));
  t.check("exact KL at the MLE is small: below 10·(2/2n)", kl_exact_last < 10.0 / static_cast<double>(n),
          fmt::format("{:.2e} < {:.2e}", kl_exact_last, 10.0 / static_cast<double>(n)));
  const double kl_hat_last = mean_log_pdata - ll_hat;
  t.check("KL̂ at the MLE is ≤ 0: on its own sample the MLE beats even the truth",
          kl_hat_last <= 0,
          fmt::format("KL̂ = {:.2e}; the true (μ*, σ*) is one of the θ the MLE maximised over", kl_hat_last));
  t.say("A negative KL estimate is the smallest case of overfitting: the fitted model explains this");
  t.say("sample better than the distribution that generated it.");
}

// Step 6: by repeated experiments, E[σ̂²] = (n−1)/n · σ², and Bessel's n/(n−1)·σ̂² is unbiased.
void step_mle_of_the_variance_is_biased(tz::tutorial::Tutorial& t, tz::Rng& rng, std::size_t n, double mu_true,
                                        double sigma_true) {
  const std::size_t experiments = t.pick<std::size_t>(200000, 20000);
  const double var_true = sigma_true * sigma_true;
  t.step(6, "The MLE of σ² is biased: E[σ̂²] = (n−1)/n · σ², by {} experiments per n", experiments);
  t.say("Why: Σ (x_i − x̄)² = Σ (x_i − μ)² − n (x̄ − μ)². The first sum has mean nσ², and");
  t.say("E[(x̄ − μ)²] = σ²/n, so E[Σ (x_i − x̄)²] = (n − 1) σ². Fitting μ̂ to the same points pulls");
  t.say("it towards them and shrinks the spread. Dividing by n − 1 (Bessel) removes the bias.");
  t.say("Each experiment draws n fresh points from N({}, {}) and computes σ̂²; we average over", mu_true, var_true);
  t.say("all experiments and give the standard error (SE) of the average.");
  t.say("");
  t.say("     n   predicted (n−1)/n·σ²   measured E[σ̂²] ± SE    E[s²] = n/(n−1)·σ̂²   E[(x̄−μ)²] vs σ²/n");
  for (const std::size_t m : {std::size_t{2}, std::size_t{5}, std::size_t{20}}) {
    double sum_v = 0, sum_v2 = 0, sum_dev = 0;
    std::vector<double> sample(m);
    for (std::size_t e = 0; e < experiments; ++e) {
      double mean_e = 0;
      for (auto& v : sample) mean_e += (v = rng.normal(mu_true, sigma_true));
      mean_e /= static_cast<double>(m);
      double v_hat = 0;
      for (double v : sample) v_hat += (v - mean_e) * (v - mean_e);
      v_hat /= static_cast<double>(m);
      sum_v += v_hat;
      sum_v2 += v_hat * v_hat;
      sum_dev += (mean_e - mu_true) * (mean_e - mu_true);
    }
    const double R = static_cast<double>(experiments), mm = static_cast<double>(m);
    const double measured = sum_v / R;
    const double se = std::sqrt((sum_v2 / R - measured * measured) / (R - 1));
    const double predicted = (mm - 1) / mm * var_true;
    const double bessel = measured * mm / (mm - 1);
    const double dev = sum_dev / R;
    t.say("  {:4d}   {:20.4f}   {:11.4f} ± {:.4f}    {:19.4f}   {:8.4f} vs {:.4f}", m, predicted, measured, se,
          bessel, dev, var_true / mm);
    t.check(fmt::format("n = {}: measured E[σ̂²] is the predicted (n−1)/n·σ²", m),
            std::abs(measured - predicted) < 4 * se,
            fmt::format("|{:.4f} − {:.4f}| = {:.4f} < 4 SE = {:.4f}", measured, predicted,
                        std::abs(measured - predicted), 4 * se));
    t.check(fmt::format("n = {}: and clearly below σ² = {}", m, var_true), var_true - measured > 4 * se,
            fmt::format("σ² − E[σ̂²] = {:.4f} > 4 SE (predicted bias σ²/n = {:.4f})", var_true - measured,
                        var_true / mm));
    t.check(fmt::format("n = {}: n/(n−1)·σ̂² is unbiased", m), std::abs(bessel - var_true) < 4 * se * mm / (mm - 1),
            fmt::format("|{:.4f} − {}| < 4 SE = {:.4f}", bessel, var_true, 4 * se * mm / (mm - 1)));
  }
  t.say("");
  t.say("The bias σ²/n vanishes as n grows: the MLE is consistent, and for n = {} (step 2) it is", n);
  t.say("{:.1e}, far below the sampling error of σ̂² itself (about σ²·√(2/n) = {:.1e}).",
        var_true / static_cast<double>(n),
        var_true * std::sqrt(2.0 / static_cast<double>(n)));
}

}  // namespace

int main(int argc, char** argv) {
  tz::tutorial::Tutorial t("01_mle_gaussian", "maximum likelihood for a Gaussian, and why it is minimum KL", 1);
  if (auto rc = t.parse(argc, argv)) return *rc;
  tz::Rng rng(t.seed());

  const double mu_true = 2.0, sigma_true = 1.5;  // p_data = N(2, 1.5²)
  const std::size_t n = t.pick<std::size_t>(10000, 1000);
  tz::Param<double> mu("mu", A{0.0});                // θ = (μ, s = log σ), from N(0, 1): step 3
  tz::Param<double> log_sigma("log_sigma", A{0.0});  // differentiates there, step 4 climbs from there

  const A x = step_data_from_a_known_gaussian(t, rng, n, mu_true, sigma_true);              // 1 data
  const ClosedForm cf = step_closed_form_is_the_maximum(t, x, mu_true, sigma_true);          // 2 closed form
  step_backward_gives_the_chain_rule(t, x, cf, mu, log_sigma);                               // 3 ℓ on the tape
  const Ascent run = step_gradient_ascent_reaches_the_closed_form(t, x, cf, mu, log_sigma);  // 4 ascent
  step_mle_is_minimum_kl(t, x, cf, run, mu_true, sigma_true);                                // 5 minimum KL
  step_mle_of_the_variance_is_biased(t, rng, n, mu_true, sigma_true);                        // 6 bias of σ̂²

  return t.finish();
}
