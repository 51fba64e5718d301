// tapezoo tutorials 04-09: the steps every VAE tutorial takes the same way (see vae_steps.hpp).
#include "tutorials/vae_steps.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <exception>

namespace tz::tutorial {

void add_data_option(Tutorial& t, std::string& data_spec) {
  t.add_option("--data", data_spec,
               "fashion-mnist or mnist (default: mnist when ./zoo data mnist has run, else fashion-mnist; --quick: "
               "fashion-mnist)");
}

std::optional<int> parse_with_data(Tutorial& t, std::string& data_spec, int argc, char** argv) {
  add_data_option(t, data_spec);
  return t.parse(argc, argv);
}

models::Dataset load_tutorial_data(Tutorial& t, const models::ModelInfo& info, std::string& data_spec, Rng& rng) {
  if (data_spec.empty()) {
    data_spec = "fashion-mnist";
    if (!t.quick()) try {
        models::load_dataset(info, "mnist", rng);
        data_spec = "mnist";
      } catch (const std::exception&) {
        t.note("data/mnist is not there (./zoo data mnist fetches it): using Fashion-MNIST");
      }
  }
  return models::load_dataset(info, data_spec, rng);
}

models::TrainOptions train_options(const Tutorial& t, const std::string& data_spec, long iters, long eval_rows) {
  models::TrainOptions opt;
  opt.data = data_spec;
  opt.iters = iters;
  opt.batch = 100;
  opt.seed = t.seed();
  opt.eval = eval_rows;
  opt.quiet = !t.interactive();
  opt.threads = t.threads();
  return opt;
}

std::map<std::string, double> as_map(const models::Metrics& m) { return {m.begin(), m.end()}; }

std::vector<double> curve_of(const models::TrainResult& run, const std::string& term) {
  std::vector<double> curve;
  for (const auto& [name, ys] : run.curves)
    if (name == term) curve = ys;
  return curve;
}

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double a : v) s += a;
  return s / static_cast<double>(v.size());
}

Stats stats(const std::vector<double>& v) {
  double s = 0, s2 = 0;
  for (double a : v) s += a;
  const double n = static_cast<double>(v.size()), mean = s / n;
  for (double a : v) s2 += (a - mean) * (a - mean);
  const double sd = std::sqrt(s2 / (n - 1));
  return {mean, sd, sd / std::sqrt(n)};
}

IwaeGap iwae_gap(const std::vector<double>& nelbo, const std::vector<double>& niwae) {
  std::vector<double> d(nelbo.size());
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = nelbo[i] - niwae[i];
  const Stats s = stats(d);
  return {s, s.mean > 4 * s.se,
          fmt::format("−ELBO − (−IWAE) = {:.3f} ± {:.3f} nats per image over n = {} > 4 × {:.3f}", s.mean, s.se, d.size(), s.se)};
}

Spread spread(const std::vector<double>& v) {
  const Stats st = stats(v);
  double m4 = 0;
  for (double a : v) m4 += std::pow(a - st.mean, 4);
  const double n = static_cast<double>(v.size()), var = st.sd * st.sd;
  m4 /= n;
  // Var(s²) ≈ (μ₄ − σ⁴) / n;  SE(s) = SE(s²) / 2s
  const double se_var = std::sqrt(std::max(m4 - var * var, 0.0) / n);
  return {var, se_var, st.sd, se_var / (2 * st.sd), m4};
}

GridDensity grid_normal(const GridDensity& grid, double mu, double sigma) {
  GridDensity q{grid.lo, grid.dx, std::vector<double>(grid.log_p.size())};
  // log N(x; μ, σ²) = −½ log 2πσ² − (x − μ)² / 2σ²
  const double c = -0.5 * std::log(2 * M_PI * sigma * sigma);
  for (std::size_t i = 0; i < q.log_p.size(); ++i) q.log_p[i] = c - 0.5 * std::pow((grid.x(i) - mu) / sigma, 2);
  return q;
}

double grid_kl(const GridDensity& a, const GridDensity& b) {
  // KL(a ‖ b) ≈ Σ_i a_i (log a_i − log b_i) dx
  double kl = 0;
  for (std::size_t i = 0; i < a.log_p.size(); ++i) kl += std::exp(a.log_p[i]) * (a.log_p[i] - b.log_p[i]);
  return kl * a.dx;
}

GaussianFit fit_gaussian_by_kl(const GridDensity& p, bool forward) {
  GaussianFit best{0, 1, std::numeric_limits<double>::infinity()};
  // KL(p ‖ q) for the forward fit (mass-covering), KL(q ‖ p) for the reverse one (mode-seeking)
  auto search = [&](double mu_lo, double mu_hi, double dmu, double s_lo, double s_hi, double ds) {
    for (double mu = mu_lo; mu <= mu_hi + 1e-12; mu += dmu)
      for (double s = std::max(s_lo, 0.05); s <= s_hi + 1e-12; s += ds) {
        const GridDensity q = grid_normal(p, mu, s);
        const double kl = forward ? grid_kl(p, q) : grid_kl(q, p);
        if (kl < best.kl) best = {mu, s, kl};
      }
  };
  search(-6, 6, 0.1, 0.25, 6, 0.05);
  const GaussianFit coarse = best;
  search(coarse.mu - 0.1, coarse.mu + 0.1, 0.01, coarse.sigma - 0.05, coarse.sigma + 0.05, 0.005);
  const GaussianFit middle = best;
  search(middle.mu - 0.01, middle.mu + 0.01, 0.001, middle.sigma - 0.005, middle.sigma + 0.005, 0.0005);
  return best;
}

}  // namespace tz::tutorial
