// The Gaussian latent's fast paths against their textbook twins (autograd/ops_fused_gaussian.cpp,
// docs/fast-paths.md): z = m + √v ⊙ ε as one reparameterize node against m + sqrt(v) * eps, and
// KL(N(m, diag v) ‖ N(0, I)) as one kl_std_normal node against 0.5 * (sum(v - log(v) + square(m), -1) - d).
// Both paths perform the same roundings in the same order, so values and gradients are compared bit
// for bit, in float and double, on edge inputs (v from 1e-8 to 1e8 and 1, m = 0 and negative, ε = 0)
// and on shapes with whole SIMD batches, a tail, and rows that cross batches; then the graph a VAE
// builds, through sample_gaussian and kl_std_normal on both paths; where a gradient arrives on top
// of another (within a derived bound); values and gradients by hand; calls that broadcast, which keep
// the textbook line; and the errors.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include <xtensor/xmath.hpp>

#include "autograd/ops_fused_gaussian.hpp"
#include "autograd/path.hpp"
#include "distributions/distributions.hpp"

using namespace tz;

namespace {

template <class T>
bool recorded(const Tape<T>& t, Op op) {
  for (std::uint32_t i = 0; i < t.size(); ++i)
    if (t.node(i).op == op) return true;
  return false;
}

// One shape and the same bits in every element (memcmp: −0 and +0 differ, as they would in a bit
// copy). An empty array's data may be null, which memcmp must not be given.
template <class T>
bool same_bits(const Array<T>& a, const Array<T>& b) {
  return a.shape() == b.shape() && (a.size() == 0 || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

// A latent's numbers of shape s: m ~ N(0, 2²), v = e^u with u ~ U(−18.4, 18.4) (1e-8 to 1e8),
// ε ~ N(0, 1), with the edges written into the first elements: m = 0 at v = 1e-8, m = −3 at v = 1e8,
// m = 1 at v = 1 (a KL term of exactly ½), and ε = 0.
template <class T>
struct Latent {
  Array<T> m, v, e;
};

template <class T>
Latent<T> latent(const Shape& s, std::uint64_t seed) {
  Rng rng(seed);
  Latent<T> in{rng.normal<T>(s, 0, 2), xt::exp(rng.uniform<T>(s, T(-18.4), T(18.4))), rng.normal<T>(s)};
  const T edge_m[] = {0, -3, 1}, edge_v[] = {T(1e-8), T(1e8), 1};
  for (std::size_t i = 0; i < 3 && i < in.m.size(); ++i) {
    in.m.data()[i] = edge_m[i];
    in.v.data()[i] = edge_v[i];
  }
  if (in.e.size() > 0) in.e.data()[0] = 0;
  return in;
}

template <class T>
struct Run {
  Array<T> y, gm, gv, ge;
};

// y and the gradients of Σ w ⊙ y, every input a leaf: the fused op, or its composite written out.
template <class T>
Run<T> run_sample(bool fused, const Latent<T>& in, const Array<T>& w) {
  Tape<T> t;
  Var<T> m = t.leaf(in.m), v = t.leaf(in.v), e = t.leaf(in.e);
  Var<T> y = fused ? reparameterize(m, v, e) : m + sqrt(v) * e;
  CHECK(recorded(t, Op::reparam) == fused);
  t.backward(sum(y * t.constant(w)));
  return {y.value(), m.grad(), v.grad(), e.grad()};
}

template <class T>
Run<T> run_kl(bool fused, const Latent<T>& in, const Array<T>& w) {
  Tape<T> t;
  Var<T> m = t.leaf(in.m), v = t.leaf(in.v);
  const double d = static_cast<double>(in.m.shape().back());
  Var<T> y = fused ? kl_std_normal_fused(m, v) : 0.5 * (sum(v - log(v) + square(m), -1) - d);
  CHECK(recorded(t, Op::kl_std_normal) == fused);
  t.backward(sum(y * t.constant(w)));
  return {y.value(), m.grad(), v.grad(), {}};
}

// [3, 37]: 111 elements, rows crossing SIMD batches and a scalar tail; [4, 64]: whole batches (the
// SSVAE's rows); [5, 10]: rows shorter than a float batch; [7]: one row, a 0-d KL; [2, 0]: empty rows.
const Shape kShapes[] = {{3, 37}, {4, 64}, {5, 10}, {7}, {2, 0}};

template <class T>
void check_same_bits(const Shape& s, std::uint64_t seed) {
  INFO("shape " << shape_str(s));
  const Latent<T> in = latent<T>(s, seed);
  Rng rng(seed + 100);
  const Array<T> w = rng.uniform<T>(s, -1, 2);
  const Run<T> a = run_sample(true, in, w), b = run_sample(false, in, w);
  CHECK(same_bits(a.y, b.y));
  CHECK(same_bits(a.gm, b.gm));
  CHECK(same_bits(a.gv, b.gv));
  CHECK(same_bits(a.ge, b.ge));
  const Shape rows(s.begin(), s.end() - 1);
  const Array<T> u = rng.uniform<T>(rows, -1, 2);
  const Run<T> c = run_kl(true, in, u), k = run_kl(false, in, u);
  CHECK(same_bits(c.y, k.y));
  CHECK(same_bits(c.gm, k.gm));
  CHECK(same_bits(c.gv, k.gv));
}

}  // namespace

TEST_CASE("reparameterize and kl_std_normal equal their composites bit for bit, values and gradients, float and double") {
  std::uint64_t seed = 1;
  for (const Shape& s : kShapes) {
    check_same_bits<float>(s, seed++);
    check_same_bits<double>(s, seed++);
  }
}

namespace {

template <class T>
struct LatentRun {
  Array<T> loss, gm, gv;
  bool fused, composite;  // which ops the tape holds
};

// The latent of a VAE's step on the given path: z = sample_gaussian(m, v, ε), a stand-in for the
// reconstruction term, Σ w ⊙ z, recorded first, then KL = kl_std_normal(m, v), so that the backward
// reaches the KL's nodes first, as in VAE::negative_elbo_bound (models/vae.cpp).
template <class T>
LatentRun<T> run_latent(Path path, const Latent<T>& in, const Array<T>& w, const Array<T>& u) {
  PathScope scope(path);
  Tape<T> t;
  Var<T> m = t.leaf(in.m), v = t.leaf(in.v);
  Var<T> z = sample_gaussian(m, v, t.constant(in.e, "ε"));
  Var<T> rec = sum(z * t.constant(w), -1);
  Var<T> loss = sum((rec + kl_std_normal(m, v)) * t.constant(u));
  t.backward(loss);
  const bool fused = recorded(t, Op::reparam) && recorded(t, Op::kl_std_normal);
  return {loss.value(), m.grad(), v.grad(), fused, recorded(t, Op::sqrt) || recorded(t, Op::log)};
}

template <class T>
void check_latent(std::uint64_t seed) {
  const Latent<T> in = latent<T>({6, 37}, seed);
  Rng rng(seed + 100);
  const Array<T> w = rng.uniform<T>({6, 37}, -1, 2), u = rng.uniform<T>({6}, 0.5, 1.5);
  const LatentRun<T> fast = run_latent(Path::fast, in, w, u), book = run_latent(Path::textbook, in, w, u);
  CHECK((fast.fused && !fast.composite));
  CHECK((book.composite && !book.fused));
  // m's gradient: the KL's gy·m, then the sample's gy on top; v's: the KL's ½·gy − ½·gy/v (the
  // composite's sub, then log, in that order), then the sample's gy·ε/(2√v) on top: the same sums.
  CHECK(same_bits(fast.loss, book.loss));
  CHECK(same_bits(fast.gm, book.gm));
  CHECK(same_bits(fast.gv, book.gv));
}

}  // namespace

TEST_CASE("sample_gaussian and kl_std_normal in a VAE's graph: the same loss and gradients on both paths, bit for bit") {
  check_latent<float>(21);
  check_latent<double>(22);
}

namespace {

// Each input already holds a gradient (Σ c ⊙ x, recorded after the ops, reaches it first), so the
// ops add to it (beta = 1), and the sums are grouped differently: v gets (c + ½u) − ½u/v on the
// composite and c + (½u − ½u/v) here, and xtensor's g + a·b may be one fused multiply-add where the
// op rounds the product first. Each path's sum is within 7 roundings of its terms, 7·(ε/2)·Σ|terms|,
// of the exact one (at most 3 additions, and a term of up to 4 roundings: (w·ε)/(2·√v)), so the two
// are within 7ε·Σ|terms|, checked at 8ε.
template <class T>
void check_on_top(std::uint64_t seed) {
  const double eps = std::numeric_limits<T>::epsilon();
  const Shape s{3, 37};
  const Latent<T> in = latent<T>(s, seed);
  Rng rng(seed + 100);
  const Array<T> w = rng.uniform<T>(s, -1, 2), c = rng.uniform<T>(s, -1, 2), u = rng.uniform<T>({3}, -1, 2);
  auto run = [&](bool fused) {
    Tape<T> t;
    Var<T> m = t.leaf(in.m), v = t.leaf(in.v), e = t.leaf(in.e);
    Var<T> z = fused ? reparameterize(m, v, e) : m + sqrt(v) * e;
    Var<T> kl = fused ? kl_std_normal_fused(m, v) : 0.5 * (sum(v - log(v) + square(m), -1) - 37.0);
    Var<T> others = sum(m * t.constant(c)) + sum(v * t.constant(c)) + sum(e * t.constant(c));
    t.backward(sum(z * t.constant(w)) + sum(kl * t.constant(u)) + others);
    return Run<T>{z.value(), m.grad(), v.grad(), e.grad()};
  };
  const Run<T> a = run(true), b = run(false);
  for (std::size_t i = 0; i < in.m.size(); ++i) {
    const double wi = w.data()[i], ci = c.data()[i], ui = u.data()[i / 37];
    const double mi = in.m.data()[i], vi = in.v.data()[i], ei = in.e.data()[i], si = std::sqrt(vi);
    const double tm = std::abs(ci) + std::abs(ui * mi) + std::abs(wi);  // c, u·m, w
    const double tv = std::abs(ci) + std::abs(ui) / 2 + std::abs(ui / (2 * vi)) + std::abs(wi * ei / (2 * si));
    const double te = std::abs(ci) + std::abs(wi * si);  // c, w·√v
    CHECK(std::abs(static_cast<double>(a.gm.data()[i]) - b.gm.data()[i]) <= 8 * eps * tm);
    CHECK(std::abs(static_cast<double>(a.gv.data()[i]) - b.gv.data()[i]) <= 8 * eps * tv);
    CHECK(std::abs(static_cast<double>(a.ge.data()[i]) - b.ge.data()[i]) <= 8 * eps * te);
  }
  CHECK(same_bits(a.y, b.y));
}

}  // namespace

TEST_CASE("on top of a gradient already there (beta = 1): both ops add, within a rounding of the composite") {
  check_on_top<float>(31);
  check_on_top<double>(32);
}

TEST_CASE("by hand: KL = ½ per unit at m = 1, v = 1, 0 at the prior, and the derivatives m and ½(1 − 1/v)") {
  // Every number here is exact in binary, so the checks are equalities. Row 0: m = 1, v = 1 in
  // each of 4 units: ½·(1 − 0 + 1) per unit less ½, KL = 4·½ = 2. Row 1: the prior itself, KL = 0.
  // Row 2: m = (0, −2, 0, 0), v = (2, ½, 1, 1): ½·[(2 − log 2) + (½ + log 2 + 4) + 1 + 1 − 4].
  Tape<double> t;
  Var<double> m = t.leaf(Array<double>{{1, 1, 1, 1}, {0, 0, 0, 0}, {0, -2, 0, 0}});
  Var<double> v = t.leaf(Array<double>{{1, 1, 1, 1}, {1, 1, 1, 1}, {2, 0.5, 1, 1}});
  Var<double> kl = kl_std_normal_fused(m, v);
  REQUIRE(kl.shape() == Shape{3});
  CHECK(kl.value()(0) == 2.0);
  CHECK(kl.value()(1) == 0.0);
  CHECK(kl.value()(2) == doctest::Approx(0.5 * (2 - std::log(2.0) + 0.5 + std::log(2.0) + 4 + 2 - 4)).epsilon(1e-15));
  t.backward(sum(kl * t.constant(Array<double>{1, 1, 2})));  // gy = 1, 1, 2
  CHECK(m.grad() == Array<double>{{1, 1, 1, 1}, {0, 0, 0, 0}, {0, -4, 0, 0}});  // gy·m
  CHECK(v.grad() == Array<double>{{0, 0, 0, 0}, {0, 0, 0, 0}, {0.5, -1, 0, 0}});  // ½·gy·(1 − 1/v): ½·2·½, ½·2·(−1)

  // z = m + √v ε with m = 1, v = 4, ε = ½: z = 2; ∂z/∂m = 1, ∂z/∂v = ε/(2√v) = 1/8, ∂z/∂ε = √v = 2.
  // And m = −3, v = 1e-8 (√v = 1e-4), ε = 0: z = −3, ∂z/∂v = 0, ∂z/∂ε = 1e-4.
  Tape<double> s;
  Var<double> sm = s.leaf(Array<double>{1, -3}), sv = s.leaf(Array<double>{4, 1e-8}), se = s.leaf(Array<double>{0.5, 0});
  Var<double> z = reparameterize(sm, sv, se);
  CHECK(z.value() == Array<double>{2, -3});
  s.backward(sum(z));
  CHECK(sm.grad() == Array<double>{1, 1});
  CHECK(sv.grad() == Array<double>{0.125, 0});
  CHECK(se.grad() == Array<double>{2, std::sqrt(1e-8)});
}

TEST_CASE("calls whose shapes differ keep the textbook line (it broadcasts); the ops refuse them, naming both shapes") {
  // One m and v for a batch of noise (m, v [1, 3], ε [4, 3]), and one v for every row of m.
  Tape<double> t;
  Var<double> m = t.constant(Array<double>{{0.5, -1, 2}}), v = t.constant(Array<double>{{1, 4, 0.25}});
  Var<double> eps = t.constant(Array<double>{{0, 1, -1}, {2, 0, 1}, {1, 1, 1}, {-2, 0.5, 0}});
  const Array<double> z = sample_gaussian(m, v, eps).value();
  CHECK_FALSE(recorded(t, Op::reparam));
  REQUIRE(z.shape() == Shape{4, 3});
  CHECK(z(1, 0) == 2.5);   // 0.5 + 1·2
  CHECK(z(3, 2) == 2.0);   // 2 + ½·0
  Var<double> m2 = t.constant(Array<double>{{0, 1, 0}, {1, 0, 0}});
  const Array<double> kl = kl_std_normal(m2, v).value();
  CHECK_FALSE(recorded(t, Op::kl_std_normal));
  REQUIRE(kl.shape() == Shape{2});
  CHECK(kl(0) == doctest::Approx(0.5 * (1 + 4 - std::log(4.0) + 0.25 - std::log(0.25) + 1 - 3)).epsilon(1e-15));

  CHECK_THROWS_WITH_AS(reparameterize(m, v, eps),
                       "reparameterize: m, v and ε must have one shape, got m [1,3], v [1,3] and ε [4,3]", AutogradError);
  CHECK_THROWS_WITH_AS(kl_std_normal_fused(m2, v), "kl_std_normal: m and v must have one shape [..., d], got m [2,3] and v [1,3]",
                       AutogradError);
  CHECK_THROWS_WITH_AS(kl_std_normal_fused(t.scalar(1.0), t.scalar(1.0)),
                       "kl_std_normal: m and v must have one shape [..., d], got m [] and v []", AutogradError);
}
