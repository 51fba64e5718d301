// Tests of models/vamp (the VampPrior on the GMVAE's mixture-prior code path): the sampler draws the
// mixture (1/K) Σ_k N(μ_k, σ_k²) of either prior, its mean and covariance within 4 standard errors
// of the closed form, and the same check fails for N(0, I) and for one component alone; the KL term equals
// log q(z|x) − log (1/K) Σ_k N(z; encoder(hardtanh(w_k))) written out by hand; d(−ELBO)/dw matches
// central differences on a tiny model with fixed ε; the registry entry builds a VampPrior whose prior
// parameters are the pseudo-inputs alone; the pictures include pseudo_inputs.png.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "io/png.hpp"
#include "models/vamp.hpp"
#include "tests/test_helpers.hpp"

using tz::Array;
using tz::Rng;
using tz::Tape;
using tz::Var;
using tz::models::GMVAEOptions;
using tz::models::VampPrior;
using namespace tz::test;  // softplus, log_n, binary_rows, TempDir, …

namespace {

// The tiny model of these tests: 16 pixels, hidden width 8, z = 3, K pseudo-inputs.
GMVAEOptions small(std::size_t components) {
  return {.x_dim = 16, .hidden = 8, .z = 3, .components = components, .iwae = {1, 4}};
}

// Pseudo-inputs w spread over [−0.2, 1.2]: distinct components, and some pixels outside [0, 1]
// so that the hardtanh matters.
void spread_pseudo_inputs(VampPrior<double>& model, std::uint64_t seed) {
  Rng rng(seed);
  for (double& w : model.params()["prior.pseudo_inputs"].value) w = rng.uniform(-0.2, 1.2);
}

// The mixture's moments from its components: E z = (1/K) Σ μ_k,
// Cov z = (1/K) Σ_k (diag σ_k² + μ_k μ_kᵀ) − E z E zᵀ.
struct Moments {
  std::vector<double> mean;
  std::vector<std::vector<double>> cov;
};

Moments mixture_moments(const Array<double>& mu, const Array<double>& var) {
  const std::size_t K = mu.shape()[0], d = mu.shape()[1];
  Moments m{std::vector<double>(d, 0.0), std::vector<std::vector<double>>(d, std::vector<double>(d, 0.0))};
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t a = 0; a < d; ++a) {
      m.mean[a] += mu(k, a) / K;
      for (std::size_t b = 0; b < d; ++b) m.cov[a][b] += ((a == b ? var(k, a) : 0.0) + mu(k, a) * mu(k, b)) / K;
    }
  for (std::size_t a = 0; a < d; ++a)
    for (std::size_t b = 0; b < d; ++b) m.cov[a][b] -= m.mean[a] * m.mean[b];
  return m;
}

// How many of the d means and d(d+1)/2 covariances of the samples z [n, d] lie more than 4 standard
// errors from the closed form. The SE of a mean is √(s²/n); of a covariance, the sample sd of the
// products (z_a − z̄_a)(z_b − z̄_b) over √n.
int moments_outside_4se(const Array<double>& z, const Moments& want) {
  const std::size_t n = z.shape()[0], d = z.shape()[1];
  const double nd = static_cast<double>(n);
  std::vector<double> zbar(d, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t a = 0; a < d; ++a) zbar[a] += z(i, a) / nd;
  int outside = 0;
  for (std::size_t a = 0; a < d; ++a)
    for (std::size_t b = a; b < d; ++b) {
      double s = 0, s2 = 0;  // Σ y and Σ y² of y_i = (z_ia − z̄_a)(z_ib − z̄_b)
      for (std::size_t i = 0; i < n; ++i) {
        const double y = (z(i, a) - zbar[a]) * (z(i, b) - zbar[b]);
        s += y;
        s2 += y * y;
      }
      const double c = s / nd, se_c = std::sqrt((s2 / nd - c * c) / nd);
      if (std::abs(c - want.cov[a][b]) > 4 * se_c) ++outside;
      if (a == b && std::abs(zbar[a] - want.mean[a]) > 4 * std::sqrt(c / nd)) ++outside;
    }
  return outside;
}

}  // namespace

// The sampler of the shared mixture path against the closed-form moments of model.prior(): 0 of the
// 9 moments outside 4 SE for z ~ p(z); N(0, I) and one component alone fail the same check.
template <class M>
void check_prior_sampler(M& model) {
  Tape<double> tape;
  auto [mu, var] = model.prior(tape);
  const Moments want = mixture_moments(mu.value(), var.value());
  const std::size_t n = 100000;
  Rng draw(2);
  const Array<double> z = model.sample_prior(n, draw);
  REQUIRE(z.shape() == std::vector<std::size_t>{n, 3});
  CHECK(moments_outside_4se(z, want) == 0);
  // The check has power: N(0, I), the common mistake, fails it, and so does one component alone.
  const Array<double> standard = draw.normal<double>({n, 3});
  CHECK(moments_outside_4se(standard, want) >= 3);
  const Array<double> one = model.sample_latent(std::vector<std::size_t>(n, 0), draw);
  CHECK(moments_outside_4se(one, want) >= 1);
}

TEST_CASE("vamp: z ~ p(z) draws the mixture: mean and covariance within 4 SE of the closed form, and not N(0, I)") {
  Rng rng(11);
  VampPrior<double> model(small(3), rng);
  spread_pseudo_inputs(model, 5);
  check_prior_sampler(model);
}

TEST_CASE("gmvae: the same sampler draws the GMVAE's mixture (one code path for both priors)") {
  Rng rng(11);
  tz::models::GMVAE<double> model(small(3), rng);
  // μ_k spread over [−1, 1] and σ_k² = softplus(z_pre) over [0.3, 1.3]: three distinct components
  Rng spread(5);
  for (double& p : model.params()["prior.z_pre"].value) p = spread.uniform(-1, 1);
  check_prior_sampler(model);
}

TEST_CASE("vamp: the KL term is log q(z|x) − log (1/K) Σ_k N(z; encoder(hardtanh(w_k))), by hand") {
  Rng rng(4);
  VampPrior<double> model(small(4), rng);
  spread_pseudo_inputs(model, 9);
  const std::size_t n = 5, zd = 3, K = 4;
  const Array<double> x = binary_rows(n, 16, 21);
  const Array<double> eps = Rng(8).normal<double>({n, zd});

  // u_k = min(max(w_k, 0), 1) by hand, then the encoder's q(z | u_k) as the prior's components
  Array<double> u = model.params()["prior.pseudo_inputs"].value;
  for (double& p : u) p = std::min(std::max(p, 0.0), 1.0);
  Tape<double> tape;
  auto [pm, pv] = model.encode(tape, tape.constant(u));
  auto [m, v] = model.encode(tape, tape.constant(x));
  const auto b = model.negative_elbo_bound(tape, tape.constant(x), tape.constant(eps));
  for (std::size_t i = 0; i < n; ++i) {
    // z = m + √v ε;  log q = Σ_j log N(z_j; m_j, v_j);  log p = log (1/K) Σ_k exp Σ_j log N(z_j; μ_kj, σ²_kj)
    std::vector<double> z(zd), lk(K, 0.0);
    double log_q = 0;
    for (std::size_t j = 0; j < zd; ++j) {
      z[j] = m.value()(i, j) + std::sqrt(v.value()(i, j)) * eps(i, j);
      log_q += log_n(z[j], m.value()(i, j), v.value()(i, j));
    }
    for (std::size_t k = 0; k < K; ++k)
      for (std::size_t j = 0; j < zd; ++j) lk[k] += log_n(z[j], pm.value()(k, j), pv.value()(k, j));
    const double top = *std::max_element(lk.begin(), lk.end());
    double s = 0;
    for (double l : lk) s += std::exp(l - top);
    const double log_p = top + std::log(s / K);
    CHECK(b.kl.value()(i) == doctest::Approx(log_q - log_p).epsilon(1e-12));
  }
}

TEST_CASE("vamp: d(−ELBO)/dw reaches the pseudo-inputs and matches central differences (float64, fixed ε)") {
  Rng rng(6);
  VampPrior<double> model(small(3), rng);
  const Array<double> x = binary_rows(4, 16, 3);
  const Array<double> eps = Rng(12).normal<double>({4, 3});
  auto loss = [&] {
    Tape<double> tape;
    return mean(model.negative_elbo_bound(tape, tape.constant(x), tape.constant(eps)).nelbo).item();
  };
  auto& w = model.params()["prior.pseudo_inputs"];
  model.params().zero_grad();
  {
    Tape<double> tape;
    tape.backward(mean(model.negative_elbo_bound(tape, tape.constant(x), tape.constant(eps)).nelbo));
  }
  // h = 1e-5: rounding ≈ 1e-16·|loss|/h ≈ 1e-10 and truncation ≈ h² ≈ 1e-10 against gradients of
  // about 1e-3, relative errors ≤ 5e-8 measured: rtol 1e-6 holds with a 20× margin
  const double h = 1e-5;
  double largest = 0;
  for (std::size_t k = 0; k < 3; ++k)
    for (std::size_t p : {0ul, 7ul, 15ul}) {
      // w starts in (0, 1) (0.05 ± 0.01), where hardtanh is smooth
      const double w0 = w.value(k, p);
      w.value(k, p) = w0 + h;
      const double up = loss();
      w.value(k, p) = w0 - h;
      const double down = loss();
      w.value(k, p) = w0;
      const double fd = (up - down) / (2 * h);
      CHECK(w.grad(k, p) == doctest::Approx(fd).epsilon(1e-6).scale(1e-8));
      largest = std::max(largest, std::abs(fd));
    }
  CHECK(largest > 1e-4);  // the prior's gradient really reaches u, through the encoder
}

TEST_CASE("vamp: the registry entry builds a VampPrior whose prior parameters are the K pseudo-inputs") {
  const tz::models::ModelInfo& info = tz::models::find_model("vamp");
  const auto config = tz::models::Config::from(info.flags, {{"components", "7"}, {"z", "4"}}, "vamp");
  Rng rng(1);
  auto model = info.make_float(config, rng);
  auto* vamp = dynamic_cast<VampPrior<float>*>(model.get());
  REQUIRE(vamp != nullptr);
  CHECK(!model->params().contains("prior.z_pre"));
  const Array<float>& w = model->params()["prior.pseudo_inputs"].value;
  REQUIRE(w.shape() == std::vector<std::size_t>{7, 784});
  // w ~ 0.05 + 0.01·N(0, 1): 5,488 draws, mean within 4 SE (0.01/√5488) of 0.05
  double s = 0;
  for (float p : w) s += p;
  CHECK(std::abs(s / double(w.size()) - 0.05) < 4 * 0.01 / std::sqrt(double(w.size())));
  Tape<float> tape;
  CHECK(vamp->prior(tape).m.shape() == std::vector<std::size_t>{7, 4});
}

TEST_CASE("vamp: the pictures include pseudo_inputs.png, ten pseudo-inputs to a row") {
  Rng rng(2);
  const tz::models::ModelInfo& info = tz::models::find_model("vamp");
  const auto config = tz::models::Config::from(info.flags, info.tiny_flags, "vamp");
  auto model = info.make_float(config, rng);
  const tz::models::Dataset data = info.tiny_data(rng);
  TempDir dir;
  model->write_pictures(dir.path.string(), data, rng);
  for (const char* f : {"samples.png", "reconstructions.png", "pseudo_inputs.png"})
    CHECK(std::filesystem::exists(dir.path / f));
  // 3 pseudo-inputs of 28×28 in one row with padding 2: 2 + 3·30 wide, 2 + 30 high
  const auto png = tz::read_png(dir / "pseudo_inputs.png");
  CHECK(png.width == 92);
  CHECK(png.height == 32);
}

TEST_CASE("vamp and gmvae: gaussian_code is q(z|x) with the prior's components, for diagnose --active-units") {
  Rng rng(6);
  VampPrior<double> model(small(4), rng);
  spread_pseudo_inputs(model, 3);
  const Array<double> x = binary_rows(7, 16, 2);
  const tz::models::GaussianCode c = model.gaussian_code(xt::cast<float>(x));
  // the components are the encoder at u_k = hardtanh(w_k), by hand as in the KL test above
  Array<double> u = model.params()["prior.pseudo_inputs"].value;
  for (double& p : u) p = std::min(std::max(p, 0.0), 1.0);
  Tape<double> tape;
  auto [pm, pv] = model.encode(tape, tape.constant(u));
  auto [m, v] = model.encode(tape, tape.constant(x));
  REQUIRE(c.prior_m.shape() == std::vector<std::size_t>{4, 3});
  REQUIRE(c.m.shape() == std::vector<std::size_t>{7, 3});
  for (std::size_t k = 0; k < 4; ++k)
    for (std::size_t j = 0; j < 3; ++j) {
      CHECK(c.prior_m(k, j) == doctest::Approx(pm.value()(k, j)).epsilon(1e-6));
      CHECK(c.prior_v(k, j) == doctest::Approx(pv.value()(k, j)).epsilon(1e-6));
    }
  for (std::size_t i = 0; i < 7; ++i)
    for (std::size_t j = 0; j < 3; ++j) {
      CHECK(c.m(i, j) == doctest::Approx(m.value()(i, j)).epsilon(1e-6));
      CHECK(c.v(i, j) == doctest::Approx(v.value()(i, j)).epsilon(1e-6));
    }
  // the GMVAE's components are its free parameters: μ = z_pre[0:K], σ² = softplus(z_pre[K:2K]) + 1e-8
  tz::models::GMVAE<double> gmvae(small(2), rng);
  const Array<double>& zp = gmvae.params()["prior.z_pre"].value;
  const tz::models::GaussianCode g = gmvae.gaussian_code(xt::cast<float>(x));
  for (std::size_t j = 0; j < 3; ++j) {
    CHECK(g.prior_m(1, j) == doctest::Approx(zp(1, j)).epsilon(1e-6));
    CHECK(g.prior_v(1, j) == doctest::Approx(softplus(zp(3, j)) + 1e-8).epsilon(1e-6));
  }
}
