// Every op in autograd/op_table.hpp gets a float64 gradcheck here, with edge inputs: 0, large
// magnitudes, -inf where it is meaningful, broadcasting shapes and every axis. The registry below
// is iterated against the op table, so an op added without a case fails "every op has a case".
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <map>

#include "autograd/gradcheck.hpp"
#include "autograd/ops_fused_gaussian.hpp"
#include "autograd/ops_fused_gmvae.hpp"
#include "autograd/ops_fused_zoo.hpp"

using namespace tz;
using A = Array<double>;
using V = Var<double>;
using Vs = std::vector<V>;

namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

struct OpCase {
  std::string label;
  std::vector<A> inputs;
  GradFn f;
  std::function<bool(std::size_t, std::size_t)> skip = nullptr;  // kinks
  // A property check instead of (or besides) gradcheck; returns an error message or "".
  std::function<std::string()> custom = nullptr;
};

// A [1, n] matrix (a braced {{…}} with one row is ambiguous for xarray).
A row(std::initializer_list<double> v) {
  A a = A::from_shape({1, v.size()});
  std::copy(v.begin(), v.end(), a.begin());
  return a;
}

// A deterministic array of the given shape with values spread over [lo, hi].
A spread(const Shape& shape, double lo, double hi) {
  A a = A::from_shape(shape);
  const std::size_t n = a.size();
  for (std::size_t i = 0; i < n; ++i)
    a.data()[i] = n == 1 ? lo : lo + (hi - lo) * static_cast<double>((i * 7) % n) / static_cast<double>(n - 1);
  return a;
}

OpCase unary(std::string label, A x, std::function<V(const V&)> f,
             std::function<bool(std::size_t, std::size_t)> skip = nullptr) {
  return {std::move(label), {std::move(x)}, [f](const Vs& v) { return f(v[0]); }, std::move(skip)};
}

OpCase binary(std::string label, A a, A b, std::function<V(const V&, const V&)> f) {
  return {std::move(label), {std::move(a), std::move(b)}, [f](const Vs& v) { return f(v[0], v[1]); }};
}

// Skip exact kinks (x == 0) where the derivative is a convention, not a limit; the convention is
// tested on its own below.
bool at_zero(const A& x, std::size_t k) { return x.data()[k] == 0.0; }

// The model zoo's fused ops (autograd/ops_fused_ssvae.cpp, autograd/ops_fused_zoo.cpp).
void add_fused_zoo_cases(std::map<Op, std::vector<OpCase>>& c) {
  // onehot_linear_elu: x [2,3] shared by 3 copies (labels 0, 2, 1 per copy, both rows of a copy
  // alike and not), K = 3; pre-activations from about −30 (gradient e^−30) to +40; one copy, and
  // a label that no row uses (its row of gW stays 0).
  const std::vector<std::size_t> labels3{0, 0, 2, 1, 1, 2};
  const A x23 = spread({2, 3}, -2, 3), W63 = spread({6, 4}, -1, 1);
  c[Op::onehot_elu] = {
      {"x[2,3], W[3+3,4], 3 copies", {x23, W63, A{-30.0, -0.5, 0.2, 40.0}},
       [labels3](const Vs& v) { return onehot_linear_elu(v[0], v[1], v[2], labels3); }},
      {"one copy, label 1 unused, bias [1,4]", {x23, W63, spread({1, 4}, -2, 2)},
       [](const Vs& v) { return onehot_linear_elu(v[0], v[1], v[2], {2, 0}); }}};
  // log_normal_pairs: variances from 1e-2 to 100, z at a mean; z far from every component (±30,
  // against variances 10 to 100: farther or narrower and the central difference's rounding,
  // ε·|y|/h, passes the tolerance); a tiny variance 2e-3 with z 1e-3 from the mean (smaller and
  // the difference's truncation error, h²·∂³y/∂v³/6 ~ h²/v³, does); one component.
  const A z = {{0.3, -1.0}, {-0.5, 0.25}, {1.0, 2.0}};
  const A m = {{1.0, 2.0}, {-0.5, 0.25}, {3.0, -3.0}};
  const A v = {{1e-2, 1.0}, {100.0, 0.5}, {2.0, 1e-1}};
  const A far = {{30.0, -30.0}, {-30.0, 25.0}};
  c[Op::normal_pairs] = {
      {"z[3,2] against K = 3, v from 1e-2 to 100, z at a mean", {z, m, v},
       [](const Vs& a) { return log_normal_pairs(a[0], a[1], a[2]); }},
      {"z at ±30, far from every component", {far, m, A{{10.0, 50.0}, {100.0, 20.0}, {40.0, 10.0}}},
       [](const Vs& a) { return log_normal_pairs(a[0], a[1], a[2]); }},
      {"tiny variance 2e-3, z 1e-3 from the mean, one component", {A{{1.001, 2.0}}, A{{1.0, 2.0}}, A{{2e-3, 2e-3}}},
       [](const Vs& a) { return log_normal_pairs(a[0], a[1], a[2]); }}};
  // normal_mix: the same points and components with weights, one of them −inf (π = 0: no gradient
  // reaches it), z far from every component (the log-sum-exp's max shift matters), one component.
  const A log_w = {std::log(0.2), std::log(0.5), std::log(0.3)};
  c[Op::normal_mix] = {
      {"z[3,2] against K = 3, weights 0.2, 0.5, 0.3", {z, m, v, log_w},
       [](const Vs& a) { return normal_mixture(a[0], a[1], a[2], a[3]); }},
      {"a weight 0 (log w = −inf)", {z, m, v, A{std::log(0.4), -inf, std::log(0.6)}},
       [](const Vs& a) { return normal_mixture(a[0], a[1], a[2], a[3]); }},
      {"z at ±30, far from every component", {far, m, A{{10.0, 50.0}, {100.0, 20.0}, {40.0, 10.0}}, log_w},
       [](const Vs& a) { return normal_mixture(a[0], a[1], a[2], a[3]); }},
      {"one component", {A{{1.001, 2.0}, {0.0, 0.0}}, A{{1.0, 2.0}}, A{{2e-3, 0.5}}, A{0.0}},
       [](const Vs& a) { return normal_mixture(a[0], a[1], a[2], a[3]); }}};
}

// The GMVAE's fused op (autograd/ops_fused_gmvae.cpp). softplus_rows: the prior's rows [K, 2K)
// of a [2K, z] parameter (axis 0, K = 2) with x from −30 to 30 and the floor 1e-8; an encoder's
// second half (axis 1) at ±1000 and 0, where σ(x) is 0, ½ and 1; the middle axis of a 3-D array,
// floor 0; the whole axis (a slice of everything).
void add_fused_gmvae_cases(std::map<Op, std::vector<OpCase>>& c) {
  // the SSVAE's q(z|x,y) head at d = 11 with −1e3 (σ = 0), 0 and 1e3 (σ = 1) in both halves
  A wide = spread({3, 22}, -30, 30);
  for (std::size_t j : {0, 11, 12}) wide(0, j) = -1e3;
  wide(1, 13) = 0.0;
  for (std::size_t j : {5, 14}) wide(2, j) = 1e3;
  c[Op::softplus_rows] = {
      unary("axis 0, rows [2, 4) of [4, 3], x from −30 to 30", spread({4, 3}, -30, 30),
            [](const V& x) { return softplus_rows(x, 0, 2, 2, 1e-8); }),
      unary("axis 1, columns [2, 4) of [2, 4] at ±1000 and 0", A{{0.5, -1.0, -1e3, 0.0}, {2.0, 3.0, 1e3, -2.5}},
            [](const V& x) { return softplus_rows(x, 1, 2, 2, 1e-8); }),
      unary("axis 1 of [2, 3, 4], [1, 3), floor 0", spread({2, 3, 4}, -4, 4),
            [](const V& x) { return softplus_rows(x, 1, 1, 2, 0.0); }),
      unary("the whole last axis", spread({2, 3}, -2, 3), [](const V& x) { return softplus_rows(x, -1, 0, 3, 1e-8); }),
      unary("an encoder's variance half [11, 22) of [3, 22]: whole SIMD batches and a tail, ±1e3 and 0", wide,
            [](const V& x) { return softplus_rows(x, 1, 11, 11, 1e-8); })};
}

// Every VAE's Gaussian latent (autograd/ops_fused_gaussian.cpp), every input wanting a gradient.
// v from 1e-3 to 1e3: at v = 1e-3 the central difference's truncation error, h²·|∂³y/∂v³|/6 with
// h = 1e-6 (for kl_std_normal h²/(6v³) = 1.7e-4, against a derivative of −500) is a third of the
// tolerance; smaller v is checked against the composite and by hand (tests/test_fast_paths_gaussian.cpp).
// m negative, 0 and positive, ε = 0 and ±3; 37 elements and rows of 37 (whole SIMD batches, rows that
// cross them, and a scalar tail); a 1-D input, whose KL is 0-d; m and v one input (two gradients
// into one buffer).
void add_fused_gaussian_cases(std::map<Op, std::vector<OpCase>>& c) {
  const A m = {{-2.0, 0.0, 0.5}, {3.0, -0.25, 1.0}}, v = {{1e-3, 1.0, 2.5}, {1e3, 0.1, 4.0}};
  const A e = {{0.0, -3.0, 1.0}, {2.0, 0.5, 3.0}};
  auto sample = [](const Vs& a) { return reparameterize(a[0], a[1], a[2]); };
  auto kl = [](const Vs& a) { return kl_std_normal_fused(a[0], a[1]); };
  c[Op::reparam] = {
      {"[2,3]: m negative, 0, positive; v from 1e-3 to 1e3; ε 0 and ±3", {m, v, e}, sample},
      {"[37]: SIMD batches and a tail", {spread({37}, -3, 3), spread({37}, 1e-2, 50), spread({37}, -2, 2)}, sample},
      {"[2,3,4]", {spread({2, 3, 4}, -1, 1), spread({2, 3, 4}, 0.05, 9), spread({2, 3, 4}, -2.5, 2.5)}, sample},
      {"m and v one input", {spread({2, 5}, 0.05, 4), spread({2, 5}, -2, 2)},
       [](const Vs& a) { return reparameterize(a[0], a[0], a[1]); }}};
  c[Op::kl_std_normal] = {
      {"[2,3]: v from 1e-3 to 1e3, m negative, 0, positive", {m, v}, kl},
      {"[3,37]: rows across SIMD batches and a tail", {spread({3, 37}, -3, 3), spread({3, 37}, 1e-2, 50)}, kl},
      {"[5]: a 0-d KL", {A{0.0, 1.0, -2.0, 0.5, 3.0}, A{1.0, 1.0, 0.2, 7.0, 1e-3}}, kl},
      {"[2,1,4]", {spread({2, 1, 4}, -1, 2), spread({2, 1, 4}, 0.5, 3)}, kl},
      {"m and v one input", {spread({2, 5}, 0.05, 4)}, [](const Vs& a) { return kl_std_normal_fused(a[0], a[0]); }}};
}

std::map<Op, std::vector<OpCase>> make_cases() {
  std::map<Op, std::vector<OpCase>> c;
  const A edge = {-1e3, -2.5, 0.0, 0.75, 1e3};
  const A m23 = spread({2, 3}, -2, 3);
  const A m234 = spread({2, 3, 4}, -1.5, 2);

  c[Op::neg] = {unary("edge", edge, [](const V& x) { return -x; })};
  c[Op::add_scalar] = {unary("x + 2.5", edge, [](const V& x) { return x + 2.5; }),
                       unary("x - 1e3", m23, [](const V& x) { return x - 1e3; })};
  c[Op::mul_scalar] = {unary("3·x", edge, [](const V& x) { return 3.0 * x; }),
                       unary("x / 4", m23, [](const V& x) { return x / 4.0; })};
  c[Op::rsub_scalar] = {unary("1 - x", edge, [](const V& x) { return 1.0 - x; })};
  c[Op::rdiv_scalar] = {unary("2 / x", A{-1e3, -0.5, 0.01, 3.0, 1e4}, [](const V& x) { return 2.0 / x; })};
  c[Op::pow_scalar] = {
      unary("x^3 (with 0 and negatives)", edge, [](const V& x) { return pow(x, 3.0); }),
      unary("x^0.5", A{1e-2, 1.0, 7.0, 1e4}, [](const V& x) { return pow(x, 0.5); }),
      unary("x^-2", A{-3.0, -0.1, 0.2, 50.0}, [](const V& x) { return pow(x, -2.0); }),
      unary("x^0 (no gradient)", edge, [](const V& x) { return pow(x, 0.0); }),
      unary("x^2", edge, [](const V& x) { return pow(x, 2.0); }),
  };
  c[Op::log] = {unary("x > 0, small and large", A{1e-2, 0.5, 1.0, 1e6}, [](const V& x) { return log(x); })};
  c[Op::log1p] = {unary("x > -1", A{-0.9, -1e-3, 0.0, 2.0, 1e5}, [](const V& x) { return log1p(x); })};
  c[Op::square] = {unary("edge", edge, [](const V& x) { return square(x); })};
  c[Op::abs] = {unary("edge, kink skipped", edge, [](const V& x) { return abs(x); },
                      [edge](std::size_t, std::size_t k) { return at_zero(edge, k); })};
  c[Op::relu] = {unary("edge, kink skipped", edge, [](const V& x) { return relu(x); },
                       [edge](std::size_t, std::size_t k) { return at_zero(edge, k); })};
  c[Op::elu] = {unary("edge (C¹ at 0)", A{-30.0, -1.0, 0.0, 2.0, 100.0}, [](const V& x) { return elu(x); })};
  c[Op::softplus] = {unary("±1000, ±20, 0", A{-1e3, -20.0, 0.0, 20.0, 1e3}, [](const V& x) { return softplus(x); })};
  c[Op::log_sigmoid] = {unary("±1000, ±20, 0", A{-1e3, -20.0, 0.0, 20.0, 1e3},
                              [](const V& x) { return log_sigmoid(x); })};
  c[Op::clamp] = {unary("inside and outside [-1, 2]", A{-5.0, -0.5, 0.0, 1.5, 9.0},
                        [](const V& x) { return clamp(x, -1.0, 2.0); })};
  c[Op::exp] = {unary("-50 to 30", A{-50.0, -1.0, 0.0, 1.0, 30.0}, [](const V& x) { return exp(x); })};
  c[Op::sqrt] = {unary("small and large", A{1e-2, 1.0, 2.0, 1e6}, [](const V& x) { return sqrt(x); })};
  c[Op::tanh] = {unary("saturated and 0", A{-20.0, -0.5, 0.0, 3.0, 20.0}, [](const V& x) { return tanh(x); })};
  c[Op::sigmoid] = {unary("saturated and 0", A{-40.0, -1.0, 0.0, 2.0, 40.0}, [](const V& x) { return sigmoid(x); })};

  // Broadcasting: same shapes, a row vector, a column against a row, a 0-d scalar, and 3-D.
  auto bin_cases = [&](auto f, double blo, double bhi) {
    return std::vector<OpCase>{
        binary("[2,3] ∘ [2,3]", m23, spread({2, 3}, blo, bhi), f),
        binary("[2,3] ∘ [3]", m23, spread({3}, blo, bhi), f),
        binary("[3] ∘ [2,3]", spread({3}, -1, 1), spread({2, 3}, blo, bhi), f),
        binary("[2,1] ∘ [1,3]", spread({2, 1}, -1, 2), spread({1, 3}, blo, bhi), f),
        binary("[2,3] ∘ []", m23, A(blo + 0.3), f),
        binary("[4,1,3] ∘ [2,1]", spread({4, 1, 3}, -2, 2), spread({2, 1}, blo, bhi), f),
        binary("same input twice", spread({2, 3}, blo, bhi), spread({2, 3}, blo, bhi), [f](const V& a, const V&) { return f(a, a); }),
    };
  };
  c[Op::add] = bin_cases([](const V& a, const V& b) { return a + b; }, -3, 1e3);
  c[Op::sub] = bin_cases([](const V& a, const V& b) { return a - b; }, -3, 1e3);
  c[Op::mul] = bin_cases([](const V& a, const V& b) { return a * b; }, -3, 5);
  c[Op::div] = bin_cases([](const V& a, const V& b) { return a / b; }, 0.5, 40);

  c[Op::sum] = {unary("[2,3,4]", m234, [](const V& x) { return sum(x); }),
                unary("[1]", A{1e6}, [](const V& x) { return sum(x); })};
  c[Op::mean] = {unary("[2,3,4]", m234, [](const V& x) { return mean(x); })};
  for (int axis : {0, 1, 2, -1})
    for (bool keep : {false, true}) {
      std::string l = "axis " + std::to_string(axis) + (keep ? " keepdims" : "");
      c[Op::sum_axis].push_back(unary(l, m234, [=](const V& x) { return sum(x, axis, keep); }));
      c[Op::mean_axis].push_back(unary(l, m234, [=](const V& x) { return mean(x, axis, keep); }));
      c[Op::logsumexp].push_back(unary(l, m234, [=](const V& x) { return logsumexp(x, axis, keep); }));
      c[Op::max_axis].push_back(unary(l, m234 + spread({2, 3, 4}, 0, 0.01), [=](const V& x) { return max(x, axis, keep); }));
    }
  c[Op::logsumexp].push_back(unary("large magnitudes ±1000", A{{1000.0, 999.0, -1000.0}, {-1e3, -1001.0, -999.5}},
                                   [](const V& x) { return logsumexp(x, 1); }));
  c[Op::logsumexp].push_back(unary("-inf entries in a finite row", A{{-inf, 0.0, 1.0}, {2.0, -inf, -inf}},
                                   [](const V& x) { return logsumexp(x, 1); }));

  // log_bernoulli: x in [0, 1] and binary, logits saturated (±30, ±1000) and 0; the last axis of 1-D,
  // 2-D and 3-D inputs, with d = 37 so that both the SIMD body and the scalar tail run.
  auto log_bern = [](const V& x, const V& l) { return log_bernoulli(x, l); };
  A bits = spread({3, 2, 5}, 0, 1);
  for (double& b : bits) b = b > 0.5 ? 1.0 : 0.0;
  c[Op::log_bernoulli] = {
      binary("[2,37], x in [0,1], logits in [-30,30]", spread({2, 37}, 0, 1), spread({2, 37}, -30, 30), log_bern),
      binary("[3,2,5], binary x, logits ±1000", bits, spread({3, 2, 5}, -1e3, 1e3), log_bern),
      binary("[5], logits ±20 and 0", A{0.0, 1.0, 0.5, 1.0, 0.0}, A{-20.0, -1.0, 0.0, 20.0, 3.0}, log_bern),
      {"agrees with Σ x·l − log1p(e^l) in float and double", {}, nullptr, nullptr, []() -> std::string {
         const A x = spread({4, 37}, 0, 1), l = spread({4, 37}, -40, 25);
         Tape<double> td;
         Tape<float> tf;
         const A yd = log_bernoulli(td.constant(x), td.constant(l)).value();
         const Array<float> yf = log_bernoulli(tf.constant(Array<float>(xt::cast<float>(x))),
                                               tf.constant(Array<float>(xt::cast<float>(l)))).value();
         for (std::size_t r = 0; r < 4; ++r) {
           double want = 0;
           for (std::size_t j = 0; j < 37; ++j) {
             const double lj = l(r, j);
             want += x(r, j) * lj - (lj > 0 ? lj + std::log1p(std::exp(-lj)) : std::log1p(std::exp(lj)));
           }
           if (std::abs(yd(r) - want) > 1e-12 * std::abs(want)) return "double row " + std::to_string(r) + " differs";
           if (std::abs(yf(r) - want) > 1e-6 * std::abs(want)) return "float row " + std::to_string(r) + " differs";
         }
         return "";
       }}};
  c[Op::reshape] = {unary("[2,3,4] -> [4,-1]", m234, [](const V& x) { return reshape(x, {4, -1}); }),
                    unary("[2,3] -> [6]", m23, [](const V& x) { return reshape(x, {6}); })};
  c[Op::transpose] = {unary("[2,3]", m23, [](const V& x) { return transpose(x); })};
  for (int axis : {0, 1, 2, -1})
    c[Op::concat].push_back({"three inputs, axis " + std::to_string(axis),
                             {m234, spread({2, 3, 4}, 5, 9), spread({2, 3, 4}, -9, -5)},
                             [axis](const Vs& v) { return concat(Vs{v[0], v[1], v[2]}, axis); }});
  c[Op::concat].push_back({"different lengths along axis 1", {m23, spread({2, 1}, 4, 5)},
                           [](const Vs& v) { return concat(Vs{v[0], v[1]}, 1); }});
  c[Op::narrow] = {unary("axis 1 [1,3) of [2,3,4]", m234, [](const V& x) { return narrow(x, 1, 1, 2); }),
                   unary("axis 0", m23, [](const V& x) { return narrow(x, 0, 1, 1); }),
                   unary("last axis", m234, [](const V& x) { return narrow(x, -1, 0, 3); })};
  c[Op::gather_rows] = {unary("rows {2,0,2} (a row twice)", spread({3, 4}, -1, 1),
                              [](const V& x) { return gather_rows(x, {2, 0, 2}); })};
  c[Op::tile] = {unary("3 copies of [2,3]", m23, [](const V& x) { return tile(x, 3); })};
  c[Op::broadcast_to] = {unary("[3] -> [2,3]", spread({3}, -1, 1), [](const V& x) { return broadcast_to(x, {2, 3}); }),
                         unary("[2,1] -> [2,4]", spread({2, 1}, -1, 1), [](const V& x) { return broadcast_to(x, {2, 4}); })};
  // detach: x·detach(x) has gradient detach(x) = x, not 2x; a finite difference would say 2x, so
  // this is a property check.
  c[Op::detach] = {{"d/dx sum(x · detach(x)) = x", {}, nullptr, nullptr, [m23]() -> std::string {
                      Tape<double> t;
                      V x = t.leaf(m23);
                      t.backward(sum(x * detach(x)));
                      A g = x.grad();
                      if (g != m23) return "detach: gradient of sum(x·detach(x)) is not x";
                      if (detach(x).requires_grad()) return "detach: the result requires a gradient";
                      return "";
                    }}};

  c[Op::matmul] = {binary("[2,3] @ [3,4]", m23, spread({3, 4}, -1, 2), [](const V& a, const V& b) { return matmul(a, b); }),
                   binary("[1,3] @ [3,1]", spread({1, 3}, -4, 4), spread({3, 1}, 0, 1e3),
                          [](const V& a, const V& b) { return matmul(a, b); }),
                   binary("zeros @ x", A(xt::zeros<double>({2, 2})), spread({2, 3}, -1, 1),
                          [](const V& a, const V& b) { return matmul(a, b); }),
                   {"x @ x (shared)", {spread({3, 3}, -1, 1)}, [](const Vs& v) { return matmul(v[0], v[0]); }}};
  c[Op::linear] = {{"x[2,3] @ W[3,4] + b[4]", {m23, spread({3, 4}, -1, 1), spread({4}, -2, 2)},
                    [](const Vs& v) { return linear(v[0], v[1], v[2]); }},
                   {"bias [1,4]", {m23, spread({3, 4}, -1, 1), spread({1, 4}, -2, 2)},
                    [](const Vs& v) { return linear(v[0], v[1], v[2]); }}};
  // Outputs on both sides of 0, deep in the negative tail (h → −1, gradient e^−30), and within
  // 1e-3 of 0. Exactly at 0 elu is C¹ but not C², so a central difference is off by h/4 there: that
  // point is checked by hand in "linear_elu at y = 0" below.
  c[Op::linear_elu] = {{"x[2,3] @ W[3,4] + b[4], y from −31 to 41", {m23, spread({3, 4}, -1, 1), A{-30.0, -0.5, 0.2, 40.0}},
                        [](const Vs& v) { return linear_elu(v[0], v[1], v[2]); }},
                       {"y near 0 (x = 0, b = ±1e-3)", {A(xt::zeros<double>({2, 3})), spread({3, 4}, -1, 1), A{1e-3, -1e-3, -2.0, 2.0}},
                        [](const Vs& v) { return linear_elu(v[0], v[1], v[2]); }},
                       {"bias [1,4]", {m23, spread({3, 4}, -1, 1), spread({1, 4}, -2, 2)},
                        [](const Vs& v) { return linear_elu(v[0], v[1], v[2]); }}};
  for (int axis : {0, 1, -1}) {
    std::string l = "axis " + std::to_string(axis);
    c[Op::softmax].push_back(unary(l, spread({3, 4}, -3, 3), [=](const V& x) { return softmax(x, axis); }));
    c[Op::log_softmax].push_back(unary(l, spread({3, 4}, -3, 3), [=](const V& x) { return log_softmax(x, axis); }));
  }
  const A big = {{1000.0, 999.0, -1000.0}, {-1e3, -1001.0, -999.5}};
  c[Op::softmax].push_back(unary("±1000", big, [](const V& x) { return softmax(x, 1); }));
  c[Op::log_softmax].push_back(unary("±1000", big, [](const V& x) { return log_softmax(x, 1); }));
  c[Op::softmax].push_back(unary("-inf entries", row({-inf, 0.0, 1.0}), [](const V& x) { return softmax(x, 1); }));
  add_fused_zoo_cases(c);
  add_fused_gmvae_cases(c);
  add_fused_gaussian_cases(c);
  return c;
}

const std::map<Op, std::vector<OpCase>>& cases() {
  static const auto c = make_cases();
  return c;
}

}  // namespace

TEST_CASE("every op in the op table has a gradcheck case") {
  for (const OpInfo& info : kOps) {
    if (is_source(info.op)) continue;
    auto it = cases().find(info.op);
    CHECK_MESSAGE((it != cases().end() && !it->second.empty()),
                  "op '" << info.name << "' has no gradcheck case in tests/test_ops_gradcheck.cpp");
  }
}

TEST_CASE("float64 gradcheck of every op with edge inputs") {
  std::size_t checked = 0;
  for (const auto& [op, list] : cases()) {
    for (const OpCase& oc : list) {
      const std::string name = std::string(op_name(op)) + ": " + oc.label;
      if (oc.custom) {
        const std::string err = oc.custom();
        CHECK_MESSAGE(err.empty(), name << ": " << err);
        continue;
      }
      GradcheckResult r = gradcheck(name, oc.f, oc.inputs, {}, oc.skip);
      CHECK_MESSAGE(r.ok, r.message);
      checked += r.checked;
    }
  }
  CHECK(checked > 500);
}

TEST_CASE("gradcheck reports a wrong derivative with the op, input, element and both values") {
  // A fake op whose gradient is off: y = Σ x + detach(x) (finite differences say dy/dx = 2,
  // autograd says 1).
  GradFn bad = [](const Vs& v) { return sum(v[0] + detach(v[0])); };
  GradcheckResult r = gradcheck("fake_double", bad, {A{0.5, 2.0}});
  CHECK_FALSE(r.ok);
  INFO(r.message);
  CHECK(r.message.find("fake_double") != std::string::npos);
  CHECK(r.message.find("input 0") != std::string::npos);
  CHECK(r.message.find("element 0") != std::string::npos);
  CHECK(r.message.find("expected 2") != std::string::npos);
  CHECK(r.message.find("got 1") != std::string::npos);
}

TEST_CASE("conventions at kinks: relu'(0) = 0, abs'(0) = 0, clamp passes the boundary") {
  Tape<double> t;
  V x = t.leaf(A{0.0, 0.0, 0.0});
  V y = sum(relu(x)) + sum(abs(x)) + sum(clamp(x, 0.0, 1.0));
  t.backward(y);
  CHECK(x.grad() == A{1.0, 1.0, 1.0});  // 0 + 0 + 1 (inside the closed range)
}

TEST_CASE("linear_elu at y = 0: elu'(0) = 1 from both sides, so the gradient is linear's") {
  // x = 0 and b = [0, 0] make y exactly 0: h = 0, and gy = gh·1. With gh = [1, 2] per row:
  // gb = Σ_rows gh = [2, 4], gW = xᵀ gh = 0, gx = gh Wᵀ = [1·1 + 2·2, 1·3 + 2·4] = [5, 11] per row.
  Tape<double> t;
  V x = t.leaf(A(xt::zeros<double>({2, 2})));
  V W = t.leaf(A{{1.0, 2.0}, {3.0, 4.0}});
  V b = t.leaf(A{0.0, 0.0});
  V h = linear_elu(x, W, b);
  CHECK(h.value() == A(xt::zeros<double>({2, 2})));
  t.backward(sum(h * t.constant(A{{1.0, 2.0}, {1.0, 2.0}})));
  CHECK(b.grad() == A{2.0, 4.0});
  CHECK(W.grad() == A(xt::zeros<double>({2, 2})));
  CHECK(x.grad() == A{{5.0, 11.0}, {5.0, 11.0}});
}

TEST_CASE("logsumexp of an all -inf row is -inf with a zero (not NaN) gradient") {
  Tape<double> t;
  V x = t.leaf(A{{-inf, -inf}, {1.0, 2.0}});
  V y = logsumexp(x, 1);
  CHECK(y.value()(0) == -inf);
  CHECK(y.value()(1) == doctest::Approx(2.0 + std::log1p(std::exp(-1.0))).epsilon(1e-15));
  t.backward(sum(y * t.constant(A{0.0, 1.0})));
  A g = x.grad();
  CHECK(g(0, 0) == 0.0);
  CHECK(g(0, 1) == 0.0);
  CHECK(g(1, 0) == doctest::Approx(1.0 / (1.0 + std::exp(1.0))));
  Tape<double> t2;
  V z = t2.leaf(row({-inf, -inf}));
  t2.backward(sum(log_softmax(z, 1) * t2.constant(row({1.0, 1.0}))));
  CHECK(std::isfinite(z.grad()(0, 0)));
}

TEST_CASE("reductions and normalisations agree with plain loops, in float and double") {
  // softmax, log_softmax, logsumexp, sum, mean, max against naive loops on a [3,4,5] input, every
  // axis (docs/pitfalls.md#lazy-reducers: lazy reducers inside expressions give wrong values on this stack).
  const A x = spread({3, 4, 5}, -4, 4) + spread({3, 4, 5}, 0, 0.01);
  for (int axis = 0; axis < 3; ++axis) {
    Tape<double> t;
    V v = t.constant(x);
    A s = sum(v, axis).value(), m = mean(v, axis).value(), l = logsumexp(v, axis).value();
    A mx = max(v, axis).value(), sm = softmax(v, axis).value(), ls = log_softmax(v, axis).value();
    Tape<float> tf;
    Array<float> sf = softmax(tf.constant(Array<float>(xt::cast<float>(x))), axis).value();
    const std::size_t n = x.shape()[axis];
    for (std::size_t i = 0; i < 3; ++i)
      for (std::size_t j = 0; j < 4; ++j)
        for (std::size_t k = 0; k < 5; ++k) {
          std::size_t idx[3] = {i, j, k};
          std::size_t r[2];
          for (int d = 0, q = 0; d < 3; ++d)
            if (d != axis) r[q++] = idx[d];
          double total = 0, big = -inf, se = 0;
          for (std::size_t a = 0; a < n; ++a) {
            idx[axis] = a;
            double e = x(idx[0], idx[1], idx[2]);
            total += e;
            big = std::max(big, e);
          }
          for (std::size_t a = 0; a < n; ++a) {
            idx[axis] = a;
            se += std::exp(x(idx[0], idx[1], idx[2]));
          }
          idx[axis] = (axis == 0 ? i : axis == 1 ? j : k);
          const double e = x(idx[0], idx[1], idx[2]);
          CHECK(s(r[0], r[1]) == doctest::Approx(total).epsilon(1e-14));
          CHECK(m(r[0], r[1]) == doctest::Approx(total / n).epsilon(1e-14));
          CHECK(l(r[0], r[1]) == doctest::Approx(std::log(se)).epsilon(1e-14));
          CHECK(mx(r[0], r[1]) == big);
          CHECK(sm(i, j, k) == doctest::Approx(std::exp(e) / se).epsilon(1e-13));
          CHECK(ls(i, j, k) == doctest::Approx(e - std::log(se)).epsilon(1e-13));
          CHECK(sf(i, j, k) == doctest::Approx(std::exp(e) / se).epsilon(1e-6));
        }
  }
}

TEST_CASE("stable forms: softplus, log_sigmoid and logsumexp do not overflow in float32") {
  Tape<float> t;
  auto x = t.constant(Array<float>{-1000.f, -100.f, 0.f, 100.f, 1000.f});
  Array<float> sp = softplus(x).value(), ls = log_sigmoid(x).value();
  CHECK(sp(0) == 0.f);
  CHECK(sp(2) == doctest::Approx(std::log(2.0)));
  CHECK(sp(4) == 1000.f);
  CHECK(ls(0) == -1000.f);
  CHECK(ls(4) == 0.f);
  auto l = logsumexp(t.constant(Array<float>(xt::cast<float>(row({1000.0, 1000.0})))), 1).value();
  CHECK(l(0) == doctest::Approx(1000.0 + std::log(2.0)));
}
