// tapezoo: the one training loop every registered model shares, and its checkpoints.
//
//   for t = 0 … iters−1:
//     batch ← next shuffled minibatch;  model.prepare_batch(batch)     (e.g. dynamic binarization)
//     tape.clear()
//     L ← model.loss(tape, batch);  tape.backward(L);  adam.step_and_zero_grad()
//       (fused: adam.backward_step(tape, L) updates each parameter in the sweep, bit for bit the same)
//   metrics ← model.evaluate(first --eval test rows)
//
// With --out DIR it writes DIR/checkpoint.npz (parameters by name, plus the model's name and
// flags, so `./zoo eval` and `./zoo sample` can rebuild it), DIR/metrics.csv, DIR/curves.png and
// the model's own pictures. With --json the last line of stdout is one JSON object.
#pragma once

#include <memory>
#include <string>

#include "models/model.hpp"

namespace tz::models {

struct TrainOptions {
  std::string data;        // empty: the model's default
  long iters = 1000;
  long batch = 100;
  double lr = 1e-3;
  std::string lr_schedule = "constant";
  double clip = 0;         // gradient-norm clipping (0: off)
  unsigned long seed = 0;
  int threads = 1;
  long eval = 1000;        // test rows to evaluate on (0: all)
  long log_every = 100;
  std::string out;         // folder for checkpoint, metrics.csv, pictures
  bool json = false;
  bool quiet = false;
  // Every step's loss terms and every parameter's gradient must be finite, or train() throws
  // naming the value and the iteration (bench/soak). Costs one pass over the gradients per step.
  bool check_finite = false;
};

struct TrainResult {
  long iters = 0;
  double train_s = 0, ms_per_iter = 0;
  Metrics final_train;  // the last logging window's mean of each loss term
  Metrics metrics;      // model.evaluate on the test rows
  std::vector<double> curve_iter;                      // iterations of the logged points
  std::vector<std::pair<std::string, std::vector<double>>> curves;  // loss terms per logged point
};

// Loads the data a model trains on: "mnist", "fashion-mnist", a folder of IDX files, a .npy or
// .csv matrix, or whatever the model's own loader accepts ("synthetic").
Dataset load_dataset(const ModelInfo& info, const std::string& spec, Rng& rng);

// Keeps the first n test rows (all if n <= 0 or n exceeds them).
Dataset first_test_rows(const Dataset& data, long n);

// Trains a fresh model; writes what --out and --json ask for; returns the numbers.
TrainResult train(const ModelInfo& info, const Config& config, const TrainOptions& opt,
                  std::unique_ptr<Model<float>>* trained = nullptr);

// Checkpoints: parameters as .npz arrays named as in the ParamSet, plus "__model__" and
// "__config__" (uint8 text). Written atomically.
void save_checkpoint(const std::string& path, const ModelInfo& info, const Config& config, const Model<float>& model);
struct Loaded {
  const ModelInfo* info = nullptr;
  Config config;
  std::unique_ptr<Model<float>> model;
};
// Rebuilds the model named in the file and loads its parameters; names and shapes are checked,
// and every difference is listed.
Loaded load_checkpoint(const std::string& path);
// Loads parameters into an existing model (same checks).
void load_parameters(const std::string& path, nn::ParamSet<float>& params);

// The JSON line for a run: model, data, iters, train_s, ms_per_iter, blas_core, train_*, metrics.
std::string result_json(const ModelInfo& info, const TrainOptions& opt, const TrainResult& r);

}  // namespace tz::models
