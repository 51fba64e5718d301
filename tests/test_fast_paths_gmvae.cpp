// The GMVAE's fast paths against their textbook twins (docs/fast-paths.md): the variances
// σ² = softplus(h) + 1e-8 of the prior (z_pre[K:2K]) and of every encoder (gaussian_parameters) as
// one softplus_rows node (autograd/ops_fused_gmvae.cpp) against softplus(narrow(…)) + 1e-8, the
// whole bound on both paths, and normal_mix's backward with and without its forward's kept table;
// with them the two loops of the engine and the optimizer that the GMVAE's step leans on, narrow's
// backward (block copies) and Adam's update (blocks with prefetches), checked against hand values.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "autograd/ops_fused_gmvae.hpp"
#include "autograd/ops_fused_zoo.hpp"
#include "autograd/path.hpp"
#include "distributions/distributions.hpp"
#include "models/gmvae.hpp"
#include "nn/optim.hpp"
#include "test_helpers.hpp"

using namespace tz;

namespace {

// Whether the tape holds a node of op (which path a call recorded).
template <class T>
bool has_op(const Tape<T>& t, Op op) {
  std::uint32_t i = 0;
  while (i < t.size() && t.node(i).op != op) ++i;
  return i < t.size();
}

// A deterministic array with values spread over [lo, hi] (and through 0 for lo < 0 < hi).
template <class T>
Array<T> spread(const Shape& shape, double lo, double hi) {
  Array<T> a = Array<T>::from_shape(shape);
  const std::size_t n = a.size();
  for (std::size_t i = 0; i < n; ++i)
    a.data()[i] = n == 1 ? static_cast<T>(lo)
                         : static_cast<T>(lo + (hi - lo) * static_cast<double>((i * 7) % n) / static_cast<double>(n - 1));
  return a;
}

// y and gx of Σ w ⊙ y + Σ u ⊙ x for y = the slice's variance: fused softplus_rows, or the
// composite softplus(narrow(x)) + c. The second term makes x's gradient accumulate (beta = 1).
template <class T>
std::pair<Array<T>, Array<T>> run_rows(bool fused, const Array<T>& x, int axis, std::size_t start, std::size_t len,
                                       double c, const Array<T>& w, const Array<T>& u) {
  Tape<T> t;
  Var<T> xv = t.leaf(x);
  Var<T> y = fused ? softplus_rows(xv, axis, start, len, c) : softplus(narrow(xv, axis, start, len)) + c;
  CHECK(has_op(t, Op::softplus_rows) == fused);
  t.backward(sum(y * t.constant(w)) + sum(xv * t.constant(u)));
  return {y.value(), xv.grad()};
}

// softplus_rows against its composite in T: forward within 8ε·y + 2⁻¹²⁶·(T is float) (xsimd's exp
// and log1p and libm's differ by an ε or two each, and below the smallest normal xsimd's exp
// flushes to 0 where libm returns a subnormal), backward within 8ε·|w·σ(x)| (exp, add, divide).
template <class T>
void check_rows_against_composite(const Array<T>& x, int axis, std::size_t start, std::size_t len, double c) {
  const double eps = std::numeric_limits<T>::epsilon(), tiny = std::numeric_limits<T>::min();
  Tape<T> shape_tape;
  const Array<T> y_shape = narrow(shape_tape.constant(x), axis, start, len).value();
  const Array<T> w = spread<T>(Shape(y_shape.shape().begin(), y_shape.shape().end()), -2, 3);
  const Array<T> u = spread<T>(Shape(x.shape().begin(), x.shape().end()), -1, 1);
  const auto [y_fast, g_fast] = run_rows(true, x, axis, start, len, c, w, u);
  const auto [y_book, g_book] = run_rows(false, x, axis, start, len, c, w, u);
  REQUIRE(y_fast.shape() == y_book.shape());
  for (std::size_t i = 0; i < y_book.size(); ++i) {
    const double a = y_fast.data()[i], b = y_book.data()[i];
    CHECK_MESSAGE(std::abs(a - b) <= 8 * eps * std::abs(b) + tiny, "y[" << i << "] " << a << " vs " << b);
  }
  REQUIRE(g_fast.shape() == g_book.shape());
  for (std::size_t i = 0; i < g_book.size(); ++i) {
    // outside the slice both are u exactly; inside, u + w·σ(x) with w·σ(x) within 8ε of it
    const double a = g_fast.data()[i], b = g_book.data()[i], ui = u.data()[i];
    CHECK_MESSAGE(std::abs(a - b) <= 8 * eps * (std::abs(b - ui) + std::abs(ui)) + tiny,
                  "gx[" << i << "] " << a << " vs " << b);
  }
}

}  // namespace

// ---- softplus_rows ----------------------------------------------------------------------------------

TEST_CASE("softplus_rows equals softplus(narrow(x)) + c within a few ε, values and gradients, float and double") {
  // the prior's rows [K, 2K) of [2K, z] (K = 5) from −100 to 100; an encoder's columns [d, 2d);
  // the middle axis of a 3-D array with the floor 0; x = ±100 and 0 (σ = 0, ½, 1; softplus = 0 below
  // float's smallest normal)
  for (const bool dbl : {false, true}) {
    CAPTURE(dbl);
    auto check = [&](auto tag, const Shape& s, double lo, double hi, int axis, std::size_t start, std::size_t len, double c) {
      using T = decltype(tag);
      check_rows_against_composite<T>(spread<T>(s, lo, hi), axis, start, len, c);
    };
    auto both = [&](auto... args) { dbl ? check(0.0, args...) : check(0.0f, args...); };
    both(Shape{10, 3}, -100.0, 100.0, 0, 5, 5, 1e-8);
    both(Shape{7, 8}, -30.0, 30.0, 1, 4, 4, 1e-8);
    both(Shape{3, 5, 17}, -6.0, 6.0, 1, 1, 3, 0.0);
    both(Shape{1, 3}, -100.0, 100.0, -1, 0, 3, 0.0);  // −100, 0, 100
  }
}

TEST_CASE("softplus_rows by hand: softplus(0) = log 2, the floor added, the gradient ½ inside the slice and 0 outside") {
  // The tape is used twice: the first sweep leaves 3 in every element of x's gradient buffer,
  // which the second, softplus_rows' first contribution, must overwrite on both sides of the slice.
  Tape<double> t;
  const Array<double> zeros = xt::zeros<double>({4, 2});
  Var<double> x = t.leaf(zeros);
  t.backward(sum(x * 3.0));
  t.clear();
  x = t.leaf(zeros);
  Var<double> y = softplus_rows(x, 0, 1, 2, 0.25);
  t.backward(sum(y));
  CHECK(y.shape() == Shape{2, 2});
  for (double v : y.value()) CHECK(v == doctest::Approx(std::log(2.0) + 0.25).epsilon(1e-15));
  const Array<double> want = {{0.0, 0.0}, {0.5, 0.5}, {0.5, 0.5}, {0.0, 0.0}};
  CHECK(x.grad() == want);
}

TEST_CASE("softplus_rows: a slice outside the axis and a negative floor are errors that say so") {
  Tape<float> t;
  Var<float> x = t.constant(Array<float>::from_shape({4, 3}));
  CHECK_THROWS_WITH_AS(softplus_rows(x, 0, 3, 2, 1e-8), "softplus_rows: [3, 5) is outside axis 0 of [4,3] (length 4)",
                       AutogradError);
  CHECK_THROWS_WITH_AS(softplus_rows(x, 1, 0, 3, -1.0), "softplus_rows: the floor c = -1 must be 0 or more", AutogradError);
}

TEST_CASE("gaussian_parameters on both paths: m bit for bit, v = softplus(h[:, d:]) + 1e-8 within 8ε, float and double") {
  // The encoders of every VAE-family model read q(z|x) through it; its fast path is softplus_rows.
  auto check = [](auto tag) {
    using T = decltype(tag);
    const Array<T> h = spread<T>({6, 8}, -20, 20);
    std::vector<Array<T>> m, v;
    for (const Path path : {Path::fast, Path::textbook}) {
      PathScope scope(path);
      Tape<T> t;
      const Gaussian<T> q = gaussian_parameters(t.constant(h));
      CHECK(has_op(t, Op::softplus_rows) == (path == Path::fast));
      m.push_back(q.m.value());
      v.push_back(q.v.value());
    }
    CHECK(m[0] == m[1]);
    for (std::size_t i = 0; i < v[1].size(); ++i)
      CHECK(std::abs(v[0].data()[i] - v[1].data()[i]) <= 8 * std::numeric_limits<T>::epsilon() * v[1].data()[i]);
  };
  check(0.0f);
  check(0.0);
}

// ---- the GMVAE's prior and bound on both paths -----------------------------------------------------

namespace {

template <class T>
models::GMVAE<T> small_gmvae(std::uint64_t seed) {
  Rng rng(seed);
  return models::GMVAE<T>({.x_dim = 12, .hidden = 8, .z = 3, .components = 5, .iwae = {1}}, rng);
}

struct PriorRun {
  Array<double> mu, var, g_pre;
};

// μ, σ² and the gradient of Σ a ⊙ μ + Σ b ⊙ σ² in z_pre, on one path.
template <class T>
PriorRun run_prior(models::GMVAE<T>& model, Path path) {
  PathScope scope(path);
  Tape<T> t;
  auto [mu, var] = model.prior(t);
  CHECK(has_op(t, Op::softplus_rows) == (path == Path::fast));
  const Shape s(mu.shape().begin(), mu.shape().end());
  t.backward(sum(mu * t.constant(spread<T>(s, -1, 2))) + sum(var * t.constant(spread<T>(s, 3, -2))));
  Param<T>& p = model.params()["prior.z_pre"];
  PriorRun r{xt::cast<double>(mu.value()), xt::cast<double>(var.value()), xt::cast<double>(p.grad)};
  model.params().zero_grad();
  return r;
}

}  // namespace

TEST_CASE("GMVAE::prior: μ bit for bit on both paths, σ² and its rows of z_pre's gradient within 8ε") {
  auto check = [](auto tag) {
    using T = decltype(tag);
    const double eps = std::numeric_limits<T>::epsilon();
    auto model = small_gmvae<T>(3);
    const PriorRun fast = run_prior(model, Path::fast), book = run_prior(model, Path::textbook);
    CHECK(fast.mu == book.mu);
    const std::size_t half = fast.g_pre.size() / 2;  // rows [0, K): μ's; rows [K, 2K): σ²'s
    for (std::size_t i = 0; i < book.var.size(); ++i) {
      CHECK(std::abs(fast.var.data()[i] - book.var.data()[i]) <= 8 * eps * book.var.data()[i]);
      CHECK(fast.g_pre.data()[i] == book.g_pre.data()[i]);
      const double g = book.g_pre.data()[half + i];
      CHECK(std::abs(fast.g_pre.data()[half + i] - g) <= 8 * eps * std::abs(g));
    }
  };
  check(0.0f);
  check(0.0);
}

TEST_CASE("the GMVAE's negative_elbo_bound on both paths: nelbo, kl, rec and every gradient agree in float64") {
  // The paths differ by linear_elu (bit for bit), log_bernoulli (per row (5 + d)·ε·Σ(|x·l| +
  // softplus(l))), normal_mix (the expanded square's (6z + 8)·ε·Σ_d [(|z̃| + |m̃|)²/v + |log v| +
  // log 2π]) and softplus_rows (8ε): at d = 12, z = 3 and values of order 10, each below
  // 10³·ε ≈ 2e-13 of the largest term. 1e-10 of the larger magnitude leaves three orders of margin;
  // a wrong term or gradient differs by far more.
  auto model = small_gmvae<double>(5);
  Rng data_rng(11);
  const Array<double> x = test::binary_rows(6, 12, data_rng);
  const Array<double> eps = Rng(13).normal<double>({6, 3});
  std::vector<std::vector<Array<double>>> runs;
  for (const Path path : {Path::fast, Path::textbook}) {
    PathScope scope(path);
    Tape<double> t;
    auto b = model.negative_elbo_bound(t, t.constant(x), t.constant(eps));
    t.backward(mean(b.nelbo));
    std::vector<Array<double>> out{b.nelbo.value(), b.kl.value(), b.rec.value()};
    for (const Param<double>* p : model.params().all()) out.push_back(p->grad);
    model.params().zero_grad();
    runs.push_back(std::move(out));
  }
  REQUIRE(runs[0].size() == runs[1].size());
  for (std::size_t k = 0; k < runs[0].size(); ++k) {
    const Array<double>& a = runs[0][k];
    const Array<double>& b = runs[1][k];
    REQUIRE(a.shape() == b.shape());
    double scale = 0;
    for (double v : b) scale = std::max(scale, std::abs(v));
    CHECK(scale > 0);  // every parameter receives a gradient
    for (std::size_t i = 0; i < b.size(); ++i)
      CHECK_MESSAGE(std::abs(a.data()[i] - b.data()[i]) <= 1e-10 * scale, "array " << k << " element " << i);
  }
}

// ---- narrow's backward and Adam's loop ------------------------------------------------------------

TEST_CASE("narrow's backward: gy into the slice and 0 elsewhere on the first contribution, added after, every axis") {
  // x [2, 4, 3] = 0..23; y = narrow(x, 1, 1, 2) (rows 1 and 2 of each block), z = narrow(x, 2, 1, 1)
  // (the middle column); loss Σ y + 10·Σ z. The tape runs twice: the first sweep leaves 7 in x's
  // gradient buffer, which z's first contribution must overwrite on both sides of its slice.
  Tape<double> t;
  Array<double> x0 = Array<double>::from_shape({2, 4, 3});
  for (std::size_t i = 0; i < x0.size(); ++i) x0.data()[i] = static_cast<double>(i);
  Var<double> x = t.leaf(x0);
  t.backward(sum(x * 7.0));
  t.clear();
  x = t.leaf(x0);
  Var<double> y = narrow(x, 1, 1, 2), z = narrow(x, 2, 1, 1);
  CHECK(y.value() == Array<double>{{{3, 4, 5}, {6, 7, 8}}, {{15, 16, 17}, {18, 19, 20}}});
  t.backward(sum(y) + sum(z) * 10.0);
  const Array<double> block = {{0, 10, 0}, {1, 11, 1}, {1, 11, 1}, {0, 10, 0}};
  Array<double> want = Array<double>::from_shape({2, 4, 3});
  for (std::size_t i = 0; i < want.size(); ++i) want.data()[i] = block.data()[i % 12];
  CHECK(x.grad() == want);
  // into a parameter the gradient always accumulates: its 0.5 stays outside the slice
  Param<double> p("p", Array<double>{{1, 2}, {3, 4}, {5, 6}});
  p.grad = xt::full_like(p.value, 0.5);
  Tape<double> t2;
  t2.backward(sum(narrow(t2.param(p), 0, 1, 1) * 4.0));
  CHECK(p.grad == Array<double>{{0.5, 0.5}, {4.5, 4.5}, {0.5, 0.5}});
}

TEST_CASE("Adam's blocked, prefetching loop updates every element of parameters of 1, 127 to 129, 700 and 1301 elements") {
  // Sizes on both sides of its blocks of 128 and its look-ahead of 512; three steps with gradients
  // that differ from element to element, against the formula of nn/optim.hpp in long double:
  // float64 rounding of about ten operations, within 1e-13 relative (and a skipped, repeated or
  // shifted element is off by far more).
  const std::vector<std::size_t> sizes = {1, 127, 128, 129, 700, 1301};
  std::vector<Param<double>> ps;
  for (std::size_t s : sizes) ps.emplace_back("p" + std::to_string(s), spread<double>({s}, -1, 1));
  std::vector<Param<double>*> ptrs;
  for (auto& p : ps) ptrs.push_back(&p);
  nn::Adam<double> opt(ptrs, {.lr = 0.01, .weight_decay = 0.1});
  std::vector<std::vector<long double>> theta, m, v;
  for (auto& p : ps) {
    theta.emplace_back(p.value.begin(), p.value.end());
    m.emplace_back(p.value.size(), 0.0L);
    v.emplace_back(p.value.size(), 0.0L);
  }
  for (int step = 1; step <= 3; ++step) {
    const long double bc1 = 1 - std::pow(0.9L, step), bc2 = 1 - std::pow(0.999L, step);
    for (std::size_t k = 0; k < ps.size(); ++k)
      for (std::size_t i = 0; i < sizes[k]; ++i) {
        const double g = std::sin(0.37 * static_cast<double>(i) + step) * (1 + static_cast<double>(k));
        ps[k].grad.data()[i] = g;
        const long double gd = g + 0.1L * theta[k][i];
        m[k][i] = 0.9L * m[k][i] + 0.1L * gd;
        v[k][i] = 0.999L * v[k][i] + 0.001L * gd * gd;
        theta[k][i] -= (0.01L / bc1) * m[k][i] / (std::sqrt(v[k][i]) / std::sqrt(bc2) + 1e-8L);
      }
    opt.step();
  }
  for (std::size_t k = 0; k < ps.size(); ++k)
    for (std::size_t i = 0; i < sizes[k]; ++i) {
      const double want = static_cast<double>(theta[k][i]);
      CHECK_MESSAGE(std::abs(ps[k].value.data()[i] - want) <= 1e-13 * std::abs(want) + 1e-15,
                    "size " << sizes[k] << " element " << i);
    }
}

TEST_CASE("normal_mix's backward: from its forward's kept table, or with the table taken again, bit for bit the same") {
  // The backward reuses the thread's copy of the last forward's table when that forward was its
  // own; a second mixture recorded in between (here on another tape) makes it take the table
  // again, with the same arithmetic on the same inputs: the same bits.
  const Array<double> z0 = {{0.3, -1.0}, {-0.5, 0.25}, {1.0, 2.0}}, m0 = {{1.0, 2.0}, {-0.5, 0.25}, {3.0, -3.0}};
  const Array<double> v0 = {{1e-2, 1.0}, {100.0, 0.5}, {2.0, 1e-1}}, w0 = {std::log(0.2), std::log(0.5), std::log(0.3)};
  std::vector<std::vector<Array<double>>> grads;
  for (const bool interrupted : {false, true}) {
    Tape<double> t;
    Var<double> z = t.leaf(z0), m = t.leaf(m0), v = t.leaf(v0), w = t.leaf(w0);
    Var<double> y = normal_mixture(z, m, v, w);
    if (interrupted) {
      Tape<double> other;
      normal_mixture(other.constant(m0), other.constant(m0), other.constant(v0), other.constant(w0));
    }
    t.backward(sum(y * t.constant(Array<double>{1.0, -2.0, 0.5})));
    grads.push_back({z.grad(), m.grad(), v.grad(), w.grad()});
  }
  for (std::size_t k = 0; k < 4; ++k) CHECK(grads[0][k] == grads[1][k]);
  CHECK(xt::amax(xt::abs(grads[0][1]))() > 0);  // the gradients are not all 0
}

TEST_CASE("normal_mix's backward on another thread than its forward never takes that thread's table") {
  // The forward runs on a fresh thread A, the backward on a fresh thread B after B recorded a mixture
  // of its own, of the same shapes but other values. Stamps counted per thread would be equal (each
  // thread's first), and B's table would answer for A's node; stamps unique in the process make the
  // backward take the table again. The gradients must be those of forward and backward on one thread.
  const Array<double> z0 = {{0.3, -1.0}, {-0.5, 0.25}, {1.0, 2.0}}, m0 = {{1.0, 2.0}, {-0.5, 0.25}, {3.0, -3.0}};
  const Array<double> v0 = {{1e-2, 1.0}, {100.0, 0.5}, {2.0, 1e-1}}, w0 = {std::log(0.2), std::log(0.5), std::log(0.3)};
  const Array<double> gy = {1.0, -2.0, 0.5};
  auto run = [&](bool split) {
    Tape<double> t;
    Var<double> z = t.leaf(z0), m = t.leaf(m0), v = t.leaf(v0), w = t.leaf(w0);
    Var<double> y;
    std::thread a([&] { y = normal_mixture(z, m, v, w); });
    a.join();
    std::thread b([&] {
      if (split) {
        Tape<double> other;
        normal_mixture(other.constant(Array<double>(m0 * 2.0)), other.constant(Array<double>(z0 - 1.0)),
                       other.constant(Array<double>(v0 + 3.0)), other.constant(w0));
      }
      t.backward(sum(y * t.constant(gy)));
    });
    b.join();
    return std::vector<Array<double>>{z.grad(), m.grad(), v.grad(), w.grad()};
  };
  const std::vector<Array<double>> alone = run(false), split = run(true);
  for (std::size_t k = 0; k < 4; ++k) CHECK(split[k] == alone[k]);
  CHECK(xt::amax(xt::abs(alone[0]))() > 0);
}
