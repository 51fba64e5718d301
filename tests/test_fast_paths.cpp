// Every fast path computes what its textbook twin computes (autograd/path.hpp, docs/fast-paths.md).
// Each test sends the same inputs through both paths (tz::PathScope), checks that each path
// recorded its own code (the textbook path's plain ops, the fast path's fused op), and compares
// every value and every gradient, in float32 and float64: bit for bit where the two do the same
// arithmetic, and within a tolerance derived next to the check where they round differently.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <xtensor-blas/xlinalg.hpp>

#include "autograd/path.hpp"
#include "distributions/distributions.hpp"
#include "models/train.hpp"
#include "nn/nn.hpp"
#include "test_helpers.hpp"

using namespace tz;

namespace {

// The ops a tape recorded, in order, without the sources (leaf, constant, param).
template <class T>
std::vector<std::string> recorded_ops(const Tape<T>& t) {
  std::vector<std::string> out;
  for (std::uint32_t i = 0; i < t.size(); ++i)
    if (!is_source(t.node(i).op)) out.emplace_back(op_name(t.node(i).op));
  return out;
}

bool has(const std::vector<std::string>& ops, const std::string& name) {
  return std::find(ops.begin(), ops.end(), name) != ops.end();
}

// Bit for bit: same shape, and every element has the same bits (the same value, or both NaN).
template <class T>
bool same_bits(const Array<T>& a, const Array<T>& b) {
  return a.shape() == b.shape() && std::equal(a.begin(), a.end(), b.begin(), [](T u, T v) {
           return std::memcmp(&u, &v, sizeof(T)) == 0;
         });
}

// ---- nn::MLP with ELU: linear, elu (textbook) and linear_elu (fast) ---------------------------------

template <class T>
struct MlpRun {
  std::vector<std::string> ops;
  Array<T> y, gx;
  std::vector<Array<T>> grads;  // every parameter's, in the ParamSet's order
};

// One forward and backward of an MLP on the given path. The parameters, the input and the weights
// w of the scalar loss Σ w ⊙ y come from one seed, so both paths see the same numbers.
template <class T>
MlpRun<T> run_mlp(Path path, const std::vector<std::size_t>& sizes, std::size_t n) {
  PathScope scope(path);
  Rng rng(5);
  nn::ParamSet<T> params;
  nn::MLP<T> mlp(params, "mlp", sizes, nn::Activation::elu, rng);
  Array<T> x = rng.normal<T>({n, sizes.front()});
  x *= T(3);  // pre-activations on both sides of 0, some deep in ELU's tail
  const Array<T> w = rng.normal<T>({n, sizes.back()});
  Tape<T> tape;
  Var<T> xv = tape.leaf(x);
  Var<T> y = mlp(tape, xv);
  tape.backward(sum(y * tape.constant(w)));
  MlpRun<T> r{recorded_ops(tape), y.value(), xv.grad(), {}};
  for (const Param<T>* p : params.all()) r.grads.push_back(p->grad);
  return r;
}

}  // namespace

TEST_CASE_TEMPLATE("nn::MLP with ELU: linear then elu, and linear_elu, agree bit for bit", T, float, double) {
  // The same arithmetic on both paths: linear_elu runs linear's own products (detail::linear_forward
  // and detail::linear_backward, the same gemm calls on the same buffers), then elu's formulas:
  // h = y > 0 ? y : expm1(y) with xsimd's expm1 over whole batches of the aligned array and libm's
  // on the tail, as xtensor's elu does, and gy = gh·(h + 1) for y ≤ 0, as elu's backward does. So
  // values and gradients are equal bit for bit. Sizes: odd widths (13 and 7 rows: SIMD tails) and
  // an MNIST-wide first layer.
  for (const auto& [sizes, n] : {std::pair{std::vector<std::size_t>{6, 13, 13, 3}, std::size_t{7}},
                                 std::pair{std::vector<std::size_t>{784, 300, 20}, std::size_t{5}}}) {
    const MlpRun<T> book = run_mlp<T>(Path::textbook, sizes, n);
    const MlpRun<T> fast = run_mlp<T>(Path::fast, sizes, n);
    const std::size_t hidden = sizes.size() - 2;
    CHECK(book.ops.size() == 2 * hidden + 1 + 2);  // linear, elu per hidden layer; linear; then mul, sum
    CHECK(book.ops[0] == "linear");
    CHECK(book.ops[1] == "elu");
    CHECK_FALSE(has(book.ops, "linear_elu"));
    CHECK(fast.ops.size() == hidden + 1 + 2);
    CHECK(fast.ops[0] == "linear_elu");
    CHECK_FALSE(has(fast.ops, "elu"));
    CHECK(same_bits(book.y, fast.y));
    CHECK(same_bits(book.gx, fast.gx));
    REQUIRE(book.grads.size() == fast.grads.size());
    for (std::size_t k = 0; k < book.grads.size(); ++k) {
      CAPTURE(k);
      CHECK(same_bits(book.grads[k], fast.grads[k]));
    }
    // Not a vacuous comparison: some outputs of the first layer were negative (ELU's tail) and the
    // gradients are not zero.
    CHECK(xt::amax(xt::abs(book.grads[0]))() > T(0));
  }
}

// ---- inside the engine: linear's bias in the gemm, and sum_to's row sums ------------------------------

TEST_CASE_TEMPLATE("linear (the bias inside the gemm) equals matmul then add within rounding", T, float, double) {
  // linear writes b into y and lets gemm add x @ W on top (beta = 1); the composite adds b after
  // the product. Both add the same K = 300 products and b, in different orders, with or without
  // FMA: |Δy| ≤ 2·(K + 1)·ε·(Σ_k |x_k W_kj| + |b_j|), the worst case of two recursive sums.
  // The gradients are the same products on both (gx = gy Wᵀ, gW = xᵀ gy by gemm, gb a row sum).
  Rng rng(9);
  const std::size_t n = 7, K = 300, m = 13;
  const Array<T> x = rng.normal<T>({n, K}), W = rng.normal<T>({K, m}), b = rng.normal<T>({m});
  const Array<T> w = rng.normal<T>({n, m});
  Array<T> y[2], gx[2], gW[2], gb[2];
  for (int composite = 0; composite < 2; ++composite) {
    Tape<T> t;
    Var<T> xv = t.leaf(x), Wv = t.leaf(W), bv = t.leaf(b);
    Var<T> yv = composite ? matmul(xv, Wv) + bv : linear(xv, Wv, bv);
    t.backward(sum(yv * t.constant(w)));
    y[composite] = yv.value();
    gx[composite] = xv.grad();
    gW[composite] = Wv.grad();
    gb[composite] = bv.grad();
  }
  const double eps = std::numeric_limits<T>::epsilon() / 2;
  const Array<double> scale = xt::linalg::dot(xt::abs(xt::cast<double>(x)), xt::abs(xt::cast<double>(W))) +
                              xt::abs(xt::cast<double>(b));
  for (std::size_t i = 0; i < n * m; ++i)
    CHECK(std::abs(static_cast<double>(y[0].data()[i]) - static_cast<double>(y[1].data()[i])) <=
          2 * (K + 1) * eps * scale.data()[i]);
  CHECK(same_bits(gx[0], gx[1]));
  CHECK(same_bits(gW[0], gW[1]));
  CHECK(same_bits(gb[0], gb[1]));
}

TEST_CASE_TEMPLATE("sum_to: the row-sum branch for a bias gradient equals the general odometer bit for bit", T,
                   float, double) {
  // [n, m] → [m] takes sum_to's branch for bias gradients; [1, n, m] → [m] the general loop, which
  // visits the same elements in the same order (rows outer, columns inner) and adds them alike.
  Rng rng(4);
  const Array<T> g = rng.normal<T>({37, 19});
  Array<T> g3 = g;
  g3.reshape({1, 37, 19});
  const Array<T> rows = sum_to(g, Shape{19}), general = sum_to(g3, Shape{19});
  CHECK(same_bits(rows, general));
  Array<T> row = sum_to(g, Shape{1, 19});
  row.reshape({19});
  CHECK(same_bits(row, general));
  // And it is the sum: column 0 in double, against 36 additions in T, each rounding by at most
  // ε·Σ_r |g_r0| (a recursive sum's bound).
  double want = 0, scale = 0;
  for (std::size_t r = 0; r < 37; ++r) {
    want += static_cast<double>(g(r, 0));
    scale += std::abs(static_cast<double>(g(r, 0)));
  }
  CHECK(std::abs(static_cast<double>(rows(0)) - want) <= 36 * std::numeric_limits<T>::epsilon() / 2 * scale);
}

// ---- the Bernoulli log-likelihood: sum(x·l − softplus(l), -1) and the fused log_bernoulli --------

namespace {

template <class T>
struct BernoulliRun {
  std::vector<std::string> ops;
  Array<T> y, gx, gl;
};

template <class T>
BernoulliRun<T> run_bernoulli(Path path, const Array<T>& x, const Array<T>& l, const Array<T>& w) {
  PathScope scope(path);
  Tape<T> tape;
  Var<T> xv = tape.leaf(x), lv = tape.leaf(l);
  Var<T> y = log_bernoulli_with_logits(xv, lv);
  tape.backward(sum(y * tape.constant(w)));  // gy = w on both paths, exactly
  return {recorded_ops(tape), y.value(), xv.grad(), lv.grad()};
}

// Rows of d = 37 (a SIMD body and a scalar tail in any lane count): x cycles through {0, 1, 0.3},
// the logits through ±100, ±20, ±1, ±0.5 and 0, so that every x meets every logit.
template <class T>
void bernoulli_inputs(Array<T>& x, Array<T>& l, Array<T>& w) {
  const double xs[] = {0.0, 1.0, 0.3};
  const double ls[] = {-100.0, -20.0, -1.0, -0.5, 0.0, 0.5, 1.0, 20.0, 100.0};
  const std::size_t rows = 3, d = 37;
  x = Array<T>::from_shape({rows, d});
  l = Array<T>::from_shape({rows, d});
  for (std::size_t i = 0; i < rows * d; ++i) {
    x.data()[i] = static_cast<T>(xs[i % 3]);
    l.data()[i] = static_cast<T>(ls[(i / 3 + i) % 9]);
  }
  w = Array<T>::from_shape({rows});  // the weights of Σ_r w_r·y_r, so that gy = w
  w(0) = T(1);
  w(1) = T(-2);
  w(2) = T(0.5);
}

}  // namespace

TEST_CASE_TEMPLATE("log_bernoulli_with_logits: the composite and the fused op agree at logits ±100", T, float, double) {
  Array<T> x, l, w;
  bernoulli_inputs(x, l, w);
  const BernoulliRun<T> book = run_bernoulli(Path::textbook, x, l, w);
  const BernoulliRun<T> fast = run_bernoulli(Path::fast, x, l, w);
  CHECK(has(book.ops, "softplus"));
  CHECK(has(book.ops, "sum_axis"));
  CHECK_FALSE(has(book.ops, "log_bernoulli"));
  CHECK(has(fast.ops, "log_bernoulli"));
  CHECK_FALSE(has(fast.ops, "softplus"));

  // Tolerances. ε is the unit roundoff of T. Each term t = x·l − softplus(l) is computed in T on
  // both paths with a handful of roundings (mul, exp, log1p, two adds: ≤ 5ε·(|x·l| + softplus(l)))
  // but with different exp and log1p (xsimd's in the fused op, libm's through xtensor in softplus).
  // The fused op adds each lane's d/lanes terms in T before the row sum in double; the composite
  // sums in double. So per row |Δy| ≤ (5 + d)·ε·Σ_j (|x_j l_j| + softplus(l_j)). The gradient in l
  // is gy·(x − σ(l)) in the fused op and gy·x − gy·σ(l) in the composite: ≤ 4ε·|gy|·(|x| + 1) apart.
  // The gradient in x is gy·l on both, one product: bit for bit.
  const double eps = std::numeric_limits<T>::epsilon() / 2;
  const std::size_t rows = x.shape()[0], d = x.shape()[1];
  for (std::size_t r = 0; r < rows; ++r) {
    double scale = 0, want = 0;  // want: the row in double, stably, from the formula
    for (std::size_t j = 0; j < d; ++j) {
      const double xj = x(r, j), lj = l(r, j);
      const double sp = std::max(lj, 0.0) + std::log1p(std::exp(-std::abs(lj)));
      scale += std::abs(xj * lj) + sp;
      want += xj * lj - sp;
    }
    const double tol = static_cast<double>(5 + d) * eps * scale;
    CAPTURE(r);
    CHECK(std::isfinite(static_cast<double>(book.y(r))));
    CHECK(std::abs(static_cast<double>(book.y(r)) - static_cast<double>(fast.y(r))) <= tol);
    CHECK(std::abs(static_cast<double>(book.y(r)) - want) <= tol);
    CHECK(std::abs(static_cast<double>(fast.y(r)) - want) <= tol);
    for (std::size_t j = 0; j < d; ++j) {
      const double gy = std::abs(static_cast<double>(w(r))), xj = x(r, j);
      const double sigma = 1 / (1 + std::exp(-static_cast<double>(l(r, j))));
      const double want_gl = static_cast<double>(w(r)) * (xj - sigma);
      const double gtol = 4 * eps * gy * (std::abs(xj) + 1);
      CHECK(std::abs(static_cast<double>(book.gl(r, j)) - static_cast<double>(fast.gl(r, j))) <= gtol);
      CHECK(std::abs(static_cast<double>(fast.gl(r, j)) - want_gl) <= gtol);
    }
  }
  CHECK(same_bits(book.gx, fast.gx));
}

// ---- the training step: backward; step; zero_grad, and Adam inside the backward sweep ------------

namespace {

// A model with nothing but an MLP, fitted to reproduce its input: loss = mean_n Σ_j (f(x)_j − x_j)².
// With tanh nothing in it has a fused twin, so the paths differ in the training step alone; with
// ELU its hidden layers differ too (linear, elu against linear_elu).
template <class T>
class TinyRegression : public models::Model<T> {
 public:
  TinyRegression(nn::Activation act, Rng& rng) : mlp_(this->params_, "mlp", {6, 16, 16, 6}, act, rng) {}
  models::Loss<T> loss(Tape<T>& t, const models::Batch<T>& b, Rng&) override {
    Var<T> x = t.constant(b.x);
    Var<T> mse = mean(sum(square(mlp_(t, x) - x), -1));
    return {mse, {{"mse", mse.item()}}};
  }
  models::Metrics evaluate(const models::Dataset& data, Rng& rng) override {
    Tape<T> t;
    NoGrad<T> guard(t);
    return {{"test_mse", loss(t, {Array<T>(xt::cast<T>(data.test_x)), {}}, rng).value.item()}};
  }

 private:
  nn::MLP<T> mlp_;
};

models::ModelInfo tiny_regression_info(nn::Activation act) {
  models::ModelInfo m;
  m.name = "tiny_regression";
  m.description = "an MLP fitted to its input (tests/test_fast_paths.cpp)";
  m.make_float = [act](const models::Config&, Rng& rng) -> std::unique_ptr<models::Model<float>> {
    return std::make_unique<TinyRegression<float>>(act, rng);
  };
  m.make_double = [act](const models::Config&, Rng& rng) -> std::unique_ptr<models::Model<double>> {
    return std::make_unique<TinyRegression<double>>(act, rng);
  };
  m.default_data = "tiny";
  m.load_data = [](const std::string& spec, Rng& rng, models::Dataset& out) {
    if (spec != "tiny") return false;
    out.name = "tiny";
    out.train_x = rng.normal<float>({256, 6});
    out.test_x = rng.normal<float>({64, 6});
    return true;
  };
  return m;
}

struct TrainedRun {
  models::TrainResult result;
  std::unique_ptr<models::Model<float>> model;
};

TrainedRun train_on(Path path, const models::ModelInfo& info, const models::Config& config,
                    const models::TrainOptions& opt) {
  PathScope scope(path);
  TrainedRun r;
  r.result = models::train(info, config, opt, &r.model);
  return r;
}

models::TrainOptions short_run(long iters) {
  models::TrainOptions opt;
  opt.data = "tiny";
  opt.iters = iters;
  opt.batch = 32;
  opt.eval = 64;
  opt.log_every = 1;  // the curve holds every step's loss
  opt.seed = 3;
  opt.quiet = true;
  return opt;
}

}  // namespace

TEST_CASE("train(): backward; step; zero_grad and Adam's backward_step give the same parameters, bit for bit") {
  // backward_step runs the same update loop on the same gradients: a parameter's gradient is
  // complete when the sweep reaches the first node that read it, and each update reads only its own
  // parameter's θ, g, m and v. So the order of the updates cannot change a bit. Then the ELU model,
  // whose MLP differs as well, by the bit-identical linear_elu.
  for (nn::Activation act : {nn::Activation::tanh, nn::Activation::elu}) {
    const models::ModelInfo info = tiny_regression_info(act);
    const models::TrainOptions opt = short_run(25);
    const TrainedRun book = train_on(Path::textbook, info, models::Config{}, opt);
    const TrainedRun fast = train_on(Path::fast, info, models::Config{}, opt);
    REQUIRE(book.model);
    REQUIRE(fast.model);
    const auto pb = book.model->params().all(), pf = fast.model->params().all();
    REQUIRE(pb.size() == pf.size());
    for (std::size_t k = 0; k < pb.size(); ++k) {
      CAPTURE(pb[k]->name);
      CHECK(same_bits(pb[k]->value, pf[k]->value));
      CHECK(same_bits(pb[k]->grad, pf[k]->grad));  // zeroed by both
      CHECK(xt::amax(xt::abs(pb[k]->grad))() == 0.0f);
    }
    CHECK(book.result.curves == fast.result.curves);
    CHECK(book.result.metrics == fast.result.metrics);
    // The 25 steps did something: the loss went down.
    REQUIRE(book.result.curves.size() >= 1);
    const std::vector<double>& loss = book.result.curves[0].second;
    REQUIRE(loss.size() == 25);
    CHECK(loss.back() < loss.front());
  }
}

namespace {

// The registry's model on its tiny configuration and data, trained 20 steps on one path.
TrainedRun train_tiny(Path path, const std::string& name) {
  models::ModelInfo info = models::find_model(name);
  info.load_data = [tiny = info.tiny_data](const std::string& spec, Rng& rng, models::Dataset& out) {
    if (spec != "tiny") return false;
    out = tiny(rng);
    return true;
  };
  const models::Config config = models::Config::from(info.flags, info.tiny_flags, info.name);
  models::TrainOptions opt = short_run(20);
  opt.lr = 3e-3;
  return train_on(path, info, config, opt);
}

}  // namespace

TEST_CASE("train(): the VAE, the GMVAE and the IWAE of the registry, 20 steps on each path, agree within float rounding") {
  // On the two paths the MLPs and the step are bit for bit the same (above); the Bernoulli
  // log-likelihood, where a model reaches it through log_bernoulli_with_logits (the GMVAE does),
  // differs by rounding (the test before). Tolerances: the first step's loss is one forward pass,
  // so the bound of that test over the loss (the scale Σ|x·l| + softplus(l) is about the loss
  // itself, ~784·log 2 at the start) is a relative (5 + 784)·ε ≈ 5e-5 in float32. Later steps carry
  // the rounding on through Adam, which divides by √v: a gradient coordinate that is itself at
  // rounding level can move its parameter by up to lr, so the losses may drift apart step by step.
  // 1e-3 relative after 20 steps is 20× the first step's bound, and over 10× below what these
  // steps change the loss by (the last check), so a textbook path that forgot to zero the
  // gradients or dropped an activation fails.
  for (const std::string name : {"vae", "gmvae", "iwae"}) {
    CAPTURE(name);
    const TrainedRun book = train_tiny(Path::textbook, name);
    const TrainedRun fast = train_tiny(Path::fast, name);
    REQUIRE(!book.result.curves.empty());
    const std::vector<double>& lb = book.result.curves[0].second;
    const std::vector<double>& lf = fast.result.curves[0].second;
    REQUIRE(lb.size() == 20);
    REQUIRE(lf.size() == 20);
    const double eps = std::numeric_limits<float>::epsilon() / 2;
    CHECK(std::abs(lb[0] - lf[0]) <= (5 + 784) * eps * std::abs(lf[0]));
    double worst = 0;
    for (std::size_t t = 0; t < 20; ++t) worst = std::max(worst, std::abs(lb[t] - lf[t]) / std::abs(lf[t]));
    CHECK(worst <= 1e-3);
    CHECK(lf.front() - lf.back() > 1e-2 * std::abs(lf.front()));
    MESSAGE(name << ": relative loss difference at most " << worst << ", loss " << lf.front() << " -> " << lf.back());
  }
}

// ---- the switch -------------------------------------------------------------------------------------

TEST_CASE("PathScope selects a path for its scope and puts the previous one back") {
  const Path before = path();
  {
    PathScope outer(Path::textbook);
    CHECK(textbook());
    {
      PathScope inner(Path::fast);
      CHECK_FALSE(textbook());
    }
    CHECK(textbook());
  }
  CHECK(path() == before);
  CHECK(std::string(to_string(Path::textbook)) == "textbook");
  CHECK(std::string(to_string(Path::fast)) == "fast");
}

TEST_CASE("tapezoo train --textbook runs the textbook path, and --json says which path ran") {
  const std::string tapezoo = test::tapezoo_program().string();
  const std::string run = tapezoo + " train ppca --iters 3 --eval 10 --quiet --json";
  const std::string book = test::run(run + " --textbook");
  const std::string fast = test::run(run);
  CHECK(test::contains(book, "\"path\": \"textbook\""));
  CHECK(test::contains(fast, "\"path\": \"fast\""));
  CHECK(test::contains(test::run("TAPEZOO_TEXTBOOK=1 " + run), "\"path\": \"textbook\""));
  for (const char* command : {" train ppca --help", " eval ppca --help", " sample ppca --help"})
    CHECK_MESSAGE(test::contains(test::run(tapezoo + command), "--textbook"), command);
}

// ---- logsumexp's backward: weights below √(smallest normal) are 0 on the fast path -----------------

namespace {
// The gradient of Σ_r c_r·logsumexp(x_r) in x on one path: gy = c_r, so gx_rj = c_r·e^(x_rj − y_r).
template <class T>
Array<T> logsumexp_grad(Path path, const Array<T>& x0, T c) {
  PathScope scope(path);
  Tape<T> tape;
  Var<T> x = tape.leaf(x0);
  tape.backward(sum(c * logsumexp(x, 1)));
  return x.grad();
}

template <class T>
void check_logsumexp_cutoff() {
  // Row 0: differences from the maximum that straddle the cutoff log √min = −43.67 (float) or
  // −354.0 (double): −40 and cut + 0.5 stay, cut − 0.5, cut − 16 and −400 go, and −90 goes in
  // float only, where the textbook's 0.01·e^−90 ≈ 8e−42 is subnormal. Row 1: all within range,
  // so both paths agree bit for bit.
  const T cut = static_cast<T>(0.5 * std::log(static_cast<double>(std::numeric_limits<T>::min())));
  const Array<T> x0 = {{T(0), T(-40), cut + T(0.5), cut - T(0.5), cut - T(16), T(-90), T(-400)},
                       {T(1), T(0.5), T(-2), T(-7), T(-20), T(0), T(3)}};
  const T c = T(-0.01);  // −1/batch, the IWAE loss's gy
  const Array<T> book = logsumexp_grad(Path::textbook, x0, c);
  const Array<T> fast = logsumexp_grad(Path::fast, x0, c);
  const T min_normal = std::numeric_limits<T>::min();
  for (std::size_t j = 0; j < x0.shape()[1]; ++j)
    for (std::size_t r = 0; r < 2; ++r) {
      CAPTURE(r);
      CAPTURE(j);
      const bool dropped = r == 0 && x0(0, j) < cut;  // the row's maximum is 0, so d = x
      if (dropped) {
        CHECK(fast(r, j) == T(0));
        // What the textbook path keeps there is |c|·e^d < |c|·√min: below every weight that stays
        // by a factor e^0.5 at least, and far below float rounding of the row's gradient (|c|·ε).
        CHECK(std::abs(book(r, j)) <= std::abs(c) * std::sqrt(min_normal));
      } else {
        CHECK(std::memcmp(&fast(r, j), &book(r, j), sizeof(T)) == 0);  // the same exp, the same bits
        CHECK(fast(r, j) != T(0));
      }
      CHECK(std::fpclassify(fast(r, j)) != FP_SUBNORMAL);  // the point of the cutoff
    }
  if constexpr (std::is_same_v<T, float>) CHECK(std::fpclassify(book(0, 5)) == FP_SUBNORMAL);  // 0.01·e^−90
  // The kept weights of row 0 still sum to 1 within rounding: Σ_j gx_0j / c = Σ_j e^(x_0j − y_0).
  T s = 0;
  for (std::size_t j = 0; j < x0.shape()[1]; ++j) s += fast(0, j) / c;
  CHECK(std::abs(s - T(1)) <= 8 * std::numeric_limits<T>::epsilon());
}
}  // namespace

TEST_CASE("logsumexp's backward: the fast path drops the weights below √(smallest normal), the textbook keeps them") {
  check_logsumexp_cutoff<float>();
  check_logsumexp_cutoff<double>();
}

TEST_CASE("log_bernoulli's float softplus (the series for log1p) is within a few ε of softplus in double") {
  // x = 0 and 16 equal logits per row (one AVX-512 batch, two AVX2 ones): y = −16·softplus(l). The
  // series for log(1 + e^−|l|) is within ε/7 of it, the division and Horner's rounding add a few ε
  // (ops_fused.cpp, log1p_unit); then max(l, 0) + that, and the sum of 16 lanes in float adds
  // 16·ε/2 relative at most. Tolerance: (16 + 8)·ε relative to the exact −16·softplus(l).
  std::vector<float> logits;
  for (float l = -30.0f; l <= 30.0f; l += 0.37f) logits.push_back(l);
  for (float l : {-1e-3f, 1e-3f, 0.0f, -87.0f, 87.0f, 1e-30f}) logits.push_back(l);
  Array<float> lv = Array<float>::from_shape({logits.size(), 16});
  for (std::size_t r = 0; r < logits.size(); ++r)
    for (std::size_t j = 0; j < 16; ++j) lv(r, j) = logits[r];
  const Array<float> x0 = xt::zeros<float>(lv.shape());
  Tape<float> tape;
  const Array<float> y = log_bernoulli(tape.constant(x0), tape.constant(lv)).value();
  for (std::size_t r = 0; r < logits.size(); ++r) {
    CAPTURE(logits[r]);
    const double l = logits[r], exact = -16 * (std::max(l, 0.0) + std::log1p(std::exp(-std::abs(l))));
    CHECK(std::abs(y(r) - exact) <= 24 * std::numeric_limits<float>::epsilon() * std::abs(exact));
  }
}
