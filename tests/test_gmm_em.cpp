// Tests of models/gmm_em.cpp and models/gmm_kernels.cpp: EM's monotone lower bound, recovery of a
// known mixture, seeds and n_init, collapse, the kernels against plain formulas, and the textbook
// path against the fast path.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "autograd/random.hpp"
#include "datasets/synthetic.hpp"
#include "models/gmm.hpp"
#include "tests/gmm_test_data.hpp"
#include "autograd/path.hpp"

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

// ---- the textbook path against the fast path ---------------------------------------------------------
//
// e_step_fast and m_step_fast (the kernels of models/gmm_kernels.cpp) compute the formulas of
// e_step_textbook and m_step_textbook in another order: 64 points at a time, with FMAs, xsimd's exp
// and log, and the second moments taken about the old means and moved to the new ones (parallel
// axes). So they agree to rounding, not bit for bit. The tolerances, in float64 (ε = 2.2e-16):
//   log ρ_nk sums D(D+1)/2 products and a few constants; every rounding is at most ε relative to the
//   largest partial sum, which is of the size of |log ρ_nk| (the near-collapsed component puts far
//   points millions of nats away, so this scale matters). With D ≤ 10 that is a few hundred
//   ε·(1 + |log ρ|), and xsimd's exp and log add a few ulps. So
//     |Δ log p(x_n)| ≤ kTol (1 + max_k |log ρ_nk|),   |Δ r_nk| ≤ kTol (1 + max_k |log ρ_nk|)
//   with kTol = 1e-12 ≈ 4500 ε: a margin of more than ten over the estimate, and still a million
//   times smaller than what a wrong formula gives (the "can fail" check below moves one mean by 1e-6).
//   M-step: sums of N ≤ 600 terms, each relative error ≤ N ε ≈ 1.3e-13 of the sum of |terms|; the
//   parallel-axis form loses |m2|/|S| more, ≤ 10 here. So parameters agree to 1e-11 relative to the
//   largest entry of their array.
namespace {

constexpr double kTol = 1e-12;
constexpr double kEps = std::numeric_limits<double>::epsilon();

// max_n ‖x_n − x̄‖²
double max_squared_distance(const Matrix& x) {
  const std::size_t N = x.shape(0), D = x.shape(1);
  std::vector<double> mean(D, 0.0);
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t d = 0; d < D; ++d) mean[d] += x(n, d) / static_cast<double>(N);
  double worst = 0;
  for (std::size_t n = 0; n < N; ++n) {
    double s = 0;
    for (std::size_t d = 0; d < D; ++d) s += (x(n, d) - mean[d]) * (x(n, d) - mean[d]);
    worst = std::max(worst, s);
  }
  return worst;
}

struct Case {
  std::string name;
  Matrix x;
  std::size_t k;
};

// The data sets: overlapping 2-D clusters; a near-collapsed component (30 points within 1e-3 of one
// spot beside two wide clusters); D = 1; D = 10 (the kernels' SIMD path).
std::vector<Case> textbook_cases() {
  tz::Rng rng(5);
  std::vector<Case> cases;
  cases.push_back({"overlapping, D = 2", overlapping_data(400, 11), 3});
  Matrix tight = overlapping_data(300, 12);
  for (std::size_t n = 0; n < 30; ++n) {
    tight(n, 0) = 6.0 + 1e-3 * rng.normal();
    tight(n, 1) = -4.0 + 1e-3 * rng.normal();
  }
  cases.push_back({"near-collapsed component, D = 2", tight, 3});
  Matrix line = Matrix::from_shape({250, 1});
  for (std::size_t n = 0; n < 250; ++n) line(n, 0) = (n % 2 ? 3.0 : -1.0) + (n % 2 ? 0.5 : 1.0) * rng.normal();
  cases.push_back({"D = 1", line, 2});
  cases.push_back({"D = 10", spread_data(203, 10, rng), 3});
  return cases;
}

// The smallest variance on the diagonal of any Σ_k.
double smallest_variance(const GaussianMixture& m) {
  double v = HUGE_VAL;
  const auto& C = m.covariances();
  const std::size_t D = m.n_features();
  for (std::size_t k = 0; k < m.n_components(); ++k)
    for (std::size_t d = 0; d < D; ++d) switch (m.options().covariance_type) {
        case CovarianceType::full: v = std::min(v, C(k, d, d)); break;
        case CovarianceType::tied: v = std::min(v, C(d, d)); break;
        case CovarianceType::diag: v = std::min(v, C(k, d)); break;
        case CovarianceType::spherical: v = std::min(v, C(k)); break;
      }
  return v;
}

// 1 + max_k |log ρ_nk| for each point: the scale of that point's rounding (see above).
std::vector<double> log_rho_scale(const GaussianMixture& m, const Matrix& x) {
  const Matrix log_rho = m.log_joint(x);
  std::vector<double> scale(x.shape(0), 1.0);
  for (std::size_t n = 0; n < x.shape(0); ++n)
    for (std::size_t k = 0; k < log_rho.shape(1); ++k) scale[n] = std::max(scale[n], 1 + std::abs(log_rho(n, k)));
  return scale;
}

// max_n max_k |a_nk − b_nk| / scale_n
double scaled_difference(const Matrix& a, const Matrix& b, const std::vector<double>& scale) {
  double worst = 0;
  for (std::size_t n = 0; n < a.shape(0); ++n)
    for (std::size_t k = 0; k < a.shape(1); ++k) worst = std::max(worst, std::abs(a(n, k) - b(n, k)) / scale[n]);
  return worst;
}

// max |a − b| / max(1, max |a|) over two arrays of one shape
template <class A>
double relative_difference(const A& a, const A& b) {
  REQUIRE(a.shape() == b.shape());
  double worst = 0, size = 1;
  for (std::size_t i = 0; i < a.size(); ++i) size = std::max(size, std::abs(a.data()[i]));
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a.data()[i] - b.data()[i]));
  return worst / size;
}

// A model a few EM iterations in (fast path), so that the components are distinct and uneven.
GaussianMixture partly_fitted(const Case& c, CovarianceType type) {
  Options o = options(c.k, type);
  o.max_iter = 4;
  o.seed = 3;
  GaussianMixture m(o);
  tz::PathScope fast(tz::Path::fast);
  m.fit(c.x);
  return m;
}

}  // namespace

TEST_CASE("textbook and fast E-steps give the same responsibilities and log-likelihood") {
  for (const Case& c : textbook_cases())
    for (CovarianceType type : kAllTypes) {
      CAPTURE(c.name);
      CAPTURE(tz::models::gmm::to_string(type));
      const GaussianMixture m = partly_fitted(c, type);
      if (c.name.starts_with("near-collapsed") && type != CovarianceType::tied)
        CHECK(smallest_variance(m) < 1e-5);  // one component has shrunk onto the tight spot
      const std::vector<double> scale = log_rho_scale(m, c.x);
      Matrix r_book, r_fast;
      const double ll_book = m.e_step_textbook(c.x, r_book), ll_fast = m.e_step_fast(c.x, r_fast);
      const double r_diff = scaled_difference(r_book, r_fast, scale);
      CHECK(r_diff <= kTol);
      double mean_scale = 0;
      for (double s : scale) mean_scale += s / static_cast<double>(scale.size());
      CHECK(std::abs(ll_book - ll_fast) <= kTol * mean_scale);
      // score_samples by each path: log p(x_n) point by point
      Vector lp_book, lp_fast;
      {
        tz::PathScope book(tz::Path::textbook);
        lp_book = m.score_samples(c.x);
      }
      {
        tz::PathScope fast(tz::Path::fast);
        lp_fast = m.score_samples(c.x);
      }
      for (std::size_t n = 0; n < c.x.shape(0); ++n) CHECK(std::abs(lp_book(n) - lp_fast(n)) <= kTol * scale[n]);
    }
}

TEST_CASE("the tolerance can fail: moving one mean by 1e-6 breaks the E-step agreement") {
  const Case c = textbook_cases()[0];
  const GaussianMixture m = partly_fitted(c, CovarianceType::full);
  Parameters p = m.parameters();
  p.means(0, 0) += 1e-6;
  GaussianMixture moved(options(c.k, CovarianceType::full));
  moved.set_parameters(p);
  Matrix r_book, r_moved;
  m.e_step_textbook(c.x, r_book);
  moved.e_step_fast(c.x, r_moved);
  CHECK(scaled_difference(r_book, r_moved, log_rho_scale(m, c.x)) > 100 * kTol);
}

TEST_CASE("textbook and fast M-steps give the same parameters from the same responsibilities") {
  for (const Case& c : textbook_cases())
    for (CovarianceType type : kAllTypes) {
      CAPTURE(c.name);
      CAPTURE(tz::models::gmm::to_string(type));
      GaussianMixture book = partly_fitted(c, type), fast = book;
      Matrix resp;
      book.e_step_textbook(c.x, resp);
      book.m_step_textbook(c.x, resp);
      fast.m_step_fast(c.x, resp);
      CHECK(relative_difference(book.weights(), fast.weights()) <= 1e-11);
      CHECK(relative_difference(book.means(), fast.means()) <= 1e-11);
      CHECK(relative_difference(book.covariances(), fast.covariances()) <= 1e-11);
      CHECK(relative_difference(book.precisions_cholesky(), fast.precisions_cholesky()) <= 1e-11);
    }
}

TEST_CASE("textbook and fast fit() runs agree: iterations, convergence, final lower bound") {
  for (const Case& c : textbook_cases())
    for (CovarianceType type : kAllTypes) {
      CAPTURE(c.name);
      CAPTURE(tz::models::gmm::to_string(type));
      Options o = options(c.k, type);
      o.n_init = 2;
      o.seed = 8;
      GaussianMixture book(o), fast(o);
      {
        tz::PathScope path(tz::Path::textbook);
        book.fit(c.x);
      }
      {
        tz::PathScope path(tz::Path::fast);
        fast.fit(c.x);
      }
      CHECK(book.n_iter() == fast.n_iter());
      CHECK(book.converged() == fast.converged());
      // The lower bounds step by step. The first one follows the initialisation's M-step, whose
      // k-means++ responsibilities are one-hot: each Σ_k is reg_covar I plus a scatter that is 0,
      // which the fast path's parallel-axis form gets as a difference of second moments of size
      // up to max_n ‖x_n − x̄‖², so to within ε of that. Relative to reg_covar this is an error
      // of ε max‖x_n − x̄‖² / reg_covar in Σ_k, and so in log ρ (a factor 16 of margin). Later
      // bounds are ordinary: within 1e-10 relative (100 times the E-step's kTol, for the M-steps' N ε).
      REQUIRE(book.lower_bounds().size() == fast.lower_bounds().size());
      for (std::size_t i = 0; i < book.lower_bounds().size(); ++i) {
        const double rel = i == 0 ? 16 * kEps * max_squared_distance(c.x) / o.reg_covar : 1e-10;
        CAPTURE(i);
        CHECK(std::abs(book.lower_bounds()[i] - fast.lower_bounds()[i]) <= rel * (1 + std::abs(fast.lower_bounds()[i])));
      }
      CHECK(relative_difference(book.means(), fast.means()) <= 1e-9);
    }
}
