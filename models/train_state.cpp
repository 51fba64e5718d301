// tapezoo: the training state inside a checkpoint (see train_state.hpp for the entries).
#include "models/train_state.hpp"

#include <bit>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "datasets/files.hpp"
#include "io/metrics.hpp"
#include "models/train.hpp"

namespace tz::models {

static_assert(std::endian::native == std::endian::little, ".npy entries are written as little-endian bytes");

namespace {

// ---- writing: arrays from plain values --------------------------------------------------------------

template <class T>
NdArray raw_array(DType dtype, std::vector<std::size_t> shape, const T* values) {
  NdArray a;
  a.dtype = dtype;
  a.shape = std::move(shape);
  a.bytes.assign(reinterpret_cast<const char*>(values), a.size() * sizeof(T));
  return a;
}

NdArray int64_scalar(long v) {
  const std::int64_t x = v;
  return raw_array(DType::i8, {}, &x);
}

NdArray float64_scalar(double v) { return raw_array(DType::f8, {}, &v); }

NdArray float64_vector(const std::vector<double>& v) { return raw_array(DType::f8, {v.size()}, v.data()); }

std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (std::size_t i = 0; i < names.size(); ++i) s += (i ? "," : "") + names[i];
  return s;
}

// ---- reading: every entry checked against what layout 2 puts there ----------------------------------

class Entries {
 public:
  Entries(const std::string& path, const std::map<std::string, NdArray>& file) : path_(path), file_(file) {}

  // The entry `key`, which must have this dtype and rank (and size, if one is given).
  const NdArray& get(const std::string& key, DType dtype, std::size_t rank, long size = -1) const {
    auto it = file_.find(key);
    if (it == file_.end())
      throw FileError(fmt::format("checkpoint {}: no '{}' entry, which a layout {} checkpoint has", path_, key, kTrainLayout));
    const NdArray& a = it->second;
    if (a.dtype != dtype || a.shape.size() != rank || (size >= 0 && a.size() != static_cast<std::size_t>(size)))
      throw FileError(fmt::format("checkpoint {}: '{}' is {} {}, but a layout {} checkpoint stores {} of {} dimension(s){}",
                                  path_, key, dtype_descr(a.dtype), shape_string(a.shape), kTrainLayout,
                                  dtype_descr(dtype), rank, size >= 0 ? fmt::format(" and {} element(s)", size) : ""));
    return a;
  }
  std::vector<std::int64_t> int64s(const std::string& key, std::size_t rank, long size = -1) const {
    const NdArray& a = get(key, DType::i8, rank, size);
    std::vector<std::int64_t> out(a.size());
    if (!out.empty()) std::memcpy(out.data(), a.bytes.data(), a.bytes.size());  // (no memcpy from null)
    return out;
  }
  long int64(const std::string& key) const { return static_cast<long>(int64s(key, 0)[0]); }
  std::vector<double> float64s(const std::string& key, std::size_t rank, long size = -1) const {
    const NdArray& a = get(key, DType::f8, rank, size);
    std::vector<double> out(a.size());
    if (!out.empty()) std::memcpy(out.data(), a.bytes.data(), a.bytes.size());
    return out;
  }
  std::string text(const std::string& key) const { return text_entry(path_, file_, key); }
  [[noreturn]] void fail(const std::string& what) const { throw FileError(fmt::format("checkpoint {}: {}", path_, what)); }

 private:
  const std::string& path_;
  const std::map<std::string, NdArray>& file_;
};

std::vector<std::string> split_terms(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (!s.empty()) {
    const auto comma = s.find(',', start);
    out.push_back(s.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// The logging part: the loss terms, the window's sums and the metrics rows so far.
void read_log(const Entries& e, TrainState& s) {
  s.terms = split_terms(e.text("__train__/terms"));
  const long k = static_cast<long>(s.terms.size());
  s.window = e.float64s("__train__/window", 1, k);
  s.window_count = e.int64("__train__/window_count");
  s.log_iterations = e.float64s("__train__/log_iterations", 1);
  const long p = static_cast<long>(s.log_iterations.size());
  s.log_seconds = e.float64s("__train__/log_seconds", 1, p);
  const NdArray& means = e.get("__train__/log_means", DType::f8, 2, p * k);
  if (means.shape[0] != static_cast<std::size_t>(p))
    e.fail(fmt::format("'__train__/log_means' has shape {} for {} rows of {} terms", shape_string(means.shape), p, k));
  const std::vector<double> flat = e.float64s("__train__/log_means", 2);
  s.log_means.assign(static_cast<std::size_t>(p), std::vector<double>(static_cast<std::size_t>(k)));
  for (std::size_t r = 0; r < s.log_means.size(); ++r)
    std::copy_n(flat.begin() + static_cast<long>(r) * k, k, s.log_means[r].begin());
}

}  // namespace

// ---- text entries and the layout ---------------------------------------------------------------------

NdArray text_array(const std::string& s) {
  NdArray a;
  a.dtype = DType::u1;
  a.shape = {s.size()};
  a.bytes = s;
  return a;
}

std::string text_entry(const std::string& path, const std::map<std::string, NdArray>& file, const std::string& key) {
  auto it = file.find(key);
  if (it == file.end() || it->second.dtype != DType::u1 || it->second.shape.size() != 1)
    throw FileError(fmt::format("checkpoint {}: no '{}' entry of uint8 text; was it written by `./zoo train … --out`?",
                                path, key));
  return it->second.bytes;
}

void check_train_layout(const std::string& path, const std::map<std::string, NdArray>& file) {
  if (!file.count("__layout__"))
    throw FileError(fmt::format("checkpoint {}: it holds parameters only (layout 1, no '__layout__' entry: written "
                                "by an older tapezoo), but resuming needs the training state of layout {}; "
                                "`./zoo eval` and `./zoo sample` still read it",
                                path, kTrainLayout));
  const std::string layout = text_entry(path, file, "__layout__");
  if (layout != kTrainLayout)
    throw FileError(fmt::format("checkpoint {}: '__layout__' is '{}', but this tapezoo resumes layout {} only",
                                path, layout, kTrainLayout));
}

// ---- the state ---------------------------------------------------------------------------------------

void append_train_state(NamedArrays& out, const TrainState& s, const std::string& options_text,
                        const std::vector<const Param<float>*>& params) {
  out.emplace_back("__layout__", text_array(kTrainLayout));
  out.emplace_back("__train__/options", text_array(options_text));
  out.emplace_back("__train__/iteration", int64_scalar(s.iteration));
  std::int64_t words[4];
  for (int i = 0; i < 4; ++i) words[i] = static_cast<std::int64_t>(s.rng.words[i]);  // the same 64 bits
  out.emplace_back("__train__/rng", raw_array(DType::i8, {4}, words));
  out.emplace_back("__train__/rng_spare", raw_array(DType::f8, {s.rng.has_spare ? 1u : 0u}, &s.rng.spare));
  std::vector<std::int64_t> order(s.batch_order.begin(), s.batch_order.end());
  out.emplace_back("__train__/batch_order", raw_array(DType::i8, {order.size()}, order.data()));
  out.emplace_back("__train__/batch_position", int64_scalar(static_cast<long>(s.batch_position)));
  out.emplace_back("__train__/terms", text_array(join(s.terms)));
  out.emplace_back("__train__/window", float64_vector(s.window));
  out.emplace_back("__train__/window_count", int64_scalar(s.window_count));
  out.emplace_back("__train__/log_iterations", float64_vector(s.log_iterations));
  std::vector<double> means;
  for (const auto& row : s.log_means) means.insert(means.end(), row.begin(), row.end());
  out.emplace_back("__train__/log_means", raw_array(DType::f8, {s.log_means.size(), s.terms.size()}, means.data()));
  out.emplace_back("__train__/log_seconds", float64_vector(s.log_seconds));
  out.emplace_back("__train__/seconds", float64_scalar(s.seconds));
  out.emplace_back("__adam__/step", int64_scalar(s.adam_steps));
  for (std::size_t k = 0; k < params.size(); ++k) {
    out.emplace_back("__adam__/m/" + params[k]->name, NdArray::from(s.adam_m[k]));
    out.emplace_back("__adam__/v/" + params[k]->name, NdArray::from(s.adam_v[k]));
  }
}

TrainState read_train_state(const std::string& path, const std::map<std::string, NdArray>& file,
                            const std::vector<Param<float>*>& params) {
  check_train_layout(path, file);
  const Entries e(path, file);
  TrainState s;
  s.iteration = e.int64("__train__/iteration");
  const std::vector<std::int64_t> words = e.int64s("__train__/rng", 1, 4);
  for (int i = 0; i < 4; ++i) s.rng.words[i] = static_cast<std::uint64_t>(words[static_cast<std::size_t>(i)]);
  const std::vector<double> spare = e.float64s("__train__/rng_spare", 1);
  if (spare.size() > 1) e.fail(fmt::format("'__train__/rng_spare' has {} elements, expected 0 or 1", spare.size()));
  s.rng.has_spare = spare.size() == 1;
  s.rng.spare = s.rng.has_spare ? spare[0] : 0;
  for (std::int64_t i : e.int64s("__train__/batch_order", 1)) {
    if (i < 0) e.fail(fmt::format("'__train__/batch_order' holds the negative row {}", i));
    s.batch_order.push_back(static_cast<std::size_t>(i));
  }
  const long position = e.int64("__train__/batch_position");
  if (position < 0) e.fail(fmt::format("'__train__/batch_position' is negative ({})", position));
  s.batch_position = static_cast<std::size_t>(position);
  read_log(e, s);
  s.seconds = e.float64s("__train__/seconds", 0)[0];
  s.adam_steps = e.int64("__adam__/step");
  if (s.iteration < 0 || s.adam_steps < 0 || s.window_count < 0)
    e.fail(fmt::format("negative counts: iteration {}, Adam step {}, window {}", s.iteration, s.adam_steps, s.window_count));
  for (const Param<float>* p : params)
    for (const char* moment : {"m", "v"}) {
      const std::string key = fmt::format("__adam__/{}/{}", moment, p->name);
      const NdArray& a = e.get(key, DType::f4, p->value.dimension());
      if (!std::equal(a.shape.begin(), a.shape.end(), p->value.shape().begin()))
        e.fail(fmt::format("'{}' has shape {}, but the parameter has {}", key, shape_string(a.shape), shape_str(p->value.shape())));
      (*moment == 'm' ? s.adam_m : s.adam_v).push_back(a.to_float());
    }
  return s;
}

// ---- the options -------------------------------------------------------------------------------------

Config options_config(const TrainOptions& o, const ModelInfo& info) {
  return Config({
      {"data", o.data.empty() ? info.default_data : o.data},
      {"iters", std::to_string(o.iters)},
      {"batch", std::to_string(o.batch)},
      {"lr", shortest_double(o.lr)},
      {"lr-schedule", o.lr_schedule},
      {"clip", shortest_double(o.clip)},
      {"seed", std::to_string(o.seed)},
      {"threads", std::to_string(o.threads)},
      {"step-threads", std::to_string(o.step_threads)},
      {"eval", std::to_string(o.eval)},
      {"log-every", std::to_string(o.log_every)},
      {"save-every", std::to_string(o.save_every)},
      {"keep-subnormals", o.keep_subnormals ? "true" : "false"},
  });
}

TrainOptions options_from(const Config& c, const std::string& source) {
  TrainOptions o;
  try {
    o.data = c.str("data");
    o.iters = c.integer("iters");
    o.batch = c.integer("batch");
    o.lr = c.real("lr");
    o.lr_schedule = c.str("lr-schedule");
    o.clip = c.real("clip");
    o.seed = std::stoul(c.str("seed"));
    o.threads = static_cast<int>(c.integer("threads"));
    o.step_threads = c.has("step-threads") ? static_cast<int>(c.integer("step-threads")) : 1;  // absent before it existed
    o.eval = c.integer("eval");
    o.log_every = c.integer("log-every");
    o.save_every = c.integer("save-every");
    o.keep_subnormals = c.has("keep-subnormals") && c.flag("keep-subnormals");  // absent before it existed
  } catch (const std::exception& e) {
    throw FileError(fmt::format("{}: the stored options ('__train__/options') are not what a layout {} checkpoint "
                                "holds: {}", source, kTrainLayout, e.what()));
  }
  return o;
}

const std::vector<std::string>& options_that_must_agree() {
  static const std::vector<std::string> names = {"data", "batch", "lr", "lr-schedule", "clip", "seed", "eval", "log-every"};
  return names;
}

}  // namespace tz::models
