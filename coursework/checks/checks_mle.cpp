// tapezoo coursework: the checks of part 3, maximum likelihood for a Gaussian (tutorials/mle_gaussian.hpp),
// against the closed forms, in float64 (rtol 1e-6, far above the rounding of sums of 5 terms).
#include <cmath>

#include <xtensor/xadapt.hpp>

#include "coursework/checks/checks.hpp"
#include "distributions/constants.hpp"
#include "tutorials/mle_gaussian.hpp"

namespace tz::coursework {

namespace {

// The reference on plain doubles: μ̂, σ̂², σ̂, and (1/n) Σ log N(x_i | μ̂, σ̂²) = −½ log 2π − ½ log σ̂² − ½.
std::vector<double> mle_reference(const std::vector<double>& x) {
  double mu = 0, var = 0;
  for (double v : x) mu += v;
  mu /= static_cast<double>(x.size());
  for (double v : x) var += (v - mu) * (v - mu);
  var /= static_cast<double>(x.size());
  return {mu, var, std::sqrt(var), -0.5 * kLog2Pi - 0.5 * std::log(var) - 0.5};
}

std::vector<double> mle_got(const std::vector<double>& x) {
  const tutorial::mle::ClosedForm c = tutorial::mle::closed_form_mle(A(xt::adapt(x)));
  return {c.mu_hat, c.var_hat, c.sigma_hat, c.ll_hat};
}

// (1/n) ℓ at (μ, s), ∂/∂μ = (1/n) Σ (x_i − μ)/σ², ∂/∂s = −1 + (1/n) Σ (x_i − μ)²/σ², σ = e^s.
std::vector<double> ll_reference(const std::vector<double>& x, double mu, double s) {
  const double var = std::exp(2 * s), n = static_cast<double>(x.size());
  double d1 = 0, d2 = 0;
  for (double v : x) {
    d1 += v - mu;
    d2 += (v - mu) * (v - mu);
  }
  return {-0.5 * kLog2Pi - s - 0.5 * d2 / n / var, d1 / n / var, -1 + d2 / n / var};
}

std::vector<double> ll_got(const std::vector<double>& x, double mu, double s) {
  const tutorial::mle::Gradient g = tutorial::mle::gradient_at(A(xt::adapt(x)), mu, s);
  return {g.value, g.d_mu, g.d_s};
}

const std::vector<double> kX = {1, 2, 3, 4, 6};
const std::vector<double> kXHidden = {-0.7, 2.5, 0.1, 4.2, -1.3, 0.9};

}  // namespace

std::vector<Check> mle_checks() {
  return {
      {"3.1", "closed_form_mle(x = [1, 2, 3, 4, 6]) = (μ̂, σ̂², σ̂, (1/n) ℓ)", true,
       [](Checker& c) { c.close("closed_form_mle(x = [1, 2, 3, 4, 6]) → {μ̂, σ̂², σ̂, ℓ/n}", mle_reference(kX), mle_got(kX), 1e-6); }},
      {"3.1", "closed_form_mle at stored values", false,
       [](Checker& c) { c.hidden("3.1/mle", "closed_form_mle(" + show(kXHidden) + ")", mle_got(kXHidden), 1e-6); }},
      {"3.2", "mean_log_likelihood and its gradient at μ = 2, s = log 1.5", true,
       [](Checker& c) {
         c.close("mean_log_likelihood(x = [1, 2, 3, 4, 6], μ = 2, s = log 1.5) → {value, ∂/∂μ, ∂/∂s}",
                 ll_reference(kX, 2, std::log(1.5)), ll_got(kX, 2, std::log(1.5)), 1e-6, 1e-12);
       }},
      {"3.2", "mean_log_likelihood at stored values", false,
       [](Checker& c) {
         c.hidden("3.2/ll", "mean_log_likelihood(" + show(kXHidden) + ", μ = -0.4, s = 0.3)", ll_got(kXHidden, -0.4, 0.3),
                  1e-6, 1e-12);
       }},
  };
}

}  // namespace tz::coursework
