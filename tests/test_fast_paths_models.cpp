// The model zoo's fast paths against their textbook twins (autograd/ops_fused_ssvae.cpp and
// autograd/ops_fused_zoo.cpp, docs/fast-paths.md): the SSVAE's shared first layer (onehot_linear_elu)
// against concat([tile(x, K), onehot(y)]) then the layer, and the Gaussian mixture's pair table
// (log_normal_pairs) against the broadcast log_normal. Each test runs both paths on the same
// numbers and compares values and gradients within a tolerance derived next to the check.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <xtensor/xview.hpp>

#include "autograd/ops_fused_zoo.hpp"
#include "autograd/path.hpp"
#include "distributions/distributions.hpp"
#include "models/ssvae.hpp"
#include "test_helpers.hpp"

using namespace tz;

namespace {

template <class T>
bool recorded(const Tape<T>& t, const std::string& name) {
  for (std::uint32_t i = 0; i < t.size(); ++i)
    if (op_name(t.node(i).op) == name) return true;
  return false;
}

// The largest |a − b| over the elements, and the largest |b|.
template <class T>
std::pair<double, double> max_diff(const Array<T>& a, const Array<T>& b) {
  REQUIRE(a.shape() == b.shape());
  double d = 0, s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    d = std::max(d, std::abs(static_cast<double>(a.data()[i]) - static_cast<double>(b.data()[i])));
    s = std::max(s, std::abs(static_cast<double>(b.data()[i])));
  }
  return {d, s};
}

// ---- the shared first layer -----------------------------------------------------------------------

struct LayerRun {
  Array<double> h, gx, gW, gb;
};

// h = the layer on x [n, in] shared by copies, labels y; loss Σ w ⊙ h. fused: onehot_linear_elu;
// else the composite elu(linear(concat({tile(x, copies), onehot(y)}, 1), W, b)).
LayerRun run_layer(bool fused, const Array<double>& x, const Array<double>& W, const Array<double>& b,
                   const std::vector<std::size_t>& y, const Array<double>& w) {
  Tape<double> t;
  Var<double> xv = t.leaf(x), Wv = t.leaf(W), bv = t.leaf(b);
  const std::size_t copies = y.size() / x.shape()[0], K = W.shape()[0] - x.shape()[1];
  Var<double> h;
  if (fused) {
    h = onehot_linear_elu(xv, Wv, bv, y);
  } else {
    const std::vector<int> yi(y.begin(), y.end());
    Var<double> xk = copies > 1 ? tile(xv, copies) : xv;
    h = elu(linear(concat<double>({xk, t.constant(one_hot<double>(yi, K))}, 1), Wv, bv));
  }
  t.backward(sum(h * t.constant(w)));
  return {h.value(), xv.grad(), Wv.grad(), bv.grad()};
}

}  // namespace

TEST_CASE("onehot_linear_elu equals elu(linear(concat(tile(x), onehot(y)))) within linear's rounding") {
  Rng rng(11);
  const std::size_t n = 5, in = 7, K = 4, out = 6;
  for (std::size_t copies : {1, 4}) {
    const Array<double> x = rng.normal<double>({n, in}) * 2.0, W = rng.normal<double>({in + K, out});
    const Array<double> b = rng.normal<double>({out});
    std::vector<std::size_t> y(copies * n);
    for (std::size_t r = 0; r < y.size(); ++r) y[r] = copies > 1 ? r / n : (r * 3) % K;  // enumerated, or mixed
    const Array<double> w = rng.normal<double>({copies * n, out});
    const LayerRun f = run_layer(true, x, W, b, y, w), c = run_layer(false, x, W, b, y, w);
    // Rounding, with ε = 2⁻⁵² and S_rk = Σ_j |x_ij W_jk| + |W_(in+y_r),k| + |b_k| (i = r mod n): the
    // composite's pre-activation is a sum of in + K + 1 terms (K − 1 of them exact zeros), the
    // fused one of in + 2, so the two differ by at most 2(in + K + 2)·ε·S_rk, and elu is 1-Lipschitz.
    const double eps = std::numeric_limits<double>::epsilon();
    const std::size_t rows = y.size();
    const double tol_y = 2.0 * static_cast<double>(in + K + 2) * eps;
    double s_max = 0;
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t k = 0; k < out; ++k) {
        double s = std::abs(W(in + y[r], k)) + std::abs(b(k));
        for (std::size_t j = 0; j < in; ++j) s += std::abs(x(r % n, j) * W(j, k));
        s_max = std::max(s_max, s);
        CHECK(std::abs(f.h(r, k) - c.h(r, k)) <= tol_y * s);
      }
    // The gradients: g = w·elu'(y) with |g| ≤ |w| and |Δg| ≤ |w|·tol_y·s_max (elu' is 1-Lipschitz
    // too), then sums of at most rows + in + K products in either order, so each entry differs by
    // at most (its Σ of |terms| with |w| for |g|)·(2(rows + in + K)·ε + tol_y·s_max).
    const double tol_g = 2.0 * static_cast<double>(rows + in + K) * eps + tol_y * s_max;
    for (std::size_t j = 0; j < in + K; ++j)
      for (std::size_t k = 0; k < out; ++k) {
        double s = 0;  // gW_jk = Σ_r [x, onehot(y)]_rj g_rk
        for (std::size_t r = 0; r < rows; ++r) s += std::abs(j < in ? x(r % n, j) : double(y[r] == j - in)) * std::abs(w(r, k));
        CHECK(std::abs(f.gW(j, k) - c.gW(j, k)) <= tol_g * s);
      }
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < in; ++j) {
        double s = 0;  // gx_ij = Σ_(r ≡ i) Σ_k g_rk W_jk
        for (std::size_t r = i; r < rows; r += n)
          for (std::size_t k = 0; k < out; ++k) s += std::abs(w(r, k) * W(j, k));
        CHECK(std::abs(f.gx(i, j) - c.gx(i, j)) <= tol_g * s);
      }
    for (std::size_t k = 0; k < out; ++k) {
      double s = 0;  // gb_k = Σ_r g_rk
      for (std::size_t r = 0; r < rows; ++r) s += std::abs(w(r, k));
      CHECK(std::abs(f.gb(k) - c.gb(k)) <= tol_g * s);
    }
    CHECK(max_diff(f.gW, c.gW).second > 0.1);  // the gradients are not all zero
  }
  Tape<double> t;
  CHECK_THROWS_WITH_AS(onehot_linear_elu(t.constant(Array<double>(xt::zeros<double>({2, 3}))),
                                         t.constant(Array<double>(xt::zeros<double>({5, 4}))),
                                         t.constant(Array<double>(xt::zeros<double>({4}))), {0, 2}),
                       doctest::Contains("label 2 of row 1 is outside [0, 2)"), AutogradError);
}

// ---- the SSVAE on both paths ----------------------------------------------------------------------

namespace {

struct SsvaeRun {
  bool fused = false, concat = false;
  double loss = 0;
  std::vector<Array<double>> grads;  // every parameter's, in the ParamSet's order
};

// One loss and backward of a small SSVAE on a batch with labelled and unlabelled rows, on the given
// path; the model, the batch and the noise come from fixed seeds, so both paths see the same numbers.
SsvaeRun run_ssvae(Path path) {
  PathScope scope(path);
  models::SSVAEOptions o;
  o.x_dim = 12, o.hidden = 9, o.z = 3, o.classes = 4, o.labels = 8, o.labelled_batch = 0;
  Rng rng(3);
  models::SSVAE<double> model(o, rng);
  model.set_labelled(test::binary_rows(8, 12, rng), {0, 1, 2, 3, 0, 1, 2, 3});
  models::Batch<double> batch{test::binary_rows(6, 12, rng), {-1, 2, -1, -1, 0, -1}};
  Tape<double> tape;
  Rng noise(9);
  models::Loss<double> L = model.loss(tape, batch, noise);
  tape.backward(L.value);
  SsvaeRun r{recorded(tape, "onehot_elu"), recorded(tape, "concat"), L.value.item(), {}};
  for (const Param<double>* p : model.params().all()) r.grads.push_back(p->grad);
  return r;
}

}  // namespace

TEST_CASE("onehot_linear_elu, float: every element of a row is elu(y) to a few ulp, the row's tail as its batches") {
  // The forward's ELU runs xsimd's expm1 over whole batches and one zero-padded batch for each
  // row's last out mod lanes elements (37 = 2·16 + 5 = 4·8 + 5: a tail for every lane width).
  // Inputs on a grid of 2⁻¹⁰ with small integer x make every pre-activation y exact in float
  // (at most 19 significant bits), so h's error is expm1's alone: h = y where y > 0, and
  // |h − expm1(y)| ≤ 4ε_f·|expm1(y)| below, with y from −30 (h = −1 in float) to about −0.06.
  const std::size_t n = 3, in = 4, K = 3, out = 37, copies = 3;
  Array<float> x = xt::zeros<float>({n, in}), W = xt::zeros<float>({in + K, out}), b = xt::zeros<float>({out});
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < in; ++j) x(i, j) = static_cast<float>(static_cast<int>((i + 2 * j) % 5) - 2);
  for (std::size_t k = 0; k < out; ++k) {
    for (std::size_t j = 0; j < in + K; ++j)
      W(j, k) = static_cast<float>(static_cast<int>((7 * j + 3 * k) % 11) - 5) / 1024.0f;
    // b_k walks from −30 to +1 along the row; the last 5 (the tail) are negative, |x W| ≤ 0.05 beside them
    const float tail[5] = {-0.0625f, -0.5f, -3.0f, -12.0f, -30.0f};
    b(k) = k + 5 >= out ? tail[k + 5 - out] : static_cast<float>(k) - 30.0f;
  }
  std::vector<std::size_t> y(copies * n);
  for (std::size_t r = 0; r < y.size(); ++r) y[r] = r / n;
  Tape<float> t;
  const Array<float> h = onehot_linear_elu(t.constant(x), t.constant(W), t.constant(b), y).value();
  REQUIRE(h.shape() == Shape{copies * n, out});
  const double eps = std::numeric_limits<float>::epsilon();
  std::size_t negative_tail = 0;
  for (std::size_t r = 0; r < y.size(); ++r)
    for (std::size_t k = 0; k < out; ++k) {
      double pre = static_cast<double>(W(in + y[r], k)) + static_cast<double>(b(k));
      for (std::size_t j = 0; j < in; ++j) pre += static_cast<double>(x(r % n, j)) * static_cast<double>(W(j, k));
      CAPTURE(r);
      CAPTURE(k);
      CAPTURE(pre);
      if (pre > 0) {
        CHECK(static_cast<double>(h(r, k)) == pre);
      } else {
        const double ref = std::expm1(pre);
        CHECK(std::abs(static_cast<double>(h(r, k)) - ref) <= 4 * eps * std::abs(ref));
        if (k + 5 >= out) ++negative_tail;
      }
    }
  CHECK(negative_tail == y.size() * 5);  // the tail's check ran on negatives, the expm1 branch, in every row
}

TEST_CASE("ssvae: the shared first layer and the textbook concat give the same loss and gradients") {
  const SsvaeRun fast = run_ssvae(Path::fast), book = run_ssvae(Path::textbook);
  CHECK((fast.fused && !fast.concat));  // each path recorded its own code
  CHECK((book.concat && !book.fused));
  // The paths differ only in the first layers' sums (ε-relative, the test above); every later op is
  // the same, and the network's Lipschitz constants at these sizes are far below 1e4, so 1e-11
  // relative to the largest entry leaves that margin over 1e-15.
  CHECK(std::abs(fast.loss - book.loss) <= 1e-11 * std::abs(book.loss));
  REQUIRE(fast.grads.size() == book.grads.size());
  for (std::size_t p = 0; p < fast.grads.size(); ++p) {
    auto [d, s] = max_diff(fast.grads[p], book.grads[p]);
    INFO("parameter " << p);
    CHECK(s > 0);
    CHECK(d <= 1e-11 * s);
  }
}

// ---- the Gaussian log-density of every (point, component) pair ------------------------------------

namespace {

// The composite log_normal_pairs replaces (the textbook path of log_normal_mixture).
template <class T>
Var<T> pairs_composite(const Var<T>& z, const Var<T>& m, const Var<T>& v) {
  const auto n = static_cast<std::ptrdiff_t>(z.shape()[0]), d = static_cast<std::ptrdiff_t>(z.shape()[1]);
  const auto K = static_cast<std::ptrdiff_t>(m.shape()[0]);
  return log_normal(reshape(z, {n, 1, d}), reshape(m, {1, K, d}), reshape(v, {1, K, d}));
}

// T_ik = Σ_d [(|z̃_id| + |m̃_kd|)²/v_kd + |log v_kd| + log 2π], z̃ = z − c, m̃ = m − c, c = mean_k m_k:
// the size of the terms the expanded square adds and cancels, which its rounding error scales with.
Array<double> expanded_terms(const Array<double>& z, const Array<double>& m, const Array<double>& v) {
  const std::size_t n = z.shape()[0], d = z.shape()[1], K = m.shape()[0];
  Array<double> c = xt::zeros<double>({d}), out = xt::zeros<double>({n, K});
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t j = 0; j < d; ++j) c(j) += m(k, j) / static_cast<double>(K);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t k = 0; k < K; ++k)
      for (std::size_t j = 0; j < d; ++j) {
        const double a = std::abs(z(i, j) - c(j)) + std::abs(m(k, j) - c(j));
        out(i, k) += a * a / v(k, j) + std::abs(std::log(v(k, j))) + kLog2Pi;
      }
  return out;
}

// Inputs exactly representable in float32, so that a float32 run and a float64 run see one problem.
Array<double> as_float32(Array<double> a) {
  for (double& x : a) x = static_cast<double>(static_cast<float>(x));
  return a;
}

struct PairsCase {
  const char* what;
  Array<double> z, m, v;
};

std::vector<PairsCase> pairs_cases() {
  Rng rng(21);
  const Array<double> z = rng.normal<double>({7, 3}) * 2.0, m = rng.normal<double>({5, 3});
  const Array<double> v = xt::exp(rng.normal<double>({5, 3}) * 2.0);  // variances from about e^−6 to e^6
  Array<double> near = m;  // z within 1e-3 of a mean, far from the origin: |z − μ| ≪ |z|
  near += 100.0;
  Array<double> zn = xt::view(near, xt::range(0, 2), xt::all()) + 1e-3;
  return {{"random, variances e^±6", as_float32(z), as_float32(m), as_float32(v)},
          {"z 1e-3 from a mean, every mean near 100, v = 1e-2", as_float32(zn), as_float32(near),
           as_float32(Array<double>(xt::full_like(m, 1e-2)))},
          {"z 1e-3 from a mean at 100, the other means at −100", as_float32(Array<double>{{100.001, 0.0}}),
           as_float32(Array<double>{{100.0, 0.0}, {-100.0, 0.0}}), as_float32(Array<double>{{1e-2, 1.0}, {1e-2, 1.0}})}};
}

}  // namespace

TEST_CASE("log_normal_pairs equals the broadcast log_normal within the expanded square's bound, float64 and float32") {
  for (const PairsCase& pc : pairs_cases()) {
    INFO(pc.what);
    const std::size_t d = pc.z.shape()[1], n = pc.z.shape()[0], K = pc.m.shape()[0];
    const Array<double> terms = expanded_terms(pc.z, pc.m, pc.v);
    Tape<double> t;
    Var<double> z = t.leaf(pc.z), m = t.leaf(pc.m), v = t.leaf(pc.v);
    Var<double> fast = log_normal_pairs(z, m, v), book = pairs_composite(z, m, v);
    CHECK(fast.shape() == book.shape());
    // Each side rounds in the shift (2 roundings), 1/v and m̃²/v (3), and a sum of 2d + 1 terms, each
    // at most the matching part of T; the composite's own error is within 3d·ε·T. Together
    // (6d + 8)·ε·T_ik, in float64 against the composite and in float32 against float64.
    Tape<float> tf;
    const Array<double> y32 = xt::cast<double>(log_normal_pairs(tf.constant(Array<float>(xt::cast<float>(pc.z))),
                                                                tf.constant(Array<float>(xt::cast<float>(pc.m))),
                                                                tf.constant(Array<float>(xt::cast<float>(pc.v)))).value());
    const double e64 = std::numeric_limits<double>::epsilon(), e32 = std::numeric_limits<float>::epsilon();
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t k = 0; k < K; ++k) {
        const double ref = book.value()(i, k), bound = (6.0 * static_cast<double>(d) + 8) * terms(i, k);
        CHECK(std::abs(fast.value()(i, k) - ref) <= bound * e64);
        CHECK(std::abs(y32(i, k) - ref) <= bound * e32);
      }
    // Gradients, weights w: the same sums of |terms| (with |w|), each of n + K products at most.
    Rng rng(4);
    const Array<double> w = rng.uniform<double>({n, K}, 0.5, 1.5);
    Tape<double> t2;
    Var<double> z2 = t2.leaf(pc.z), m2 = t2.leaf(pc.m), v2 = t2.leaf(pc.v);
    t2.backward(sum(log_normal_pairs(z2, m2, v2) * t2.constant(w)));
    t.backward(sum(book * t.constant(w)));
    const double tol = (4.0 * (n + K) + 8) * std::numeric_limits<double>::epsilon();
    const double scale_t = xt::amax(terms)();
    // each entry sums at most max(n, K) pairs, |w| ≤ 1.5, of derivatives |z − m|/v, (z − m)²/v² and
    // 1/v, each at most (T + 1)(1 + 1/v_min)
    const double v_min = xt::amin(pc.v)(), each = (scale_t + 1) * (1 + 1 / v_min);
    for (auto [a, b] : {std::pair{z2.grad(), z.grad()}, std::pair{m2.grad(), m.grad()}, std::pair{v2.grad(), v.grad()}})
      CHECK(max_diff(a, b).first <= tol * static_cast<double>(std::max(n, K)) * 1.5 * each);
  }
}

TEST_CASE("log_normal_mixture: the fused normal_mix and the textbook composite agree, uniform and weighted") {
  for (const PairsCase& pc : pairs_cases()) {
    INFO(pc.what);
    const std::size_t n = pc.z.shape()[0], K = pc.m.shape()[0], d = pc.z.shape()[1];
    const Array<double> terms = expanded_terms(pc.z, pc.m, pc.v);
    Rng rng(6);
    Array<double> pi = rng.uniform<double>({K}, 0.1, 1.0);
    pi /= xt::sum(pi)();
    const Array<double> log_pi = xt::log(pi), w = rng.uniform<double>({n}, 0.5, 1.5);
    for (bool weighted : {false, true}) {
      Array<double> y[2], gz[2], gm[2], gv[2];
      for (int book : {0, 1}) {
        PathScope scope(book ? Path::textbook : Path::fast);
        Tape<double> t;
        Var<double> z = t.leaf(pc.z), m = t.leaf(pc.m), v = t.leaf(pc.v);
        Var<double> yv = weighted ? log_normal_mixture(z, m, v, t.constant(log_pi)) : log_normal_mixture(z, m, v);
        CHECK(recorded(t, "normal_mix") == !book);
        t.backward(sum(yv * t.constant(w)));
        y[book] = yv.value(), gz[book] = z.grad(), gm[book] = m.grad(), gv[book] = v.grad();
      }
      // log-sum-exp is 1-Lipschitz in the largest change of its inputs, so the tables' bound
      // (previous test) carries over, plus the log-sum-exp's own rounding on each side, K + 3 terms.
      const double eps = std::numeric_limits<double>::epsilon();
      for (std::size_t i = 0; i < n; ++i) {
        const double t_max = *std::max_element(&terms(i, 0), &terms(i, 0) + K);
        CHECK(std::abs(y[0](i) - y[1](i)) <= (6.0 * static_cast<double>(d) + 8) * eps * t_max +
                                                  2.0 * (K + 3) * eps * (1 + std::abs(y[1](i))));
      }
      // The gradients: the responsibilities differ by the values' change (≤ 1e-9 at these sizes),
      // then the products of the previous test; 1e-7 of each array's largest entry holds both.
      for (auto* g : {gz, gm, gv}) {
        auto [diff, scale] = max_diff(g[0], g[1]);
        CHECK(diff <= 1e-7 * (1 + scale));
      }
    }
  }
}
