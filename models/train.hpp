// tapezoo: the one training loop every registered model shares, and its checkpoints.
//
//   for t = 0 … iters−1:
//     batch ← next shuffled minibatch;  model.prepare_batch(batch)     (e.g. dynamic binarization)
//     tape.clear()
//     L ← model.loss(tape, batch);  tape.backward(L);  adam.step();  params.zero_grad()
//       (the fast path: adam.backward_step(tape, L) updates each parameter in the sweep, bit for bit the same)
//     every --save-every iterations: write DIR/checkpoint.npz
//   metrics ← model.evaluate(first --eval test rows)
//
// With --out DIR it writes DIR/checkpoint.npz (parameters by name, plus the model's name and
// flags, so `./zoo eval` and `./zoo sample` can rebuild it), DIR/metrics.csv, DIR/curves.png and
// the model's own pictures. With --json the last line of stdout is one JSON object.
//
// Long runs survive interruption. The checkpoint that train() writes (layout 2) also holds the
// training state: Adam's moments and step count, the iteration, the generator, the epoch's order
// and position, the logging window and the metrics rows so far (models/train_state.hpp).
//   --save-every N    writes it every N iterations as well (needs --out)
//   --resume DIR      continues from DIR/checkpoint.npz with the model flags and options stored
//                     there; flags given again must agree, except --threads, --step-threads, --save-every,
//                     --quiet, --json and, with the constant lr schedule, --iters (to train
//                     further or stop sooner: an lr schedule that decays is laid out for the
//                     run's --iters). metrics.csv is rewritten up to the checkpoint's iteration,
//                     then continues.
//   SIGINT, SIGTERM   (while a StopOnSignal is alive, as in `tapezoo train`) finish the current
//                     step, write the checkpoint and return with stopped_by set; the program then
//                     prints the command that resumes and exits with 128 + the signal (130, 143).
//                     A second signal ends the program at once; the checkpoint on disk is whole,
//                     since it is written to a temporary file and renamed into place.
// Resuming is exact: 100 iterations, then --resume to 200, give the same bits (parameters,
// metrics.csv except its wall-clock column, the final metrics) as 200 iterations in one go, at the
// same step_threads (stored in the checkpoint: `tapezoo train --resume` takes it from there unless
// --step-threads is given again; a program calling train() passes it in opt).
// Training further than a run's end keeps that run's last, partial metrics row.
//
// The definitions, by what they are about:
//   models/train.cpp         the loop: load_dataset, a Run's steps, logging and restore, train()
//   models/checkpoint.cpp    checkpoint files: save/load_checkpoint, load_parameters, resume_options
//   models/train_state.cpp   the training state inside a checkpoint (layout 2)
//   models/train_report.cpp  the run and the program around it: StopOnSignal, interrupted_message,
//                            result_json
#pragma once

#include <map>
#include <memory>
#include <set>
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
  int threads = 1;         // the evaluation's chunks on this many threads (autograd/parallel.hpp)
  // --step-threads: OpenBLAS threads for the steps' products. On free cores two make whole runs
  // 1.5-1.6x faster; on a busy machine they are slower, sometimes many times (docs/threads.md#training).
  // The same count gives the same bits; another count the same run up to float rounding, which
  // grows over a run.
  int step_threads = 1;
  long eval = 1000;        // test rows to evaluate on (0: all)
  long log_every = 100;
  std::string out;         // folder for checkpoint, metrics.csv, pictures
  long save_every = 0;     // write out/checkpoint.npz every this many iterations (0: at the end only)
  std::string resume;      // continue from resume/checkpoint.npz (see resume_options)
  bool json = false;
  bool quiet = false;
  // Every step's loss terms and every parameter's gradient must be finite, or train() throws
  // naming the value and the iteration (bench/soak). Costs one pass over the gradients per step.
  bool check_finite = false;
  // Keep subnormal numbers in the steps instead of flushing them to zero (docs/pitfalls.md#subnormals).
  bool keep_subnormals = false;
};

struct TrainResult {
  long iters = 0;        // iterations done (fewer than asked when a signal stopped the run)
  long first_iter = 0;   // where this call started: the checkpoint's iteration when resuming
  int stopped_by = 0;    // SIGINT or SIGTERM if one arrived (see StopOnSignal), else 0
  int step_threads = 1;  // OpenBLAS's thread count during the steps, as it reports it
  double train_s = 0;
  // ms per iteration: the median over chunks of 20 iterations (the mean if fewer were run), and
  // the plain mean train_s / iterations beside it
  double ms_per_iter = 0, ms_per_iter_mean = 0;
  Metrics final_train;  // the last logging window's mean of each loss term
  Metrics metrics;      // model.evaluate on the test rows
  std::vector<double> curve_iter;                      // iterations of the logged points
  std::vector<std::pair<std::string, std::vector<double>>> curves;  // loss terms per logged point
};

// Loads the data a model trains on: whatever the model's own loader accepts ("synthetic"), else a
// .npy or .csv matrix (tz::load_matrix_dataset), else "mnist", "fashion-mnist" or a folder of IDX
// files (tz::load_image_dataset). first_test_rows, for a shorter evaluation, is in
// datasets/dataset.hpp.
Dataset load_dataset(const ModelInfo& info, const std::string& spec, Rng& rng);

// Trains a fresh model, or continues the run in opt.resume; writes what --out and --json ask for;
// returns the numbers.
TrainResult train(const ModelInfo& info, const Config& config, const TrainOptions& opt,
                  std::unique_ptr<Model<float>>* trained = nullptr);

// Checkpoints: parameters as .npz arrays named as in the ParamSet, plus "__model__" and
// "__config__" (uint8 text). Written atomically. save_checkpoint writes these only (layout 1);
// train() adds the training state (layout 2, models/train_state.hpp), which loading ignores.
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

// ---- interruption and resuming ---------------------------------------------------------------------

// The checkpoint file in a run's folder: DIR/checkpoint.npz.
std::string checkpoint_path(const std::string& dir);

// For `train <model> --resume DIR`: the options and model flags stored in DIR/checkpoint.npz, except
// those typed again (`typed` holds their names without dashes, as "iters" or "z"), which come from
// opt and model_flags. train() then checks that these agree with the checkpoint. Errors (no
// checkpoint, another model, --out naming another folder) name the file and what was expected.
struct ResumePlan {
  Config config;
  TrainOptions opt;
};
ResumePlan resume_options(const ModelInfo& info, const TrainOptions& opt, const std::set<std::string>& typed,
                          const std::map<std::string, std::string>& model_flags);

// While one is alive, SIGINT and SIGTERM ask train() to stop after the current step (the handler
// only sets a flag, which the loop reads between steps). A second signal ends the process at once
// with status 128 + its number. One at a time; the destructor puts the previous handlers back.
class StopOnSignal {
 public:
  StopOnSignal();
  ~StopOnSignal();
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;
  static int requested();  // the signal that arrived, or 0

 private:
  struct Saved;
  std::unique_ptr<Saved> saved_;
};

// What `tapezoo train` prints when a signal stopped the run: "interrupted at iteration 137: resume
// with ./zoo train vae --resume out/vae", `program` being how the user runs tapezoo.
std::string interrupted_message(const std::string& program, const ModelInfo& info, const TrainOptions& opt,
                                const TrainResult& r);

// The JSON line for a run: model, data, iters, train_s, ms_per_iter, blas_core, train_*, metrics.
std::string result_json(const ModelInfo& info, const TrainOptions& opt, const TrainResult& r);

}  // namespace tz::models
