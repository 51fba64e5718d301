// Tests of models/gmm_gd.cpp, the Gaussian mixture registered as `gmm_gd`: its tape log-likelihood
// equals EM's tz::models::gmm::GaussianMixture::score on the same parameters, the shared training loop
// raises the test log-likelihood, and a data width other than --d is a clear error.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "autograd/random.hpp"
#include "datasets/synthetic.hpp"
#include "models/gmm.hpp"
#include "models/model.hpp"
#include "models/train.hpp"

namespace {

double metric(const tz::models::Metrics& m, const std::string& name) {
  for (const auto& [k, v] : m)
    if (k == name) return v;
  FAIL("no metric " << name);
  return 0;
}

}  // namespace

TEST_CASE("gmm_gd model: the tape log-likelihood equals GaussianMixture::score (float64)") {
  using namespace tz;
  const models::ModelInfo& info = models::find_model("gmm_gd");
  for (int K : {1, 3}) {
    for (int D : {1, 2, 4}) {
      CAPTURE(K);
      CAPTURE(D);
      const models::Config cfg = models::Config::from(
          info.flags, {{"k", std::to_string(K)}, {"d", std::to_string(D)}}, "gmm_gd");
      Rng rng(static_cast<std::uint64_t>(10 * K + D));
      auto model = info.make_double(cfg, rng);
      auto& P = model->params();
      // Arbitrary parameters, including entries on and below the diagonal of chol_offdiag, which
      // both sides must ignore.
      const std::size_t k = static_cast<std::size_t>(K), d = static_cast<std::size_t>(D);
      P["logits"].value = rng.normal<double>({k});
      P["means"].value = rng.normal<double>({k, d}, 0.0, 3.0);
      P["chol_offdiag"].value = rng.normal<double>({k, d, d}, 0.0, 0.5);
      P["log_diag"].value = rng.normal<double>({k, d}, 0.0, 0.3);

      MixtureData data = make_gaussian_mixture(200, 3, d, rng);
      models::Batch<double> batch;
      batch.x = data.x;
      Tape<double> tape;
      Rng noise(0);
      const double tape_avg = -model->loss(tape, batch, noise).value.item();

      models::gmm::Options opt;
      opt.n_components = k;
      opt.covariance_type = models::gmm::CovarianceType::full;
      models::gmm::GaussianMixture em(opt);
      models::gmm::UnconstrainedParameters theta;
      theta.logits = Param<double>("logits", P["logits"].value);
      theta.means = Param<double>("means", P["means"].value);
      theta.chol_offdiag = Param<double>("chol_offdiag", P["chol_offdiag"].value);
      theta.log_diag = Param<double>("log_diag", P["log_diag"].value);
      em.set_unconstrained(theta);
      const double em_avg = em.score(data.x);
      CHECK(std::isfinite(tape_avg));
      CHECK(std::abs(tape_avg - em_avg) <= 1e-10 * std::max(1.0, std::abs(em_avg)));
    }
  }
}

TEST_CASE("gmm_gd model: 300 Adam steps of the shared loop raise test_avg_loglik") {
  using namespace tz::models;
  const ModelInfo& info = find_model("gmm_gd");
  const Config cfg = Config::from(info.flags, {}, "gmm_gd");
  TrainOptions opt;
  opt.quiet = true;
  opt.lr = 0.05;
  opt.eval = 0;
  opt.iters = 0;  // the initial model (same seed, same initialisation)
  const TrainResult before = train(info, cfg, opt);
  opt.iters = 300;
  const TrainResult after = train(info, cfg, opt);
  const double l0 = metric(before.metrics, "test_avg_loglik"), l1 = metric(after.metrics, "test_avg_loglik");
  MESSAGE("test_avg_loglik " << l0 << " -> " << l1);
  CHECK(std::isfinite(l1));
  CHECK(l1 > l0 + 0.5);
  CHECK(metric(after.metrics, "test_nll") == doctest::Approx(-l1));
}

TEST_CASE("gmm_gd model: data narrower or wider than --d is a clear error") {
  using namespace tz::models;
  const ModelInfo& info = find_model("gmm_gd");
  const Config cfg = Config::from(info.flags, {{"d", "3"}}, "gmm_gd");
  TrainOptions opt;
  opt.quiet = true;
  opt.iters = 1;
  try {
    train(info, cfg, opt);
    FAIL("expected an error");
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    CHECK(msg.find("--d 3") != std::string::npos);
    CHECK(msg.find("2 columns") != std::string::npos);
  }
}
