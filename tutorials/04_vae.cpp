// tutorial: the variational autoencoder: the ELBO by Jensen's inequality, its three forms, the reparameterization trick
//
// Model (Kingma & Welling 2014, "Auto-Encoding Variational Bayes"; models/vae.hpp):
//   z ~ N(0, I),   x | z ~ Π_j Bernoulli(σ(f_θ(z)_j)),   q_φ(z|x) = N(m_φ(x), diag v_φ(x))
// The derivation, one checked step at a time:
//   log p(x) = log ∫ p(x, z) dz = log E_q[w],  w = p(x, z) / q(z|x)            (importance sampling)
//            ≥ E_q[log w] = E_q[log p(x, z) − log q(z|x)] =: ELBO(x)            (Jensen: log is concave)
//   ELBO(x)  = E_q[log p(x|z)] − E_q[log q(z|x) − log p(z)]                     (the Monte-Carlo-KL form)
//            = E_q[log p(x|z)] − KL(q(z|x) ‖ p(z))                              (K&W eq. 3, KL in closed form)
//            = log p(x) − KL(q(z|x) ‖ p(z|x))                                   (the gap is a KL: 05_iwae checks it)
// and its gradient with respect to φ flows through z = m + √v ⊙ ε (K&W §2.4), which a score-function
// estimator does not need but pays for in variance (step 6).
//
// Steps: 1 data, 2 the fresh model's bound, 3 training, 4 Jensen's inequality, 5 the three forms of
// the ELBO with one set of ε, 6 the reparameterization trick against the score function, 7 samples.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "autograd/random.hpp"
#include "distributions/distributions.hpp"
#include "io/png.hpp"
#include "models/train.hpp"
#include "models/vae.hpp"
#include "tutorials/tutorial.hpp"
#include "tutorials/vae_steps.hpp"
#include "distributions/constants.hpp"

using tz::Array;
using tz::Rng;
using tz::Tape;
using tz::Var;
namespace zm = tz::models;

using tz::kLog2Pi;

namespace {


// Mean, standard deviation and standard error of a list of numbers (tutorials/vae_steps.hpp).
using tz::tutorial::Stats;
using tz::tutorial::stats;

// For n images and S samples each (same ε for every form): log p(x|z), log p(z), log q(z|x) per
// sample, and the closed-form KL per image.
struct Terms {
  std::vector<double> log_px_z, log_pz, log_qz;  // [S·n], sample i of image j at i·n + j
  std::vector<double> kl;                        // [n]
  std::size_t n = 0, S = 0;
};

Terms elbo_terms(zm::VAE<float>& vae, const Array<float>& x, std::size_t S, Rng& rng) {
  Terms out;
  out.n = x.shape()[0];
  out.S = S;
  const std::size_t z_dim = vae.options().z;
  Tape<float> tape;
  tz::NoGrad<float> no_grad(tape);
  Var<float> xv = tape.constant(x);
  tz::Gaussian<float> q = vae.encode(tape, xv);
  // z_i = m + √v ⊙ ε_i for S copies of every image (rows i·n + j)
  Var<float> m = tz::duplicate(q.m, S), v = tz::duplicate(q.v, S);
  Var<float> z = tz::sample_gaussian(m, v, tape.constant(rng.normal<float>({S * out.n, z_dim})));
  Var<float> log_px_z = tz::log_bernoulli(tz::duplicate(xv, S), vae.decode(tape, z));
  Var<float> log_pz = -0.5 * (tz::sum(tz::square(z), -1) + kLog2Pi * static_cast<double>(z_dim));
  Var<float> log_qz = tz::log_normal(z, m, v);
  // KL(q(z|x) ‖ N(0, I)) = ½ Σ_j (v_j + m_j² − 1 − log v_j)
  Var<float> kl = 0.5 * (tz::sum(q.v + tz::square(q.m) - tz::log(q.v), -1) - static_cast<double>(z_dim));
  out.log_px_z.assign(log_px_z.value().begin(), log_px_z.value().end());
  out.log_pz.assign(log_pz.value().begin(), log_pz.value().end());
  out.log_qz.assign(log_qz.value().begin(), log_qz.value().end());
  out.kl.assign(kl.value().begin(), kl.value().end());
  return out;
}

// Step 1: the data set, and the first test_rows test images, which every later step scores.
zm::Dataset step_data(tz::tutorial::Tutorial& t, const zm::ModelInfo& info, std::string& data_spec, Rng& rng,
                      long test_rows) {
  const zm::Dataset data = tz::tutorial::load_tutorial_data(t, info, data_spec, rng);
  const zm::Dataset eval = zm::first_test_rows(data, test_rows);
  t.step(1, "Data: {}, {} training images of {}×{} pixels; {} test images, binarized once", data.name,
         data.train_x.shape()[0], data.rows, data.cols, eval.test_x.shape()[0]);
  t.say("Pixels are Bernoulli(intensity) draws, afresh for every training batch (dynamic binarization).");
  return eval;
}

// Step 2: the loss is rec + KL, and a fresh network's rec is 784 log 2 (every pixel a coin flip).
void step_fresh_model_flips_a_coin_per_pixel(tz::tutorial::Tutorial& t, const zm::ModelInfo& info,
                                             const zm::Config& config, const zm::Dataset& eval) {
  t.step(2, "The bound: −ELBO(x) = rec + KL,  rec = −log p(x|z),  KL = KL(q(z|x) ‖ N(0, I))");
  t.say("For any q(z|x), log p(x) = log E_q[p(x,z)/q(z|x)] ≥ E_q[log p(x,z) − log q(z|x)]: the loss is the\n"
        "negative of that lower bound, averaged over a batch, with one sample z = m + √v ⊙ ε per image.");
  Rng init(t.seed());
  auto fresh = info.make_float(config, init);
  Rng eval_rng(1);
  const auto before = tz::tutorial::as_map(fresh->evaluate(eval, eval_rng));
  t.say("A fresh network's logits are near 0, so p(x_j = 1|z) ≈ ½ for every pixel and rec ≈ 784 log 2.");
  t.check_close("fresh model: test rec ≈ 784 log 2", before.at("test_rec"), 784 * std::log(2.0), 0.02);
}

// Step 3: the shared training loop of ./zoo train lowers the −ELBO. Returns the trained model.
std::unique_ptr<zm::Model<float>> step_training_lowers_the_nelbo(tz::tutorial::Tutorial& t,
                                                                 const zm::ModelInfo& info,
                                                                 const zm::Config& config,
                                                                 const zm::TrainOptions& opt) {
  const long iters = opt.iters;
  t.step(3, "Training: {} Adam steps of 100 images (lr 1e-3, z = 10, the shared loop of ./zoo train vae)", iters);
  std::unique_ptr<zm::Model<float>> model;
  const zm::TrainResult run = zm::train(info, config, opt, &model);
  const auto metrics = tz::tutorial::as_map(run.metrics);
  const std::vector<double> curve = tz::tutorial::curve_of(run, "nelbo");
  const double first = curve.empty() ? std::nan("") : curve.front();
  const double last = curve.empty() ? std::nan("") : curve.back();
  t.say("{:.1f} ms per step. Test: −ELBO {:.2f} = KL {:.2f} + rec {:.2f} nats", run.ms_per_iter,
        metrics.at("test_nelbo"), metrics.at("test_kl"), metrics.at("test_rec"));
  t.check("the training −ELBO fell", last < first - 50,
          fmt::format("first 100 steps {:.2f} → last 100 steps {:.2f}", first, last));
  return model;
}

// What step 4 hands to step 5: the S samples of every image, and the mean over images of
// log E_q[w] (the bound L_S).
struct Jensen {
  Terms terms;
  double lhs_mean;
};

// Step 4: log E_q[w] ≥ E_q[log w] on every test image: the ELBO is a lower bound.
Jensen step_jensen(tz::tutorial::Tutorial& t, zm::VAE<float>& vae, const Array<float>& x_test, Rng& rng) {
  const std::size_t n = t.pick<std::size_t>(100, 20), S = t.pick<std::size_t>(1000, 200);
  Array<float> x = Array<float>::from_shape({n, x_test.shape()[1]});
  std::copy(x_test.data(), x_test.data() + x.size(), x.data());
  t.step(4, "Jensen's inequality: log E_q[w] ≥ E_q[log w],  w = p(x,z)/q(z|x),  S = {} samples of z", S);
  const Terms T = elbo_terms(vae, x, S, rng);
  t.say("The left side estimates log p(x) (it is the importance-weighted bound L_S of 05_iwae), the right side\n"
        "is the ELBO. log is concave, so the log of a mean is at least the mean of the logs.");
  double lhs_mean = 0, rhs_mean = 0;
  bool all_images = true;
  for (std::size_t j = 0; j < n; ++j) {
    std::vector<double> log_w(S);
    for (std::size_t i = 0; i < S; ++i)
      log_w[i] = T.log_px_z[i * n + j] + T.log_pz[i * n + j] - T.log_qz[i * n + j];
    double mean_log = 0;
    for (double lw : log_w) mean_log += lw / static_cast<double>(S);
    const double log_mean = tz::log_mean_exp(log_w.data(), S);  // never exp(log w): docs/pitfalls.md#logsumexp
    all_images = all_images && log_mean >= mean_log;
    lhs_mean += log_mean / static_cast<double>(n);
    rhs_mean += mean_log / static_cast<double>(n);
    if (j == 0)
      t.check("Jensen, test image 0", log_mean >= mean_log,
              fmt::format("log E[w] = {:.2f} ≥ E[log w] = {:.2f}", log_mean, mean_log));
  }
  t.check(fmt::format("Jensen, every one of {} test images", n), all_images,
          fmt::format("mean log E[w] = {:.2f} ≥ mean E[log w] = {:.2f} (gap {:.2f} nats)", lhs_mean, rhs_mean,
                      lhs_mean - rhs_mean));
  return {T, lhs_mean};
}

// Step 5: the ELBO's forms (a) and (b) agree exactly, (a) and (c) up to Monte-Carlo error, and
// the gap to log p(x) is at least L_S − ELBO ≥ 0.
void step_three_forms_of_the_elbo(tz::tutorial::Tutorial& t, const Jensen& jensen) {
  const Terms& T = jensen.terms;
  const double lhs_mean = jensen.lhs_mean;
  const std::size_t n = T.n, S = T.S;
  t.step(5, "Three forms of the ELBO, computed from the same {} × {} samples ε", n, S);
  std::vector<double> form_a(S * n), form_c(S * n), kl_err(S * n);
  double rec_mean = 0, kl_mc = 0, kl_closed = 0;
  for (std::size_t r = 0; r < S * n; ++r) {
    const std::size_t j = r % n;
    form_a[r] = T.log_px_z[r] + T.log_pz[r] - T.log_qz[r];  // log p(x, z) − log q(z|x)
    form_c[r] = T.log_px_z[r] - T.kl[j];                     // log p(x|z) − KL
    kl_err[r] = (T.log_qz[r] - T.log_pz[r]) - T.kl[j];       // one-sample KL − KL
    rec_mean += T.log_px_z[r] / static_cast<double>(S * n);
    kl_mc += (T.log_qz[r] - T.log_pz[r]) / static_cast<double>(S * n);
  }
  for (double k : T.kl) kl_closed += k / static_cast<double>(n);
  const Stats a = stats(form_a), c = stats(form_c), e = stats(kl_err);
  // The Monte-Carlo noise of each form: the variance of its one-sample terms within an image,
  // averaged over images (the spread between images is not noise).
  auto within = [&](const std::vector<double>& f) {
    double total = 0;
    for (std::size_t j = 0; j < n; ++j) {
      std::vector<double> one(S);
      for (std::size_t i = 0; i < S; ++i) one[i] = f[i * n + j];
      const Stats st = stats(one);
      total += st.sd * st.sd / static_cast<double>(n);
    }
    return total;
  };
  const double var_a = within(form_a), var_c = within(form_c);
  const double b = rec_mean - kl_mc;
  t.say("(a) E_q[log p(x,z) − log q(z|x)]                   = {:.6f}", a.mean);
  t.say("(b) E_q[log p(x|z)] − E_q[log q(z|x) − log p(z)]    = {:.6f} − {:.6f} = {:.6f}", rec_mean, kl_mc, b);
  t.say("(c) E_q[log p(x|z)] − KL(q ‖ p), KL in closed form = {:.6f} − {:.6f} = {:.6f}", rec_mean, kl_closed, c.mean);
  t.check_close("(a) = (b): the same numbers summed in another order", b, a.mean, 1e-9);
  t.check("(a) = (c) up to Monte-Carlo error: E_q[log q − log p(z)] = KL(q ‖ p)", std::abs(a.mean - c.mean) < 4 * e.se,
          fmt::format("|(a) − (c)| = {:.4f} < 4 standard errors = {:.4f}", std::abs(a.mean - c.mean), 4 * e.se));
  t.say("Their noise differs. log w = log p(x) + log p(z|x) − log q(z|x) would not vary at all if q(z|x) were\n"
        "the posterior, while log p(x|z) in (c) always varies with z: once q is close to p(z|x), the one-sample\n"
        "terms of (a) are the quieter ones (Roeder et al. 2017, \"Sticking the landing\").");
  t.check("a trained q makes log w quieter than log p(x|z)", var_a < var_c,
          fmt::format("variance of one-sample terms within an image: (a) {:.3f} < (c) {:.3f}", var_a, var_c));
  t.say("The third form, log p(x) − KL(q(z|x) ‖ p(z|x)), needs log p(x) itself. The bound L_S of step 4 is\n"
        "below log p(x), so the gap KL(q(z|x) ‖ p(z|x)) = log p(x) − ELBO is at least L_S − ELBO:");
  t.check("KL(q(z|x) ‖ p(z|x)) ≥ L_S − ELBO ≥ 0", lhs_mean - a.mean >= 0,
          fmt::format("L_{} − ELBO = {:.2f} − {:.2f} = {:.2f} nats", S, lhs_mean, a.mean, lhs_mean - a.mean));
  t.note("05_iwae computes log p(x) on a grid for a 2-D latent and checks log p(x) − ELBO = KL(q ‖ p(z|x)) exactly.");
}

// Step 6: the pathwise (reparameterized) gradient and the score function agree in the mean; the
// pathwise one has far less variance.
void step_reparameterization_beats_the_score_function(tz::tutorial::Tutorial& t, Rng& rng) {
  const double mu = 1.5;
  const std::size_t N = t.pick<std::size_t>(200000, 40000);
  t.step(6, "The reparameterization trick: two estimators of d/dμ E_{{N(μ,1)}}[z²] = 2μ at μ = {}", mu);
  t.say("Score function (REINFORCE): ∇_μ E[f(z)] = E[f(z) ∇_μ log N(z; μ, 1)] = E[z² (z − μ)], z a constant sample.\n"
        "Pathwise: z = μ + ε, ε ~ N(0, 1), so ∇_μ E[f(z)] = E[∇_μ (μ + ε)²] = E[2(μ + ε)], through the sample.\n"
        "Both on the tape, one gradient per sample: μ is a leaf of N copies.");
  const Array<double> eps = rng.normal<double>({N});
  std::vector<double> g_path(N), g_score(N);
  {
    Tape<double> tape;
    Var<double> mu_n = tape.leaf(Array<double>(xt::ones<double>({N}) * mu));
    Var<double> z = mu_n + tape.constant(eps);  // z = μ + ε
    tape.backward(tz::sum(tz::square(z)));      // Σ_n z_n²: gradient 2 z_n for copy n
    const Array<double> g = mu_n.grad();
    g_path.assign(g.begin(), g.end());
  }
  {
    Tape<double> tape;
    Var<double> mu_n = tape.leaf(Array<double>(xt::ones<double>({N}) * mu));
    Array<double> z = eps + mu;                  // a sample, cut from μ
    Var<double> zc = tape.constant(z);
    // log N(z; μ, 1) = −½ (z − μ)² − ½ log 2π;  f(z) = z², a constant weight
    Var<double> log_p = -0.5 * tz::square(zc - mu_n) - 0.5 * kLog2Pi;
    tape.backward(tz::sum(tape.constant(Array<double>(z * z)) * log_p));
    const Array<double> g = mu_n.grad();
    g_score.assign(g.begin(), g.end());
  }
  const Stats sp = stats(g_path), ss = stats(g_score);
  const double var_path = 4.0, var_score = std::pow(mu, 4) + 14 * mu * mu + 15;  // E[(μ+ε)⁴ε²] − (2μ)²
  t.check("pathwise: mean = 2μ", std::abs(sp.mean - 2 * mu) < 4 * sp.se,
          fmt::format("{:.4f} ± {:.4f} vs {:.1f}", sp.mean, sp.se, 2 * mu));
  t.check("score function: mean = 2μ", std::abs(ss.mean - 2 * mu) < 4 * ss.se,
          fmt::format("{:.4f} ± {:.4f} vs {:.1f}", ss.mean, ss.se, 2 * mu));
  t.check_close("pathwise variance = Var[2ε] = 4", sp.sd * sp.sd, var_path, 0.05);
  t.check_close("score-function variance = μ⁴ + 14μ² + 15", ss.sd * ss.sd, var_score, 0.15);
  t.check("the reparameterized estimator needs fewer samples", ss.sd * ss.sd > 5 * sp.sd * sp.sd,
          fmt::format("variance ratio {:.1f}: the score function needs ≈ {:.0f}× the samples for the same error",
                      ss.sd * ss.sd / (sp.sd * sp.sd), ss.sd * ss.sd / (sp.sd * sp.sd)));
  t.say("In the VAE, z = m + √v ⊙ ε carries the gradient of rec into the encoder the same way.");
}

// Step 7: samples from the trained model put ink where the test images do.
void step_samples_look_like_the_data(tz::tutorial::Tutorial& t, zm::VAE<float>& vae, const zm::Dataset& eval,
                                     const Array<float>& x_test) {
  t.step(7, "Samples: z ~ N(0, I), then the decoder's Bernoulli means σ(f_θ(z))");
  Rng pic_rng(t.seed() + 2);
  const std::string dir = t.out_dir().string();
  vae.write_pictures(dir, eval, pic_rng);
  // The mean of 1000 samples against the mean test image: where the model puts ink.
  const Array<float> samples = vae.sample(1000, pic_rng);
  const std::size_t d = samples.shape()[1];
  std::vector<double> ms(d, 0.0), md(d, 0.0);
  for (std::size_t i = 0; i < samples.shape()[0]; ++i)
    for (std::size_t j = 0; j < d; ++j) ms[j] += samples(i, j) / static_cast<double>(samples.shape()[0]);
  for (std::size_t i = 0; i < x_test.shape()[0]; ++i)
    for (std::size_t j = 0; j < d; ++j) md[j] += x_test(i, j) / static_cast<double>(x_test.shape()[0]);
  double sa = 0, sb = 0, sab = 0, saa = 0, sbb = 0;
  for (std::size_t j = 0; j < d; ++j) sa += ms[j] / d, sb += md[j] / d;
  for (std::size_t j = 0; j < d; ++j) {
    sab += (ms[j] - sa) * (md[j] - sb);
    saa += (ms[j] - sa) * (ms[j] - sa);
    sbb += (md[j] - sb) * (md[j] - sb);
  }
  const double corr = sab / std::sqrt(saa * sbb);
  t.check("the mean sample looks like the mean test image", corr > 0.9,
          fmt::format("correlation of the two 28×28 mean images {:.3f}; ink per pixel {:.3f} vs {:.3f}", corr, sa, sb));
  for (const char* f : {"samples.png", "reconstructions.png"}) {
    const tz::Image img = tz::read_png(dir + "/" + f);
    t.check(fmt::format("wrote {}", f), img.width == 302, fmt::format("{}/{} ({}×{} pixels)", dir, f, img.width, img.height));
  }
}

}  // namespace

int main(int argc, char** argv) {
  tz::tutorial::Tutorial t("04_vae", "the VAE: the ELBO by Jensen, its three forms, the reparameterization trick");
  std::string data_spec;
  if (auto rc = tz::tutorial::parse_with_data(t, data_spec, argc, argv)) return *rc;
  Rng rng(t.seed());
  const zm::ModelInfo& info = zm::find_model("vae");
  const long iters = t.pick(5000L, 300L), test_rows = t.pick(1000L, 200L);
  const zm::Config config = zm::Config::from(info.flags, {{"z", "10"}, {"iwae", "1"}}, "vae");

  const zm::Dataset eval = step_data(t, info, data_spec, rng, test_rows);                    // 1 data
  // after step 1, which settles data_spec: the training runs load the data step 1 loaded
  const zm::TrainOptions opt = tz::tutorial::train_options(t, data_spec, iters, test_rows);
  step_fresh_model_flips_a_coin_per_pixel(t, info, config, eval);                            // 2 the bound
  const auto model = step_training_lowers_the_nelbo(t, info, config, opt);                   // 3 training
  auto& vae = dynamic_cast<zm::VAE<float>&>(*model);
  const Array<float> x_test = zm::binarized_test_rows(eval);  // binarized once, for steps 4 and 7
  const Jensen jensen = step_jensen(t, vae, x_test, rng);                                    // 4 Jensen
  step_three_forms_of_the_elbo(t, jensen);                                                   // 5 three forms
  step_reparameterization_beats_the_score_function(t, rng);                                  // 6 the trick
  step_samples_look_like_the_data(t, vae, eval, x_test);                                     // 7 samples
  return t.finish();
}
