// tutorial: the fully supervised VAE: conditioning on the label, the bound of log p(x|y), and a class × style grid
//
// Model (Sohn, Lee & Yan 2015, "Learning structured output representation using deep conditional
// generative models"; CS236 homework 2, fsvae.py; models/fsvae.hpp):
//   z ~ N(0, I),  x | y, z ~ Bernoulli(sigmoid(f_θ([z, y]))),  q(z|x,y) = N(m_φ([x, y]), diag v_φ([x, y]))
// Objective: −ELBO(x|y) = E_q(z|x,y)[−log p(x|y,z)] + KL(q(z|x,y) ‖ N(0, I))  ≥  −log p(x|y)
// Conditioning means that y is an input of both networks, and every training image comes with its
// label. The decoder then need not spend z on the class: z keeps the rest, the style.
//
// Steps: 1 data, 2 the conditional bound term by term, 3 training, 4 the label matters (and Bayes'
// rule turns the model into a classifier), 5 the class × style grid, 6 the test bounds.
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include <xtensor/xview.hpp>

#include "autograd/random.hpp"
#include "distributions/distributions.hpp"
#include "models/fsvae.hpp"
#include "models/train.hpp"
#include "tutorials/tutorial.hpp"
#include "tutorials/vae_steps.hpp"

using tz::Array;
using tz::Rng;
using tz::Tape;
using tz::Var;
namespace zm = tz::models;

namespace {

double softplus(double l) { return std::max(l, 0.0) + std::log1p(std::exp(-std::abs(l))); }

// Pearson correlation of two equally long lists.
double correlation(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = static_cast<double>(a.size());
  double ma = 0, mb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) ma += a[i] / n, mb += b[i] / n;
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

// Step 1: the data set, every training image with its label.
zm::Dataset step_data_with_every_label(tz::tutorial::Tutorial& t, const zm::ModelInfo& info, std::string& data_spec,
                                       Rng& rng) {
  zm::Dataset data = tz::tutorial::load_tutorial_data(t, info, data_spec, rng);
  t.step(1, "Data: {}, {} training images, every one with its label", data.name, data.train_x.shape()[0]);
  return data;
}

// Step 2: y is an input of both networks, and rec + KL by hand is the model's −ELBO(x|y).
void step_conditioning_on_the_label(tz::tutorial::Tutorial& t, const zm::Dataset& data, Rng& rng) {
  t.step(2, "Conditioning: q(z|x,y) reads [x, y], p(x|z,y) reads [z, y]; −ELBO(x|y) = rec + KL");
  zm::FSVAEOptions options;  // z = 10, 300 hidden units
  Rng init(1);
  zm::FSVAE<double> model(options, init);
  Rng bin(5);
  const Array<double> x = bin.bernoulli(Array<double>(xt::cast<double>(xt::view(data.test_x, xt::range(0, 1), xt::all()))));
  const int y = data.test_y[0];
  const Array<double> eps = rng.normal<double>({1, options.z});
  Tape<double> tape;
  auto bound = model.negative_elbo_bound(tape, tape.constant(x), {y}, tape.constant(eps));
  const double nelbo = bound.nelbo.item();
  // the same by hand: z = m + √v ε, rec = −Σ_j [x_j l_j − softplus(l_j)], KL = ½ Σ (v + m² − 1 − log v)
  Var<double> yv = tape.constant(tz::one_hot<double>({y}, 10));
  auto [m, v] = model.encode(tape, tape.constant(x), yv);
  t.say("The encoder's input is 784 pixels and 10 one-hot entries: its first weight matrix is {} × {}.",
        model.params()["enc.l1.W"].value.shape()[0], model.params()["enc.l1.W"].value.shape()[1]);
  t.say("The decoder's input is z and the same 10 entries: its first weight matrix is {} × {}.",
        model.params()["dec.l1.W"].value.shape()[0], model.params()["dec.l1.W"].value.shape()[1]);
  Array<double> z = Array<double>::from_shape({1, options.z});
  double kl = 0, rec = 0;
  for (std::size_t j = 0; j < options.z; ++j) {
    const double mj = m.value()(0, j), vj = v.value()(0, j);
    z(0, j) = mj + std::sqrt(vj) * eps(0, j);
    kl += 0.5 * (vj + mj * mj - 1 - std::log(vj));
  }
  const Array<double> l = model.decode(tape, tape.constant(z), yv).value();
  for (std::size_t p = 0; p < 784; ++p) rec -= x(0, p) * l(0, p) - softplus(l(0, p));
  t.say("For a test image of class {} and an untrained model: rec = {:.4f}, KL = {:.4f}.", y, rec, kl);
  t.check_close("rec + KL against the model's negative_elbo_bound(x, y)", nelbo, rec + kl, 1e-12);
}

// The run of step 3: what the training loop reports, and the model it trained.
struct Trained {
  zm::TrainResult result;
  std::unique_ptr<zm::Model<float>> model;
};

// Step 3: training lowers −ELBO(x|y).
Trained step_training_lowers_the_nelbo(tz::tutorial::Tutorial& t, const zm::ModelInfo& info,
                                       const zm::TrainOptions& opt, const std::string& hidden,
                                       const std::string& z_dim) {
  const long iters = opt.iters;
  Trained run;
  t.step(3, "Training: {} Adam steps of 100 labelled images, lr 1e-3, seed {}, {} hidden units", iters, t.seed(), hidden);
  run.result = zm::train(info, zm::Config::from(info.flags, {{"iwae", "1,100"}, {"hidden", hidden}, {"z", z_dim}}, "fsvae"), opt, &run.model);
  const zm::TrainResult& result = run.result;
  const std::vector<double> curve = tz::tutorial::curve_of(result, "nelbo");
  t.check("−ELBO(x|y) fell during training", curve.back() < curve.front(),
          fmt::format("first 100 steps {:.2f} → last 100 steps {:.2f} nats ({:.1f} ms per step)", curve.front(),
                      curve.back(), result.ms_per_iter));
  return run;
}

// Step 4: the true label explains an image better than a wrong one, so Bayes' rule classifies.
void step_the_label_matters(tz::tutorial::Tutorial& t, zm::FSVAE<float>& model, const zm::Dataset& eval, Rng& rng) {
  const std::size_t n = eval.test_x.shape()[0];
  t.step(4, "The label matters: −ELBO(x|y) of {} test images under each of the 10 labels", n);
  Rng bin(0);
  const Array<float> x_bin = bin.bernoulli(eval.test_x);
  std::vector<std::vector<double>> nelbo(10, std::vector<double>(n));  // [label][image]
  {
    Tape<float> tape;
    tz::NoGrad<float> no_grad(tape);
    for (int c = 0; c < 10; ++c)
      for (std::size_t b = 0; b < n; b += 500) {
        const std::size_t e = std::min(n, b + 500);
        tape.clear();
        Var<float> x = tape.constant(Array<float>(xt::view(x_bin, xt::range(b, e), xt::all())));
        auto bound = model.negative_elbo_bound(tape, x, std::vector<int>(e - b, c), rng);
        const Array<float>& nelbo_b = bound.nelbo.value();
        for (std::size_t i = b; i < e; ++i) nelbo[static_cast<std::size_t>(c)][i] = nelbo_b(i - b);
      }
  }
  double right = 0, wrong = 0;
  std::size_t correct = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const auto y = static_cast<std::size_t>(eval.test_y[i]);
    std::size_t best = 0;
    for (std::size_t c = 0; c < 10; ++c) {
      (c == y ? right : wrong) += nelbo[c][i] / static_cast<double>(c == y ? n : 9 * n);
      if (nelbo[c][i] < nelbo[best][i]) best = c;
    }
    correct += best == y;
  }
  t.check("the true label explains an image better than a wrong one", right < wrong,
          fmt::format("mean −ELBO(x|y): true label {:.2f}, wrong labels {:.2f} nats", right, wrong));
  const double accuracy = static_cast<double>(correct) / static_cast<double>(n);
  t.say("Bayes' rule with p(y) = 1/10 turns the generative model into a classifier:\n"
        "  p(y|x) ∝ p(x|y) ≈ exp(ELBO(x|y)),  ŷ = argmin_y −ELBO(x|y).");
  t.check("this generative classifier is far above chance (10%)", accuracy > 0.4,
          fmt::format("{:.1f}% of {} test images (one sample of z per label)", 100 * accuracy, n));
}

// Step 5: in the class × style grid, y sets the class and z the style.
void step_class_style_grid(tz::tutorial::Tutorial& t, zm::FSVAE<float>& model, const zm::Dataset& eval) {
  const std::size_t n = eval.test_x.shape()[0];
  t.step(5, "The class × style grid: row y decodes (z_j, y) for ten shared z_j ~ N(0, I)");
  Rng pic(3);
  const Array<float> grid = model.class_style_grid(10, pic);
  // Does row y show class y? An independent judge: the class-mean test image most like it in shape
  // (cosine similarity, so that a faint or heavy style does not decide).
  std::vector<std::vector<double>> prototype(10, std::vector<double>(784, 0.0));
  std::vector<double> count(10, 0.0);
  for (std::size_t i = 0; i < n; ++i) count[static_cast<std::size_t>(eval.test_y[i])] += 1;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t p = 0; p < 784; ++p)
      prototype[static_cast<std::size_t>(eval.test_y[i])][p] += eval.test_x(i, p) / count[static_cast<std::size_t>(eval.test_y[i])];
  auto judge = [&](const float* image) {
    std::size_t best = 0;
    double best_cos = -2;
    for (std::size_t q = 0; q < 10; ++q) {
      double dot = 0, gg = 0, pp = 0;
      for (std::size_t p = 0; p < 784; ++p) {
        dot += image[p] * prototype[q][p];
        gg += double(image[p]) * image[p];
        pp += prototype[q][p] * prototype[q][p];
      }
      const double cosine = dot / std::sqrt(gg * pp);
      if (cosine > best_cos) best_cos = cosine, best = q;
    }
    return best;
  };
  std::size_t real_right = 0, recognised = 0;
  for (std::size_t i = 0; i < n; ++i) real_right += judge(&eval.test_x(i, 0)) == static_cast<std::size_t>(eval.test_y[i]);
  for (std::size_t c = 0; c < 10; ++c)
    for (std::size_t j = 0; j < 10; ++j) recognised += judge(&grid(c * 10 + j, 0)) == c;
  t.say("The judge: the class-mean test image most like an image in shape (cosine similarity). On the real\n"
        "test images it is right {:.0f}% of the time.", 100.0 * static_cast<double>(real_right) / static_cast<double>(n));
  t.check("y sets the class: row y looks like class y", recognised >= 30,
          fmt::format("the judge names the row's class for {} of the 100 grid images (chance: 10)", recognised));
  // The "ink" of every image, its mean intensity: a heavy style should stay heavy across the classes.
  std::vector<std::vector<double>> ink(10, std::vector<double>(10, 0.0));
  for (std::size_t c = 0; c < 10; ++c)
    for (std::size_t j = 0; j < 10; ++j)
      for (std::size_t p = 0; p < 784; ++p) ink[c][j] += grid(c * 10 + j, p) / 784.0;
  double mean_corr = 0;
  for (std::size_t a = 0; a < 10; ++a)
    for (std::size_t b = a + 1; b < 10; ++b) mean_corr += correlation(ink[a], ink[b]) / 45.0;
  t.check("z holds the style: it stays across the classes of a column", mean_corr > 0.2,
          fmt::format("the ink of the ten columns, correlated between every pair of rows: mean r = {:.2f}", mean_corr));
  Rng pictures(3);
  model.write_pictures(t.out_dir().string(), eval, pictures);
  t.say("Wrote {}:", t.out_file("class_style_grid.png").string());
  t.say("  one row per class, one column per z.");
  t.say("Wrote {}:", t.out_file("reconstructions.png").string());
  t.say("  test images, each row followed by its reconstructions from q(z|x,y).");
}

// Step 6: IWAE_100 is a tighter bound of log p(x|y) than the ELBO.
void step_iwae_is_tighter(tz::tutorial::Tutorial& t, const zm::TrainResult& result, std::size_t n) {
  t.step(6, "The bounds of log p(x|y) on {} binarized test images", n);
  std::map<std::string, double> m = tz::tutorial::as_map(result.metrics);
  t.say("−ELBO(x|y) = {:.2f} = KL {:.2f} + rec {:.2f};  −IWAE_100(x|y) = {:.2f}", m["test_nelbo"], m["test_kl"],
        m["test_rec"], m["test_niwae_100"]);
  t.check("IWAE_100 is tighter than the ELBO", m["test_niwae_100"] < m["test_nelbo"],
          fmt::format("{:.2f} < {:.2f} nats", m["test_niwae_100"], m["test_nelbo"]));
}

}  // namespace

int main(int argc, char** argv) {
  tz::tutorial::Tutorial t("09_fsvae", "the fully supervised VAE: conditioning, the bound of log p(x|y), a class × style grid");
  std::string data_spec;
  if (auto rc = tz::tutorial::parse_with_data(t, data_spec, argc, argv)) return *rc;
  Rng rng(t.seed());
  const zm::ModelInfo& info = zm::find_model("fsvae");
  const long iters = t.pick(5000L, 1000L), test_rows = t.pick(0L, 1000L);
  // --quick trains a narrower network (128 hidden units instead of 300) for more steps: the decoder
  // needs about a thousand steps before it reads the class from y rather than from z.
  const std::string hidden = t.pick<std::string>("300", "128"), z_dim = t.pick<std::string>("10", "2");

  const zm::Dataset data = step_data_with_every_label(t, info, data_spec, rng);                  // 1 data
  // after step 1, which settles data_spec: the training run loads the data step 1 loaded
  const zm::TrainOptions opt = tz::tutorial::train_options(t, data_spec, iters, test_rows);
  step_conditioning_on_the_label(t, data, rng);                                                   // 2 conditioning
  const Trained run = step_training_lowers_the_nelbo(t, info, opt, hidden, z_dim);                // 3 training
  auto& model = dynamic_cast<zm::FSVAE<float>&>(*run.model);
  const zm::Dataset eval = zm::first_test_rows(data, test_rows);  // the test images of steps 4-6
  step_the_label_matters(t, model, eval, rng);                                                    // 4 the label
  step_class_style_grid(t, model, eval);                                                          // 5 the grid
  step_iwae_is_tighter(t, run.result, eval.test_x.shape()[0]);                                    // 6 the bounds
  return t.finish();
}
