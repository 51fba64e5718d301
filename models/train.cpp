// tapezoo: the shared training loop (models/train.hpp has its outline and its flags). Best read from
// the end: train() calls Run::step until --iters or a signal, then evaluates and writes. A Run holds
// the data, the model, Adam and the log; restore() puts back what a checkpoint saved.
#include "models/train.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include "autograd/blas.hpp"
#include "autograd/parallel.hpp"
#include "autograd/path.hpp"
#include "autograd/subnormals.hpp"
#include "datasets/batching.hpp"
#include "datasets/files.hpp"
#include "datasets/image_dataset.hpp"
#include "datasets/matrix.hpp"
#include "io/flags.hpp"
#include "io/metrics.hpp"
#include "io/npz.hpp"
#include "io/plot.hpp"
#include "io/progress.hpp"
#include "models/train_state.hpp"
#include "nn/optim.hpp"

namespace tz::models {

Dataset load_dataset(const ModelInfo& info, const std::string& spec, Rng& rng) {
  if (info.load_data) {
    Dataset d;
    if (info.load_data(spec, rng, d)) return d;
  }
  if (is_matrix_file(spec)) return load_matrix_dataset(spec);
  return load_image_dataset(spec);
}

// ---- one run: the data, the model, its optimiser and its log, step by step ---------------------------

namespace {

std::string join(const std::vector<std::string>& parts, const char* sep) {
  std::string s;
  for (std::size_t i = 0; i < parts.size(); ++i) s += (i ? sep : "") + parts[i];
  return s;
}

void check_options(const TrainOptions& opt) {
  if (opt.iters < 0) throw std::invalid_argument(fmt::format("--iters: expected >= 0, got {}", opt.iters));
  if (opt.batch < 1) throw std::invalid_argument(fmt::format("--batch: expected >= 1, got {}", opt.batch));
  if (!(opt.lr > 0)) throw std::invalid_argument(fmt::format("--lr: expected > 0, got {}", opt.lr));
  if (opt.log_every < 1) throw std::invalid_argument(fmt::format("--log-every: expected >= 1, got {}", opt.log_every));
  if (opt.save_every < 0) throw std::invalid_argument(fmt::format("--save-every: expected >= 0, got {}", opt.save_every));
  if (opt.step_threads < 1)
    throw std::invalid_argument(fmt::format("--step-threads: expected a positive integer, got {}", opt.step_threads));
  if (opt.save_every > 0 && opt.out.empty())
    throw std::invalid_argument(fmt::format("--save-every {} needs --out DIR, the folder its checkpoints go to",
                                            opt.save_every));
}

Dataset load_training_data(const ModelInfo& info, const TrainOptions& opt, Rng& rng) {
  Dataset data = load_dataset(info, opt.data.empty() ? info.default_data : opt.data, rng);
  if (data.train_x.dimension() != 2 || data.train_x.shape()[0] == 0)
    throw std::invalid_argument(fmt::format("--data {}: no training rows", data.name));
  return data;
}

std::unique_ptr<Model<float>> make_prepared(const ModelInfo& info, const Config& config, Dataset& data, Rng& rng) {
  std::unique_ptr<Model<float>> model = info.make_float(config, rng);
  model->prepare_data(data, rng);
  return model;
}

Batcher make_batcher(const Dataset& data, const TrainOptions& opt) {
  const std::size_t n = data.train_x.shape()[0];
  return Batcher(n, std::min<std::size_t>(static_cast<std::size_t>(opt.batch), n), /*drop_last=*/true);
}

// The soak's check (TrainOptions::check_finite): the loss terms of step t, and every gradient.
void require_finite(const std::string& model, const Loss<float>& loss, nn::ParamSet<float>& params, long t) {
  for (const auto& [name, v] : loss.terms)
    if (!std::isfinite(v))
      throw std::runtime_error(fmt::format("{}: the loss term {} is {} at iteration {}", model, name, v, t));
  for (const Param<float>* p : params.all()) {
    const float* g = p->grad.data();
    for (std::size_t i = 0; i < p->grad.size(); ++i)
      if (!std::isfinite(g[i]))
        throw std::runtime_error(fmt::format("{}: the gradient of {} has {} at element {} at iteration {}", model,
                                             p->name, g[i], i, t));
  }
}

// A run's evolving state, with the steps that change it. The constructor does what every run does
// first, from the seed alone (data, model, its labelled subset, the first shuffle); restore() then
// puts back what a checkpoint saved, and the run goes on exactly as if it had never stopped.
class Run {
 public:
  Run(const ModelInfo& info, const Config& config, const TrainOptions& opt)
      : info_(info), config_(config), opt_(opt), rng_(opt.seed), data_(load_training_data(info, opt, rng_)),
        model_(make_prepared(info, config, data_, rng_)),
        adam_(model_->params().all(), {.lr = opt.lr}),
        schedule_(nn::LrSchedule::parse(opt.lr_schedule, opt.lr, opt.iters)),
        batcher_(make_batcher(data_, opt)) {
    batcher_.shuffle(rng_);
    model_->params().zero_grad();
  }

  void restore(const std::string& path);
  double step();     // iteration t, then t ← t + 1; returns the loss
  void save() const;  // opt.out/checkpoint.npz, with the training state
  void start_clock() { clock_start_ = std::chrono::steady_clock::now(); }
  long iteration() const { return t_; }
  TrainResult& result() { return res_; }
  Model<float>& model() { return *model_; }
  std::unique_ptr<Model<float>> release() { return std::move(model_); }
  const Dataset& data() const { return data_; }

 private:
  void record(const Loss<float>& loss, double value);
  void start_log(const std::vector<std::string>& terms);
  void check_agrees(const std::string& path, const std::map<std::string, NdArray>& file) const;
  void restore_log(const TrainState& s);
  TrainState state() const;
  // metrics.csv's clock: training seconds over every session of this run.
  double seconds() const {
    return seconds_before_ + std::chrono::duration<double>(std::chrono::steady_clock::now() - clock_start_).count();
  }

  const ModelInfo& info_;
  const Config& config_;
  const TrainOptions& opt_;
  Rng rng_;
  Dataset data_;
  std::unique_ptr<Model<float>> model_;
  nn::Adam<float> adam_;
  nn::LrSchedule schedule_;  // laid out for --iters, which a resumed run keeps unless the schedule is constant
  Batcher batcher_;
  Batch<float> batch_;
  Tape<float> tape_;
  long t_ = 0;                      // steps done
  std::vector<std::string> terms_;  // "loss" and the model's terms, known after the first step
  std::vector<double> window_;      // running sums of each term over the logging window
  long window_n_ = 0;
  std::vector<double> log_seconds_;  // metrics.csv's seconds column
  std::unique_ptr<MetricsCsv> csv_;
  double seconds_before_ = 0;
  std::chrono::steady_clock::time_point clock_start_ = std::chrono::steady_clock::now();
  TrainResult res_;
};

double Run::step() {
  // Subnormal numbers flushed to zero for the step (docs/pitfalls.md#subnormals): a classifier
  // that grows confident gives weights q(y|x) below 2⁻¹²⁶, and products fed with them run many
  // times slower. --keep-subnormals keeps IEEE's gradual underflow.
  const FlushSubnormals flush(!opt_.keep_subnormals);
  auto idx = batcher_.next();
  if (idx.empty()) {
    batcher_.shuffle(rng_);
    idx = batcher_.next();
  }
  gather_rows(data_.train_x, idx, batch_.x);
  if (!data_.train_y.empty()) gather_labels(data_.train_y, idx, batch_.y);
  model_->prepare_batch(batch_, rng_);
  model_->set_iteration(t_);

  tape_.clear();  // the gradients are zero: from construction, then from the step, which zeroes them
  Loss<float> loss = model_->loss(tape_, batch_, rng_);
  const double value = loss.value.item();
  if (!std::isfinite(value))
    throw std::runtime_error(fmt::format("{}: the loss is {} at iteration {}; try a smaller --lr (now {})",
                                         info_.name, value, t_, opt_.lr));
  adam_.set_lr(schedule_.at(t_));
  if (textbook() || opt_.clip > 0 || opt_.check_finite) {
    tape_.backward(loss.value);
    if (opt_.check_finite) require_finite(info_.name, loss, model_->params(), t_);
    if (opt_.clip > 0) nn::clip_grad_norm(model_->params().all(), opt_.clip);  // needs every gradient first
    adam_.step();
    model_->params().zero_grad();
  } else {
    // Fast path: backward; step; zero_grad in one sweep, each parameter updated (and its gradient
    // zeroed) as soon as its gradient is complete; bit for bit the same (tests/test_fast_paths.cpp).
    adam_.backward_step(tape_, loss.value);
  }
  ++t_;
  record(loss, value);
  return value;
}

// The term names are known: the curves, and metrics.csv with the rows logged so far (none, unless
// resuming: then the file becomes what it was when the checkpoint was written).
void Run::start_log(const std::vector<std::string>& terms) {
  terms_ = terms;
  window_.assign(terms_.size(), 0.0);
  res_.curves.clear();
  for (const auto& name : terms_) res_.curves.push_back({name, {}});
  if (opt_.out.empty()) return;
  csv_ = std::make_unique<MetricsCsv>(opt_.out + "/metrics.csv", terms_);
}

void Run::record(const Loss<float>& loss, double value) {
  if (terms_.empty()) {
    std::vector<std::string> names{"loss"};
    for (const auto& [name, v] : loss.terms) names.push_back(name);
    start_log(names);
  }
  window_[0] += value;
  for (std::size_t k = 0; k < loss.terms.size() && k + 1 < window_.size(); ++k) window_[k + 1] += loss.terms[k].second;
  ++window_n_;
  if (t_ % opt_.log_every != 0 && t_ != opt_.iters) return;
  std::vector<double> means(window_.size());
  for (std::size_t k = 0; k < window_.size(); ++k) means[k] = window_[k] / static_cast<double>(window_n_);
  res_.curve_iter.push_back(static_cast<double>(t_));
  for (std::size_t k = 0; k < means.size(); ++k) res_.curves[k].second.push_back(means[k]);
  log_seconds_.push_back(seconds());
  if (csv_) csv_->write(static_cast<std::size_t>(t_), means, log_seconds_.back());
  res_.final_train.clear();
  for (std::size_t k = 0; k < means.size(); ++k) res_.final_train.emplace_back(terms_[k], means[k]);
  std::fill(window_.begin(), window_.end(), 0.0);
  window_n_ = 0;
}

TrainState Run::state() const {
  TrainState s;
  s.iteration = t_;
  s.rng = rng_.state();
  s.batch_order = batcher_.order();
  s.batch_position = batcher_.position();
  s.terms = terms_;
  s.window = window_;
  s.window_count = window_n_;
  s.log_iterations = res_.curve_iter;
  s.log_seconds = log_seconds_;
  for (std::size_t r = 0; r < res_.curve_iter.size(); ++r) {
    s.log_means.emplace_back();
    for (const auto& [name, ys] : res_.curves) s.log_means.back().push_back(ys[r]);
  }
  s.seconds = seconds();
  s.adam_steps = adam_.steps();
  s.adam_m = adam_.first_moments();
  s.adam_v = adam_.second_moments();
  return s;
}

void Run::save() const {
  NamedArrays arrays = checkpoint_arrays(info_, config_, *model_);
  append_train_state(arrays, state(), options_config(opt_, info_).serialize(), std::as_const(*model_).params().all());
  save_npz(checkpoint_path(opt_.out), arrays);
}

// The checkpoint must be of this model, of layout 2, and of a run with the same model flags and the
// same options wherever they decide the numbers.
void Run::check_agrees(const std::string& path, const std::map<std::string, NdArray>& file) const {
  check_checkpoint_model(path, file, info_, opt_.resume);
  std::vector<std::string> problems;
  auto compare = [&](const std::string& flag, const std::string& ours, const std::string& theirs) {
    if (ours != theirs)
      problems.push_back(fmt::format("--{} {} disagrees with the checkpoint's --{} {}", flag, ours, flag, theirs));
  };
  const Config stored = Config::parse(text_entry(path, file, "__config__"), path);
  for (const auto& [flag, value] : stored.values())
    compare(flag, config_.has(flag) ? config_.str(flag) : "(none)", value);
  for (const auto& [flag, value] : config_.values())
    if (!stored.has(flag)) compare(flag, value, "(none)");
  const Config stored_opt = Config::parse(text_entry(path, file, "__train__/options"), path);
  const Config our_opt = options_config(opt_, info_);
  for (const std::string& flag : options_that_must_agree())
    compare(flag, our_opt.str(flag), stored_opt.has(flag) ? stored_opt.str(flag) : "(none)");
  if (opt_.lr_schedule != "constant" && our_opt.str("iters") != stored_opt.str("iters"))
    problems.push_back(fmt::format("--iters {} disagrees with the checkpoint's --iters {}, for which its lr schedule "
                                   "({}) is laid out (only a constant one lets --iters change)",
                                   our_opt.str("iters"), stored_opt.str("iters"), opt_.lr_schedule));
  if (!problems.empty())
    throw std::invalid_argument(fmt::format("--resume {}: {} (flags given again must agree with {}; leave them out to "
                                            "take its values)", opt_.resume, join(problems, "; "), path));
}

void Run::restore(const std::string& path) {
  require_checkpoint_file(path, opt_.resume);
  const auto file = load_npz(path);
  check_agrees(path, file);
  load_parameters(path, file, model_->params());
  TrainState s = read_train_state(path, file, model_->params().all());
  if (opt_.iters < s.iteration)
    throw std::invalid_argument(fmt::format("--iters {}: the checkpoint {} is at iteration {} already", opt_.iters,
                                            path, s.iteration));
  try {
    batcher_.restore(std::move(s.batch_order), s.batch_position);
    adam_.restore(s.adam_steps, std::move(s.adam_m), std::move(s.adam_v));
  } catch (const std::invalid_argument& e) {
    throw FileError(fmt::format("checkpoint {}: {}", path, e.what()));
  }
  rng_.set_state(s.rng);
  t_ = s.iteration;
  if (t_ > 0) model_->set_iteration(t_ - 1);  // as the last step left it
  seconds_before_ = s.seconds;
  restore_log(s);
}

// The logging window, the curves, and metrics.csv as it was at the checkpoint (later rows, written
// before the run was stopped, are dropped).
void Run::restore_log(const TrainState& s) {
  if (s.terms.empty()) return;  // no step yet: the first one starts the log
  start_log(s.terms);
  window_ = s.window;
  window_n_ = s.window_count;
  for (std::size_t r = 0; r < s.log_iterations.size(); ++r) {
    res_.curve_iter.push_back(s.log_iterations[r]);
    for (std::size_t k = 0; k < terms_.size(); ++k) res_.curves[k].second.push_back(s.log_means[r][k]);
    log_seconds_.push_back(s.log_seconds[r]);
    if (csv_) csv_->write(static_cast<std::size_t>(s.log_iterations[r]), s.log_means[r], s.log_seconds[r]);
  }
  res_.final_train.clear();
  if (!s.log_means.empty())
    for (std::size_t k = 0; k < terms_.size(); ++k) res_.final_train.emplace_back(terms_[k], s.log_means.back()[k]);
}

// The iterations' clock for ms_per_iter: ms per iteration of every chunk of kChunk iterations, whose
// median a stall of a shared machine (another program, a checkpoint write) moves by one chunk at most.
class IterationClock {
 public:
  static constexpr long kChunk = 20;
  void tick() {
    if (++n_ < kChunk) return;
    const auto now = std::chrono::steady_clock::now();
    chunk_ms_.push_back(std::chrono::duration<double, std::milli>(now - start_).count() / static_cast<double>(n_));
    start_ = now;
    n_ = 0;
  }
  // The median over the whole chunks; `mean` (the plain mean) when the run had none.
  double median_ms(double mean) {
    if (chunk_ms_.empty()) return mean;
    const std::size_t h = chunk_ms_.size() / 2;
    std::nth_element(chunk_ms_.begin(), chunk_ms_.begin() + static_cast<std::ptrdiff_t>(h), chunk_ms_.end());
    const double upper = chunk_ms_[h];
    if (chunk_ms_.size() % 2 == 1) return upper;
    return 0.5 * (upper + *std::max_element(chunk_ms_.begin(), chunk_ms_.begin() + static_cast<std::ptrdiff_t>(h)));
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  long n_ = 0;
  std::vector<double> chunk_ms_;
};

// After the last step: the test metrics, and with --out the checkpoint, curves.png and pictures.
void evaluate_and_write(Run& run, const ModelInfo& info, const TrainOptions& opt) {
  TrainResult& res = run.result();
  Rng eval_rng(opt.seed + 1);
  const Dataset eval = first_test_rows(run.data(), opt.eval);
  res.metrics = run.model().evaluate(eval, eval_rng);
  if (opt.out.empty()) return;
  run.save();
  std::vector<Series> series;
  for (const auto& [name, ys] : res.curves) series.push_back({name, res.curve_iter, ys, std::nullopt});
  if (!res.curve_iter.empty())
    save_line_plot(opt.out + "/curves.png", series,
                   {.title = info.name + " training", .xlabel = "iteration", .ylabel = "batch mean"});
  Rng pic_rng(opt.seed + 2);
  run.model().write_pictures(opt.out, eval, pic_rng);
}

}  // namespace

// ---- the loop ---------------------------------------------------------------------------------------

TrainResult train(const ModelInfo& info, const Config& config, const TrainOptions& opt,
                  std::unique_ptr<Model<float>>* trained) {
  check_options(opt);
  // The evaluation's chunks on opt.threads threads (autograd/parallel.hpp). OpenBLAS at one thread
  // for all but the steps, so the evaluation gives tapezoo eval's bits for every --threads; the
  // caller's count is back when train() returns or throws.
  set_pool_threads(opt.threads);
  const blas::ScopedThreads one_blas_thread(1);
  if (!opt.out.empty()) flags::make_output_dir(opt.out, "--out");  // before minutes of training
  Run run(info, config, opt);
  if (!opt.resume.empty()) run.restore(checkpoint_path(opt.resume));
  TrainResult& res = run.result();
  res.first_iter = run.iteration();
  const std::string label = res.first_iter > 0 ? fmt::format("{} from {}", info.name, res.first_iter) : info.name;
  ProgressBar bar(static_cast<std::size_t>(opt.iters - res.first_iter), {.label = label, .quiet = opt.quiet});
  blas::set_threads(opt.step_threads);  // the steps' products (docs/threads.md#training)
  res.step_threads = blas::threads();
  run.start_clock();
  const auto t0 = std::chrono::steady_clock::now();
  IterationClock iteration_clock;
  // each step θ ← θ − lr · Adam(∇_θ L), L the model's loss on the batch (the VAE's: mean of −ELBO = rec + KL)
  while (run.iteration() < opt.iters && res.stopped_by == 0) {
    const double value = run.step();
    bar.update(static_cast<std::size_t>(run.iteration() - res.first_iter), value);
    const bool periodic = opt.save_every > 0 && run.iteration() % opt.save_every == 0;
    if (periodic) run.save();
    iteration_clock.tick();
    res.stopped_by = StopOnSignal::requested();  // between steps: a signal only sets this flag
    if (res.stopped_by != 0 && !periodic && !opt.out.empty()) run.save();
  }
  bar.finish();
  blas::set_threads(1);
  res.iters = run.iteration();
  res.train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const long done = res.iters - res.first_iter;
  res.ms_per_iter_mean = done > 0 ? 1000.0 * res.train_s / static_cast<double>(done) : 0;
  res.ms_per_iter = iteration_clock.median_ms(res.ms_per_iter_mean);
  if (res.stopped_by == 0) {
    evaluate_and_write(run, info, opt);
    res.stopped_by = StopOnSignal::requested();  // one during the evaluation: all is written, but the caller learns of it
  }
  if (trained) *trained = run.release();
  return res;
}

}  // namespace tz::models
