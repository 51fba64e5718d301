// distributions: closed forms, hand computations, seeded Monte-Carlo estimates and gradchecks.
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/gradcheck.hpp"
#include "tests/test_helpers.hpp"
#include "distributions/distributions.hpp"

using namespace tz;
using tz::test::mat;
using A = Array<double>;
using Vs = std::vector<Var<double>>;

TEST_CASE("log_normal against the closed form, by hand") {
  Tape<double> t;
  // x = [1, 2], m = [0, 0], v = [1, 4]: −½[2 log 2π + log 4 + 1 + 1]
  Var<double> lp = log_normal(t.constant(mat({{1.0, 2.0}})), t.constant(mat({{0.0, 0.0}})), t.constant(mat({{1.0, 4.0}})));
  CHECK(lp.shape().size() == 1);
  CHECK(lp.value()(0) == doctest::Approx(-0.5 * (2 * std::log(2 * M_PI) + std::log(4.0) + 2.0)).epsilon(1e-15));
}

TEST_CASE("log_normal_mixture: one component is log_normal; two components by hand; weights") {
  Tape<double> t;
  Var<double> z = t.constant(mat({{0.5, -1.0}, {2.0, 0.0}}));
  Var<double> m1 = t.constant(mat({{0.0, 0.0}})), v1 = t.constant(mat({{1.0, 2.0}}));
  A one = log_normal_mixture(z, m1, v1).value();
  A direct = log_normal(z, m1, v1).value();
  CHECK(one(0) == doctest::Approx(direct(0)).epsilon(1e-14));
  CHECK(one(1) == doctest::Approx(direct(1)).epsilon(1e-14));
  Var<double> m2 = t.constant(mat({{0.0, 0.0}, {2.0, 1.0}})), v2 = t.constant(mat({{1.0, 2.0}, {0.5, 0.5}}));
  A mix = log_normal_mixture(z, m2, v2).value();
  auto logn = [](double x, double m, double v) { return -0.5 * (std::log(2 * M_PI * v) + (x - m) * (x - m) / v); };
  const double a = logn(0.5, 0, 1) + logn(-1, 0, 2), b = logn(0.5, 2, 0.5) + logn(-1, 1, 0.5);
  CHECK(mix(0) == doctest::Approx(std::log(0.5 * std::exp(a) + 0.5 * std::exp(b))).epsilon(1e-13));
  A w = log_normal_mixture(z, m2, v2, t.constant(A{std::log(0.2), std::log(0.8)})).value();
  CHECK(w(0) == doctest::Approx(std::log(0.2 * std::exp(a) + 0.8 * std::exp(b))).epsilon(1e-13));
}

TEST_CASE("log_bernoulli_with_logits is stable at ±100 in float32 and has gradient x − σ(l)") {
  Tape<float> t;
  Var<float> l = t.leaf(mat<float>({{-100.f, 100.f, 0.f, 3.f}}));
  Var<float> x = t.constant(mat<float>({{1.f, 0.f, 1.f, 1.f}}));
  Var<float> lp = log_bernoulli_with_logits(x, l);
  // x=1,l=-100: log σ(−100) = −100 (log(sigmoid) in float would be −inf: σ(−100) underflows)
  const double expect = -100.0 - 100.0 - std::log(2.0) - std::log1p(std::exp(-3.0));
  CHECK(std::isfinite(lp.value()(0)));
  CHECK(lp.value()(0) == doctest::Approx(expect).epsilon(1e-6));
  t.backward(sum(lp));
  Array<float> g = l.grad();
  CHECK(g(0, 0) == doctest::Approx(1.0).epsilon(1e-6));   // 1 − σ(−100)
  CHECK(g(0, 1) == doctest::Approx(-1.0).epsilon(1e-6));  // 0 − σ(100)
  CHECK(g(0, 2) == doctest::Approx(0.5));
  CHECK(g(0, 3) == doctest::Approx(1 - 1 / (1 + std::exp(-3.0))).epsilon(1e-6));
}

TEST_CASE("kl_normal: 0 for equal Gaussians, the closed form by hand, and a seeded Monte-Carlo estimate") {
  Tape<double> t;
  Var<double> qm = t.constant(mat({{0.3, -1.0}})), qv = t.constant(mat({{0.5, 2.0}}));
  Var<double> pm = t.constant(mat({{0.0, 0.0}})), pv = t.constant(mat({{1.0, 1.0}}));
  CHECK(kl_normal(qm, qv, qm, qv).value()(0) == doctest::Approx(0.0).scale(1.0));
  const double closed = 0.5 * (-std::log(0.5) + 0.5 + 0.09 - 1) + 0.5 * (-std::log(2.0) + 2.0 + 1.0 - 1);
  const double kl = kl_normal(qm, qv, pm, pv).value()(0);
  CHECK(kl == doctest::Approx(closed).epsilon(1e-14));
  // E_q[log q(z) − log p(z)] with 200,000 seeded draws; the standard error is below 0.004.
  Rng rng(123);
  const std::size_t n = 200000;
  A eps = rng.normal<double>({n, 2});
  Var<double> z = sample_gaussian(broadcast_to(qm, {n, 2}), broadcast_to(qv, {n, 2}), t.constant(eps));
  A diff = log_normal(z, broadcast_to(qm, {n, 2}), broadcast_to(qv, {n, 2})).value() -
           log_normal(z, broadcast_to(pm, {n, 2}), broadcast_to(pv, {n, 2})).value();
  double mean = 0, sq = 0;
  for (double d : diff) mean += d;
  mean /= n;
  for (double d : diff) sq += (d - mean) * (d - mean);
  const double se = std::sqrt(sq / (n - 1) / n);
  CHECK(std::abs(mean - kl) < 4 * se);
  CHECK(se < 0.004);
}

TEST_CASE("kl_std_normal: ½ Σ_j (v_j + m_j² − 1 − log v_j) by hand, and kl_normal(m, v, 0, 1)") {
  Tape<double> t;
  // Row 0: m = (1, 0), v = (1, e): ½ [(1 + 1 − 1 − 0) + (e + 0 − 1 − 1)] = ½ (e − 1)
  // Row 1: m = (0, 0), v = (1, 1): 0, the KL of the prior to itself
  Var<double> m = t.constant(mat({{1.0, 0.0}, {0.0, 0.0}}));
  Var<double> v = t.constant(mat({{1.0, std::exp(1.0)}, {1.0, 1.0}}));
  const A kl = kl_std_normal(m, v).value();
  REQUIRE(kl.shape() == std::vector<std::size_t>{2});
  CHECK(kl(0) == doctest::Approx(0.5 * (std::exp(1.0) - 1)).epsilon(1e-15));
  CHECK(kl(1) == 0.0);
  // Against the general KL with the prior's parameters 0 and 1, on values of every size: the same
  // operations in the same order less exact ones (log 1 = 0, x/1 = x), so equal to the bit.
  Var<double> m3 = t.constant(mat({{0.3, -1.2, 2.0}, {1e-3, 40.0, -0.5}}));
  Var<double> v3 = t.constant(mat({{0.5, 1e-6, 2.0}, {0.2, 1.0, 300.0}}));
  const A a = kl_std_normal(m3, v3).value(), b = kl_normal(m3, v3, t.scalar(0), t.scalar(1)).value();
  for (std::size_t i = 0; i < 2; ++i) CHECK(a(i) == b(i));
  // The hand value of row 0: ½ Σ_j (v_j + m_j² − 1 − log v_j).
  double hand = 0;
  const double mm[3] = {0.3, -1.2, 2.0}, vv[3] = {0.5, 1e-6, 2.0};
  for (int j = 0; j < 3; ++j) hand += 0.5 * (vv[j] + mm[j] * mm[j] - 1 - std::log(vv[j]));
  CHECK(a(0) == doctest::Approx(hand).epsilon(1e-14));
  // And in float32 (what training runs in), equal to kl_normal's to the bit as well.
  Tape<float> tf;
  Var<float> mf = tf.constant(mat<float>({{0.3f, -1.2f, 2.0f}})), vf = tf.constant(mat<float>({{0.5f, 1e-6f, 2.0f}}));
  CHECK(kl_std_normal(mf, vf).value()(0) == kl_normal(mf, vf, tf.scalar(0), tf.scalar(1)).value()(0));
}

TEST_CASE("log_mean_exp over doubles: the direct formula, and stable at −1000 and +1000") {
  // Small values: log((1/n) Σ e^{x_i}) directly.
  const double x[3] = {0.5, -1.0, 2.0};
  CHECK(log_mean_exp(x, 3) == doctest::Approx(std::log((std::exp(0.5) + std::exp(-1.0) + std::exp(2.0)) / 3)).epsilon(1e-15));
  CHECK(log_mean_exp(x, 1) == 0.5);
  // −1000: e^{−1000} is 0 in double, so the direct formula gives −inf; the stable one
  // −1000 + log((1 + 1 + 4)/3) = −1000 + log 2.
  const double low[3] = {-1000.0, -1000.0, -1000.0 + std::log(4.0)};
  CHECK(std::log((std::exp(low[0]) + std::exp(low[1]) + std::exp(low[2])) / 3) == -INFINITY);
  CHECK(log_mean_exp(low, 3) == doctest::Approx(-1000.0 + std::log(2.0)).epsilon(1e-15));
  // +1000: e^{1000} is inf; the stable form gives 1000 + log((1 + e^{−1})/2).
  const double high[2] = {1000.0, 999.0};
  CHECK(std::exp(high[0]) == INFINITY);
  CHECK(log_mean_exp(high, 2) == doctest::Approx(1000.0 + std::log((1 + std::exp(-1.0)) / 2)).epsilon(1e-15));
  // −1000 beside +1000: the small one vanishes, log((e^{1000} + e^{−1000})/2) = 1000 − log 2.
  const double both[2] = {-1000.0, 1000.0};
  CHECK(log_mean_exp(both, 2) == doctest::Approx(1000.0 - std::log(2.0)).epsilon(1e-15));
  // A stride reads a column of a row-major [n, 2] array: x[0], x[2], x[4].
  const double cols[6] = {0.5, 9.0, -1.0, 9.0, 2.0, 9.0};
  CHECK(log_mean_exp(cols, 3, 2) == log_mean_exp(x, 3));
  // All −inf (every weight 0) gives −inf, not NaN; no values is an error.
  const double none[2] = {-INFINITY, -INFINITY};
  CHECK(log_mean_exp(none, 2) == -INFINITY);
  CHECK_THROWS_AS(log_mean_exp(x, 0), std::invalid_argument);
}

TEST_CASE("kl_cat, cross_entropy and one_hot by hand") {
  Tape<double> t;
  A q = {{0.25, 0.75}};
  Var<double> kq = kl_cat(t.constant(q), t.constant(A(xt::log(q))), t.constant(mat({{std::log(0.5), std::log(0.5)}})));
  CHECK(kq.value()(0) == doctest::Approx(0.25 * std::log(0.5) + 0.75 * std::log(1.5)).epsilon(1e-14));
  Var<double> ce = cross_entropy(t.constant(mat({{1.0, 2.0, 3.0}, {0.0, 0.0, 0.0}})), {2, 0});
  const double lse = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  CHECK(ce.value()(0) == doctest::Approx(lse - 3.0).epsilon(1e-14));
  CHECK(ce.value()(1) == doctest::Approx(std::log(3.0)).epsilon(1e-14));
  CHECK_THROWS_WITH(one_hot<double>({0, 3}, 3), doctest::Contains("label 3 at row 1"));
}

TEST_CASE("log_mean_exp is exact around −1000, where the naive form underflows to −inf") {
  Tape<double> t;
  A x = {{-1000.0, -1000.0, -1000.0 + std::log(4.0)}};
  Var<double> lme = log_mean_exp(t.constant(x), 1);
  CHECK(lme.value()(0) == doctest::Approx(-1000.0 + std::log(2.0)).epsilon(1e-15));  // log((1+1+4)/3)
  CHECK(std::log(xt::mean(xt::exp(x))()) == -INFINITY);  // what a naive version gives
  Tape<float> tf;
  Var<float> f = log_mean_exp(tf.constant(mat<float>({{-1000.f, -1000.f}})), 1);
  CHECK(f.value()(0) == doctest::Approx(-1000.0));
}

TEST_CASE("gaussian_parameters splits h; variance = softplus + 1e-8 > 0; duplicate tiles the batch") {
  Tape<double> t;
  auto g = gaussian_parameters(t.constant(mat({{1.0, 2.0, -800.0, 0.0}})));
  CHECK(g.m.value() == mat({{1.0, 2.0}}));
  CHECK(g.v.value()(0, 0) == doctest::Approx(1e-8));  // softplus(−800) = 0
  CHECK(g.v.value()(0, 1) == doctest::Approx(std::log(2.0) + 1e-8));
  Var<double> d = duplicate(t.constant(mat({{1.0}, {2.0}})), 3);
  CHECK(d.value() == mat({{1.0}, {2.0}, {1.0}, {2.0}, {1.0}, {2.0}}));
}

TEST_CASE("every distribution passes float64 gradcheck") {
  A x = {{0.3, -1.2, 2.0}, {1.0, 0.0, -0.5}};
  A m = {{0.1, 0.2, -0.3}, {0.0, 1.0, 2.0}};
  A v = {{0.5, 1.5, 2.0}, {0.2, 1.0, 3.0}};
  A bin = {{1.0, 0.0, 1.0}, {0.0, 0.0, 1.0}};
  struct Case {
    const char* name;
    GradFn f;
    std::vector<A> in;
  };
  std::vector<Case> cases = {
      {"log_normal", [](const Vs& a) { return log_normal(a[0], a[1], a[2]); }, {x, m, v}},
      {"log_normal_mixture", [](const Vs& a) { return log_normal_mixture(a[0], a[1], a[2]); }, {x, m, v}},
      {"log_normal_mixture weighted",
       [](const Vs& a) { return log_normal_mixture(a[0], a[1], a[2], log_softmax(a[3], 0)); },
       {x, m, v, A{0.3, -0.2}}},
      {"log_bernoulli_with_logits", [bin](const Vs& a) { return log_bernoulli_with_logits(a[0].tape().constant(bin), a[0]); }, {m * 10.0}},
      {"kl_normal", [](const Vs& a) { return kl_normal(a[0], a[1], a[2], a[3]); }, {x, v, m, v + 0.5}},
      {"kl_std_normal", [](const Vs& a) { return kl_std_normal(a[0], a[1]); }, {m, v}},
      {"kl_cat", [](const Vs& a) { Var<double> q = softmax(a[0], 1); return kl_cat(q, log_softmax(a[0], 1), log_softmax(a[1], 1)); }, {x, m}},
      {"log_mean_exp", [](const Vs& a) { return log_mean_exp(a[0], 1); }, {x * 100.0}},
      {"cross_entropy", [](const Vs& a) { return cross_entropy(a[0], {2, 0}); }, {x}},
      {"gaussian_parameters + sample_gaussian",
       [](const Vs& a) { auto g = gaussian_parameters(a[0]); return sample_gaussian(g.m, g.v, a[0].tape().constant(mat({{0.5}, {-1.0}}))); },
       {mat({{0.1, -2.0}, {3.0, 0.5}})}},
  };
  for (const Case& c : cases) {
    GradcheckResult r = gradcheck(c.name, c.f, c.in);
    CHECK_MESSAGE(r.ok, r.message);
  }
}
