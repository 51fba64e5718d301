// The model of tutorial 01 (maximum likelihood for a Gaussian), on plain doubles and on the tape:
// the log-density and its moments under a known p_data, the closed-form MLE, the KL between two
// Gaussians, the average log-likelihood in (μ, s = log σ) with and without its normaliser, and
// gradient ascent on it. Only tutorials/01_mle_gaussian.cpp includes it; its steps check these.
#pragma once

#include <cmath>
#include <cstddef>
#include <vector>

#include "autograd/ops.hpp"
#include "autograd/random.hpp"
#include "autograd/tape.hpp"
#include "distributions/constants.hpp"
#include "nn/optim.hpp"

namespace tz::tutorial::mle {

using A = tz::Array<double>;
using V = tz::Var<double>;

// log N(x | μ, σ²) = −½ log 2π − log σ − (x − μ)²/(2σ²), on plain doubles: the reference for the
// tape and for p_data.
inline double log_normal_pdf(double x, double mu, double sigma) {
  const double z = (x - mu) / sigma;
  return -0.5 * tz::kLog2Pi - std::log(sigma) - 0.5 * z * z;
}

// E_{x ~ N(m, s²)}[log N(x | μ, σ²)] = −½ log 2π − log σ − (s² + (m − μ)²)/(2σ²), because
// E[(x − μ)²] = s² + (m − μ)² (variance plus squared bias).
inline double expected_log_likelihood(double m, double s, double mu, double sigma) {
  return -0.5 * tz::kLog2Pi - std::log(sigma) - (s * s + (m - mu) * (m - mu)) / (2 * sigma * sigma);
}

// sd of log N(x | μ, σ²) under x ~ N(m, s²): with x − μ = d + s ε (d = m − μ, ε ~ N(0, 1)),
// Var[(d + s ε)²] = 4 d² s² + 2 s⁴, so sd = √(4 d² s² + 2 s⁴) / (2σ²).
inline double sd_log_likelihood(double m, double s, double mu, double sigma) {
  const double d = m - mu;
  return std::sqrt(4 * d * d * s * s + 2 * s * s * s * s) / (2 * sigma * sigma);
}

// (1/n) Σ_i log N(x_i | μ, σ²) on plain doubles.
inline double mean_log_likelihood(const A& x, double mu, double sigma) {
  double s = 0;
  for (double v : x) s += log_normal_pdf(v, mu, sigma);
  return s / static_cast<double>(x.size());
}

// KL(N(m1, s1²) ‖ N(m2, s2²)) = log(s2/s1) + (s1² + (m1 − m2)²) / (2 s2²) − ½   (closed form)
inline double kl_gaussians(double m1, double s1, double m2, double s2) {
  return std::log(s2 / s1) + (s1 * s1 + (m1 - m2) * (m1 - m2)) / (2 * s2 * s2) - 0.5;
}

// The closed-form maximum (step 3): μ̂ = (1/n) Σ x_i, σ̂² = (1/n) Σ (x_i − μ̂)², and (1/n) ℓ there.
struct ClosedForm {
  double mu_hat, var_hat, sigma_hat, ll_hat;
};

inline ClosedForm closed_form_mle(const A& x) {
  // TASK 3.1 closed_form_mle: μ̂ = (1/n) Σ x_i, σ̂² = (1/n) Σ (x_i − μ̂)², σ̂ = √σ̂², and (1/n) ℓ(μ̂, σ̂)
  const double n = static_cast<double>(x.size());
  double mu_hat = 0;
  for (double v : x) mu_hat += v;
  mu_hat /= n;
  double var_hat = 0;
  for (double v : x) var_hat += (v - mu_hat) * (v - mu_hat);
  var_hat /= n;
  return {mu_hat, var_hat, std::sqrt(var_hat), mean_log_likelihood(x, mu_hat, std::sqrt(var_hat))};
  // END TASK
}

// The average log-likelihood on the tape, in the unconstrained parameters μ and s = log σ
// (σ = e^s > 0 for every s, so a gradient step can never make σ negative):
//   (1/n) ℓ = −½ log 2π − s − (1/n) Σ_i ½ ((x_i − μ) e^−s)²
inline V mean_log_likelihood(tz::Tape<double>& tape, const V& x, tz::Param<double>& mu, tz::Param<double>& log_sigma) {
  // TASK 3.2 mean_log_likelihood: (1/n) ℓ = −½ log 2π − s − (1/n) Σ_i ½ ((x_i − μ) e^−s)², on the tape
  V m = tape.param(mu), s = tape.param(log_sigma);
  V z = (x - m) * exp(-s);
  return mean(-0.5 * square(z)) - s - 0.5 * tz::kLog2Pi;
  // END TASK
}

// A common presentation of this road writes log_normal(x, μ, σ) = −(x − μ)²/(2σ²), without the
// −½ log 2πσ² = −½ log 2π − s. For μ that is harmless (the dropped term has no μ in it); for σ it is
// not: ∂/∂s of (1/n) Σ −½ ((x_i − μ) e^−s)² = (1/n) Σ (x_i − μ)² e^−2s > 0, so it has no maximum in σ.
inline V mean_unnormalised_log_likelihood(tz::Tape<double>& tape, const V& x, tz::Param<double>& mu,
                                   tz::Param<double>& log_sigma) {
  V m = tape.param(mu), s = tape.param(log_sigma);
  V z = (x - m) * exp(-s);
  return mean(-0.5 * square(z));
}

using Objective = V (*)(tz::Tape<double>&, const V&, tz::Param<double>&, tz::Param<double>&);

// An objective and its gradient (∂/∂μ, ∂/∂s) at θ = (mu, s), by one backward sweep.
struct Gradient {
  double value, d_mu, d_s;
};

inline Gradient gradient_at(const A& x, double mu, double s, Objective objective = mean_log_likelihood) {
  tz::Tape<double> tape;
  tz::Param<double> m("mu", A{mu}), ls("log_sigma", A{s});
  V f = objective(tape, tape.constant(x, "x"), m, ls);
  tape.backward(f);
  return {f.item(), m.grad(0), ls.grad(0)};
}

// One row of an ascent's record: the iteration, the objective before its update, μ and σ.
struct Row {
  int iter;
  double ll, mu, sigma;
};

// Gradient ascent θ ← θ + η ∇_θ f(θ) on θ = (μ, s = log σ), from (mu0, s0), for `iters` steps.
// It runs as SGD on −f, θ ← θ − η ∇(−f): the same update, since ascent on f is descent on −f.
// Returns iters + 1 rows: the start and every step after it.
inline std::vector<Row> gradient_ascent(const A& x, double mu0, double s0, double lr, int iters,
                                 Objective objective = mean_log_likelihood) {
  tz::Param<double> mu("mu", A{mu0}), log_sigma("log_sigma", A{s0});
  std::vector<Row> history;
  tz::Tape<double> tape;
  tz::nn::SGD<double> opt({&mu, &log_sigma}, {.lr = lr});
  for (int it = 0; it <= iters; ++it) {
    tape.clear();
    V f = objective(tape, tape.constant(x), mu, log_sigma);
    history.push_back({it, f.item(), mu.value(0), std::exp(log_sigma.value(0))});
    if (it == iters) break;
    tape.backward(-f);
    opt.step();
    mu.zero_grad();
    log_sigma.zero_grad();
  }
  return history;
}


// Bias, variance and MSE of an estimator v of `truth`, over R experiments, with standard errors:
// bias = E[v] − truth, Var = E[(v − E v)²], MSE = E[(v − truth)²].
struct EstimatorStats {
  double bias, se_bias, var, se_var, mse;
};

inline EstimatorStats estimator_stats(const std::vector<double>& v, double truth) {
  const double R = static_cast<double>(v.size());
  double mean = 0, mse = 0;
  for (double e : v) mean += e, mse += (e - truth) * (e - truth);
  mean /= R;
  double m2 = 0, m4 = 0;
  for (double e : v) m2 += (e - mean) * (e - mean), m4 += (e - mean) * (e - mean) * (e - mean) * (e - mean);
  m2 /= R, m4 /= R;
  // SE of a mean is sd/√R; the variance is the mean of (v − v̄)², whose own variance is m4 − m2².
  return {mean - truth, std::sqrt(m2 / (R - 1)), m2, std::sqrt((m4 - m2 * m2) / (R - 1)), mse / R};
}

}  // namespace tz::tutorial::mle
