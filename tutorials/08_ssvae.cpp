// tutorial: the semi-supervised VAE (M2): labelled and unlabelled bounds term by term, the entropy term, accuracy against labels
//
// Model (Kingma, Rezende, Mohamed & Welling 2014, "Semi-supervised learning with deep generative
// models", eq. 2 and 4; CS236 ssvae.py; models/ssvae.hpp):
//   y ~ Cat(1/10),  z ~ N(0, I),  x | y, z ~ Bernoulli(sigmoid(f_θ([z, y])))
//   q(y|x) = Cat(softmax(g_φ(x))),   q(z|x,y) = N(m_φ([x, y]), diag v_φ([x, y]))
// Objectives, as losses:
//   labelled    L(x,y) = E_q(z|x,y)[−log p(x|y,z)] + KL(q(z|x,y) ‖ N(0, I)) − log p(y)     (eq. 6)
//   unlabelled  U(x)   = Σ_y q(y|x) L(x,y) − H[q(y|x)]                                      (eq. 7)
//                      = KL(q(y|x) ‖ Cat(1/10)) + Σ_y q(y|x) [KL_z + rec]                   (CS236)
//   loss = gw · mean U over the batch + cw · cross-entropy of q(y|x) on the labelled set  (eq. 9)
// The unlabelled images train the classifier through q(y|x)'s weights in U: a class that explains an
// image well (a small L(x,y)) pulls q(y|x) towards it, and the entropy term keeps q from collapsing.
//
// Steps: 1 data and the labelled subset, 2 L(x,y) term by term, 3 U(x) term by term (both forms),
// 4 the entropy term, 5 SSVAE against the classifier alone (same steps, seed, batch and labels),
// 6 accuracy against the number of labels, 7 the class × style grid of the trained SSVAE.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <fmt/ranges.h>
#include <xtensor/xview.hpp>

#include "autograd/random.hpp"
#include "distributions/distributions.hpp"
#include "io/plot.hpp"
#include "models/ssvae.hpp"
#include "models/train.hpp"
#include "tutorials/tutorial.hpp"
#include "tutorials/vae_steps.hpp"

using tz::Array;
using tz::Rng;
using tz::Tape;
using tz::Var;
using tz::tutorial::claim;
namespace zm = tz::models;

namespace {

double softplus(double l) { return std::max(l, 0.0) + std::log1p(std::exp(-std::abs(l))); }

// rec, KL_z and L = rec + KL_z + log 10 for image x (one row) and label y, by hand from the model's
// encoder and decoder outputs and the noise ε (one row).
struct Terms {
  double rec = 0, kl_z = 0, L = 0;
};
Terms labelled_terms(zm::SSVAE<double>& model, const Array<double>& x, int y, const Array<double>& eps) {
  Tape<double> tape;
  Var<double> yv = tape.constant(tz::one_hot<double>({y}, 10));
  auto [m, v] = model.encode(tape, tape.constant(x), yv);
  const std::size_t zd = m.shape()[1];
  Array<double> z = Array<double>::from_shape({1, zd});
  Terms t;
  for (std::size_t j = 0; j < zd; ++j) {
    const double mj = m.value()(0, j), vj = v.value()(0, j);
    z(0, j) = mj + std::sqrt(vj) * eps(0, j);
    t.kl_z += 0.5 * (vj + mj * mj - 1 - std::log(vj));  // ½ (v + m² − 1 − log v)
  }
  const Array<double> l = model.decode(tape, tape.constant(z), yv).value();
  for (std::size_t p = 0; p < x.shape()[1]; ++p) t.rec -= x(0, p) * l(0, p) - softplus(l(0, p));
  t.L = t.rec + t.kl_z + std::log(10.0);
  return t;
}

// Step 1: the data set, of which the model keeps 100 labels (10 per class) and hides the rest.
zm::Dataset step_data_with_100_labels(tz::tutorial::Tutorial& t, const zm::ModelInfo& info, std::string& data_spec,
                                      Rng& rng, zm::SSVAE<double>& model) {
  zm::Dataset data = tz::tutorial::load_tutorial_data(t, info, data_spec, rng);
  t.step(1, "Data: {}, {} training images of which 100 keep their label (10 per class)", data.name, data.train_x.shape()[0]);
  zm::Dataset kept = data;
  model.prepare_data(kept, rng);
  std::vector<int> per_class(10, 0);
  for (int y : model.labelled_y()) ++per_class[static_cast<std::size_t>(y)];
  const long hidden = std::count(kept.train_y.begin(), kept.train_y.end(), -1);
  t.check(claim("ssvae-labelled-subset"), "the labelled set has 10 images of every class",
          std::all_of(per_class.begin(), per_class.end(), [](int c) { return c == 10; }),
          fmt::format("per class: {}", fmt::join(per_class, " ")));
  t.check(claim("ssvae-labelled-subset"), "every other label is hidden", hidden == static_cast<long>(data.train_x.shape()[0]) - 100,
          fmt::format("{} of {} training labels set to −1", hidden, data.train_x.shape()[0]));
  return data;
}

// The images of steps 2-4: one labelled image x_l of class y_l and one unlabelled image x_u, binarized.
struct Examples {
  Array<double> x_l;
  int y_l;
  Array<double> x_u;
};

Examples examples_of(zm::SSVAE<double>& model, const zm::Dataset& data) {
  Rng bin(5);
  const Array<double> x_l = bin.bernoulli(Array<double>(xt::view(model.labelled_x(), xt::range(0, 1), xt::all())));
  const int y_l = model.labelled_y()[0];
  const Array<double> x_u = bin.bernoulli(Array<double>(xt::cast<double>(xt::view(data.test_x, xt::range(0, 1), xt::all()))));
  return {x_l, y_l, x_u};
}

// Step 2: L(x,y) by hand, term by term, is the model's labelled bound.
void step_labelled_bound_term_by_term(tz::tutorial::Tutorial& t, zm::SSVAE<double>& model, const Examples& ex,
                                      Rng& rng) {
  const Array<double>& x_l = ex.x_l;
  const int y_l = ex.y_l;
  t.step(2, "The labelled bound L(x,y) = E_q(z|x,y)[−log p(x|y,z)] + KL(q(z|x,y) ‖ N(0,I)) − log p(y)");
  const Array<double> eps = rng.normal<double>({1, model.options().z});
  const Terms by_hand = labelled_terms(model, x_l, y_l, eps);
  Tape<double> tape;
  auto L = model.negative_elbo_bound(tape, tape.constant(x_l), {y_l}, tape.constant(eps));
  const double nelbo = L.nelbo.item();
  t.say("For a labelled image of class {} (an untrained model, one sample z = m + √v ε):", y_l);
  t.say("  rec = −Σ_j [x_j l_j − softplus(l_j)]          = {:9.4f}", by_hand.rec);
  t.say("  KL_z = ½ Σ_j (v_j + m_j² − 1 − log v_j)         = {:9.4f}", by_hand.kl_z);
  t.say("  −log p(y) = log 10                              = {:9.4f}", std::log(10.0));
  // Term by term against the model's own terms: a sign flipped in the KL, a missing −log p(y) or a
  // wrong variance in z = m + √v ε each moves one of these far beyond float64 rounding (1e-12).
  t.check_close(claim("ssvae-labelled-bound"), "rec against the model's rec", L.rec.item(), by_hand.rec, 1e-12);
  t.check_close(claim("ssvae-labelled-bound"), "KL_z against the model's kl_z", L.kl_z.item(), by_hand.kl_z, 1e-12);
  t.check_close(claim("ssvae-labelled-bound"), "−log p(y): the model's L − rec − KL_z against log 10",
                nelbo - L.rec.item() - L.kl_z.item(), std::log(10.0), 1e-10);
  t.check_close(claim("ssvae-labelled-bound"), "L(x,y), the sum, against the model's negative_elbo_bound(x, y)", nelbo,
                by_hand.L, 1e-12);
}

// Step 2, continued: the labelled objective of the loss is gw · L(x,y) + cw · (−log q(y|x)); the
// classifier q(y|x) is no part of L(x,y) itself.
void step_labelled_loss_adds_the_classifier(tz::tutorial::Tutorial& t, zm::SSVAE<double>& model, const Examples& ex,
                                            Rng& rng) {
  t.say("A common presentation of this road writes the labelled objective with a '+log p(y|x)' inside it. In M2\n"
        "that is two separate things: log p(y) = −log 10, the prior's constant above, and the classification term\n"
        "cw · E_labelled[−log q(y|x)] (Kingma et al. 2014, eq. 9), which the loss adds beside L (cw = {}).", model.options().cw);
  // a batch of 4 labelled images: loss = gw · (1/4) Σ_i L(x_i, y_i) + cw · CE over the 100 labelled images
  const std::size_t b = 4;
  zm::Batch<double> batch{Array<double>::from_shape({b, ex.x_l.shape()[1]}), {}};
  for (std::size_t i = 0; i < b; ++i) {
    batch.y.push_back(ex.y_l);
    for (std::size_t p = 0; p < ex.x_l.shape()[1]; ++p) batch.x(i, p) = ex.x_l(0, p);
  }
  Rng same = rng;  // the loss draws ε [b, z] for the labelled rows, and nothing else (labelled_batch = all)
  Tape<double> tape;
  const double loss = model.loss(tape, batch, rng).value.item();
  const Array<double> eps = same.normal<double>({b, model.options().z});
  double mean_L = 0;
  for (std::size_t i = 0; i < b; ++i)
    mean_L += labelled_terms(model, ex.x_l, ex.y_l, Array<double>(xt::view(eps, xt::range(i, i + 1), xt::all()))).L / b;
  // CE = (1/n) Σ_i [logsumexp_c g_c(x_i) − g_{y_i}(x_i)] by hand over the labelled set
  const Array<double> g = model.classify(tape, tape.constant(model.labelled_x())).value();
  const std::vector<int>& yl = model.labelled_y();
  double ce = 0;
  for (std::size_t i = 0; i < yl.size(); ++i) {
    double mx = g(i, 0), norm = 0;
    for (std::size_t c = 1; c < 10; ++c) mx = std::max(mx, g(i, c));
    for (std::size_t c = 0; c < 10; ++c) norm += std::exp(g(i, c) - mx);
    ce += (mx + std::log(norm) - g(i, static_cast<std::size_t>(yl[i]))) / static_cast<double>(yl.size());
  }
  t.say("mean L over the batch = {:.4f}, CE = {:.4f}: gw · L + cw · CE = {:.4f}", mean_L, ce,
        model.options().gw * mean_L + model.options().cw * ce);
  t.check_close(claim("ssvae-loss-adds-classification"), "the model's loss against gw · mean L + cw · CE by hand", loss,
                model.options().gw * mean_L + model.options().cw * ce, 1e-12);
}

// What step 3 hands to step 4: H[q(y|x)] by hand, and the model's KL(q(y|x) ‖ Cat(1/10)).
struct Entropy {
  double entropy, kl_y_model;
};

// Step 3: Σ_y q(y|x) L(x,y) − H[q(y|x)] by hand is the model's unlabelled bound U(x).
Entropy step_unlabelled_bound_term_by_term(tz::tutorial::Tutorial& t, zm::SSVAE<double>& model, const Examples& ex,
                                           Rng& rng) {
  const Array<double>& x_u = ex.x_u;
  t.step(3, "The unlabelled bound U(x) = Σ_y q(y|x) L(x,y) − H[q(y|x)]: y is summed out under the classifier");
  double entropy = 0;
  const Array<double> eps = rng.normal<double>({10, model.options().z});  // row c: the ε of the pair (x, y = c)
  Tape<double> tape;
  auto U = model.negative_elbo_bound(tape, tape.constant(x_u), tape.constant(eps));
  const Array<double> logits = model.classify(tape, tape.constant(x_u)).value();
  double mx = logits(0, 0);
  for (std::size_t c = 1; c < 10; ++c) mx = std::max(mx, logits(0, c));
  double norm = 0;
  for (std::size_t c = 0; c < 10; ++c) norm += std::exp(logits(0, c) - mx);
  double sum_qL = 0, sum_q_kl = 0, sum_q_rec = 0;
  t.say("  y   q(y|x)    L(x,y)");
  for (std::size_t c = 0; c < 10; ++c) {
    const double log_q = logits(0, c) - mx - std::log(norm), q = std::exp(log_q);
    const Terms L = labelled_terms(model, x_u, static_cast<int>(c),
                                   Array<double>(xt::view(eps, xt::range(c, c + 1), xt::all())));
    sum_qL += q * L.L;
    sum_q_kl += q * L.kl_z;
    sum_q_rec += q * L.rec;
    entropy -= q * log_q;
    t.say("  {}  {:.4f}  {:9.4f}", c, q, L.L);
  }
  t.say("Σ_y q(y|x) L(x,y) = {:.4f},  H[q(y|x)] = {:.4f}", sum_qL, entropy);
  const double nelbo = U.nelbo.item();
  t.check_close(claim("ssvae-unlabelled-bound"), "Σ_y q KL_z by hand against the model's kl_z", U.kl_z.item(), sum_q_kl,
                1e-12);
  t.check_close(claim("ssvae-unlabelled-bound"), "Σ_y q rec by hand against the model's rec", U.rec.item(), sum_q_rec, 1e-12);
  // M2's form (eq. 7), Σ_y q L − H with L carrying −log p(y), against the model's (CS236's) form
  // KL_y + Σ_y q (KL_z + rec): equal, since KL_y = log K − H. Dropping H in the model moves it by H ≈ 2.3.
  t.check_close(claim("ssvae-unlabelled-bound"), "M2's Σ_y q L − H against the model's U(x) = KL_y + Σ_y q (KL_z + rec)",
                nelbo, sum_qL - entropy, 1e-12);
  // The form that leaves −log p(y) out of L, Σ_y q (KL_z + rec) − H, is the model's U less exactly log K.
  const double without_prior = sum_q_kl + sum_q_rec - entropy;
  t.say("Leaving −log p(y) out of L gives Σ_y q (KL_z + rec) − H = {:.4f}, and the model's U(x) = {:.4f}:", without_prior,
        nelbo);
  t.check_close(claim("ssvae-unlabelled-bound"), "U(x) − [Σ_y q (KL_z + rec) − H] against log K = log 10",
                nelbo - without_prior, std::log(10.0), 1e-10);
  const double kl_y_model = U.kl_y.item();
  return {entropy, kl_y_model};
}

// Step 4: CS236's KL_y and M2's −H[q(y|x)] differ by the constant log 10.
void step_entropy_term_is_log_10_minus_kl_y(tz::tutorial::Tutorial& t, const Entropy& e) {
  const double entropy = e.entropy, kl_y_model = e.kl_y_model;
  t.step(4, "The entropy term: H[q(y|x)] = log 10 − KL(q(y|x) ‖ Cat(1/10))");
  t.say("KL(q ‖ Cat(1/10)) = Σ_y q log q − Σ_y q log(1/10) = −H[q] + log 10. So CS236's KL_y and M2's −H[q]\n"
        "differ by the constant log 10 = −log p(y), which M2 counts inside L(x,y).");
  t.check_close(claim("kl-to-uniform-is-log-k-minus-entropy"), "log 10 − KL_y from the model against H by hand",
                std::log(10.0) - kl_y_model, entropy, 1e-12);
  t.identity("0 ≤ H[q] ≤ log 10", fmt::format("H = {:.4f}, log 10 = {:.4f}: an untrained classifier is nearly uniform",
                                              entropy, std::log(10.0)));
}

// The training runs of steps 5 and 6: ./zoo train ssvae with the shared options, differing only in gw
// (1: SSVAE, 0: the classifier alone), the number of labels and the steps. run(gw, labels, steps, out)
// trains one; *out (if given) receives the model. Returns the run's test metrics by name.
struct SsvaeRuns {
  const zm::ModelInfo& info;
  const zm::TrainOptions& opt;
  std::map<std::string, double> operator()(const std::string& gw, const std::string& labels, long steps,
                                           std::unique_ptr<zm::Model<float>>* out) const {
    zm::TrainOptions o = opt;
    o.iters = steps;
    const zm::Config cfg = zm::Config::from(info.flags, {{"gw", gw}, {"labels", labels}}, "ssvae");
    return tz::tutorial::as_map(zm::train(info, cfg, o, out).metrics);
  }
};

// What step 5 trained with gw = 1: its test metrics, and the model.
struct Semi {
  std::map<std::string, double> with;
  std::unique_ptr<zm::Model<float>> ssvae;
  double alone = 0;     // the test accuracy of the classifier alone (gw = 0), 100 labels
  double n_scored = 0;  // test images each accuracy is a mean over
};

// Step 5: the unlabelled images help the classifier: SSVAE (gw = 1) against the classifier alone (gw = 0).
Semi step_unlabelled_images_help(tz::tutorial::Tutorial& t, const SsvaeRuns& run, const zm::Dataset& data,
                                 long test_rows) {
  const long iters = run.opt.iters;
  Semi semi;
  std::map<std::string, double>& with = semi.with;
  t.step(5, "SSVAE (gw = 1) against the classifier alone (gw = 0): {} steps, batch 100, seed {}, the same 100 labels",
         iters, t.seed());
  t.say("Both runs build the classifier first from the same seed, keep the same labelled images and take\n"
        "the same number of steps; gw = 0 drops the generative term, so only the cross-entropy trains.");
  std::unique_ptr<zm::Model<float>> alone_model;
  with = run("1", "100", iters, &semi.ssvae);
  auto without = run("0", "100", iters, &alone_model);
  semi.alone = without["test_accuracy"];
  const double gap = 100 * (with["test_accuracy"] - without["test_accuracy"]);
  t.say("test accuracy: SSVAE {:.1f}%, classifier alone {:.1f}% ({:+.1f} points); both fit the 100 labels: {:.0f}% and {:.0f}%",
        100 * with["test_accuracy"], 100 * without["test_accuracy"], gap, 100 * with["labelled_accuracy"],
        100 * without["labelled_accuracy"]);
  // Is the gap more than noise? Both classifiers are scored on the same n test images, so the gap is the
  // mean of the paired differences d_i = 1[SSVAE right on x_i] − 1[alone right on x_i], whose standard
  // error is sd(d)/√n (McNemar's: only the images where the two disagree count). Two independent
  // binomials, √(p₁(1 − p₁)/n + p₀(1 − p₀)/n), would count the images both get right or wrong as noise too.
  const zm::Dataset eval = zm::first_test_rows(data, test_rows);
  const std::vector<int> p1 = dynamic_cast<zm::SSVAE<float>&>(*semi.ssvae).predict(eval.test_x),
                         p0 = dynamic_cast<zm::SSVAE<float>&>(*alone_model).predict(eval.test_x);
  std::vector<double> d(p1.size());
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = double(p1[i] == eval.test_y[i]) - double(p0[i] == eval.test_y[i]);
  const tz::tutorial::Stats paired = tz::tutorial::stats(d);  // 100 · paired.mean is the gap above, on the same images
  const double n_scored = static_cast<double>(d.size()), gap_se = 100 * paired.se;
  const auto binomial_var = [&](double p) { return p * (1 - p) / n_scored; };
  t.say("paired standard error of the gap over {:.0f} test images: {:.2f} points (independent binomials: {:.2f}), so the\n"
        "gap is {:.1f} standard errors", n_scored, gap_se,
        100 * std::sqrt(binomial_var(with["test_accuracy"]) + binomial_var(without["test_accuracy"])), gap / gap_se);
  if (t.quick()) {
    // A classifier at chance scores 10% with a standard error √(0.1 · 0.9 / n) on n test images
    // (0.95 points for n = 1000): above 10% + 4 SE it has learned from its labels.
    const double chance_bar = 0.1 + 4 * std::sqrt(binomial_var(0.1));
    t.check(claim("ssvae-classifier-learns"), "both classifiers are above chance by more than 4 standard errors",
            with["test_accuracy"] > chance_bar && without["test_accuracy"] > chance_bar,
            fmt::format("{:.1f}% and {:.1f}% > 10% + 4 × {:.2f} = {:.1f}%", 100 * with["test_accuracy"],
                        100 * without["test_accuracy"], 100 * std::sqrt(binomial_var(0.1)), 100 * chance_bar));
    t.note("{} steps are too few for the unlabelled images to pay off; the full run ({} steps) checks that they do.\n"
           "CS236 reports about 92% against 73.5% on MNIST with 100 labels.", iters, 4000);
  } else {
    t.check(claim("ssvae-unlabelled-images-help"), "the unlabelled images help by more than noise: a gap of at least 3 standard errors",
            100 * paired.mean >= 3 * gap_se,
            fmt::format("{:.1f}% − {:.1f}% = {:.1f} points ≥ 3 × {:.2f} (paired SE, n = {:.0f})", 100 * with["test_accuracy"],
                        100 * without["test_accuracy"], 100 * paired.mean, gap_se, n_scored));
    t.note("The gap keeps growing with training. `./zoo train ssvae --labels 100 --iters 10000` against `--gw 0`\n"
           "measured 89.1% against 75.8% (+13.3 points) on the 10,000 offline MNIST digits; CS236 reports about 92%\n"
           "against 73.5% on the full MNIST; this run stops at {} steps.", iters);
  }
  semi.n_scored = n_scored;
  return semi;
}

// Step 6: more labels, a better classifier (and, in a full run, the SSVAE at each count too).
void step_accuracy_against_labels(tz::tutorial::Tutorial& t, const SsvaeRuns& run, const zm::Dataset& data,
                                  std::map<std::string, double>& with, double alone_100, double n_scored) {
  const long iters = run.opt.iters;
  const std::vector<int> label_counts = {20, 100, 1000};
  t.step(6, "Accuracy against the number of labels: {} labels", fmt::join(label_counts, ", "));
  // The SSVAE, ten decoder passes per unlabelled image, is trained once (step 5, 100 labels); the classifier
  // alone at every count. `./zoo train ssvae --labels 20` (or 1000) gives the SSVAE's other points.
  std::vector<double> xs, acc_alone;
  for (int n_labels : label_counts) {
    const double alone = n_labels == 100 ? alone_100 : run("0", std::to_string(n_labels), iters, nullptr)["test_accuracy"];
    xs.push_back(n_labels);
    acc_alone.push_back(100 * alone);
    t.say("  {:5d} labels: classifier alone {:5.1f}%", n_labels, 100 * alone);
  }
  // Two accuracies over n test images, each with standard error √(p(1 − p)/n): the rise must exceed
  // 4 standard errors of the difference (treating the runs as independent, which overstates the noise).
  const double p0 = acc_alone.front() / 100, p1 = acc_alone.back() / 100;
  const double rise_se = 100 * std::sqrt((p0 * (1 - p0) + p1 * (1 - p1)) / n_scored);
  t.check(claim("more-labels-better-classifier"), "more labels, a better classifier: a rise of more than 4 standard errors",
          acc_alone.back() - acc_alone.front() > 4 * rise_se,
          fmt::format("{} labels: {:.1f}% → {} labels: {:.1f}%, a rise of {:.1f} > 4 × {:.2f} points", label_counts.front(),
                      acc_alone.front(), label_counts.back(), acc_alone.back(), acc_alone.back() - acc_alone.front(), rise_se));
  std::vector<tz::Series> series = {{"classifier alone (gw = 0)", xs, acc_alone, std::nullopt},
                                     {"SSVAE (gw = 1), 100 labels", {100.0}, {100 * with["test_accuracy"]}, std::nullopt}};
  const auto plot = t.out_file("accuracy_vs_labels.png");
  tz::save_line_plot(plot.string(), series,
                     {.title = fmt::format("{}: test accuracy after {} steps", data.name, iters), .xlabel = "labelled examples",
                      .ylabel = "test accuracy (%)", .log_x = true});
  t.say("Wrote {}.", plot.string());
}

// Step 7: the trained SSVAE's class × style grid; in a full run, row y looks like class y.
void step_class_style_grid(tz::tutorial::Tutorial& t, zm::Model<float>& ssvae, const zm::Dataset& data, long iters) {
  t.step(7, "What the SSVAE generates: one row per class y, one column per shared z ~ N(0, I)");
  auto& trained = dynamic_cast<zm::SSVAE<float>&>(ssvae);
  Rng pic(3);
  trained.write_pictures(t.out_dir().string(), data, pic);
  t.say("Wrote {}.", t.out_file("class_style_grid.png").string());
  // Does row y look like class y? Ask the model's own classifier q(y|x) about each of the 100 pictures:
  // the same draw as the file, since write_pictures takes its z's from a fresh Rng(3) in the same way.
  Rng same_pic(3);
  const std::size_t columns = 10;
  const Array<float> grid = trained.class_style_grid(columns, same_pic);
  std::vector<int> row_class(grid.shape()[0]);
  for (std::size_t i = 0; i < row_class.size(); ++i) row_class[i] = static_cast<int>(i / columns);
  const double named = trained.accuracy(grid, row_class) * static_cast<double>(row_class.size());
  t.say("q(y|x) names the row's class for {:.0f} of the {} pictures (chance: {}).", named, row_class.size(),
        row_class.size() / 10);
  if (t.quick()) {
    t.note("After {} steps the decoder has not yet learned to read y: the rows still look alike. After a full run\n"
           "M2 separates y from z: down a column the class changes while z, the style, stays.", iters);
  } else {
    // At chance the classifier would name Binomial(100, 0.1) of them: 10 ± 3. Half is far beyond that
    // noise (13 standard deviations): the claim is that most rows show their class, not merely some.
    t.check(claim("ssvae-grid-rows-are-classes"), "row y looks like class y to the classifier: at least half the pictures",
            2 * named >= static_cast<double>(row_class.size()),
            fmt::format("{:.0f} of {} (chance: 10 ± 3)", named, row_class.size()));
    t.say("M2 separates y from z: down a column the class changes while z, the style, stays.");
  }
}

}  // namespace

int main(int argc, char** argv) {
  tz::tutorial::Tutorial t("08_ssvae", "the semi-supervised VAE: its two bounds term by term, the entropy term, accuracy against labels");
  std::string data_spec;
  if (auto rc = tz::tutorial::parse_with_data(t, data_spec, argc, argv)) return *rc;
  Rng rng(t.seed());
  const zm::ModelInfo& info = zm::find_model("ssvae");
  const long iters = t.pick(4000L, 200L), test_rows = t.pick(0L, 1000L);
  zm::SSVAEOptions options;  // the defaults: z = 64, 300 hidden units, gw = 1, cw = 100, 100 labels
  Rng init(1);
  zm::SSVAE<double> model(options, init);

  const zm::Dataset data = step_data_with_100_labels(t, info, data_spec, rng, model);          // 1 data, labels
  // after step 1, which settles data_spec: the training runs load the data step 1 loaded
  const zm::TrainOptions opt = tz::tutorial::train_options(t, data_spec, iters, test_rows);
  const SsvaeRuns run{info, opt};                 // the training runs of steps 5 and 6
  const Examples ex = examples_of(model, data);  // the images of steps 2-4
  step_labelled_bound_term_by_term(t, model, ex, rng);                                          // 2 L(x,y)
  Rng loss_rng(t.seed() + 8);  // its own stream, so that the later steps draw what they drew before
  step_labelled_loss_adds_the_classifier(t, model, ex, loss_rng);                               //   and CE
  const Entropy e = step_unlabelled_bound_term_by_term(t, model, ex, rng);                     // 3 U(x)
  step_entropy_term_is_log_10_minus_kl_y(t, e);                                                 // 4 H[q(y|x)]
  Semi semi = step_unlabelled_images_help(t, run, data, test_rows);                             // 5 SSVAE vs alone
  step_accuracy_against_labels(t, run, data, semi.with, semi.alone, semi.n_scored);                                      // 6 more labels
  step_class_style_grid(t, *semi.ssvae, data, iters);                                           // 7 the grid
  return t.finish();
}
