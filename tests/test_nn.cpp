// nn: PyTorch's Linear init, layer values by hand, and optimizer steps against hand computations.
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/gradcheck.hpp"
#include "tests/test_helpers.hpp"
#include "nn/nn.hpp"
#include "nn/optim.hpp"

using namespace tz;
using tz::test::mat;
using A = Array<double>;

TEST_CASE("Linear is initialised U(-1/sqrt(in), 1/sqrt(in)) for W and b, as PyTorch") {
  Rng rng(0);
  nn::ParamSet<double> ps;
  nn::Linear<double> lin(ps, "fc", 400, 300, rng);
  const double k = 1.0 / 20.0;
  double s = 0, s2 = 0;
  for (double w : ps["fc.W"].value) {
    REQUIRE(std::abs(w) <= k);
    s += w;
    s2 += w * w;
  }
  const double n = 400.0 * 300.0;
  CHECK(std::abs(s / n) < 4 * k / std::sqrt(3 * n));
  CHECK(s2 / n == doctest::Approx(k * k / 3).epsilon(0.01));  // Var U(-k,k) = k²/3
  for (double b : ps["fc.b"].value) CHECK(std::abs(b) <= k);
  CHECK(ps.numel() == 400 * 300 + 300);
  CHECK(ps["fc.W"].value.shape()[0] == 400);
}

TEST_CASE("Linear and MLP compute x W + b and the activation by hand; names are stable") {
  Rng rng(1);
  nn::ParamSet<double> ps;
  nn::MLP<double> mlp(ps, "enc", {2, 2, 1}, nn::Activation::relu, rng);
  ps["enc.l1.W"].value = mat({{1.0, -1.0}, {2.0, 0.5}});
  ps["enc.l1.b"].value = A{0.5, -10.0};
  ps["enc.l2.W"].value = mat({{3.0}, {4.0}});
  ps["enc.l2.b"].value = A{1.0};
  Tape<double> t;
  Var<double> y = mlp(t, t.constant(mat({{1.0, 1.0}})));
  // h = relu([1+2+0.5, -1+0.5-10]) = [3.5, 0]; y = 3·3.5 + 4·0 + 1 = 11.5
  CHECK(y.value()(0, 0) == 11.5);
  CHECK_THROWS_WITH_AS(ps["enc.l3.W"], doctest::Contains("enc.l1.W"), std::out_of_range);
  CHECK_THROWS_AS(ps.add("enc.l1.W", A{1.0}), std::invalid_argument);
  CHECK_THROWS_AS(nn::parse_activation("gelu"), std::invalid_argument);
}

TEST_CASE("an MLP loss passes gradcheck with respect to its input and every parameter") {
  Rng rng(2);
  nn::ParamSet<double> ps;
  nn::MLP<double> mlp(ps, "f", {3, 4, 2}, nn::Activation::elu, rng);
  A x = rng.normal<double>({5, 3});
  GradFn f = [&](const std::vector<Var<double>>& v) {
    // the weights come in as leaves so gradcheck can perturb them
    Var<double> h = elu(linear(v[0], v[1], v[2]));
    return mean(square(linear(h, v[3], v[4])));
  };
  GradcheckResult r = gradcheck("mlp", f, {x, ps["f.l1.W"].value, ps["f.l1.b"].value, ps["f.l2.W"].value, ps["f.l2.b"].value});
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("Adam's first steps match the formula with bias correction (PyTorch defaults)") {
  Param<double> p("p", A{1.0, -2.0});
  nn::Adam<double> opt({&p}, {});
  CHECK(opt.lr() == 1e-3);
  // step 1, g = [0.5, -4]: m̂ = g, v̂ = g², Δ = lr · g / (|g| + eps)
  p.grad = A{0.5, -4.0};
  opt.step();
  CHECK(p.value(0) == doctest::Approx(1.0 - 1e-3 * 0.5 / (0.5 + 1e-8)).epsilon(1e-14));
  CHECK(p.value(1) == doctest::Approx(-2.0 + 1e-3 * 4.0 / (4.0 + 1e-8)).epsilon(1e-14));
  // step 2, g = [1, 0]: m = 0.9·0.05 + 0.1·1 = 0.145 → m̂ = 0.145/0.19; v = 0.999·0.00025·… by hand
  const double m1 = 0.1 * 0.5, v1 = 0.001 * 0.25;
  const double m2 = 0.9 * m1 + 0.1 * 1.0, v2 = 0.999 * v1 + 0.001 * 1.0;
  const double bc1 = 1 - 0.9 * 0.9, bc2 = 1 - 0.999 * 0.999;
  const double expect = p.value(0) - (1e-3 / bc1) * m2 / (std::sqrt(v2) / std::sqrt(bc2) + 1e-8);
  p.grad = A{1.0, 0.0};
  opt.step();
  CHECK(p.value(0) == doctest::Approx(expect).epsilon(1e-14));
}

TEST_CASE("Adam restored from its moments and step count goes on as if never stopped") {
  Param<double> p("p", A{1.0, -2.0, 0.25}), q("q", A{0.0, 0.0, 0.0});
  nn::Adam<double> a({&p}, {.lr = 0.01});
  const A grads[3] = {A{0.5, -4.0, 0.0}, A{1.0, 0.0, -3.0}, A{-0.2, 7.0, 1e-6}};
  p.grad = grads[0];
  a.step();
  nn::Adam<double> b({&q}, {.lr = 0.01});
  q.value = p.value;
  b.restore(a.steps(), a.first_moments(), a.second_moments());
  for (const A& g : {grads[1], grads[2]}) {
    p.grad = g;
    q.grad = g;
    a.step();
    b.step();
    CHECK(q.value == p.value);  // the bias correction uses the restored t
  }
  CHECK(b.steps() == 3);
  CHECK(b.second_moments()[0] == a.second_moments()[0]);
  try {
    b.restore(1, {A{0.0, 0.0}}, {A{0.0, 0.0, 0.0}});
    FAIL("expected an error");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()) == "Adam::restore: the moments of 'q' do not have its shape");
  }
  CHECK(b.steps() == 3);  // unchanged
  CHECK_THROWS_AS(b.restore(1, {}, {}), std::invalid_argument);
}

TEST_CASE("Adam's backward_step equals backward; step; zero_grad, bit for bit, with and without weight decay") {
  // Two copies of a model with a weight used twice (its gradient has two parts, and the update must
  // wait for both), a bias, and a parameter that is not on the tape (momentum still moves it).
  auto make = [] {
    return std::vector<Param<double>>{Param<double>("W", A{{0.5, -1.0}, {0.25, 2.0}}), Param<double>("b", A{0.1, -0.2}),
                                      Param<double>("unused", A{3.0})};
  };
  const A x{{1.0, -2.0}, {0.5, 3.0}};
  auto loss = [&](Tape<double>& t, std::vector<Param<double>>& ps) {
    Var<double> W = t.param(ps[0]);
    Var<double> h = tanh(matmul(t.constant(x), W) + t.param(ps[1]));
    return sum(square(matmul(h, t.param(ps[0]))));  // W read again, by a later node
  };
  for (double wd : {0.0, 0.1}) {
    CAPTURE(wd);
    std::vector<Param<double>> p = make(), q = make();
    nn::Adam<double> a({&p[0], &p[1], &p[2]}, {.lr = 0.05, .weight_decay = wd});
    nn::Adam<double> b({&q[0], &q[1], &q[2]}, {.lr = 0.05, .weight_decay = wd});
    p[2].grad = A{0.5};  // momentum for the unused parameter, from an earlier step
    q[2].grad = A{0.5};
    Tape<double> t1, t2;
    for (int step = 0; step < 4; ++step) {
      t1.clear();
      t1.backward(loss(t1, p));
      a.step();
      for (auto& param : p) param.zero_grad();
      t2.clear();
      b.backward_step(t2, loss(t2, q));
      for (std::size_t k = 0; k < 3; ++k) {
        CHECK(q[k].value == p[k].value);
        CHECK(q[k].grad == p[k].grad);  // zeroed
      }
    }
    CHECK(q[2].value(0) != 3.0);  // the parameter off the tape was updated too
    CHECK(b.steps() == 4);
  }
}

TEST_CASE("SGD with momentum follows v ← μv + g, θ ← θ − lr·v") {
  Param<double> p("p", A{1.0});
  nn::SGD<double> opt({&p}, {.lr = 0.1, .momentum = 0.9});
  p.grad = A{2.0};
  opt.step();  // v = 2, θ = 1 − 0.2
  CHECK(p.value(0) == doctest::Approx(0.8));
  p.grad = A{1.0};
  opt.step();  // v = 0.9·2 + 1 = 2.8, θ = 0.8 − 0.28
  CHECK(p.value(0) == doctest::Approx(0.52));
}

TEST_CASE("training a tiny regression with Adam lowers the loss to near its minimum") {
  Rng rng(3);
  nn::ParamSet<float> ps;
  nn::Linear<float> lin(ps, "fit", 2, 1, rng);
  Array<float> x = rng.normal<float>({64, 2});
  Array<float> y = Array<float>::from_shape({64, 1});
  for (std::size_t i = 0; i < 64; ++i) y(i, 0) = 2 * x(i, 0) - 3 * x(i, 1) + 0.5f;
  nn::Adam<float> opt(ps.all(), {.lr = 0.05});
  Tape<float> t;
  float first = 0, last = 0;
  for (int it = 0; it < 500; ++it) {
    t.clear();
    ps.zero_grad();
    Var<float> loss = mean(square(lin(t, t.constant(x)) - t.constant(y)));
    t.backward(loss);
    opt.step();
    if (it == 0) first = loss.item();
    last = loss.item();
  }
  CHECK(first > 1.0f);
  CHECK(last < 1e-4f);
  CHECK(ps["fit.W"].value(0, 0) == doctest::Approx(2.0).epsilon(1e-2));
  CHECK(ps["fit.b"].value(0) == doctest::Approx(0.5).epsilon(1e-2));
}

TEST_CASE("clip_grad_norm scales the joint norm to max_norm and returns the norm before") {
  Param<double> a("a", A{0.0, 0.0}), b("b", A{0.0});
  a.grad = A{3.0, 0.0};
  b.grad = A{4.0};
  const double n = nn::clip_grad_norm<double>({&a, &b}, 1.0);
  CHECK(n == doctest::Approx(5.0));
  CHECK(a.grad(0) == doctest::Approx(0.6).epsilon(1e-5));
  CHECK(b.grad(0) == doctest::Approx(0.8).epsilon(1e-5));
  CHECK(nn::clip_grad_norm<double>({&a, &b}, 10.0) == doctest::Approx(1.0).epsilon(1e-5));
  CHECK(a.grad(0) == doctest::Approx(0.6).epsilon(1e-5));  // unchanged below the limit
}

TEST_CASE("learning-rate schedules: constant, step and cosine") {
  auto c = nn::LrSchedule::parse("constant", 0.1, 100);
  CHECK(c.at(0) == 0.1);
  CHECK(c.at(99) == 0.1);
  nn::LrSchedule s{nn::LrSchedule::Kind::step, 0.1, 10, 0.5};
  CHECK(s.at(9) == doctest::Approx(0.1));
  CHECK(s.at(10) == doctest::Approx(0.05));
  CHECK(s.at(25) == doctest::Approx(0.025));
  auto cs = nn::LrSchedule::parse("cosine", 0.1, 100);
  CHECK(cs.at(0) == doctest::Approx(0.1));
  CHECK(cs.at(50) == doctest::Approx(0.05));
  CHECK(cs.at(100) == doctest::Approx(0.0));
  CHECK_THROWS_WITH(nn::LrSchedule::parse("linear", 0.1, 10), doctest::Contains("--lr-schedule"));
}
