// tutorial: β-VAE: the reconstruction/KL trade-off for β = 0.5, 1, 4, latent traversals, posterior collapse and KL annealing, Adam's learning rate
//
// Objective (Higgins et al. 2017, "β-VAE", eq. 4; models/vae.hpp):
//   L_β(x) = E_q[−log p(x|z)] + β·KL(q(z|x) ‖ N(0, I)) = rec + β·KL
// β = 1 is the negative ELBO, an upper bound on −log p(x) for any q (Jensen). Since KL ≥ 0,
//   rec + β·KL ≥ rec + KL ≥ −log p(x)   for β ≥ 1,
// while for β < 1 rec + β·KL = (rec + KL) − (1 − β)·KL can fall below −log p(x): it is no bound.
// Whatever β a model was trained with, its own rec + KL is still a bound, and the three models are
// compared on that. A larger β prices every nat of information that z carries about x more dearly:
// the KL ("rate") falls and rec ("distortion") rises (Alemi et al. 2018, "Fixing a Broken ELBO", §3).
// Units whose q(z_j|x) equals the prior for every x carry nothing: Burda et al. (2016, §5.2) call
// unit j active when A_j = Cov_x(E_q[z_j|x]) > 10⁻², and its KL, KL_j = E_x ½ (v_j + m_j² − 1 − log v_j),
// is then next to 0 (posterior collapse of the unit).
// KL annealing (Bowman et al. 2016, §3.1): the KL weight rises from 0 to β over the first N
// iterations (models/vae.cpp: anneal_fraction), so the encoder learns to use z before the KL term
// pulls q(z|x) onto the prior. Free bits (Kingma et al. 2016, eq. 15): minimise rec + β Σ_j max(λ, KL_j),
// so that no unit's first λ nats are penalised (train_free_bits below).
//
// Steps: 1 data, 2 three values of β: rec against KL and which of them bounds −log p(x), 3 latent
// traversals as pictures, 4 posterior collapse at β = 8, z = 32, against KL annealing and free bits
// over 3 seeds, 5 Adam's learning rate 1e-3 against 1e-4.
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "autograd/random.hpp"
#include "io/png.hpp"
#include "models/train.hpp"
#include "models/vae.hpp"
#include "nn/optim.hpp"
#include "datasets/batching.hpp"
#include "tutorials/tutorial.hpp"
#include "tutorials/vae_steps.hpp"

using tz::Array;
using tz::Rng;
using tz::tutorial::claim;
namespace zm = tz::models;

namespace {

struct Trained {
  std::unique_ptr<zm::Model<float>> model;
  std::map<std::string, double> metrics;
  std::vector<double> activity;  // A_j per unit, on the test images
  std::size_t active = 0;
  std::vector<double> curve, curve_iter;  // the training −ELBO per logging window, and its last step
  zm::VAE<float>& vae() { return dynamic_cast<zm::VAE<float>&>(*model); }
};

Trained train(const zm::ModelInfo& info, const std::map<std::string, std::string>& flags, const zm::TrainOptions& opt,
              const Array<float>& x_test) {
  Trained out;
  const zm::TrainResult r = zm::train(info, zm::Config::from(info.flags, flags, "vae"), opt, &out.model);
  out.metrics = tz::tutorial::as_map(r.metrics);
  out.curve = tz::tutorial::curve_of(r, "nelbo");
  out.curve_iter = r.curve_iter;
  const Array<float> means = out.vae().posterior_means(x_test);
  out.activity = zm::unit_activities(means);
  out.active = zm::active_units(means);
  return out;
}

// −ELBO(x) = rec + KL of every test image, one reparameterised sample each. Every model gets the same
// ε (a fresh Rng with the same seed), so that differences between models are paired.
std::vector<double> per_image_nelbo(zm::VAE<float>& vae, const Array<float>& x, std::uint64_t seed) {
  Rng rng(seed);
  tz::Tape<float> tape;
  tz::NoGrad<float> no_grad(tape);
  const auto b = vae.negative_elbo_bound(tape, tape.constant(x), rng);
  return {b.nelbo.value().begin(), b.nelbo.value().end()};
}

// Latent traversals: starting from z = m(x) of one image, unit j (one row per unit, most active
// first) takes the values −3 … 3 while the others stay; each cell is σ(f_θ(z)).
Array<float> traversals(zm::VAE<float>& vae, const Array<float>& m0, const std::vector<double>& activity,
                        std::size_t rows, std::size_t cols) {
  std::vector<std::size_t> order(activity.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return activity[a] > activity[b]; });
  const std::size_t zd = activity.size();
  Array<float> z = Array<float>::from_shape({rows * cols, zd});
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) {
      for (std::size_t j = 0; j < zd; ++j) z(r * cols + c, j) = m0(0, j);
      z(r * cols + c, order[r]) = static_cast<float>(-3.0 + 6.0 * static_cast<double>(c) / static_cast<double>(cols - 1));
    }
  return vae.decode_means(z);
}

// Per-unit KL, averaged over the test images: KL_j = E_x ½ (v_j + m_j² − 1 − log v_j)
// (distributions/distributions.cpp: kl_std_normal, one unit at a time).
std::vector<double> unit_kl(Trained& r, const Array<float>& x_test) {
  tz::Tape<float> tape;
  tz::NoGrad<float> no_grad(tape);
  tz::Gaussian<float> q = r.vae().encode(tape, tape.constant(x_test));
  const Array<float>& m = q.m.value();
  const Array<float>& v = q.v.value();
  const std::size_t n = m.shape()[0], zd = m.shape()[1];
  std::vector<double> kl(zd, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < zd; ++j) {
      const double mj = m(i, j), vj = v(i, j);
      kl[j] += 0.5 * (vj + mj * mj - 1 - std::log(vj)) / static_cast<double>(n);
    }
  return kl;
}

// Free bits (Kingma et al. 2016, "Improved Variational Inference with Inverse Autoregressive Flow",
// eq. 15), written out here because ./zoo train has no flag for it: the loop of models/train.hpp with
//   loss = mean_x rec + β Σ_j max(λ, KL_j),   KL_j = mean_x ½ (v_j + m_j² − 1 − log v_j)   (per batch)
// A unit's first λ nats of KL cost nothing, so the gradient of β·KL no longer pushes a unit below λ:
// every unit keeps KL_j ≥ about λ, and rec makes use of what it is given. max(λ, k) = λ + relu(k − λ).
Trained train_free_bits(const zm::ModelInfo& info, const std::map<std::string, std::string>& flags,
                        const zm::TrainOptions& opt, double beta, double lambda, const zm::Dataset& data,
                        const Array<float>& x_test) {
  Trained out;
  Rng rng(opt.seed);
  out.model = info.make_float(zm::Config::from(info.flags, flags, "vae"), rng);
  zm::VAE<float>& vae = out.vae();
  tz::nn::Adam<float> adam(vae.params().all(), {.lr = opt.lr});
  tz::Batcher batches(data.train_x.shape()[0], static_cast<std::size_t>(opt.batch));
  batches.shuffle(rng);
  Array<float> xb;
  tz::Tape<float> tape;
  for (long it = 0; it < opt.iters; ++it) {
    auto idx = batches.next();
    if (idx.empty()) batches.shuffle(rng), idx = batches.next();
    tz::gather_rows(data.train_x, idx, xb);
    const Array<float> x_bin = rng.bernoulli(xb);  // dynamic binarization, as VAE::prepare_batch
    tape.clear();
    const tz::Var<float> x = tape.constant(x_bin);
    const tz::Gaussian<float> q = vae.encode(tape, x);
    const tz::Var<float> z = tz::sample_gaussian(q.m, q.v, rng);
    const tz::Var<float> rec = -tz::log_bernoulli_with_logits(x, vae.decode(tape, z));  // −log p(x|z), [n]
    const tz::Var<float> kl_j = tz::mean(0.5 * (q.v + tz::square(q.m) - 1.0 - tz::log(q.v)), 0);  // [z]
    const tz::Var<float> loss = tz::mean(rec) + beta * tz::sum(lambda + tz::relu(kl_j - lambda));
    tape.backward(loss);  // the textbook loop: backward; step; zero_grad
    adam.step();
    vae.params().zero_grad();
  }
  Rng eval_rng(opt.seed);
  out.metrics = tz::tutorial::as_map(vae.evaluate(zm::first_test_rows(data, opt.eval), eval_rng));
  const Array<float> means = vae.posterior_means(x_test);
  out.activity = zm::unit_activities(means);
  out.active = zm::active_units(means);
  return out;
}

// Step 1: the data set, and its first test_rows test images binarized once, which every step scores.
zm::Dataset step_data(tz::tutorial::Tutorial& t, const zm::ModelInfo& info, std::string& data_spec, Rng& rng,
                      long test_rows, Array<float>& x_test) {
  zm::Dataset data = tz::tutorial::load_tutorial_data(t, info, data_spec, rng);
  x_test = zm::binarized_test_rows(zm::first_test_rows(data, test_rows));
  t.step(1, "Data: {}, {} training images; {} test images, binarized once", data.name, data.train_x.shape()[0],
         x_test.shape()[0]);
  return data;
}

// Step 2, second half: which objective bounds −log p(x), and the models compared on their own rec + KL.
void which_bounds_what(tz::tutorial::Tutorial& t, std::map<double, Trained>& runs, const Array<float>& x_test) {
  auto m = [&](double b, const char* key) { return runs[b].metrics.at(key); };
  t.say("Which of these bounds −log p(x)? For any q, rec + KL ≥ −log p(x) (Jensen), and KL ≥ 0, so\n"
        "rec + β·KL ≥ rec + KL ≥ −log p(x) when β ≥ 1. For β < 1, rec + β·KL = (rec + KL) − (1 − β)·KL can lie\n"
        "below −log p(x): β = 0.5 trains on no bound at all. Every model's own rec + KL is a bound, whatever β\n"
        "trained it, and −IWAE_100 is a tighter one (Burda et al. 2016, Theorem 1).");
  t.identity("rec + β·KL against rec + KL, on the same numbers",
             fmt::format("β = 4: {:.2f} ≥ {:.2f}; β = 0.5: {:.2f} < {:.2f}; the difference is (β − 1)·KL",
                         m(4.0, "test_rec") + 4 * m(4.0, "test_kl"), m(4.0, "test_nelbo"),
                         m(0.5, "test_rec") + 0.5 * m(0.5, "test_kl"), m(0.5, "test_nelbo")));
  // Paired differences of rec + KL per test image, with one shared ε: mean ± standard error.
  const std::uint64_t eps_seed = t.seed() + 200;
  const std::vector<double> n05 = per_image_nelbo(runs[0.5].vae(), x_test, eps_seed),
                            n1 = per_image_nelbo(runs[1.0].vae(), x_test, eps_seed),
                            n4 = per_image_nelbo(runs[4.0].vae(), x_test, eps_seed);
  // −IWAE_100 image by image, with noise of its own, against the same rec + KL: a paired difference with
  // its standard error (tutorials/vae_steps.hpp: iwae_gap), not two noisy means compared.
  for (const auto& [beta, nelbo] : {std::pair{0.5, &n05}, std::pair{1.0, &n1}, std::pair{4.0, &n4}}) {
    Rng iwae_rng(t.seed() + 300);
    const tz::tutorial::IwaeGap gap = tz::tutorial::iwae_gap(*nelbo, runs[beta].vae().negative_iwae_bound_eval(x_test, 100, iwae_rng));
    t.check(claim("beta-vae-tradeoff"), fmt::format("β = {}: its rec + KL lies above the tighter −IWAE_100, by > 4 SE", beta),
            gap.tighter, gap.detail);
  }
  std::vector<double> d4(n1.size()), d05(n1.size());
  for (std::size_t i = 0; i < n1.size(); ++i) d4[i] = n4[i] - n1[i], d05[i] = n05[i] - n1[i];
  const auto s4 = tz::tutorial::stats(d4), s05 = tz::tutorial::stats(d05);
  t.check(claim("beta-vae-tradeoff"), "β = 4's rec + KL is looser than β = 1's by more than 4 standard errors",
          s4.mean > 4 * s4.se,
          fmt::format("(rec + KL)(β = 4) − (rec + KL)(β = 1) = {:+.2f} ± {:.2f} nats per image, paired over {} images",
                      s4.mean, s4.se, d4.size()));
  const bool same = std::abs(s05.mean) < 4 * s05.se;
  t.say("β = 0.5 against β = 1 on the same bound rec + KL: {:+.2f} ± {:.2f} nats per image. {}", s05.mean, s05.se,
        same ? "Within 4 standard errors the two are equally good:\n"
               "β = 1 minimises rec + KL on the training batches, but after this many steps a model trained on\n"
               "rec + 0.5·KL is no worse at it; the extra KL it spends buys as much rec as it costs."
        : s05.mean < 0 ? "β = 0.5 is better on β = 1's own bound: a finite run\n"
                         "minimises its objective only approximately, and the extra KL bought more rec than it cost."
                       : "β = 1, which minimises this bound, is better on it.");
}

// Step 2: a larger β buys a smaller KL and pays in reconstruction. Returns the three runs by β.
std::map<double, Trained> step_beta_trades_rec_for_kl(tz::tutorial::Tutorial& t, const zm::ModelInfo& info,
                                                      const zm::TrainOptions& opt, const Array<float>& x_test) {
  t.step(2, "β = 0.5, 1, 4: minimise rec + β·KL, {} Adam steps each, z = 10", opt.iters);
  std::map<double, Trained> runs;
  t.say("β     rec      KL    trained on rec + β·KL   rec + KL (−ELBO)   active units");
  for (double beta : {0.5, 1.0, 4.0}) {
    runs[beta] = train(info, {{"z", "10"}, {"beta", fmt::format("{}", beta)}, {"iwae", "1"}}, opt, x_test);
    const auto& mt = runs[beta].metrics;
    t.say("{:<3}  {:7.2f} {:6.2f}       {:7.2f}                {:7.2f}          {:2} of 10", beta, mt.at("test_rec"),
          mt.at("test_kl"), mt.at("test_rec") + beta * mt.at("test_kl"), mt.at("test_nelbo"), runs[beta].active);
  }
  auto rec = [&](double b) { return runs[b].metrics.at("test_rec"); };
  auto kl = [&](double b) { return runs[b].metrics.at("test_kl"); };
  t.check(claim("beta-vae-tradeoff"), "a larger β buys a smaller KL", kl(0.5) > kl(1.0) && kl(1.0) > kl(4.0),
          fmt::format("KL {:.2f} > {:.2f} > {:.2f}", kl(0.5), kl(1.0), kl(4.0)));
  t.check(claim("beta-vae-tradeoff"), "… and pays in reconstruction", rec(0.5) < rec(1.0) && rec(1.0) < rec(4.0),
          fmt::format("rec {:.2f} < {:.2f} < {:.2f}", rec(0.5), rec(1.0), rec(4.0)));
  which_bounds_what(t, runs, x_test);
  return runs;
}

// Step 3: a unit's traversal changes the picture as much as the unit is active.
void step_latent_traversals(tz::tutorial::Tutorial& t, std::map<double, Trained>& runs, const Array<float>& x_test) {
  t.step(3, "Latent traversals: one unit at a time from −3 to 3, the others at m(x)");
  t.say("Rows are the units in order of activity A_j; an inactive unit gives a row of identical pictures.");
  Array<float> x0 = Array<float>::from_shape({1, x_test.shape()[1]});
  std::copy(x_test.data(), x_test.data() + x0.size(), x0.data());
  for (double beta : {0.5, 1.0, 4.0}) {
    zm::VAE<float>& vae = runs[beta].vae();
    const Array<float> m0 = vae.posterior_means(x0);
    const Array<float> pics = traversals(vae, m0, runs[beta].activity, 10, 9);
    const std::string file = t.out_file(fmt::format("traversal_beta{}.png", beta)).string();
    tz::GridOptions grid;
    grid.nrow = 9;
    tz::save_image_grid(file, pics, grid);
    // How much a row changes: the mean |picture(−3) − picture(3)| of the most and the least active unit.
    auto row_change = [&](std::size_t r) {
      double s = 0;
      const std::size_t d = pics.shape()[1];
      for (std::size_t j = 0; j < d; ++j) s += std::abs(pics(r * 9, j) - pics(r * 9 + 8, j)) / static_cast<double>(d);
      return s;
    };
    t.say("Wrote {}.", file);
    t.check(claim("traversal-follows-activity"),
            fmt::format("β = {}: the top row of the picture changes more than the bottom row", beta),
            row_change(0) > row_change(9),
            fmt::format("most active unit changes {:.3f} per pixel, least active {:.4f}", row_change(0), row_change(9)));
  }
}

// One seed of step 4: per-unit KL of a run, the units collapsed onto the prior and the KL the
// inactive units hold.
struct CollapseRun {
  std::size_t active = 0, collapsed = 0;  // A_j > 1e-2; KL_j < 1e-2 nats
  double kl = 0, inactive_kl = 0, nelbo = 0, model_kl = 0;  // Σ_j KL_j by unit_kl; the model's own test KL
};

CollapseRun measure_collapse(Trained& r, const Array<float>& x_test) {
  CollapseRun c;
  const std::vector<double> kl = unit_kl(r, x_test);
  for (std::size_t j = 0; j < kl.size(); ++j) {
    c.kl += kl[j];
    if (r.activity[j] <= 1e-2) c.inactive_kl += kl[j];
    c.collapsed += kl[j] < 1e-2;
  }
  c.active = r.active;
  c.nelbo = r.metrics.at("test_nelbo");
  c.model_kl = r.metrics.at("test_kl");
  return c;
}

std::string spread(const std::vector<double>& v) {
  const auto s = tz::tutorial::stats(v);
  return fmt::format("{:.1f} (sd {:.1f}, {:.0f}–{:.0f})", s.mean, s.sd, *std::min_element(v.begin(), v.end()),
                     *std::max_element(v.begin(), v.end()));
}

// Step 4: at β = 8 and z = 32 most units collapse onto the prior. KL annealing from 0 to β is shown
// beside free bits, which keeps every unit's first λ nats free; 3 seeds each.
void step_collapse_and_remedies(tz::tutorial::Tutorial& t, const zm::ModelInfo& info, const zm::TrainOptions& opt,
                                const zm::Dataset& data, const Array<float>& x_test) {
  const long anneal = opt.iters / 2;
  const int kSeeds = t.pick(3, 2);
  constexpr double kBeta = 8, kLambda = 0.1;
  const std::string beta = "8", zd = "32";
  t.step(4, "Posterior collapse at β = {}, z = {}; KL annealing over {} steps, and free bits λ = {}; {} seeds", beta,
         zd, anneal, kLambda, kSeeds);
  t.say("A unit collapses when q(z_j|x) = N(0, 1) for every x: it costs no KL and carries nothing. The setting\n"
        "is chosen so that collapse happens: β = 8 prices information at eight times its worth to the bound, and\n"
        "z = 32 offers far more units than the images need, so most units are not worth their KL. Two remedies:\n"
        "KL annealing (the weight rises from 0 to β, Bowman et al. 2016) lets the encoder use z before the KL\n"
        "term bites; free bits (Kingma et al. 2016) makes each unit's first λ nats of KL free for the whole run.");
  std::vector<CollapseRun> plain, annealed, free_bits;
  CollapseRun beta_1;  // the first seed at β = 1: the same z = 32 without β's price on information
  for (int s = 0; s < kSeeds; ++s) {
    zm::TrainOptions o = opt;
    o.seed = t.seed() + 100 + static_cast<unsigned long>(s);
    const std::map<std::string, std::string> flags = {{"z", zd}, {"beta", beta}, {"iwae", "1"}};
    std::map<std::string, std::string> annealing = flags, unweighted = flags;
    annealing["anneal"] = std::to_string(anneal);
    unweighted["beta"] = "1";
    Trained p = train(info, flags, o, x_test);
    Trained a = train(info, annealing, o, x_test);
    Trained f = train_free_bits(info, flags, o, kBeta, kLambda, data, x_test);
    if (s == 0) {
      Trained b1 = train(info, unweighted, o, x_test);
      beta_1 = measure_collapse(b1, x_test);
    }
    plain.push_back(measure_collapse(p, x_test));
    annealed.push_back(measure_collapse(a, x_test));
    free_bits.push_back(measure_collapse(f, x_test));
    t.say("seed {}: collapsed units (KL_j < 0.01 nats) {:2} plain, {:2} annealed, {:2} free bits;"
          "  active units {:2}, {:2}, {:2}", o.seed, plain.back().collapsed, annealed.back().collapsed,
          free_bits.back().collapsed, plain.back().active, annealed.back().active, free_bits.back().active);
  }
  auto column = [](const std::vector<CollapseRun>& rs, auto f) {
    std::vector<double> v;
    for (const CollapseRun& r : rs) v.push_back(static_cast<double>(f(r)));
    return v;
  };
  auto collapsed = [](const CollapseRun& r) { return r.collapsed; };
  auto active = [](const CollapseRun& r) { return r.active; };
  auto nelbo = [](const CollapseRun& r) { return r.nelbo; };
  const std::vector<double> pc = column(plain, collapsed), fc = column(free_bits, collapsed);
  // β, not z = 32 alone, makes them collapse: at β = 1 the same first seed keeps more units.
  t.check(claim("free-bits-against-collapse"), "without a remedy most units collapse, in every seed, more than at β = 1",
          *std::min_element(pc.begin(), pc.end()) > 16 && pc[0] > static_cast<double>(beta_1.collapsed),
          fmt::format("collapsed units of 32: {}; β = 1, first seed: {}", spread(pc), beta_1.collapsed));
  // Σ_j KL_j on the test images is the model's own closed-form test KL (the same images, binarized alike):
  // equal to float rounding (rtol 1e-4), in every run.
  double worst_inactive = 0, worst_sum = 0;
  for (const auto* rs : {&plain, &annealed, &free_bits})
    for (const CollapseRun& r : *rs) worst_sum = std::max(worst_sum, std::abs(r.kl - r.model_kl) / r.model_kl);
  t.check(claim("inactive-unit-is-the-prior"), "Σ_j KL_j = the model's test KL, in every run", worst_sum < 1e-4,
          fmt::format("largest relative difference {:.1e} over {} runs", worst_sum, 3 * kSeeds));
  for (const auto* rs : {&plain, &annealed})
    for (const CollapseRun& r : *rs) worst_inactive = std::max(worst_inactive, r.inactive_kl / r.kl);
  t.check(claim("inactive-unit-is-the-prior"), "inactive units (A_j ≤ 1e-2) hold next to none of the KL",
          worst_inactive < 0.02,
          fmt::format("at most {:.2f}% of a run's KL, over the {} runs without free bits", 100 * worst_inactive,
                      2 * kSeeds));
  const std::vector<double> pa = column(plain, active), aa = column(annealed, active), fa = column(free_bits, active);
  bool more_each_seed = true;
  for (int s = 0; s < kSeeds; ++s) more_each_seed = more_each_seed && fa[s] > pa[s] && fc[s] < pc[s];
  t.check(claim("free-bits-against-collapse"), "free bits keeps more units active, in every seed", more_each_seed,
          fmt::format("active units of 32: free bits {}, plain {}; collapsed: free bits {}", spread(fa), spread(pa),
                      spread(fc)));
  bool annealing_more = true;
  for (int s = 0; s < kSeeds; ++s) annealing_more = annealing_more && aa[s] > pa[s];
  t.say("KL annealing, in this setting: active units {} against {} plain.", spread(aa), spread(pa));
  t.say(annealing_more
            ? "Annealing keeps a few more units active in every seed, far fewer than free bits: once the weight\n"
              "reaches β, units that are not worth eight times their KL collapse as before. Bowman et al. needed it\n"
              "for an LSTM decoder, which can model x without z at all; free bits changes the objective itself."
            : "Annealing does not keep more units active in every seed here: once the weight reaches β, units that\n"
              "are not worth eight times their KL collapse as before. Bowman et al. needed it for an LSTM decoder,\n"
              "which can model x without z at all; free bits changes the objective itself, so its effect lasts.");
  const auto pn = tz::tutorial::stats(column(plain, nelbo)), an = tz::tutorial::stats(column(annealed, nelbo)),
             fn = tz::tutorial::stats(column(free_bits, nelbo));
  t.say("Active units are not the bound: −ELBO {:.2f} (sd {:.2f}) plain, {:.2f} (sd {:.2f}) annealed, {:.2f}\n"
        "(sd {:.2f}) free bits. All three minimise something other than rec + KL; free bits pays up to λ nats of\n"
        "KL in each of 32 units, whether rec gains from them or not.",
        pn.mean, pn.sd, an.mean, an.sd, fn.mean, fn.sd);
}

// The first logged step at which a training curve is at or below a target (0 when it never is).
double steps_to_reach(const Trained& r, double target) {
  for (std::size_t i = 0; i < r.curve.size(); ++i)
    if (r.curve[i] <= target) return r.curve_iter[i];
  return 0;
}

// Step 5: Adam with lr 1e-3 against 1e-4 on the same VAE (step 2's β = 1 run is the 1e-3 one).
void step_adam_learning_rate(tz::tutorial::Tutorial& t, const zm::ModelInfo& info, const zm::TrainOptions& opt,
                             Trained& fast, const Array<float>& x_test) {
  t.step(5, "Adam's learning rate: 1e-3 against 1e-4 on the same VAE (z = 10, β = 1, the same seed)");
  zm::TrainOptions o = opt;
  o.lr = 1e-4;
  Trained slow = train(info, {{"z", "10"}, {"iwae", "1"}}, o, x_test);
  const double target = slow.curve.back();
  const double fast_steps = steps_to_reach(fast, target);
  t.say("A common presentation of this road gives Adam's learning rate as a range, 1e-4 to 1e-3, as if any value\n"
        "in it would do. In steps: lr 1e-4 ends its {} steps at a training −ELBO of {:.2f} (the last {} steps);\n"
        "lr 1e-3 is there after {:.0f} steps, {:.0f} times sooner. Adam's step is about lr per parameter, whatever\n"
        "the gradient's scale, so ten times the lr covers the same distance in a tenth of the steps while it is far\n"
        "from a minimum.",
        opt.iters, target, opt.log_every, fast_steps, static_cast<double>(opt.iters) / fast_steps);
  t.check(claim("adam-learning-rate"), "lr 1e-3 reaches lr 1e-4's final training −ELBO in fewer steps",
          fast_steps > 0 && fast_steps < static_cast<double>(opt.iters),
          fmt::format("{:.0f} of {} steps, to −ELBO {:.2f}", fast_steps, opt.iters, target));
  const double nf = fast.metrics.at("test_nelbo"), ns = slow.metrics.at("test_nelbo");
  t.check(claim("adam-learning-rate"), "and ends with the lower test −ELBO", nf < ns,
          fmt::format("{:.2f} (lr 1e-3) < {:.2f} (lr 1e-4)", nf, ns));
}

}  // namespace

int main(int argc, char** argv) {
  tz::tutorial::Tutorial t("06_beta_vae", "β-VAE: rec against KL, latent traversals, posterior collapse, Adam's lr");
  std::string data_spec;
  if (auto rc = tz::tutorial::parse_with_data(t, data_spec, argc, argv)) return *rc;
  Rng rng(t.seed());
  const zm::ModelInfo& info = zm::find_model("vae");
  const long test_rows = t.pick(1000L, 300L);

  Array<float> x_test;
  const zm::Dataset data = step_data(t, info, data_spec, rng, test_rows, x_test);             // 1 data
  // after step 1, which settles data_spec: the training runs load the data step 1 loaded
  zm::TrainOptions opt = tz::tutorial::train_options(t, data_spec, t.pick(3000L, 250L), test_rows);
  opt.log_every = opt.iters / 40;  // 40 points per training curve, for step 5's steps to a target
  std::map<double, Trained> runs = step_beta_trades_rec_for_kl(t, info, opt, x_test);     // 2 β = 0.5, 1, 4
  step_latent_traversals(t, runs, x_test);                                                   // 3 traversals
  step_collapse_and_remedies(t, info, opt, data, x_test);                                    // 4 collapse
  step_adam_learning_rate(t, info, opt, runs[1.0], x_test);                                  // 5 Adam's lr
  return t.finish();
}
