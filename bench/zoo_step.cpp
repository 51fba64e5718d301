// bench/zoo_step: every registered model's training step against its matrix products, and the
// whole iteration of `./zoo train`, optionally beside its PyTorch twin (issue 16 §1).
//
// For every model of tz::models::registry() (or each --model NAME), at its default flags, batch 100,
// float32, Adam at the model's default lr, on the offline MNIST set (data/mnist, as `./zoo data mnist
// --offline` makes it) when present, else Fashion-MNIST; a model whose default data is its own
// ("synthetic") uses that. One JSON line per model:
//
//   step_ms         the training step as models/train.cpp runs it: tape.clear, model.loss, then
//                   backward with Adam fused into the sweep (adam.backward_step). Median ms.
//   gemm_ms         the step's matrix products alone, read off the tape of the last warm-up step
//                   (matmul, linear, linear_elu, onehot_elu; normal_pairs by bench/zoo_floor.hpp:
//                   each forward product and the backward ones for inputs that want a gradient,
//                   with the tape's shapes, transposes and beta), replayed through tz::blas::gemm on
//                   preallocated buffers. Median ms: the GEMM floor. No step calls BLAS off the tape
//                   (Adam and the batch code are loops); an ssvae batch with labels adds a few products.
//   gemms           how many products that is, mflop their total work (2·m·n·k each), and
//                   gemm_gflops the floor's rate, mflop / gemm_ms (compare --products' peak).
//   ms_per_iter     the whole iteration of `./zoo train`: next shuffled batch, gather_rows (and
//                   labels), prepare_batch, set_iteration, the step, the logging window and the
//                   progress bar. The median over chunks of --chunk iterations of each chunk's ms
//                   per iteration (a one-off stall on a shared machine moves one chunk, not the
//                   figure); iter_mean_ms is the plain mean beside it.
//   step_over_gemm  step_ms / gemm_ms, target ≤ 1.3 whichever kernels OpenBLAS runs;
//   iter_over_gemm  ms_per_iter / gemm_ms, target ≤ 1.4. Both null with no products; targets null under 1 MFLOP.
//   top_ops         the step's non-GEMM ops that touch the most elements (read plus written), as
//                   op:nodes×elements, a first look at where the time outside the products goes.
//   subnormals      the step's gradient elements below 2⁻¹²⁶, which slow x86 down: 0, as the steps
//                   flush them to zero as train()'s do (docs/pitfalls.md#subnormals).
//   --torch FILE    runs each model's PyTorch twin (bench/zoo_torch.py) right after it, timed the
//                   same way: torch_step_ms, torch_ms_per_iter, torch_blas_core, torch_over_step and
//                   torch_over_iter (≥ 1.25 under the CPU's own kernels, ≥ 1 under 'Prescott'). No
//                   twin: torch null and torch_reason. No python3-torch: a message naming it.
//   --products      after each model's line, one line per product of its floor ("bench":
//                   "zoo_step_product": pass forward or backward, op nn, nt or tn, m, n, k, beta,
//                   the median ms of --product-reps calls of it alone and its GFLOP/s), and once
//                   before the models a "zoo_step_peak" line: a 2000 × 2000 × 2000 product, the rate
//                   this machine's kernels give when shape costs nothing. Products near the peak
//                   leave the step's time outside them as the only thing left to win.
//   --dump-init DIR writes DIR/<model>.npz for `zoo_torch.py --check`: the initial parameters, the first step's
//                   labelled constants (binarized batch, ε, one-hot labels), its batch labels and its loss.
//
// Rounds interleave a chunk of iterations (each one's step timed inside it) with as many GEMM replays, so that
// steps, floors and iterations see the same machine. The loop replicates models/train.cpp's Run::step line for
// line (Run is private to that file), its flush of subnormals included; keep the two in step.
// One BLAS thread unless --threads N (docs/pitfalls.md#blas-threads); with one thread the clock is
// the thread's CPU time (clock says which). Compare kernels with `OPENBLAS_CORETYPE=Prescott ./zoo
// bench zoo_step` set in the shell for that command only (docs/pitfalls.md#openblas-kernels).
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "autograd/blas.hpp"
#include "autograd/subnormals.hpp"
#include "bench/zoo_floor.hpp"
#include "bench/zoo_twin.hpp"
#include "datasets/batching.hpp"
#include "io/json.hpp"
#include "io/npz.hpp"
#include "io/progress.hpp"
#include "models/ssvae.hpp"
#include "models/train.hpp"
#include "nn/optim.hpp"

namespace {

using tz::bench::GemmFloor, tz::bench::is_product, tz::bench::median;
using tz::bench::check_torch, tz::bench::json_number_of, tz::bench::json_string_of, tz::bench::run_torch;
using tz::Array, tz::Node, tz::Op, tz::Tape;
namespace models = tz::models;

double thread_cpu_ms() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
}
double wall_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}



// The non-product ops that touch the most elements (inputs read plus output written), as
// "op:nodes×elements", largest first: memory traffic, the usual cost of elementwise work.
std::string top_ops(const Tape<float>& tape, std::size_t how_many) {
  std::map<std::string, std::pair<std::size_t, std::size_t>> by_op;
  for (std::uint32_t i = 0; i < tape.size(); ++i) {
    const Node<float>& nd = tape.node(i);
    if (tz::is_source(nd.op) || is_product(nd.op) || nd.in.empty()) continue;
    auto& [nodes, elements] = by_op[std::string(tz::op_name(nd.op))];
    ++nodes;
    elements += nd.val().size();
    for (std::uint32_t in : nd.in) elements += tape.val(in).size();
  }
  std::vector<std::pair<std::size_t, std::string>> rows;
  for (const auto& [op, ne] : by_op) rows.push_back({ne.second, fmt::format("{}:{}x{}", op, ne.first, ne.second)});
  std::sort(rows.rbegin(), rows.rend());
  std::string out;
  for (std::size_t i = 0; i < rows.size() && i < how_many; ++i) out += (i ? " " : "") + rows[i].second;
  return out;
}

// Gradient elements of the last step that are subnormal (0 < |g| < 2⁻¹²⁶), where the FPU slows down.
long subnormal_grads(const Tape<float>& tape) {
  long n = 0;
  for (std::uint32_t i = 0; i < tape.size(); ++i)
    for (float g : tape.node(i).grad) n += std::fpclassify(g) == FP_SUBNORMAL;
  return n;
}

// ---- one model's training run, as models/train.cpp's Run ------------------------------------------

// The data a model trains on here: MNIST (data/mnist) when it is there, else Fashion-MNIST, for the
// image models; its own data for the others.
std::string data_spec(const models::ModelInfo& info, const std::string& asked) {
  if (!asked.empty()) return asked;
  if (info.default_data != "fashion-mnist" && info.default_data != "mnist") return info.default_data;
  try {
    tz::Rng probe(0);
    models::load_dataset(info, "mnist", probe);
    return "mnist";
  } catch (const std::exception&) {
    return "fashion-mnist";
  }
}

// models/train.cpp's make_prepared: the model, then its look at the training data (ssvae's labelled subset).
std::unique_ptr<models::Model<float>> prepared(const models::ModelInfo& info, const models::Config& config,
                                               models::Dataset& data, tz::Rng& rng) {
  std::unique_ptr<models::Model<float>> model = info.make_float(config, rng);
  model->prepare_data(data, rng);
  return model;
}

struct ZooRun {
  ZooRun(const models::ModelInfo& info_, const std::string& spec, long batch_size, unsigned long seed)
      : info(info_), config(models::Config::from(info.flags, {}, info.name)), rng(seed),
        data(models::load_dataset(info, spec, rng)), model(prepared(info, config, data, rng)),
        adam(model->params().all(), {.lr = info.default_lr}),
        schedule(tz::nn::LrSchedule::parse("constant", info.default_lr, 1 << 30)),
        batcher(data.train_x.shape()[0], std::min<std::size_t>(static_cast<std::size_t>(batch_size),
                                                               data.train_x.shape()[0]), /*drop_last=*/true),
        bar(1u << 30, {.label = info.name, .quiet = true}) {
    batcher.shuffle(rng);
    model->params().zero_grad();
  }

  // The iteration of Run::step and train()'s loop; `now` times its step part, appended to step_ms.
  template <class Now>
  double iterate(Now&& now, std::vector<double>& step_ms) {
    const tz::FlushSubnormals flush;  // docs/pitfalls.md#subnormals
    auto idx = batcher.next();
    if (idx.empty()) {
      batcher.shuffle(rng);
      idx = batcher.next();
    }
    tz::gather_rows(data.train_x, idx, batch.x);
    if (!data.train_y.empty()) tz::gather_labels(data.train_y, idx, batch.y);
    model->prepare_batch(batch, rng);
    model->set_iteration(t);
    const double t0 = now();
    tape.clear();
    models::Loss<float> loss = model->loss(tape, batch, rng);
    const double value = loss.value.item();
    if (!std::isfinite(value)) throw std::runtime_error(fmt::format("{}: the loss is {} at iteration {}", info.name, value, t));
    adam.set_lr(schedule.at(t));
    adam.backward_step(tape, loss.value);
    step_ms.push_back(now() - t0);
    ++t;
    record(loss, value);
    bar.update(static_cast<std::size_t>(t), value);
    return value;
  }

  // Run::record's work: the logging window's running sums, and their means every log_every steps.
  void record(const models::Loss<float>& loss, double value) {
    if (window.empty()) window.assign(loss.terms.size() + 1, 0.0);
    window[0] += value;
    for (std::size_t k = 0; k < loss.terms.size() && k + 1 < window.size(); ++k) window[k + 1] += loss.terms[k].second;
    ++window_n;
    if (t % 100 != 0) return;
    for (double& w : window) logged.push_back(w / static_cast<double>(window_n)), w = 0;
    window_n = 0;
  }

  const models::ModelInfo& info;
  models::Config config;
  tz::Rng rng;
  models::Dataset data;
  std::unique_ptr<models::Model<float>> model;
  tz::nn::Adam<float> adam;
  tz::nn::LrSchedule schedule;
  tz::Batcher batcher;
  tz::ProgressBar bar;  // quiet, as `./zoo train --quiet`: its update is called, it draws nothing
  models::Batch<float> batch;
  Tape<float> tape;
  long t = 0;
  std::vector<double> window, logged;
  long window_n = 0;
};

// --dump-init DIR: DIR/<model>.npz: parameters, then (after one iteration) every labelled constant of the step in tape
// order as "const<i>_<label>", the batch's labels, the labelled set's labels (ssvae) and the loss.
void dump_init(const std::string& dir, ZooRun& run) {
  tz::NamedArrays arrays;
  for (const tz::Param<float>* p : run.model->params().all()) arrays.emplace_back(p->name, tz::NdArray::from(p->value));
  std::vector<double> ignored;
  const double loss = run.iterate(thread_cpu_ms, ignored);  // Adam has moved the parameters: dumped before
  for (std::uint32_t i = 0; i < run.tape.size(); ++i) {
    const Node<float>& nd = run.tape.node(i);
    if (nd.op == Op::constant && !nd.label.empty())
      arrays.emplace_back(fmt::format("const{:04}_{}", i, nd.label == "ε" ? "eps" : nd.label), tz::NdArray::from(nd.val()));
  }
  auto ints = [](const std::vector<int>& v) {
    Array<float> a = Array<float>::from_shape({v.size()});
    std::copy(v.begin(), v.end(), a.begin());
    return tz::NdArray::from(a);
  };
  arrays.emplace_back("batch_y", ints(run.batch.y));
  if (auto* ss = dynamic_cast<models::SSVAE<float>*>(run.model.get())) arrays.emplace_back("labelled_y", ints(ss->labelled_y()));
  arrays.emplace_back("loss", tz::NdArray::from(Array<double>(loss)));
  std::filesystem::create_directories(dir);
  tz::save_npz(dir + "/" + run.info.name + ".npz", arrays);
}

// ---- one model ---------------------------------------------------------------------------------------

struct Settings {
  int rounds = 15, chunk = 20, threads = 1, product_reps = 30;
  bool products = false;
  long batch = 100;
  unsigned long seed = 0;
  std::string data, torch, dump_dir;
};

double r4(double v) { return std::round(v * 1e4) / 1e4; }

// Measures one model and prints its JSON line (flushed: a long run shows each model as it finishes).
void bench_model(const models::ModelInfo& info, const Settings& s) {
  const std::string spec = data_spec(info, s.data);
  ZooRun run(info, spec, s.batch, s.seed);
  if (!s.dump_dir.empty()) dump_init(s.dump_dir, run);
  const bool cpu_clock = s.threads == 1;
  auto now = [&] { return cpu_clock ? thread_cpu_ms() : wall_ms(); };
  std::vector<double> step_ms, gemm_ms, chunk_ms;
  double loss = 0;
  for (int i = 0; i < 10; ++i) loss = run.iterate(now, gemm_ms);  // warm-up: node storage, BLAS buffers
  gemm_ms.clear();
  GemmFloor floor(run.tape);  // its first replays fault its buffers in: the median leaves them out
  const std::string top = top_ops(run.tape, 5);
  const long subnormals = subnormal_grads(run.tape);
  double total_ms = 0;
  for (int r = 0; r < s.rounds; ++r) {
    const double c0 = now();
    for (int i = 0; i < s.chunk; ++i) loss = run.iterate(now, step_ms);
    const double chunk = now() - c0;
    total_ms += chunk;
    chunk_ms.push_back(chunk / s.chunk);
    for (int i = 0; i < s.chunk; ++i) {
      const double t0 = now();
      floor.run();
      gemm_ms.push_back(now() - t0);
    }
  }
  const double st = median(step_ms), iter = median(chunk_ms);
  const double gemm = floor.count() ? median(gemm_ms) : std::nan("");  // NaN: no products, ratios null

  tz::JsonLine j;
  j.add("bench", "zoo_step").add("model", info.name).add("data", spec).add("batch", s.batch);
  j.add("step_ms", r4(st)).add("gemm_ms", r4(gemm)).add("gemms", static_cast<long>(floor.count()));
  j.add("mflop", r4(floor.mflop())).add("gemm_gflops", r4(floor.mflop() / gemm)).add("step_over_gemm", r4(st / gemm));
  j.add("ms_per_iter", r4(iter)).add("iter_mean_ms", r4(total_ms / static_cast<double>(step_ms.size())));
  j.add("iter_over_gemm", r4(iter / gemm)).add("nodes", static_cast<long>(run.tape.size())).add("top_ops", top);
  j.add("subnormals", subnormals);
  j.add("loss", r4(loss)).add("iters", static_cast<long>(step_ms.size())).add("blas_core", tz::blas::core_name());
  j.add("threads", s.threads).add("clock", cpu_clock ? "thread_cpu" : "wall");
  // Under 1 MFLOP of products (ppca, gmm_gd) the step is the tape's per-node cost: no target.
  const bool targets = floor.mflop() >= 1.0;
  j.raw("target_step_over_gemm", targets ? "1.3" : "null").raw("target_iter_over_gemm", targets ? "1.4" : "null");
  if (!targets) j.add("target_reason", "under 1 MFLOP of products: the step is the tape's per-node cost (bench/tape_overhead)");
  if (!s.torch.empty()) {
    const std::string twin = run_torch(s.torch, info.name, spec, s.threads, s.rounds, s.chunk);
    const double tstep = json_number_of(twin, "step_ms"), titer = json_number_of(twin, "ms_per_iter");
    const std::string version = json_string_of(twin, "torch"), reason = json_string_of(twin, "reason");
    j.raw("torch", version.empty() ? "null" : tz::json_string(version));
    if (!reason.empty()) j.add("torch_reason", reason);
    j.add("torch_step_ms", r4(tstep)).add("torch_ms_per_iter", r4(titer));
    j.add("torch_blas_core", json_string_of(twin, "blas_core"));
    j.add("torch_over_step", r4(tstep / st)).add("torch_over_iter", r4(titer / iter));
    j.add("target_torch_over_step", tz::blas::core_name() == "Prescott" ? 1.0 : 1.25);
  }
  j.print();
  if (!s.products) return;
  std::size_t index = 0;
  for (const GemmFloor::Timed& p : floor.time_each(now, s.product_reps)) {
    tz::JsonLine l;
    l.add("bench", "zoo_step_product").add("model", info.name).add("index", static_cast<long>(index++));
    l.add("pass", p.backward ? "backward" : "forward").add("op", std::string(p.ta ? "t" : "n") + (p.tb ? "t" : "n"));
    l.add("m", static_cast<long>(p.m)).add("n", static_cast<long>(p.n)).add("k", static_cast<long>(p.k));
    l.add("beta", static_cast<double>(p.beta)).add("ms", r4(p.ms));
    l.add("gflops", std::round(2e-5 * static_cast<double>(p.m * p.n * p.k) / p.ms) / 10);
    l.print();
  }
}

// The same clock's rate on a 2000³ product (five calls after one to warm up): what the kernels give
// when the shape's edges and packing cost next to nothing.
void print_peak(const Settings& s) {
  const std::size_t d = 2000;
  std::vector<float> A(d * d, 0.01f), B(d * d, 0.01f), C(d * d, 0.0f);
  const bool cpu_clock = s.threads == 1;
  std::vector<double> ms;
  for (int r = 0; r < 6; ++r) {
    const double t0 = cpu_clock ? thread_cpu_ms() : wall_ms();
    tz::blas::gemm(false, false, d, d, d, 1.0f, A.data(), d, B.data(), d, 0.0f, C.data(), d);
    if (r > 0) ms.push_back((cpu_clock ? thread_cpu_ms() : wall_ms()) - t0);
  }
  const double best = median(ms);
  tz::JsonLine l;
  l.add("bench", "zoo_step_peak").add("m", static_cast<long>(d)).add("n", static_cast<long>(d)).add("k", static_cast<long>(d));
  l.add("ms", r4(best)).add("gflops", std::round(2e-5 * static_cast<double>(d * d * d) / best) / 10);
  l.add("blas_core", tz::blas::core_name()).add("threads", s.threads).add("clock", cpu_clock ? "thread_cpu" : "wall");
  l.print();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("tapezoo: every model's training step against its GEMM floor and its whole iteration, and the "
               "PyTorch twins (bench/zoo_torch.py)");
  Settings s;
  std::vector<std::string> names;
  app.add_option("--model", names, "a registered model (repeatable; default: every one)");
  app.add_option("--rounds", s.rounds, "interleaved rounds of a chunk of iterations and as many floors")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--chunk", s.chunk, "iterations per chunk (ms_per_iter is the median over chunks)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--batch", s.batch, "batch size")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--threads", s.threads, "OpenBLAS threads")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--seed", s.seed, "seed")->capture_default_str();
  app.add_option("--data", s.data, "data for every model (default: mnist if present, else fashion-mnist)");
  app.add_option("--torch", s.torch, "also time the PyTorch twins, e.g. bench/zoo_torch.py");
  app.add_flag("--products", s.products, "also time each product of each floor alone, and a 2000³ one (JSON lines)");
  app.add_option("--product-reps", s.product_reps, "calls per product with --products (the median is kept)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--dump-init", s.dump_dir, "write DIR/<model>.npz: initial weights and the first step's constants");
  CLI11_PARSE(app, argc, argv);

  try {
    if (names.empty())
      for (const models::ModelInfo& info : models::registry()) names.push_back(info.name);
    for (const std::string& name : names) models::find_model(name);  // every name checked before minutes of work
    if (!s.torch.empty()) check_torch(s.torch);
    tz::blas::set_threads(s.threads);
    tz::blas::print_kernel_hint_once();
    if (s.products) print_peak(s);
    for (const std::string& name : names) bench_model(models::find_model(name), s);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "zoo_step: %s\n", e.what());
    return 1;
  }
  return 0;
}
