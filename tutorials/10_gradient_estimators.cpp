// tutorial: gradient estimators of the IWAE bound (standard, STL, DReG): their signal-to-noise ratio, and what each trains
//
// Model: the VAE of 05_iwae with a 2-D latent space (models/vae.hpp), so that log p(x) and the gap
// KL(q(z|x) ‖ p(z|x)) are exact on a grid (tutorials/iwae_grid.hpp). The bound (Burda et al. 2016):
//   L_k(x) = E[log (1/k) Σ_i w_i],  w_i = p(x, z_i)/q(z_i|x),  z_i = m + √v ⊙ ε_i,  w̃_i = w_i / Σ_j w_j
// Three estimators of its gradient, all with the value −L_k (models/vae.cpp: log_importance_weights):
//   standard  Σ_i w̃_i ∇ log w_i, through z_i and through q's (m, v) (the score term)
//   stl       the score term cut by detach(m), detach(v) inside log q (Roeder et al. 2017)
//   dreg      encoder Σ_i w̃_i² ∂ log w_i/∂z_i · ∂z_i/∂φ, decoder as standard (Tucker et al. 2019, eq. 6)
// Rainforth et al. (2018): as k grows the standard encoder gradient's signal-to-noise ratio falls,
// |E[g]| / std(g) = O(1/√k), while the decoder's rises, O(√k): a tighter bound can train a worse encoder.
//
// Steps: 1 data, 2 a VAE trained on the ELBO, the model every later step starts from or measures,
// 3 one ε through the three estimators, 4 the SNR table (models/estimators.hpp: gradient_snr),
// 5 training at k = 10 with each estimator and the log p(x) each reaches, 6 the gap KL(q ‖ p(z|x)) of
// an IWAE-trained encoder against an ELBO-trained one.
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "autograd/random.hpp"
#include "models/estimators.hpp"
#include "models/train.hpp"
#include "models/vae.hpp"
#include "tutorials/iwae_grid.hpp"
#include "tutorials/tutorial.hpp"
#include "tutorials/vae_steps.hpp"

using tz::Array;
using tz::Rng;
using tz::Tape;
using tz::tutorial::claim;
using tz::tutorial::mean_of;
namespace zm = tz::models;
using zm::Estimator;

namespace {

const Estimator kEstimators[] = {Estimator::standard, Estimator::stl, Estimator::dreg};

// A trained model, and what the grid says about it on the test images.
struct Scored {
  std::string name;
  std::unique_ptr<zm::Model<float>> model;
  double log_px = 0, elbo = 0, gap = 0;  // means over images: log p(x), ELBO, KL(q(z|x) ‖ p(z|x))
  double h = 0, grid_error = 0;          // the grid's step, and max |log p_h(x) − log p_2h(x)|
};

zm::VAE<float>& vae_of(const Scored& s) { return dynamic_cast<zm::VAE<float>&>(*s.model); }

// log p(x), the ELBO and the gap on a grid of step h ≤ min(0.05, the narrowest q's sd / 2) over [−6, 6]².
void score_on_grid(Scored& s, const Array<float>& x) {
  const zm::GaussianCode q = vae_of(s).gaussian_code(x);
  double min_sd = 1e9;
  for (float a : q.v) min_sd = std::min(min_sd, std::sqrt(static_cast<double>(a)));
  const double R = 6, G = 4 * std::ceil(2 * R / std::min(0.05, min_sd / 2) / 4);  // a multiple of 4
  s.h = 2 * R / G;
  const auto at = tz::tutorial::iwae::integrate_on_grid(vae_of(s), x, q.m, q.v, R, s.h);
  std::vector<double> px, elbo, gap;
  for (std::size_t i = 0; i < at.size(); ++i) {
    double kl = 0;  // KL(q(z|x_i) ‖ N(0, I)) = ½ Σ_j (v_j + m_j² − 1 − log v_j), closed form
    for (std::size_t j = 0; j < 2; ++j)
      kl += 0.5 * (q.v(i, j) + q.m(i, j) * q.m(i, j) - 1 - std::log(static_cast<double>(q.v(i, j))));
    px.push_back(at[i].log_px);
    elbo.push_back(at[i].e_log_px_z - kl);
    gap.push_back(at[i].kl_posterior);
    s.grid_error = std::max(s.grid_error, std::abs(at[i].log_px - at[i].log_px_2h));
  }
  s.log_px = mean_of(px), s.elbo = mean_of(elbo), s.gap = mean_of(gap);
}

// A VAE with z = 2 trained by ./zoo train's loop on `flags`, scored on the grid.
Scored train_and_score(tz::tutorial::Tutorial& t, const std::string& name, std::map<std::string, std::string> flags,
                       const zm::TrainOptions& opt, const Array<float>& x) {
  const zm::ModelInfo& info = zm::find_model("vae");
  flags["z"] = "2";
  flags["hidden"] = t.pick<std::string>("200", "32");
  flags["iwae"] = "1";
  Scored s;
  s.name = name;
  zm::train(info, zm::Config::from(info.flags, flags, "vae"), opt, &s.model);
  score_on_grid(s, x);
  return s;
}

// Step 3: one ε through the three estimators: one value, one decoder gradient, three encoder gradients.
void step_one_epsilon(tz::tutorial::Tutorial& t, zm::VAE<float>& vae, const Array<float>& x) {
  const std::size_t k = 10, n = x.shape()[0];
  t.step(3, "One ε, three estimators: the value −L_{} and the decoder's gradient agree, the encoder's do not", k);
  Rng rng(t.seed() + 3);
  const Array<float> eps = rng.normal<float>({k * n, 2});
  std::vector<float> value;
  std::vector<std::vector<double>> enc(3), dec(3);
  for (int e = 0; e < 3; ++e) {
    Tape<float> tape;
    tz::Var<float> loss = tz::mean(vae.negative_iwae_bound(tape, tape.constant(x), k, tape.constant(eps), kEstimators[e]));
    value.push_back(loss.item());
    tape.backward(loss);
    for (tz::Param<float>* p : vae.params().all()) {
      for (float g : p->grad) (p->name.rfind("enc", 0) == 0 ? enc : dec)[e].push_back(g);
      p->zero_grad();
    }
  }
  auto max_diff = [](const std::vector<double>& a, const std::vector<double>& b) {
    double d = 0, s = 0;
    for (std::size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(a[i] - b[i])), s = std::max(s, std::abs(b[i]));
    return d / std::max(s, 1e-30);  // relative to the largest element
  };
  t.say("−L_{} = {:.4f} (standard), {:.4f} (stl), {:.4f} (dreg): the estimators differ in the graph behind the\n"
        "value, not in the value. The largest difference from the standard gradient, relative to its largest element:",
        k, value[0], value[1], value[2]);
  for (int e = 1; e < 3; ++e)
    t.say("  {:<5} encoder {:.2e}   decoder {:.2e}", zm::to_string(kEstimators[e]), max_diff(enc[e], enc[0]),
          max_diff(dec[e], dec[0]));
  // The decoder's gradient is Σ_i w̃_i ∇_θ log p_θ(x|z_i) in all three, summed in one order: float32 rounding
  // (relative 6e-8 per operation over a few hundred terms) stays below 1e-5 of the largest element.
  const bool same = value[1] == value[0] && value[2] == value[0] && max_diff(dec[1], dec[0]) < 1e-5 &&
                    max_diff(dec[2], dec[0]) < 1e-5 && max_diff(enc[1], enc[0]) > 1e-3 && max_diff(enc[2], enc[0]) > 1e-3;
  t.check(claim("estimators-share-value-and-decoder-gradient"),
          "one value, one decoder gradient; the encoder gradients differ by more than 1e-3", same,
          fmt::format("decoder: {:.1e} and {:.1e}; encoder: {:.1e} and {:.1e}", max_diff(dec[1], dec[0]),
                      max_diff(dec[2], dec[0]), max_diff(enc[1], enc[0]), max_diff(enc[2], enc[0])));
}

// Step 4: the median SNR of the encoder's and the decoder's gradients for k = 1, 10, 100 and each estimator.
void step_snr_table(tz::tutorial::Tutorial& t, zm::VAE<float>& vae, const Array<float>& x_all) {
  const std::size_t b = t.pick<std::size_t>(20, 5), R = t.pick<std::size_t>(200, 40);
  const std::vector<std::size_t> ks = {1, 10, 100};
  t.step(4, "Gradient SNR = |E[g]| / std(g) per parameter, over {} draws of ε for the first {} test images", R, b);
  t.say("Medians over the encoder's (φ) and the decoder's (θ) parameters (models/estimators.hpp: gradient_snr).\n"
        "Each median has a relative error of about 1/√(2R) = {:.2f} from the R draws.", 1 / std::sqrt(2.0 * R));
  const Array<float> x = zm::rows_of(x_all, 0, b);
  std::map<std::pair<int, std::size_t>, zm::GradientSNR> snr;
  t.say("{:>5}  {:>10} {:>10} {:>10}   {:>10} {:>10} {:>10}", "k", "enc std", "enc stl", "enc dreg", "dec std",
        "dec stl", "dec dreg");
  for (std::size_t k : ks) {
    for (int e = 0; e < 3; ++e) {
      Rng rng(t.seed() + 4 + k);  // the same ε for the three estimators at one k
      snr[{e, k}] = zm::gradient_snr(vae, x, k, kEstimators[e], R, rng);
    }
    t.say("{:>5}  {:>10.3f} {:>10.3f} {:>10.3f}   {:>10.3f} {:>10.3f} {:>10.3f}", k, snr[{0, k}].median_encoder,
          snr[{1, k}].median_encoder, snr[{2, k}].median_encoder, snr[{0, k}].median_decoder,
          snr[{1, k}].median_decoder, snr[{2, k}].median_decoder);
  }
  auto enc = [&](int e, std::size_t k) { return snr[{e, k}].median_encoder; };
  auto dec = [&](int e, std::size_t k) { return snr[{e, k}].median_decoder; };
  // Each comparison needs a margin beyond the medians' relative error 1/√(2R) (0.05 at R = 200, 0.11 at 40):
  // a ratio of 1.25 is more than twice that.
  // The encoder's fall from k = 1 to k = 10 can be smaller than that margin (×1.13 in the full run, where the
  // model is trained longer), so the claim is checked across the table, k = 1 against k = 100, and as never rising.
  t.check(claim("snr-standard-encoder-falls-with-k"),
          "standard: the encoder's SNR falls as k grows (never rises; by 1.25× from k = 1 to k = 100)",
          enc(0, 10) < enc(0, 1) && enc(0, 100) < enc(0, 10) && enc(0, 100) * 1.25 < enc(0, 1),
          fmt::format("{:.3f} → {:.3f} → {:.3f}, ×{:.2f} in all; 1/√k would predict ×{:.2f} per step", enc(0, 1),
                      enc(0, 10), enc(0, 100), enc(0, 1) / enc(0, 100), 1 / std::sqrt(10.0)));
  t.check(claim("snr-standard-decoder-rises-with-k"), "standard: the decoder's SNR rises as k grows (by 1.25× a step)",
          dec(0, 10) > 1.25 * dec(0, 1) && dec(0, 100) > 1.25 * dec(0, 10),
          fmt::format("{:.3f} → {:.3f} → {:.3f}; √k predicts ×{:.2f} per step", dec(0, 1), dec(0, 10), dec(0, 100),
                      std::sqrt(10.0)));
  // Tucker et al. report DReG's advantage growing with k; how large it is depends on the model (×1.6 on the
  // full run's ELBO-trained 2-D VAE, ×1.76 to ×2.23 on five MNIST checkpoints in docs/estimators.md): the claim
  // is the advantage beyond noise.
  t.check(claim("snr-dreg-encoder-beats-standard"), "DReG's encoder SNR at k = 100 is above the standard one's (by 1.25×)",
          enc(2, 100) > 1.25 * enc(0, 100), fmt::format("{:.3f} vs {:.3f}: ×{:.1f}", enc(2, 100), enc(0, 100),
                                                       enc(2, 100) / enc(0, 100)));
  t.check(claim("snr-stl-helps-at-k1"), "STL's encoder SNR at k = 1 is above the standard one's (by 1.25×)",
          enc(1, 1) > 1.25 * enc(0, 1),
          fmt::format("{:.3f} vs {:.3f}: the score term, mean 0, is pure noise at k = 1", enc(1, 1), enc(0, 1)));
  t.say("DReG's encoder SNR at k = 1, 10, 100: {:.3f}, {:.3f}, {:.3f} (at k = 1 DReG is STL: w̃ = 1).", enc(2, 1),
        enc(2, 10), enc(2, 100));
}

// Step 5: k = 10 with each estimator, the same steps from the same start as step 2's ELBO run.
std::vector<Scored> step_train_each(tz::tutorial::Tutorial& t, const zm::TrainOptions& opt, const Array<float>& x,
                                    const Scored& elbo) {
  t.step(5, "Training on L_10 with each estimator: {} Adam steps from step 2's start, log p(x) on the grid", opt.iters);
  std::vector<Scored> runs;
  for (Estimator e : kEstimators)
    runs.push_back(train_and_score(t, fmt::format("iwae k=10 {}", zm::to_string(e)),
                                   {{"objective", "iwae"}, {"k", "10"}, {"estimator", zm::to_string(e)}}, opt, x));
  t.say("{:<20} {:>10} {:>10} {:>12} {:>9}", "trained on", "log p(x)", "ELBO", "KL(q‖p(z|x))", "grid h");
  for (const Scored* s : std::vector<const Scored*>{&elbo, &runs[0], &runs[1], &runs[2]})
    t.say("{:<20} {:>10.4f} {:>10.4f} {:>12.4f} {:>9.4f}", s->name, s->log_px, s->elbo, s->gap, s->h);
  double grid_error = elbo.grid_error;
  for (const Scored& s : runs) grid_error = std::max(grid_error, s.grid_error);
  t.say("The grid's own error, max |log p_h(x) − log p_2h(x)| over models and images: {:.1e} nats.", grid_error);
  // Quadratures of trained models, no Monte-Carlo noise: a difference beyond 10× the grid's error is real.
  bool all_above = true;
  for (const Scored& s : runs) all_above = all_above && s.log_px > elbo.log_px + 10 * grid_error;
  t.check(claim("iwae-trains-higher-log-px"), "every estimator's L_10 run reaches a higher log p(x) than the ELBO run",
          all_above, fmt::format("{:.4f}, {:.4f}, {:.4f} vs {:.4f}", runs[0].log_px, runs[1].log_px, runs[2].log_px,
                                 elbo.log_px));
  return runs;
}

// Step 6: the encoder each objective trains, as a posterior approximation: KL(q(z|x) ‖ p(z|x)).
void step_gap(tz::tutorial::Tutorial& t, const Scored& elbo, const std::vector<Scored>& runs) {
  t.step(6, "What L_10 asks of the encoder: the gap KL(q(z|x) ‖ p(z|x)) of each trained q");
  t.say("The ELBO run minimises log p(x) − ELBO = KL(q ‖ p(z|x)) over φ. L_k asks less of q: the k weights\n"
        "average its misses out, and q may spread wider than p(z|x), which the ELBO would punish.");
  bool wider = true;
  for (const Scored& s : runs) wider = wider && s.gap > elbo.gap + 10 * s.grid_error;
  t.check(claim("iwae-encoder-larger-gap"), "every L_10-trained encoder has a larger gap than the ELBO-trained one",
          wider, fmt::format("{:.4f}, {:.4f}, {:.4f} vs {:.4f} nats", runs[0].gap, runs[1].gap, runs[2].gap, elbo.gap));
  t.say("So log p(x) rose (step 5) while q got worse as an approximation of p(z|x): the tighter bound trains the\n"
        "decoder better and the encoder, as a posterior, worse.");
}

}  // namespace

int main(int argc, char** argv) {
  tz::tutorial::Tutorial t("10_gradient_estimators",
                           "gradient estimators of the IWAE bound: standard, STL and DReG, their SNR and what each trains");
  std::string data_spec;
  if (auto rc = tz::tutorial::parse_with_data(t, data_spec, argc, argv)) return *rc;
  Rng rng(t.seed());
  const zm::ModelInfo& info = zm::find_model("vae");
  const std::size_t n = t.pick<std::size_t>(100, 20);  // test images on the grid
  const zm::Dataset data = tz::tutorial::load_tutorial_data(t, info, data_spec, rng);
  t.step(1, "Data: {}, {} training images; the first {} test images, binarized once", data.name,
         data.train_x.shape()[0], n);
  const Array<float> x = zm::binarized_test_rows(zm::first_test_rows(data, static_cast<long>(n)));
  const zm::TrainOptions opt = tz::tutorial::train_options(t, data_spec, t.pick(2000L, 400L), static_cast<long>(n));

  t.step(2, "A VAE with z = 2 trained on the ELBO: {} Adam steps of 100 images", opt.iters);
  const Scored elbo = train_and_score(t, "elbo", {{"objective", "elbo"}}, opt, x);
  t.say("log p(x) = {:.4f}, ELBO = {:.4f}, KL(q ‖ p(z|x)) = {:.4f} (means over the {} images, grid h = {:.4f}).",
        elbo.log_px, elbo.elbo, elbo.gap, n, elbo.h);
  step_one_epsilon(t, vae_of(elbo), x);                          // 3
  step_snr_table(t, vae_of(elbo), x);                            // 4
  const std::vector<Scored> runs = step_train_each(t, opt, x, elbo);  // 5
  step_gap(t, elbo, runs);                                       // 6
  return t.finish();
}
