// tutorial: the tape, step by step — record, seed, reverse, read; checked against finite differences
//
// Reverse-mode automatic differentiation on a Wengert list (Wengert 1964; Griewank & Walther,
// "Evaluating Derivatives", 2008, ch. 3). Every op appends one node to the tape, in creation order,
// which is already a topological order. backward(L) seeds the adjoint dL/dL = 1 and walks the
// nodes in reverse, once; each node adds its contribution gy·∂y/∂x to its inputs' adjoints (+=),
// so a value used twice receives both. The life cycle, as in every tapezoo program:
//
//   Tape<double> tape;                  // record
//   Var x = tape.leaf(x0);              //   inputs become leaves
//   Var y = sum(exp(x) * x);            //   every op appends one node
//   tape.backward(y);                   // seed and reverse
//   x.grad();                           // read: dy/dx = (1 + x) e^x
//
// Steps: 1 record, 2 seed and reverse (against finite differences), 3 accumulation, 4 parameters
// and constants, 5 NoGrad, 6 anomaly mode, 7 gradcheck, 8 the tape as a picture (DOT).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "autograd/gradcheck.hpp"
#include "autograd/ops.hpp"
#include "autograd/random.hpp"
#include "tutorials/tutorial.hpp"

using tz::Array;
using A = tz::Array<double>;
using V = tz::Var<double>;
using tz::tutorial::claim;

namespace {

// The function of the tutorial, on plain doubles: the reference for finite differences.
//   f(x1, x2) = log x1 + x1·x2 − e^x2
double f_plain(double x1, double x2) { return std::log(x1) + x1 * x2 - std::exp(x2); }

// The same function on the tape, one op per statement, so that the order of the nodes is the order
// of the lines. (In one expression, log(x1) + x1*x2 - exp(x2), C++ leaves the order in which the
// operands are evaluated unspecified: g++ records exp(x2) first. Any order is topological.)
V f_tape(const V& x1, const V& x2) {
  V a = log(x1);    // #2
  V b = x1 * x2;    // #3
  V c = a + b;      // #4
  V d = exp(x2);    // #5
  return c - d;     // #6
}

// ∂f/∂x_i ≈ (f(x + h e_i) − f(x − h e_i)) / 2h: error O(h²) from the formula, O(ε/h) from rounding.
double central_difference(int i, double x1, double x2, double h = 1e-6) {
  if (i == 0) return (f_plain(x1 + h, x2) - f_plain(x1 - h, x2)) / (2 * h);
  return (f_plain(x1, x2 + h) - f_plain(x1, x2 - h)) / (2 * h);
}

std::string brief(const A& a) {
  std::string s = "{";
  for (std::size_t i = 0; i < a.size(); ++i) s += fmt::format("{}{:.6g}", i ? ", " : "", a.data()[i]);
  return s + "}";
}

// The tape's listing, indented under the step.
void show_tape(tz::tutorial::Tutorial& t, const tz::Tape<double>& tape, bool with_values = true) {
  std::string listing = tape.print(with_values);
  if (!listing.empty() && listing.back() == '\n') listing.pop_back();
  t.say(listing);
}

// The tape of step 1 and its handles: step 2 runs backward on it, step 8 draws it.
struct Recorded {
  V x1, x2, f;
};

// Step 1: every op appends one node, in the order the lines ran, and that order is topological.
Recorded step_recording_appends_one_node_per_op(tz::tutorial::Tutorial& t, tz::Tape<double>& tape, double x1_0,
                                                double x2_0) {
  t.step(1, "Record: f(x1, x2) = log x1 + x1·x2 − e^x2 at x1 = {}, x2 = {}", x1_0, x2_0);
  t.say("Each op appends one node to the tape and computes its value at once. The inputs are");
  t.say("leaves (they want a gradient). The list of nodes is a Wengert list:");
  V x1 = tape.leaf(A(x1_0), "x1");  // A(v) is a 0-d array: one number, shape []
  V x2 = tape.leaf(A(x2_0), "x2");
  V f = f_tape(x1, x2);
  show_tape(t, tape, /*with_values=*/false);
  bool in_order = tape.size() == 7;
  const tz::Op order[] = {tz::Op::leaf, tz::Op::leaf, tz::Op::log, tz::Op::mul,
                          tz::Op::add,  tz::Op::exp,  tz::Op::sub};
  for (std::uint32_t i = 0; in_order && i < 7; ++i) in_order = tape.node(i).op == order[i];
  t.check(claim("tape-records-in-order"), "one node per op, in the order the lines ran", in_order,
          fmt::format("{} nodes: 2 leaves, then log, mul, add, exp, sub", tape.size()));
  // Creation order is a topological order: every node's inputs were made before it.
  std::size_t edges = 0;
  bool backwards = true;
  for (std::uint32_t i = 0; i < tape.size(); ++i)
    for (std::uint32_t j : tape.node(i).in) {
      ++edges;
      backwards = backwards && j < i;
    }
  t.check(claim("tape-records-in-order"), "creation order is topological", backwards,
          fmt::format("all {} edges point from a lower index to a higher one", edges));
  t.check_close(claim("tape-forward-is-the-function"), "the value of the last node is f", f.item(), f_plain(x1_0, x2_0), 1e-14);
  t.note("written as one expression, log(x1) + x1*x2 - exp(x2), the nodes may come in another\n"
         "order: C++ does not fix the order in which operands are evaluated, and g++ records exp\n"
         "first. Every order C++ can choose is topological, and the gradients are the same.");
  return {x1, x2, f};
}

// Step 2: backward(f) seeds df/df = 1 and sweeps the tape once, in reverse; the leaves' adjoints are
// df/dx1 and df/dx2, as finite differences and the formulas say. Returns df/dx1, which step 3 splits.
double step_reverse_sweep_gives_the_gradient(tz::tutorial::Tutorial& t, tz::Tape<double>& tape, const Recorded& r,
                                             double x1_0, double x2_0) {
  const V& x1 = r.x1;
  const V& x2 = r.x2;
  const V& f = r.f;
  t.step(2, "Seed df/df = 1 and walk the tape backwards, once");
  t.say("backward(f) sets the adjoint of the last node to 1, then visits the nodes in reverse");
  t.say("creation order. Each node reads its adjoint gy and adds gy·∂y/∂x to each input, by the");
  t.say("formula in its row of the op table (autograd/op_table.hpp; all of them: ./zoo ops):");
  std::vector<tz::Op> seen;  // the ops on the tape, last node first, each once
  for (std::uint32_t i = static_cast<std::uint32_t>(tape.size()); i-- > 0;) {
    const tz::Op op = tape.node(i).op;
    if (tz::is_source(op) || std::find(seen.begin(), seen.end(), op) != seen.end()) continue;
    seen.push_back(op);
    const tz::OpInfo& row = tz::op_info(op);
    t.say("  {:<5} {:<22} {}", row.name, row.forward, row.backward);
  }
  t.check(claim("op-table-has-every-formula"), "every op on the tape has its formula in the table", seen.size() == 5,
          fmt::format("{} ops: sub, exp, add, mul, log", seen.size()));
  tape.backward(f);
  show_tape(t, tape);
  // The sweep by hand, with the tape's own numbers: gy of each node, and what it adds to its inputs.
  auto val = [&](std::uint32_t i) { return tape.node(i).val()(); };
  auto adj = [&](std::uint32_t i) { return tape.node(i).grad(); };
  t.say("The sweep, last node first; ḡ#i is df/d(#i), the adjoint of node i:");
  t.say("  #6 sub(#4, #5)  ḡ#6 = 1 (the seed)     ḡ#4 += 1,  ḡ#5 += −1");
  t.say("  #5 exp(#1)      ḡ#5 = {:<8.6g}          ḡ#1 += ḡ#5·y = {:.6g}", adj(5), adj(5) * val(5));
  t.say("  #4 add(#2, #3)  ḡ#4 = {:<8.6g}          ḡ#2 += 1,  ḡ#3 += 1", adj(4));
  t.say("  #3 mul(#0, #1)  ḡ#3 = {:<8.6g}          ḡ#0 += ḡ#3·x2 = {:.6g},  ḡ#1 += ḡ#3·x1 = {:.6g}", adj(3),
        adj(3) * val(1), adj(3) * val(0));
  t.say("  #2 log(#0)      ḡ#2 = {:<8.6g}          ḡ#0 += ḡ#2/x1 = {:.6g}", adj(2), adj(2) / val(0));
  t.say("  leaves:         ḡ#1 = {:.6g} + {:.6g} = {:.6g},  ḡ#0 = {:.6g} + {:.6g} = {:.6g}", adj(5) * val(5),
        adj(3) * val(0), adj(1), adj(3) * val(1), adj(2) / val(0), adj(0));
  t.check(claim("reverse-sweep-sums-adjoints"), "the seed is df/df = 1", adj(f.index()) == 1.0,
          fmt::format("adjoint of #{} = {}", f.index(), adj(f.index())));
  t.check(claim("reverse-sweep-sums-adjoints"), "each leaf's adjoint is the sum of what its users sent",
          adj(1) == adj(5) * val(5) + adj(3) * val(0) && adj(0) == adj(3) * val(1) + adj(2) / val(0),
          fmt::format("ḡ#1 = {:.10g}, ḡ#0 = {:.10g}", adj(1), adj(0)));
  const double g1 = x1.grad()(), g2 = x2.grad()();
  t.say("Read the leaves, and compare with central differences (h = 1e-6) on plain doubles:");
  t.check_close(claim("backward-matches-finite-differences"), "df/dx1 = 1/x1 + x2: autograd vs finite difference", g1, central_difference(0, x1_0, x2_0),
                1e-8);
  t.check_close(claim("backward-matches-finite-differences"), "df/dx2 = x1 − e^x2: autograd vs finite difference", g2, central_difference(1, x1_0, x2_0),
                1e-8);
  t.check_close(claim("backward-matches-the-derivative"), "df/dx1 vs the formula 1/x1 + x2", g1, 1 / x1_0 + x2_0, 1e-13);
  t.check_close(claim("backward-matches-the-derivative"), "df/dx2 vs the formula x1 − e^x2", g2, x1_0 - std::exp(x2_0), 1e-13);
  return g1;
}

// Step 3: a value used by two ops receives the sum of both contributions (+=, never =).
void step_gradients_accumulate(tz::tutorial::Tutorial& t, double x1_0, double x2_0, double g1) {
  t.step(3, "Gradients accumulate (+=): a value used twice receives both contributions");
  t.say("x1 feeds two ops, log and mul. Cut one path at a time with detach() (a node that passes");
  t.say("the value on but no gradient back) to see each contribution on its own:");
  double via_log, via_mul;
  {
    tz::Tape<double> tp;
    V a = tp.leaf(A(x1_0)), b = tp.constant(A(x2_0));
    tp.backward(log(a) + detach(a) * b - exp(b));
    via_log = a.grad()();
  }
  {
    tz::Tape<double> tp;
    V a = tp.leaf(A(x1_0)), b = tp.constant(A(x2_0));
    tp.backward(log(detach(a)) + a * b - exp(b));
    via_mul = a.grad()();
  }
  t.check_close(claim("chain-rule-sums-paths"), "via log alone: 1/x1", via_log, 1 / x1_0, 1e-15);
  t.check_close(claim("chain-rule-sums-paths"), "via mul alone: x2", via_mul, x2_0, 1e-15);
  t.check_close(claim("chain-rule-sums-paths"), "both paths together (step 2) = their sum", g1, via_log + via_mul, 1e-15);
  t.say("");
  t.say("The smallest case is y = x·x: mul sees the same node as both inputs, and adds gy·b to a");
  t.say("and gy·a to b, which are one node. Had it assigned (=) instead of added, dy/dx would be 3:");
  {
    tz::Tape<double> tp;
    V x = tp.leaf(A(3.0), "x");
    tp.backward(x * x);
    t.check_close(claim("chain-rule-sums-paths"), "d(x·x)/dx at x = 3 is 2x", x.grad()(), 6.0, 1e-15);
  }
  t.say("A diamond: u = 2x and v = x² both come from x, then w = u·v = 2x³:");
  {
    tz::Tape<double> tp;
    V x = tp.leaf(A(2.0), "x");
    V u = 2.0 * x;
    V v = square(x);
    V w = u * v;
    tp.backward(w);
    show_tape(t, tp);
    t.check_close(claim("chain-rule-sums-paths"), "dw/dx at x = 2 is 6x² (2·x² via u, plus 2x·2x via v)", x.grad()(), 24.0, 1e-15);
  }
}

// The logistic regression of steps 4, 5 and 7: n points X with labels y, the parameters w and b, and
// the loss L at them, which step 5 computes again without recording.
struct Logistic {
  A X, y;
  tz::Param<double> w, b;
  double loss = 0;
};

// L(w, b) = (1/n) Σ_i softplus(l_i) − y_i·l_i, l = X·w + b, on a tape; *data (if given) receives the Var of X.
V logistic_nll(tz::Tape<double>& tp, Logistic& lr, V* data = nullptr) {
  V Xc = tp.constant(lr.X, "X"), yc = tp.constant(lr.y, "y");
  if (data) *data = Xc;
  V l = linear(Xc, tp.param(lr.w), tp.param(lr.b));
  return mean(softplus(l) - yc * l);
}

// Step 4: parameters keep their gradients across tapes until zero_grad(); constants get none.
// X and y are drawn from rng.
Logistic step_parameters_keep_gradients_constants_get_none(tz::tutorial::Tutorial& t, tz::Rng& rng) {
  const std::size_t n = t.pick<std::size_t>(200, 8);
  t.step(4, "Parameters and constants: a logistic regression on {} points", n);
  t.say("Parameters (Param) live outside the tape and keep their gradients until zero_grad().");
  t.say("Data and labels are constants: no gradient flows into them. The loss is the Bernoulli");
  t.say("negative log-likelihood from logits l = X·w + b (docs/pitfalls.md#bernoulli-logits: never log(sigmoid(l))):");
  t.say("  L = (1/n) Σ_i softplus(l_i) − y_i·l_i      dL/dw = Xᵀ(σ(l) − y) / n,  dL/db = Σ(σ(l) − y) / n");
  Logistic lr;
  A& X = lr.X;
  A& y = lr.y;
  X = rng.normal<double>({n, 2});
  y = A::from_shape({n, 1});
  for (std::size_t i = 0; i < n; ++i) y(i, 0) = X(i, 0) - 0.5 * X(i, 1) + 0.3 * rng.normal() > 0 ? 1.0 : 0.0;
  A w0 = {0.3, -0.2};
  w0.reshape({2, 1});  // a column: linear() takes W as [in, out]
  lr.w = tz::Param<double>("w", w0);
  lr.b = tz::Param<double>("b", A{0.1});
  tz::Param<double>& w = lr.w;
  tz::Param<double>& b = lr.b;
  tz::Tape<double> lt;
  V Xc;
  V loss = logistic_nll(lt, lr, &Xc);
  lt.backward(loss);
  show_tape(t, lt, /*with_values=*/false);
  // The closed form, on plain loops.
  double gw0 = 0, gw1 = 0, gb = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double l = X(i, 0) * w.value(0, 0) + X(i, 1) * w.value(1, 0) + b.value(0);
    const double r = 1 / (1 + std::exp(-l)) - y(i, 0);
    gw0 += X(i, 0) * r / n;
    gw1 += X(i, 1) * r / n;
    gb += r / n;
  }
  t.check_close(claim("backward-matches-the-derivative"), "dL/dw1 vs Xᵀ(σ(l) − y)/n", w.grad(0, 0), gw0, 1e-10, 1e-14);
  t.check_close(claim("backward-matches-the-derivative"), "dL/dw2 vs Xᵀ(σ(l) − y)/n", w.grad(1, 0), gw1, 1e-10, 1e-14);
  t.check_close(claim("backward-matches-the-derivative"), "dL/db vs Σ(σ(l) − y)/n", b.grad(0), gb, 1e-10, 1e-14);
  const A gX = Xc.grad();
  double max_gX = 0;
  for (double v : gX) max_gX = std::max(max_gX, std::abs(v));
  t.check(claim("constants-get-no-gradient"), "no gradient into the data X", !Xc.requires_grad() && max_gX == 0.0,
          fmt::format("requires_grad = {}, max |dL/dX| = {}", Xc.requires_grad(), max_gX));
  t.say("A second backward on a fresh tape adds to w.grad; zero_grad() resets it:");
  {
    tz::Tape<double> again;
    again.backward(logistic_nll(again, lr));
  }
  t.check_close(claim("gradients-accumulate"), "after two backward passes w.grad = 2·dL/dw", w.grad(0, 0), 2 * gw0, 1e-10, 1e-14);
  w.zero_grad();
  b.zero_grad();
  t.check(claim("gradients-accumulate"), "after zero_grad()", w.grad(0, 0) == 0.0 && b.grad(0) == 0.0,
          fmt::format("w.grad = {}, b.grad = {}", brief(w.grad), brief(b.grad)));
  lr.loss = loss.item();
  return lr;
}

// Step 5: under NoGrad the same loss has the same value, and no node has a backward.
void step_nograd_records_no_backward(tz::tutorial::Tutorial& t, Logistic& lr) {
  tz::Param<double>& w = lr.w;
  tz::Param<double>& b = lr.b;
  t.step(5, "NoGrad: evaluation that records no backward");
  t.say("Inside a NoGrad guard every op's result is a constant: the node holds its value, and");
  t.say("neither its backward nor a gradient. Use it to evaluate a model on test data.");
  tz::Tape<double> et;
  V eval_loss;
  {
    tz::NoGrad<double> guard(et);
    eval_loss = logistic_nll(et, lr);
  }
  std::size_t with_backward = 0;
  for (std::uint32_t i = 0; i < et.size(); ++i) with_backward += et.node(i).backward != nullptr ? 1 : 0;
  t.check(claim("no-grad-records-nothing"), "no node has a backward", with_backward == 0 && !eval_loss.requires_grad(),
          fmt::format("{} of {} nodes have one; the loss requires_grad = {}", with_backward, et.size(),
                      eval_loss.requires_grad()));
  t.check_close(claim("no-grad-records-nothing"), "the value is the same as with recording", eval_loss.item(), lr.loss, 1e-15);
  et.backward(eval_loss);  // nothing requires a gradient: a no-op
  t.check(claim("no-grad-records-nothing"), "backward is a no-op", w.grad(0, 0) == 0.0 && b.grad(0) == 0.0,
          fmt::format("w.grad = {}", brief(w.grad)));
  t.check(claim("no-grad-records-nothing"), "the guard restores recording when it ends", et.recording(), "recording = true");
}

// Step 6: anomaly mode throws at the first NaN or Inf and names the op and its tape position.
void step_anomaly_mode_names_the_first_nan(tz::tutorial::Tutorial& t) {
  t.step(6, "Anomaly mode: the first NaN or Inf, named by op and tape position");
  t.say("g(z) = Σ log(z·z) at z = (0.5, 0). Without anomaly mode log(0) = −inf flows on silently,");
  t.say("and backward turns it into NaN: d/dz log(z²) = (1/z²)·2z = ∞·0 at z = 0.");
  {
    tz::Tape<double> tp;
    V z = tp.leaf(A{0.5, 0.0}, "z");
    V g = sum(log(z * z));
    tp.backward(g);
    const A gz = z.grad();
    t.check(claim("anomaly-mode-names-the-op"), "silently: g = −inf, and dg/dz holds a NaN", std::isinf(g.item()) && std::isnan(gz(1)),
            fmt::format("g = {}, dg/dz = {}", g.item(), brief(gz)));
  }
  t.say("With tape.set_detect_anomaly(true), each op's value (and each gradient in backward) is");
  t.say("scanned, and the first non-finite number throws AnomalyError:");
  {
    tz::Tape<double> tp;
    tp.set_detect_anomaly(true);
    V z = tp.leaf(A{0.5, 0.0}, "z");
    std::string message;
    try {
      (void)sum(log(z * z));
    } catch (const tz::AnomalyError& e) {
      message = e.what();
    }
    t.say("  caught: {}", message.empty() ? "(nothing)" : message);
    t.check(claim("anomaly-mode-names-the-op"), "it names the op and its place on the tape",
            message.find("op 'log' at tape position 2") != std::string::npos,
            "\"op 'log' at tape position 2\" (#0 z, #1 mul, #2 log)");
    t.note("anomaly mode costs a scan of every array: turn it on to hunt a NaN, off to train");
  }
}

// Step 7: tz::gradcheck compares every input element's gradient with central differences.
void step_gradcheck_checks_every_element(tz::tutorial::Tutorial& t, double x1_0, double x2_0, const Logistic& lr) {
  const A& X = lr.X;
  const A& y = lr.y;
  t.step(7, "gradcheck: every input element against central differences in float64");
  t.say("tz::gradcheck perturbs each input element by ±h (h = 1e-6·max(1, |x|)), compares with the");
  t.say("tape's gradient at rtol 1e-6, and names the element on a failure. Every op in the table");
  t.say("is checked this way in tests/test_ops_gradcheck.cpp.");
  {
    tz::GradcheckResult r = tz::gradcheck(
        "f(x1, x2)", [](const std::vector<V>& v) { return f_tape(v[0], v[1]); }, {A(x1_0), A(x2_0)});
    t.check(claim("backward-matches-finite-differences"), "gradcheck of f", r.ok,
            r.ok ? fmt::format("{} elements, max |error| = {:.1e}", r.checked, r.max_abs_error) : r.message);
  }
  {
    // The logistic loss as a function of (X, w, b): here X is an input, to check dL/dX as well.
    tz::GradcheckResult r = tz::gradcheck(
        "logistic nll",
        [&y](const std::vector<V>& v) {
          V yc = v[0].tape().constant(y);
          V l = linear(v[0], v[1], v[2]);
          return mean(softplus(l) - yc * l);
        },
        {X, lr.w.value, lr.b.value});
    t.check(claim("backward-matches-finite-differences"), "gradcheck of the logistic loss in (X, w, b)", r.ok,
            r.ok ? fmt::format("{} elements, max |error| = {:.1e}", r.checked, r.max_abs_error) : r.message);
  }
}

// Step 8: the tape of step 1 as a Graphviz DOT file (and a PNG when Graphviz is installed).
void step_tape_as_a_picture(tz::tutorial::Tutorial& t, const tz::Tape<double>& tape) {
  t.step(8, "The tape as a picture: Graphviz DOT");
  const std::filesystem::path dot_path = t.out_file("tape.dot");
  const std::string dot = tape.to_dot();  // the tape of step 1
  {
    std::ofstream os(dot_path);
    os << dot;
  }
  std::size_t node_lines = 0;
  for (std::size_t pos = 0; (pos = dot.find(" [label=", pos)) != std::string::npos; ++pos) ++node_lines;
  t.check(claim("dot-has-one-box-per-node"), "the DOT file has one box per node", std::filesystem::exists(dot_path) && node_lines == tape.size(),
          fmt::format("{} boxes for {} nodes, in {}", node_lines, tape.size(), dot_path.string()));
  const std::filesystem::path png_path = t.out_file("tape.png");
  if (std::system("command -v dot >/dev/null 2>&1") == 0) {
    const std::string cmd =
        fmt::format("dot -Tpng '{}' -o '{}'", dot_path.string(), png_path.string());
    const int rc = std::system(cmd.c_str());
    // A picture written is no claim: said, not checked (the DOT text above is what is checked).
    const bool ok = rc == 0 && std::filesystem::exists(png_path) && std::filesystem::file_size(png_path) > 0;
    t.say(ok ? fmt::format("rendered with graphviz: {} ({} bytes)", png_path.string(), std::filesystem::file_size(png_path))
             : fmt::format("graphviz could not render it: `{}` failed (exit code {})", cmd, rc));
  } else {
    t.say("Graphviz's `dot` is not installed: apt-get install graphviz (./zoo setup --optional),");
    t.say("then: dot -Tpng {} -o {}", dot_path.string(), png_path.string());
  }
  t.say("Leaves are green, parameters blue, constants dashed; edges run in creation order.");
}

}  // namespace

int main(int argc, char** argv) {
  tz::tutorial::Tutorial t("00_autograd",
                           "the tape, step by step: record, seed, reverse, read", 42);
  if (auto rc = t.parse(argc, argv)) return *rc;
  tz::Rng rng(t.seed());
  const double x1_0 = 2.0, x2_0 = 0.5;
  tz::Tape<double> tape;  // the tape of steps 1, 2 and 8

  const Recorded r = step_recording_appends_one_node_per_op(t, tape, x1_0, x2_0);   // 1 record
  const double g1 = step_reverse_sweep_gives_the_gradient(t, tape, r, x1_0, x2_0);   // 2 seed and reverse
  step_gradients_accumulate(t, x1_0, x2_0, g1);                                       // 3 accumulation
  Logistic lr = step_parameters_keep_gradients_constants_get_none(t, rng);           // 4 parameters, constants
  step_nograd_records_no_backward(t, lr);                                             // 5 NoGrad
  step_anomaly_mode_names_the_first_nan(t);                                           // 6 anomaly mode
  step_gradcheck_checks_every_element(t, x1_0, x2_0, lr);                             // 7 gradcheck
  step_tape_as_a_picture(t, tape);                                                    // 8 the tape as DOT

  return t.finish();
}
