// tapezoo: the shared training loop, evaluation, checkpoints and run outputs.
#include "models/train.hpp"

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <utility>

#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>

#include "autograd/blas.hpp"
#include "autograd/path.hpp"
#include "datasets/batching.hpp"
#include "datasets/files.hpp"
#include "datasets/image_dataset.hpp"
#include "datasets/matrix.hpp"
#include "io/flags.hpp"
#include "io/json.hpp"
#include "io/metrics.hpp"
#include "io/npz.hpp"
#include "io/plot.hpp"
#include "io/progress.hpp"
#include "models/train_state.hpp"
#include "nn/optim.hpp"

namespace tz::models {

namespace {

bool has_suffix(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

Dataset from_images(const ImageDataset& d) {
  Dataset out;
  out.name = d.name;
  out.train_x = d.train_x;
  out.test_x = d.test_x;
  out.train_y = d.train_y;
  out.test_y = d.test_y;
  out.rows = d.rows;
  out.cols = d.cols;
  out.num_classes = d.num_classes;
  return out;
}

}  // namespace

Dataset load_dataset(const ModelInfo& info, const std::string& spec, Rng& rng) {
  if (info.load_data) {
    Dataset d;
    if (info.load_data(spec, rng, d)) return d;
  }
  if (has_suffix(spec, ".npy") || has_suffix(spec, ".csv")) {
    // A matrix of the user's: rows are examples. The last 10% (at least one row) are the test set.
    xt::xtensor<double, 2> m = load_matrix(spec);
    const std::size_t n = m.shape(0), d = m.shape(1);
    if (n < 2) throw FileError(fmt::format("{}: expected at least 2 rows, found {}", spec, n));
    const std::size_t n_test = std::max<std::size_t>(1, n / 10), n_train = n - n_test;
    Dataset out;
    out.name = spec;
    out.train_x = Array<float>::from_shape({n_train, d});
    out.test_x = Array<float>::from_shape({n_test, d});
    for (std::size_t i = 0; i < n * d; ++i)
      (i < n_train * d ? out.train_x.data()[i] : out.test_x.data()[i - n_train * d]) = static_cast<float>(m.data()[i]);
    return out;
  }
  return from_images(load_image_dataset(spec));
}

Dataset first_test_rows(const Dataset& data, long n) {
  Dataset out = data;
  const std::size_t rows = data.test_x.shape()[0];
  if (n <= 0 || static_cast<std::size_t>(n) >= rows) return out;
  const std::size_t d = data.test_x.shape()[1], k = static_cast<std::size_t>(n);
  out.test_x = Array<float>::from_shape({k, d});
  std::copy(data.test_x.data(), data.test_x.data() + k * d, out.test_x.data());
  if (!data.test_y.empty()) out.test_y.assign(data.test_y.begin(), data.test_y.begin() + static_cast<long>(k));
  return out;
}

// ---- checkpoints ------------------------------------------------------------------------------------

namespace {

NamedArrays checkpoint_arrays(const ModelInfo& info, const Config& config, const Model<float>& model) {
  NamedArrays arrays;
  arrays.emplace_back("__model__", text_array(info.name));
  arrays.emplace_back("__config__", text_array(config.serialize()));
  for (const Param<float>* p : model.params().all()) arrays.emplace_back(p->name, NdArray::from(p->value));
  return arrays;
}

}  // namespace

void save_checkpoint(const std::string& path, const ModelInfo& info, const Config& config, const Model<float>& model) {
  save_npz(path, checkpoint_arrays(info, config, model));
}

static void load_into(const std::string& path, const std::map<std::string, NdArray>& file, nn::ParamSet<float>& params) {
  std::vector<std::string> problems;
  for (const Param<float>* p : params.all()) {
    auto it = file.find(p->name);
    if (it == file.end()) {
      problems.push_back(fmt::format("missing '{}'", p->name));
      continue;
    }
    const auto& fs = it->second.shape;
    Shape want(p->value.shape().begin(), p->value.shape().end());
    if (fs != want)
      problems.push_back(fmt::format("'{}' has shape {} in the file but {} in the model", p->name, shape_str(fs),
                                     shape_str(want)));
  }
  for (const auto& [name, arr] : file)
    if (name.rfind("__", 0) != 0 && !params.contains(name)) problems.push_back(fmt::format("unexpected '{}'", name));
  if (!problems.empty()) {
    std::string msg = fmt::format("checkpoint {}: ", path);
    for (std::size_t i = 0; i < problems.size(); ++i) msg += (i ? "; " : "") + problems[i];
    throw FileError(msg);
  }
  for (Param<float>* p : params.all()) {
    p->value = file.at(p->name).to_float();
    p->value.reshape(Shape(file.at(p->name).shape));
    p->zero_grad();
  }
}

void load_parameters(const std::string& path, nn::ParamSet<float>& params) {
  load_into(path, load_npz(path), params);
}

Loaded load_checkpoint(const std::string& path) {
  const auto file = load_npz(path);
  Loaded out;
  out.info = &find_model(text_entry(path, file, "__model__"));
  out.config = Config::parse(text_entry(path, file, "__config__"), path);
  Rng rng(0);
  out.model = out.info->make_float(out.config, rng);
  load_into(path, file, out.model->params());
  return out;
}

std::string checkpoint_path(const std::string& dir) { return dir + "/checkpoint.npz"; }

// ---- one run ----------------------------------------------------------------------------------------

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
  const std::string model = text_entry(path, file, "__model__");
  if (model != info_.name)
    throw FileError(fmt::format("checkpoint {}: it holds a '{}' model, but '{}' was asked for (resume it with "
                                "`train {} --resume {}`)", path, model, info_.name, model, opt_.resume));
  check_train_layout(path, file);
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
  if (!path_exists(path))
    throw FileError(fmt::format("--resume {}: there is no checkpoint {} (a run writes it with --out {})", opt_.resume,
                                path, opt_.resume));
  const auto file = load_npz(path);
  check_agrees(path, file);
  load_into(path, file, model_->params());
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
  blas::set_threads(opt.threads);
  if (!opt.out.empty()) flags::make_output_dir(opt.out, "--out");  // before minutes of training
  Run run(info, config, opt);
  if (!opt.resume.empty()) run.restore(checkpoint_path(opt.resume));
  TrainResult& res = run.result();
  res.first_iter = run.iteration();
  const std::string label = res.first_iter > 0 ? fmt::format("{} from {}", info.name, res.first_iter) : info.name;
  ProgressBar bar(static_cast<std::size_t>(opt.iters - res.first_iter), {.label = label, .quiet = opt.quiet});
  run.start_clock();
  const auto t0 = std::chrono::steady_clock::now();
  while (run.iteration() < opt.iters && res.stopped_by == 0) {
    const double value = run.step();
    bar.update(static_cast<std::size_t>(run.iteration() - res.first_iter), value);
    const bool periodic = opt.save_every > 0 && run.iteration() % opt.save_every == 0;
    if (periodic) run.save();
    res.stopped_by = StopOnSignal::requested();  // between steps: a signal only sets this flag
    if (res.stopped_by != 0 && !periodic && !opt.out.empty()) run.save();
  }
  bar.finish();
  res.iters = run.iteration();
  res.train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const long done = res.iters - res.first_iter;
  res.ms_per_iter = done > 0 ? 1000.0 * res.train_s / static_cast<double>(done) : 0;
  if (res.stopped_by == 0) {
    evaluate_and_write(run, info, opt);
    res.stopped_by = StopOnSignal::requested();  // one during the evaluation: all is written, but the caller learns of it
  }
  if (trained) *trained = run.release();
  return res;
}

// ---- resuming and signals ---------------------------------------------------------------------------

namespace {

// A flag value typed again agrees with the stored one if the text is the same or both are the same number.
bool same_value(const std::string& a, const std::string& b) {
  if (a == b) return true;
  char *ea = nullptr, *eb = nullptr;
  const double x = std::strtod(a.c_str(), &ea), y = std::strtod(b.c_str(), &eb);
  return !a.empty() && !b.empty() && *ea == '\0' && *eb == '\0' && x == y;
}

std::string shell_quoted(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=+:,") ==
                        std::string::npos)
    return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

volatile std::sig_atomic_t g_stop_signal = 0;

void on_stop_signal(int sig) {
  if (g_stop_signal != 0) _exit(128 + sig);  // the second one: quit now (a checkpoint is renamed into place whole)
  g_stop_signal = sig;
  static const char note[] = "\ntapezoo: stopping after the current step (again to quit at once)\n";
  const ssize_t written = write(STDERR_FILENO, note, sizeof note - 1);  // write(2) is safe in a handler
  (void)written;
}

}  // namespace

ResumePlan resume_options(const ModelInfo& info, const TrainOptions& opt, const std::set<std::string>& typed,
                          const std::map<std::string, std::string>& model_flags) {
  const std::string path = checkpoint_path(opt.resume);
  if (!path_exists(path))
    throw FileError(fmt::format("--resume {}: there is no checkpoint {} (a run writes it with --out {})", opt.resume,
                                path, opt.resume));
  if (typed.count("out") &&
      std::filesystem::weakly_canonical(opt.out) != std::filesystem::weakly_canonical(opt.resume))
    throw std::invalid_argument(fmt::format("--out {} with --resume {}: a resumed run writes into the folder it "
                                            "resumes from (leave --out out)", opt.out, opt.resume));
  const auto file = load_npz(path);
  const std::string model = text_entry(path, file, "__model__");
  if (model != info.name)
    throw FileError(fmt::format("checkpoint {}: it holds a '{}' model, but '{}' was asked for (resume it with "
                                "`train {} --resume {}`)", path, model, info.name, model, opt.resume));
  check_train_layout(path, file);
  // The stored options, with those typed again in their place; train() checks that they agree.
  Config merged = Config::parse(text_entry(path, file, "__train__/options"), path);
  const Config given = options_config(opt, info);
  for (const auto& [flag, value] : given.values())
    if (typed.count(flag)) merged.set(flag, value);
  ResumePlan plan{Config::parse(text_entry(path, file, "__config__"), path), options_from(merged, path)};
  for (const auto& [flag, value] : model_flags)
    if (!plan.config.has(flag) || !same_value(plan.config.str(flag), value)) plan.config.set(flag, value);
  plan.opt.out = plan.opt.resume = opt.resume;
  plan.opt.json = opt.json;
  plan.opt.quiet = opt.quiet;
  return plan;
}

struct StopOnSignal::Saved {
  struct sigaction old_int {}, old_term {};
};

StopOnSignal::StopOnSignal() : saved_(std::make_unique<Saved>()) {
  g_stop_signal = 0;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // reads and writes under way go on instead of failing with EINTR
  sigaction(SIGINT, &sa, &saved_->old_int);
  sigaction(SIGTERM, &sa, &saved_->old_term);
}

StopOnSignal::~StopOnSignal() {
  sigaction(SIGINT, &saved_->old_int, nullptr);
  sigaction(SIGTERM, &saved_->old_term, nullptr);
  g_stop_signal = 0;  // a request belongs to the guard that received it
}

int StopOnSignal::requested() { return g_stop_signal; }

std::string interrupted_message(const std::string& program, const ModelInfo& info, const TrainOptions& opt,
                                const TrainResult& r) {
  if (r.iters >= opt.iters)
    return fmt::format("interrupted after the last iteration ({}): the run is complete{}", r.iters,
                       opt.out.empty() ? "" : fmt::format(", and {} holds all it writes", opt.out));
  if (opt.out.empty())
    return fmt::format("interrupted at iteration {}: nothing was saved (without --out there is no checkpoint)", r.iters);
  return fmt::format("interrupted at iteration {}: resume with {} train {} --resume {}", r.iters, program, info.name,
                     shell_quoted(opt.out));
}

std::string result_json(const ModelInfo& info, const TrainOptions& opt, const TrainResult& r) {
  JsonLine j;
  j.add("model", info.name).add("data", opt.data.empty() ? info.default_data : opt.data);
  j.add("iters", r.iters).add("batch", opt.batch).add("seed", static_cast<long>(opt.seed));
  j.add("train_s", r.train_s).add("ms_per_iter", r.ms_per_iter);
  j.add("blas_core", blas::core_name()).add("threads", opt.threads).add("path", to_string(path()));
  for (const auto& [k, v] : r.final_train) j.add("train_" + k, v);
  for (const auto& [k, v] : r.metrics) j.add(k, v);
  return j.str();
}

}  // namespace tz::models
