// tapezoo diagnose: what a trained model's gradients and code look like (models/estimators.hpp).
//
//   tapezoo diagnose vae --checkpoint out/vae/checkpoint.npz --snr --k 1,10,100
//       the median gradient SNR |E[g]| / std(g) of the encoder's and of the decoder's parameters, for
//       each k and each estimator (--estimators standard,stl,dreg), over --repeats draws of ε for one
//       fixed batch: the first --batch binarized test images (Rainforth et al. 2018)
//   tapezoo diagnose vae --checkpoint … --active-units
//       active units Cov_x(E_q[z_j|x]) > 0.01 (Burda et al. 2016) and the KL of each unit to the prior's
//       marginal p(z_j) (N(0, 1), or a 1-D mixture for gmvae and vamp), on the first --eval binarized
//       test images; any model with a Gaussian encoder
//       (Model::gaussian_code in models/model.hpp)
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "app/commands.hpp"
#include "autograd/blas.hpp"
#include "io/flags.hpp"
#include "io/json.hpp"
#include "models/estimators.hpp"
#include "models/train.hpp"
#include "models/vae.hpp"

namespace {

using namespace tz;
using namespace tz::models;

struct DiagnoseOptions {
  std::string checkpoint, data, k = "1,10,100", estimators = "standard,stl,dreg";
  bool snr = false, active_units = false, json = false;
  std::size_t repeats = 100, batch = 20;
  long eval = 1000;
  std::uint64_t seed = 0;
  int threads = 1;
};

// The comma-separated values of a flag: "standard,stl" → {"standard", "stl"}.
std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::size_t b = 0;
  while (b <= s.size()) {
    const std::size_t e = std::min(s.find(',', b), s.size());
    out.push_back(s.substr(b, e - b));
    b = e + 1;
  }
  return out;
}

void diagnose_snr(const std::string& model, Model<float>& m, const Dataset& data, const DiagnoseOptions& o,
                  JsonLine& j) {
  auto* vae = dynamic_cast<VAE<float>*>(&m);
  if (!vae)
    throw std::invalid_argument(fmt::format("diagnose --snr: model '{}' has no IWAE estimators (only vae, iwae, "
                                            "beta_vae: models/vae.hpp)", model));
  std::vector<long> ks = Config({{"k", o.k}}).integers("k");
  std::vector<Estimator> es;
  for (const std::string& e : split_list(o.estimators)) es.push_back(parse_estimator(e));
  for (long k : ks)
    if (k < 1) throw std::invalid_argument(fmt::format("--k: every k must be at least 1, got {}", k));
  const Array<float> all = binarized_test_rows(data);
  if (all.shape()[0] < o.batch)
    throw std::invalid_argument(fmt::format("--batch {}: the test set has only {} images", o.batch, all.shape()[0]));
  const Array<float> x = rows_of(all, 0, o.batch);
  if (!o.json)
    std::printf("gradient SNR |E[g]| / std(g), median over each network's parameters: %zu test images, %zu draws of ε\n"
                "%6s  %-9s %12s %12s\n", o.batch, o.repeats, "k", "estimator", "encoder", "decoder");
  for (long k : ks)
    for (Estimator e : es) {
      Rng rng(o.seed + 7);  // the same ε for every estimator at one k
      const GradientSNR s = gradient_snr(*vae, x, static_cast<std::size_t>(k), e, o.repeats, rng);
      if (!o.json) std::printf("%6ld  %-9s %12.4g %12.4g\n", k, to_string(e), s.median_encoder, s.median_decoder);
      j.add(fmt::format("snr_encoder_{}_k{}", to_string(e), k), s.median_encoder);
      j.add(fmt::format("snr_decoder_{}_k{}", to_string(e), k), s.median_decoder);
    }
}

void diagnose_units(const std::string& model, Model<float>& m, const Dataset& data, const DiagnoseOptions& o,
                    JsonLine& j) {
  const Array<float> x = binarized_test_rows(first_test_rows(data, o.eval));
  GaussianCode code;
  try {
    code = m.gaussian_code(x);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(fmt::format("diagnose --active-units: model '{}': {}", model, e.what()));
  }
  const UnitReport u = unit_report(code);
  j.add("active_units", static_cast<double>(u.active)).add("unit_activity", u.activity).add("unit_kl", u.kl);
  if (o.json) return;
  double kl = 0;
  for (double a : u.kl) kl += a;
  if (u.mixture_prior)  // models/estimators.hpp: a mixture does not factorise, so Σ_j KL_j is not the bound's KL
    std::printf("active units (Cov_x E_q[z_j|x] > 0.01, %zu test images): %zu of %zu; KL_j to the mixture prior's "
                "marginal p(z_j), summed %.3f nats\n", x.shape()[0], u.active, u.kl.size(), kl);
  else
    std::printf("active units (Cov_x E_q[z_j|x] > 0.01, %zu test images): %zu of %zu; KL to N(0, I) %.3f nats\n",
                x.shape()[0], u.active, u.kl.size(), kl);
  std::printf("%6s %14s %12s\n", "unit", "Cov_x(E[z_j])", "KL_j");
  for (std::size_t i = 0; i < u.kl.size(); ++i)
    std::printf("%6zu %14.4g %12.4f%s\n", i, u.activity[i], u.kl[i], u.activity[i] > 1e-2 ? "   active" : "");
}

}  // namespace

int run_diagnose(int argc, char** argv) {
  if (argc < 3 || argv[2][0] == '-') {
    std::fprintf(stderr, "usage: tapezoo diagnose <model> --checkpoint FILE [--snr] [--active-units]   "
                         "(`tapezoo diagnose vae --help` lists the flags)\n");
    return 2;
  }
  const ModelInfo& info = find_model(argv[2]);
  DiagnoseOptions o;
  CLI::App cmd(fmt::format("tapezoo diagnose {}: gradient SNR of the estimators, active units", info.name),
               "tapezoo diagnose " + info.name);
  cmd.add_option("--checkpoint", o.checkpoint, "a checkpoint.npz written by train --out")->required();
  cmd.add_option("--data", o.data, "the data set whose test images are used (default: the model's)");
  cmd.add_flag("--snr", o.snr, "the gradient SNR of each estimator and k (vae, iwae, beta_vae)");
  cmd.add_option("--k", o.k, "importance samples k for --snr, e.g. 1,10,100")->capture_default_str();
  cmd.add_option("--estimators", o.estimators, "estimators for --snr: standard, stl, dreg")->capture_default_str();
  cmd.add_option("--repeats", o.repeats, "draws of ε per SNR (at least 2)")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{2}, std::size_t{1000000}));
  cmd.add_option("--batch", o.batch, "test images in the fixed batch of --snr")
      ->capture_default_str()
      ->check(flags::positive_integer());
  cmd.add_flag("--active-units", o.active_units, "active units and the KL of each unit (any Gaussian encoder)");
  cmd.add_option("--eval", o.eval, "test images for --active-units (0: all)")
      ->capture_default_str()
      ->check(flags::nonnegative_integer());
  cmd.add_option("--seed", o.seed, "seed of the draws of ε")->capture_default_str();
  cmd.add_option("--threads", o.threads, "OpenBLAS threads")->capture_default_str()->check(flags::positive_integer());
  cmd.add_flag("--json", o.json, "print one JSON object instead of the tables");
  try {
    cmd.parse(argc - 2, argv + 2);
  } catch (const CLI::ParseError& e) {
    return cmd.exit(e);
  }
  if (!o.snr && !o.active_units)
    throw std::invalid_argument("diagnose: nothing to do: give --snr, --active-units or both");
  Loaded loaded = load_checkpoint(o.checkpoint);
  if (loaded.info != &info)
    throw std::invalid_argument(fmt::format("--checkpoint {}: it holds a '{}' model, not '{}'", o.checkpoint,
                                            loaded.info->name, info.name));
  blas::set_threads(o.threads);
  Rng rng(o.seed + 1);
  const Dataset data = load_dataset(info, o.data.empty() ? info.default_data : o.data, rng);
  JsonLine j;
  j.add("model", info.name).add("checkpoint", o.checkpoint);
  if (o.snr) diagnose_snr(info.name, *loaded.model, data, o, j);
  if (o.active_units) diagnose_units(info.name, *loaded.model, data, o, j);
  if (o.json) std::printf("%s\n", j.str().c_str());
  return 0;
}
