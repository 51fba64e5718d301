// Tests of datasets/synthetic.cpp: the Gaussian mixture (seeded, with its empirical moments against
// the truth), cholesky_lower, two moons and rings.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "datasets/synthetic.hpp"
#include "tests/dataset_helpers.hpp"
#include "tests/test_helpers.hpp"

using tz::test::contains;
using tz::test::invalid_argument;

TEST_CASE("Gaussian mixture: the same seed gives the same data and truth") {
  tz::Rng a(7), b(7), c(8);
  const tz::MixtureData ma = tz::make_gaussian_mixture(500, 4, 3, a);
  const tz::MixtureData mb = tz::make_gaussian_mixture(500, 4, 3, b);
  const tz::MixtureData mc = tz::make_gaussian_mixture(500, 4, 3, c);
  CHECK(ma.x == mb.x);
  CHECK(ma.labels == mb.labels);
  CHECK(ma.truth.means == mb.truth.means);
  CHECK(ma.truth.covs == mb.truth.covs);
  CHECK(ma.truth.weights == mb.truth.weights);
  CHECK(ma.x != mc.x);
  CHECK(ma.x.shape(0) == 500);
  CHECK(ma.x.shape(1) == 3);
}

TEST_CASE("Gaussian mixture: empirical weights, means and covariances match the truth") {
  // N = 200,000, K = 3, D = 2. Standard errors: weights sqrt(p(1-p)/N) < 0.0012; means
  // sqrt(λmax/N_k) < 0.004; covariances about λmax sqrt(2/N_k) < 0.006. Tolerances: 0.01 for
  // weights, 0.03 for means and covariance entries (5+ standard errors).
  tz::Rng rng(2024);
  tz::MixtureOptions opt;
  opt.min_separation = 3.0;
  const std::size_t n = 200000, k = 3, d = 2;
  const tz::MixtureData m = tz::make_gaussian_mixture(n, k, d, rng, opt);
  const tz::MixtureTruth& g = m.truth;
  CHECK(std::accumulate(g.weights.begin(), g.weights.end(), 0.0) == doctest::Approx(1.0).epsilon(1e-12));
  for (std::size_t c = 0; c < k; ++c) {
    CAPTURE(c);
    // Σ_c is symmetric positive definite with eigenvalues in [var_min, var_max] = [0.2, 1].
    const double a = g.covs(c, 0, 0), b = g.covs(c, 0, 1), e = g.covs(c, 1, 1);
    CHECK(g.covs(c, 1, 0) == b);
    const double mid = (a + e) / 2, rad = std::hypot((a - e) / 2, b);
    CHECK(mid - rad >= 0.2 - 1e-12);
    CHECK(mid + rad <= 1.0 + 1e-12);
    for (std::size_t p = 0; p < c; ++p)
      CHECK(std::hypot(g.means(c, 0) - g.means(p, 0), g.means(c, 1) - g.means(p, 1)) >= 3.0);

    double count = 0, sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (m.labels[i] != static_cast<int>(c)) continue;
      const double x = m.x(i, 0), y = m.x(i, 1);
      count += 1, sx += x, sy += y, sxx += x * x, sxy += x * y, syy += y * y;
    }
    const double mx = sx / count, my = sy / count;
    CHECK(std::abs(count / n - g.weights(c)) < 0.01);
    CHECK(std::abs(mx - g.means(c, 0)) < 0.03);
    CHECK(std::abs(my - g.means(c, 1)) < 0.03);
    CHECK(std::abs(sxx / count - mx * mx - a) < 0.03);
    CHECK(std::abs(sxy / count - mx * my - b) < 0.03);
    CHECK(std::abs(syy / count - my * my - e) < 0.03);
  }
}

TEST_CASE("cholesky_lower factors an SPD matrix and rejects an indefinite one") {
  const xt::xtensor<double, 2> a = {{4, 2, -2}, {2, 10, 2}, {-2, 2, 6}};
  const xt::xtensor<double, 2> l = tz::cholesky_lower(a);
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 3; ++j) {
      double s = 0;
      for (std::size_t p = 0; p < 3; ++p) s += l(i, p) * l(j, p);
      CHECK(s == doctest::Approx(a(i, j)).epsilon(1e-14));
      if (j > i) CHECK(l(i, j) == 0.0);
    }
  CHECK(contains(invalid_argument([] { tz::cholesky_lower(xt::xtensor<double, 2>{{1, 2}, {2, 1}}); }),
                 "not positive definite (pivot 1"));
}

TEST_CASE("two moons and rings have their shapes") {
  tz::Rng rng(3);
  // Without noise every point lies exactly on its curve.
  const tz::LabelledPoints moons = tz::make_moons(400, 0.0, rng);
  for (std::size_t i = 0; i < 400; ++i) {
    CAPTURE(i);
    CHECK(moons.labels[i] == static_cast<int>(i % 2));
    const double x = moons.x(i, 0), y = moons.x(i, 1);
    if (moons.labels[i] == 0) {
      CHECK(std::hypot(x, y) == doctest::Approx(1.0).epsilon(1e-12));
      CHECK(y >= 0.0);
    } else {
      CHECK(std::hypot(x - 1.0, y - 0.5) == doctest::Approx(1.0).epsilon(1e-12));
      CHECK(y <= 0.5);
    }
  }
  const tz::LabelledPoints rings = tz::make_rings(300, 0.0, rng, {2.0, 1.0, 0.5});
  for (std::size_t i = 0; i < 300; ++i) {
    CHECK(rings.labels[i] == static_cast<int>(i % 3));
    CHECK(std::hypot(rings.x(i, 0), rings.x(i, 1)) == doctest::Approx(std::vector<double>{2.0, 1.0, 0.5}[i % 3]).epsilon(1e-12));
  }
  // With noise 0.05, the mean radius of each ring stays within 0.01 of its radius (20,000 points,
  // standard error about 0.0005) and the radial spread is about the noise.
  const tz::LabelledPoints noisy = tz::make_rings(20000, 0.05, rng, {1.0, 0.5});
  for (int ring = 0; ring < 2; ++ring) {
    double s = 0, ss = 0, cnt = 0;
    for (std::size_t i = 0; i < 20000; ++i)
      if (noisy.labels[i] == ring) {
        const double r = std::hypot(noisy.x(i, 0), noisy.x(i, 1));
        s += r, ss += r * r, cnt += 1;
      }
    const double mean = s / cnt, sd = std::sqrt(ss / cnt - mean * mean);
    CHECK(std::abs(mean - (ring == 0 ? 1.0 : 0.5)) < 0.01);
    CHECK(sd == doctest::Approx(0.05).epsilon(0.1));
  }
  tz::Rng r1(11), r2(11);
  CHECK(tz::make_moons(100, 0.1, r1).x == tz::make_moons(100, 0.1, r2).x);
}
