// bench/eval_threads: the IWAE-k evaluation on the pool of --threads (issue 16 §3), beside its
// PyTorch twin (bench/eval_torch.py) at the same thread counts.
//
//   build/bench/eval_threads --threads 1,2 --rounds 3 --torch bench/eval_torch.py
//
// What is timed: VAE::negative_iwae_bound_eval (models/vae_eval.cpp) of the first --images binarized
// test images of --data, k = --k importance samples each, for the default VAE (784-300-300-2·10,
// decoder 10-300-300-784), float32, at its initial parameters (the work does not depend on what the
// weights are). Groups of 100 images run in parallel, each on its own tape and generator. Each round
// runs every thread count once, then the twin once per thread count, so that all see the same machine.
// Per count t, wall clock, median over rounds with min and max:
//   ms_t<t>, speedup_t<t> = ms_t1 / ms_t<t>, and with --torch: torch_ms_t<t> and
//   torch_over_ours_t<t> = torch_ms_t<t> / ms_t<t> (target ≥ 1.25 at every t).
// same_bits: every run gave the same −L_k for every image, bit for bit (the seed is the same).
// The twin gets OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = t and torch.set_num_threads(t): PyTorch's
// own way to use t cores, its matrix products and elementwise ops split t ways. More threads than
// cores only take turns: a figure for 4 threads on 2 cores measures the overhead, not 4 cores.
// The load average before and after is printed (load_before, load_after): a shared machine's noise.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <fmt/format.h>

#include "autograd/blas.hpp"
#include "autograd/parallel.hpp"
#include "autograd/random.hpp"
#include "datasets/image_dataset.hpp"
#include "io/json.hpp"
#include "models/vae.hpp"
#include "models/vae_common.hpp"

namespace {

double load_average() {
  double one = NAN;
  std::ifstream f("/proc/loadavg");
  f >> one;
  return one;
}

struct Stats {
  double median, min, max;
};
Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.front(), v.back()};
}

// The twin's "ms" for one thread count, or NaN (with its output on stderr) if it failed.
double run_twin(const std::string& script, const std::string& data, std::size_t images, std::size_t k, int t) {
  const std::string out_file = fmt::format("/tmp/eval_torch_{}.json", static_cast<long>(::getpid()));
  const std::string cmd = fmt::format(
      "OMP_NUM_THREADS={0} OPENBLAS_NUM_THREADS={0} /usr/bin/python3 '{1}' --threads {0} --data '{2}' --images {3} "
      "--k {4} > '{5}' 2>&1", t, script, data, images, k, out_file);
  const int status = std::system(cmd.c_str());
  std::stringstream text;
  text << std::ifstream(out_file).rdbuf();
  std::remove(out_file.c_str());
  const std::string s = text.str();
  const auto at = s.rfind("\"ms\": ");
  if (status != 0 || at == std::string::npos) {
    std::fprintf(stderr, "eval_threads: '%s' failed:\n%s\n", cmd.c_str(), s.c_str());
    return NAN;
  }
  return std::stod(s.substr(at + 6));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tapezoo: the IWAE-k evaluation with 1, 2, … threads, beside its PyTorch twin (bench/eval_torch.py)"};
  std::vector<int> threads{1, 2};
  int rounds = 3;
  std::size_t images = 1000, k = 1000;
  std::string data = "data/mnist", torch;
  app.add_option("--threads", threads, "thread counts, e.g. 1,2")->delimiter(',')->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--rounds", rounds, "rounds, each running every thread count once")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--images", images, "test images evaluated")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--k", k, "importance samples per image")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--data", data, "an IDX folder with the test images")->capture_default_str();
  app.add_option("--torch", torch, "also time the PyTorch twin, e.g. bench/eval_torch.py");
  CLI11_PARSE(app, argc, argv);
  try {
    tz::blas::set_threads(1);
    tz::blas::print_kernel_hint_once();
    const tz::models::Dataset set = tz::load_image_dataset(data);
    const tz::Array<float> all = tz::models::binarized_test_rows(set);
    if (all.shape()[0] < images)
      throw std::invalid_argument(fmt::format("--images {}: {} has {} test images", images, data, all.shape()[0]));
    const tz::Array<float> x = tz::models::rows_as<float>(all, 0, images);
    tz::Rng init(0);
    tz::models::VAE<float> vae(tz::models::VAEOptions{}, init);

    const double load_before = load_average();
    std::map<int, std::vector<double>> ours, twin;
    std::vector<double> first;
    bool same_bits = true;
    for (int r = 0; r < rounds; ++r) {
      for (int t : threads) {
        tz::set_pool_threads(t);
        tz::Rng rng(1);
        const auto t0 = std::chrono::steady_clock::now();
        const std::vector<double> v = vae.negative_iwae_bound_eval(x, k, rng);
        ours[t].push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        if (first.empty()) first = v;
        same_bits = same_bits && std::memcmp(v.data(), first.data(), v.size() * sizeof(double)) == 0;
      }
      tz::set_pool_threads(1);
      if (!torch.empty())
        for (int t : threads) twin[t].push_back(run_twin(torch, data, images, k, t));
    }
    double mean_niwae = 0;
    for (double v : first) mean_niwae += v / static_cast<double>(first.size());

    tz::JsonLine j;
    j.add("bench", "eval_threads").add("images", images).add("k", k).add("rounds", rounds);
    j.add("blas_core", tz::blas::core_name()).add("test_niwae", mean_niwae).add("same_bits", same_bits);
    const double base = stats(ours[threads.front()]).median;
    for (int t : threads) {
      const Stats s = stats(ours[t]);
      j.add(fmt::format("ms_t{}", t), s.median).add(fmt::format("ms_t{}_min", t), s.min).add(fmt::format("ms_t{}_max", t), s.max);
      j.add(fmt::format("speedup_t{}", t), base / s.median);
      if (!torch.empty()) {
        const Stats ts = stats(twin[t]);
        j.add(fmt::format("torch_ms_t{}", t), ts.median).add(fmt::format("torch_ms_t{}_min", t), ts.min);
        j.add(fmt::format("torch_ms_t{}_max", t), ts.max).add(fmt::format("torch_over_ours_t{}", t), ts.median / s.median);
      }
    }
    j.add("load_before", load_before).add("load_after", load_average());
    j.print();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench/eval_threads: %s\n", e.what());
    return 1;
  }
  return 0;
}
