// Tests of models/vae: the ELBO's terms in closed form and against a hand computation of the whole
// network; IWAE with k = 1 is the one-sample ELBO with a Monte-Carlo KL (same ε); the float64
// gradcheck of the NELBO, the β-weighted and the IWAE objectives; KL-annealing schedules; the
// chunked IWAE evaluation equals the unchunked one; the shared evaluation loop (models/evaluate.hpp)
// gives the same sums for every chunk size; binarization; a 300-iteration run of the shared loop
// lowers the test NELBO; metrics, pictures and flags; the stroke images of datasets/strokes.hpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "autograd/parallel.hpp"
#include "io/png.hpp"
#include "models/conformance.hpp"
#include "models/evaluate.hpp"
#include "models/train.hpp"
#include "datasets/strokes.hpp"
#include "models/vae.hpp"
#include "tests/test_helpers.hpp"

using tz::Array;
using tz::Rng;
using tz::Tape;
using tz::Var;
using tz::models::VAE;
using tz::models::VAEOptions;
using tz::test::binary_rows;  // binary_rows(n, d, seed): random binary rows [n, d], drawn with their own seed
using tz::test::kLog2Pi;
using tz::test::softplus;

namespace {

// The batch mean of per-example values [n], in double.
double mean_value(const Var<double>& v) {
  double s = 0;
  for (double a : v.value()) s += a;
  return s / static_cast<double>(v.size());
}

VAEOptions tiny(std::size_t x_dim, std::size_t hidden, std::size_t z) {
  VAEOptions o;
  o.x_dim = x_dim;
  o.hidden = hidden;
  o.z = z;
  return o;
}

// ---- a hand computation of the network with plain loops ------------------------------------------

double elu(double a) { return a > 0 ? a : std::expm1(a); }

// y = x W + b for one row, then ELU unless last.
std::vector<double> dense(const std::vector<double>& x, const Array<double>& W, const Array<double>& b, bool act) {
  std::vector<double> y(W.shape()[1]);
  for (std::size_t o = 0; o < y.size(); ++o) {
    double s = b(o);
    for (std::size_t i = 0; i < x.size(); ++i) s += x[i] * W(i, o);
    y[o] = act ? elu(s) : s;
  }
  return y;
}

std::vector<double> mlp(const tz::nn::ParamSet<double>& P, const std::string& net, std::vector<double> h) {
  for (int l = 1; l <= 3; ++l)
    h = dense(h, P[net + ".l" + std::to_string(l) + ".W"].value, P[net + ".l" + std::to_string(l) + ".b"].value, l < 3);
  return h;
}

struct HandElbo {
  double rec = 0, kl = 0, log_pz = 0, log_qz = 0;  // batch means
};

HandElbo hand_elbo(const tz::nn::ParamSet<double>& P, const Array<double>& x, const Array<double>& eps) {
  const std::size_t n = x.shape()[0], d = x.shape()[1], zd = eps.shape()[1];
  HandElbo out;
  for (std::size_t r = 0; r < n; ++r) {
    std::vector<double> xr(d);
    for (std::size_t j = 0; j < d; ++j) xr[j] = x(r, j);
    const std::vector<double> h = mlp(P, "enc", xr);
    std::vector<double> z(zd);
    for (std::size_t j = 0; j < zd; ++j) {
      const double m = h[j], v = softplus(h[zd + j]) + 1e-8;
      z[j] = m + std::sqrt(v) * eps(r, j);
      out.kl += 0.5 * (v + m * m - 1 - std::log(v)) / static_cast<double>(n);
      out.log_pz += -0.5 * (z[j] * z[j] + kLog2Pi) / static_cast<double>(n);
      out.log_qz += -0.5 * (kLog2Pi + std::log(v) + (z[j] - m) * (z[j] - m) / v) / static_cast<double>(n);
    }
    const std::vector<double> l = mlp(P, "dec", z);
    for (std::size_t j = 0; j < d; ++j) out.rec -= (xr[j] * l[j] - softplus(l[j])) / static_cast<double>(n);
  }
  return out;
}

}  // namespace

TEST_CASE("the ELBO's terms in closed form: a network whose output layers ignore their inputs") {
  // With the last weights zero, h = b: m = 0.5, v = softplus(log(e − 1)) + 1e-8 = 1 + 1e-8, and the
  // logits are (0, log 3, −log 3) whatever z is. For x = (1, 0, 1):
  //   rec = −Σ_j [x_j l_j − softplus(l_j)] = log 3 + log 2 + log 4 + log(4/3) = 5 log 2
  //   KL  = ½ (v + m² − 1 − log v) = 1/8 + ½ (1e-8 − log(1 + 1e-8))
  Rng rng(1);
  VAE<double> vae(tiny(3, 2, 1), rng);
  auto& P = vae.params();
  P["enc.l3.W"].value.fill(0.0);
  P["enc.l3.b"].value = Array<double>{0.5, std::log(std::exp(1.0) - 1)};
  P["dec.l3.W"].value.fill(0.0);
  P["dec.l3.b"].value = Array<double>{0.0, std::log(3.0), -std::log(3.0)};
  Tape<double> tape;
  Array<double> x = Array<double>::from_shape({1, 3});
  x(0, 0) = 1, x(0, 1) = 0, x(0, 2) = 1;
  Array<double> eps = Array<double>::from_shape({1, 1});
  eps(0, 0) = 0.7;
  const auto b = vae.negative_elbo_bound(tape, tape.constant(x), tape.constant(eps));
  REQUIRE(b.nelbo.shape() == std::vector<std::size_t>{1});  // per example
  const double kl = 0.125 + 0.5 * (1e-8 - std::log1p(1e-8));
  CHECK(b.rec.item() == doctest::Approx(5 * std::log(2.0)).epsilon(1e-14));
  CHECK(b.kl.item() == doctest::Approx(kl).epsilon(1e-12));
  CHECK(b.nelbo.item() == doctest::Approx(5 * std::log(2.0) + kl).epsilon(1e-14));
}

TEST_CASE("the ELBO's terms match a hand computation of the whole network with the same ε") {
  Rng rng(2);
  VAE<double> vae(tiny(7, 5, 3), rng);
  const Array<double> x = binary_rows(4, 7, 3);
  const Array<double> eps = rng.normal<double>({4, 3});
  Tape<double> tape;
  const auto b = vae.negative_elbo_bound(tape, tape.constant(x), tape.constant(eps));
  const HandElbo h = hand_elbo(vae.params(), x, eps);
  // The bound is per example, [4]; its batch means are the hand computation's.
  REQUIRE(b.nelbo.shape() == std::vector<std::size_t>{4});
  REQUIRE(b.kl.shape() == std::vector<std::size_t>{4});
  CHECK(mean_value(b.rec) == doctest::Approx(h.rec).epsilon(1e-12));
  CHECK(mean_value(b.kl) == doctest::Approx(h.kl).epsilon(1e-12));
  CHECK(mean_value(b.nelbo) == doctest::Approx(h.rec + h.kl).epsilon(1e-12));
  // Row by row, nelbo = rec + KL.
  for (std::size_t i = 0; i < 4; ++i)
    CHECK(b.nelbo.value()(i) == doctest::Approx(b.rec.value()(i) + b.kl.value()(i)).epsilon(1e-14));
  // The β-VAE objective weights the KL: rec + β·KL.
  CHECK(mean_value(vae.weighted_objective(b, 4.0)) == doctest::Approx(h.rec + 4 * h.kl).epsilon(1e-12));
}

TEST_CASE("IWAE with k = 1 is the one-sample ELBO with a Monte-Carlo KL, for the same ε") {
  // −L_1(x) = −log w = −log p(x|z) − log p(z) + log q(z|x) = rec + KL_mc, and
  // KL_mc − KL = [log q(z|x) − log p(z)] − KL(q ‖ p): zero on average, not per sample.
  Rng rng(4);
  VAE<double> vae(tiny(7, 5, 3), rng);
  const Array<double> x = binary_rows(5, 7, 5);
  const Array<double> eps = rng.normal<double>({5, 3});
  Tape<double> tape;
  const double niwae1 = mean_value(vae.negative_iwae_bound(tape, tape.constant(x), 1, tape.constant(eps)));
  const auto b = vae.negative_elbo_bound(tape, tape.constant(x), tape.constant(eps));
  const HandElbo h = hand_elbo(vae.params(), x, eps);
  CHECK(niwae1 == doctest::Approx(mean_value(b.rec) + h.log_qz - h.log_pz).epsilon(1e-12));
  CHECK(niwae1 == doctest::Approx(h.rec + h.log_qz - h.log_pz).epsilon(1e-12));
  CHECK(std::abs(niwae1 - mean_value(b.nelbo)) > 1e-6);  // the closed-form KL is another estimate

  // And with k samples, by hand: −log (1/k) Σ_i w_i per example, from the same ε (row i·n + j).
  const std::size_t k = 6, n = 5;
  const Array<double> eps_k = rng.normal<double>({k * n, 3});
  const double niwae_k = mean_value(vae.negative_iwae_bound(tape, tape.constant(x), k, tape.constant(eps_k)));
  double want = 0;
  for (std::size_t j = 0; j < n; ++j) {
    std::vector<double> log_w(k);
    for (std::size_t i = 0; i < k; ++i) {
      Array<double> xi = Array<double>::from_shape({1, 7}), ei = Array<double>::from_shape({1, 3});
      for (std::size_t c = 0; c < 7; ++c) xi(0, c) = x(j, c);
      for (std::size_t c = 0; c < 3; ++c) ei(0, c) = eps_k(i * n + j, c);
      const HandElbo hi = hand_elbo(vae.params(), xi, ei);
      log_w[i] = -hi.rec + hi.log_pz - hi.log_qz;
    }
    const double mx = *std::max_element(log_w.begin(), log_w.end());
    double s = 0;
    for (double lw : log_w) s += std::exp(lw - mx);
    want += -(mx + std::log(s / static_cast<double>(k))) / static_cast<double>(n);
  }
  CHECK(niwae_k == doctest::Approx(want).epsilon(1e-12));
}

TEST_CASE("float64 gradcheck of the NELBO, the β-weighted objective and the IWAE bound") {
  Rng rng(6);
  VAE<double> vae(tiny(6, 4, 2), rng);
  const Array<double> x = binary_rows(3, 6, 7);
  const Array<double> eps = rng.normal<double>({3, 2});
  const Array<double> eps4 = rng.normal<double>({12, 2});
  // each the batch mean of a per-example bound, as loss() takes it
  auto nelbo = [&](Tape<double>& t) { return mean(vae.negative_elbo_bound(t, t.constant(x), t.constant(eps)).nelbo); };
  auto beta = [&](Tape<double>& t) {
    return mean(vae.weighted_objective(vae.negative_elbo_bound(t, t.constant(x), t.constant(eps)), 0.3));
  };
  auto iwae = [&](Tape<double>& t) { return mean(vae.negative_iwae_bound(t, t.constant(x), 4, t.constant(eps4))); };
  for (auto& [name, f] : std::vector<std::pair<std::string, std::function<Var<double>(Tape<double>&)>>>{
           {"nelbo", nelbo}, {"rec + 0.3 KL", beta}, {"niwae_4", iwae}}) {
    const auto r = tz::models::gradcheck_params(name, vae.params(), f, /*per_param=*/1000, /*rtol=*/1e-6);
    CHECK_MESSAGE(r.ok, r.message);
  }
}

TEST_CASE("KL annealing: the weight's schedule, and the loss it gives") {
  using tz::models::AnnealShape;
  using tz::models::anneal_fraction;
  // linear: min(1, t/N)
  CHECK(anneal_fraction(0, 100, AnnealShape::linear) == 0.0);
  CHECK(anneal_fraction(25, 100, AnnealShape::linear) == 0.25);
  CHECK(anneal_fraction(100, 100, AnnealShape::linear) == 1.0);
  CHECK(anneal_fraction(5000, 100, AnnealShape::linear) == 1.0);
  // cyclic: τ = (t mod N)/N, 2τ on the first half of each cycle, then 1
  CHECK(anneal_fraction(0, 100, AnnealShape::cyclic) == 0.0);
  CHECK(anneal_fraction(25, 100, AnnealShape::cyclic) == 0.5);
  CHECK(anneal_fraction(50, 100, AnnealShape::cyclic) == 1.0);
  CHECK(anneal_fraction(99, 100, AnnealShape::cyclic) == 1.0);
  CHECK(anneal_fraction(100, 100, AnnealShape::cyclic) == 0.0);
  CHECK(anneal_fraction(130, 100, AnnealShape::cyclic) == doctest::Approx(0.6).epsilon(1e-15));
  // off
  CHECK(anneal_fraction(0, 0, AnnealShape::linear) == 1.0);

  // The loss is rec + β(t)·KL with β(t) = --beta × the fraction, at the iteration the loop sets.
  Rng rng(8);
  VAEOptions o = tiny(6, 4, 2);
  o.beta = 2.0;
  o.anneal = 10;
  VAE<double> vae(o, rng);
  tz::models::Batch<double> batch;
  batch.x = binary_rows(3, 6, 9);
  for (long t : {0L, 4L, 10L, 30L}) {
    vae.set_iteration(t);
    CHECK(vae.kl_weight() == doctest::Approx(2.0 * std::min(1.0, t / 10.0)).epsilon(1e-15));
    Tape<double> tape;
    Rng noise(1);
    const auto L = vae.loss(tape, batch, noise);
    CHECK(L.terms.size() == 3);
    const double nelbo = L.terms[0].second, kl = L.terms[1].second, rec = L.terms[2].second;
    CHECK(nelbo == doctest::Approx(rec + kl).epsilon(1e-12));
    CHECK(L.value.item() == doctest::Approx(rec + vae.kl_weight() * kl).epsilon(1e-12));
  }
}

TEST_CASE("the chunked IWAE evaluation equals the unchunked one and the bound on the tape") {
  Rng init(10);
  VAE<double> vae(tiny(9, 6, 2), init);
  const std::size_t n = 7, k = 50;
  const Array<double> x = binary_rows(n, 9, 11);
  Rng a(12), b(12), c(12);
  const std::vector<double> whole = vae.negative_iwae_bound_eval(x, k, a, /*max_rows=*/k * n);
  const std::vector<double> chunked = vae.negative_iwae_bound_eval(x, k, b, /*max_rows=*/3 * n + 2);  // 3 samples a chunk
  REQUIRE(whole.size() == n);
  double mean = 0;
  for (std::size_t j = 0; j < n; ++j) {
    CHECK(chunked[j] == doctest::Approx(whole[j]).epsilon(1e-12));
    mean += whole[j] / static_cast<double>(n);
  }
  Tape<double> tape;
  // the n < 100 rows are one group, which draws from chunk_rng(seed, 0), seed one draw from the caller's rng
  Rng group0 = tz::chunk_rng(c.next_u64(), 0);
  CHECK(mean_value(vae.negative_iwae_bound(tape, tape.constant(x), k, group0)) == doctest::Approx(mean).epsilon(1e-12));
  // One sample per chunk (the least memory) gives the same again.
  Rng d(12);
  const std::vector<double> single = vae.negative_iwae_bound_eval(x, k, d, /*max_rows=*/1);
  for (std::size_t j = 0; j < n; ++j) CHECK(single[j] == doctest::Approx(whole[j]).epsilon(1e-12));
  // The log weights behind it (sample i of image j at i·n + j), drawn in the same order.
  Rng e(12);
  const std::vector<double> log_w = vae.log_importance_weights_eval(x, k, e, /*max_rows=*/2 * n);
  REQUIRE(log_w.size() == k * n);
  for (std::size_t j = 0; j < n; ++j) {
    double mx = -1e300, s = 0;
    for (std::size_t i = 0; i < k; ++i) mx = std::max(mx, log_w[i * n + j]);
    for (std::size_t i = 0; i < k; ++i) s += std::exp(log_w[i * n + j] - mx);
    CHECK(-(mx + std::log(s / static_cast<double>(k))) == doctest::Approx(whole[j]).epsilon(1e-12));
  }
}

TEST_CASE("the shared evaluation loop: the same sums for chunks of 1, 7 and n rows") {
  // Synthetic per-row terms (a function of the row index only): the sums are added one row after
  // another in row order whatever the chunk, so they are bit for bit equal.
  const std::size_t n = 23;
  auto sums_with = [&](std::size_t chunk) {
    return tz::models::sum_over_chunks<double>(n, chunk, [&](Tape<double>& tape, std::size_t b, std::size_t e) {
      Array<double> a = Array<double>::from_shape({e - b}), c = Array<double>::from_shape({e - b});
      for (std::size_t i = b; i < e; ++i) {
        a(i - b) = 1.0 / static_cast<double>(i + 3);         // Σ of 1/(i+3): no exact binary sum
        c(i - b) = std::exp(-static_cast<double>(i) / 5.0);  // a second term, to check the order of terms
      }
      return std::array{tape.constant(a), tape.constant(c)};
    });
  };
  const auto whole = sums_with(n), one = sums_with(1), seven = sums_with(7);
  double a = 0, c = 0;
  for (std::size_t i = 0; i < n; ++i) {
    a += 1.0 / static_cast<double>(i + 3);
    c += std::exp(-static_cast<double>(i) / 5.0);
  }
  CHECK(whole[0] == a);
  CHECK(whole[1] == c);
  CHECK(one == whole);
  CHECK(seven == whole);

  // On a real VAE's −ELBO (float64), the rows of a chunk go through the networks together, so a row's
  // value may differ in its last bits between chunk sizes (BLAS blocks the products by size): the
  // sums agree to n·(a few ulps) of terms of about 5 nats, far inside 1e-12 relative.
  Rng init(21);
  VAE<double> vae(tiny(9, 6, 2), init);
  const Array<double> x = binary_rows(n, 9, 22);
  const Array<double> eps = Rng(23).normal<double>({n, 2});
  auto nelbo_with = [&](std::size_t chunk) {
    return tz::models::sum_over_chunks<double>(n, chunk, [&](Tape<double>& tape, std::size_t b, std::size_t e) {
      const auto bound = vae.negative_elbo_bound(tape, tape.constant(tz::models::rows_of(x, b, e)),
                                                 tape.constant(tz::models::rows_of(eps, b, e)));
      return std::array{bound.nelbo, bound.kl};
    });
  };
  const auto all = nelbo_with(n);
  Tape<double> tape;
  const auto direct = vae.negative_elbo_bound(tape, tape.constant(x), tape.constant(eps));
  CHECK(all[0] == doctest::Approx(mean_value(direct.nelbo) * static_cast<double>(n)).epsilon(1e-12));
  CHECK(all[1] == doctest::Approx(mean_value(direct.kl) * static_cast<double>(n)).epsilon(1e-12));
  for (std::size_t chunk : {std::size_t{1}, std::size_t{7}}) {
    const auto part = nelbo_with(chunk);
    CHECK(part[0] == doctest::Approx(all[0]).epsilon(1e-12));
    CHECK(part[1] == doctest::Approx(all[1]).epsilon(1e-12));
  }

  // A term that is not per example (a batch mean, say) is refused: it would be summed once per chunk.
  CHECK_THROWS_WITH_AS(tz::models::sum_over_chunks<double>(n, 7,
                                                           [&](Tape<double>& t, std::size_t b, std::size_t e) {
                                                             return std::array{mean(t.constant(
                                                                 Array<double>(xt::ones<double>({e - b}))))};
                                                           }),
                       doctest::Contains("per example"), std::invalid_argument);
}

TEST_CASE("the bound tightens with k: −L_1 ≥ −L_10 ≥ −L_100 on average over images") {
  Rng init(13);
  VAE<double> vae(tiny(12, 8, 2), init);
  const Array<double> x = binary_rows(40, 12, 14);
  auto mean_of = [&](std::size_t k) {
    Rng rng(15);
    double s = 0;
    for (double v : vae.negative_iwae_bound_eval(x, k, rng)) s += v / 40.0;
    return s;
  };
  const double l1 = mean_of(1), l10 = mean_of(10), l100 = mean_of(100);
  CHECK(l1 > l10);
  CHECK(l10 > l100);
  // −log p(x) ≥ 0 for binary data: every bound stays positive.
  CHECK(l100 > 0);
}

TEST_CASE("dynamic binarization: zeros and ones, with P(1) = the intensity") {
  Rng init(16);
  VAE<float> vae(tiny(784, 8, 2), init);
  tz::models::Batch<float> batch;
  batch.x = Array<float>::from_shape({200, 784});
  for (std::size_t i = 0; i < batch.x.size(); ++i) batch.x.data()[i] = static_cast<float>(i % 4) / 3.0f;  // 0, ⅓, ⅔, 1
  Rng rng(17);
  vae.prepare_batch(batch, rng);
  double ones[4] = {0, 0, 0, 0};
  std::size_t not_binary = 0;
  for (std::size_t i = 0; i < batch.x.size(); ++i) {
    const float v = batch.x.data()[i];
    not_binary += v != 0.0f && v != 1.0f;
    ones[i % 4] += v;
  }
  CHECK(not_binary == 0);
  const double per = static_cast<double>(batch.x.size()) / 4;  // 39,200 pixels of each intensity
  CHECK(ones[0] == 0.0);
  CHECK(ones[3] == per);
  // Binomial standard deviation √(p(1−p)/n) ≈ 0.0024: five of them.
  CHECK(std::abs(ones[1] / per - 1.0 / 3) < 0.012);
  CHECK(std::abs(ones[2] / per - 2.0 / 3) < 0.012);
}

TEST_CASE("active units: Cov_x(E_q[z_j]) per unit, and the count above 1e-2") {
  Array<float> m = Array<float>::from_shape({4, 3});
  const float rows[4][3] = {{1, 0.5f, 5}, {-1, 0.05f, 5}, {1, -0.5f, 5}, {-1, -0.05f, 5}};
  for (std::size_t i = 0; i < 4; ++i)
    for (std::size_t j = 0; j < 3; ++j) m(i, j) = rows[i][j];
  const std::vector<double> a = tz::models::unit_activities(m);
  // Unit 1 takes ±0.5 and ±0.05: variance (0.25 + 0.0025)/2 = 0.12625.
  CHECK(a[0] == doctest::Approx(1.0).epsilon(1e-7));
  CHECK(a[1] == doctest::Approx(0.12625).epsilon(1e-6));
  CHECK(a[2] == 0.0);
  CHECK(tz::models::active_units(m) == 2);
  CHECK(tz::models::active_units(m, 0.5) == 1);
}

TEST_CASE("300 iterations of the shared loop lower the test NELBO; metrics and pictures") {
  const auto& info = tz::models::find_model("vae");
  const tz::models::Config cfg = tz::models::Config::from(info.flags, {{"z", "2"}, {"hidden", "64"}, {"iwae", "1,10"}}, "vae");
  tz::models::TrainOptions opt;
  opt.data = "strokes";
  opt.batch = 32;
  opt.eval = 200;
  opt.quiet = true;
  opt.seed = 3;
  opt.iters = 0;  // an untrained model, evaluated the same way
  const auto before = tz::models::train(info, cfg, opt);
  opt.iters = 300;
  opt.lr = 3e-3;
  opt.out = (std::filesystem::temp_directory_path() / "tapezoo-test-vae").string();
  std::filesystem::remove_all(opt.out);
  std::unique_ptr<tz::models::Model<float>> trained;
  const auto after = tz::models::train(info, cfg, opt, &trained);
  auto metric = [](const tz::models::TrainResult& r, const std::string& name) {
    for (const auto& [k, v] : r.metrics)
      if (k == name) return v;
    FAIL("no metric " << name);
    return 0.0;
  };
  std::vector<std::string> names;
  for (const auto& [k, v] : after.metrics) names.push_back(k);
  CHECK(names == std::vector<std::string>{"test_nelbo", "test_kl", "test_rec", "test_niwae_1", "test_niwae_10"});
  // At initialisation the logits are near 0, so rec ≈ 784 log 2 = 543.4 nats.
  CHECK(metric(before, "test_rec") == doctest::Approx(784 * std::log(2.0)).epsilon(0.05));
  INFO("test NELBO before " << metric(before, "test_nelbo") << ", after " << metric(after, "test_nelbo"));
  CHECK(metric(after, "test_nelbo") < 0.5 * metric(before, "test_nelbo"));
  CHECK(metric(after, "test_nelbo") == doctest::Approx(metric(after, "test_kl") + metric(after, "test_rec")).epsilon(1e-6));
  CHECK(metric(after, "test_niwae_10") < metric(after, "test_niwae_1"));
  // Pictures: 10×10 samples of 28×28 with 2-pixel padding; inputs above reconstructions; z = 2: the manifold.
  const tz::Image samples = tz::read_png(opt.out + "/samples.png");
  CHECK(samples.width == 10 * 30 + 2);
  CHECK(samples.height == 10 * 30 + 2);
  const tz::Image recon = tz::read_png(opt.out + "/reconstructions.png");
  CHECK(recon.width == 10 * 30 + 2);
  const tz::Image manifold = tz::read_png(opt.out + "/manifold.png");
  CHECK(manifold.width == 20 * 28);
  CHECK(std::filesystem::exists(opt.out + "/checkpoint.npz"));
  // The checkpoint rebuilds the trained model: the same samples from the same seed.
  const auto loaded = tz::models::load_checkpoint(opt.out + "/checkpoint.npz");
  Rng r1(5), r2(5);
  CHECK(loaded.model->sample(3, r1) == trained->sample(3, r2));
  std::filesystem::remove_all(opt.out);
}

TEST_CASE("flags: presets, and errors that name the flag") {
  using tz::models::Config;
  const auto& vae = tz::models::find_model("vae");
  const auto o = tz::models::vae_options(Config::from(vae.flags, {{"iwae", "1,50,5000"}, {"anneal-shape", "cyclic"}}, "vae"));
  CHECK(o.iwae == std::vector<long>{1, 50, 5000});
  CHECK(o.anneal_shape == tz::models::AnnealShape::cyclic);
  const auto iw = tz::models::vae_options(Config::from(tz::models::find_model("iwae").flags, {}, "iwae"));
  CHECK(iw.objective == tz::models::Objective::iwae);
  CHECK(iw.k == 5);
  CHECK(tz::models::vae_options(Config::from(tz::models::find_model("beta_vae").flags, {}, "beta_vae")).beta == 4.0);
  auto error_of = [&](std::map<std::string, std::string> flags) {
    try {
      tz::models::vae_options(Config::from(vae.flags, flags, "vae"));
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error_of({{"objective", "elbow"}}).find("--objective") != std::string::npos);
  CHECK(error_of({{"anneal-shape", "cosine"}}).find("--anneal-shape") != std::string::npos);
  CHECK(error_of({{"k", "0"}}).find("--k") != std::string::npos);
  CHECK(error_of({{"beta", "-1"}}).find("--beta") != std::string::npos);
  CHECK(error_of({{"iwae", "1,0"}}).find("--iwae") != std::string::npos);
  // Data of another width is refused with a message that says what the model takes.
  Rng rng(1);
  auto model = vae.make_float(Config::from(vae.flags, {}, "vae"), rng);
  tz::models::Dataset d;
  d.name = "toy";
  d.train_x = Array<float>::from_shape({4, 10});
  try {
    model->prepare_data(d, rng);
    FAIL("10-column data was accepted");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("784") != std::string::npos);
  }
}

TEST_CASE("stroke images: shapes of 0.9 on 0.05, bars in class order, and the Dataset the models copy") {
  Rng rng(30);
  const tz::StrokeImages s = tz::make_strokes({.kind = tz::StrokeKind::shapes, .n_train = 40, .n_test = 8}, rng);
  REQUIRE(s.train_x.shape() == std::vector<std::size_t>{40, 784});
  REQUIRE(s.test_x.shape() == std::vector<std::size_t>{8, 784});
  CHECK(s.train_y.empty());
  CHECK(s.num_classes == 0);
  for (std::size_t r = 0; r < 40; ++r) {
    std::size_t on = 0, off = 0;
    for (std::size_t p = 0; p < 784; ++p) {
      on += s.train_x(r, p) == 0.9f;
      off += s.train_x(r, p) == 0.05f;
    }
    CAPTURE(r);
    CHECK(on + off == 784);
    // a bar is 4 × 20 = 80 pixels, the square's outline 16² − 10² = 156, the diagonal 20 rows of 5
    // = 100 (a few fewer when a shift of 3 pushes its end out of the frame)
    CHECK((on == 80 || on == 156 || (on >= 90 && on <= 100)));
  }

  Rng a(31), b(31);
  const tz::StrokeImages bars = tz::make_strokes({.kind = tz::StrokeKind::bars, .n_train = 20, .n_test = 10}, a);
  CHECK(bars.num_classes == 10);
  for (std::size_t i = 0; i < 20; ++i) CHECK(bars.train_y[i] == static_cast<int>(i % 10));
  CHECK(bars.test_y == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(xt::amin(bars.train_x)() >= 0.0f);
  CHECK(xt::amax(bars.train_x)() <= 1.0f);
  // Class 5 is a vertical bar (θ = π/2) at column 13.5 + u, |u| < 2: the nearer of the middle columns
  // 13 and 14 is within 1.5 of it, so its ink e^{−dist²/4} ≥ e^{−1.5²/4} ≈ 0.57; at column 0 the
  // distance is over 11.5 and the ink at most e^{−33} + 0.05.
  for (std::size_t row = 0; row < 28; ++row) {
    CHECK(std::max(bars.train_x(5, row * 28 + 13), bars.train_x(5, row * 28 + 14)) > 0.56f);
    CHECK(bars.train_x(5, row * 28 + 0) < 0.06f);
  }
  // The Dataset is the generator's arrays, named and sized for pictures.
  const tz::models::Dataset d = tz::models::stroke_dataset(tz::StrokeKind::bars, 20, 10, b);
  CHECK(d.name == "bars");
  CHECK(d.train_x == bars.train_x);
  CHECK(d.test_y == bars.test_y);
  CHECK(d.rows == 28);
  CHECK(d.cols == 28);
  CHECK(d.num_classes == 10);
}
