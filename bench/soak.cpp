// bench/soak: every registered model trained for a few hundred iterations under many seeds,
// looking for the rare run that goes non-finite.
//
// A NaN that shows up once in a hundred seeds never shows in a test suite, yet a student running a
// sweep meets it. For each model and each seed this runs `./zoo train <model> --iters 300 --seed s`
// through the shared training loop with its finiteness checks on (TrainOptions::check_finite):
// every step's loss and loss terms, every parameter's gradient after the backward sweep, and every
// metric of the final evaluation must be finite. The first non-finite value of a run ends that run
// and is reported with the model, the seed, the iteration and what it was.
//
//   build/bench/soak [--models vae,ssvae] [--seeds 100] [--iters 300] [--data data/mnist] [--eval 100]
//
// Image models train on --data (default: the offline MNIST set in data/mnist, `./zoo data mnist
// --offline`); models whose default is synthetic data of their own (gmm, ppca: drawn from the
// seed) keep it.
// One JSON line on stdout: {"bench": "soak", "runs": …, "nonfinite": …, "models": [...]}; the
// exit status is 1 when any run went non-finite. It takes about an hour on one core: it is not
// part of CI.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "autograd/blas.hpp"
#include "io/flags.hpp"
#include "io/json.hpp"
#include "models/train.hpp"

namespace {

using namespace tz::models;

struct Finding {
  long seed = 0;
  std::string what;  // the loop's message: which value, at which iteration
};

struct ModelSoak {
  std::string model, data;
  long runs = 0;
  double seconds = 0;
  std::vector<Finding> findings;
};

// One run; empty when every value stayed finite, else what went wrong.
std::string soak_run(const ModelInfo& info, const std::string& data, long seed, long iters, long eval) {
  TrainOptions opt;
  opt.data = data;
  opt.iters = iters;
  opt.seed = static_cast<unsigned long>(seed);
  opt.eval = eval;
  opt.log_every = iters;
  opt.quiet = true;
  opt.check_finite = true;
  opt.lr = info.default_lr;
  try {
    const TrainResult r = train(info, Config::from(info.flags, {}, info.name), opt);
    for (const auto& [name, v] : r.metrics)
      if (!std::isfinite(v)) return fmt::format("metric {} is {} after training", name, v);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

std::string json_of(const std::vector<ModelSoak>& soaks, long seeds, long iters) {
  long runs = 0, bad = 0;
  std::string models;
  for (const ModelSoak& s : soaks) {
    runs += s.runs;
    bad += static_cast<long>(s.findings.size());
    std::string findings;
    for (const Finding& f : s.findings)
      findings += (findings.empty() ? "" : ", ") + tz::JsonLine().add("seed", f.seed).add("what", f.what).str();
    tz::JsonLine row;
    row.add("model", s.model).add("data", s.data).add("runs", s.runs).add("seconds", s.seconds);
    row.raw("nonfinite", "[" + findings + "]");
    models += (models.empty() ? "" : ", ") + row.str();
  }
  tz::JsonLine j;
  j.add("bench", "soak").add("seeds", seeds).add("iters", iters).add("runs", runs).add("nonfinite", bad);
  j.add("blas_core", tz::blas::core_name()).raw("models", "[" + models + "]");
  return j.str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("bench/soak: every model, many seeds, looking for non-finite values", "soak");
  std::string models_flag, data = "data/mnist";
  long seeds = 100, iters = 300, eval = 100;
  app.add_option("--models", models_flag, "comma-separated models (default: every registered one)");
  app.add_option("--seeds", seeds, "seeds 0 … N−1")->capture_default_str()->check(tz::flags::positive_integer());
  app.add_option("--iters", iters, "iterations per run")->capture_default_str()->check(tz::flags::positive_integer());
  app.add_option("--data", data, "data of the image models")->capture_default_str();
  app.add_option("--eval", eval, "test rows evaluated after each run")
      ->capture_default_str()
      ->check(tz::flags::positive_integer());
  CLI11_PARSE(app, argc, argv);
  tz::blas::set_threads(1);

  std::vector<const ModelInfo*> infos;
  try {
    if (models_flag.empty())
      for (const ModelInfo& m : registry()) infos.push_back(&m);
    else
      for (const std::string& name : split(models_flag)) infos.push_back(&find_model(name));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "soak: --models: %s\n", e.what());
    return 2;
  }

  std::vector<ModelSoak> soaks;
  for (const ModelInfo* info : infos) {
    ModelSoak s;
    s.model = info->name;
    // A model whose default data is its own synthetic set keeps it; image models take --data.
    s.data = info->default_data == "synthetic" ? info->default_data : data;
    const auto t0 = std::chrono::steady_clock::now();
    for (long seed = 0; seed < seeds; ++seed) {
      const std::string what = soak_run(*info, s.data, seed, iters, eval);
      ++s.runs;
      if (!what.empty()) {
        s.findings.push_back({seed, what});
        std::fprintf(stderr, "soak: %s seed %ld: %s\n", info->name.c_str(), seed, what.c_str());
      }
    }
    s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "soak: %s: %ld runs, %zu non-finite, %.0f s\n", info->name.c_str(), s.runs,
                 s.findings.size(), s.seconds);
    soaks.push_back(std::move(s));
  }
  std::printf("%s\n", json_of(soaks, seeds, iters).c_str());
  for (const ModelSoak& s : soaks)
    if (!s.findings.empty()) return 1;
  return 0;
}
