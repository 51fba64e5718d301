// bench/tape_overhead: what the tape itself costs, next to the arithmetic it records.
//
//   (a) us_per_op       a chain of --chain elementwise ops (default 1,000) on a [4]-element float
//                       tensor, recorded then swept backward, tape.clear() between repetitions:
//                       median µs per recorded op (its forward and its backward). Target ≤ 1 µs.
//   (b) mlp_fwd_bwd_ms  forward + backward of a 784-300-300-20 ELU MLP at batch 100, float32,
//                       through the tape (linear, elu, mean(square(y))): median ms.
//       mlp_gemm_ms     the same 8 matrix products made directly through tz::blas::gemm on
//                       preallocated buffers: 3 forward, and in backward gW = hᵀ·gy for every
//                       layer and gh = gy·Wᵀ for the two hidden inputs. The tape skips the gradient
//                       of the data x (a constant), so this floor skips it too.
//       ratio           mlp_fwd_bwd_ms / mlp_gemm_ms. Target ≤ 1.3. The two run back to back in
//                       every repetition; ratio_paired_median is the median of the per-repetition
//                       ratios.
//   *_cpu               the same medians in this thread's CPU time (CLOCK_THREAD_CPUTIME_ID; with
//                       one BLAS thread the gemms run on it). On a busy machine wall times come in
//                       scheduler slices of a few ms; CPU times do not count the waiting.
//
//   --memory-steps N    instead: N training steps of the same MLP (forward, backward, plain SGD,
//                       zero_grad, tape.clear()), reporting the current RSS (/proc/self/statm, not
//                       the peak) at step N/10 and at step N. Target: rss_ratio within 1 ± 0.05.
//                       Also the bytes held from malloc (mallinfo2) at both steps: any leak shows.
//                       Exits 1 when the RSS target is missed.
//
// One JSON line on stdout. One BLAS thread unless --threads N (docs/pitfalls.md#blas-threads). The OpenBLAS kernels
// are chosen when the library loads: compare `OPENBLAS_CORETYPE=SkylakeX build/bench/tape_overhead`
// (set in the shell for that one command, never in code: docs/pitfalls.md#openblas-kernels); blas_core says which ran.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "autograd/blas.hpp"
#include "autograd/ops.hpp"
#include "autograd/random.hpp"
#include "bench/memory_usage.hpp"  // current_rss_bytes, heap_in_use_bytes

namespace {

using Clock = std::chrono::steady_clock;
using tz::Array;
using tz::Param;
using tz::Tape;
using tz::Var;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// CPU time of this thread in seconds. With one BLAS thread the gemms run on it too. Unlike wall
// time it does not count the time the thread waits while others run: on a shared machine it is
// the steadier measure.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// ---- (a) a chain of tiny elementwise ops ---------------------------------------------------------

// Records `chain` ops on a [4] tensor — a cycle of unary and binary ops with derivatives from x and
// from y — then one backward. Returns µs per op for the record-and-backward of the whole chain, in
// wall time and (into *cpu_us) in this thread's CPU time.
double chain_us_per_op(Tape<float>& tape, int chain, double* cpu_us = nullptr) {
  const auto t0 = Clock::now();
  const double c0 = thread_cpu_seconds();
  Var<float> x = tape.leaf(Array<float>{0.5f, -0.25f, 1.0f, 0.75f});
  Var<float> h = x;
  int recorded = 1;
  while (recorded < chain - 1) {  // leave one op for the final sum
    switch (recorded % 4) {
      case 0: h = h * x; break;          // binary: both contributions reach x
      case 1: h = tanh(h); break;        // derivative from y
      case 2: h = h + x; break;          // binary
      default: h = 0.5 * h; break;       // scalar
    }
    ++recorded;
  }
  Var<float> loss = sum(h);
  tape.backward(loss);
  const double s = seconds_since(t0);
  if (cpu_us) *cpu_us = (thread_cpu_seconds() - c0) * 1e6 / static_cast<double>(chain);
  if (!std::isfinite(x.grad()(0))) std::fprintf(stderr, "warning: non-finite gradient in the chain\n");
  tape.clear();
  return s * 1e6 / static_cast<double>(chain);  // leaf + (chain − 2) ops + sum = chain nodes
}

// ---- (b) the MLP ----------------------------------------------------------------------------------

constexpr std::size_t kBatch = 100;
const std::vector<std::size_t> kSizes = {784, 300, 300, 20};

struct Mlp {
  std::vector<Param<float>> W, b;

  // W ~ U(−1/√fan_in, 1/√fan_in), b likewise (PyTorch's nn.Linear default).
  Mlp(const std::vector<std::size_t>& sizes, tz::Rng& rng) {
    for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
      const float a = 1.0f / std::sqrt(static_cast<float>(sizes[l]));
      W.emplace_back(fmt::format("W{}", l + 1), rng.uniform<float>({sizes[l], sizes[l + 1]}, -a, a));
      b.emplace_back(fmt::format("b{}", l + 1), rng.uniform<float>({sizes[l + 1]}, -a, a));
    }
  }

  // y = elu(elu(x W1 + b1) W2 + b2) W3 + b3   (rows are examples);   L = mean(y²)
  Var<float> loss(Tape<float>& tape, const Array<float>& x) {
    Var<float> h = tape.constant(x, "x");
    for (std::size_t l = 0; l < W.size(); ++l) {
      h = linear(h, tape.param(W[l]), tape.param(b[l]));
      if (l + 1 < W.size()) h = elu(h);
    }
    return mean(square(h));
  }

  void sgd_step(float lr) {
    for (auto* group : {&W, &b})
      for (auto& p : *group) {
        float* v = p.value.data();
        const float* g = p.grad.data();
        for (std::size_t i = 0; i < p.value.size(); ++i) v[i] -= lr * g[i];
        p.zero_grad();
      }
  }
};

// The floor: the matrix products of one forward and backward, and nothing else.
struct GemmFloor {
  std::vector<std::vector<float>> h;   // h[0] = x, h[l] = layer l's output (pre- or post-elu alike)
  std::vector<std::vector<float>> gh;  // gradient of h[l] (l ≥ 1)
  std::vector<std::vector<float>> gW;

  explicit GemmFloor(const std::vector<std::size_t>& sizes) {
    for (std::size_t s : sizes) {
      h.emplace_back(kBatch * s, 0.01f);
      gh.emplace_back(kBatch * s, 0.01f);
    }
    for (std::size_t l = 0; l + 1 < sizes.size(); ++l) gW.emplace_back(sizes[l] * sizes[l + 1], 0.0f);
  }

  // Like Param::zero_grad(), outside the timed region.
  void zero_grad() {
    for (auto& g : gW) std::fill(g.begin(), g.end(), 0.0f);
  }

  void run(const Mlp& net, const std::vector<std::size_t>& sizes) {
    const std::size_t L = net.W.size();
    // forward: h[l+1] = h[l] @ W (beta = 0: the floor leaves out linear()'s bias copy)
    for (std::size_t l = 0; l < L; ++l)
      tz::blas::gemm(false, false, kBatch, sizes[l + 1], sizes[l], 1.0f, h[l].data(), sizes[l],
                     net.W[l].value.data(), sizes[l + 1], 0.0f, h[l + 1].data(), sizes[l + 1]);
    // backward, last layer first: gW += hᵀ @ gy (beta = 1 into Param::grad); gh = gy @ Wᵀ (beta 0)
    for (std::size_t l = L; l-- > 0;) {
      const std::size_t in = sizes[l], out = sizes[l + 1];
      tz::blas::gemm(true, false, in, out, kBatch, 1.0f, h[l].data(), in, gh[l + 1].data(), out, 1.0f,
                     gW[l].data(), out);
      if (l > 0)  // no gradient into the data x
        tz::blas::gemm(false, true, kBatch, in, out, 1.0f, gh[l + 1].data(), out, net.W[l].value.data(),
                       out, 0.0f, gh[l].data(), in);
    }
  }
};

int run_memory(int steps, std::uint64_t seed, int threads) {
  tz::Rng rng(seed);
  Mlp net(kSizes, rng);
  Array<float> x = rng.normal<float>({kBatch, kSizes[0]});
  Tape<float> tape;
  const int early = std::max(1, steps / 10);
  long rss_early = 0, rss_last = 0, heap_early = 0, heap_last = 0;
  double first_loss = 0, last_loss = 0;
  const auto t0 = Clock::now();
  for (int step = 1; step <= steps; ++step) {
    rng.fill_normal(x);  // fresh data each step, drawn into the same buffer
    Var<float> loss = net.loss(tape, x);
    tape.backward(loss);
    if (step == 1) first_loss = loss.item();
    last_loss = loss.item();
    net.sgd_step(0.01f);
    tape.clear();
    if (step == early) {
      rss_early = tz::bench::current_rss_bytes();
      heap_early = tz::bench::heap_in_use_bytes();
    }
    if (step == steps) {
      rss_last = tz::bench::current_rss_bytes();
      heap_last = tz::bench::heap_in_use_bytes();
    }
  }
  const double ratio = static_cast<double>(rss_last) / static_cast<double>(rss_early);
  const bool flat = std::abs(ratio - 1.0) <= 0.05;  // the target
  fmt::print(
      "{{\"bench\": \"tape_overhead_memory\", \"steps\": {}, \"early_step\": {}, "
      "\"rss_early_mb\": {:.3f}, \"rss_last_mb\": {:.3f}, \"rss_ratio\": {:.4f}, \"flat\": {}, "
      "\"heap_early_bytes\": {}, \"heap_last_bytes\": {}, \"first_loss\": {:.6g}, \"last_loss\": {:.6g}, "
      "\"seconds\": {:.1f}, \"blas_core\": \"{}\", \"threads\": {}}}\n",
      steps, early, rss_early / 1048576.0, rss_last / 1048576.0, ratio, flat, heap_early, heap_last,
      first_loss, last_loss, seconds_since(t0), tz::blas::core_name(), threads);
  return flat ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("tapezoo: the tape's overhead per op, and an MLP against its matrix products alone");
  int threads = 1, reps = 200, chain_reps = 2000, chain = 1000, memory_steps = 0;
  std::uint64_t seed = 1;
  bool dump = false;
  app.add_option("--threads", threads, "OpenBLAS threads")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--reps", reps, "repetitions of the MLP forward+backward (and of its gemms)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--chain-reps", chain_reps, "repetitions of the op chain")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--chain", chain, "ops per chain")->capture_default_str()->check(CLI::Range(2, 1000000));
  app.add_option("--memory-steps", memory_steps,
                 "run this many MLP training steps and report RSS at N/10 and N instead")
      ->capture_default_str();
  app.add_option("--seed", seed, "seed of the parameters and data")->capture_default_str();
  app.add_flag("--dump", dump, "print every MLP repetition's times to stderr");
  CLI11_PARSE(app, argc, argv);

  tz::blas::set_threads(threads);
  tz::blas::print_kernel_hint_once();
  if (memory_steps > 0) return run_memory(memory_steps, seed, threads);

  // (a) tiny ops. The first repetitions grow the tape's node storage; the rest recycle it.
  Tape<float> tape;
  for (int i = 0; i < 20; ++i) chain_us_per_op(tape, chain);
  std::vector<double> per_op, per_op_cpu;
  for (int i = 0; i < chain_reps; ++i) {
    double cpu = 0;
    per_op.push_back(chain_us_per_op(tape, chain, &cpu));
    per_op_cpu.push_back(cpu);
  }

  // (b) the MLP, through the tape and as bare gemms, interleaved so both see the same machine.
  tz::Rng rng(seed);
  Mlp net(kSizes, rng);
  const Array<float> x = rng.normal<float>({kBatch, kSizes[0]});
  GemmFloor floor(kSizes);
  std::copy(x.begin(), x.end(), floor.h[0].begin());
  std::vector<double> mlp_ms, gemm_ms, paired, mlp_cpu, gemm_cpu;
  double loss_value = 0;
  for (int i = 0; i < reps + 5; ++i) {
    auto t0 = Clock::now();
    double c0 = thread_cpu_seconds();
    Var<float> loss = net.loss(tape, x);
    tape.backward(loss);
    const double m = seconds_since(t0) * 1e3;
    const double mc = (thread_cpu_seconds() - c0) * 1e3;
    loss_value = loss.item();
    tape.clear();
    for (auto* group : {&net.W, &net.b})
      for (auto& p : *group) p.zero_grad();  // outside the timed region, like the SGD step

    floor.zero_grad();
    t0 = Clock::now();
    c0 = thread_cpu_seconds();
    floor.run(net, kSizes);
    const double g = seconds_since(t0) * 1e3;
    const double gc = (thread_cpu_seconds() - c0) * 1e3;
    if (dump) std::fprintf(stderr, "rep %d  mlp %.3f ms (cpu %.3f)  gemm %.3f ms (cpu %.3f)\n", i, m, mc, g, gc);
    if (i >= 5) {  // warm-up: first touches of the node storage and BLAS buffers
      mlp_ms.push_back(m);
      gemm_ms.push_back(g);
      mlp_cpu.push_back(mc);
      gemm_cpu.push_back(gc);
      paired.push_back(m / g);  // the two ran back to back: robust to load that comes and goes
    }
  }
  const double us_per_op = median(per_op);
  const double mlp = median(mlp_ms), gemm = median(gemm_ms);
  const double mlp_c = median(mlp_cpu), gemm_c = median(gemm_cpu);
  fmt::print(
      "{{\"bench\": \"tape_overhead\", \"us_per_op\": {:.4f}, \"us_per_op_cpu\": {:.4f}, \"chain\": {}, "
      "\"chain_reps\": {}, "
      "\"mlp_fwd_bwd_ms\": {:.4f}, \"mlp_gemm_ms\": {:.4f}, \"ratio\": {:.4f}, \"ratio_paired_median\": {:.4f}, "
      "\"mlp_fwd_bwd_cpu_ms\": {:.4f}, \"mlp_gemm_cpu_ms\": {:.4f}, \"ratio_cpu\": {:.4f}, "
      "\"mlp\": \"784-300-300-20 elu, batch 100, float32\", \"reps\": {}, \"loss\": {:.6g}, "
      "\"blas_core\": \"{}\", \"threads\": {}, \"target_us_per_op\": 1.0, \"target_ratio\": 1.3}}\n",
      us_per_op, median(per_op_cpu), chain, chain_reps, mlp, gemm, mlp / gemm, median(paired), mlp_c, gemm_c, mlp_c / gemm_c, reps,
      loss_value, tz::blas::core_name(), threads);
  return 0;
}
