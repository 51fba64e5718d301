// tapezoo tutorials 04-09: the steps every VAE tutorial takes the same way.
//
//   std::string data_spec;
//   if (auto rc = tz::tutorial::parse_with_data(t, data_spec, argc, argv)) return *rc;  // --data and the rest
//   Rng rng(t.seed());
//   ...
//   const zm::Dataset data = tz::tutorial::load_tutorial_data(t, info, data_spec, rng);
//   const zm::TrainOptions opt = tz::tutorial::train_options(t, data_spec, iters, test_rows);
//   const zm::TrainResult run = zm::train(info, config, opt, &model);  // the loop of ./zoo train
//   tz::tutorial::as_map(run.metrics).at("test_nelbo");
//   tz::tutorial::curve_of(run, "nelbo");                              // the training curve of a term
//
// Only the plumbing lives here, and at the end the numerics of 04_vae's KL and Monte-Carlo steps (the
// spread of an estimator with its standard error, Gaussians fitted by KL on a grid); the models, the
// checks and the story stay in the tutorials themselves.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <xtensor/xview.hpp>

#include "autograd/random.hpp"
#include "autograd/tape.hpp"
#include "models/train.hpp"
#include "tutorials/tutorial.hpp"

namespace tz::tutorial {

// --data: "fashion-mnist" or "mnist". Left empty, load_tutorial_data() chooses.
void add_data_option(Tutorial& t, std::string& data_spec);

// The opening of a VAE tutorial without flags of its own: add_data_option, then t.parse(argc, argv).
// Returns t.parse()'s answer: an exit code when main() should return at once (--help, a bad flag).
[[nodiscard]] std::optional<int> parse_with_data(Tutorial& t, std::string& data_spec, int argc, char** argv);

// Step 1's data set: the one --data names or, without --data, MNIST when ./zoo data mnist has fetched
// it and Fashion-MNIST (which is always there) when not; --quick always takes Fashion-MNIST.
// data_spec is set to the choice, so that the training runs load the same data.
// A note says so when MNIST was wanted but is missing.
// Loading draws from rng (the model's loader may shuffle or split), in the order the steps rely on.
models::Dataset load_tutorial_data(Tutorial& t, const models::ModelInfo& info, std::string& data_spec, Rng& rng);

// The options of ./zoo train that every tutorial run shares: `iters` Adam steps on batches of 100
// images of data_spec, the tutorial's seed and --threads, progress lines only on a terminal,
// and the first eval_rows test images (0: all) scored at the end. Call it after load_tutorial_data(),
// which settles data_spec.
models::TrainOptions train_options(const Tutorial& t, const std::string& data_spec, long iters, long eval_rows);

// A run's metrics by name: as_map(run.metrics).at("test_nelbo").
std::map<std::string, double> as_map(const models::Metrics& m);

// The training curve of one loss term ("nelbo", "kl", "rec"): its mean over each logging window
// (opt.log_every steps, 100 by default), first to last; empty when the run logged no such term.
std::vector<double> curve_of(const models::TrainResult& run, const std::string& term);

// The mean of a list of numbers (the sum in double).
double mean_of(const std::vector<double>& v);

// Mean, standard deviation (divided by n − 1) and standard error sd/√n of a list of numbers (sums in double).
struct Stats {
  double mean, sd, se;
};
Stats stats(const std::vector<double>& v);

// f(tape, x, b, e) → the [e − b] values of rows b..e−1 of the binary images x_bin, `rows` rows at a
// time, without gradients, gathered into one list of n values (one per image).
template <class F>
std::vector<double> per_image(const Array<float>& x_bin, std::size_t rows, F&& f) {
  const std::size_t n = x_bin.shape()[0];
  std::vector<double> out(n);
  Tape<float> tape;
  NoGrad<float> no_grad(tape);
  for (std::size_t b = 0; b < n; b += rows) {
    const std::size_t e = std::min(n, b + rows);
    tape.clear();
    const Array<float> values = f(tape, tape.constant(Array<float>(xt::view(x_bin, xt::range(b, e), xt::all()))), b, e);
    for (std::size_t i = b; i < e; ++i) out[i] = values(i - b);
  }
  return out;
}

// IWAE_k is tighter than the ELBO, image by image: d_i = −ELBO(x_i) − (−L_k(x_i)), each bound with its
// own noise. E[d_i] = E[log (1/k) Σ_j w_j] − E[log w] ≥ 0 (Jensen), strictly unless the weights are
// constant; mean(d) is a mean over n images with standard error sd(d)/√n, and `tighter` asks for more
// than 4 of them. A bound that averaged log w instead of w would give E[d_i] = 0: then mean(d) > 4 SE
// happens once in 30 000 runs. `detail` prints mean, SE and n, for t.check(claim(…), label, tighter, detail).
struct IwaeGap {
  Stats d;
  bool tighter;
  std::string detail;
};
IwaeGap iwae_gap(const std::vector<double>& nelbo, const std::vector<double>& niwae);

// ---- 04_vae: the spread of an estimator, and Gaussians fitted by KL on a grid ------------------

// A list's variance s² (divided by n − 1) and standard deviation s, each with its standard error:
// Var(s²) ≈ (μ₄ − s⁴) / n for any distribution with a fourth central moment μ₄ (for a normal, 2s⁴/n),
// and SE(s) ≈ SE(s²) / (2s) by the delta method. Sums in double.
struct Spread {
  double var, se_var, sd, se_sd, m4;
};
Spread spread(const std::vector<double>& v);

// A density on the grid x_i = lo + i·dx, as log p(x_i).
struct GridDensity {
  double lo, dx;
  std::vector<double> log_p;
  double x(std::size_t i) const { return lo + static_cast<double>(i) * dx; }
};
// The grid's log N(x_i; μ, σ²) = −½ log 2πσ² − (x_i − μ)² / 2σ².
GridDensity grid_normal(const GridDensity& grid, double mu, double sigma);
// KL(a ‖ b) = ∫ a (log a − log b) dx ≈ Σ_i a(x_i) (log a(x_i) − log b(x_i)) dx (a and b on one grid).
double grid_kl(const GridDensity& a, const GridDensity& b);
// The Gaussian N(μ, σ²) closest to p by KL(p ‖ q) (forward) or KL(q ‖ p) (reverse): a search over
// μ ∈ [−6, 6] by 0.1 and σ ∈ [0.25, 6] by 0.05, refined twice to ten times finer steps around the
// best point (final steps 0.001 and 0.0005). Ties keep the first point found (the smallest μ).
struct GaussianFit {
  double mu, sigma, kl;
};
GaussianFit fit_gaussian_by_kl(const GridDensity& p, bool forward);

}  // namespace tz::tutorial
