// Tests for tz::Rng: determinism, and moments of each draw against their closed forms.
#include <doctest/doctest.h>

#include <cmath>
#include <set>

#include "autograd/random.hpp"

using tz::Rng;

TEST_CASE("the same seed gives the same numbers, a different seed different ones") {
  Rng a(7), b(7), c(8);
  for (int i = 0; i < 100; ++i) {
    const auto x = a.next_u64();
    CHECK(x == b.next_u64());
    CHECK(x != c.next_u64());
  }
  Rng d(3), e(3);
  auto n1 = d.normal<float>({4, 5});
  auto n2 = e.normal<float>({4, 5});
  CHECK(n1 == n2);
}

TEST_CASE("reseeding restarts the stream") {
  Rng a(11);
  const double first = a.uniform();
  a.normal();
  a.reseed(11);
  CHECK(a.uniform() == first);
}

TEST_CASE("uniform and normal moments: mean and variance within 4 standard errors") {
  Rng rng(42);
  const int n = 200000;
  double s = 0, s2 = 0, g = 0, g2 = 0, g4 = 0;
  for (int i = 0; i < n; ++i) {
    double u = rng.uniform();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    s += u;
    s2 += u * u;
    double z = rng.normal();
    g += z;
    g2 += z * z;
    g4 += z * z * z * z;
  }
  // U(0,1): mean 1/2 (sd of the mean 0.289/√n), variance 1/12
  CHECK(std::abs(s / n - 0.5) < 4 * 0.2887 / std::sqrt(n));
  CHECK(std::abs(s2 / n - s / n * (s / n) - 1.0 / 12) < 1e-3);
  // N(0,1): mean 0, E z² = 1 (sd √2/√n), E z⁴ = 3
  CHECK(std::abs(g / n) < 4 / std::sqrt(n));
  CHECK(std::abs(g2 / n - 1) < 4 * std::sqrt(2.0 / n));
  CHECK(std::abs(g4 / n - 3) < 0.05);
}

TEST_CASE("categorical frequencies follow the weights; permutation is a permutation") {
  Rng rng(5);
  std::vector<double> w = {1, 0, 3};  // probabilities 1/4, 0, 3/4
  int counts[3] = {0, 0, 0};
  const int n = 40000;
  for (int i = 0; i < n; ++i) counts[rng.categorical(w)]++;
  CHECK(counts[1] == 0);
  CHECK(std::abs(counts[0] / double(n) - 0.25) < 4 * std::sqrt(0.25 * 0.75 / n));
  auto p = rng.permutation(1000);
  std::set<std::size_t> seen(p.begin(), p.end());
  CHECK(seen.size() == 1000);
  CHECK(*seen.rbegin() == 999);
  CHECK_THROWS_AS(rng.categorical(std::vector<double>{0, 0}), std::invalid_argument);
  CHECK_THROWS_AS(rng.categorical(std::vector<double>{1, -1}), std::invalid_argument);
}

TEST_CASE("bernoulli draws have the probabilities' mean") {
  Rng rng(9);
  xt::xarray<float> p = xt::xarray<float>::from_shape({20000});
  p.fill(0.3f);
  auto x = rng.bernoulli(p);
  double m = 0;
  for (auto v : x) {
    REQUIRE((v == 0.f || v == 1.f));
    m += v;
  }
  m /= x.size();
  CHECK(std::abs(m - 0.3) < 4 * std::sqrt(0.3 * 0.7 / 20000));
}

TEST_CASE("state() and set_state() continue the stream exactly, the kept Box-Muller value included") {
  Rng a(21);
  a.uniform();
  a.normal();  // leaves the pair's second value for the next normal()
  const Rng::State st = a.state();
  CHECK(st.has_spare);
  Rng b(999);
  b.set_state(st);
  for (int i = 0; i < 5; ++i) {
    CHECK(a.normal() == b.normal());  // the kept value first, then fresh pairs
    CHECK(a.next_u64() == b.next_u64());
  }
  Rng c(7);
  c.normal();
  c.normal();  // the pair used up: nothing kept
  CHECK_FALSE(c.state().has_spare);
}

TEST_CASE("fill_normal for float draws normal()'s numbers in normal()'s order, the kept value included") {
  // The float path draws a block of pairs and transforms them together (in xsimd batches where the
  // build has them); each value must be the float of normal()'s double, and the stream after it the
  // same, for sizes around the block of 256 pairs, odd and even, with and without a kept value.
  for (std::size_t n : {1u, 2u, 3u, 8u, 9u, 511u, 512u, 513u, 1025u, 6400u}) {
    for (int kept = 0; kept < 2; ++kept) {
      CAPTURE(n);
      CAPTURE(kept);
      Rng a(17), b(17);
      if (kept) {
        a.normal();
        b.normal();
      }
      xt::xarray<float> x = xt::xarray<float>::from_shape({n});
      a.fill_normal(x, 0.5f, 2.0f);
      std::size_t same = 0;
      for (std::size_t i = 0; i < n; ++i) same += x(i) == static_cast<float>(0.5f + 2.0f * b.normal());
      CHECK(same == n);
      CHECK(a.state().has_spare == b.state().has_spare);
      CHECK(a.normal() == b.normal());  // the kept value, bit for bit, or a fresh pair
      CHECK(a.next_u64() == b.next_u64());
    }
  }
}
