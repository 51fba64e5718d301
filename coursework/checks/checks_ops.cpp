// tapezoo coursework: the checks of parts 1 (the backward of the core ops) and 2 (the reverse sweep).
//
// Part 1 calls an op's backward directly, without the sweep of part 2: y = op(x) on a fresh tape,
// gy = a fixed seed written into y's gradient, then y's node's backward once. The vector-Jacobian
// product it leaves in each input is compared with central finite differences of L(x) = Σ gy ⊙ op(x),
//   ∂L/∂x_k ≈ (L(x + h e_k) − L(x − h e_k)) / 2h,   h = 1e-6·max(1, |x_k|),
// in float64: rtol 1e-6 covers the truncation error h²·|L'''|/6 at these inputs, atol 1e-8 the
// rounding ε·|L|/h (|L| ≤ 1e3 here). Part 2 uses ops whose backward is not a task (neg, add,
// mul_scalar, sum), so its checks need nothing a student writes except the sweep.
#include <cmath>
#include <functional>
#include <limits>

#include <fmt/format.h>

#include "autograd/tape.hpp"
#include "coursework/checks/checks.hpp"

namespace tz::coursework {

namespace {

using OpFn = std::function<V(const std::vector<V>&)>;

// The VJP left in each input by one call of y's backward (no sweep).
std::vector<A> direct_vjp(const OpFn& op, const std::vector<A>& inputs, const A& gy) {
  Tape<double> tape;
  std::vector<V> xs;
  for (const A& a : inputs) xs.push_back(tape.leaf(a));
  V y = op(xs);
  Node<double>& n = tape.node(y.index());
  if (!n.backward) throw std::logic_error("the op recorded no backward");
  n.grad = gy;
  n.has_grad = true;
  n.backward(tape, n);
  std::vector<A> out;
  for (const V& x : xs) out.push_back(x.grad());
  return out;
}

double weighted_sum(const OpFn& op, const std::vector<A>& inputs, const A& gy) {
  Tape<double> tape;
  std::vector<V> xs;
  for (const A& a : inputs) xs.push_back(tape.constant(a));
  const A y = op(xs).value();
  double s = 0;
  for (std::size_t i = 0; i < y.size(); ++i) s += gy.data()[i] * y.data()[i];
  return s;
}

// Central differences of Σ gy ⊙ op(x) in input i (0 for an infinite element: it is not perturbed).
A numeric_vjp(const OpFn& op, std::vector<A> inputs, const A& gy, std::size_t i) {
  A g = xt::zeros<double>(inputs[i].shape());
  for (std::size_t k = 0; k < g.size(); ++k) {
    double& xk = inputs[i].data()[k];
    if (!std::isfinite(xk)) continue;
    const double x0 = xk, h = 1e-6 * std::max(1.0, std::fabs(x0));
    xk = x0 + h;
    const double up = weighted_sum(op, inputs, gy);
    xk = x0 - h;
    const double down = weighted_sum(op, inputs, gy);
    xk = x0;
    g.data()[k] = (up - down) / (2 * h);
  }
  return g;
}

struct OpCase {
  std::string task, name;
  OpFn op;
  std::vector<A> inputs, hidden_inputs;  // the visible inputs, and those of the hidden check
};

std::string call_text(const OpCase& c, const std::vector<A>& inputs, const A& gy) {
  std::string s = c.name + "(";
  for (std::size_t i = 0; i < inputs.size(); ++i) s += (i ? ", " : "") + show(flat(inputs[i]));
  return s + ") with gy = " + show(flat(gy));
}

// gy: fixed numbers of y's shape, none of them 0 or 1, so that a missing factor gy shows.
A seed_like(const OpCase& c, const std::vector<A>& inputs) {
  Tape<double> tape;
  std::vector<V> xs;
  for (const A& a : inputs) xs.push_back(tape.constant(a));
  A gy = c.op(xs).value();
  for (std::size_t k = 0; k < gy.size(); ++k) gy.data()[k] = 0.75 + 0.5 * std::sin(1.0 + 2.0 * static_cast<double>(k));
  return gy;
}

void check_vjp(Checker& ck, const OpCase& c, const std::vector<A>& inputs) {
  const A gy = seed_like(c, inputs);
  const std::vector<A> got = direct_vjp(c.op, inputs, gy);
  for (std::size_t i = 0; i < inputs.size(); ++i)
    ck.close(fmt::format("{}: ∂L/∂input {} against finite differences", call_text(c, inputs, gy), i),
             flat(numeric_vjp(c.op, inputs, gy, i)), flat(got[i]), 1e-6, 1e-8);
}

void check_vjp_hidden(Checker& ck, const OpCase& c) {
  const A gy = seed_like(c, c.hidden_inputs);
  const std::vector<A> got = direct_vjp(c.op, c.hidden_inputs, gy);
  for (std::size_t i = 0; i < got.size(); ++i)
    ck.hidden(fmt::format("{}/{}/grad{}", c.task, c.name, i),
              fmt::format("{}: ∂L/∂input {}", call_text(c, c.hidden_inputs, gy), i), flat(got[i]), 1e-6, 1e-12);
}

const double kInf = std::numeric_limits<double>::infinity();

A column(double a, double b) {  // [2, 1] (a nested braced list of one-element rows is ambiguous)
  A c = xt::zeros<double>({2, 1});
  c(0, 0) = a;
  c(1, 0) = b;
  return c;
}

std::vector<OpCase> op_cases() {
  auto unary = [](V (*f)(const V&)) { return [f](const std::vector<V>& x) { return f(x[0]); }; };
  return {
      {"1.1", "log", unary(log<double>), {A{0.05, 0.5, 1.0, 3.0, 20.0}}, {A{{0.2, 7.0}, {1.5, 0.01}}}},
      {"1.2", "exp", unary(exp<double>), {A{-20.0, -1.0, 0.0, 0.5, 3.0}}, {A{{-2.0, 1.25}, {4.0, -0.3}}}},
      // b [3] broadcast against a [2, 3]: its gradient is summed over the rows (sum_to)
      {"1.3", "mul", [](const std::vector<V>& x) { return x[0] * x[1]; },
       {A{{1.0, -2.0, 0.5}, {3.0, 0.25, -1.5}}, A{2.0, -0.5, 4.0}}, {A{{0.3, 1.7}, {-2.2, 5.0}}, column(-1.0, 0.6)}},
      {"1.4", "div", [](const std::vector<V>& x) { return div(x[0], x[1]); },
       {A{{1.0, -2.0, 0.5}, {3.0, 0.25, -1.5}}, column(2.0, -0.5)}, {A{{0.3, 1.7}, {-2.2, 5.0}}, A{1.5, -3.0}}},
      {"1.5", "matmul", [](const std::vector<V>& x) { return matmul(x[0], x[1]); },
       {A{{1.0, -2.0, 0.5}, {3.0, 0.25, -1.5}}, A{{2.0, 0.0}, {-0.5, 1.0}, {4.0, 0.75}}},
       {A{{0.3, 1.7}, {-2.2, 5.0}, {0.1, -0.4}}, A{{1.0, 2.0, -1.0}, {0.5, -0.25, 3.0}}}},
      {"1.6", "sum(x, axis=1)", [](const std::vector<V>& x) { return sum(x[0], 1); },
       {A{{1.0, -2.0, 0.5}, {3.0, 0.25, -1.5}}}, {A{{{0.3, 1.7}, {-2.2, 5.0}}, {{0.1, -0.4}, {9.0, 2.0}}}}},
      {"1.6", "mean(x, axis=0)", [](const std::vector<V>& x) { return mean(x[0], 0); },
       {A{{1.0, -2.0, 0.5}, {3.0, 0.25, -1.5}}}, {A{{0.3, 1.7, 8.0}, {-2.2, 5.0, 1.0}}}},
      // ±800: e^800 is inf in float64, so σ(x) must not be formed as e^x / (1 + e^x)
      {"1.7", "softplus", unary(softplus<double>), {A{-800.0, -3.0, 0.0, 2.0, 800.0}}, {A{{-30.0, 0.7}, {30.0, -0.1}}}},
      // a row near 1000 (e^1000 = inf: the max must be taken out) and a row with one −inf element
      {"1.8", "logsumexp(x, axis=1)", [](const std::vector<V>& x) { return logsumexp(x[0], 1); },
       {A{{1000.0, 1001.0, 998.0}, {-1.0, -kInf, 2.0}}}, {A{{0.5, -0.5, 3.0}, {-700.0, -701.0, -699.5}}}},
  };
}

// ---- part 2: y built from ops whose backward is given; gradients in closed form -----------------

void check_fan_out(Checker& ck) {
  Tape<double> tape;
  V x = tape.leaf(A{1.0, 2.0, 3.0});
  // a = 2x, b = a + x, c = 3b, L = Σ c: dL/dx = 3·(2 + 1) = 9, reached through a and directly
  V a = 2.0 * x, b = a + x, c = 3.0 * b;
  tape.backward(sum(c));
  ck.close("L = Σ 3(2x + x) at x = [1, 2, 3]: dL/dx (x is used twice: both paths must add up)", {9, 9, 9}, flat(x.grad()),
           1e-15);
}

void check_seed(Checker& ck) {
  Tape<double> tape;
  V x = tape.leaf(A{1.0, 2.0, 3.0});
  V y = 3.0 * x;
  tape.backward(y, A{1.0, -2.0, 0.5});
  ck.close("backward(y = 3x, seed = [1, -2, 0.5]): dx = 3·seed", {3, -6, 1.5}, flat(x.grad()), 1e-15);
}

void check_order(Checker& ck) {
  Tape<double> tape;
  V x = tape.leaf(A{0.5, -1.0});
  V w = tape.leaf(A{4.0, 4.0});
  V unused = 5.0 * w;  // not on the path of L: w's gradient stays 0
  (void)unused;
  // L = Σ −(x + (x + (x + x))): each node's gradient is complete only after every later node ran
  V l = sum(-(x + (x + (x + x))));
  tape.backward(l);
  tape.backward(l);  // a second sweep starts afresh: the same gradient, not twice it
  ck.close("L = Σ −(x + (x + (x + x))), backward twice: dL/dx", {-4, -4}, flat(x.grad()), 1e-15);
  ck.close("L does not depend on w: dL/dw", {0, 0}, flat(w.grad()), 0);
}

void check_param(Checker& ck) {
  Tape<double> tape;
  Param<double> p("p", A{1.0, -1.0});
  V v = tape.param(p);
  V l = sum(v + (-2.0) * v);  // L = Σ (p − 2p) = −Σ p: dL/dp = −1, added into p.grad
  tape.backward(l);
  ck.close("L = Σ (p − 2p) for a parameter p: p.grad", {-1, -1}, flat(p.grad), 1e-15);
  tape.backward(l);  // a parameter's gradient accumulates until zero_grad()
  ck.close("the same backward twice (no zero_grad): p.grad", {-2, -2}, flat(p.grad), 1e-15);
}

void check_chain_hidden(Checker& ck) {
  Tape<double> tape;
  V x = tape.leaf(A{0.25, -3.0, 2.0});
  V y = x;
  for (int i = 1; i <= 6; ++i) y = (1.5 * y + x) + (-0.5) * (-y);
  tape.backward(sum(y));
  ck.hidden("2.1/chain", "a chain of 6 steps y ← 1.5y + x + 0.5y: dΣy/dx", flat(x.grad()), 1e-12);
}

}  // namespace

std::vector<Check> ops_checks() {
  std::vector<Check> out;
  for (const OpCase& c : op_cases()) {
    out.push_back({c.task, c.name + ": backward against finite differences", true,
                   [c](Checker& ck) { check_vjp(ck, c, c.inputs); }});
    out.push_back({c.task, c.name + ": stored gradient", false, [c](Checker& ck) { check_vjp_hidden(ck, c); }});
  }
  out.push_back({"2.1", "a value used twice gets both gradients", true, check_fan_out});
  out.push_back({"2.1", "backward(y, seed) seeds y's gradient", true, check_seed});
  out.push_back({"2.1", "reverse creation order, fresh sweeps, unreached leaves", true, check_order});
  out.push_back({"2.1", "a parameter's gradient is added into p.grad", true, check_param});
  out.push_back({"2.1", "a chain of steps", false, check_chain_hidden});
  return out;
}

}  // namespace tz::coursework
