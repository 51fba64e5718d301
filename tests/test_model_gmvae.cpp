// Tests of models/gmvae (K = --components mixture components, k importance samples): the prior's
// CS236 initialisation; with K = 1 and a fixed standard-normal
// component, the GMVAE's objective is the VAE's with a Monte-Carlo KL (checked per ε against a hand
// computation, and on average against the closed-form KL); the IWAE bound against a hand computation,
// and equal to the ELBO for one sample; the float64 gradcheck of the loss; a short training run;
// the evaluation's metrics and pictures; a checkpoint that names the component count k (before the
// rename to --components) loads into the same model.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "io/png.hpp"
#include "models/gmvae.hpp"
#include "models/train.hpp"
#include "tests/test_helpers.hpp"

using tz::Array;
using tz::Rng;
using tz::Tape;
using tz::Var;
using tz::models::GMVAE;
using tz::models::GMVAEOptions;
using namespace tz::test;  // the shared helpers: binary_rows, softplus, conditional_elbo_by_hand, gradcheck_loss, …

namespace {

GMVAEOptions small(std::size_t components) {
  GMVAEOptions o;
  o.x_dim = 16;
  o.hidden = 8;
  o.z = 3;
  o.components = components;
  o.iwae = {1, 4};
  return o;
}

// Sets the prior to one component N(0, I): μ = 0 and z_pre[1] = softplus⁻¹(1 − 1e-8), so σ² = 1.
void make_standard_prior(GMVAE<double>& model) {
  Array<double>& z_pre = model.params()["prior.z_pre"].value;
  REQUIRE(z_pre.shape() == std::vector<std::size_t>{2, model.options().z});
  for (std::size_t j = 0; j < model.options().z; ++j) {
    z_pre(0, j) = 0.0;
    z_pre(1, j) = std::log(std::expm1(1.0 - 1e-8));
  }
}

}  // namespace

TEST_CASE("gmvae: the prior is initialised as in CS236, z_pre ~ N(0,1)/√(K·z) of shape [2K, z]") {
  Rng rng(3);
  GMVAEOptions o;  // the defaults: z = 10, K = 500
  GMVAE<float> model(o, rng);
  const Array<float>& z_pre = model.params()["prior.z_pre"].value;
  REQUIRE(z_pre.shape() == std::vector<std::size_t>{1000, 10});
  double s = 0, s2 = 0;
  for (float v : z_pre) {
    s += v;
    s2 += double(v) * v;
  }
  const double n = double(z_pre.size()), mean = s / n, sd = std::sqrt(s2 / n - mean * mean);
  CHECK(std::abs(mean) < 4 * (1 / std::sqrt(5000.0)) / std::sqrt(n));
  CHECK(sd == doctest::Approx(1 / std::sqrt(5000.0)).epsilon(0.03));  // 10,000 draws: sd within 3%

  // μ = z_pre[0:K] and σ² = softplus(z_pre[K:2K]) + 1e-8, row by row
  Tape<float> tape;
  auto [mu, var] = model.prior(tape);
  REQUIRE(mu.shape() == std::vector<std::size_t>{500, 10});
  REQUIRE(var.shape() == std::vector<std::size_t>{500, 10});
  for (std::size_t i : {0ul, 17ul, 499ul})
    for (std::size_t j = 0; j < 10; ++j) {
      CHECK(mu.value()(i, j) == z_pre(i, j));
      CHECK(var.value()(i, j) == doctest::Approx(softplus(z_pre(500 + i, j)) + 1e-8).epsilon(1e-6));
    }
}

TEST_CASE("gmvae: with K = 1 and a standard-normal component, the objective is the VAE's for the same ε") {
  Rng rng(11);
  GMVAE<double> model(small(1), rng);
  make_standard_prior(model);
  const std::size_t n = 5, d = 16, z_dim = 3;
  const Array<double> x = binary_rows(n, d, rng);
  const Array<double> eps = rng.normal<double>({n, z_dim});

  Tape<double> tape;
  auto bound = model.negative_elbo_bound(tape, tape.constant(x), tape.constant(eps));
  auto [m, v] = model.encode(tape, tape.constant(x));

  // The VAE's terms written out by hand for the same ε:
  //   z = m + √v ε,  rec = −Σ_j [x_j l_j − softplus(l_j)],  KL_MC = Σ_j [log N(z_j; m_j, v_j) − log N(z_j; 0, 1)]
  Array<double> z = Array<double>::from_shape({n, z_dim});
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < z_dim; ++j) z(i, j) = m.value()(i, j) + std::sqrt(v.value()(i, j)) * eps(i, j);
  const Array<double> logits = model.decode(tape, tape.constant(z)).value();
  for (std::size_t i = 0; i < n; ++i) {
    double rec = 0, kl_mc = 0;
    for (std::size_t p = 0; p < d; ++p) rec -= x(i, p) * logits(i, p) - softplus(logits(i, p));
    for (std::size_t j = 0; j < z_dim; ++j)
      kl_mc += log_n(z(i, j), m.value()(i, j), v.value()(i, j)) - log_n(z(i, j), 0.0, 1.0);
    CAPTURE(i);
    CHECK(bound.rec.value()(i) == doctest::Approx(rec).epsilon(1e-12));
    CHECK(bound.kl.value()(i) == doctest::Approx(kl_mc).epsilon(1e-9));
    CHECK(bound.nelbo.value()(i) == doctest::Approx(rec + kl_mc).epsilon(1e-12));
  }
}

TEST_CASE("gmvae: with one standard component, the Monte-Carlo KL averages to the closed form") {
  // E_ε[log q(z|x) − log N(z; 0, I)] = KL(q ‖ N(0, I)) = ½ Σ_j (v_j + m_j² − 1 − log v_j)
  Rng rng(12);
  GMVAE<double> model(small(1), rng);
  make_standard_prior(model);
  const std::size_t draws = 20000;
  const Array<double> x1 = binary_rows(1, 16, rng);
  Array<double> x = Array<double>::from_shape({draws, 16});
  for (std::size_t i = 0; i < draws; ++i)
    for (std::size_t p = 0; p < 16; ++p) x(i, p) = x1(0, p);

  Tape<double> tape;
  tz::NoGrad<double> no_grad(tape);
  auto bound = model.negative_elbo_bound(tape, tape.constant(x), rng);
  auto [m, v] = model.encode(tape, tape.constant(x1));
  double closed = 0;
  for (std::size_t j = 0; j < 3; ++j) {
    const double mj = m.value()(0, j), vj = v.value()(0, j);
    closed += 0.5 * (vj + mj * mj - 1 - std::log(vj));
  }
  double s = 0, s2 = 0;
  for (double k : bound.kl.value()) {
    s += k;
    s2 += k * k;
  }
  const double mean = s / draws, se = std::sqrt((s2 / draws - mean * mean) / draws);
  INFO("Monte-Carlo KL " << mean << " ± " << se << ", closed form " << closed);
  CHECK(se > 0);
  CHECK(std::abs(mean - closed) < 4 * se);
}

TEST_CASE("gmvae: −IWAE matches a hand computation with a two-component prior, and equals −ELBO for one sample") {
  Rng rng(13);
  GMVAE<double> model(small(2), rng);
  const std::size_t n = 2, k = 3, d = 16, z_dim = 3, K = 2;
  const Array<double> x = binary_rows(n, d, rng);

  Tape<double> tape;
  Rng noise(5);
  const Array<double> niwae = model.negative_iwae_bound(tape, tape.constant(x), k, noise).value();
  Rng same(5);
  const Array<double> eps = same.normal<double>({k * n, z_dim});  // the ε the bound drew: row j·n + i

  auto [m, v] = model.encode(tape, tape.constant(x));
  auto [mu, var] = model.prior(tape);
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<double> log_w(k);
    for (std::size_t j = 0; j < k; ++j) {
      Array<double> z = Array<double>::from_shape({1, z_dim});
      for (std::size_t q = 0; q < z_dim; ++q) z(0, q) = m.value()(i, q) + std::sqrt(v.value()(i, q)) * eps(j * n + i, q);
      const Array<double> l = model.decode(tape, tape.constant(z)).value();
      double log_px = 0, log_q = 0;
      for (std::size_t p = 0; p < d; ++p) log_px += x(i, p) * l(0, p) - softplus(l(0, p));
      for (std::size_t q = 0; q < z_dim; ++q) log_q += log_n(z(0, q), m.value()(i, q), v.value()(i, q));
      // log p(z) = log ½ [N(z; μ_1, σ_1²) + N(z; μ_2, σ_2²)]
      double comp[2] = {0, 0};
      for (std::size_t c = 0; c < K; ++c)
        for (std::size_t q = 0; q < z_dim; ++q) comp[c] += log_n(z(0, q), mu.value()(c, q), var.value()(c, q));
      const double log_pz = std::log(0.5 * (std::exp(comp[0]) + std::exp(comp[1])));
      log_w[j] = log_px + log_pz - log_q;
    }
    double mean_w = 0;
    for (double lw : log_w) mean_w += std::exp(lw) / k;  // fine here: log w is about −15 with 16 pixels
    CAPTURE(i);
    CHECK(niwae(i) == doctest::Approx(-std::log(mean_w)).epsilon(1e-10));
  }

  // One importance sample is the ELBO: the same ε gives the same number.
  Rng a(9), b(9);
  const Array<double> niwae_1 = model.negative_iwae_bound(tape, tape.constant(x), 1, a).value();
  const Array<double> nelbo = model.negative_elbo_bound(tape, tape.constant(x), b).nelbo.value();
  for (std::size_t i = 0; i < n; ++i) CHECK(niwae_1(i) == doctest::Approx(nelbo(i)).epsilon(1e-12));
}

TEST_CASE("gmvae: the loss passes a float64 gradcheck on a tiny batch") {
  Rng rng(21);
  GMVAE<double> model(small(3), rng);
  tz::models::Batch<double> batch;
  batch.x = binary_rows(4, 16, rng);
  const auto result = gradcheck_loss("gmvae loss", model, batch);  // the same ε every time
  INFO(result.message);
  CHECK(result.ok);
}

TEST_CASE("gmvae: a short training run lowers the −ELBO, and evaluate reports consistent metrics") {
  Rng rng(31);
  const tz::models::ModelInfo info = tz::models::gmvae_info();
  tz::models::Dataset data = info.tiny_data(rng);
  GMVAEOptions o;
  o.hidden = 64;
  o.z = 4;
  o.components = 10;
  o.iwae = {1, 10};
  GMVAE<float> model(o, rng);

  const auto [before, after] = short_training_run(model, data, 64, 300, /*labels=*/false, rng);
  INFO("−ELBO on a fixed batch: " << before << " → " << after);
  CHECK(after < 0.6 * before);

  Rng eval_rng(2);
  auto m = as_map(model.evaluate(data, eval_rng));
  REQUIRE(m.count("test_nelbo"));
  REQUIRE(m.count("test_kl"));
  REQUIRE(m.count("test_rec"));
  REQUIRE(m.count("test_niwae_1"));
  REQUIRE(m.count("test_niwae_10"));
  // float32 terms summed in double: equal to float rounding
  CHECK(m["test_nelbo"] == doctest::Approx(m["test_kl"] + m["test_rec"]).epsilon(1e-6));
  CHECK(m["test_nelbo"] < 0.6 * before);
  // More importance samples give a tighter bound (Burda et al. 2016, Theorem 1): on 100 digits the
  // mean −IWAE_10 is below the mean −IWAE_1.
  CHECK(m["test_niwae_10"] < m["test_niwae_1"]);
  CHECK(m["test_niwae_1"] == doctest::Approx(m["test_nelbo"]).epsilon(0.05));

  // Pictures: samples.png is a 10 × 10 grid of 28 × 28 images with 2-pixel padding.
  const auto dir = std::filesystem::temp_directory_path() / "tapezoo-test-gmvae";
  std::filesystem::remove_all(dir);
  model.write_pictures(dir.string(), data, eval_rng);
  const tz::Image samples = tz::read_png((dir / "samples.png").string());
  CHECK(samples.width == 10 * 30 + 2);
  CHECK(samples.height == 10 * 30 + 2);
  const tz::Image recon = tz::read_png((dir / "reconstructions.png").string());
  CHECK(recon.width == 10 * 30 + 2);
  CHECK(recon.height == 10 * 30 + 2);  // 50 digits: five rows of originals, five of reconstructions
  std::filesystem::remove_all(dir);
}

TEST_CASE("gmvae: --components, and a checkpoint that stores the old name k loads into the same model") {
  using tz::models::Config;
  const tz::models::ModelInfo& info = tz::models::find_model("gmvae");
  // --k is no longer a gmvae flag (k counts importance samples, and the gmvae trains on the ELBO).
  CHECK_THROWS_WITH_AS(Config::from(info.flags, {{"k", "3"}}, "gmvae"), doctest::Contains("components"),
                       std::invalid_argument);
  const Config now = Config::from(info.flags, {{"z", "2"}, {"components", "3"}, {"hidden", "8"}}, "gmvae");
  CHECK(tz::models::gmvae_options(now).components == 3);

  // The Config of a checkpoint written before the rename: k = 3, and no components.
  std::map<std::string, std::string> old_values = now.values();
  old_values.erase("components");
  old_values["k"] = "3";
  const Config old(old_values);
  CHECK(tz::models::gmvae_options(old).components == 3);
  Rng a(7), b(7);
  auto model = info.make_float(now, a);
  const auto dir = std::filesystem::temp_directory_path() / "tapezoo-test-gmvae-old-checkpoint";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "checkpoint.npz").string();
  tz::models::save_checkpoint(path, info, old, *model);
  const auto loaded = tz::models::load_checkpoint(path);
  CHECK(loaded.info == &info);
  CHECK(loaded.config.str("k") == "3");
  // The same parameters (prior.z_pre is [2K, z] = [6, 2]), and so the same samples from one seed.
  CHECK(loaded.model->params()["prior.z_pre"].value.shape() == std::vector<std::size_t>{6, 2});
  CHECK(loaded.model->params()["prior.z_pre"].value == model->params()["prior.z_pre"].value);
  Rng s1(5), s2(5);
  CHECK(loaded.model->sample(4, s1) == model->sample(4, s2));
  std::filesystem::remove_all(dir);
}
