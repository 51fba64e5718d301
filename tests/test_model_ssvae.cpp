// Tests of models/ssvae (M2, Kingma et al. 2014): the unlabelled bound in CS236's form equals
// Σ_y q(y|x) L(x,y) − H[q(y|x)] for the same ε, and reduces to the labelled bound when q(y|x) is
// one-hot; with every example labelled the loss is its labelled term (checked against a hand
// computation); a mixed batch dispatches each row to its own term; prepare_data keeps labels/K per
// class and hides the rest; gw = 0 is the classifier alone; the float64 gradcheck; a short training
// run that lowers the loss and teaches the classifier.
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <xtensor/xview.hpp>

#include "models/vae_common.hpp"  // tiny_stroke_images
#include "models/ssvae.hpp"
#include "tests/test_helpers.hpp"

using tz::Array;
using tz::Rng;
using tz::Tape;
using tz::Var;
using tz::models::SSVAE;
using tz::models::SSVAEOptions;
using namespace tz::test;  // the shared helpers: binary_rows, softplus, conditional_elbo_by_hand, gradcheck_loss, …

namespace {

const double kLog10 = std::log(10.0);

SSVAEOptions small() {
  SSVAEOptions o;
  o.x_dim = 12;
  o.hidden = 8;
  o.z = 3;
  o.labels = 0;
  o.labelled_batch = 0;
  return o;
}

// log softmax of one row of logits, by hand.
std::vector<double> log_softmax_row(const Array<double>& logits, std::size_t i) {
  const std::size_t K = logits.shape()[1];
  double mx = logits(i, 0);
  for (std::size_t c = 1; c < K; ++c) mx = std::max(mx, logits(i, c));
  double s = 0;
  for (std::size_t c = 0; c < K; ++c) s += std::exp(logits(i, c) - mx);
  std::vector<double> out(K);
  for (std::size_t c = 0; c < K; ++c) out[c] = logits(i, c) - mx - std::log(s);
  return out;
}

// L(x_i, y_i) = rec + KL_z + log K written out by hand from the model's encoder and decoder outputs
// for the noise ε (row i).
std::vector<double> labelled_bound_by_hand(SSVAE<double>& model, const Array<double>& x, const std::vector<int>& y,
                                           const Array<double>& eps) {
  const HandTerms hand = conditional_elbo_by_hand(model, x, y, eps);
  std::vector<double> out(x.shape()[0]);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = hand.rec[i] + hand.kl[i] + kLog10;
  return out;
}

// Rows [c·n, (c+1)·n) of the enumerated noise: the ε of the pairs (x_i, y = c).
Array<double> eps_block(const Array<double>& eps, std::size_t c, std::size_t n) {
  return Array<double>(xt::view(eps, xt::range(c * n, (c + 1) * n), xt::all()));
}

}  // namespace

TEST_CASE("ssvae: U(x) in CS236's form equals Σ_y q(y|x) L(x,y) − H[q(y|x)] for the same ε") {
  Rng rng(1);
  SSVAE<double> model(small(), rng);
  const std::size_t n = 4, K = 10;
  const Array<double> x = binary_rows(n, 12, rng);
  const Array<double> eps = rng.normal<double>({K * n, 3});

  Tape<double> tape;
  auto u = model.negative_elbo_bound(tape, tape.constant(x), tape.constant(eps));
  const Array<double> logits = model.classify(tape, tape.constant(x)).value();

  std::vector<std::vector<double>> L(K);  // L[c][i] = L(x_i, c) with the ε of pair (x_i, c)
  for (std::size_t c = 0; c < K; ++c)
    L[c] = labelled_bound_by_hand(model, x, std::vector<int>(n, static_cast<int>(c)), eps_block(eps, c, n));
  for (std::size_t i = 0; i < n; ++i) {
    const std::vector<double> log_q = log_softmax_row(logits, i);
    double expected = 0, entropy = 0;
    for (std::size_t c = 0; c < K; ++c) {
      const double q = std::exp(log_q[c]);
      expected += q * L[c][i];
      entropy -= q * log_q[c];
    }
    expected -= entropy;
    CAPTURE(i);
    CHECK(u.nelbo.value()(i) == doctest::Approx(expected).epsilon(1e-11));
    // the entropy term: KL(q(y|x) ‖ uniform) = log K − H[q(y|x)]
    CHECK(u.kl_y.value()(i) == doctest::Approx(kLog10 - entropy).epsilon(1e-11));
    CHECK(u.nelbo.value()(i) == doctest::Approx(u.kl_y.value()(i) + u.kl_z.value()(i) + u.rec.value()(i)).epsilon(1e-12));
  }
}

TEST_CASE("ssvae: when q(y|x) is one-hot on class c, U(x) reduces to the labelled bound L(x, c)") {
  Rng rng(2);
  SSVAE<double> model(small(), rng);
  // A classifier that is certain of class 7 for every x: last layer W = 0, b = 60·e_7
  const int c = 7;
  model.params()["cls.l3.W"].value.fill(0.0);
  Array<double>& b = model.params()["cls.l3.b"].value;
  b.fill(0.0);
  b(c) = 60.0;
  const std::size_t n = 3, K = 10;
  const Array<double> x = binary_rows(n, 12, rng);
  const Array<double> eps = rng.normal<double>({K * n, 3});

  Tape<double> tape;
  auto u = model.negative_elbo_bound(tape, tape.constant(x), tape.constant(eps));
  auto l = model.negative_elbo_bound(tape, tape.constant(x), std::vector<int>(n, c), tape.constant(eps_block(eps, c, n)));
  for (std::size_t i = 0; i < n; ++i) {
    CAPTURE(i);
    CHECK(u.kl_y.value()(i) == doctest::Approx(kLog10).epsilon(1e-12));  // H[q] = 0: KL = log K
    CHECK(u.nelbo.value()(i) == doctest::Approx(l.nelbo.value()(i)).epsilon(1e-12));
    CHECK(u.kl_z.value()(i) == doctest::Approx(l.kl_z.value()(i)).epsilon(1e-12));
    CHECK(u.rec.value()(i) == doctest::Approx(l.rec.value()(i)).epsilon(1e-12));
  }
}

TEST_CASE("ssvae: with every example labelled, the loss is its labelled term gw·mean L(x,y) + cw·CE") {
  Rng rng(3);
  SSVAEOptions o = small();
  o.gw = 0.5;
  o.cw = 7;
  SSVAE<double> model(o, rng);
  const std::vector<int> yl = {0, 3, 3, 9, 5};
  Array<double> xl = rng.uniform<double>({5, 12});  // grey levels, as prepare_data keeps them
  model.set_labelled(xl, yl);

  tz::models::Batch<double> batch;
  batch.x = binary_rows(4, 12, rng);
  batch.y = {2, 2, 8, 1};
  Tape<double> tape;
  Rng noise(5);
  const double loss = model.loss(tape, batch, noise).value.item();

  // The loss drew ε [4, z] for the labelled bound and nothing else: the same draw by hand.
  Rng same(5);
  const Array<double> eps = same.normal<double>({4, 3});
  const std::vector<double> L = labelled_bound_by_hand(model, batch.x, batch.y, eps);
  double mean_L = 0;
  for (double v : L) mean_L += v / 4;
  // CE = mean of −log softmax(g(x_l))_{y_l}
  const Array<double> logits = model.classify(tape, tape.constant(xl)).value();
  double ce = 0;
  for (std::size_t i = 0; i < yl.size(); ++i) ce -= log_softmax_row(logits, i)[static_cast<std::size_t>(yl[i])] / 5;
  CHECK(loss == doctest::Approx(0.5 * mean_L + 7 * ce).epsilon(1e-11));
}

TEST_CASE("ssvae: a mixed batch sends labelled rows to L(x,y) and the others to U(x)") {
  Rng rng(4);
  SSVAE<double> model(small(), rng);
  model.set_labelled(rng.uniform<double>({2, 12}), {4, 6});
  tz::models::Batch<double> batch;
  batch.x = binary_rows(5, 12, rng);
  batch.y = {-1, 2, -1, -1, 0};

  Tape<double> tape;
  Rng noise(8);
  auto result = model.loss(tape, batch, noise);

  // The same computation from the public parts, in the loss's order of draws: U first, then L.
  Rng same(8);
  Var<double> x = tape.constant(batch.x);
  auto u = model.negative_elbo_bound(tape, tz::gather_rows(x, {0, 2, 3}), same);
  auto l = model.negative_elbo_bound(tape, tz::gather_rows(x, {1, 4}), std::vector<int>{2, 0}, same);
  const double ce = model.classification_cross_entropy(tape, tape.constant(model.labelled_x()), {4, 6}).item();
  double sum_l = 0;
  for (double v : u.nelbo.value()) sum_l += v;
  for (double v : l.nelbo.value()) sum_l += v;
  CHECK(result.value.item() == doctest::Approx(sum_l / 5 + 100 * ce).epsilon(1e-11));
  std::map<std::string, double> terms(result.terms.begin(), result.terms.end());
  CHECK(terms["nelbo"] == doctest::Approx(sum_l / 5).epsilon(1e-11));
  CHECK(terms["ce"] == doctest::Approx(ce).epsilon(1e-12));
}

TEST_CASE("ssvae: prepare_data keeps labels/K examples per class as grey levels and hides the other labels") {
  Rng rng(5);
  tz::models::Dataset data = tz::models::tiny_stroke_images(rng);
  const std::vector<int> all_labels = data.train_y;
  SSVAEOptions o;
  o.hidden = 8;
  o.z = 2;
  o.labels = 30;
  SSVAE<float> model(o, rng);
  model.prepare_data(data, rng);

  REQUIRE(model.labelled_y().size() == 30);
  REQUIRE(model.labelled_x().shape() == std::vector<std::size_t>{30, 784});
  std::map<int, int> per_class;
  for (int y : model.labelled_y()) ++per_class[y];
  CHECK(per_class.size() == 10);
  for (auto [c, count] : per_class) CHECK(count == 3);
  // The kept rows are the data's own grey-level rows, and exactly they keep their label.
  std::size_t kept = 0, r = 0;
  for (std::size_t i = 0; i < data.train_y.size(); ++i) {
    if (data.train_y[i] < 0) continue;
    ++kept;
    CHECK(data.train_y[i] == all_labels[i]);
    CHECK(model.labelled_y()[r] == all_labels[i]);
    CHECK(model.labelled_x()(r, 300) == data.train_x(i, 300));
    CHECK(model.labelled_x()(r, 411) == data.train_x(i, 411));
    ++r;
  }
  CHECK(kept == 30);
  // A second call (a reloaded model, say) finds the same 30 labels and keeps them.
  const std::vector<int> first = model.labelled_y();
  SSVAE<float> again(o, rng);
  again.prepare_data(data, rng);
  CHECK(again.labelled_y() == first);

  o.labels = 25;
  CHECK_THROWS_WITH_AS(SSVAE<float>(o, rng), doctest::Contains("multiple of the 10 classes"), std::invalid_argument);
}

TEST_CASE("ssvae: gw = 0 is the classifier alone: loss = cw·CE, and the generative networks get no gradient") {
  Rng rng(6);
  SSVAEOptions o = small();
  o.gw = 0;
  SSVAE<double> model(o, rng);
  model.set_labelled(rng.uniform<double>({3, 12}), {1, 2, 3});
  tz::models::Batch<double> batch;
  batch.x = binary_rows(4, 12, rng);
  batch.y = {-1, -1, -1, -1};
  Tape<double> tape;
  Rng noise(1);
  auto L = model.loss(tape, batch, noise);
  const double ce = model.classification_cross_entropy(tape, tape.constant(model.labelled_x()), {1, 2, 3}).item();
  CHECK(L.value.item() == doctest::Approx(100 * ce).epsilon(1e-12));
  model.params().zero_grad();
  tape.backward(L.value);
  double enc = 0, cls = 0;
  for (double g : model.params()["enc.l1.W"].grad) enc += std::abs(g);
  for (double g : model.params()["cls.l1.W"].grad) cls += std::abs(g);
  CHECK(enc == 0.0);
  CHECK(cls > 0.0);
}

TEST_CASE("ssvae: the loss passes a float64 gradcheck on a tiny mixed batch") {
  Rng rng(7);
  SSVAE<double> model(small(), rng);
  model.set_labelled(rng.uniform<double>({4, 12}), {0, 1, 8, 9});
  tz::models::Batch<double> batch;
  batch.x = binary_rows(4, 12, rng);
  batch.y = {-1, 5, -1, 2};
  const auto result = gradcheck_loss("ssvae loss", model, batch);  // the same ε every time
  INFO(result.message);
  CHECK(result.ok);
}

TEST_CASE("ssvae: a short training run lowers the loss and teaches the classifier from 20 labels") {
  Rng rng(8);
  tz::models::Dataset data = tz::models::tiny_stroke_images(rng);
  SSVAEOptions o;
  o.hidden = 64;
  o.z = 4;
  o.labels = 20;
  SSVAE<float> model(o, rng);
  model.prepare_data(data, rng);
  // Untrained, the classifier puts these 100 test images into two classes, 5 and 8, and happens to
  // get none right (class 5's images go to 8 and 8's to 5).
  const double accuracy_before = model.accuracy(data.test_x, data.test_y);
  CHECK(accuracy_before < 0.3);

  const auto [before, after] = short_training_run(model, data, 32, 150, /*labels=*/true, rng);
  Rng eval(2);
  auto m = as_map(model.evaluate(data, eval));
  INFO("loss " << before << " → " << after << "; test accuracy " << accuracy_before << " → " << m["test_accuracy"]);
  CHECK(after < 0.6 * before);
  CHECK(m["labelled_accuracy"] == 1.0);
  CHECK(m["test_accuracy"] > 0.6);  // chance is 0.1
  // float32 terms summed in double: equal to float rounding
  CHECK(m["test_nelbo"] == doctest::Approx(m["test_kl_y"] + m["test_kl_z"] + m["test_rec"]).epsilon(1e-6));
  CHECK(m["test_kl_y"] >= 0.0);
  CHECK(m["test_kl_y"] <= kLog10 + 1e-6);
}
