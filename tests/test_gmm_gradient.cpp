// Tests of models/gmm_gradient.cpp and models/gmm_tape.hpp: the autograd cross-checks of the
// mixture's log-likelihood on the tape against EM.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include <xtensor/xview.hpp>

#include "autograd/gradcheck.hpp"
#include "autograd/random.hpp"
#include "datasets/synthetic.hpp"
#include "models/gmm.hpp"
#include "tests/gmm_test_data.hpp"

// ---- the autograd cross-checks (models/gmm_gradient.cpp) ---------------------------------------------------

TEST_CASE("the tape's log-likelihood equals score(), and its gradient matches finite differences") {
  const Matrix x = overlapping_data(60, 9);
  for (CovarianceType type : kAllTypes) {
    CAPTURE(tz::models::gmm::to_string(type));
    Options o = options(3, type);
    o.max_iter = 3;
    GaussianMixture m(o);
    m.fit(x);
    tz::models::gmm::UnconstrainedParameters theta = m.unconstrained();
    tz::Tape<double> tape;
    const tz::Var<double> loglik = tz::models::gmm::mean_log_likelihood(tape.constant(tz::Array<double>(x)), theta, type);
    CHECK(loglik.item() == doctest::Approx(m.score(x)).epsilon(1e-12));
    // and back: set_unconstrained(unconstrained()) is the identity
    GaussianMixture copy(o);
    copy.set_unconstrained(theta);
    CHECK(copy.score(x) == doctest::Approx(m.score(x)).epsilon(1e-12));

    const bool triangular = type == CovarianceType::full || type == CovarianceType::tied;
    std::vector<tz::Array<double>> inputs{theta.logits.value, theta.means.value, theta.log_diag.value};
    if (triangular) inputs.push_back(theta.chol_offdiag.value);
    const tz::GradcheckResult r = tz::gradcheck(
        "gmm mean_log_likelihood",
        [&](const std::vector<tz::Var<double>>& v) {
          tz::Tape<double>& t = v[0].tape();
          return tz::models::gmm::mean_log_likelihood(t.constant(tz::Array<double>(x)), v[0], v[1],
                                              triangular ? v[3] : tz::Var<double>(), v[2], type);
        },
        inputs);
    CHECK_MESSAGE(r.ok, r.message);
    CHECK(r.checked > 10);
  }
}

TEST_CASE("at an EM fixed point the autograd gradient of the log-likelihood is zero") {
  // reg_covar = 0, so that the M-step is the exact maximiser and its fixed point a stationary point
  const Matrix x = overlapping_data(400, 10);
  for (CovarianceType type : kAllTypes) {
    CAPTURE(tz::models::gmm::to_string(type));
    Options o = options(3, type);
    o.reg_covar = 0;
    o.init = tz::models::gmm::Init::random;  // k-means++ starts at Σ_k = reg_covar·I, singular here
    o.tol = 1e-14;
    o.max_iter = 20000;
    o.seed = 3;
    GaussianMixture m(o);
    m.fit(x);
    REQUIRE(m.converged());
    tz::models::gmm::UnconstrainedParameters theta = m.unconstrained();
    tz::Tape<double> tape;
    const tz::Var<double> loglik = tz::models::gmm::mean_log_likelihood(tape.constant(tz::Array<double>(x)), theta, type);
    tape.backward(loglik);
    double largest = 0;
    for (auto* p : theta.all())
      for (double g : p->grad) largest = std::max(largest, std::abs(g));
    CHECK(largest < 1e-6);
    // and one step away from it the gradient is clearly not zero
    theta.means.value(0, 0) += 0.1;
    for (auto* p : theta.all()) p->zero_grad();
    tz::Tape<double> tape2;
    tape2.backward(tz::models::gmm::mean_log_likelihood(tape2.constant(tz::Array<double>(x)), theta, type));
    CHECK(std::abs(theta.means.grad(0, 0)) > 1e-3);
  }
}

TEST_CASE("gradient ascent raises the log-likelihood towards EM's optimum") {
  const Matrix x = overlapping_data(500, 12);
  for (CovarianceType type : kAllTypes) {
    CAPTURE(tz::models::gmm::to_string(type));
    Options o = options(3, type);
    o.seed = 5;
    GaussianMixture em(o);
    em.fit(x);
    GaussianMixture gd(o);
    tz::models::gmm::GradientOptions g;
    g.max_iter = 400;
    g.learning_rate = 0.05;
    g.tol = 0;
    gd.fit_gradient(x, g);
    const auto& lb = gd.lower_bounds();
    REQUIRE(lb.size() == 400);
    CHECK(lb.back() > lb.front() + 0.01);  // it climbed …
    CHECK(gd.score(x) >= em.score(x));     // … past where EM stopped at tol = 1e-3
    // and to the same optimum as EM run to convergence from the same start (tied: EM crawls away
    // from the near-saddle of scikit-learn's tied start, and 20000 iterations are not enough)
    o.tol = 1e-12;
    o.max_iter = 20000;
    GaussianMixture em_tight(o);
    em_tight.fit(x);
    if (type != CovarianceType::tied) CHECK(gd.score(x) == doctest::Approx(em_tight.score(x)).epsilon(1e-6));
  }
}
