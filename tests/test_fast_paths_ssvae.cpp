// The SSVAE's fast path against its textbook twin in float32, where training runs (docs/fast-paths.md):
// q(z|x,y)'s variance read in place (softplus_rows, autograd/ops_fused_gmvae.cpp, on an encoder's head) against
// softplus(narrow(h)) + 1e-8, the one-pass backward of the shared first layer (onehot_linear_elu)
// against the composite in float64, narrow's backward by rows against its formula, and the whole
// bounds on both paths. Each tolerance is derived next to its check from float rounding.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include "autograd/ops_fused_gmvae.hpp"
#include "autograd/ops_fused_zoo.hpp"
#include "autograd/path.hpp"
#include "distributions/distributions.hpp"
#include "models/ssvae.hpp"
#include "test_helpers.hpp"

using namespace tz;

namespace {

constexpr double eps_f = std::numeric_limits<float>::epsilon();

template <class T>
std::size_t count_op(const Tape<T>& t, const std::string& name) {
  std::size_t k = 0;
  for (std::uint32_t i = 0; i < t.size(); ++i) k += op_name(t.node(i).op) == name;
  return k;
}

Array<float> to_f(const Array<double>& a) { return xt::cast<float>(a); }

// h [rows, 2d] from −90 to 90 with ±1e3, 0 and ±1e-30 mixed in; d = 19: a float batch of 16 (a double
// batch of 8 twice) and a tail.
Array<double> head_input(std::size_t rows, std::size_t d) {
  Array<double> h = Array<double>::from_shape({rows, 2 * d});
  for (std::size_t i = 0; i < h.size(); ++i) h.data()[i] = -90.0 + 180.0 * static_cast<double>((i * 37) % 101) / 100.0;
  const double special[] = {-1e3, 1e3, 0.0, 1e-30, -1e-30, -17.0, 17.0, 0.5};
  for (std::size_t r = 0; r < rows; ++r) h(r, d + r % d) = special[r % 8];
  return h;
}

struct HeadRun {
  Array<double> v, gh;
};

// v from h on either path, then loss Σ w ⊙ v + Σ u ⊙ m with m = narrow(h, 1, 0, d) recorded before
// or after v (so that either backward writes h's gradient first, beta = 0, and the other adds).
template <class T>
HeadRun run_head(bool fused, bool mean_first, const Array<double>& h, const Array<double>& w, const Array<double>& u) {
  Tape<T> t;
  Var<T> hv = t.leaf(Array<T>(xt::cast<T>(h)));
  const std::size_t d = h.shape()[1] / 2;
  Var<T> m;
  if (mean_first) m = narrow(hv, 1, 0, d);
  Var<T> v = fused ? softplus_rows(hv, 1, d, d, 1e-8) : softplus(narrow(hv, 1, d, d)) + 1e-8;
  if (!mean_first) m = narrow(hv, 1, 0, d);
  t.backward(sum(v * t.constant(Array<T>(xt::cast<T>(w)))) + sum(m * t.constant(Array<T>(xt::cast<T>(u)))));
  CHECK(count_op(t, "softplus_rows") == (fused ? 1u : 0u));
  return {xt::cast<double>(v.value()), xt::cast<double>(hv.grad())};
}

}  // namespace

TEST_CASE("an encoder head's softplus_rows equals softplus(narrow(h, 1, d, d)) + 1e-8 within float rounding, and its gradient") {
  const std::size_t rows = 9, d = 19;
  const Array<double> h = head_input(rows, d);
  Rng rng(5);
  const Array<double> w = rng.normal<double>({rows, d}), u = rng.normal<double>({rows, d});
  for (bool mean_first : {true, false}) {
    CAPTURE(mean_first);
    // The exact values from the float inputs (as float64 sees them): v = softplus(h_v) + 1e-8 with
    // log1p and exp in double, ∂/∂h_v = w·σ(h_v), ∂/∂h_m = u.
    const Array<double> hf = xt::cast<double>(to_f(h));
    for (bool fused : {true, false}) {
      CAPTURE(fused);
      const HeadRun f = run_head<float>(fused, mean_first, h, w, u);
      const HeadRun g = run_head<double>(fused, mean_first, h, w, u);
      for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t j = 0; j < d; ++j) {
          // softplus(y) + 1e-8 and σ(y) in double, at the float input and at the double one
          auto v_at = [](double y) { return std::max(y, 0.0) + std::log1p(std::exp(-std::abs(y))) + 1e-8; };
          auto sig_at = [](double y) { return 1.0 / (1.0 + std::exp(-y)); };
          const double yf = hf(r, d + j), yd = h(r, d + j), wf = static_cast<float>(w(r, j));
          CAPTURE(yd);
          // Values: log1p(e^−|y|) within a few ε (the series, autograd/simd_softplus.hpp; libm's on the
          // textbook path), e^−|y| within 2 ulp and the relative error of log1p(e) at most that of e,
          // max(y, 0) + … and + 1e-8 one rounding each: 8ε relative to v.
          CHECK(std::abs(f.v(r, j) - v_at(yf)) <= 8 * eps_f * v_at(yf));
          CHECK(std::abs(g.v(r, j) - v_at(yd)) <= 8e-16 * v_at(yd));
          // Gradients: w·σ(y), e^−y within 2 ulp (its effect on σ at most that, relative), 1 + e^−y,
          // the division and the product one rounding each, the weight w rounded to float: 6ε; and for
          // y < −88.7 float's e^−y is inf, so σ(y) < e^−88.7 < float's smallest normal comes out 0.
          const double tiny = std::numeric_limits<float>::min() * std::abs(wf);
          CHECK(std::abs(f.gh(r, d + j) - wf * sig_at(yf)) <= 6 * eps_f * std::abs(wf * sig_at(yf)) + tiny);
          CHECK(std::abs(g.gh(r, d + j) - w(r, j) * sig_at(yd)) <= 6e-16 * std::abs(w(r, j) * sig_at(yd)));
          // The mean half: narrow's gradient u, copied or added to this node's 0: exact.
          CHECK(f.gh(r, j) == static_cast<float>(u(r, j)));
          CHECK(g.gh(r, j) == u(r, j));
        }
    }
  }
}

TEST_CASE("narrow's backward by rows equals gx[start : start+len] += gy on every axis, bit for bit") {
  // x [3, 5, 4] and two overlapping narrows of one axis: the later one's backward runs first and
  // assigns (zero-filling outside its window), the earlier one's adds.
  const Array<double> x = xt::reshape_view(xt::arange<double>(60.0) * 0.25 - 3.0, {3, 5, 4});
  for (int axis = 0; axis < 3; ++axis) {
    CAPTURE(axis);
    Tape<double> t;
    Var<double> xv = t.leaf(x);
    const std::size_t n = x.shape()[static_cast<std::size_t>(axis)];
    Var<double> a = narrow(xv, axis, 1, n - 2), b = narrow(xv, axis, 0, 2);
    Rng rng(static_cast<std::uint64_t>(axis) + 1);
    const Array<double> wa = rng.normal<double>(std::vector<std::size_t>(a.shape().begin(), a.shape().end()));
    const Array<double> wb = rng.normal<double>(std::vector<std::size_t>(b.shape().begin(), b.shape().end()));
    t.backward(sum(a * t.constant(wa)) + sum(b * t.constant(wb)));
    const Array<double> g = xv.grad();
    for (std::size_t i = 0; i < 3; ++i)
      for (std::size_t j = 0; j < 5; ++j)
        for (std::size_t k = 0; k < 4; ++k) {
          std::size_t q[] = {i, j, k};
          const std::size_t p = q[axis];
          auto at = [&](const Array<double>& w, std::size_t start) {
            q[axis] = p - start;
            const double v = w(q[0], q[1], q[2]);
            q[axis] = p;
            return v;
          };
          double want = p < 2 ? at(wb, 0) : 0.0;  // b's backward first (assigns), then a's (adds)
          if (p >= 1 && p < n - 1) want += at(wa, 1);
          CHECK(g(i, j, k) == want);
        }
  }
}

namespace {

struct LayerGrads {
  Array<double> h, gx, gW, gb;
};

// loss Σ w ⊙ h for h = onehot_linear_elu(x, W, b, y) in float, or its composite
// elu(linear(concat({tile(x, copies), onehot(y)}, 1), W, b)) in float64, on the same (float) inputs.
template <class T>
LayerGrads layer(const Array<double>& x, const Array<double>& W, const Array<double>& b,
                 const std::vector<std::size_t>& y, const Array<double>& w) {
  Tape<T> t;
  auto in = [&](const Array<double>& a) { return t.leaf(Array<T>(xt::cast<T>(to_f(a)))); };
  Var<T> xv = in(x), Wv = in(W), bv = in(b), h;
  if constexpr (std::is_same_v<T, float>) {
    h = onehot_linear_elu(xv, Wv, bv, y);
  } else {
    const std::vector<int> yi(y.begin(), y.end());
    const std::size_t copies = y.size() / x.shape()[0];
    h = elu(linear(concat<T>({copies > 1 ? tile(xv, copies) : xv, t.constant(one_hot<T>(yi, W.shape()[0] - x.shape()[1]))}, 1), Wv, bv));
  }
  t.backward(sum(h * in(w)));
  auto d = [](const Array<T>& a) { return Array<double>(xt::cast<double>(a)); };
  return {d(h.value()), d(xv.grad()), d(Wv.grad()), d(bv.grad())};
}

}  // namespace

TEST_CASE("onehot_linear_elu in float: the one-pass backward equals the composite in float64 within float rounding") {
  // out = 37: two float batches of 16 and a tail; one copy (the decoder) and 10 (the encoder).
  const std::size_t n = 7, in = 13, K = 5, out = 37;
  Rng rng(21);
  const Array<double> x = rng.normal<double>({n, in}), W = rng.normal<double>({in + K, out}) * 0.5;
  const Array<double> b = rng.normal<double>({out});
  for (std::size_t copies : {1, 10}) {
    CAPTURE(copies);
    const std::size_t rows = copies * n;
    std::vector<std::size_t> y(rows);
    for (std::size_t r = 0; r < rows; ++r) y[r] = copies > 1 ? r / n % K : (r * 3) % K;
    const Array<double> w = rng.normal<double>({rows, out});
    const LayerGrads f = layer<float>(x, W, b, y, w), e = layer<double>(x, W, b, y, w);
    const Array<double> xf = xt::cast<double>(to_f(x)), Wf = xt::cast<double>(to_f(W)), bf = xt::cast<double>(to_f(b));
    const Array<double> wf = xt::cast<double>(to_f(w));
    // The pre-activation y_rk is a float gemm over in terms plus two: |Δy| ≤ (in + 2)·ε·S_rk with
    // S_rk = Σ_j |x_ij W_jk| + |W_(in+y_r),k| + |b_k|, and expm1 adds 2ε·|h| ≤ 2ε·S_rk (elu is
    // 1-Lipschitz, |elu(y)| ≤ |y|). The gradient g = w·elu'(y) then errs by |w|·((in + 4)·ε·S + ε)
    // (elu' = e^y ≤ 1 moves by at most |Δy|), and each gradient entry is a sum of at most
    // rows + out terms c·g in float: its error is at most Σ|c·w|·(in + rows + out + 8)·ε·max(S, 1).
    double S = 1;
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t k = 0; k < out; ++k) {
        double s = std::abs(Wf(in + y[r], k)) + std::abs(bf(k));
        for (std::size_t j = 0; j < in; ++j) s += std::abs(xf(r % n, j) * Wf(j, k));
        S = std::max(S, s);
        CHECK(std::abs(f.h(r, k) - e.h(r, k)) <= (in + 4) * eps_f * s);
      }
    const double tol = static_cast<double>(in + rows + out + 8) * eps_f * S;
    // each entry q of a gradient against tol times the Σ|c·w| of the terms c·g that feed it
    auto within = [&](const Array<double>& got, const Array<double>& want, auto&& terms) {
      for (std::size_t q = 0; q < got.size(); ++q) CHECK(std::abs(got.data()[q] - want.data()[q]) <= tol * terms(q));
    };
    within(f.gW, e.gW, [&](std::size_t q) {  // gW_jk = Σ_r [x, onehot(y)]_rj g_rk
      const std::size_t j = q / out, k = q % out;
      double s = 0;
      for (std::size_t r = 0; r < rows; ++r) s += std::abs((j < in ? xf(r % n, j) : double(y[r] == j - in)) * wf(r, k));
      return s;
    });
    within(f.gx, e.gx, [&](std::size_t q) {  // gx_ij = Σ_(r ≡ i mod n) Σ_k g_rk W_jk
      double s = 0;
      for (std::size_t r = q / in; r < rows; r += n)
        for (std::size_t k = 0; k < out; ++k) s += std::abs(wf(r, k) * Wf(q % in, k));
      return s;
    });
    within(f.gb, e.gb, [&](std::size_t k) {  // gb_k = Σ_r g_rk
      double s = 0;
      for (std::size_t r = 0; r < rows; ++r) s += std::abs(wf(r, k));
      return s;
    });
  }
}

namespace {

struct BoundsRun {
  double value = 0;
  std::vector<Array<double>> grads;  // every parameter's, in the ParamSet's order
  std::vector<std::string> names;
  std::size_t softplus_rows = 0, softplus = 0;
};

// Σ_i U(x_i) + Σ_i L(x_i, y_i) of a small SSVAE with the parameters of `ref` (cast to T), on one
// batch and one ε, on the given path; its value and every parameter's gradient.
template <class T>
BoundsRun run_bounds(Path path, models::SSVAE<double>& ref, const models::SSVAEOptions& o) {
  PathScope scope(path);
  Rng unused(0);
  models::SSVAE<T> model(o, unused);
  const auto from = ref.params().all();
  const auto to = model.params().all();
  for (std::size_t p = 0; p < to.size(); ++p) to[p]->value = xt::cast<T>(from[p]->value);
  const std::size_t n = 6;
  Rng rng(17);
  const Array<double> x = test::binary_rows(n, o.x_dim, rng);
  const Array<double> eps_u = rng.normal<double>({o.classes * n, o.z}), eps_l = rng.normal<double>({n, o.z});
  auto cast = [](const Array<double>& a) { return Array<T>(xt::cast<T>(to_f(a))); };
  Tape<T> tape;
  Var<T> xv = tape.constant(cast(x));
  auto U = model.negative_elbo_bound(tape, xv, tape.constant(cast(eps_u)));
  auto L = model.negative_elbo_bound(tape, xv, {0, 3, 1, 2, 2, 0}, tape.constant(cast(eps_l)));
  Var<T> total = sum(U.nelbo) + sum(L.nelbo);
  tape.backward(total);
  BoundsRun out{static_cast<double>(total.item()), {}, {}, count_op(tape, "softplus_rows"), count_op(tape, "softplus")};
  for (const Param<T>* p : to) {
    out.grads.push_back(xt::cast<double>(p->grad));
    out.names.push_back(p->name);
  }
  return out;
}

// The largest |a − b| over a gradient, relative to its largest |b|.
double rel_err(const Array<double>& a, const Array<double>& b) {
  double d = 0, s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    d = std::max(d, std::abs(a.data()[i] - b.data()[i]));
    s = std::max(s, std::abs(b.data()[i]));
  }
  return s > 0 ? d / s : d;
}

}  // namespace

TEST_CASE("ssvae in float: both bounds on the fast path are as close to float64 as the textbook's") {
  // z = 19 and hidden = 33: the heads and layers run whole SIMD batches and tails.
  models::SSVAEOptions o;
  o.x_dim = 40, o.hidden = 33, o.z = 19, o.classes = 4, o.labels = 8, o.labelled_batch = 0;
  Rng rng(3);
  models::SSVAE<double> ref(o, rng);
  const BoundsRun exact = run_bounds<double>(Path::textbook, ref, o);
  const BoundsRun fast = run_bounds<float>(Path::fast, ref, o), book = run_bounds<float>(Path::textbook, ref, o);
  CHECK(fast.softplus_rows == 2);  // q(z|x,y) of both bounds, each with its variance read in place
  CHECK(fast.softplus == 0);
  CHECK(book.softplus_rows == 0);
  CHECK(book.softplus == 4);  // the two variances and the two Bernoulli composites
  // Both float paths round the same sums (in different orders, with the few-ε softplus and the
  // shared layer's regrouped gemm), so each differs from float64 by some ε times the condition of
  // what it computes, and that condition is the same on both paths. The check: the fast path's
  // error is at most 4× the textbook's, for the bound, and for each parameter against the largest
  // textbook error in its network (the classifier's gradients, through q(y|x)'s weights on K bounds
  // of tens of nats, lose about 100× more than the encoder's and decoder's: two groups).
  const double book_err = std::abs(book.value - exact.value) / std::abs(exact.value);
  CHECK(std::abs(fast.value - exact.value) / std::abs(exact.value) <= 4 * std::max(book_err, eps_f));
  REQUIRE(fast.grads.size() == exact.grads.size());
  auto group = [&](std::size_t p) { return exact.names[p].substr(0, 3); };  // cls, enc, dec
  std::map<std::string, double> worst_book;
  for (std::size_t p = 0; p < exact.grads.size(); ++p)
    worst_book[group(p)] = std::max(worst_book[group(p)], rel_err(book.grads[p], exact.grads[p]));
  CHECK(worst_book.size() == 3);
  for (std::size_t p = 0; p < exact.grads.size(); ++p) {
    CAPTURE(exact.names[p]);
    const double e_fast = rel_err(fast.grads[p], exact.grads[p]);
    CAPTURE(worst_book[group(p)]);
    CHECK(e_fast <= 4 * std::max(worst_book[group(p)], eps_f));
  }
}
