// Tests of the tape itself: the record-seed-reverse-read life cycle, accumulation (x·x, a+a, a−a,
// diamonds), parameters across steps, clear() and stale Vars, no_grad, anomaly mode, DOT, errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "autograd/ops.hpp"

using namespace tz;
using A = Array<double>;

TEST_CASE("record, seed, reverse, read: d/dx Σ e^x·x = (1 + x)e^x") {
  Tape<double> tape;
  Var x = tape.leaf(A{0.0, 1.0, -2.0});
  Var y = sum(exp(x) * x);
  CHECK(tape.size() == 4);  // leaf, exp, mul, sum: one node per op, in creation order
  tape.backward(y);
  A g = x.grad();
  for (std::size_t i = 0; i < 3; ++i) {
    const double xi = x.value()(i);
    CHECK(g(i) == doctest::Approx((1 + xi) * std::exp(xi)).epsilon(1e-15));
  }
  CHECK(y.item() == doctest::Approx(0.0 + std::exp(1.0) - 2 * std::exp(-2.0)));
}

TEST_CASE("gradients accumulate: x·x, a+a, a−a and a diamond") {
  Tape<double> t;
  Var x = t.leaf(A{3.0});
  t.backward(sum(x * x));
  CHECK(x.grad()(0) == 6.0);  // both factors contribute

  Tape<double> t2;
  Var a = t2.leaf(A{1.5, -2.0});
  t2.backward(sum(a + a));
  CHECK(a.grad() == A{2.0, 2.0});

  Tape<double> t3;
  Var b = t3.leaf(A{1.5, -2.0});
  t3.backward(sum(b - b));
  CHECK(b.grad() == A{0.0, 0.0});

  // Diamond: u = 2x, v = x², w = u·v = 2x³, dw/dx = 6x².
  Tape<double> t4;
  Var d = t4.leaf(A{2.0});
  Var u = 2.0 * d;
  Var v = square(d);
  t4.backward(sum(u * v));
  CHECK(d.grad()(0) == 24.0);
}

TEST_CASE("a value used by many later ops (a wide fan-out) gets every contribution") {
  Tape<double> t;
  Var x = t.leaf(A{1.0});
  Var acc = x;
  for (int i = 0; i < 50; ++i) acc = acc + x;  // 51·x
  t.backward(sum(acc));
  CHECK(x.grad()(0) == 51.0);
}

TEST_CASE("parameters live outside the tape; their gradients accumulate until zero_grad") {
  Param<double> w("w", A{1.0, 2.0});
  for (int step = 0; step < 3; ++step) {
    Tape<double> t;
    Var pw = t.param(w);
    t.backward(sum(pw * pw));
  }
  CHECK(w.grad == A{6.0, 12.0});  // 3 steps of 2w
  w.zero_grad();
  CHECK(w.grad == A{0.0, 0.0});
  Tape<double> t;
  t.backward(sum(3.0 * t.param(w)));
  CHECK(w.grad == A{3.0, 3.0});
}

TEST_CASE("clear() recycles the tape; Vars from before are rejected by name") {
  Tape<float> t;
  Param<float> w("w", Array<float>{1.f, 2.f});
  Var<float> old;
  for (int step = 0; step < 5; ++step) {
    t.clear();
    Var<float> y = sum(exp(t.param(w)));
    if (step == 0) old = y;
    t.backward(y);
  }
  CHECK(t.size() == 3);
  CHECK(w.grad(0) == doctest::Approx(5 * std::exp(1.0)));
  try {
    (void)exp(old);
    FAIL("a Var from a cleared tape was accepted");
  } catch (const AutogradError& e) {
    CHECK(std::string(e.what()).find("cleared tape") != std::string::npos);
    CHECK(std::string(e.what()).find("exp") != std::string::npos);
  }
}

TEST_CASE("constants and data get no gradient, and ops on them record no backward") {
  Tape<double> t;
  Var c = t.constant(A{1.0, 2.0});
  Var x = t.leaf(A{3.0, 4.0});
  Var y = c * c;
  CHECK_FALSE(y.requires_grad());
  Var z = sum(y * x);
  CHECK(z.requires_grad());
  t.backward(z);
  CHECK(x.grad() == A{1.0, 4.0});
  CHECK(c.grad() == A{0.0, 0.0});
}

TEST_CASE("constant_view reads the caller's array in place and gets no gradient") {
  Tape<double> t;
  A data{1.0, 2.0};
  Var c = t.constant_view(data, "x");
  CHECK(c.value().data() == data.data());  // no copy: the node points at the caller's storage
  Var x = t.leaf(A{3.0, 4.0});
  Var z = sum(c * x);
  CHECK_FALSE(c.requires_grad());
  CHECK(z.item() == 11.0);
  t.backward(z);
  CHECK(x.grad() == A{1.0, 2.0});
  CHECK(c.grad() == A{0.0, 0.0});
  t.clear();  // a recycled node that was a view must not keep pointing at the old array
  Var d = t.constant(A{5.0, 6.0});
  CHECK(d.value() == A{5.0, 6.0});
  CHECK(data == A{1.0, 2.0});
}

TEST_CASE("backward with a ready callback calls it once per parameter, after its last use") {
  Param<double> w("w", A{2.0}), c("c", A{3.0});
  Tape<double> t;
  Var a = t.param(w);             // #0: first use of w
  Var b = t.param(c);             // #1
  Var y = a * b + a * t.param(w);  // a second node reads w: w's gradient has three parts
  std::vector<std::pair<std::string, double>> calls;
  t.backward(sum(y), [&](Param<double>& p) { calls.emplace_back(p.name, p.grad(0)); });
  REQUIRE(calls.size() == 2);
  CHECK(calls[0] == std::pair<std::string, double>{"c", 2.0});  // dy/dc = w
  CHECK(calls[1] == std::pair<std::string, double>{"w", 7.0});  // dy/dw = c + 2w, complete when called
}

TEST_CASE("no_grad records no graph") {
  Tape<double> t;
  Var x = t.leaf(A{1.0});
  Var<double> y;
  {
    NoGrad<double> guard(t);
    y = exp(x) * 2.0;
  }
  CHECK_FALSE(y.requires_grad());
  CHECK(y.value()(0) == doctest::Approx(2 * std::exp(1.0)));
  CHECK(t.recording());
  t.backward(sum(y));  // nothing requires a gradient: a no-op
  CHECK(x.grad()(0) == 0.0);
}

TEST_CASE("errors name the op and the shapes") {
  Tape<double> t;
  Var a = t.leaf(A::from_shape({2, 3}));
  Var b = t.leaf(A::from_shape({4}));
  auto message = [](auto&& f) {
    try {
      f();
    } catch (const AutogradError& e) {
      return std::string(e.what());
    }
    return std::string("no exception");
  };
  std::string m = message([&] { (void)add(a, b); });
  CHECK(m.find("add") != std::string::npos);
  CHECK(m.find("[2,3]") != std::string::npos);
  CHECK(m.find("[4]") != std::string::npos);
  m = message([&] { (void)matmul(a, a); });
  CHECK(m.find("matmul") != std::string::npos);
  CHECK(m.find("[2,3] @ [2,3]") != std::string::npos);
  m = message([&] { t.backward(a); });
  CHECK(m.find("not a scalar") != std::string::npos);
  CHECK(m.find("[2,3]") != std::string::npos);
  m = message([&] { (void)sum(a, 2); });
  CHECK(m.find("axis 2 is out of range") != std::string::npos);
  m = message([&] { (void)reshape(a, {4, 2}); });
  CHECK(m.find("reshape") != std::string::npos);
  Tape<double> other;
  m = message([&] { (void)add(a, other.leaf(A{1.0})); });
  CHECK(m.find("another tape") != std::string::npos);
}

TEST_CASE("backward with an explicit seed is a vector-Jacobian product") {
  Tape<double> t;
  Var x = t.leaf(A{1.0, 2.0, 3.0});
  Var y = square(x);
  t.backward(y, A{1.0, 0.0, -1.0});
  CHECK(x.grad() == A{2.0, 0.0, -6.0});
}

TEST_CASE("anomaly mode names the first op that made a NaN or Inf, forward and backward") {
  Tape<double> t;
  t.set_detect_anomaly(true);
  Var x = t.leaf(A{1.0, 0.0});
  try {
    (void)log(x);  // log 0 = -inf
    FAIL("no anomaly reported");
  } catch (const AnomalyError& e) {
    std::string m = e.what();
    CHECK(m.find("forward of op 'log' at tape position 1") != std::string::npos);
    CHECK(m.find("-inf") != std::string::npos);
  }
  Tape<double> t2;
  t2.set_detect_anomaly(true);
  Var z = t2.leaf(A{0.0});
  Var s = sqrt(z);  // forward fine (0), backward 1/(2·0) = inf
  try {
    t2.backward(sum(s));
    FAIL("no anomaly reported");
  } catch (const AnomalyError& e) {
    CHECK(std::string(e.what()).find("backward of op 'sqrt' at tape position 1") != std::string::npos);
  }
}

TEST_CASE("DOT export and print show every node with its op, inputs and shape") {
  Tape<double> t;
  Param<double> w("w", A{{1.0, 2.0}, {0.0, 0.0}});
  A col = {3.0, 4.0};
  col.reshape({2, 1});
  Var x = t.constant(col, "x");
  Var y = sum(matmul(t.param(w), x));
  std::string dot = t.to_dot();
  CHECK(dot.rfind("digraph tape {", 0) == 0);
  CHECK(dot.find("n0 [label=\"#0 constant x\\n[2,1]\"") != std::string::npos);
  CHECK(dot.find("#1 param w") != std::string::npos);
  CHECK(dot.find("n0 -> n2;") != std::string::npos);
  CHECK(dot.find("n1 -> n2;") != std::string::npos);
  CHECK(dot.find("#3 sum") != std::string::npos);
  CHECK(dot.find("= 11") != std::string::npos);
  t.backward(y);
  std::string p = t.print();
  CHECK(p.find("#2   matmul(#1, #0)") != std::string::npos);
  CHECK(p.find("grad {3, 4, 3, 4}") != std::string::npos);  // dy/dw = 1 xᵀ
}

TEST_CASE("print shows each node's formula from its kOps row, under the node") {
  Tape<double> t;
  Var x = t.leaf(A{0.5, 2.0}, "x");
  Var y = sum(log(x));
  t.backward(y);
  const std::string p = t.print();
  const std::string log_line = "#1   log(#0)";
  const std::size_t at = p.find(log_line);
  REQUIRE(at != std::string::npos);
  const std::size_t next = p.find('\n', at) + 1;
  CHECK(p.substr(next, p.find('\n', next) - next) == "       y = log x    gx += gy / x");
  CHECK(p.find("       y = Σ_i x_i    gx += gy (broadcast)\n") != std::string::npos);
  CHECK(p.find("       y = x (requires grad)    gx = gy, read with var.grad()\n") != std::string::npos);
  // Two lines per node: the node, then its formula.
  CHECK(std::count(p.begin(), p.end(), '\n') == 2 * static_cast<long>(t.size()));
  CHECK(p.find("grad {2, 0.5}") != std::string::npos);  // d/dx Σ log x = 1/x
}

TEST_CASE("saved state is named, and a recycled node keeps its vectors' storage") {
  Tape<double> t;
  const A x0 = {{1.0, 5.0, 2.0}, {7.0, 0.0, 3.0}, {4.0, 4.0, 9.0}};
  const std::size_t* rows_storage = nullptr;
  const std::size_t* argmax_storage = nullptr;
  for (int step = 0; step < 3; ++step) {
    t.clear();
    Var x = t.leaf(x0);
    Var g = gather_rows(x, {2, 0, 2});        // #1
    Var m = max(g, 1);                         // #2
    Var n = narrow(x, -1, 1, 2);               // #3
    Var c = clamp(x, -1.0, 2.5);               // #4
    Var p = pow(x, 3.0);                       // #5
    t.backward(sum(m) + sum(n) + sum(c) + sum(p));
    const Saved& sg = t.node(g.index()).saved;
    const Saved& sm = t.node(m.index()).saved;
    const Saved& sn = t.node(n.index()).saved;
    CHECK(sg.rows == std::vector<std::size_t>{2, 0, 2});
    CHECK(sm.axis == 1);
    CHECK(sm.argmax == std::vector<std::size_t>{2, 1, 2});  // rows {4,4,9}, {1,5,2}, {4,4,9}
    CHECK(sn.axis == 1);                                    // -1 normalised
    CHECK(sn.start == 1);
    CHECK(sn.length == 2);
    CHECK(t.node(c.index()).saved.lo == -1.0);
    CHECK(t.node(c.index()).saved.hi == 2.5);
    CHECK(t.node(p.index()).saved.exponent == 3.0);
    CHECK(t.node(p.index()).saved.axis == 0);   // what an op does not save stays at its default
    CHECK(t.node(x.index()).saved.rows.empty());
    if (step == 0) {
      rows_storage = sg.rows.data();
      argmax_storage = sm.argmax.data();
    } else {  // the same slots, recycled: the vectors were refilled in place, not reallocated
      CHECK(sg.rows.data() == rows_storage);
      CHECK(sm.argmax.data() == argmax_storage);
    }
    // gx of x: gather_rows→max sends 1 to (2,2) twice and to (0,1) once; narrow 1 to columns 1, 2;
    // clamp 1 inside [-1, 2.5]; pow 3x² (through std::pow, so within rounding).
    const A gx = x.grad();
    CHECK(gx(2, 2) == doctest::Approx(2.0 + 1.0 + 0.0 + 3 * 81.0).epsilon(1e-14));
    CHECK(gx(0, 1) == doctest::Approx(1.0 + 1.0 + 0.0 + 3 * 25.0).epsilon(1e-14));
    CHECK(gx(0, 0) == doctest::Approx(0.0 + 0.0 + 1.0 + 3 * 1.0).epsilon(1e-14));
  }
}

TEST_CASE("float32 and float64 tapes agree on an MLP-like expression") {
  A xd = {{0.5, -1.0, 2.0}, {1.5, 0.25, -0.75}};
  A wd = {{0.1, -0.2}, {0.3, 0.4}, {-0.5, 0.6}};
  A bd = {0.05, -0.05};
  Tape<double> td;
  Param<double> W("W", wd), b("b", bd);
  Var yd = mean(elu(linear(td.constant(xd), td.param(W), td.param(b))));
  td.backward(yd);
  Tape<float> tf;
  Param<float> Wf("W", xt::cast<float>(wd)), bf("b", xt::cast<float>(bd));
  Var yf = mean(elu(linear(tf.constant(Array<float>(xt::cast<float>(xd))), tf.param(Wf), tf.param(bf))));
  tf.backward(yf);
  CHECK(yf.item() == doctest::Approx(yd.item()).epsilon(1e-6));
  for (std::size_t i = 0; i < W.grad.size(); ++i)
    CHECK(Wf.grad.data()[i] == doctest::Approx(W.grad.data()[i]).epsilon(1e-5));
}
