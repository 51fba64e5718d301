// bench/gmm: EM on a Gaussian mixture, N = 100,000, D = 10, K = 10, full covariances, 100
// iterations with tol = 0, data from a seeded synthetic mixture. It writes the data (.npy) and
// the initial parameters (.npz) so that bench/gmm_sklearn.py runs scikit-learn from the same
// start, and prints one JSON line:
//
//   build-gmm/bench/gmm                      # then:
//   /usr/bin/python3 bench/gmm_sklearn.py --ours '<the JSON line>'
//
// ms_per_iter is wall-clock time of the EM loop per iteration; cpu_ms_per_iter is this thread's
// CPU time for the whole fit per iteration (steadier when other jobs share the cores).
// path is "fast" (the kernels of models/gmm_kernels.cpp) or, with TAPEZOO_TEXTBOOK=1, "textbook" (the
// plain-loop steps of models/gmm_em.cpp), so that the cost of the textbook path can be measured too.
// blas_core names OpenBLAS's kernels: 'Prescott' on a CPU that OpenBLAS 0.3.21 does not know
// (docs/pitfalls.md#openblas-kernels). OpenBLAS runs one thread per caller (docs/pitfalls.md#blas-threads).
//
// --threads 1,2 fits once per round for each thread count of the pool (autograd/parallel.hpp: the
// E-step's and M-step's blocks), the counts interleaved within each of --rounds rounds, and adds per
// count t: ms_per_iter_t<t> (the median over rounds, wall clock), its min and max, and
// speedup_t<t> = ms_per_iter_t1 / ms_per_iter_t<t>; same_bits says whether every fit gave the same
// lower bounds bit for bit. ms_per_iter and cpu_ms_per_iter are then those of the first count's
// median run (for bench/gmm_sklearn.py --ours). More threads than cores only take turns: a figure
// for 4 threads on 2 cores says what the chunking costs, not what 4 cores would give.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "autograd/blas.hpp"
#include "autograd/parallel.hpp"
#include "autograd/path.hpp"
#include "autograd/random.hpp"
#include "datasets/npy.hpp"
#include "datasets/synthetic.hpp"
#include "io/json.hpp"
#include "models/gmm.hpp"

// CPU time of this thread: on a loaded machine, less noisy than the wall clock.
double thread_cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) * 1e-6;
}

// The start: π uniform, μ_k = K distinct data points, Σ_k = the data's variance on the diagonal.
tz::models::gmm::Parameters initial_parameters(const tz::models::gmm::Matrix& x, std::size_t k,
                                               tz::models::gmm::CovarianceType type, tz::Rng& rng) {
  const std::size_t n = x.shape(0), d = x.shape(1);
  tz::models::gmm::Parameters start;
  start.weights = xt::ones<double>({k}) / static_cast<double>(k);
  start.means = tz::models::gmm::Matrix::from_shape({k, d});
  const auto order = rng.permutation(n);
  for (std::size_t c = 0; c < k; ++c)
    for (std::size_t j = 0; j < d; ++j) start.means(c, j) = x(order[c], j);
  std::vector<double> var(d, 0.0), mean(d, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < d; ++j) mean[j] += x(i, j) / static_cast<double>(n);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < d; ++j) var[j] += (x(i, j) - mean[j]) * (x(i, j) - mean[j]) / static_cast<double>(n);
  start.covariances = xt::zeros<double>(tz::models::gmm::covariance_shape(type, k, d));
  for (std::size_t c = 0; c < k; ++c)
    for (std::size_t j = 0; j < d; ++j) {
      switch (type) {
        case tz::models::gmm::CovarianceType::full: start.covariances(c, j, j) = var[j]; break;
        case tz::models::gmm::CovarianceType::tied: start.covariances(j, j) = var[j]; break;
        case tz::models::gmm::CovarianceType::diag: start.covariances(c, j) = var[j]; break;
        case tz::models::gmm::CovarianceType::spherical: start.covariances(c) += var[j] / static_cast<double>(d); break;
      }
    }
  return start;
}

int main(int argc, char** argv) {
  CLI::App app{"EM on a synthetic Gaussian mixture; compare with bench/gmm_sklearn.py"};
  std::size_t n = 100000, d = 10, k = 10, iters = 100;
  std::uint64_t seed = 0;
  std::vector<int> threads{1};
  int rounds = 1;
  std::string cov = "full", out_dir = "out/bench";
  app.add_option("--n", n, "data points")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--d", d, "dimensions")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--k", k, "components")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--iters", iters, "EM iterations (tol = 0: all of them run)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--cov", cov, "covariance type")
      ->capture_default_str()
      ->check(CLI::IsMember({"full", "tied", "diag", "spherical"}));
  app.add_option("--seed", seed, "seed of the synthetic data and the initial parameters")->capture_default_str();
  app.add_option("--threads", threads, "the pool's thread counts to compare, e.g. 1,2")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--rounds", rounds, "fits per thread count, interleaved")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--out-dir", out_dir, "where the data (gmm_data.npy) and the start (gmm_init.npz) go")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    tz::blas::set_threads(1);
    tz::blas::print_kernel_hint_once();
    const tz::models::gmm::CovarianceType type = tz::models::gmm::parse_covariance_type(cov);

    // the data: K well-spread components, each with a random rotation of its covariance
    tz::Rng rng(seed);
    tz::MixtureOptions mix;
    mix.mean_scale = 3.0;
    const tz::MixtureData data = tz::make_gaussian_mixture(n, k, d, rng, mix);
    const tz::models::gmm::Matrix& x = data.x;

    const tz::models::gmm::Parameters start = initial_parameters(x, k, type, rng);

    std::filesystem::create_directories(out_dir);
    const std::string data_path = out_dir + "/gmm_data.npy", init_path = out_dir + "/gmm_init.npz";
    tz::save_npy(data_path, x);
    tz::models::gmm::Options opt;
    opt.n_components = k;
    opt.covariance_type = type;
    opt.tol = 0;
    opt.max_iter = iters;
    opt.init_parameters = start;
    {
      tz::models::gmm::GaussianMixture initial(opt);
      initial.set_parameters(start);
      tz::models::gmm::save_parameters(init_path, initial);
    }

    // rounds × thread counts, interleaved; per count the wall ms per iteration of each fit
    struct Fit {
      double ms_per_iter, cpu_ms_per_iter, total_ms;
    };
    std::map<int, std::vector<Fit>> fits;
    std::vector<double> first_bounds;
    bool same_bits = true;
    std::optional<tz::models::gmm::GaussianMixture> model;
    for (int r = 0; r < rounds; ++r)
      for (int t : threads) {
        tz::set_pool_threads(t);
        model.emplace(opt);
        const auto t0 = std::chrono::steady_clock::now();
        const double cpu0 = thread_cpu_ms();
        model->fit(x);
        const double cpu_ms = thread_cpu_ms() - cpu0;
        const double total_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        fits[t].push_back({model->ms_per_iter(), cpu_ms / static_cast<double>(model->n_iter()), total_ms});
        const std::vector<double>& lb = model->lower_bounds();
        if (first_bounds.empty()) first_bounds = lb;
        same_bits = same_bits && lb.size() == first_bounds.size() &&
                    std::memcmp(lb.data(), first_bounds.data(), lb.size() * sizeof(double)) == 0;
      }
    // the median fit of each count (by ms_per_iter)
    auto median_fit = [&](int t) {
      std::vector<Fit> v = fits[t];
      std::sort(v.begin(), v.end(), [](const Fit& a, const Fit& b) { return a.ms_per_iter < b.ms_per_iter; });
      return std::array<Fit, 3>{v[v.size() / 2], v.front(), v.back()};
    };
    const Fit first = median_fit(threads.front())[0];

    tz::JsonLine j;
    j.add("bench", "gmm")
        .add("n", n)
        .add("d", d)
        .add("k", k)
        .add("cov", cov)
        .add("path", tz::to_string(tz::path()))
        .add("iters", model->n_iter())
        .add("ms_per_iter", first.ms_per_iter)
        .add("cpu_ms_per_iter", first.cpu_ms_per_iter)
        .add("total_ms", first.total_ms)
        .add("avg_loglik", model->score(x))
        .add("lower_bound", model->lower_bound())
        .add("blas_core", tz::blas::core_name())
        .add("threads", threads.front())
        .add("rounds", rounds);
    const double base = median_fit(fits.count(1) ? 1 : threads.front())[0].ms_per_iter;
    for (int t : threads) {
      const auto [med, lo, hi] = median_fit(t);
      j.add(fmt::format("ms_per_iter_t{}", t), med.ms_per_iter)
          .add(fmt::format("ms_per_iter_t{}_min", t), lo.ms_per_iter)
          .add(fmt::format("ms_per_iter_t{}_max", t), hi.ms_per_iter)
          .add(fmt::format("speedup_t{}", t), base / med.ms_per_iter);
    }
    j.add("same_bits", same_bits)
        .add("data", data_path)
        .add("init", init_path);
    j.print();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench/gmm: %s\n", e.what());
    return 1;
  }
  return 0;
}
