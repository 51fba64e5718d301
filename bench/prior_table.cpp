// bench/prior_table: one row of the priors table of docs/vampprior.md (issue 15 §3): trains a model
// as `./zoo train MODEL --iters N --batch B --data D --eval E --iwae 1,1000` does (models/train.cpp),
// then prints one JSON line with its test metrics and its active units.
//
//   build/bench/prior_table vamp --iters 5000 --batch 100 --data mnist --eval 1000 --iwae 1,1000
//
//   train_nelbo, train_kl, train_rec   the last 100 training steps' means (dynamically binarised batches)
//   test_nelbo, test_kl, test_rec, test_niwae_<k>   model.evaluate on the first --eval test rows
//   active_units   the units j of z with Cov_x(E_q[z_j | x]) > 0.01 (Burda et al. 2016, §5.2), the
//                  covariance over the same (statically binarised) test rows the evaluation uses
//   ms_per_iter    train()'s own figure (on a shared machine: one run, not a benchmark)
// Models: vae, iwae, beta_vae, gmvae, vamp (any with encode(tape, x) → (m, v)); the model's flags
// beyond these (--z, --components, …) are passed as --flag value.
#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "datasets/dataset.hpp"
#include "models/gmvae.hpp"
#include "models/train.hpp"
#include "models/vae.hpp"
#include "models/vae_common.hpp"

namespace zm = tz::models;

namespace {

// Cov_x(m_j(x)) > 0.01 for the code means m [n, z]: the count of such j.
int active_units(const tz::Array<float>& m) {
  const std::size_t n = m.shape()[0], d = m.shape()[1];
  int active = 0;
  for (std::size_t j = 0; j < d; ++j) {
    double s = 0, s2 = 0;  // in double: docs/pitfalls.md#double-accumulators
    for (std::size_t i = 0; i < n; ++i) {
      s += m(i, j);
      s2 += double(m(i, j)) * m(i, j);
    }
    const double mean = s / double(n), var = s2 / double(n) - mean * mean;
    if (var > 0.01) ++active;
  }
  return active;
}

// E_q[z | x] = m(x) for the rows x of a model with a Gaussian encoder.
template <class M>
tz::Array<float> code_means(const M& model, const tz::Array<float>& x) {
  tz::Tape<float> tape;
  tz::NoGrad<float> no_grad(tape);
  return model.encode(tape, tape.constant(x)).m.value();
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 2) throw std::invalid_argument("usage: prior_table MODEL [--iters N] [--batch B] [--data D] [--eval E] [--seed S] [--out DIR] [--MODEL-FLAG V]");
    const zm::ModelInfo& info = zm::find_model(argv[1]);
    zm::TrainOptions opt;
    opt.data = "mnist";
    opt.quiet = true;
    std::map<std::string, std::string> flags = {{"iwae", "1,1000"}};
    for (int i = 2; i < argc; i += 2) {
      const std::string f = argv[i];
      if (f.rfind("--", 0) != 0 || i + 1 >= argc)
        throw std::invalid_argument(fmt::format("prior_table: '{}': expected --flag value", f));
      const std::string name = f.substr(2), v = argv[i + 1];
      if (name == "iters") opt.iters = std::stol(v);
      else if (name == "batch") opt.batch = std::stol(v);
      else if (name == "data") opt.data = v;
      else if (name == "eval") opt.eval = std::stol(v);
      else if (name == "seed") opt.seed = std::stoul(v);
      else if (name == "out") opt.out = v;
      else flags[name] = v;
    }
    const zm::Config config = zm::Config::from(info.flags, flags, info.name);
    std::unique_ptr<zm::Model<float>> model;
    const zm::TrainResult res = zm::train(info, config, opt, &model);

    tz::Rng rng(opt.seed);
    const zm::Dataset eval = tz::first_test_rows(zm::load_dataset(info, opt.data, rng), opt.eval);
    const tz::Array<float> x = zm::binarized_test_rows(eval);
    tz::Array<float> m;
    if (auto* g = dynamic_cast<zm::GMVAE<float>*>(model.get())) m = code_means(*g, x);
    else if (auto* v = dynamic_cast<zm::VAE<float>*>(model.get())) m = code_means(*v, x);
    else throw std::invalid_argument(fmt::format("prior_table: model {} has no Gaussian encoder", info.name));

    std::string out = fmt::format(R"({{"model": "{}", "iters": {}, "batch": {}, "data": "{}", "eval_rows": {}, "ms_per_iter": {:.2f})",
                                  info.name, res.iters, opt.batch, opt.data, x.shape()[0], res.ms_per_iter);
    for (const auto& [k, v] : res.final_train) out += fmt::format(R"(, "train_{}": {:.3f})", k, v);
    for (const auto& [k, v] : res.metrics) out += fmt::format(R"(, "{}": {:.3f})", k, v);
    out += fmt::format(R"(, "active_units": {}, "z": {}}})", active_units(m), m.shape()[1]);
    std::puts(out.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "prior_table: %s\n", e.what());
    return 1;
  }
}
