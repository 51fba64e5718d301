// tapezoo tutorials 04-09: the steps every VAE tutorial takes the same way (see vae_steps.hpp).
#include "tutorials/vae_steps.hpp"

#include <cmath>
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

}  // namespace tz::tutorial
