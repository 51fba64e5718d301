// tapezoo: the VAE's flags and its registry entries vae, iwae and beta_vae (models/registry.cpp).
// The model is in models/vae.cpp.
#include "models/vae.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "datasets/strokes.hpp"

namespace tz::models {

// ---- flags and the registry entries --------------------------------------------------------------

Objective parse_objective(const std::string& name) {
  if (name == "elbo") return Objective::elbo;
  if (name == "iwae") return Objective::iwae;
  throw std::invalid_argument(fmt::format("--objective: '{}' is not one of elbo, iwae", name));
}

Estimator parse_estimator(const std::string& name) {
  if (name == "standard") return Estimator::standard;
  if (name == "stl") return Estimator::stl;
  if (name == "dreg") return Estimator::dreg;
  throw std::invalid_argument(fmt::format("--estimator: '{}' is not one of standard, stl, dreg", name));
}

const char* to_string(Estimator e) {
  return e == Estimator::stl ? "stl" : e == Estimator::dreg ? "dreg" : "standard";
}

AnnealShape parse_anneal_shape(const std::string& name) {
  if (name == "linear") return AnnealShape::linear;
  if (name == "cyclic") return AnnealShape::cyclic;
  throw std::invalid_argument(fmt::format("--anneal-shape: '{}' is not one of linear, cyclic", name));
}

VAEOptions vae_options(const Config& c) {
  VAEOptions o;
  o.z = count_flag(c, "z");
  o.hidden = count_flag(c, "hidden");
  o.beta = c.real("beta");
  if (!(o.beta >= 0)) throw std::invalid_argument(fmt::format("--beta: expected β ≥ 0, got {}", o.beta));
  o.anneal = c.integer("anneal");
  if (o.anneal < 0) throw std::invalid_argument(fmt::format("--anneal: expected ≥ 0 iterations, got {}", o.anneal));
  o.anneal_shape = parse_anneal_shape(c.str("anneal-shape"));
  o.objective = parse_objective(c.str("objective"));
  o.k = count_flag(c, "k");
  // checkpoints written before --estimator existed hold no value for it: they trained with standard
  o.estimator = c.has("estimator") ? parse_estimator(c.str("estimator")) : Estimator::standard;
  if (o.objective == Objective::elbo && o.estimator != Estimator::standard)
    throw std::invalid_argument(fmt::format(
        "--estimator {}: applies to --objective iwae only (the ELBO's KL is in closed form, with no sampled "
        "log q to detach; for STL at k = 1 use --objective iwae --k 1 --estimator stl)", to_string(o.estimator)));
  o.iwae = c.integers("iwae");
  for (long k : o.iwae)
    if (k < 1) throw std::invalid_argument(fmt::format("--iwae: every k must be at least 1, got {}", k));
  return o;
}


namespace {

template <class T>
std::unique_ptr<Model<T>> make_vae(const Config& c, Rng& rng) {
  return std::make_unique<VAE<T>>(vae_options(c), rng);
}

ModelInfo vae_info_with(std::string name, std::string description, std::map<std::string, std::string> defaults) {
  ModelInfo m;
  m.name = std::move(name);
  m.description = std::move(description);
  m.flags = {
      {"z", "10", "latent dimensions"},
      {"hidden", "300", "width of the two hidden layers of encoder and decoder"},
      {"beta", "1", "weight β of the KL term: rec + β·KL (β-VAE, Higgins et al. 2017)"},
      {"anneal", "0", "KL annealing: iterations over which the KL weight rises from 0 to β (0: off)"},
      {"anneal-shape", "linear", "annealing schedule: linear (once) or cyclic (every --anneal iterations)"},
      {"objective", "elbo", "training objective: elbo, or iwae (the importance-weighted bound with --k samples)"},
      {"k", "5", "importance samples of the IWAE objective (with --objective iwae)"},
      {"estimator", "standard", "gradient estimator of the IWAE objective: standard, stl (Roeder et al. 2017) or dreg "
                                "(Tucker et al. 2019); --objective iwae only"},
      {"iwae", "1,10,100", "k of the reported test bounds test_niwae_<k>, e.g. 1,10,100,1000"},
  };
  for (auto& f : m.flags)
    if (defaults.count(f.name)) f.default_value = defaults.at(f.name);
  m.tiny_flags = {{"z", "2"}, {"hidden", "16"}, {"iwae", "1,4"}};
  m.make_float = make_vae<float>;
  m.make_double = make_vae<double>;
  m.tiny_data = [](Rng& rng) { return stroke_dataset(StrokeKind::shapes, 256, 64, rng); };
  // --data strokes: 5,000 + 1,000 synthetic 28×28 strokes (seconds to learn; for tests and demos).
  m.load_data = [](const std::string& spec, Rng&, Dataset& out) {
    if (spec != "strokes") return false;
    Rng data_rng(2014);  // the data set is fixed: its own seed, not the run's
    out = stroke_dataset(StrokeKind::shapes, 5000, 1000, data_rng);
    return true;
  };
  m.default_data = "fashion-mnist";
  m.conformance_lr = 1e-3;
  return m;
}

}  // namespace

ModelInfo vae_info() {
  return vae_info_with("vae", "variational autoencoder (Kingma & Welling 2014): ELBO, β-VAE, KL annealing, IWAE", {});
}

ModelInfo iwae_info() {
  return vae_info_with("iwae", "importance-weighted autoencoder (Burda et al. 2016): the VAE trained on L_5",
                       {{"objective", "iwae"}, {"k", "5"}});
}

ModelInfo beta_vae_info() {
  return vae_info_with("beta_vae", "β-VAE (Higgins et al. 2017): the VAE with the KL weighted by β = 4", {{"beta", "4"}});
}

}  // namespace tz::models
