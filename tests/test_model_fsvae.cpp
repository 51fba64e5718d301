// Tests of models/fsvae: −ELBO(x|y) against a hand computation for the same ε; −IWAE(x|y) against a
// hand computation; the class × style grid's layout (a decoder blind to y gives identical rows, one
// blind to z identical columns); unlabelled rows are refused; the float64 gradcheck; a short
// training run, the evaluation's metrics and the pictures. The learned prior p(z|y) = N(μ_y, σ_y²)
// (--prior learned): its KL and its IWAE weights against hand computations, its start at N(0, I), its
// float64 gradcheck (which reaches prior.z_pre), its parameter's name and the flag's values.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <xtensor/xview.hpp>

#include "io/png.hpp"
#include "models/fsvae.hpp"
#include "models/vae_common.hpp"  // tiny_stroke_images
#include "tests/test_helpers.hpp"

using tz::Array;
using tz::Rng;
using tz::Tape;
using tz::Var;
using tz::models::FSVAE;
using tz::models::FSVAEOptions;
using namespace tz::test;  // the shared helpers: binary_rows, softplus, conditional_elbo_by_hand, gradcheck_loss, …

namespace {

FSVAEOptions small() {
  FSVAEOptions o;
  o.x_dim = 12;
  o.hidden = 8;
  o.z = 3;
  o.iwae = {1, 4};
  return o;
}

}  // namespace

TEST_CASE("fsvae: −ELBO(x|y) = rec + KL matches a hand computation for the same ε") {
  Rng rng(1);
  FSVAE<double> model(small(), rng);
  const std::size_t n = 4, d = 12, zd = 3;
  const Array<double> x = binary_rows(n, d, rng);
  const std::vector<int> y = {3, 0, 9, 3};
  const Array<double> eps = rng.normal<double>({n, zd});

  Tape<double> tape;
  auto bound = model.negative_elbo_bound(tape, tape.constant(x), y, tape.constant(eps));
  const HandTerms hand = conditional_elbo_by_hand(model, x, y, eps);
  for (std::size_t i = 0; i < n; ++i) {
    const double rec = hand.rec[i], kl = hand.kl[i];
    CAPTURE(i);
    CHECK(bound.rec.value()(i) == doctest::Approx(rec).epsilon(1e-12));
    CHECK(bound.kl.value()(i) == doctest::Approx(kl).epsilon(1e-12));
    CHECK(bound.nelbo.value()(i) == doctest::Approx(rec + kl).epsilon(1e-12));
  }
  // The label matters: the same x with another y has another bound.
  auto other = model.negative_elbo_bound(tape, tape.constant(x), std::vector<int>{4, 1, 2, 7}, tape.constant(eps));
  CHECK(other.nelbo.value()(0) != doctest::Approx(bound.nelbo.value()(0)).epsilon(1e-6));
}

TEST_CASE("fsvae: −IWAE(x|y) matches a hand computation of −log (1/m) Σ_j p(x|y,z_j) p(z_j) / q(z_j|x,y)") {
  Rng rng(2);
  FSVAE<double> model(small(), rng);
  const std::size_t n = 2, k = 3, d = 12, zd = 3;
  const Array<double> x = binary_rows(n, d, rng);
  const std::vector<int> y = {5, 1};
  Tape<double> tape;
  Rng noise(4);
  const Array<double> niwae = model.negative_iwae_bound(tape, tape.constant(x), y, k, noise).value();
  Rng same(4);
  const Array<double> eps = same.normal<double>({k * n, zd});  // row j·n + i is sample j of x_i

  for (std::size_t i = 0; i < n; ++i) {
    Var<double> yi = tape.constant(tz::one_hot<double>({y[i]}, 10));
    Array<double> xi = Array<double>(xt::view(x, xt::range(i, i + 1), xt::all()));
    auto [m, v] = model.encode(tape, tape.constant(xi), yi);
    double mean_w = 0;
    for (std::size_t j = 0; j < k; ++j) {
      Array<double> z = Array<double>::from_shape({1, zd});
      for (std::size_t q = 0; q < zd; ++q) z(0, q) = m.value()(0, q) + std::sqrt(v.value()(0, q)) * eps(j * n + i, q);
      const Array<double> l = model.decode(tape, tape.constant(z), yi).value();
      double log_w = 0;
      for (std::size_t p = 0; p < d; ++p) log_w += xi(0, p) * l(0, p) - softplus(l(0, p));
      for (std::size_t q = 0; q < zd; ++q) log_w += log_n(z(0, q), 0, 1) - log_n(z(0, q), m.value()(0, q), v.value()(0, q));
      mean_w += std::exp(log_w) / k;  // fine here: log w is about −10 with 12 pixels
    }
    CAPTURE(i);
    CHECK(niwae(i) == doctest::Approx(-std::log(mean_w)).epsilon(1e-10));
  }
}

TEST_CASE("fsvae: class_style_grid puts class y in row y and the shared z_j in column j") {
  Rng rng(3);
  FSVAE<double> model(small(), rng);
  const std::size_t columns = 4, K = 10, d = 12, zd = 3;
  // dec.l1.W is [z + K, hidden]: rows 0..z−1 read z, rows z..z+K−1 read y.
  const Array<double> W = model.params()["dec.l1.W"].value;

  auto grid_with = [&](bool blind_to_y) {
    Array<double>& w = model.params()["dec.l1.W"].value;
    w = W;
    const std::size_t from = blind_to_y ? zd : 0, to = blind_to_y ? zd + K : zd;
    for (std::size_t r = from; r < to; ++r)
      for (std::size_t h = 0; h < w.shape()[1]; ++h) w(r, h) = 0.0;
    Rng g(9);
    return model.class_style_grid(columns, g);
  };
  auto same_image = [&](const Array<float>& g, std::size_t a, std::size_t b) {
    for (std::size_t p = 0; p < d; ++p)
      if (g(a, p) != g(b, p)) return false;
    return true;
  };

  const Array<float> blind_y = grid_with(true);  // the image depends on z only: every row is alike
  REQUIRE(blind_y.shape() == std::vector<std::size_t>{K * columns, d});
  for (std::size_t c = 1; c < K; ++c)
    for (std::size_t j = 0; j < columns; ++j) CHECK(same_image(blind_y, c * columns + j, j));
  CHECK_FALSE(same_image(blind_y, 0, 1));  // but the columns differ

  const Array<float> blind_z = grid_with(false);  // the image depends on y only: every column is alike
  for (std::size_t c = 0; c < K; ++c)
    for (std::size_t j = 1; j < columns; ++j) CHECK(same_image(blind_z, c * columns + j, c * columns));
  CHECK_FALSE(same_image(blind_z, 0, columns));  // but the rows differ
}

TEST_CASE("fsvae: the loss refuses a batch with an unlabelled row") {
  Rng rng(4);
  FSVAE<double> model(small(), rng);
  tz::models::Batch<double> batch;
  batch.x = binary_rows(3, 12, rng);
  batch.y = {1, -1, 2};
  Tape<double> tape;
  CHECK_THROWS_WITH_AS(model.loss(tape, batch, rng), doctest::Contains("every example needs its label"),
                       std::invalid_argument);
}

TEST_CASE("fsvae: the loss passes a float64 gradcheck on a tiny batch") {
  Rng rng(5);
  FSVAE<double> model(small(), rng);
  tz::models::Batch<double> batch;
  batch.x = binary_rows(4, 12, rng);
  batch.y = {0, 7, 7, 2};
  const auto result = gradcheck_loss("fsvae loss", model, batch);  // the same ε every time
  INFO(result.message);
  CHECK(result.ok);
}

TEST_CASE("fsvae: a short training run lowers −ELBO(x|y); evaluate and the pictures") {
  Rng rng(6);
  tz::models::Dataset data = tz::models::tiny_stroke_images(rng);
  FSVAEOptions o;
  o.hidden = 64;
  o.z = 4;
  o.iwae = {1, 10};
  FSVAE<float> model(o, rng);

  const auto [before, after] = short_training_run(model, data, 64, 300, /*labels=*/true, rng);
  INFO("−ELBO(x|y) on a fixed batch: " << before << " → " << after);
  CHECK(after < 0.6 * before);

  Rng eval(2);
  auto m = as_map(model.evaluate(data, eval));
  REQUIRE(m.count("test_nelbo"));
  REQUIRE(m.count("test_niwae_10"));
  // float32 terms summed in double: equal to float rounding
  CHECK(m["test_nelbo"] == doctest::Approx(m["test_kl"] + m["test_rec"]).epsilon(1e-6));
  CHECK(m["test_nelbo"] < 0.6 * before);
  CHECK(m["test_niwae_10"] < m["test_niwae_1"]);

  const auto dir = std::filesystem::temp_directory_path() / "tapezoo-test-fsvae";
  std::filesystem::remove_all(dir);
  model.write_pictures(dir.string(), data, eval);
  const tz::Image grid = tz::read_png((dir / "class_style_grid.png").string());
  CHECK(grid.width == 10 * 30 + 2);   // ten shared z
  CHECK(grid.height == 10 * 30 + 2);  // ten classes
  CHECK(std::filesystem::exists(dir / "reconstructions.png"));
  std::filesystem::remove_all(dir);
}

namespace {

FSVAEOptions small_learned() {
  FSVAEOptions o = small();
  o.learned_prior = true;
  return o;
}

// Moves the learned prior away from N(0, I): μ_yj and h_yj set from a fixed pattern, so that the
// tests see a prior that differs per class.
void move_prior(FSVAE<double>& model) {
  Array<double>& mh = model.params()["prior.z_pre"].value;
  for (std::size_t c = 0; c < mh.shape()[0]; ++c)
    for (std::size_t j = 0; j < mh.shape()[1]; ++j) mh(c, j) = 0.3 * std::sin(1.7 * c + 0.9 * j) - 0.2;
}

// The model's KL and rec of −ELBO(x|y) for the noise ε, and q(z|x,y)'s m and v, each [n, …].
struct BoundAndQ {
  Array<double> kl, rec, m, v;
};
BoundAndQ bound_and_q(const FSVAE<double>& model, const Array<double>& x, const std::vector<int>& y,
                      const Array<double>& eps) {
  Tape<double> tape;
  auto bound = model.negative_elbo_bound(tape, tape.constant(x), y, tape.constant(eps));
  auto [m, v] = model.encode(tape, tape.constant(x), tape.constant(tz::one_hot<double>(y, 10)));
  return {bound.kl.value(), bound.rec.value(), m.value(), v.value()};
}

}  // namespace

TEST_CASE("fsvae, learned prior: it starts at N(0, I), and its KL is KL(q ‖ N(μ_y, σ_y²)) by hand") {
  Rng rng(7);
  FSVAE<double> model(small_learned(), rng);
  const std::size_t n = 4, d = 12, zd = 3;
  REQUIRE(model.params()["prior.z_pre"].value.shape() == std::vector<std::size_t>{10, 2 * zd});
  const Array<double> x = binary_rows(n, d, rng);
  const std::vector<int> y = {3, 0, 9, 3};
  const Array<double> eps = rng.normal<double>({n, zd});
  const HandTerms standard = conditional_elbo_by_hand(model, x, y, eps);  // KL to N(0, I)
  {
    // At the start μ_y = 0 and σ_y² = softplus(log(e − 1)) + 1e-8 = 1 + δ, δ = 1e-8: the KL to N(0, I)
    // plus ½ Σ_j [log(1 + δ) + (v_j + m_j²)(1/(1 + δ) − 1)] ≈ ½ δ Σ_j (1 − v_j − m_j²), to first order in δ.
    const BoundAndQ b = bound_and_q(model, x, y, eps);
    for (std::size_t i = 0; i < n; ++i) {
      double shift = 0;
      for (std::size_t j = 0; j < zd; ++j) shift += 0.5 * 1e-8 * (1 - b.v(i, j) - b.m(i, j) * b.m(i, j));
      // the rest is O(δ²) = 1e-16 and float64 rounding of a KL of order 1 (a few 1e-16)
      CHECK(std::abs(b.kl(i) - standard.kl[i] - shift) < 1e-14);
    }
  }
  move_prior(model);
  const Array<double>& mh = model.params()["prior.z_pre"].value;
  const BoundAndQ b = bound_and_q(model, x, y, eps);
  for (std::size_t i = 0; i < n; ++i) {
    double kl = 0;
    for (std::size_t j = 0; j < zd; ++j) {
      const auto c = static_cast<std::size_t>(y[i]);
      const double mu = mh(c, j), var = softplus(mh(c, zd + j)) + 1e-8, mj = b.m(i, j), vj = b.v(i, j);
      kl += 0.5 * (std::log(var) - std::log(vj) + vj / var + (mj - mu) * (mj - mu) / var - 1);  // KL(N(m,v) ‖ N(μ,σ²))
    }
    CAPTURE(i);
    CHECK(b.kl(i) == doctest::Approx(kl).epsilon(1e-12));
    CHECK(b.rec(i) == doctest::Approx(standard.rec[i]).epsilon(1e-12));  // the prior leaves rec alone
    CHECK(std::abs(kl - standard.kl[i]) > 1e-3);  // and the moved prior does change the KL
  }
}

TEST_CASE("fsvae, learned prior: −IWAE_1(x|y) with the same ε is −ELBO(x|y) with its KL estimated by one sample") {
  // log w = log p(x|y,z) + log N(z; μ_y, σ_y²) − log q(z|x,y) with z = m + √v ε: the prior's density
  // enters through log N(z; μ_y, σ_y²), so with μ_y, σ_y² moved, −log w = rec + [log q − log p](z).
  Rng rng(8);
  FSVAE<double> model(small_learned(), rng);
  move_prior(model);
  const std::size_t n = 3, d = 12, zd = 3;
  const Array<double> x = binary_rows(n, d, rng);
  const std::vector<int> y = {1, 6, 6};
  Rng noise(5);
  Tape<double> tape;
  const Array<double> niwae = model.negative_iwae_bound(tape, tape.constant(x), y, 1, noise).value();
  Rng same(5);
  const Array<double> eps = same.normal<double>({n, zd});
  const HandTerms hand = conditional_elbo_by_hand(model, x, y, eps);
  Var<double> yv = tape.constant(tz::one_hot<double>(y, 10));
  auto [m, v] = model.encode(tape, tape.constant(x), yv);
  const Array<double>& mh = model.params()["prior.z_pre"].value;
  for (std::size_t i = 0; i < n; ++i) {
    double log_q_minus_log_p = 0;
    for (std::size_t j = 0; j < zd; ++j) {
      const auto c = static_cast<std::size_t>(y[i]);
      const double z = m.value()(i, j) + std::sqrt(v.value()(i, j)) * eps(i, j);
      log_q_minus_log_p += log_n(z, m.value()(i, j), v.value()(i, j)) - log_n(z, mh(c, j), softplus(mh(c, zd + j)) + 1e-8);
    }
    CAPTURE(i);
    CHECK(niwae(i) == doctest::Approx(hand.rec[i] + log_q_minus_log_p).epsilon(1e-10));
  }
}

TEST_CASE("fsvae, learned prior: the loss passes a float64 gradcheck, prior.z_pre included") {
  Rng rng(9);
  FSVAE<double> model(small_learned(), rng);
  move_prior(model);
  tz::models::Batch<double> batch;
  batch.x = binary_rows(4, 12, rng);
  batch.y = {0, 7, 7, 2};
  const auto result = gradcheck_loss("fsvae loss, learned prior", model, batch);
  INFO(result.message);
  CHECK(result.ok);
  // the prior's gradient is not zero for the batch's classes (0, 7, 2) and zero for the others
  Tape<double> tape;
  Rng noise(7);
  model.params().zero_grad();
  tape.backward(model.loss(tape, batch, noise).value);
  const Array<double>& g = model.params()["prior.z_pre"].grad;
  double seen = 0, unseen = 0;
  for (std::size_t c = 0; c < 10; ++c)
    for (std::size_t j = 0; j < 6; ++j) (c == 0 || c == 7 || c == 2 ? seen : unseen) += std::abs(g(c, j));
  CHECK(seen > 0);
  CHECK(unseen == 0.0);
}

TEST_CASE("fsvae: --prior chooses the prior, and the registry refuses other values") {
  const auto& info = tz::models::find_model("fsvae");
  Rng rng(10);
  auto standard = info.make_float(tz::models::Config::from(info.flags, {{"z", "2"}, {"hidden", "4"}}, "fsvae"), rng);
  CHECK_FALSE(standard->params().contains("prior.z_pre"));
  auto learned = info.make_float(
      tz::models::Config::from(info.flags, {{"z", "2"}, {"hidden", "4"}, {"prior", "learned"}}, "fsvae"), rng);
  REQUIRE(learned->params().contains("prior.z_pre"));  // the name the checkpoint stores it under
  CHECK(learned->params()["prior.z_pre"].value.shape() == std::vector<std::size_t>{10, 4});
  CHECK_THROWS_WITH_AS(info.make_float(tz::models::Config::from(info.flags, {{"prior", "vamp"}}, "fsvae"), rng),
                       doctest::Contains("expected standard"), std::invalid_argument);
}
