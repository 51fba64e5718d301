// Tests of models/gmm: EM's monotone lower bound, recovery of a known mixture, the scikit-learn
// API's identities, hand-computed densities, BIC/AIC counts, errors, collapse, agreement with
// scikit-learn itself, and the autograd cross-checks of models/gmm_gd.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <limits>
#include <string>
#include <vector>

#include <unistd.h>

#include <xtensor/xview.hpp>

#include "autograd/random.hpp"
#include "autograd/gradcheck.hpp"
#include "datasets/npy.hpp"
#include "datasets/synthetic.hpp"
#include "io/npz.hpp"
#include "models/gmm.hpp"
#include "tests/test_helpers.hpp"

using tz::models::gmm::CovarianceType;
using tz::models::gmm::GaussianMixture;
using tz::models::gmm::Matrix;
using tz::models::gmm::Options;
using tz::models::gmm::Parameters;
using tz::models::gmm::Vector;

namespace {

const CovarianceType kAllTypes[] = {CovarianceType::full, CovarianceType::tied, CovarianceType::diag,
                                    CovarianceType::spherical};

// N points from a 2-D mixture with the given π, μ and lower Cholesky factors L_k (Σ_k = L_k L_kᵀ).
Matrix draw_mixture(std::size_t n, const std::vector<double>& w, const std::vector<std::array<double, 2>>& mu,
                    const std::vector<std::array<double, 3>>& chol /* l00, l10, l11 */, tz::Rng& rng,
                    std::vector<std::size_t>* labels = nullptr) {
  Matrix x = Matrix::from_shape({n, 2});
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t k = rng.categorical(w);
    if (labels) labels->push_back(k);
    const double e0 = rng.normal(), e1 = rng.normal();
    x(i, 0) = mu[k][0] + chol[k][0] * e0;
    x(i, 1) = mu[k][1] + chol[k][1] * e0 + chol[k][2] * e1;
  }
  return x;
}

// Three overlapping clusters: EM takes dozens of iterations here.
Matrix overlapping_data(std::size_t n, std::uint64_t seed) {
  tz::Rng rng(seed);
  return draw_mixture(n, {0.5, 0.3, 0.2}, {{0.0, 0.0}, {2.0, 1.0}, {-1.0, 2.5}},
                      {{1.0, 0.3, 0.8}, {0.7, -0.2, 0.5}, {0.9, 0.0, 0.4}}, rng);
}

Options options(std::size_t k, CovarianceType type) {
  Options o;
  o.n_components = k;
  o.covariance_type = type;
  return o;
}

// The parameters of the 2-D, K = 2 hand-computed examples, shaped for `type`.
Parameters hand_parameters(CovarianceType type) {
  Parameters p;
  p.weights = {0.25, 0.75};
  p.means = {{0.0, 0.0}, {3.0, -1.0}};
  switch (type) {
    case CovarianceType::full: p.covariances = xt::xarray<double>{{{2.0, 0.5}, {0.5, 1.0}}, {{1.0, -0.3}, {-0.3, 0.5}}}; break;
    case CovarianceType::tied: p.covariances = xt::xarray<double>{{2.0, 0.5}, {0.5, 1.0}}; break;
    case CovarianceType::diag: p.covariances = xt::xarray<double>{{2.0, 1.0}, {1.0, 0.5}}; break;
    case CovarianceType::spherical: p.covariances = xt::xarray<double>{2.0, 0.5}; break;
  }
  return p;
}

GaussianMixture model_with(CovarianceType type, const Parameters& p) {
  GaussianMixture m(options(p.weights.size(), type));
  m.set_parameters(p);
  return m;
}

std::string error_of(auto&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

}  // namespace

TEST_CASE("hand-computed log-density, 1-D: full, diag and spherical agree with scipy") {
  // p(x) = 0.3 N(x | −1, 0.5) + 0.7 N(x | 2, 2); reference values from scipy.stats.norm
  Matrix x = Matrix::from_shape({3, 1});
  x(0, 0) = 0.5, x(1, 0) = -3.0, x(2, 0) = 10.0;
  const double want_log_p[] = {-2.037513109303779, -5.660364559947662, -17.622187067423372};
  const double want_r0[] = {0.13685618651915626, 0.8904990996599381, 2.1484864079142687e-46};
  for (CovarianceType type : {CovarianceType::full, CovarianceType::diag, CovarianceType::spherical}) {
    CAPTURE(tz::models::gmm::to_string(type));
    Parameters p;
    p.weights = {0.3, 0.7};
    p.means = Matrix::from_shape({2, 1});
    p.means(0, 0) = -1.0, p.means(1, 0) = 2.0;
    if (type == CovarianceType::full) p.covariances = xt::xarray<double>({2, 1, 1}, 0.0), p.covariances(0, 0, 0) = 0.5, p.covariances(1, 0, 0) = 2.0;
    if (type == CovarianceType::diag) p.covariances = xt::xarray<double>({2, 1}, 0.0), p.covariances(0, 0) = 0.5, p.covariances(1, 0) = 2.0;
    if (type == CovarianceType::spherical) p.covariances = xt::xarray<double>{0.5, 2.0};
    const GaussianMixture m = model_with(type, p);
    const Vector log_p = m.score_samples(x);
    const Matrix resp = m.predict_proba(x);
    for (std::size_t n = 0; n < 3; ++n) {
      CHECK(log_p(n) == doctest::Approx(want_log_p[n]).epsilon(1e-13));
      CHECK(resp(n, 0) == doctest::Approx(want_r0[n]).epsilon(1e-12));
    }
  }
}

TEST_CASE("hand-computed log-density, 2-D: every covariance type against scipy") {
  // reference: scipy.stats.multivariate_normal.logpdf and logsumexp, for hand_parameters(type)
  const Matrix x = {{1.0, 0.5}, {2.0, -2.0}};
  struct Case {
    CovarianceType type;
    double log_p[2];
  };
  const Case cases[] = {
      {CovarianceType::full, {-3.4420929647092455, -4.219357420845292}},
      {CovarianceType::tied, {-3.6504872929917767, -2.970708952598328}},
      {CovarianceType::diag, {-3.828383380046493, -3.242471996460078}},
      {CovarianceType::spherical, {-4.198646142013319, -3.352369250627645}},
  };
  for (const Case& c : cases) {
    CAPTURE(tz::models::gmm::to_string(c.type));
    const GaussianMixture m = model_with(c.type, hand_parameters(c.type));
    const Vector log_p = m.score_samples(x);
    CHECK(log_p(0) == doctest::Approx(c.log_p[0]).epsilon(1e-13));
    CHECK(log_p(1) == doctest::Approx(c.log_p[1]).epsilon(1e-13));
    CHECK(m.score(x) == doctest::Approx((c.log_p[0] + c.log_p[1]) / 2).epsilon(1e-13));
  }
  // and the responsibility of component 0 for the full case: 0.7063809184090228, 0.02115137270935845
  const Matrix r = model_with(CovarianceType::full, hand_parameters(CovarianceType::full)).predict_proba(x);
  CHECK(r(0, 0) == doctest::Approx(0.7063809184090228).epsilon(1e-12));
  CHECK(r(1, 0) == doctest::Approx(0.02115137270935845).epsilon(1e-12));
}

TEST_CASE("precisions_cholesky is P with P Pᵀ = Σ⁻¹, upper triangular (scikit-learn's convention)") {
  const GaussianMixture m = model_with(CovarianceType::full, hand_parameters(CovarianceType::full));
  const auto& P = m.precisions_cholesky();
  REQUIRE(P.shape() == std::vector<std::size_t>{2, 2, 2});
  // Σ_0 = [[2, .5], [.5, 1]]: Σ⁻¹ = [[1, −.5], [−.5, 2]] / 1.75
  CHECK(P(0, 1, 0) == 0.0);
  const double a = P(0, 0, 0), b = P(0, 0, 1), c = P(0, 1, 1);
  CHECK(a * a + b * b == doctest::Approx(1.0 / 1.75).epsilon(1e-14));
  CHECK(b * c == doctest::Approx(-0.5 / 1.75).epsilon(1e-14));
  CHECK(c * c == doctest::Approx(2.0 / 1.75).epsilon(1e-14));
  CHECK(a > 0);
  CHECK(c > 0);
}

TEST_CASE("EM never lowers the log-likelihood, for every covariance type") {
  const Matrix x = overlapping_data(600, 1);
  for (CovarianceType type : kAllTypes) {
    for (auto init : {tz::models::gmm::Init::random, tz::models::gmm::Init::kmeans_pp}) {
      CAPTURE(tz::models::gmm::to_string(type));
      CAPTURE(tz::models::gmm::to_string(init));
      Options o = options(3, type);
      o.init = init;
      o.tol = 0;  // run all iterations, into the flat tail where rounding shows
      o.max_iter = 150;
      o.seed = 7;
      GaussianMixture m(o);
      m.fit(x);
      const auto& lb = m.lower_bounds();
      REQUIRE(lb.size() == 150);
      CHECK_FALSE(m.converged());
      double worst = 0;  // the largest drop
      for (std::size_t t = 1; t < lb.size(); ++t) worst = std::max(worst, lb[t - 1] - lb[t]);
      CHECK(worst <= 1e-12);
      // and EM made real progress: the last lower bound is well above the first
      CHECK(lb.back() > lb.front() + 0.05);
      // the model after the last M-step is at least as good as the last lower bound
      CHECK(m.score(x) >= lb.back() - 1e-12);
    }
  }
}

TEST_CASE("EM recovers the parameters of a well-separated mixture") {
  // ground truth from datasets/synthetic.hpp: K = 3 components in 2-D, means at least 6 apart,
  // covariance eigenvalues in [0.2, 1]
  tz::Rng rng(3);
  tz::MixtureOptions mix;
  mix.min_separation = 6.0;
  mix.mean_scale = 5.0;
  const tz::MixtureData data = tz::make_gaussian_mixture(6000, 3, 2, rng, mix);
  const tz::MixtureTruth& truth = data.truth;

  Options o = options(3, CovarianceType::full);
  o.n_init = 2;
  o.seed = 11;
  GaussianMixture m(o);
  m.fit(data.x);
  CHECK(m.converged());
  CHECK(m.n_iter() < 30);
  std::vector<std::size_t> match(3);  // true component t ↔ fitted component match[t]
  for (std::size_t t = 0; t < 3; ++t) {
    double best = 1e300;
    for (std::size_t j = 0; j < 3; ++j) {
      const double d = std::hypot(m.means()(j, 0) - truth.means(t, 0), m.means()(j, 1) - truth.means(t, 1));
      if (d < best) best = d, match[t] = j;
    }
    CAPTURE(t);
    // sampling error with N_k ≳ 1000 points: about σ/√N_k ≲ 0.03 for means, √(π(1−π)/N) ≈ 0.006 for weights
    CHECK(best < 0.1);
    const std::size_t k = match[t];
    CHECK(std::abs(m.weights()(k) - truth.weights(t)) < 0.02);
    for (std::size_t i = 0; i < 2; ++i)
      for (std::size_t j = 0; j < 2; ++j) CHECK(std::abs(m.covariances()(k, i, j) - truth.covs(t, i, j)) < 0.1);
  }
  CHECK(match[0] != match[1]);
  CHECK(match[1] != match[2]);
  CHECK(match[0] != match[2]);
  // and the labels: nearly every point goes to the component of the cluster it was drawn from
  const auto labels = m.predict(data.x);
  std::size_t agree = 0;
  for (std::size_t n = 0; n < labels.size(); ++n) agree += labels[n] == match[static_cast<std::size_t>(data.labels[n])];
  CHECK(agree > 0.99 * static_cast<double>(labels.size()));
}

TEST_CASE("score, score_samples, predict_proba and predict are consistent") {
  const Matrix x = overlapping_data(500, 2);
  for (CovarianceType type : kAllTypes) {
    CAPTURE(tz::models::gmm::to_string(type));
    GaussianMixture m(options(3, type));
    m.fit(x);
    const Vector log_p = m.score_samples(x);
    const Matrix resp = m.predict_proba(x);
    const auto labels = m.predict(x);
    // score = (1/N) Σ_n log p(x_n)
    double mean = 0;
    for (double v : log_p) mean += v / static_cast<double>(x.shape(0));
    CHECK(m.score(x) == doctest::Approx(mean).epsilon(1e-13));
    for (std::size_t n = 0; n < x.shape(0); ++n) {
      double s = 0;
      std::size_t argmax = 0;
      for (std::size_t k = 0; k < 3; ++k) {
        s += resp(n, k);
        if (resp(n, k) > resp(n, argmax)) argmax = k;
      }
      CHECK(s == doctest::Approx(1.0).epsilon(1e-14));  // rows sum to 1
      CHECK(labels[n] == argmax);
    }
    // the log-sum-exp identity: log r_nk = log π_k + log N(x_n | μ_k, Σ_k) − log p(x_n). With one
    // component kept (π = e_k), score_samples gives log N(x_n | μ_k, Σ_k) exactly.
    for (std::size_t k = 0; k < 3; ++k) {
      Parameters only_k = m.parameters();
      only_k.weights = xt::zeros<double>({3});
      only_k.weights(k) = 1.0;
      const Vector log_nk = model_with(type, only_k).score_samples(x);
      for (std::size_t n = 0; n < x.shape(0); n += 7)
        CHECK(std::log(resp(n, k)) ==
              doctest::Approx(std::log(m.weights()(k)) + log_nk(n) - log_p(n)).epsilon(1e-10));
    }
  }
}

TEST_CASE("bic and aic use scikit-learn's parameter counts") {
  const Matrix x = {{1.0, 0.5}, {2.0, -2.0}};
  // K = 2, D = 2: means 4, weights 1, covariances full 2·3, tied 3, diag 2·2, spherical 2
  struct Case {
    CovarianceType type;
    std::size_t p;
    double sum_log_p;  // Σ_n log p(x_n), from the hand-computed test above
  };
  const Case cases[] = {
      {CovarianceType::full, 11, -3.4420929647092455 - 4.219357420845292},
      {CovarianceType::tied, 8, -3.6504872929917767 - 2.970708952598328},
      {CovarianceType::diag, 9, -3.828383380046493 - 3.242471996460078},
      {CovarianceType::spherical, 7, -4.198646142013319 - 3.352369250627645},
  };
  for (const Case& c : cases) {
    CAPTURE(tz::models::gmm::to_string(c.type));
    const GaussianMixture m = model_with(c.type, hand_parameters(c.type));
    CHECK(m.n_parameters() == c.p);
    CHECK(m.bic(x) == doctest::Approx(-2 * c.sum_log_p + c.p * std::log(2.0)).epsilon(1e-13));
    CHECK(m.aic(x) == doctest::Approx(-2 * c.sum_log_p + 2.0 * c.p).epsilon(1e-13));
  }
  // a bigger count: K = 10, D = 10, full: 10·55 + 100 + 9 = 659 (as scikit-learn's _n_parameters)
  Options o = options(10, CovarianceType::full);
  GaussianMixture big(o);
  tz::Rng rng(0);
  Matrix xb = Matrix::from_shape({200, 10});
  for (auto& v : xb) v = rng.normal();
  big.fit(xb);
  CHECK(big.n_parameters() == 659);
}

TEST_CASE("sample draws from the mixture: empirical moments match") {
  const Parameters p = hand_parameters(CovarianceType::full);
  const GaussianMixture m = model_with(CovarianceType::full, p);
  tz::Rng rng(5);
  const auto [x, z] = m.sample(40000, rng);
  REQUIRE(x.shape(0) == 40000);
  double count1 = 0, m0 = 0, m1 = 0, s00 = 0, s01 = 0, s11 = 0;
  for (std::size_t n = 0; n < x.shape(0); ++n) {
    if (z[n] != 1) continue;
    count1 += 1;
    m0 += x(n, 0), m1 += x(n, 1);
  }
  m0 /= count1, m1 /= count1;
  for (std::size_t n = 0; n < x.shape(0); ++n) {
    if (z[n] != 1) continue;
    s00 += (x(n, 0) - m0) * (x(n, 0) - m0) / count1;
    s01 += (x(n, 0) - m0) * (x(n, 1) - m1) / count1;
    s11 += (x(n, 1) - m1) * (x(n, 1) - m1) / count1;
  }
  // standard errors: weight √(.75·.25/40000) ≈ 0.002, means ≈ 0.006, covariances ≈ 0.008
  CHECK(count1 / 40000 == doctest::Approx(0.75).epsilon(0.02));
  CHECK(std::abs(m0 - 3.0) < 0.03);
  CHECK(std::abs(m1 + 1.0) < 0.03);
  CHECK(std::abs(s00 - 1.0) < 0.04);
  CHECK(std::abs(s01 + 0.3) < 0.03);
  CHECK(std::abs(s11 - 0.5) < 0.02);
}

TEST_CASE("the same seed gives the same fit; n_init keeps the best run") {
  const Matrix x = overlapping_data(400, 4);
  Options o = options(4, CovarianceType::full);
  o.seed = 99;
  GaussianMixture a(o), b(o);
  a.fit(x);
  b.fit(x);
  CHECK(a.lower_bounds() == b.lower_bounds());
  CHECK(a.means() == b.means());
  // the first of n_init = 5 runs is the n_init = 1 run (same random stream), so 5 runs are at
  // least as good; different seeds give different starts
  o.n_init = 5;
  GaussianMixture c(o);
  c.fit(x);
  CHECK(c.lower_bound() >= a.lower_bound());
  o.n_init = 1;
  o.seed = 100;
  GaussianMixture d(o);
  d.fit(x);
  CHECK(d.lower_bounds().front() != a.lower_bounds().front());
}

TEST_CASE("errors: K > N, NaN or Inf, D mismatch, bad parameters, bad options") {
  const Matrix x3 = {{0.0, 1.0}, {1.0, 0.0}, {2.0, 2.0}};
  {
    GaussianMixture m(options(5, CovarianceType::full));
    const std::string e = error_of([&] { m.fit(x3); });
    CHECK(e == "fit: k = 5 components but only n = 3 data points: k must be at most n");
  }
  {
    Matrix bad = x3;
    bad(1, 0) = std::nan("");
    GaussianMixture m(options(2, CovarianceType::full));
    CHECK(error_of([&] { m.fit(bad); }) ==
          "fit: data row 1, column 0 is nan: the data must be finite (no NaN or Inf)");
    bad(1, 0) = 0.0;
    bad(2, 1) = -std::numeric_limits<double>::infinity();
    CHECK(error_of([&] { m.fit(bad); }) ==
          "fit: data row 2, column 1 is -inf: the data must be finite (no NaN or Inf)");
  }
  {
    GaussianMixture m = model_with(CovarianceType::full, hand_parameters(CovarianceType::full));
    const Matrix x1 = {{1.0, 2.0, 3.0}};
    CHECK(error_of([&] { m.predict(x1); }) ==
          "predict: the data have d = 3 columns but the model was fitted with d = 2");
    CHECK(error_of([&] { m.score(x1); }) == "score: the data have d = 3 columns but the model was fitted with d = 2");
    GaussianMixture fresh(options(2, CovarianceType::full));
    CHECK(error_of([&] { fresh.predict(x3); }) ==
          "predict: the model has no parameters yet: call fit() first");
  }
  {
    // init parameters with the wrong shapes name the array, its shape and the expected one
    Parameters p = hand_parameters(CovarianceType::full);
    p.covariances = xt::xarray<double>{{1.0, 0.0}, {0.0, 1.0}};
    Options o = options(2, CovarianceType::full);
    o.init_parameters = p;
    CHECK(error_of([&] { GaussianMixture m(o); }) ==
          "init parameters: covariances has shape [2,2] but covariance type 'full' with k = 2, d = 2 expects [2,2,2]");
    p = hand_parameters(CovarianceType::full);
    p.weights = {0.2, 0.3, 0.5};
    o.init_parameters = p;
    CHECK(error_of([&] { GaussianMixture m(o); }) == "init parameters: weights has shape [3] but k = 2 expects [2]");
    p = hand_parameters(CovarianceType::full);
    p.weights = {0.5, 0.6};
    o.init_parameters = p;
    CHECK(error_of([&] { GaussianMixture m(o); }) == "init parameters: weights sum to 1.1, not 1");
    p = hand_parameters(CovarianceType::full);
    p.covariances(1, 0, 0) = -1.0;
    o.init_parameters = p;
    CHECK(error_of([&] { GaussianMixture m(o); }) == "init parameters: covariances[1] is not positive definite");
    p = hand_parameters(CovarianceType::full);
    p.covariances(0, 0, 1) = 0.4;
    o.init_parameters = p;
    CHECK(error_of([&] { GaussianMixture m(o); }) ==
          "init parameters: covariances[0] is not symmetric: entry (1,0) = 0.5 but (0,1) = 0.4");
    // right shapes but the data have another width
    o.init_parameters = hand_parameters(CovarianceType::full);
    GaussianMixture m(o);
    const Matrix x1 = {{1.0, 2.0, 3.0}, {0.0, 0.0, 0.0}};
    CHECK(error_of([&] { m.fit(x1); }) == "fit: the data have d = 3 columns but the init parameters have d = 2");
  }
  {
    Options o = options(2, CovarianceType::full);
    o.tol = -1;
    CHECK(error_of([&] { GaussianMixture m(o); }) == "tol must be >= 0, got -1");
    CHECK(error_of([] { tz::models::gmm::parse_covariance_type("ful"); }) ==
          "covariance type 'ful' is not one of full, tied, diag, spherical");
    CHECK(error_of([] { GaussianMixture m(options(0, CovarianceType::full)); }) ==
          "n_components (k) must be at least 1, got 0");
  }
}

TEST_CASE("a collapsing component is named, with a suggestion of reg_covar") {
  // 60 points around the origin and 3 identical points at (10, 10); component 1 starts there
  tz::Rng rng(8);
  Matrix x = Matrix::from_shape({63, 2});
  for (std::size_t n = 0; n < 60; ++n) x(n, 0) = rng.normal(), x(n, 1) = rng.normal();
  for (std::size_t n = 60; n < 63; ++n) x(n, 0) = 10.0, x(n, 1) = 10.0;
  Parameters p;
  p.weights = {0.5, 0.5};
  p.means = {{0.0, 0.0}, {10.0, 10.0}};
  p.covariances = xt::xarray<double>{{{1.0, 0.0}, {0.0, 1.0}}, {{1.0, 0.0}, {0.0, 1.0}}};
  for (CovarianceType type : {CovarianceType::full, CovarianceType::diag}) {
    CAPTURE(tz::models::gmm::to_string(type));
    Options o = options(2, type);
    o.reg_covar = 0;
    if (type == CovarianceType::diag) p.covariances = xt::xarray<double>{{1.0, 1.0}, {1.0, 1.0}};
    o.init_parameters = p;
    GaussianMixture m(o);
    try {
      m.fit(x);
      FAIL("no ComponentCollapse");
    } catch (const tz::models::gmm::ComponentCollapse& e) {
      CHECK(e.component() == 1);
      const std::string msg = e.what();
      CHECK(msg.find("fit: initialisation 1 of 1, EM iteration ") == 0);
      CHECK(msg.find(": component 1 has collapsed onto N_k = 3 of 63 points") != std::string::npos);
      CHECK(msg.find("Increase reg_covar (now 0), or use fewer components (k = 2)") != std::string::npos);
    }
    // with the default reg_covar the same fit goes through, and component 1 keeps variance 1e-6
    o.reg_covar = 1e-6;
    GaussianMixture ok(o);
    ok.fit(x);
    const double var1 = type == CovarianceType::full ? ok.covariances()(1, 0, 0) : ok.covariances()(1, 0);
    CHECK(var1 == doctest::Approx(1e-6).epsilon(1e-6));
    CHECK(ok.weights()(1) == doctest::Approx(3.0 / 63).epsilon(1e-9));
  }
}

// ---- the kernels against plain formulas ----------------------------------------------------------------

namespace {

// log N(x | μ, Σ) the long way: L = chol(Σ), z = L⁻¹(x − μ), −½(D log 2π + 2 Σ log L_dd + ‖z‖²)
double naive_log_normal(const double* x, const double* mu, const Matrix& cov) {
  const std::size_t D = cov.shape(0);
  const Matrix L = tz::cholesky_lower(cov);
  std::vector<double> z(D);
  double log_det = 0, quad = 0;
  for (std::size_t i = 0; i < D; ++i) {
    double s = x[i] - mu[i];
    for (std::size_t j = 0; j < i; ++j) s -= L(i, j) * z[j];
    z[i] = s / L(i, i);
    quad += z[i] * z[i];
    log_det += 2 * std::log(L(i, i));
  }
  return -0.5 * (static_cast<double>(D) * std::log(2 * M_PI) + log_det + quad);
}

// Σ_k of component k as a full D×D matrix, whatever the covariance type
Matrix full_covariance(const GaussianMixture& m, std::size_t k) {
  const std::size_t D = m.n_features();
  Matrix c = xt::zeros<double>({D, D});
  const auto& C = m.covariances();
  for (std::size_t i = 0; i < D; ++i)
    for (std::size_t j = 0; j < D; ++j) switch (m.options().covariance_type) {
        case CovarianceType::full: c(i, j) = C(k, i, j); break;
        case CovarianceType::tied: c(i, j) = C(i, j); break;
        case CovarianceType::diag: c(i, j) = i == j ? C(k, i) : 0.0; break;
        case CovarianceType::spherical: c(i, j) = i == j ? C(k) : 0.0; break;
      }
  return c;
}

Matrix spread_data(std::size_t n, std::size_t d, tz::Rng& rng) {
  Matrix x = Matrix::from_shape({n, d});
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < d; ++j) x(i, j) = rng.normal() * (1.0 + 0.1 * j) + (i % 3) * 2.0;
  return x;
}

}  // namespace

TEST_CASE("E-step and M-step kernels match the textbook formulas (SIMD path D=10, BLAS path D=40)") {
  tz::Rng rng(21);
  for (std::size_t D : {1, 10, 40}) {
    // 203 rows: three full blocks of 64 and a partial one
    const Matrix x = spread_data(203, D, rng);
    Matrix resp = Matrix::from_shape({203, 3});
    for (std::size_t n = 0; n < 203; ++n) {
      double s = 0;
      for (std::size_t k = 0; k < 3; ++k) s += (resp(n, k) = rng.uniform() + 0.05);
      for (std::size_t k = 0; k < 3; ++k) resp(n, k) /= s;
    }
    for (CovarianceType type : kAllTypes) {
      CAPTURE(D);
      CAPTURE(tz::models::gmm::to_string(type));
      GaussianMixture m(options(3, type));
      m.m_step(x, resp);
      // M-step: N_k, π_k, μ_k and Σ_k by plain loops
      const double reg = m.options().reg_covar;
      std::vector<double> nk(3, 0.0);
      for (std::size_t n = 0; n < 203; ++n)
        for (std::size_t k = 0; k < 3; ++k) nk[k] += resp(n, k);
      Matrix pooled = xt::zeros<double>({D, D});
      for (std::size_t k = 0; k < 3; ++k) {
        CHECK(m.weights()(k) == doctest::Approx(nk[k] / 203).epsilon(1e-12));
        std::vector<double> mu(D, 0.0);
        for (std::size_t n = 0; n < 203; ++n)
          for (std::size_t i = 0; i < D; ++i) mu[i] += resp(n, k) * x(n, i) / nk[k];
        for (std::size_t i = 0; i < D; ++i) CHECK(m.means()(k, i) == doctest::Approx(mu[i]).epsilon(1e-11));
        Matrix S = xt::zeros<double>({D, D});
        for (std::size_t n = 0; n < 203; ++n)
          for (std::size_t i = 0; i < D; ++i)
            for (std::size_t j = 0; j < D; ++j) S(i, j) += resp(n, k) * (x(n, i) - mu[i]) * (x(n, j) - mu[j]);
        pooled += S;
        const Matrix got = full_covariance(m, k);
        double trace = 0;
        for (std::size_t i = 0; i < D; ++i) trace += S(i, i) / nk[k];
        for (std::size_t i = 0; i < D; ++i)
          for (std::size_t j = 0; j < D; ++j) {
            double want = 0;
            if (type == CovarianceType::full) want = S(i, j) / nk[k] + (i == j ? reg : 0.0);
            if (type == CovarianceType::diag) want = i == j ? S(i, i) / nk[k] + reg : 0.0;
            if (type == CovarianceType::spherical) want = i == j ? trace / D + reg : 0.0;
            if (type != CovarianceType::tied) CHECK(got(i, j) == doctest::Approx(want).epsilon(1e-10).scale(1.0));
          }
      }
      if (type == CovarianceType::tied)
        for (std::size_t i = 0; i < D; ++i)
          for (std::size_t j = 0; j < D; ++j)
            CHECK(m.covariances()(i, j) ==
                  doctest::Approx(pooled(i, j) / 203 + (i == j ? reg : 0.0)).epsilon(1e-10).scale(1.0));
      // E-step: log p(x_n) = log Σ_k π_k N(x_n | μ_k, Σ_k), each N the long way
      const Vector log_p = m.score_samples(x);
      for (std::size_t n = 0; n < 203; n += 5) {
        double p = 0;
        for (std::size_t k = 0; k < 3; ++k)
          p += m.weights()(k) * std::exp(naive_log_normal(&x(n, 0), &m.means()(k, 0), full_covariance(m, k)));
        CHECK(log_p(n) == doctest::Approx(std::log(p)).epsilon(1e-10));
      }
    }
  }
}

TEST_CASE("parameters survive an .npz round trip; a broken file is named") {
  const GaussianMixture m = model_with(CovarianceType::full, hand_parameters(CovarianceType::full));
  const std::string path =
      (std::filesystem::temp_directory_path() / ("tapezoo-test-gmm-" + std::to_string(::getpid()) + ".npz")).string();
  tz::models::gmm::save_parameters(path, m);
  const Parameters p = tz::models::gmm::load_parameters(path);
  CHECK(p.weights == m.weights());
  CHECK(p.means == m.means());
  CHECK(p.covariances == m.covariances());
  GaussianMixture back(options(2, CovarianceType::full));
  back.set_parameters(p);
  CHECK(back.precisions_cholesky() == m.precisions_cholesky());
  tz::save_npz(path, std::vector<std::pair<std::string, xt::xarray<double>>>{{"weights", m.weights()},
                                                                            {"means", m.means()}});
  CHECK(error_of([&] { tz::models::gmm::load_parameters(path); }) ==
        path + ": missing the array 'covariances' (a mixture needs weights, means and covariances; the file has "
               "means, weights)");
  std::remove(path.c_str());
}

// ---- the autograd cross-checks (models/gmm_gd.cpp) ------------------------------------------------------

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

// ---- agreement with scikit-learn ------------------------------------------------------------------------

namespace {

using tz::test::run;
using tz::test::run_status;
using tz::test::tapezoo_program;

// The number after "key": in a JSON line (enough for our flat objects).
double json_number(const std::string& json, const std::string& key) {
  const auto pos = json.rfind("\"" + key + "\": ");
  REQUIRE_MESSAGE(pos != std::string::npos, "no " << key << " in " << json);
  return std::strtod(json.c_str() + pos + key.size() + 4, nullptr);
}

}  // namespace

TEST_CASE("fit gmm --json agrees with scikit-learn on the same data and start") {
  if (std::system("/usr/bin/python3 -c 'import sklearn' > /dev/null 2>&1") != 0) {
    MESSAGE("skipped: /usr/bin/python3 cannot import sklearn (apt-get install python3-sklearn)");
    return;
  }
  const std::filesystem::path program = tapezoo_program();
  REQUIRE_MESSAGE(std::filesystem::exists(program), program << " is missing: build the whole project");
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("tapezoo-test-gmm-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string data = (dir / "x.npy").string(), start = (dir / "start.npz").string(),
                    script = (dir / "sk.py").string();
  tz::save_npy(data, overlapping_data(800, 31));
  std::ofstream(script) << R"(import os, sys
os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = "1"
import warnings
warnings.simplefilter("ignore")  # tol = 0 never converges, by design
import numpy as np
from sklearn.mixture import GaussianMixture
x, s, cov_type = np.load(sys.argv[1]), np.load(sys.argv[2]), sys.argv[3]
c = s["covariances"]
prec = np.array([np.linalg.inv(a) for a in c]) if cov_type == "full" else np.linalg.inv(c) if cov_type == "tied" else 1 / c
gm = GaussianMixture(len(s["weights"]), covariance_type=cov_type, tol=0, max_iter=int(sys.argv[4]),
                     weights_init=s["weights"], means_init=s["means"], precisions_init=prec).fit(x)
print(repr(gm.score(x)), repr(gm.lower_bound_), gm.n_iter_)
)";
  for (CovarianceType type : kAllTypes) {
    const std::string cov(tz::models::gmm::to_string(type));
    CAPTURE(cov);
    // a start away from the optimum: the hand-computed parameters, stretched to k = 3
    Parameters p = hand_parameters(type);
    GaussianMixture m0(options(2, type));
    m0.set_parameters(p);
    tz::models::gmm::save_parameters(start, m0);
    for (std::size_t iters : {1, 40}) {
      CAPTURE(iters);
      const std::string ours = run(program.string() + " fit gmm --data " + data + " --k 2 --cov " + cov +
                                   " --init-from " + start + " --tol 0 --iters " + std::to_string(iters) +
                                   " --json 2> /dev/null");
      const std::string theirs =
          run("/usr/bin/python3 " + script + " " + data + " " + start + " " + cov + " " + std::to_string(iters));
      std::istringstream in(theirs);
      double sk_score = 0, sk_lower_bound = 0;
      std::size_t sk_iters = 0;
      in >> sk_score >> sk_lower_bound >> sk_iters;
      CHECK(json_number(ours, "iters") == sk_iters);
      CHECK(json_number(ours, "avg_loglik") == doctest::Approx(sk_score).epsilon(1e-6));
      CHECK(json_number(ours, "lower_bound") == doctest::Approx(sk_lower_bound).epsilon(1e-6));
      // in fact they agree to rounding
      CHECK(std::abs(json_number(ours, "avg_loglik") - sk_score) <= 1e-10 * std::abs(sk_score));
    }
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("fit gmm: bad flags and inputs exit nonzero, naming the flag or the file") {
  const std::filesystem::path program = tapezoo_program();
  REQUIRE_MESSAGE(std::filesystem::exists(program), program << " is missing: build the whole project");
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("tapezoo-test-gmm-cli-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string good = (dir / "x.csv").string(), nan = (dir / "nan.csv").string(),
                    start = (dir / "start.npz").string(), out = (dir / "fit.npz").string();
  std::ofstream(good) << "a,b\n0,1\n1,0\n2,2\n3,1\n";
  std::ofstream(nan) << "0,1\n1,nan\n2,2\n";
  tz::models::gmm::save_parameters(start, model_with(CovarianceType::full, hand_parameters(CovarianceType::full)));
  const std::string fit = program.string() + " fit gmm ";
  struct Case {
    std::string args, message;
  };
  const Case cases[] = {
      {"--data " + good + " --k 5", "--data " + good + ": fit: k = 5 components but only n = 4 data points"},
      {"--data " + nan + " --k 1", "--data " + nan + ": fit: data row 1, column 1 is nan"},
      {"--data " + (dir / "missing.csv").string() + " --k 2", "--data: " + (dir / "missing.csv").string() + ": cannot open"},
      {"--data " + good + " --k 3 --init-from " + start,
       "--init-from " + start + ": weights has shape [2] but k = 3 expects [3]"},
      {"--data " + good + " --k 2 --cov diag --init-from " + start,
       "--init-from " + start + ": covariances has shape [2,2,2] but covariance type 'diag' with k = 2, d = 2 expects [2,2]"},
      {"--data " + good + " --k 2 --cov ful", "--cov: expected one of full, tied, diag or spherical, got ful"},
      {"--data " + good + " --k 0", "--k: expected a positive integer, got 0"},
      {"--data " + good + " --k 2 --init random --init-from " + start, "excludes"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.args);
    const auto [status, text] = run_status(fit + c.args);
    CHECK(status != 0);
    CHECK_MESSAGE(text.find(c.message) != std::string::npos, text);
  }
  // and the good case writes --out, which --init-from reads back to the same fit
  const auto [status, text] = run_status(fit + "--data " + good + " --k 2 --seed 1 --out " + out + " --json");
  CHECK(status == 0);
  const Parameters p = tz::models::gmm::load_parameters(out);
  CHECK(p.weights.size() == 2);
  const auto [status2, text2] = run_status(fit + "--data " + good + " --k 2 --init-from " + out + " --json");
  CHECK(status2 == 0);
  CHECK(json_number(text2, "avg_loglik") == doctest::Approx(json_number(text, "avg_loglik")).epsilon(1e-9));
  std::filesystem::remove_all(dir);
}
