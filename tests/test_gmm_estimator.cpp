// Tests of models/gmm.cpp, the estimator API: hand-computed densities, the scikit-learn API's
// identities, BIC/AIC counts, sampling, errors, .npz files (models/gmm_io.cpp), and `tapezoo fit gmm`
// against scikit-learn itself.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "autograd/random.hpp"
#include "datasets/linalg.hpp"
#include "datasets/npy.hpp"
#include "datasets/synthetic.hpp"
#include "io/npz.hpp"
#include "models/gmm.hpp"
#include "tests/gmm_test_data.hpp"
#include "tests/test_helpers.hpp"

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

// The tapezoo program, which must have been built.
std::filesystem::path built_program() {
  const std::filesystem::path program = tapezoo_program();
  REQUIRE_MESSAGE(std::filesystem::exists(program), program << " is missing: build the whole project");
  return program;
}

// A new folder in the temporary directory, named by `stem` and this process.
std::filesystem::path fresh_folder(const std::string& stem) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / (stem + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace

TEST_CASE("fit gmm --json agrees with scikit-learn on the same data and start") {
  if (std::system("/usr/bin/python3 -c 'import sklearn' > /dev/null 2>&1") != 0) {
    MESSAGE("skipped: /usr/bin/python3 cannot import sklearn (apt-get install python3-sklearn)");
    return;
  }
  const std::filesystem::path program = built_program();
  const std::filesystem::path dir = fresh_folder("tapezoo-test-gmm-");
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
  const std::filesystem::path program = built_program();
  const std::filesystem::path dir = fresh_folder("tapezoo-test-gmm-cli-");
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

TEST_CASE("fit gmm --textbook runs the textbook steps and lands where the fast path does") {
  const std::filesystem::path program = built_program();
  const std::filesystem::path dir = fresh_folder("tapezoo-test-gmm-textbook-");
  const std::string data = (dir / "x.npy").string();
  tz::save_npy(data, overlapping_data(500, 32));
  const std::string fit = program.string() + " fit gmm --data " + data + " --k 3 --n-init 2 --json";
  // env -u: the fast run must not inherit a TAPEZOO_TEXTBOOK=1 of the test's own environment
  const std::string fast = run("env -u TAPEZOO_TEXTBOOK " + fit + " 2> /dev/null");
  const std::string book = run("env -u TAPEZOO_TEXTBOOK " + fit + " --textbook 2> /dev/null");
  const std::string by_env = run("env TAPEZOO_TEXTBOOK=1 " + fit + " 2> /dev/null");
  CHECK(fast.find("\"path\": \"fast\"") != std::string::npos);
  CHECK(book.find("\"path\": \"textbook\"") != std::string::npos);
  CHECK(by_env.find("\"path\": \"textbook\"") != std::string::npos);
  CHECK(json_number(book, "iters") == json_number(fast, "iters"));
  CHECK(fast.find("\"converged\": true") != std::string::npos);  // tol 1e-3 is reached on these data
  CHECK(book.find("\"converged\": true") != std::string::npos);
  // the mean log-likelihood of the two fits: within tests/test_gmm_em.cpp's fit() tolerance, 1e-10 relative
  CHECK(std::abs(json_number(book, "avg_loglik") - json_number(fast, "avg_loglik")) <=
        1e-10 * std::abs(json_number(fast, "avg_loglik")));
  CHECK(json_number(by_env, "avg_loglik") == json_number(book, "avg_loglik"));
  std::filesystem::remove_all(dir);
}

// ---- the Cholesky variants the mixture uses (datasets/linalg.hpp) -------------------------------------

TEST_CASE("precision_cholesky_inplace gives the upper P with P Pᵀ = A⁻¹; the inverse of an upper P is upper") {
  // A = L Lᵀ with L = [[2, 0, 0], [1, 3, 0], [−1, 1, 2]], so A⁻¹ and P are exact in a few roundings
  const double a[9] = {4, 2, -2, 2, 10, 2, -2, 2, 6};
  double p[9];
  std::copy(a, a + 9, p);
  REQUIRE(tz::precision_cholesky_inplace(p, 3));
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < i; ++j) CHECK(p[i * 3 + j] == 0.0);  // upper triangular
  // (P Pᵀ) A = I
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 3; ++j) {
      double s = 0;
      for (std::size_t m = 0; m < 3; ++m)
        for (std::size_t q = 0; q < 3; ++q) s += p[i * 3 + q] * p[m * 3 + q] * a[m * 3 + j];
      CHECK(s == doctest::Approx(i == j ? 1.0 : 0.0).scale(1.0).epsilon(1e-14));
    }
  // P⁻¹ P = I, P⁻¹ upper
  double inv[9];
  std::copy(p, p + 9, inv);
  REQUIRE(tz::invert_upper_triangular_inplace(inv, 3));
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 3; ++j) {
      double s = 0;
      for (std::size_t m = 0; m < 3; ++m) s += inv[i * 3 + m] * p[m * 3 + j];
      CHECK(s == doctest::Approx(i == j ? 1.0 : 0.0).scale(1.0).epsilon(1e-14));
      if (j < i) CHECK(inv[i * 3 + j] == 0.0);
    }
  // an indefinite matrix: every variant says so
  double bad[4] = {1, 2, 2, 1};
  CHECK_FALSE(tz::cholesky_lower_inplace(bad, 2));
  double bad2[4] = {1, 2, 2, 1};
  CHECK_FALSE(tz::precision_cholesky_inplace(bad2, 2));
}
