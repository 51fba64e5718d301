// tapezoo models: what a model is, and the one registry that lists them.
//
// A model is a set of parameters (nn::ParamSet) and a loss on a batch. Everything else — the
// training loop with Adam, progress bar, metrics.csv, checkpoints, `./zoo train|eval|sample`, and
// the conformance suite every model must pass — is shared and lives in models/train.hpp and
// models/conformance.hpp. Adding a model takes one file and one line in models/registry.cpp
// (docs/adding-a-model.md walks through models/template/ppca.cpp).
//
// Models are templates on the scalar type: float for training, double for gradient checks.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "autograd/ops.hpp"
#include "autograd/random.hpp"
#include "datasets/dataset.hpp"
#include "nn/nn.hpp"

namespace tz::models {

// ---- configuration: a model's flags ---------------------------------------------------------------

struct FlagSpec {
  std::string name;           // without dashes: "z" is --z
  std::string default_value;  // as typed on the command line
  std::string help;
};

// Flag values by name, with typed getters whose errors name the flag:
//   "--z: 'abc' is not an integer".
class Config {
 public:
  Config() = default;
  explicit Config(std::map<std::string, std::string> values) : values_(std::move(values)) {}
  // Defaults from specs, then overrides; an override that names no flag is an error that lists them.
  static Config from(const std::vector<FlagSpec>& specs, const std::map<std::string, std::string>& overrides,
                     const std::string& model);

  const std::string& str(const std::string& name) const;
  long integer(const std::string& name) const;
  double real(const std::string& name) const;
  bool flag(const std::string& name) const;  // true/false/1/0/yes/no
  std::vector<long> integers(const std::string& name) const;  // "1,10,100"
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  void set(const std::string& name, const std::string& value) { values_[name] = value; }
  const std::map<std::string, std::string>& values() const { return values_; }

  // "name=value\n" lines, sorted; std::invalid_argument for a name with '=' or a line break, or a
  // value with a line break, which would not parse back. Config::from refuses such values too.
  std::string serialize() const;
  static Config parse(const std::string& text, const std::string& source);

 private:
  std::map<std::string, std::string> values_;
};

// ---- data -----------------------------------------------------------------------------------------

// What a model trains on is the one tz::Dataset (datasets/dataset.hpp): rows of x, float [n, d],
// with optional integer labels (-1 = unlabelled); images are flattened, and rows/cols say how to
// show them (0 when x is not an image).
using tz::Dataset;
using tz::first_test_rows;
static_assert(std::is_same_v<decltype(Dataset::train_x), Array<float>>,
              "Dataset::train_x is the tape's Array<float>: models pass it on without a converting copy");

// A minibatch, already on the model's scalar type.
template <class T>
struct Batch {
  Array<T> x;              // [b, d]
  std::vector<int> y;      // labels, or -1 where unknown (empty if the dataset has none)
};

// ---- the model ------------------------------------------------------------------------------------

// The loss to minimise on a batch, and named terms for logs ("nelbo", "kl", "rec", …). Terms are
// plain numbers: batch means, read after the forward pass.
template <class T>
struct Loss {
  Var<T> value;
  std::vector<std::pair<std::string, double>> terms;
};

using Metrics = std::vector<std::pair<std::string, double>>;

// q(z|x) = N(m, diag v) of n rows of x: m and v [n, z] (./zoo diagnose --active-units), and the
// prior p(z) the KL is taken against: N(0, I) when prior_m is left default (0-D), else the mixture
// (1/K) Σ_k N(z; prior_m[k], diag prior_v[k]) with prior_m and prior_v [K, z] (GMVAE, VampPrior).
struct GaussianCode {
  Array<float> m, v;
  Array<float> prior_m, prior_v;
};

template <class T>
class Model {
 public:
  virtual ~Model() = default;
  nn::ParamSet<T>& params() { return params_; }
  const nn::ParamSet<T>& params() const { return params_; }

  // The training objective on a batch. Noise comes from rng (the conformance suite calls it
  // twice with equal seeds and expects equal results). The batch must stay alive and unchanged
  // until tape.backward has run: a model may read it in place (Tape::constant_view).
  virtual Loss<T> loss(Tape<T>& tape, const Batch<T>& batch, Rng& rng) = 0;

  // Called once before training with the training data: a semi-supervised model keeps its
  // labelled subset here and may hide the other labels (set them to -1).
  virtual void prepare_data(Dataset& /*data*/, Rng& /*rng*/) {}

  // Turns a batch of dataset rows into what the model trains on: dynamic binarization, say.
  virtual void prepare_batch(Batch<T>& /*batch*/, Rng& /*rng*/) {}

  // The training loop calls this before each step's loss with t = 0, 1, … (KL annealing); a run
  // resumed at iteration t calls it once with t − 1 first, as the last step before the checkpoint did.
  virtual void set_iteration(long /*t*/) {}

  // Metrics on the test set (no gradients), e.g. test_nelbo, test_niwae_100, test_accuracy.
  virtual Metrics evaluate(const Dataset& data, Rng& rng) = 0;

  // Pictures for --out (samples.png, reconstructions.png, …); optional.
  virtual void write_pictures(const std::string& /*dir*/, const Dataset& /*data*/, Rng& /*rng*/) {}
  // n samples from the model as rows (for `./zoo sample`); optional.
  virtual bool can_sample() const { return false; }
  virtual Array<float> sample(std::size_t /*n*/, Rng& /*rng*/) { return {}; }
  // The Gaussian encoder's q(z|x) = N(m, diag v) of every row of x, without gradients, for the
  // diagnostics of app/cmd_diagnose.cpp (active units, the KL of each unit); optional.
  virtual GaussianCode gaussian_code(const Array<float>& /*x*/) {
    throw std::invalid_argument("the model has no Gaussian encoder q(z|x) = N(m, diag v)");
  }

 protected:
  nn::ParamSet<T> params_;
};

// ---- the registry ---------------------------------------------------------------------------------

struct ModelInfo {
  std::string name;         // "vae", as in `./zoo train vae`
  std::string description;  // one line for `./zoo list`
  std::vector<FlagSpec> flags;
  // Flags for a tiny configuration: the conformance suite's gradcheck and short training run.
  std::map<std::string, std::string> tiny_flags;
  std::function<std::unique_ptr<Model<float>>(const Config&, Rng&)> make_float;
  std::function<std::unique_ptr<Model<double>>(const Config&, Rng&)> make_double;
  // A small dataset for the conformance suite (synthetic, or a slice of real data).
  std::function<Dataset(Rng&)> tiny_data;
  // --data when none is given ("fashion-mnist", "synthetic", …).
  std::string default_data = "fashion-mnist";
  // Optional: a loader for data specs of the model's own ("synthetic"); returns false for specs it
  // does not know, which then go to the shared loader (image datasets, .npy, .csv).
  std::function<bool(const std::string& spec, Rng& rng, Dataset& out)> load_data;
  // Learning rate of the conformance training check (200 steps must lower the loss).
  double conformance_lr = 1e-3;
  // Adam's learning rate for `./zoo train` when --lr is not given.
  double default_lr = 1e-3;
};

// All registered models, in the order of models/registry.cpp.
const std::vector<ModelInfo>& registry();
// The model called name; throws std::invalid_argument listing the registered names if none is.
const ModelInfo& find_model(const std::string& name);

}  // namespace tz::models
