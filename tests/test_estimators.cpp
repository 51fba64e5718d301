// Tests of the VAE's gradient estimators of L_k (models/vae.cpp: log_importance_weights) and of their
// diagnostics (models/estimators.cpp), on a tiny network in float64:
//   - every estimator has the value −L_k, bit for bit;
//   - k = 1: the standard gradient minus STL's is the score term ∂ log q(z|x)/∂(m, v) at fixed z, by hand
//     (ε/√v and (ε² − 1)/2v per example), pushed through the encoder; the decoder's gradients agree;
//   - DReG's surrogate equals its definition Σ_i w̃_i² ∂ log w_i/∂z_i · ∂z_i/∂φ (encoder) and
//     Σ_i w̃_i ∇_θ log w_i (decoder), by a hand loop over the samples with the score path cut;
//   - STL at k = 1 and DReG at k = 4 have the standard estimator's expectation: paired over many ε,
//     every parameter's mean difference is within 4.5 standard errors; STL at k = 4 is not (biased);
//   - gradient_snr against a two-pass mean and standard deviation; the unit report by hand; the flag;
//   - `tapezoo diagnose` prints gradient_snr's medians and unit_report's units, and refuses what it should.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "models/estimators.hpp"
#include "models/train.hpp"
#include "models/vae.hpp"
#include "tests/test_helpers.hpp"

using tz::Array;
using tz::Rng;
using tz::Tape;
using tz::Var;
using tz::models::Estimator;
using tz::models::VAE;
using tz::models::VAEOptions;
using tz::test::binary_rows;
using tz::test::log_n;

namespace {

// A VAE 6-4-4-2z / 2-4-4-6 drawn from its own seed, and n binary rows x [n, 6] drawn from seed + 10.
struct Tiny {
  Rng rng;
  VAE<double> vae;
  Array<double> x;
  Tiny(std::uint64_t seed, std::size_t n)
      : rng(seed), vae(VAEOptions{.x_dim = 6, .hidden = 4, .z = 2}, rng), x(binary_rows(n, 6, seed + 10)) {}
};

// Every parameter's gradient, flattened in params().all() order; the parameters' gradients are zeroed.
struct Flat {
  std::vector<double> g;
  std::vector<bool> enc;
};
Flat take_grads(VAE<double>& vae) {
  Flat f;
  for (tz::Param<double>* p : vae.params().all()) {
    for (double a : p->grad) f.g.push_back(a), f.enc.push_back(p->name.rfind("enc", 0) == 0);
    p->zero_grad();
  }
  return f;
}

// The gradient of the batch mean of −L_k(x) by an estimator, on the given ε, and its value.
Flat estimator_grad(VAE<double>& vae, const Array<double>& x, std::size_t k, const Array<double>& eps, Estimator e,
                    double* value = nullptr) {
  Tape<double> tape;
  Var<double> loss = tz::mean(vae.negative_iwae_bound(tape, tape.constant(x), k, tape.constant(eps), e));
  if (value) *value = loss.item();
  tape.backward(loss);
  return take_grads(vae);
}

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double a : v) m = std::max(m, std::abs(a));
  return m;
}

}  // namespace

TEST_CASE("every estimator has the value −L_k, bit for bit") {
  Tiny t(1, 3);
  auto& [rng, vae, x] = t;
  const Array<double> eps = rng.normal<double>({4 * 3, 2});
  double v_std = 0, v_stl = 0, v_dreg = 0;
  estimator_grad(vae, x, 4, eps, Estimator::standard, &v_std);
  estimator_grad(vae, x, 4, eps, Estimator::stl, &v_stl);
  estimator_grad(vae, x, 4, eps, Estimator::dreg, &v_dreg);
  CHECK(v_stl == v_std);
  CHECK(v_dreg == v_std);
}

TEST_CASE("k = 1: the standard gradient minus STL's is the score term, by hand") {
  const std::size_t n = 3;
  Tiny t(2, n);
  auto& [rng, vae, x] = t;
  const Array<double> eps = rng.normal<double>({n, 2});
  // the adjoints of m and v under each estimator, and the parameters' gradients
  Array<double> gm[2], gv[2];
  Flat g[2];
  const Estimator es[2] = {Estimator::standard, Estimator::stl};
  for (int e = 0; e < 2; ++e) {
    Tape<double> tape;
    Var<double> xv = tape.constant(x);
    tz::Gaussian<double> q = vae.encode(tape, xv);
    tape.backward(tz::mean(-vae.log_importance_weights(tape, xv, q, 1, tape.constant(eps), es[e])));
    gm[e] = q.m.grad();
    gv[e] = q.v.grad();
    g[e] = take_grads(vae);
  }
  // loss = (1/n) Σ_j −log w_j, and −log w_j holds +log q(z_j; m_j, v_j): at fixed z = m + √v ε,
  //   ∂ log q/∂m = (z − m)/v = ε/√v,   ∂ log q/∂v = −1/2v + (z − m)²/2v² = (ε² − 1)/2v
  Tape<double> tape;
  tz::Gaussian<double> q = vae.encode(tape, tape.constant(x));
  Array<double> score_m = Array<double>::from_shape({n, 2}), score_v = Array<double>::from_shape({n, 2});
  double err_m = 0, err_v = 0;
  for (std::size_t j = 0; j < n; ++j)
    for (std::size_t d = 0; d < 2; ++d) {
      const double v = q.v.value()(j, d), e = eps(j, d);
      score_m(j, d) = e / std::sqrt(v) / static_cast<double>(n);
      score_v(j, d) = (e * e - 1) / (2 * v) / static_cast<double>(n);
      err_m = std::max(err_m, std::abs(gm[0](j, d) - gm[1](j, d) - score_m(j, d)));
      err_v = std::max(err_v, std::abs(gv[0](j, d) - gv[1](j, d) - score_v(j, d)));
    }
  CHECK(err_m < 1e-12);
  CHECK(err_v < 1e-12);
  CHECK(max_abs(std::vector<double>(score_m.begin(), score_m.end())) > 1e-2);  // the term is not 0 here
  // the score term through the encoder: the gradient of Σ m ⊙ score_m + v ⊙ score_v
  tape.backward(tz::sum(q.m * tape.constant(score_m) + q.v * tape.constant(score_v)));
  const Flat score = take_grads(vae);
  double err_enc = 0, err_dec = 0, scale = 0;
  for (std::size_t i = 0; i < score.g.size(); ++i) {
    if (score.enc[i]) err_enc = std::max(err_enc, std::abs(g[0].g[i] - g[1].g[i] - score.g[i]));
    else err_dec = std::max(err_dec, std::abs(g[0].g[i] - g[1].g[i]));
    scale = std::max(scale, std::abs(g[0].g[i]));
  }
  CHECK(err_enc < 1e-12 * std::max(1.0, scale));
  CHECK(err_dec < 1e-12 * std::max(1.0, scale));  // log q has no θ: the decoder's gradient is the same
}

TEST_CASE("DReG's surrogate equals its definition, by a hand loop over the samples") {
  const std::size_t n = 3, k = 4;
  Tiny t(3, n);
  auto& [rng, vae, x] = t;
  const Array<double> eps = rng.normal<double>({k * n, 2});
  const Flat dreg = estimator_grad(vae, x, k, eps, Estimator::dreg);
  const Flat standard = estimator_grad(vae, x, k, eps, Estimator::standard);
  // w̃_ij = w_ij / Σ_i' w_i'j from the log weights' values (the same under every estimator)
  Array<double> log_w;
  {
    Tape<double> tape;
    Var<double> xv = tape.constant(x);
    log_w = vae.log_importance_weights(tape, xv, vae.encode(tape, xv), k, tape.constant(eps)).value();
  }
  std::vector<double> enc_sum, dec_sum;
  for (std::size_t i = 0; i < k; ++i) {
    // sample i alone (k = 1, its rows of ε), with log q at detach(m), detach(v): only the path through z_i
    Array<double> eps_i = Array<double>::from_shape({n, 2});
    for (std::size_t j = 0; j < n; ++j)
      for (std::size_t d = 0; d < 2; ++d) eps_i(j, d) = eps(i * n + j, d);
    for (int power = 1; power <= 2; ++power) {
      Array<double> c = Array<double>::from_shape({1, n});
      for (std::size_t j = 0; j < n; ++j) {
        double mx = -1e300, s = 0;
        for (std::size_t a = 0; a < k; ++a) mx = std::max(mx, log_w(a, j));
        for (std::size_t a = 0; a < k; ++a) s += std::exp(log_w(a, j) - mx);
        const double wt = std::exp(log_w(i, j) - mx) / s;
        // −(1/n) w̃_ij^power: the adjoint of log w_ij in the batch mean of −L_k
        c(0, j) = -std::pow(wt, power) / static_cast<double>(n);
      }
      Tape<double> tape;
      Var<double> xv = tape.constant(x);
      Var<double> lw = vae.log_importance_weights(tape, xv, vae.encode(tape, xv), 1, tape.constant(eps_i), Estimator::stl);
      tape.backward(tz::sum(lw * tape.constant(c)));
      const Flat g = take_grads(vae);
      if (enc_sum.empty()) enc_sum.assign(g.g.size(), 0.0), dec_sum.assign(g.g.size(), 0.0);
      // encoder: Σ_i w̃_i² ∂ log w_i/∂z_i · ∂z_i/∂φ;  decoder: Σ_i w̃_i ∇_θ log w_i
      for (std::size_t a = 0; a < g.g.size(); ++a)
        if (g.enc[a] == (power == 2)) (g.enc[a] ? enc_sum : dec_sum)[a] += g.g[a];
    }
  }
  double err = 0, diff_enc = 0, diff_dec = 0;
  for (std::size_t a = 0; a < dreg.g.size(); ++a) {
    const double want = dreg.enc[a] ? enc_sum[a] : dec_sum[a];
    err = std::max(err, std::abs(dreg.g[a] - want));
    (dreg.enc[a] ? diff_enc : diff_dec) = std::max(dreg.enc[a] ? diff_enc : diff_dec, std::abs(dreg.g[a] - standard.g[a]));
  }
  CHECK(err < 1e-12 * std::max(1.0, max_abs(dreg.g)));
  CHECK(diff_dec < 1e-12 * std::max(1.0, max_abs(dreg.g)));  // θ: the standard gradient
  CHECK(diff_enc > 1e-3);                                     // φ: not the standard one on one ε
}

namespace {

// Over R draws of ε for fixed x, the largest |mean(g_e − g_standard)| / SE of the paired differences,
// over the parameters whose difference varies.
double largest_t(VAE<double>& vae, const Array<double>& x, std::size_t k, Estimator e, std::size_t R, Rng& rng) {
  std::vector<double> s, s2;
  for (std::size_t r = 0; r < R; ++r) {
    const Array<double> eps = rng.normal<double>({k * x.shape()[0], 2});
    const Flat a = estimator_grad(vae, x, k, eps, e), b = estimator_grad(vae, x, k, eps, Estimator::standard);
    if (s.empty()) s.assign(a.g.size(), 0.0), s2.assign(a.g.size(), 0.0);
    for (std::size_t j = 0; j < a.g.size(); ++j) {
      const double d = a.g[j] - b.g[j];
      s[j] += d, s2[j] += d * d;
    }
  }
  double t = 0;
  const double Rd = static_cast<double>(R);
  for (std::size_t j = 0; j < s.size(); ++j) {
    const double m = s[j] / Rd, var = (s2[j] - Rd * m * m) / (Rd - 1);
    if (var > 1e-24) t = std::max(t, std::abs(m) / std::sqrt(var / Rd));
  }
  return t;
}

}  // namespace

TEST_CASE("STL at k = 1 and DReG at k = 4 have the standard estimator's expectation; STL at k = 4 does not") {
  Tiny t(4, 2);
  auto& [rng, vae, x] = t;
  // ~130 parameters: a true mean 0 gives |t| > 4.5 for any of them with probability ~130 · 7e-6 = 1e-3
  const double t_stl1 = largest_t(vae, x, 1, Estimator::stl, 2000, rng);
  const double t_dreg4 = largest_t(vae, x, 4, Estimator::dreg, 2000, rng);
  const double t_stl4 = largest_t(vae, x, 4, Estimator::stl, 2000, rng);
  MESSAGE("largest |t|: STL k=1 ", t_stl1, ", DReG k=4 ", t_dreg4, ", STL k=4 ", t_stl4);
  CHECK(t_stl1 < 4.5);
  CHECK(t_dreg4 < 4.5);
  CHECK(t_stl4 > 8);
}

TEST_CASE("gradient_snr: |mean| / sd of each parameter's gradient over the draws, against two passes by hand") {
  Tiny t(5, 2);
  auto& vae = t.vae;
  const Array<double>& x = t.x;
  const std::size_t k = 3, R = 50;
  Rng rng(77);
  const tz::models::GradientSNR s = tz::models::gradient_snr(vae, x, k, Estimator::dreg, R, rng);
  // the same draws, in the same order: rng.normal for ε [k·n, z], then the gradient
  Rng again(77);
  std::vector<std::vector<double>> g;
  for (std::size_t r = 0; r < R; ++r) g.push_back(estimator_grad(vae, x, k, again.normal<double>({k * 2, 2}), Estimator::dreg).g);
  REQUIRE(s.snr.size() == g[0].size());
  double err = 0;
  std::vector<double> enc, dec;
  for (std::size_t j = 0; j < s.snr.size(); ++j) {
    double m = 0, v = 0;
    for (std::size_t r = 0; r < R; ++r) m += g[r][j] / R;
    for (std::size_t r = 0; r < R; ++r) v += (g[r][j] - m) * (g[r][j] - m) / (R - 1);
    const double want = std::abs(m) / std::sqrt(v);
    err = std::max(err, std::abs(s.snr[j] - want) / want);
    (s.encoder[j] ? enc : dec).push_back(want);
  }
  CHECK(err < 1e-9);
  CHECK(s.median_encoder == doctest::Approx(tz::models::median_of(enc)).epsilon(1e-9));
  CHECK(s.median_decoder == doctest::Approx(tz::models::median_of(dec)).epsilon(1e-9));
  CHECK_THROWS_AS(tz::models::gradient_snr(vae, x, k, Estimator::dreg, 1, rng), std::invalid_argument);
}

TEST_CASE("median_of, and the unit report by hand") {
  CHECK(tz::models::median_of({3, 1, 2}) == 2);
  CHECK(tz::models::median_of({4, 1, 3, 2}) == 2.5);
  CHECK(std::isnan(tz::models::median_of({})));
  // two rows, two units: m = [[0, 1], [0.4, 1]], v = [[1, 0.5], [0.25, 0.5]]
  tz::models::GaussianCode c{Array<float>({{0.0f, 1.0f}, {0.4f, 1.0f}}), Array<float>({{1.0f, 0.5f}, {0.25f, 0.5f}}), {}, {}};
  const tz::models::UnitReport u = tz::models::unit_report(c);
  // A_0 = ((0 − 0.2)² + (0.4 − 0.2)²) / 2 = 0.04 > 0.01 (active);  A_1 = 0 (inactive)
  CHECK(u.activity[0] == doctest::Approx(0.04).epsilon(1e-6));
  CHECK(u.activity[1] == doctest::Approx(0.0));
  CHECK(u.active == 1);
  // KL_0 = ½ [(1 + 0 − 1 − 0) + (0.25 + 0.16 − 1 − log 0.25)] / 2;  KL_1 = ½ (0.5 + 1 − 1 − log 0.5)
  CHECK(u.kl[0] == doctest::Approx(0.25 * (0.25 + 0.16 - 1 - std::log(0.25))).epsilon(1e-6));
  CHECK(u.kl[1] == doctest::Approx(0.5 * (0.5 - std::log(0.5))).epsilon(1e-6));
}

TEST_CASE("--estimator: parsed, refused with the ELBO, saved in the checkpoint") {
  using tz::models::Config;
  const tz::models::ModelInfo& info = tz::models::find_model("vae");
  CHECK(tz::models::parse_estimator("dreg") == Estimator::dreg);
  try {
    tz::models::parse_estimator("reinforce");
    FAIL("no error");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()) == "--estimator: 'reinforce' is not one of standard, stl, dreg");
  }
  try {
    tz::models::vae_options(Config::from(info.flags, {{"estimator", "stl"}}, "vae"));
    FAIL("no error");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).rfind("--estimator stl: applies to --objective iwae only", 0) == 0);
  }
  // a checkpoint of a config from before the flag existed trains with the standard estimator
  Config old = Config::from(info.flags, {{"objective", "iwae"}}, "vae");
  CHECK(tz::models::vae_options(old).estimator == Estimator::standard);
  const Config c = Config::from(info.flags, {{"objective", "iwae"}, {"estimator", "dreg"}, {"z", "2"}, {"hidden", "4"}}, "vae");
  Rng rng(6);
  std::unique_ptr<tz::models::Model<float>> m = info.make_float(c, rng);
  const std::string path = (std::filesystem::temp_directory_path() / "tz_test_estimators_checkpoint.npz").string();
  tz::models::save_checkpoint(path, info, c, *m);
  const tz::models::Loaded loaded = tz::models::load_checkpoint(path);
  CHECK(dynamic_cast<VAE<float>&>(*loaded.model).options().estimator == Estimator::dreg);
  CHECK(loaded.config.str("estimator") == "dreg");
  std::filesystem::remove(path);
}

namespace {

// The number after "key": in a JSON line.
double json_number(const std::string& line, const std::string& key) {
  const auto at = line.find("\"" + key + "\": ");
  REQUIRE_MESSAGE(at != std::string::npos, key << " is not in " << line);
  return std::strtod(line.c_str() + at + key.size() + 4, nullptr);
}

}  // namespace

TEST_CASE("tapezoo diagnose: the SNR and the units it prints are gradient_snr's and unit_report's") {
  using tz::models::Config;
  const tz::models::ModelInfo& info = tz::models::find_model("vae");
  const Config c = Config::from(info.flags, {{"objective", "iwae"}, {"z", "2"}, {"hidden", "8"}}, "vae");
  Rng init(8);
  std::unique_ptr<tz::models::Model<float>> m = info.make_float(c, init);
  tz::test::TempDir dir;
  const std::string ckpt = dir / "checkpoint.npz";
  tz::models::save_checkpoint(ckpt, info, c, *m);
  const std::string cmd = tz::test::tapezoo_program().string() + " diagnose vae --data strokes --checkpoint " + ckpt;
  // the same rows in-process: the strokes' test set (its own seed), binarized once
  Rng data_rng(0);
  const tz::models::Dataset data = tz::models::load_dataset(info, "strokes", data_rng);
  auto& vae = dynamic_cast<VAE<float>&>(*m);

  const std::string snr = tz::test::run(cmd + " --snr --k 1,10 --estimators standard,dreg --repeats 5 --batch 3 --json");
  const Array<float> x = tz::models::rows_of(tz::models::binarized_test_rows(data), 0, 3);
  for (auto [e, k] : {std::pair{Estimator::standard, 1}, std::pair{Estimator::dreg, 10}}) {
    Rng rng(7);  // diagnose's draws: --seed 0 + 7, for every estimator and k
    const tz::models::GradientSNR s = tz::models::gradient_snr(vae, x, k, e, 5, rng);
    const std::string key = fmt::format("{}_k{}", tz::models::to_string(e), k);
    CHECK(json_number(snr, "snr_encoder_" + key) == doctest::Approx(s.median_encoder).epsilon(1e-12));
    CHECK(json_number(snr, "snr_decoder_" + key) == doctest::Approx(s.median_decoder).epsilon(1e-12));
  }

  const std::string units = tz::test::run(cmd + " --active-units --eval 64 --json");
  const tz::models::UnitReport u = tz::models::unit_report(vae.gaussian_code(
      tz::models::binarized_test_rows(tz::models::first_test_rows(data, 64))));
  CHECK(json_number(units, "active_units") == static_cast<double>(u.active));
  const auto list = units.find("\"unit_kl\": [");  // KL_0, the list's first number
  REQUIRE(list != std::string::npos);
  CHECK(std::strtod(units.c_str() + list + 12, nullptr) == doctest::Approx(u.kl[0]).epsilon(1e-12));

  const auto [status, text] = tz::test::run_status(cmd);
  CHECK(status != 0);
  CHECK(tz::test::contains(text, "diagnose: nothing to do: give --snr, --active-units or both"));
  const auto [status2, text2] = tz::test::run_status(tz::test::tapezoo_program().string() +
                                                     " train vae --data strokes --iters 1 --estimator stl");
  CHECK(status2 != 0);
  CHECK(tz::test::contains(text2, "--estimator stl: applies to --objective iwae only"));
}

TEST_CASE("the KL of a unit to a mixture prior's marginal: closed forms, and a brute-force integral") {
  using tz::models::kl_to_mixture_marginal;
  // KL(N(m, v) ‖ N(μ, σ²)) = ½ [log(σ²/v) + (v + (m − μ)²)/σ² − 1]
  const auto closed = [](double m, double v, double mu, double s2) {
    return 0.5 * (std::log(s2 / v) + (v + (m - mu) * (m - mu)) / s2 - 1);
  };
  // one component: the Gaussian closed form, from a tiny to a wide q, near and far from the component
  for (auto [m, v, mu, s2] : {std::array{0.0, 1.0, 0.0, 1.0}, std::array{3.0, 25.0, 0.0, 1.0},
                              std::array{-1.0, 1e-4, 2.0, 0.5}, std::array{0.4, 0.3, 0.7, 0.09}}) {
    CAPTURE(m); CAPTURE(v); CAPTURE(mu); CAPTURE(s2);
    CHECK(kl_to_mixture_marginal(m, v, {mu}, {s2}) == doctest::Approx(closed(m, v, mu, s2)).epsilon(1e-9));
    // K equal components are the one component: log K cancels against the K terms of the sum
    CHECK(kl_to_mixture_marginal(m, v, {mu, mu, mu}, {s2, s2, s2}) ==
          doctest::Approx(closed(m, v, mu, s2)).epsilon(1e-9));
  }
  // two components, and three narrow ones (σ_k = 0.1 √v): against the midpoint rule on ±40 sd with
  // 400,001 points, written here separately; its own error is about 1e-9
  const auto brute = [](double m, double v, const std::vector<double>& mu, const std::vector<double>& var) {
    const std::size_t n = 400001;
    const double lo = m - 40 * std::sqrt(v), dt = 80 * std::sqrt(v) / static_cast<double>(n);
    double e = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double t = lo + (static_cast<double>(i) + 0.5) * dt;
      // in log space: far out both densities underflow, and 0 · log 0 would be NaN
      std::vector<double> a(mu.size());
      for (std::size_t k = 0; k < mu.size(); ++k) a[k] = log_n(t, mu[k], var[k]);
      const double top = *std::max_element(a.begin(), a.end());
      double p = 0;
      for (double ak : a) p += std::exp(ak - top);
      const double log_q = log_n(t, m, v);
      e += std::exp(log_q) * (log_q - top - std::log(p / static_cast<double>(mu.size()))) * dt;
    }
    return e;
  };
  CHECK(kl_to_mixture_marginal(0.3, 0.8, {-2, 1.5}, {0.5, 2}) ==
        doctest::Approx(brute(0.3, 0.8, {-2, 1.5}, {0.5, 2})).epsilon(1e-8));
  CHECK(kl_to_mixture_marginal(0.0, 1.0, {-1, 0.2, 1}, {0.01, 0.01, 0.01}) ==
        doctest::Approx(brute(0.0, 1.0, {-1, 0.2, 1}, {0.01, 0.01, 0.01})).epsilon(1e-7));
  CHECK_THROWS_AS(kl_to_mixture_marginal(0, 1, {0, 1}, {1}), std::invalid_argument);
  CHECK_THROWS_WITH_AS(kl_to_mixture_marginal(0, 0, {0}, {1}), doctest::Contains("every variance must be positive"),
                       std::invalid_argument);
  CHECK_THROWS_AS(kl_to_mixture_marginal(0, 1, {0, 1}, {1, 0}), std::invalid_argument);
}

TEST_CASE("unit_report against a mixture prior: each unit's KL is kl_to_mixture_marginal's, averaged over rows") {
  // two rows, two units; the prior has K = 2 components [2, 2]
  tz::models::GaussianCode c{Array<float>({{0.0f, 1.0f}, {0.4f, 1.0f}}), Array<float>({{1.0f, 0.5f}, {0.25f, 0.5f}}),
                             Array<float>({{-1.0f, 0.0f}, {1.0f, 2.0f}}), Array<float>({{0.5f, 1.0f}, {0.5f, 4.0f}})};
  const tz::models::UnitReport u = tz::models::unit_report(c);
  CHECK(u.mixture_prior);
  CHECK(u.active == 1);  // the activities do not depend on the prior: as in the N(0, I) case above
  using tz::models::kl_to_mixture_marginal;
  const double kl0 = (kl_to_mixture_marginal(0.0, 1.0, {-1, 1}, {0.5, 0.5}) +
                      kl_to_mixture_marginal(0.4, 0.25, {-1, 1}, {0.5, 0.5})) / 2;
  CHECK(u.kl[0] == doctest::Approx(kl0).epsilon(1e-6));
  CHECK(u.kl[1] == doctest::Approx(kl_to_mixture_marginal(1.0, 0.5, {0, 2}, {1, 4})).epsilon(1e-6));
  // one standard-normal component is the N(0, I) report
  tz::models::GaussianCode n01{c.m, c.v, Array<float>({{0.0f, 0.0f}}), Array<float>({{1.0f, 1.0f}})};
  const tz::models::UnitReport u1 = tz::models::unit_report(n01), u0 = tz::models::unit_report({c.m, c.v, {}, {}});
  CHECK(!u0.mixture_prior);
  for (std::size_t j = 0; j < 2; ++j) CHECK(u1.kl[j] == doctest::Approx(u0.kl[j]).epsilon(1e-9));
  tz::models::GaussianCode bad{c.m, c.v, Array<float>({{0.0f, 0.0f, 0.0f}}), Array<float>({{1.0f, 1.0f, 1.0f}})};
  CHECK_THROWS_WITH_AS(tz::models::unit_report(bad), doctest::Contains("must be [K, 2]"), std::invalid_argument);
}
