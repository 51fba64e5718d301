// bench/vae_step: one VAE training step against its matrix products alone, on the fast path and on
// the textbook path side by side (autograd/path.hpp, docs/fast-paths.md), and IWAE evaluation.
//
//   step_ms        one training step of models/vae (784-300-300-2z encoder, z-300-300-784 decoder,
//                  ELU), batch 100, z 10, float32, as models/train.cpp runs it on the fast path:
//                  tape.clear, forward (linear_elu layers), then backward with Adam fused into the
//                  sweep (Adam::backward_step). Median ms.
//   prepare_ms     the iteration's data part before it: the batch copied into the reused buffer (as
//                  gather_rows does) and binarized (prepare_batch). Median ms.
//   gemm_ms        the step's 17 matrix products and nothing else, through tz::blas::gemm on
//                  preallocated buffers, with the shapes and transposes the tape uses: 6 forward
//                  (x @ W, beta = 1 on top of the bias, as linear() does), 6 weight gradients
//                  gW += hᵀ @ gy (beta = 1 into Param::grad) and 5 input gradients gh = gy @ Wᵀ
//                  (none for the data x, a constant). Median ms: the step's GEMM floor, the same
//                  for both paths, which run the same products.
//   step_over_gemm step_ms / gemm_ms. Target ≤ 1.3, whichever kernels OpenBLAS runs.
//   iter_over_gemm (prepare_ms + step_ms) / gemm_ms: the whole iteration.
//   textbook_*     the same for the textbook path (tz::PathScope(Path::textbook)): the MLPs record
//                  linear then elu, and the step reads tape.backward(loss); adam.step();
//                  params.zero_grad(). Its own model and generator, seeded as the fast path's, so
//                  both train on the same numbers; textbook_over_fast = textbook_step_ms / step_ms.
//   bernoulli_ms   the batch's Bernoulli log-likelihood alone, forward and backward, through
//                  log_bernoulli_with_logits: the fused op on the fast path, and as
//                  textbook_bernoulli_ms its composite sum(x·l − softplus(l), -1). Median ms.
//   iwae_ms        −IWAE_1000 of 100 images on the fast path (negative_iwae_bound_eval: no tape
//                  gradients, decoded in chunks of 4096 rows). Median ms.
//   --torch FILE   also runs the PyTorch twin (bench/vae_torch.py: same architecture, Adam, dynamic
//                  binarization, one thread) in the same environment and timed the same way, and
//                  reports torch_over_step = torch_step_ms / step_ms (and the same for whole
//                  iterations, and torch_over_textbook_step for the textbook path). Targets for the
//                  fast path: ≥ 1.25 with the CPU's own kernels, ≥ 1 with OpenBLAS's 'Prescott'
//                  fallback.
//
// One JSON line on stdout, and the two paths as a small table on stderr. One BLAS thread unless
// --threads N (docs/pitfalls.md#blas-threads); with one thread the clock is the thread's CPU time,
// which leaves out time the scheduler gave to other processes on a shared machine (clock says
// which). The OpenBLAS kernels are chosen when the library loads: compare
// `OPENBLAS_CORETYPE=SkylakeX build/bench/vae_step` (set in the shell for that one command, never
// in code: docs/pitfalls.md#openblas-kernels); blas_core says which ran. Steps of both paths and
// floors are measured in interleaved rounds, so that all see the same machine.

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "autograd/blas.hpp"
#include "autograd/path.hpp"
#include "distributions/distributions.hpp"
#include "io/json.hpp"
#include "models/vae.hpp"
#include "nn/optim.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using tz::Array;

double wall_ms() { return std::chrono::duration<double, std::milli>(Clock::now().time_since_epoch()).count(); }

// The calling thread's CPU time in ms. With one BLAS thread every product runs on this thread, so
// this is the step's cost without the time the scheduler gave to other processes (the machine
// may be shared); with more threads it would miss the workers' time, so wall time is used.
double thread_cpu_ms() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The floor: the step's matrix products on preallocated buffers, with the tape's shapes and flags.
struct GemmFloor {
  struct Layer {
    std::size_t in, out;
    const float* W;
    std::vector<float> h_in, y, g_y, g_in, g_W;  // input, output, their gradients, the weight gradient
    bool grad_in;                                // false for the encoder's first layer (x is data)
  };
  std::vector<Layer> layers;
  std::size_t batch;

  GemmFloor(tz::nn::ParamSet<float>& params, std::size_t batch_) : batch(batch_) {
    for (const char* net : {"enc", "dec"})
      for (int l = 1; l <= 3; ++l) {
        const Array<float>& W = params[fmt::format("{}.l{}.W", net, l)].value;
        const std::size_t in = W.shape()[0], out = W.shape()[1];
        layers.push_back({in, out, W.data(), std::vector<float>(batch * in, 0.5f), std::vector<float>(batch * out),
                          std::vector<float>(batch * out, 0.01f), std::vector<float>(batch * in),
                          std::vector<float>(in * out, 0.0f), !(net[0] == 'e' && l == 1)});
      }
  }

  void run() {
    for (Layer& L : layers)  // y = x @ W + b: beta = 1 on top of the bias
      tz::blas::gemm(false, false, batch, L.out, L.in, 1.0f, L.h_in.data(), L.in, L.W, L.out, 1.0f, L.y.data(), L.out);
    for (std::size_t i = layers.size(); i-- > 0;) {
      Layer& L = layers[i];
      // gW += xᵀ @ gy
      tz::blas::gemm(true, false, L.in, L.out, batch, 1.0f, L.h_in.data(), L.in, L.g_y.data(), L.out, 1.0f,
                     L.g_W.data(), L.out);
      // gx = gy @ Wᵀ
      if (L.grad_in)
        tz::blas::gemm(false, true, batch, L.in, L.out, 1.0f, L.g_y.data(), L.out, L.W, L.out, 0.0f, L.g_in.data(),
                       L.in);
    }
  }
  void reset() {
    for (Layer& L : layers) {
      std::fill(L.g_W.begin(), L.g_W.end(), 0.0f);
      std::fill(L.y.begin(), L.y.end(), 0.0f);
    }
  }
};

// Runs the PyTorch twin; NaN times if it fails.
struct TorchResult {
  double step_ms = std::nan(""), prepare_ms = std::nan("");
};
TorchResult run_torch(const std::string& script, int iters, int threads, std::string& version) {
  const std::string cmd = fmt::format("/usr/bin/python3 '{}' --iters {} --threads {}", script, iters, threads);
  std::FILE* p = popen(cmd.c_str(), "r");
  if (!p) return {};
  std::string out;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  if (pclose(p) != 0) {
    std::fprintf(stderr, "vae_step: '%s' failed:\n%s\n", cmd.c_str(), out.c_str());
    return {};
  }
  auto number = [&](const std::string& key) {
    const auto at = out.rfind("\"" + key + "\": ");
    return at == std::string::npos ? std::nan("") : std::stod(out.substr(at + key.size() + 4));
  };
  const auto v = out.rfind("\"torch\": \"");
  if (v != std::string::npos) version = out.substr(v + 10, out.find('"', v + 10) - v - 10);
  return {number("step_ms"), number("prepare_ms")};
}

struct Options {
  int threads = 1, rounds = 20, steps_per_round = 20, iwae_reps = 3, z = 10, batch = 100, torch_iters = 400;
  std::size_t iwae_k = 1000;
  std::uint64_t seed = 1;
  std::string torch_script;
};

// One path's training: its own model, optimizer, batch, tape and generator (seeded alike for both
// paths), and its timings.
struct PathRun {
  tz::Path path;
  tz::Rng rng;
  tz::models::VAE<float> vae;
  tz::nn::Adam<float> adam;
  tz::models::Batch<float> batch;
  tz::Tape<float> tape;
  std::vector<double> prepare_ms, step_ms;
  double last_loss = 0;

  PathRun(tz::Path p, const tz::models::VAEOptions& opt, std::uint64_t seed)
      : path(p), rng(seed), vae(opt, rng), adam(vae.params().all(), {.lr = 1e-3}) {}

  // The batch: a copy into the reused buffer, as gather_rows does, and its binarization.
  void prepare(const Array<float>& intensities) {
    batch.x = intensities;
    vae.prepare_batch(batch, rng);
  }
  // One step of models/train.cpp on this path: clear, forward, then the step. The textbook step is
  // backward; step; zero_grad, the fast one Adam inside the backward sweep (which also zeroes the
  // gradients): the same numbers (tests/test_fast_paths.cpp).
  double step() {
    tz::PathScope scope(path);
    tape.clear();
    tz::models::Loss<float> loss = vae.loss(tape, batch, rng);
    const double value = loss.value.item();
    if (tz::textbook()) {
      tape.backward(loss.value);
      adam.step();
      vae.params().zero_grad();
    } else {
      adam.backward_step(tape, loss.value);
    }
    return value;
  }
};

// Interleaved rounds: steps_per_round steps of each path, then as many floors.
std::vector<double> time_rounds(const Options& o, std::vector<PathRun*>& runs, GemmFloor& floor,
                                const Array<float>& intensities, const std::function<double()>& now) {
  for (PathRun* r : runs)  // warm-up: node storage, BLAS buffers
    for (int i = 0; i < 10; ++i) r->prepare(intensities), r->step(), floor.run();
  std::vector<double> gemm_ms;
  for (int round = 0; round < o.rounds; ++round) {
    for (PathRun* r : runs)
      for (int i = 0; i < o.steps_per_round; ++i) {
        const double t0 = now();
        r->prepare(intensities);
        const double t1 = now();
        r->last_loss = r->step();
        const double t2 = now();
        r->prepare_ms.push_back(t1 - t0);
        r->step_ms.push_back(t2 - t1);
      }
    for (int i = 0; i < o.steps_per_round; ++i) {
      floor.reset();
      const double t0 = now();
      floor.run();
      gemm_ms.push_back(now() - t0);
    }
  }
  return gemm_ms;
}

// −IWAE_k of the images on the fast path: median ms of the repetitions, and the bound's mean.
std::pair<double, double> time_iwae(const Options& o, PathRun& run, const Array<float>& intensities,
                                    const std::function<double()>& now) {
  if (o.iwae_k == 0) return {std::nan(""), std::nan("")};
  tz::Rng bin(7);
  const Array<float> x = bin.bernoulli(intensities);
  std::vector<double> times;
  double niwae = 0;
  for (int i = 0; i < o.iwae_reps; ++i) {
    const double t0 = now();
    const std::vector<double> v = run.vae.negative_iwae_bound_eval(x, o.iwae_k, run.rng);
    times.push_back(now() - t0);
    niwae = 0;
    for (double a : v) niwae += a / static_cast<double>(v.size());
  }
  return {median(times), niwae};
}

// The Bernoulli log-likelihood of the batch alone, forward and backward, through
// log_bernoulli_with_logits on the given path (the fused op, or its composite of four ops):
// median ms over as many repetitions as the steps.
double time_bernoulli(const Options& o, tz::Path path, const Array<float>& intensities,
                      const std::function<double()>& now) {
  tz::PathScope scope(path);
  tz::Rng rng(5);
  const Array<float> x = rng.bernoulli(intensities);
  const Array<float> logits = rng.normal<float>({x.shape()[0], x.shape()[1]});
  tz::Tape<float> tape;
  std::vector<double> times;
  for (int i = 0; i < 10 + o.rounds * o.steps_per_round; ++i) {
    tape.clear();
    const double t0 = now();
    tz::Var<float> l = tape.leaf(logits);
    tape.backward(sum(tz::log_bernoulli_with_logits(tape.constant(x), l)));
    if (i >= 10) times.push_back(now() - t0);  // after a warm-up
  }
  return median(times);
}

// Rounded for reading; NaN (a part that did not run) becomes null.
double r4(double v) { return std::round(v * 1e4) / 1e4; }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("tapezoo: a VAE training step on the fast and the textbook path against its GEMM floor, "
               "IWAE-1000 evaluation, and the PyTorch twin");
  Options o;
  app.add_option("--threads", o.threads, "OpenBLAS threads")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--rounds", o.rounds, "interleaved rounds of steps and floors")->capture_default_str();
  app.add_option("--steps", o.steps_per_round, "steps of each path (and floors) per round")->capture_default_str();
  app.add_option("--z", o.z, "latent dimensions")->capture_default_str();
  app.add_option("--batch", o.batch, "batch size")->capture_default_str();
  app.add_option("--iwae-k", o.iwae_k, "importance samples of the evaluation (0: skip it)")->capture_default_str();
  app.add_option("--iwae-reps", o.iwae_reps, "repetitions of the evaluation")->capture_default_str();
  app.add_option("--torch", o.torch_script, "also run the PyTorch twin, e.g. bench/vae_torch.py");
  app.add_option("--torch-iters", o.torch_iters, "timed iterations of the twin")->capture_default_str();
  app.add_option("--seed", o.seed, "seed")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  tz::blas::set_threads(o.threads);
  tz::blas::print_kernel_hint_once();
  const bool cpu_clock = o.threads == 1;
  const std::function<double()> now = [cpu_clock] { return cpu_clock ? thread_cpu_ms() : wall_ms(); };

  tz::models::VAEOptions opt;
  opt.z = static_cast<std::size_t>(o.z);
  PathRun fast(tz::Path::fast, opt, o.seed), book(tz::Path::textbook, opt, o.seed);
  const std::size_t B = static_cast<std::size_t>(o.batch);
  tz::Rng data_rng(o.seed + 1);
  const Array<float> intensities = data_rng.uniform<float>({B, opt.x_dim});  // pixel intensities in [0, 1)
  GemmFloor floor(fast.vae.params(), B);
  std::vector<PathRun*> runs{&fast, &book};
  const double gemm = median(time_rounds(o, runs, floor, intensities, now));
  const double step = median(fast.step_ms), prep = median(fast.prepare_ms);
  const double book_step = median(book.step_ms), book_prep = median(book.prepare_ms);
  const auto [iwae_ms, niwae] = time_iwae(o, fast, intensities, now);
  const double bern = time_bernoulli(o, tz::Path::fast, intensities, now);
  const double book_bern = time_bernoulli(o, tz::Path::textbook, intensities, now);

  tz::JsonLine j;
  j.add("bench", "vae_step").add("step_ms", r4(step)).add("gemm_ms", r4(gemm)).add("step_over_gemm", r4(step / gemm));
  j.add("prepare_ms", r4(prep)).add("iter_over_gemm", r4((step + prep) / gemm));
  j.add("textbook_step_ms", r4(book_step)).add("textbook_step_over_gemm", r4(book_step / gemm));
  j.add("textbook_prepare_ms", r4(book_prep)).add("textbook_iter_over_gemm", r4((book_step + book_prep) / gemm));
  j.add("textbook_over_fast", r4(book_step / step));
  j.add("bernoulli_ms", r4(bern)).add("textbook_bernoulli_ms", r4(book_bern));
  j.add("iwae_k", static_cast<long>(o.iwae_k)).add("iwae_images", static_cast<long>(B)).add("iwae_ms", r4(iwae_ms));
  j.add("niwae", r4(niwae)).add("loss", r4(fast.last_loss)).add("textbook_loss", r4(book.last_loss));
  j.add("vae", fmt::format("784-300-300-{}/{}-300-300-784 elu, batch {}, float32", 2 * o.z, o.z, B));
  j.add("steps", static_cast<long>(fast.step_ms.size())).add("blas_core", tz::blas::core_name());
  j.add("threads", o.threads);
  j.add("clock", cpu_clock ? "thread_cpu" : "wall").add("target_step_over_gemm", 1.3);
  double torch_step = std::nan("");
  if (!o.torch_script.empty()) {
    std::string version;
    const TorchResult torch = run_torch(o.torch_script, o.torch_iters, o.threads, version);
    torch_step = torch.step_ms;
    j.add("torch", version).add("torch_step_ms", r4(torch.step_ms)).add("torch_prepare_ms", r4(torch.prepare_ms));
    j.add("torch_over_step", r4(torch.step_ms / step));
    j.add("torch_iter_over_iter", r4((torch.step_ms + torch.prepare_ms) / (step + prep)));
    j.add("torch_over_textbook_step", r4(torch.step_ms / book_step));
    j.add("target_torch_over_step", tz::blas::core_name() == "Prescott" ? 1.0 : 1.25);
  }
  fmt::print(stderr, "{:<9} {:>9} {:>9} {:>10} {:>11}\n", "path", "step_ms", "gemm_ms", "step/gemm", "torch/step");
  for (const auto& [name, ms] : {std::pair{"fast", step}, std::pair{"textbook", book_step}})
    fmt::print(stderr, "{:<9} {:>9.3f} {:>9.3f} {:>10.3f} {:>11.3f}\n", name, ms, gemm, ms / gemm, torch_step / ms);
  fmt::print("{}\n", j.str());
  return 0;
}
