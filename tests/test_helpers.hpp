// Small helpers shared by the tests: matrices written out, hand computations, random binary rows, a
// short training run of an image model, and a temporary folder.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <string>
#include <utility>
#include <system_error>
#include <vector>

#include <unistd.h>

#include <xtensor/xarray.hpp>

#include "autograd/random.hpp"
#include "datasets/files.hpp"
#include "distributions/distributions.hpp"
#include "models/conformance.hpp"
#include "models/model.hpp"
#include "nn/optim.hpp"

namespace tz::test {

// ---- values written out ---------------------------------------------------------------------------

// A braced A{{…}} with a single row is ambiguous for xt::xarray, so matrices are written
// mat({{…}, {…}}).
template <class T = double>
xt::xarray<T> mat(std::initializer_list<std::initializer_list<double>> rows) {
  const std::size_t r = rows.size(), c = r ? rows.begin()->size() : 0;
  xt::xarray<T> a = xt::xarray<T>::from_shape({r, c});
  std::size_t i = 0;
  for (const auto& row : rows)
    for (double v : row) a.data()[i++] = static_cast<T>(v);
  return a;
}

// Random binary rows [n, d]: intensities p ~ U[0, 1), then x ~ Bernoulli(p), both drawn from rng.
inline xt::xarray<double> binary_rows(std::size_t n, std::size_t d, Rng& rng) {
  xt::xarray<double> p = rng.uniform<double>({n, d});
  return rng.bernoulli(p);
}

// The same, drawn with their own seed.
inline xt::xarray<double> binary_rows(std::size_t n, std::size_t d, std::uint64_t seed) {
  Rng rng(seed);
  return binary_rows(n, d, rng);
}

// ---- hand computations with plain doubles ---------------------------------------------------------

// log 2π, computed here rather than taken from the library: the hand computations stay independent.
inline const double kLog2Pi = std::log(2 * M_PI);

// log(1 + e^l), stable.
inline double softplus(double l) { return std::max(l, 0.0) + std::log1p(std::exp(-std::abs(l))); }

// log N(x; m, v) of one coordinate.
inline double log_n(double x, double m, double v) { return -0.5 * (kLog2Pi + std::log(v) + (x - m) * (x - m) / v); }

// The two terms of −ELBO(x|y) = rec + KL for each row, written out by hand with plain loops from the
// encoder q(z|x,y) and decoder p(x|z,y) of a conditional model (ssvae, fsvae), for the noise ε [n, z]:
//   z = m + √v ε,  rec = −Σ_j [x_j l_j − softplus(l_j)],  KL = ½ Σ_j (v_j + m_j² − 1 − log v_j)
struct HandTerms {
  std::vector<double> rec, kl;
};

template <class Model>
HandTerms conditional_elbo_by_hand(const Model& model, const xt::xarray<double>& x, const std::vector<int>& y,
                                   const xt::xarray<double>& eps) {
  const std::size_t n = x.shape()[0], d = x.shape()[1], zd = model.options().z;
  Tape<double> tape;
  Var<double> yv = tape.constant(one_hot<double>(y, model.options().classes));
  auto [m, v] = model.encode(tape, tape.constant(x), yv);
  xt::xarray<double> z = xt::xarray<double>::from_shape({n, zd});
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < zd; ++j) z(i, j) = m.value()(i, j) + std::sqrt(v.value()(i, j)) * eps(i, j);
  const xt::xarray<double> l = model.decode(tape, tape.constant(z), yv).value();
  HandTerms out{std::vector<double>(n, 0.0), std::vector<double>(n, 0.0)};
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t p = 0; p < d; ++p) out.rec[i] -= x(i, p) * l(i, p) - softplus(l(i, p));
    for (std::size_t j = 0; j < zd; ++j) {
      const double mj = m.value()(i, j), vj = v.value()(i, j);
      out.kl[i] += 0.5 * (vj + mj * mj - 1 - std::log(vj));
    }
  }
  return out;
}

// ---- the model tests (tests/test_model_*.cpp) -----------------------------------------------------

// The float64 gradcheck of a model's loss on a batch (40 elements of each parameter, relative
// tolerance 1e-6), with the same noise, Rng(7), on every evaluation.
inline models::CheckResult gradcheck_loss(const std::string& what, models::Model<double>& model,
                                          const models::Batch<double>& batch) {
  return models::gradcheck_params(what, model.params(), [&](Tape<double>& tape) {
    Rng noise(7);  // the same ε every time
    return model.loss(tape, batch, noise).value;
  }, /*per_param=*/40, /*rtol=*/1e-6);
}

// A short training run of an image model. The loss on a fixed batch (the first `rows` training rows,
// with their labels when `labels`, prepared once by the model with rng; noise Rng(1), no gradients)
// before and after `steps` Adam steps (learning rate 1e-3), each on 32 training rows drawn at random
// with rng (with their labels when `labels`) and prepared by the model.
struct BeforeAfter {
  double before, after;
};

inline double loss_without_grad(models::Model<float>& model, const models::Batch<float>& batch) {
  Tape<float> tape;
  NoGrad<float> no_grad(tape);
  Rng noise(1);
  return model.loss(tape, batch, noise).value.item();
}

inline BeforeAfter short_training_run(models::Model<float>& model, const models::Dataset& data, std::size_t rows,
                                      int steps, bool labels, Rng& rng) {
  const std::size_t n = data.train_x.shape()[0], d = data.train_x.shape()[1];
  models::Batch<float> fixed;
  fixed.x = xt::xarray<float>::from_shape({rows, d});
  std::copy_n(data.train_x.data(), rows * d, fixed.x.data());
  if (labels) fixed.y.assign(data.train_y.begin(), data.train_y.begin() + static_cast<std::ptrdiff_t>(rows));
  model.prepare_batch(fixed, rng);
  const double before = loss_without_grad(model, fixed);

  nn::Adam<float> adam(model.params().all(), {.lr = 1e-3});
  Tape<float> tape;
  for (int t = 0; t < steps; ++t) {
    models::Batch<float> b;
    b.x = xt::xarray<float>::from_shape({32, d});
    for (std::size_t r = 0; r < 32; ++r) {
      const std::size_t i = rng.below(n);
      if (labels) b.y.push_back(data.train_y[i]);
      for (std::size_t p = 0; p < d; ++p) b.x(r, p) = data.train_x(i, p);
    }
    model.prepare_batch(b, rng);
    tape.clear();
    model.params().zero_grad();
    tape.backward(model.loss(tape, b, rng).value);
    adam.step();
  }
  return {before, loss_without_grad(model, fixed)};
}

// Metrics by name.
inline std::map<std::string, double> as_map(const models::Metrics& m) { return {m.begin(), m.end()}; }

// ---- files ----------------------------------------------------------------------------------------

// A fresh folder under /tmp, removed with everything in it at the end of the test.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tapezoo-test-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& name) const { return (path / name).string(); }
  // The names of the files in it, sorted.
  std::vector<std::string> files() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(path)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
};

// The message of the FileError thrown by f (fails the test if none is thrown).
template <class F>
std::string file_error(F&& f) {
  try {
    f();
  } catch (const FileError& e) {
    return e.what();
  }
  FAIL("expected a tz::FileError");
  return {};
}

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// ---- running the programs of this build -----------------------------------------------------------

// A program of this build, by its path under the build folder: "app/tapezoo", "tutorials/00_autograd".
// The test executables live in <build>/tests/, so <build> is two levels above this process.
inline std::filesystem::path built_program(const std::string& relative) {
  return std::filesystem::read_symlink("/proc/self/exe").parent_path().parent_path() / relative;
}
inline std::filesystem::path tapezoo_program() { return built_program("app/tapezoo"); }

// Exit status (as pclose gives it) and everything the command printed, stdout and stderr.
inline std::pair<int, std::string> run_status(const std::string& command) {
  std::string out;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  return {::pclose(p), out};
}

// Its output; the test fails (naming the command and its output) when it exits nonzero.
inline std::string run(const std::string& command) {
  const auto [status, out] = run_status(command);
  CHECK_MESSAGE(status == 0, command << " exited with status " << status << ":\n" << out);
  return out;
}

}  // namespace tz::test
