// tutorial: importance-weighted bounds: log p(x) ≥ L_k ≥ L_1, and log p(x) − ELBO = KL(q ‖ p(z|x)) on a grid
//
// Model: the VAE of 04_vae with a 2-D latent space (models/vae.hpp), so that p(x) = ∫ p(x|z) p(z) dz
// can be computed by numerical integration and every bound compared with the truth.
// Bounds (Burda, Grosse & Salakhutdinov 2016, "Importance Weighted Autoencoders", eq. 8 and Thm. 1):
//   L_k(x) = E[log (1/k) Σ_i w_i],  w_i = p(x, z_i)/q(z_i|x),  z_1..z_k ~ q(z|x)
//   log p(x) ≥ L_{k+1}(x) ≥ L_k(x) ≥ L_1(x) = ELBO(x),   L_k → log p(x) as k → ∞
// The gap of the ELBO (Kingma & Welling 2014, eq. 1–2):
//   log p(x) − ELBO(x) = KL(q(z|x) ‖ p(z|x)),   p(z|x) = p(x|z) p(z) / p(x)
//
// Steps: 1 data, 2 training with z = 2, 3 the hierarchy of bounds for k = 1, 10, 100, 1000, 4 log p(x)
// on a grid (checked for convergence), 5 the gap identity on the same grid, 6 L_k approaching log p(x).
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "autograd/blas.hpp"
#include "autograd/random.hpp"
#include "distributions/distributions.hpp"
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


// A running log Σ e^{a_i}: the maximum so far and the sum of e^{a_i − max}.
struct LogSumExp {
  double max = -std::numeric_limits<double>::infinity(), sum = 0;
  void add(double a) {
    if (a <= max) {
      sum += std::exp(a - max);
    } else {
      sum = sum * std::exp(max - a) + 1;
      max = a;
    }
  }
  double value() const { return max + std::log(sum); }
};

// What the grid gives for one image x, with q(z|x) = N(m, diag v):
struct GridResult {
  double log_px = 0;         // log p(x) = log Σ_g h² p(x|z_g) p(z_g)
  double log_px_coarse = 0;  // the same on every other point (step 2h): the grid's convergence
  double edge_mass = 0;      // the share of Σ_g p(x, z_g) on the grid's outer ring
  double q_mass = 0;         // Σ_g h² q(z_g|x): 1 if the grid resolves q
  double e_log_px_z = 0;     // E_q[log p(x|z)] = Σ_g h² q(z_g|x) log p(x|z_g)
  double kl_posterior = 0;   // KL(q(z|x) ‖ p(z|x)) = Σ_g h² q(z_g|x) [log q(z_g|x) − log p(z_g|x)]
};

// Integrates over the grid z = (−R + (a + ½)h, −R + (b + ½)h), a, b = 0..G−1, G = 2R/h. The decoder
// does not depend on x, so each grid point is decoded once for all images: log p(x_i|z_g) =
// x_i·l_g − Σ_j softplus(l_gj), one matrix product per chunk of grid points.
std::vector<GridResult> integrate_on_grid(zm::VAE<float>& vae, const Array<float>& x, const Array<float>& m,
                                          const Array<float>& v, double R, double h) {
  const std::size_t n = x.shape()[0], d = x.shape()[1];
  const std::size_t G = static_cast<std::size_t>(std::llround(2 * R / h)), total = G * G, chunk = 4096;  // 2R/h whole
  const double log_h2 = 2 * std::log(h), log_4h2 = std::log(4 * h * h);
  std::vector<LogSumExp> fine(n), coarse(n), edge(n);
  // Accumulators of Σ_g h² q(z_g) f(z_g) for f = 1, log p(x|z), log q − log p(x|z) − log p(z)
  std::vector<double> q_mass(n, 0.0), e_log_px_z(n, 0.0), a_part(n, 0.0);
  Tape<float> tape;
  tz::NoGrad<float> no_grad(tape);
  Array<float> z = Array<float>::from_shape({chunk, 2});
  std::vector<float> xl(n * chunk);
  for (std::size_t g0 = 0; g0 < total; g0 += chunk) {
    const std::size_t c = std::min(chunk, total - g0);
    if (c != z.shape()[0]) z.resize({c, 2});
    for (std::size_t g = 0; g < c; ++g) {
      z(g, 0) = static_cast<float>(-R + (static_cast<double>((g0 + g) / G) + 0.5) * h);
      z(g, 1) = static_cast<float>(-R + (static_cast<double>((g0 + g) % G) + 0.5) * h);
    }
    tape.clear();
    Var<float> logits = vae.decode(tape, tape.constant(z));
    // −Σ_j softplus(l_gj) = log p(x = 0|z_g): log_bernoulli with x = 0
    const Array<float>& neg_softplus = tz::log_bernoulli(tape.constant(Array<float>(xt::zeros<float>({c, d}))), logits).value();
    // x_i·l_g for every image and grid point: [n, c] = X [n, d] @ Lᵀ
    tz::blas::gemm(false, true, n, c, d, 1.0f, x.data(), d, logits.value().data(), d, 0.0f, xl.data(), c);
    for (std::size_t g = 0; g < c; ++g) {
      const std::size_t a = (g0 + g) / G, b = (g0 + g) % G;
      const double z0 = -R + (static_cast<double>(a) + 0.5) * h, z1 = -R + (static_cast<double>(b) + 0.5) * h;
      const double log_pz = -0.5 * (z0 * z0 + z1 * z1) - kLog2Pi;  // log N(z; 0, I), 2-D
      const bool is_coarse = a % 2 == 0 && b % 2 == 0, is_edge = a == 0 || b == 0 || a + 1 == G || b + 1 == G;
      for (std::size_t i = 0; i < n; ++i) {
        const double log_px_z = static_cast<double>(xl[i * c + g]) + static_cast<double>(neg_softplus(g));
        const double log_joint = log_px_z + log_pz;
        fine[i].add(log_joint + log_h2);
        if (is_coarse) coarse[i].add(log_joint + log_4h2);
        if (is_edge) edge[i].add(log_joint + log_h2);
        // log q(z_g|x_i) = −log 2π − ½ Σ_k [log v_k + (z_k − m_k)² / v_k]
        const double m0 = m(i, 0), m1 = m(i, 1), v0 = v(i, 0), v1 = v(i, 1);  // in double from here on
        const double d0 = z0 - m0, d1 = z1 - m1;
        const double log_q = -kLog2Pi - 0.5 * (std::log(v0) + std::log(v1) + d0 * d0 / v0 + d1 * d1 / v1);
        const double w = h * h * std::exp(log_q);
        q_mass[i] += w;
        e_log_px_z[i] += w * log_px_z;
        a_part[i] += w * (log_q - log_joint);
      }
    }
  }
  std::vector<GridResult> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    out[i].log_px = fine[i].value();
    out[i].log_px_coarse = coarse[i].value();
    out[i].edge_mass = std::exp(edge[i].value() - out[i].log_px);
    out[i].q_mass = q_mass[i];
    out[i].e_log_px_z = e_log_px_z[i];
    // log p(z|x) = log p(x, z) − log p(x), so KL = Σ h² q [log q − log p(x, z)] + log p(x) Σ h² q
    out[i].kl_posterior = a_part[i] + out[i].log_px * q_mass[i];
  }
  return out;
}

// The mean of a list of numbers, and its standard error (tutorials/vae_steps.hpp).
using tz::tutorial::mean_of;
using tz::tutorial::stats;

// The samples per image of step 3, and the k of its bounds L_k: each L_k is estimated from the same
// kSamples weights, split into blocks of k.
constexpr std::size_t kSamples = 1000;
const std::vector<long> kBoundSizes = {1, 10, 100, 1000};

// Step 1: the data set, and the first n test images, which every later step scores.
zm::Dataset step_data(tz::tutorial::Tutorial& t, const zm::ModelInfo& info, std::string& data_spec, Rng& rng,
                      std::size_t n) {
  const zm::Dataset data = tz::tutorial::load_tutorial_data(t, info, data_spec, rng);
  const zm::Dataset eval = zm::first_test_rows(data, static_cast<long>(n));
  t.step(1, "Data: {}, {} training images; the first {} test images, binarized once", data.name,
         data.train_x.shape()[0], n);
  return eval;
}

// Step 2: a VAE with a 2-D latent space, so that p(x) can be integrated on a grid. Returns the model.
std::unique_ptr<zm::Model<float>> step_train_a_vae_with_2d_latent(tz::tutorial::Tutorial& t,
                                                                  const zm::ModelInfo& info,
                                                                  const zm::Config& config,
                                                                  const zm::TrainOptions& opt) {
  const long iters = opt.iters;
  t.step(2, "A VAE with a 2-D latent space: {} Adam steps of 100 images (lr 1e-3)", iters);
  t.say("With z in two dimensions, p(x) = ∫ p(x|z) p(z) dz is an integral over the plane, which a grid can\n"
        "compute: every bound below can be compared with the number it bounds.");
  std::unique_ptr<zm::Model<float>> model;
  const zm::TrainResult run = zm::train(info, config, opt, &model);
  t.say("{:.1f} ms per step; test −ELBO {:.2f} nats", run.ms_per_iter, run.metrics.front().second);
  return model;
}

// q(z|x) = N(m, diag v) of every test image: the encoder's output, one row per image.
struct Posterior {
  Array<float> m, v;
};

Posterior posterior_of(zm::VAE<float>& vae, const Array<float>& x) {
  Tape<float> tape;
  tz::NoGrad<float> no_grad(tape);
  tz::Gaussian<float> q = vae.encode(tape, tape.constant(x));
  return {q.m.value(), q.v.value()};
}

// Step 3: L_1 ≤ L_10 ≤ L_100 ≤ L_1000 image by image, and L_1000 is the model's test_niwae_1000.
// Returns L[k][j], the estimate of L_k(x_j).
std::map<long, std::vector<double>> step_iwae_bounds_rise_with_k(tz::tutorial::Tutorial& t, zm::VAE<float>& vae,
                                                                 const Array<float>& x, Rng& rng) {
  const std::size_t n = x.shape()[0], K = kSamples;
  const std::vector<long>& ks = kBoundSizes;
  t.step(3, "The bounds L_k = E[log (1/k) Σ_i w_i] for k = 1, 10, 100, 1000, from {} samples of z per image", K);
  t.say("log w_i is around −100 nats or less: means of w are taken in log space (log_mean_exp), never as e^{{log w}}.\n"
        "Each L_k(x) is estimated from the same {} weights, split into {}/k blocks of k: the mean over blocks of\n"
        "log (1/k) Σ_{{i in block}} w_i. Merging blocks can only raise the estimate (Jensen once more), so the\n"
        "order holds image by image, and each estimate's expectation is L_k.", K, K);
  const Rng rng_before = rng;
  const std::vector<double> log_w = vae.log_importance_weights_eval(x, K, rng);  // sample i of image j at i·n + j
  std::map<long, std::vector<double>> L;  // L[k][j]: the estimate of L_k(x_j)
  for (long k : ks) {
    const std::size_t kk = static_cast<std::size_t>(k), blocks = K / kk;
    std::vector<double>& est = L[k];
    est.assign(n, 0.0);
    for (std::size_t j = 0; j < n; ++j)
      for (std::size_t b = 0; b < blocks; ++b)  // log (1/k) Σ_{i in block b} w_ij: column j, stride n
        est[j] += tz::log_mean_exp(log_w.data() + b * kk * n + j, kk, n) / static_cast<double>(blocks);
    t.say("L_{:<5} = {:.4f}", k, mean_of(est));
  }
  std::size_t ordered = 0;
  for (std::size_t j = 0; j < n; ++j)
    ordered += L[1][j] <= L[10][j] && L[10][j] <= L[100][j] && L[100][j] <= L[1000][j];
  t.check("L_1 ≤ L_10 ≤ L_100 ≤ L_1000", ordered == n,
          fmt::format("{:.3f} ≤ {:.3f} ≤ {:.3f} ≤ {:.3f} on average, and for {} of {} images", mean_of(L[1]),
                      mean_of(L[10]), mean_of(L[100]), mean_of(L[1000]), ordered, n));
  {
    Rng again = rng_before;  // the same ε: ./zoo's test_niwae_1000 is this number
    const std::vector<double> niwae = vae.negative_iwae_bound_eval(x, K, again);
    t.check_close("−L_1000 of the model's chunked evaluation (test_niwae_1000)", mean_of(niwae), -mean_of(L[1000]), 1e-12);
  }
  return L;
}

// What step 4's grid gives for each image, and log p(x) of each image on its own.
struct Grid {
  std::vector<GridResult> at;
  std::vector<double> log_px;
};

// Step 4: log p(x) on a converged grid, with all the mass on it, and above L_1000.
Grid step_log_px_on_a_grid(tz::tutorial::Tutorial& t, zm::VAE<float>& vae, const Array<float>& x, const Posterior& q,
                           const std::map<long, std::vector<double>>& L, double grid_step, double grid_radius) {
  const Array<float>& m = q.m;
  const Array<float>& v = q.v;
  const std::size_t n = x.shape()[0];
  const std::vector<double>& L_1000 = L.at(1000);
  double min_sd = 1e9;
  for (float a : v) min_sd = std::min(min_sd, std::sqrt(static_cast<double>(a)));
  // The step: at most 1/1.5 of the narrowest q's standard deviation (unless --grid-step says), with
  // 2R/h a whole number.
  const double R = grid_radius;
  const double h_max = grid_step > 0 ? grid_step : std::min(t.pick(0.025, 0.05), min_sd / 1.5);
  const std::size_t G = static_cast<std::size_t>(std::ceil(2 * R / h_max));
  const double h = 2 * R / static_cast<double>(G);
  t.step(4, "log p(x) = log Σ_g h² p(x|z_g) p(z_g) on a {}×{} grid over [−{}, {}]², h = {:.4f}", G, G, R, R, h);
  t.say("The decoder does not depend on x, so each of the {} grid points is decoded once for all {} images.\n"
        "The grid must resolve q(z|x) and p(z|x): the narrowest q here has standard deviation {:.3f} = {:.1f} h.",
        G * G, n, min_sd, min_sd / h);
  const std::vector<GridResult> grid = integrate_on_grid(vae, x, m, v, R, h);
  std::vector<double> log_px(n), conv(n), edge(n);
  for (std::size_t i = 0; i < n; ++i) {
    log_px[i] = grid[i].log_px;
    conv[i] = std::abs(grid[i].log_px - grid[i].log_px_coarse);
    edge[i] = grid[i].edge_mass;
  }
  const double worst_conv = *std::max_element(conv.begin(), conv.end());
  const double worst_edge = *std::max_element(edge.begin(), edge.end());
  t.say("The midpoint rule on a smooth, quickly decaying integrand converges like e^(−c/h²): halving the step\n"
        "squares the relative error, so the grid at step 2h bounds the error of the grid at step h from far above.");
  t.check("converged: every other point (step 2h) gives log p(x) to within 0.01 nats", worst_conv < 1e-2,
          fmt::format("max over images |log p_h(x) − log p_2h(x)| = {:.2e} nats", worst_conv));
  t.check("the grid holds the mass: p(x, z) on its outer ring is negligible", worst_edge < 1e-6,
          fmt::format("largest share on the edge: {:.1e}", worst_edge));
  t.say("log p(x) = {:.3f} (mean over images); image 0: {:.3f}", mean_of(log_px), log_px[0]);
  std::size_t below = 0;
  for (std::size_t i = 0; i < n; ++i) below += L_1000[i] <= log_px[i];
  t.check("log p(x) ≥ L_1000, on average", mean_of(log_px) >= mean_of(L_1000),
          fmt::format("{:.3f} ≥ {:.3f}; per image {} of {}", mean_of(log_px), mean_of(L_1000), below, n));
  return {grid, log_px};
}

// Step 5: log p(x) − ELBO(x) = KL(q(z|x) ‖ p(z|x)) on every image, both sides on the same grid.
// Returns ELBO(x) of each image.
std::vector<double> step_elbo_gap_is_the_posterior_kl(tz::tutorial::Tutorial& t, const Posterior& q,
                                                      const Grid& g) {
  const Array<float>& m = q.m;
  const Array<float>& v = q.v;
  const std::vector<GridResult>& grid = g.at;
  const std::vector<double>& log_px = g.log_px;
  const std::size_t n = log_px.size();
  t.step(5, "The gap: log p(x) − ELBO(x) = KL(q(z|x) ‖ p(z|x)), both sides on the same grid");
  t.say("ELBO(x) = E_q[log p(x|z)] − KL(q ‖ N(0, I)): the expectation by quadrature on the grid, the KL in\n"
        "closed form. KL(q ‖ p(z|x)) = Σ_g h² q(z_g|x) [log q(z_g|x) − log p(z_g|x)], with\n"
        "log p(z_g|x) = log p(x|z_g) + log p(z_g) − log p(x) from step 4.");
  double worst_q = 0, worst_gap = 0, mean_gap = 0, mean_kl = 0;
  std::vector<double> elbo(n);
  for (std::size_t i = 0; i < n; ++i) {
    // KL(q(z|x) ‖ N(0, I)) = ½ Σ_k (v_k + m_k² − 1 − log v_k)
    double kl_prior = 0;
    for (std::size_t k = 0; k < 2; ++k) {
      const double mk = m(i, k), vk = v(i, k);
      kl_prior += 0.5 * (vk + mk * mk - 1 - std::log(vk));
    }
    elbo[i] = grid[i].e_log_px_z - kl_prior;
    const double gap = log_px[i] - elbo[i];
    worst_q = std::max(worst_q, std::abs(grid[i].q_mass - 1));
    worst_gap = std::max(worst_gap, std::abs(gap - grid[i].kl_posterior) / std::max(1.0, gap));
    mean_gap += gap / static_cast<double>(n);
    mean_kl += grid[i].kl_posterior / static_cast<double>(n);
    if (i < 3)
      t.say("image {}: log p(x) − ELBO = {:.4f} − ({:.4f}) = {:.6f};  KL(q ‖ p(z|x)) = {:.6f}", i, log_px[i], elbo[i],
            gap, grid[i].kl_posterior);
  }
  t.check("the grid resolves q: Σ_g h² q(z_g|x) = 1", worst_q < 1e-6,
          fmt::format("max over images |Σ h² q − 1| = {:.1e}", worst_q));
  t.check("log p(x) − ELBO = KL(q(z|x) ‖ p(z|x)) for every image", worst_gap < 1e-8,
          fmt::format("mean gap {:.5f} vs mean KL {:.5f}; worst relative difference {:.1e}", mean_gap, mean_kl,
                      worst_gap));
  double min_kl = std::numeric_limits<double>::infinity();
  for (const GridResult& r : grid) min_kl = std::min(min_kl, r.kl_posterior);
  t.check("the gap is a KL: never negative", min_kl >= 0,
          fmt::format("smallest KL(q ‖ p(z|x)) over the images = {:.5f} nats", min_kl));
  return elbo;
}

// Step 6: the gap log p(x) − L_k shrinks as k grows, and L_1 estimates the grid's ELBO.
void step_iwae_bound_tightens_with_k(tz::tutorial::Tutorial& t, const std::map<long, std::vector<double>>& L,
                                     const std::vector<double>& log_px, const std::vector<double>& elbo) {
  const std::size_t n = log_px.size(), K = kSamples;
  const std::vector<long>& ks = kBoundSizes;
  t.step(6, "L_k approaches log p(x): the gap log p(x) − L_k shrinks with k");
  std::vector<double> gaps;
  for (long k : ks) {
    std::vector<double> g(n);
    for (std::size_t i = 0; i < n; ++i) g[i] = log_px[i] - L.at(k)[i];
    gaps.push_back(mean_of(g));
    t.say("k = {:<5} log p(x) − L_k = {:.4f} nats", k, gaps.back());
  }
  t.check("the gaps shrink", gaps[0] > gaps[1] && gaps[1] > gaps[2] && gaps[2] > gaps[3],
          fmt::format("{:.3f} > {:.3f} > {:.3f} > {:.4f}", gaps[0], gaps[1], gaps[2], gaps[3]));
  // L_1 is a one-sample ELBO: on average over images it estimates the grid's ELBO.
  std::vector<double> diff(n);
  for (std::size_t i = 0; i < n; ++i) diff[i] = L.at(1)[i] - elbo[i];
  const auto d = stats(diff);  // the mean difference and its standard error over the n images
  t.check(fmt::format("E[L_1] = ELBO: L_1, the mean of {} log w per image, agrees with the grid's ELBO", K),
          std::abs(d.mean) < 4 * d.se,
          fmt::format("mean (L_1 − ELBO_grid) = {:.4f} ± {:.4f}", d.mean, d.se));
}

}  // namespace

int main(int argc, char** argv) {
  tz::tutorial::Tutorial t("05_iwae", "importance-weighted bounds, and the ELBO's gap as a KL, checked on a grid");
  std::string data_spec;
  double grid_step = 0, grid_radius = 6.0;
  tz::tutorial::add_data_option(t, data_spec);
  t.add_option("--grid-step", grid_step,
               "step h of the integration grid (default: 0.025, --quick 0.05, or less to resolve the narrowest q)");
  t.add_option("--grid-radius", grid_radius, "the grid covers [−R, R]² (default 6: q(z|x) = N(0, 1) puts 2e-9 outside)");
  if (auto rc = t.parse(argc, argv)) return *rc;

  Rng rng(t.seed());
  const zm::ModelInfo& info = zm::find_model("vae");
  const std::size_t n = t.pick<std::size_t>(100, 20);  // test images
  const zm::Config config = zm::Config::from(info.flags, {{"z", "2"}, {"iwae", "1"}}, "vae");

  const zm::Dataset eval = step_data(t, info, data_spec, rng, n);                                  // 1 data
  // after step 1, which settles data_spec: the training run loads the data step 1 loaded
  const zm::TrainOptions opt = tz::tutorial::train_options(t, data_spec, t.pick(5000L, 500L), static_cast<long>(n));
  const auto model = step_train_a_vae_with_2d_latent(t, info, config, opt);                        // 2 training
  auto& vae = dynamic_cast<zm::VAE<float>&>(*model);
  const Array<float> x = zm::binarized_test_rows(eval);  // the test images, binarized once
  const Posterior q = posterior_of(vae, x);              // and their q(z|x), for steps 4 and 5
  const auto L = step_iwae_bounds_rise_with_k(t, vae, x, rng);                                     // 3 L_k
  const Grid grid = step_log_px_on_a_grid(t, vae, x, q, L, grid_step, grid_radius);                // 4 log p(x)
  const std::vector<double> elbo = step_elbo_gap_is_the_posterior_kl(t, q, grid);                 // 5 the gap
  step_iwae_bound_tightens_with_k(t, L, grid.log_px, elbo);                                        // 6 L_k → log p(x)
  return t.finish();
}
