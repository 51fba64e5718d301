// Tests of autograd/parallel.hpp and of what runs on it: every chunk once, the lowest chunk's error,
// the caller's floating-point mode and OpenBLAS's thread count on the workers, and results that are
// bit for bit the same with 1, 2 and 3 threads (the IWAE evaluation, the VAE's test metrics, the
// GMM's E-step and EM, tutorial 05's grid quadrature, a training run). A pool of 3 threads on a machine with fewer cores still runs every chunk:
// the threads take turns, so none of these checks depends on the number of cores.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "autograd/blas.hpp"
#include "autograd/parallel.hpp"
#include "datasets/npy.hpp"
#include "models/fsvae.hpp"
#include "models/gmm.hpp"
#include "models/vamp.hpp"
#include "models/ssvae.hpp"
#include "models/train.hpp"
#include "models/vae.hpp"
#include "tests/gmm_test_data.hpp"
#include "tests/test_helpers.hpp"
#include "tutorials/iwae_grid.hpp"

using tz::Rng;
using tz::models::VAE;
using tz::models::VAEOptions;

namespace {

// The pool at n threads for one scope, and back to 1 after.
struct Threads {
  explicit Threads(int n) { tz::set_pool_threads(n); }
  ~Threads() { tz::set_pool_threads(1); }
};

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

VAEOptions small_vae() {
  VAEOptions o;
  o.x_dim = 12;
  o.hidden = 8;
  o.z = 3;
  o.eval_rows = 500;  // several decoder chunks per group of 100 images
  return o;
}

}  // namespace

TEST_CASE("parallel_for runs every chunk exactly once, for 1, 2 and 3 threads") {
  for (int n : {1, 2, 3}) {
    CAPTURE(n);
    Threads threads(n);
    CHECK(tz::pool_threads() == n);
    for (std::size_t chunks : {0u, 1u, 2u, 7u, 1000u}) {
      std::vector<std::atomic<int>> runs(chunks);
      tz::parallel_for(chunks, [&](std::size_t c) { runs[c].fetch_add(1); });
      int total = 0, wrong = 0;
      for (auto& r : runs) {
        total += r.load();
        wrong += r.load() != 1;
      }
      CHECK(total == static_cast<int>(chunks));
      CHECK(wrong == 0);
    }
  }
}

TEST_CASE("a parallel_for inside a job runs its chunks in order on the same thread") {
  Threads threads(2);
  std::vector<std::vector<std::size_t>> order(4);
  std::vector<int> other_thread(4, 0);
  tz::parallel_for(4, [&](std::size_t c) {
    const std::thread::id outer = std::this_thread::get_id();
    tz::parallel_for(5, [&](std::size_t i) {
      order[c].push_back(i);
      other_thread[c] += std::this_thread::get_id() != outer;
    });
  });
  for (std::size_t c = 0; c < 4; ++c) {
    CHECK(order[c] == std::vector<std::size_t>{0, 1, 2, 3, 4});
    CHECK(other_thread[c] == 0);
  }
}

TEST_CASE("the error of the lowest failing chunk is rethrown, after every chunk has run") {
  for (int n : {1, 2, 3}) {
    CAPTURE(n);
    Threads threads(n);
    std::atomic<int> ran{0};
    std::string message;
    try {
      tz::parallel_for(40, [&](std::size_t c) {
        ran.fetch_add(1);
        if (c == 31 || c == 17 || c == 38) throw std::runtime_error("chunk " + std::to_string(c));
      });
    } catch (const std::runtime_error& e) {
      message = e.what();
    }
    CHECK(message == "chunk 17");
    CHECK(ran.load() == 40);
  }
  CHECK_THROWS_WITH_AS(tz::set_pool_threads(0), "set_pool_threads: expected at least 1 thread, got 0",
                       std::invalid_argument);
}

TEST_CASE("workers take the caller's floating-point mode and run OpenBLAS at one thread") {
  Threads threads(3);
  const int blas_before = tz::blas::threads();
  tz::blas::set_threads(2);
  const int blas_asked = tz::blas::threads();  // 2, or 1 in an OpenBLAS built for one thread
  std::vector<int> blas_in_job(64, -1);
#if defined(__SSE__)
  const unsigned csr = _mm_getcsr();
  _mm_setcsr(csr | 0x8040);  // flush-to-zero and denormals-are-zero
  std::vector<unsigned> seen(64, 0);
  tz::parallel_for(64, [&](std::size_t c) {
    seen[c] = _mm_getcsr();
    blas_in_job[c] = tz::blas::threads();
  });
  _mm_setcsr(csr);
  for (unsigned s : seen) CHECK(s == (csr | 0x8040));
#else
  tz::parallel_for(64, [&](std::size_t c) { blas_in_job[c] = tz::blas::threads(); });
#endif
  for (int b : blas_in_job) CHECK(b == 1);
  CHECK(tz::blas::threads() == blas_asked);  // restored after the job
  tz::blas::set_threads(blas_before);
}

TEST_CASE("chunk_rng: the same stream for the same (seed, chunk), different streams otherwise") {
  Rng a = tz::chunk_rng(5, 3), b = tz::chunk_rng(5, 3), c = tz::chunk_rng(5, 4), d = tz::chunk_rng(6, 3);
  const std::uint64_t a0 = a.next_u64();
  CHECK(a0 == b.next_u64());
  CHECK(a0 != c.next_u64());
  CHECK(a0 != d.next_u64());
  // neighbouring chunks are not shifted copies of one another (as Rng(seed + c) would nearly be)
  Rng e = tz::chunk_rng(5, 3), f = tz::chunk_rng(5, 4);
  std::vector<std::uint64_t> from_e(8), from_f(8);
  for (auto& v : from_e) v = e.next_u64();
  for (auto& v : from_f) v = f.next_u64();
  for (std::uint64_t v : from_e)
    for (std::uint64_t w : from_f) CHECK(v != w);
}

TEST_CASE("the IWAE evaluation and the VAE's test metrics are bit for bit the same for 1, 2 and 3 threads") {
  Rng init(3);
  VAE<float> vae(small_vae(), init);
  // 350 images: four groups of 100, the last one short
  const tz::Array<float> x = tz::test::binary_rows(350, 12, 4);
  tz::models::Dataset data;
  data.test_x = x;
  std::vector<double> niwae[3], log_w[3];
  tz::models::Metrics metrics[3];
  for (int n : {1, 2, 3}) {
    Threads threads(n);
    Rng a(9), b(9), c(9);
    niwae[n - 1] = vae.negative_iwae_bound_eval(x, 40, a);
    log_w[n - 1] = vae.log_importance_weights_eval(x, 40, b);
    metrics[n - 1] = vae.evaluate(data, c);
  }
  REQUIRE(niwae[0].size() == 350);
  REQUIRE(metrics[0].size() == 3 + vae.options().iwae.size());
  for (int n : {2, 3}) {
    CAPTURE(n);
    CHECK(same_bits(niwae[0], niwae[n - 1]));
    CHECK(same_bits(log_w[0], log_w[n - 1]));
    for (std::size_t i = 0; i < metrics[0].size(); ++i) {
      CAPTURE(metrics[0][i].first);
      CHECK(metrics[n - 1][i].first == metrics[0][i].first);
      CHECK(same_bits(metrics[n - 1][i].second, metrics[0][i].second));
    }
  }
  // and the groups differ from one another: each draws from its own generator (a group that
  // reused another's ε would still give equal bits across thread counts)
  CHECK(niwae[0][0] != niwae[0][100]);
}

TEST_CASE("the GMM's E-step and EM give the same bits for 1, 2 and 3 threads") {
  // 5,000 points: 79 blocks of 64, three chunks of kChunkBlocks blocks, the last one short
  const Matrix x = overlapping_data(5000, 2);
  for (CovarianceType type : kAllTypes) {
    CAPTURE(tz::models::gmm::to_string(type));
    std::vector<double> bounds[3];
    Matrix resp[3];
    double e_step[3] = {0, 0, 0};
    for (int n : {1, 2, 3}) {
      Threads threads(n);
      Options o = options(3, type);
      o.max_iter = 20;
      o.tol = 0;
      o.seed = 4;
      GaussianMixture m(o);
      m.fit(x);
      bounds[n - 1] = m.lower_bounds();
      e_step[n - 1] = m.e_step(x, resp[n - 1]);
    }
    REQUIRE(bounds[0].size() == 20);
    for (int n : {2, 3}) {
      CAPTURE(n);
      CHECK(same_bits(bounds[0], bounds[n - 1]));
      CHECK(same_bits(e_step[0], e_step[n - 1]));
      CHECK(std::memcmp(resp[0].data(), resp[n - 1].data(), resp[0].size() * sizeof(double)) == 0);
    }
  }
}

TEST_CASE("the 2-D grid quadrature of tutorial 05 gives the same bits for 1, 2 and 3 threads") {
  VAEOptions o = small_vae();
  o.z = 2;
  Rng init(5);
  VAE<float> vae(o, init);
  const tz::Array<float> x = tz::test::binary_rows(21, 12, 6);  // three blocks of 8 images, the last short
  const tz::Array<float> m = xt::zeros<float>({21, 2}), v = xt::ones<float>({21, 2});
  std::vector<double> flat[3];
  for (int n : {1, 2, 3}) {
    Threads threads(n);
    // R = 4, h = 0.1: 80 × 80 = 6,400 points, two chunks of grid points
    for (const auto& r : tz::tutorial::iwae::integrate_on_grid(vae, x, m, v, 4.0, 0.1))
      flat[n - 1].insert(flat[n - 1].end(), {r.log_px, r.log_px_2h, r.log_px_4h, r.edge_mass, r.q_mass, r.prior_mass,
                                             r.e_log_px_z, r.kl_prior, r.kl_posterior});
  }
  REQUIRE(flat[0].size() == 21 * 9);
  CHECK(same_bits(flat[0], flat[1]));
  CHECK(same_bits(flat[0], flat[2]));
  // q = N(0, I) on [−4, 4]²: its mass on the grid is (erf(4/√2))² = 0.99987 to the midpoint rule's error
  CHECK(flat[0][4] == doctest::Approx(std::pow(std::erf(4.0 / std::sqrt(2.0)), 2)).epsilon(1e-3));
}

TEST_CASE("train --threads: the same run for 1 and 2 threads; ms_per_iter_mean is train_s per iteration") {
  const tz::models::ModelInfo& info = tz::models::find_model("gmm_gd");  // trains on its own synthetic data
  const tz::models::Config config = tz::models::Config::from(info.flags, info.tiny_flags, info.name);
  tz::models::TrainResult r[2];
  for (int n : {1, 2}) {
    tz::models::TrainOptions o;
    o.iters = 45;  // two whole chunks of 20 iterations for the median, and 5 more
    o.batch = 16;
    o.log_every = 15;
    o.quiet = true;
    o.threads = n;
    r[n - 1] = tz::models::train(info, config, o);
    tz::set_pool_threads(1);
  }
  CHECK(r[0].curves == r[1].curves);
  REQUIRE(r[0].metrics.size() == r[1].metrics.size());
  for (std::size_t k = 0; k < r[0].metrics.size(); ++k) CHECK(same_bits(r[0].metrics[k].second, r[1].metrics[k].second));
  for (const auto& run : r) {
    CHECK(run.ms_per_iter_mean == doctest::Approx(1000.0 * run.train_s / 45.0).epsilon(1e-12));
    CHECK(run.ms_per_iter > 0);
  }
  const std::string json = tz::models::result_json(info, tz::models::TrainOptions{}, r[0]);
  CHECK(json.find("\"ms_per_iter_mean\": ") != std::string::npos);
}

// tapezoo train --step-threads N runs the steps' products on N OpenBLAS threads
// (docs/threads.md#training). OpenBLAS splits each product's rows and columns among its threads the
// same way every time, so a count gives the same bits run after run; another count moves the last
// bits of some products, so one thread and two agree to float rounding, not bit for bit. The final
// evaluation runs at one OpenBLAS thread whatever the steps took: the same bits for every --threads.
TEST_CASE("train's step_threads: the same bits for the same count, float rounding across counts, the evaluation at one thread, OpenBLAS's count back after") {
  const tz::models::ModelInfo& info = tz::models::find_model("vae");
  // products of [100, 784] @ [784, 256]: well above the size under which OpenBLAS keeps one thread
  const tz::models::Config config = tz::models::Config::from(info.flags, {{"hidden", "256"}}, info.name);
  tz::test::TempDir tmp;
  const std::string data = tmp / "x.npy";
  tz::save_npy(data, tz::test::binary_rows(2000, 784, 4));  // the last tenth, 200 rows, for testing
  const int blas_before = tz::blas::threads();
  auto run = [&](int step_threads, int pool_threads) {
    tz::models::TrainOptions o;
    o.data = data;
    o.iters = 12;
    o.eval = 200;  // two chunks of 100 rows: on the pool's two threads, or one after the other on one
    o.threads = pool_threads;
    o.seed = 3;
    o.quiet = true;
    o.step_threads = step_threads;
    std::unique_ptr<tz::models::Model<float>> model;
    const tz::models::TrainResult r = tz::models::train(info, config, o, &model);
    CHECK(tz::blas::threads() == blas_before);  // given back
    return std::make_pair(r, std::move(model));
  };
  tz::blas::set_threads(2);
  const int asked = tz::blas::threads();  // 2, or 1 in an OpenBLAS built for one thread
  tz::blas::set_threads(blas_before);
  const auto [r2a, a] = run(2, 1);
  const auto [r2b, b] = run(2, 2);
  const auto [r1, c] = run(1, 1);
  CHECK(r2a.step_threads == asked);
  CHECK(r1.step_threads == 1);
  CHECK(tz::models::result_json(info, tz::models::TrainOptions{}, r2a).find("\"step_threads\": " + std::to_string(asked)) !=
        std::string::npos);
  const auto pa = a->params().all(), pb = b->params().all(), pc = c->params().all();
  REQUIRE(pa.size() == pc.size());
  double sum_abs = 0;
  std::size_t count = 0;
  for (std::size_t k = 0; k < pa.size(); ++k) {
    CAPTURE(pa[k]->name);
    CHECK(std::memcmp(pa[k]->value.data(), pb[k]->value.data(), pa[k]->value.size() * sizeof(float)) == 0);
    for (std::size_t i = 0; i < pa[k]->value.size(); ++i) {
      sum_abs += std::abs(pa[k]->value.data()[i] - pc[k]->value.data()[i]);
      ++count;
    }
  }
  // Rounding moves the runs apart by about 1e-8 a weight on average (measured: 2e-8 after 30 steps). Adam's step
  // lr·m/√v does not shrink with the gradient, so a weight whose gradient is near zero can take its
  // full step of 1e-3 one way in one run and the other way in the other: single weights move apart
  // by up to 1.7e-4 here, which is why the bound is on the mean.
  CHECK(sum_abs / static_cast<double>(count) < 1e-6);
  CHECK(r2a.final_train == r2b.final_train);
  REQUIRE(r1.metrics.size() == r2a.metrics.size());
  for (std::size_t k = 0; k < r1.metrics.size(); ++k) {
    CAPTURE(r1.metrics[k].first);
    CHECK(same_bits(r2a.metrics[k].second, r2b.metrics[k].second));  // the pool at 1 and 2 threads
    CHECK(r2a.metrics[k].second == doctest::Approx(r1.metrics[k].second).epsilon(1e-4));
  }
  // a run that fails after taking its threads gives them back too
  tz::models::TrainOptions bad;
  bad.data = tmp / "missing.npy";
  bad.step_threads = 2;
  CHECK_THROWS(tz::models::train(info, config, bad));
  CHECK(tz::blas::threads() == blas_before);
  bad.step_threads = 0;
  CHECK_THROWS_WITH_AS(tz::models::train(info, config, bad), "--step-threads: expected a positive integer, got 0",
                       std::invalid_argument);
  tz::set_pool_threads(1);
}

TEST_CASE("the SSVAE's predictions are the same for 1, 2 and 3 threads") {
  tz::models::SSVAEOptions o;
  o.x_dim = 12;
  o.hidden = 8;
  o.z = 3;
  o.classes = 4;
  Rng init(8);
  tz::models::SSVAE<float> ssvae(o, init);
  const tz::Array<float> x = tz::test::binary_rows(2500, 12, 9);  // three chunks of 1000 rows, the last short
  std::vector<int> pred[3];
  for (int n : {1, 2, 3}) {
    Threads threads(n);
    pred[n - 1] = ssvae.predict(x);
  }
  REQUIRE(pred[0].size() == 2500);
  CHECK(pred[1] == pred[0]);
  CHECK(pred[2] == pred[0]);
  // every prediction is a class, and an untrained classifier still tells some inputs apart
  int outside = 0;
  for (int c : pred[0]) outside += c < 0 || c >= 4;
  CHECK(outside == 0);
  CHECK(std::count(pred[0].begin(), pred[0].end(), pred[0][0]) < 2500);
}

namespace {

// evaluate(data) of a fresh model at 1, 2 and 3 threads, each from the same generator state.
template <class M>
std::vector<tz::models::Metrics> metrics_by_threads(M& model, const tz::models::Dataset& data) {
  std::vector<tz::models::Metrics> out;
  for (int n : {1, 2, 3}) {
    Threads threads(n);
    Rng rng(21);
    out.push_back(model.evaluate(data, rng));
  }
  return out;
}

void check_same_metrics(const std::vector<tz::models::Metrics>& m, std::size_t expected) {
  REQUIRE(m[0].size() == expected);
  for (int n : {2, 3}) {
    CAPTURE(n);
    for (std::size_t i = 0; i < m[0].size(); ++i) {
      CAPTURE(m[0][i].first);
      CHECK(m[n - 1][i].first == m[0][i].first);
      CHECK(std::isfinite(m[0][i].second));
      CHECK(same_bits(m[n - 1][i].second, m[0][i].second));
    }
  }
}

}  // namespace

TEST_CASE("the GMVAE's, the VampPrior's, the FSVAE's and the SSVAE's test metrics are the same bits for 1, 2 and 3 threads") {
  // 1,100 images: three ELBO chunks of 500 (the last short), at k = 4 and k = 40 several IWAE chunks, and
  // the SSVAE's 11 chunks of 100
  tz::models::Dataset data;
  data.test_x = tz::test::binary_rows(1100, 12, 5);
  for (std::size_t i = 0; i < 1100; ++i) data.test_y.push_back(static_cast<int>(i % 3));
  const tz::models::GMVAEOptions g{.x_dim = 12, .hidden = 8, .z = 3, .components = 5, .iwae = {1, 4, 40}};
  Rng init(4);
  tz::models::GMVAE<float> gmvae(g, init);
  tz::models::VampPrior<float> vamp(g, init);
  tz::models::FSVAE<float> fsvae({.x_dim = 12, .hidden = 8, .z = 3, .classes = 3, .iwae = {1, 4, 40}}, init);
  tz::models::SSVAE<float> ssvae({.x_dim = 12, .hidden = 8, .z = 3, .classes = 3, .labels = 99}, init);
  const auto mg = metrics_by_threads(gmvae, data), mv = metrics_by_threads(vamp, data),
             mf = metrics_by_threads(fsvae, data), ms = metrics_by_threads(ssvae, data);
  check_same_metrics(mg, 6);  // test_nelbo, test_kl, test_rec, test_niwae_1, _4, _40
  check_same_metrics(mv, 6);
  check_same_metrics(mf, 6);
  check_same_metrics(ms, 5);  // test_accuracy, and U(x)'s test_nelbo, test_kl_y, test_kl_z, test_rec
  // and they are bounds of the same models: −L_40 below −L_1 on average over 1,100 images
  CHECK(mg[0][5].second < mg[0][3].second);
  CHECK(mf[0][5].second < mf[0][3].second);
}
