// tutorial: β-VAE: the reconstruction/KL trade-off for β = 0.5, 1, 4, latent traversals, and KL annealing against posterior collapse
//
// Objective (Higgins et al. 2017, "β-VAE", eq. 4; models/vae.hpp):
//   L_β(x) = E_q[−log p(x|z)] + β·KL(q(z|x) ‖ N(0, I)) = rec + β·KL
// β = 1 is the negative ELBO. A larger β prices every nat of information that z carries about x more
// dearly: the KL ("rate") falls and rec ("distortion") rises (Alemi et al. 2018, "Fixing a Broken
// ELBO", §3). Units whose q(z_j|x) equals the prior for every x carry nothing: Burda et al. (2016,
// §5.2) call unit j active when A_j = Cov_x(E_q[z_j|x]) > 10⁻².
// KL annealing (Bowman et al. 2016, §3.1): the KL weight rises from 0 to 1 over the first --anneal
// iterations, so the encoder learns to use z before the KL term pulls q(z|x) onto the prior; a unit
// that has collapsed early rarely comes back (posterior collapse).
//
// Steps: 1 data, 2 three values of β: rec against KL, 3 latent traversals as pictures, 4 KL annealing
// and the active units it keeps.
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
#include "tutorials/tutorial.hpp"
#include "tutorials/vae_steps.hpp"

using tz::Array;
using tz::Rng;
namespace zm = tz::models;

namespace {

struct Trained {
  std::unique_ptr<zm::Model<float>> model;
  std::map<std::string, double> metrics;
  std::vector<double> activity;  // A_j per unit, on the test images
  std::size_t active = 0;
  zm::VAE<float>& vae() { return dynamic_cast<zm::VAE<float>&>(*model); }
};

Trained train(const zm::ModelInfo& info, const std::map<std::string, std::string>& flags, const zm::TrainOptions& opt,
              const Array<float>& x_test) {
  Trained out;
  const zm::TrainResult r = zm::train(info, zm::Config::from(info.flags, flags, "vae"), opt, &out.model);
  out.metrics = tz::tutorial::as_map(r.metrics);
  const Array<float> means = out.vae().posterior_means(x_test);
  out.activity = zm::unit_activities(means);
  out.active = zm::active_units(means);
  return out;
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

// Step 1: the data set, and its first test_rows test images binarized once, which every step scores.
Array<float> step_data(tz::tutorial::Tutorial& t, const zm::ModelInfo& info, std::string& data_spec, Rng& rng,
                       long test_rows) {
  const zm::Dataset data = tz::tutorial::load_tutorial_data(t, info, data_spec, rng);
  const Array<float> x_test = zm::binarized_test_rows(zm::first_test_rows(data, test_rows));
  t.step(1, "Data: {}, {} training images; {} test images, binarized once", data.name, data.train_x.shape()[0],
         x_test.shape()[0]);
  return x_test;
}

// Step 2: a larger β buys a smaller KL and pays in reconstruction. Returns the three runs by β.
std::map<double, Trained> step_beta_trades_rec_for_kl(tz::tutorial::Tutorial& t, const zm::ModelInfo& info,
                                                      const zm::TrainOptions& opt, const Array<float>& x_test) {
  t.step(2, "β = 0.5, 1, 4: minimise rec + β·KL, {} Adam steps each, z = 10", opt.iters);
  std::map<double, Trained> runs;
  for (double beta : {0.5, 1.0, 4.0}) {
    runs[beta] = train(info, {{"z", "10"}, {"beta", fmt::format("{}", beta)}, {"iwae", "1"}}, opt, x_test);
    const auto& mt = runs[beta].metrics;
    t.say("β = {:<3}  rec {:7.2f}   KL {:6.2f}   −ELBO = rec + KL {:7.2f}   active units {:2} of 10", beta,
          mt.at("test_rec"), mt.at("test_kl"), mt.at("test_nelbo"), runs[beta].active);
  }
  auto rec = [&](double b) { return runs[b].metrics.at("test_rec"); };
  auto kl = [&](double b) { return runs[b].metrics.at("test_kl"); };
  t.check("a larger β buys a smaller KL", kl(0.5) > kl(1.0) && kl(1.0) > kl(4.0),
          fmt::format("KL {:.2f} > {:.2f} > {:.2f}", kl(0.5), kl(1.0), kl(4.0)));
  t.check("… and pays in reconstruction", rec(0.5) < rec(1.0) && rec(1.0) < rec(4.0),
          fmt::format("rec {:.2f} < {:.2f} < {:.2f}", rec(0.5), rec(1.0), rec(4.0)));
  t.say("Only β = 1 minimises a bound on −log p(x) itself; β = 4 trades so much reconstruction for its small KL\n"
        "that its −ELBO = rec + KL is the worst of the three.");
  auto nelbo = [&](double b) { return runs[b].metrics.at("test_nelbo"); };
  t.check("β = 4 has the loosest bound", nelbo(4.0) > std::max(nelbo(1.0), nelbo(0.5)),
          fmt::format("−ELBO {:.2f} (β = 4) > {:.2f} (β = 1), {:.2f} (β = 0.5)", nelbo(4.0), nelbo(1.0), nelbo(0.5)));
  t.check("β = 4 uses no more units than β = 0.5", runs[4.0].active <= runs[0.5].active,
          fmt::format("active units: {} (β = 4) ≤ {} (β = 0.5)", runs[4.0].active, runs[0.5].active));
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
    t.check(fmt::format("β = {}: {}", beta, file), row_change(0) > row_change(9),
            fmt::format("most active unit changes {:.3f} per pixel, least active {:.4f}", row_change(0), row_change(9)));
  }
}

// Step 4: KL annealing keeps more information in z; inactive units hold next to no KL either way.
void step_kl_annealing_against_collapse(tz::tutorial::Tutorial& t, const zm::ModelInfo& info,
                                        const zm::TrainOptions& opt, const Array<float>& x_test) {
  const long anneal = opt.iters / 2;
  t.step(4, "KL annealing against posterior collapse: z = 32, the KL weight from 0 to 1 over {} steps", anneal);
  t.say("Early in training the decoder is poor: information in z costs KL that rec cannot yet repay, and the KL\n"
        "term pushes q(z|x) onto the prior. Starting the KL weight at 0 lets the encoder put information into z\n"
        "first. The information z carries about x is bounded by the KL term (the rate, Alemi et al. 2018).");
  Trained plain = train(info, {{"z", "32"}, {"iwae", "1"}}, opt, x_test);
  Trained annealed = train(info, {{"z", "32"}, {"anneal", std::to_string(anneal)}, {"iwae", "1"}}, opt, x_test);
  // Per-unit KL, averaged over the test images: KL_j = E_x ½ (v_j + m_j² − 1 − log v_j)
  auto unit_kl = [&](Trained& r) {
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
  };
  for (auto* r : {&plain, &annealed}) {
    const std::vector<double> kl = unit_kl(*r);
    double active_kl = 0, inactive_kl = 0;
    for (std::size_t j = 0; j < kl.size(); ++j) (r->activity[j] > 1e-2 ? active_kl : inactive_kl) += kl[j];
    t.say("{}: {:2} active units of 32 carry {:.2f} of the {:.2f} nats of KL; rec {:.2f}, −ELBO {:.2f}",
          r == &plain ? "without annealing" : "with annealing   ", r->active, active_kl, active_kl + inactive_kl,
          r->metrics.at("test_rec"), r->metrics.at("test_nelbo"));
    t.check(r == &plain ? "without annealing: inactive units are collapsed onto the prior"
                        : "with annealing: inactive units are collapsed onto the prior",
            inactive_kl < 0.02 * (active_kl + inactive_kl),
            fmt::format("the {} units with Cov_x(E_q[z_j]) ≤ 1e-2 hold {:.3f} nats of KL in all", 32 - r->active,
                        inactive_kl));
  }
  t.say("Burda et al.'s count depends on the threshold; the information itself is the KL, and annealing keeps more:");
  t.check("annealing keeps more information in z", annealed.metrics.at("test_kl") > plain.metrics.at("test_kl"),
          fmt::format("KL {:.2f} nats with annealing > {:.2f} without (active units {} and {})",
                      annealed.metrics.at("test_kl"), plain.metrics.at("test_kl"), annealed.active, plain.active));
}

}  // namespace

int main(int argc, char** argv) {
  tz::tutorial::Tutorial t("06_beta_vae", "β-VAE: rec against KL, latent traversals, KL annealing against collapse");
  std::string data_spec;
  if (auto rc = tz::tutorial::parse_with_data(t, data_spec, argc, argv)) return *rc;
  Rng rng(t.seed());
  const zm::ModelInfo& info = zm::find_model("vae");
  const long test_rows = t.pick(1000L, 300L);

  const Array<float> x_test = step_data(t, info, data_spec, rng, test_rows);                 // 1 data
  // after step 1, which settles data_spec: the training runs load the data step 1 loaded
  const zm::TrainOptions opt = tz::tutorial::train_options(t, data_spec, t.pick(3000L, 400L), test_rows);
  std::map<double, Trained> runs = step_beta_trades_rec_for_kl(t, info, opt, x_test);     // 2 β = 0.5, 1, 4
  step_latent_traversals(t, runs, x_test);                                                   // 3 traversals
  step_kl_annealing_against_collapse(t, info, opt, x_test);                                  // 4 KL annealing
  return t.finish();
}
