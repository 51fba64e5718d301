// tapezoo: the shared training loop, evaluation, checkpoints and run outputs.
#include "models/train.hpp"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>

#include "autograd/blas.hpp"
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

static NdArray text_array(const std::string& s) {
  NdArray a;
  a.dtype = DType::u1;
  a.shape = {s.size()};
  a.bytes = s;
  return a;
}

void save_checkpoint(const std::string& path, const ModelInfo& info, const Config& config, const Model<float>& model) {
  NamedArrays arrays;
  arrays.emplace_back("__model__", text_array(info.name));
  arrays.emplace_back("__config__", text_array(config.serialize()));
  for (const Param<float>* p : model.params().all()) arrays.emplace_back(p->name, NdArray::from(p->value));
  save_npz(path, arrays);
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
  auto text = [&](const char* key) {
    auto it = file.find(key);
    if (it == file.end() || it->second.dtype != DType::u1)
      throw FileError(fmt::format("checkpoint {}: no '{}' entry; was it written by `./zoo train … --out`?", path, key));
    return it->second.bytes;
  };
  Loaded out;
  out.info = &find_model(text("__model__"));
  out.config = Config::parse(text("__config__"), path);
  Rng rng(0);
  out.model = out.info->make_float(out.config, rng);
  load_into(path, file, out.model->params());
  return out;
}

// The soak's check (TrainOptions::check_finite): the loss terms of step t, and every gradient.
static void require_finite(const std::string& model, const Loss<float>& loss, nn::ParamSet<float>& params, long t) {
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

// ---- the loop ---------------------------------------------------------------------------------------

TrainResult train(const ModelInfo& info, const Config& config, const TrainOptions& opt,
                  std::unique_ptr<Model<float>>* trained) {
  if (opt.iters < 0) throw std::invalid_argument(fmt::format("--iters: expected >= 0, got {}", opt.iters));
  if (opt.batch < 1) throw std::invalid_argument(fmt::format("--batch: expected >= 1, got {}", opt.batch));
  if (!(opt.lr > 0)) throw std::invalid_argument(fmt::format("--lr: expected > 0, got {}", opt.lr));
  if (!opt.out.empty()) flags::make_output_dir(opt.out, "--out");  // before minutes of training
  blas::set_threads(opt.threads);
  Rng rng(opt.seed);
  Dataset data = load_dataset(info, opt.data.empty() ? info.default_data : opt.data, rng);
  if (data.train_x.dimension() != 2 || data.train_x.shape()[0] == 0)
    throw std::invalid_argument(fmt::format("--data {}: no training rows", data.name));

  std::unique_ptr<Model<float>> model = info.make_float(config, rng);
  model->prepare_data(data, rng);
  nn::ParamSet<float>& params = model->params();
  nn::Adam<float> adam(params.all(), {.lr = opt.lr});
  const nn::LrSchedule schedule = nn::LrSchedule::parse(opt.lr_schedule, opt.lr, opt.iters);

  const std::size_t n = data.train_x.shape()[0];
  Batcher batcher(n, std::min<std::size_t>(static_cast<std::size_t>(opt.batch), n), /*drop_last=*/true);
  batcher.shuffle(rng);
  Batch<float> batch;
  Tape<float> tape;
  params.zero_grad();

  std::unique_ptr<MetricsCsv> csv;

  TrainResult res;
  std::vector<std::string> term_names;
  std::vector<double> window;  // running sums of each term over the logging window
  long window_n = 0;
  ProgressBar bar(static_cast<std::size_t>(opt.iters), {.label = info.name, .quiet = opt.quiet});
  const auto t0 = std::chrono::steady_clock::now();
  for (long t = 0; t < opt.iters; ++t) {
    auto idx = batcher.next();
    if (idx.empty()) {
      batcher.shuffle(rng);
      idx = batcher.next();
    }
    gather_rows(data.train_x, idx, batch.x);
    if (!data.train_y.empty()) gather_labels(data.train_y, idx, batch.y);
    model->prepare_batch(batch, rng);
    model->set_iteration(t);

    tape.clear();  // the gradients are zero: from construction, then from Adam, which zeroes them
    Loss<float> loss = model->loss(tape, batch, rng);
    const double value = loss.value.item();
    if (!std::isfinite(value))
      throw std::runtime_error(fmt::format("{}: the loss is {} at iteration {}; try a smaller --lr (now {})",
                                           info.name, value, t, opt.lr));
    adam.set_lr(schedule.at(t));
    if (opt.clip > 0 || opt.check_finite) {
      tape.backward(loss.value);
      if (opt.check_finite) require_finite(info.name, loss, params, t);
      if (opt.clip > 0) nn::clip_grad_norm(params.all(), opt.clip);  // needs every gradient first
      adam.step_and_zero_grad();
    } else {
      adam.backward_step(tape, loss.value);  // backward, each parameter updated as its gradient completes
    }

    if (term_names.empty()) {
      term_names.push_back("loss");
      for (const auto& [name, v] : loss.terms) term_names.push_back(name);
      window.assign(term_names.size(), 0.0);
      res.curves.clear();
      for (const auto& name : term_names) res.curves.push_back({name, {}});
      if (!opt.out.empty()) csv = std::make_unique<MetricsCsv>(opt.out + "/metrics.csv", term_names);
    }
    window[0] += value;
    for (std::size_t k = 0; k < loss.terms.size() && k + 1 < window.size(); ++k) window[k + 1] += loss.terms[k].second;
    ++window_n;
    bar.update(static_cast<std::size_t>(t + 1), value);
    if ((t + 1) % opt.log_every == 0 || t + 1 == opt.iters) {
      std::vector<double> means(window.size());
      for (std::size_t k = 0; k < window.size(); ++k) means[k] = window[k] / static_cast<double>(window_n);
      res.curve_iter.push_back(static_cast<double>(t + 1));
      for (std::size_t k = 0; k < means.size(); ++k) res.curves[k].second.push_back(means[k]);
      if (csv) csv->write(static_cast<std::size_t>(t + 1), means);
      res.final_train.clear();
      for (std::size_t k = 0; k < means.size(); ++k) res.final_train.emplace_back(term_names[k], means[k]);
      std::fill(window.begin(), window.end(), 0.0);
      window_n = 0;
    }
  }
  bar.finish();
  res.iters = opt.iters;
  res.train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  res.ms_per_iter = opt.iters > 0 ? 1000.0 * res.train_s / static_cast<double>(opt.iters) : 0;

  Rng eval_rng(opt.seed + 1);
  const Dataset eval = first_test_rows(data, opt.eval);
  res.metrics = model->evaluate(eval, eval_rng);

  if (!opt.out.empty()) {
    save_checkpoint(opt.out + "/checkpoint.npz", info, config, *model);
    std::vector<Series> series;
    for (const auto& [name, ys] : res.curves) series.push_back({name, res.curve_iter, ys, std::nullopt});
    if (!res.curve_iter.empty())
      save_line_plot(opt.out + "/curves.png", series,
                     {.title = info.name + " training", .xlabel = "iteration", .ylabel = "batch mean"});
    Rng pic_rng(opt.seed + 2);
    model->write_pictures(opt.out, eval, pic_rng);
  }
  if (trained) *trained = std::move(model);
  return res;
}

std::string result_json(const ModelInfo& info, const TrainOptions& opt, const TrainResult& r) {
  JsonLine j;
  j.add("model", info.name).add("data", opt.data.empty() ? info.default_data : opt.data);
  j.add("iters", r.iters).add("batch", opt.batch).add("seed", static_cast<long>(opt.seed));
  j.add("train_s", r.train_s).add("ms_per_iter", r.ms_per_iter);
  j.add("blas_core", blas::core_name()).add("threads", opt.threads);
  for (const auto& [k, v] : r.final_train) j.add("train_" + k, v);
  for (const auto& [k, v] : r.metrics) j.add(k, v);
  return j.str();
}

}  // namespace tz::models
