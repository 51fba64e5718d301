// tapezoo: gradcheck by central differences in float64.
#include "autograd/gradcheck.hpp"

#include <cmath>
#include <optional>

#include <fmt/format.h>

#include "autograd/random.hpp"

namespace tz {

namespace {

// y = f(x) on a fresh tape. With grads, also dL/dx for L = Σ y ⊙ r.
// r is drawn on the first call (a default xarray is 0-d with one element, so "empty" is a flag).
Array<double> evaluate(const GradFn& f, const std::vector<Array<double>>& inputs, std::optional<Array<double>>& r,
                       unsigned seed, std::vector<Array<double>>* grads) {
  Tape<double> tape;
  std::vector<Var<double>> xs;
  for (const auto& x : inputs) xs.push_back(tape.leaf(x));
  Var<double> y = f(xs);
  if (!r || r->shape() != y.shape()) {
    Rng rng(seed);
    r = rng.uniform<double>(Shape(y.shape().begin(), y.shape().end()), 0.5, 1.5);
    if (r->size() == 1) r->fill(1.0);  // a scalar output is checked as it is
  }
  if (grads) {
    tape.backward(sum(y * tape.constant(*r)));
    grads->clear();
    for (const auto& x : xs) grads->push_back(x.grad());
  }
  return y.value();
}

// Σ_j r_j (y⁺_j − y⁻_j), summed over the elements that moved. Differencing elementwise keeps large
// unrelated outputs from swamping the difference (no catastrophic cancellation in Σ r·y).
double projected_difference(const Array<double>& yp, const Array<double>& ym, const Array<double>& r) {
  double d = 0;
  for (std::size_t j = 0; j < yp.size(); ++j) {
    const double a = yp.data()[j], b = ym.data()[j];
    if (a == b) continue;  // also covers equal infinities
    d += r.data()[j] * (a - b);
  }
  return d;
}

}  // namespace

GradcheckResult gradcheck(const std::string& name, const GradFn& f, const std::vector<Array<double>>& inputs,
                          const GradcheckOptions& opts, const std::function<bool(std::size_t, std::size_t)>& skip) {
  GradcheckResult res;
  std::optional<Array<double>> r;
  std::vector<Array<double>> grads;
  evaluate(f, inputs, r, opts.seed, &grads);
  std::vector<Array<double>> xs = inputs;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    for (std::size_t k = 0; k < xs[i].size(); ++k) {
      if (skip && skip(i, k)) continue;
      const double x0 = xs[i].data()[k];
      const double got = grads[i].data()[k];
      if (!std::isfinite(x0)) {
        // An infinite input does not move under a finite step: its gradient must be finite.
        if (!std::isfinite(got)) {
          res.ok = false;
          res.message = fmt::format("gradcheck '{}': input {} {}, element {} (x = {}): the gradient is {}, expected "
                                    "a finite value", name, i, shape_str(xs[i].shape()), k, x0, got);
          return res;
        }
        continue;
      }
      const double h = opts.step * std::max(1.0, std::abs(x0));
      xs[i].data()[k] = x0 + h;
      const Array<double> yp = evaluate(f, xs, r, opts.seed, nullptr);
      xs[i].data()[k] = x0 - h;
      const Array<double> ym = evaluate(f, xs, r, opts.seed, nullptr);
      xs[i].data()[k] = x0;
      const double expected = projected_difference(yp, ym, *r) / (2 * h);
      const double err = std::abs(got - expected);
      const double tol = opts.atol + opts.rtol * std::max(std::abs(got), std::abs(expected));
      res.max_abs_error = std::max(res.max_abs_error, std::isfinite(err) ? err : INFINITY);
      ++res.checked;
      if (!(err <= tol)) {
        res.ok = false;
        res.message = fmt::format(
            "gradcheck '{}': input {} {}, element {} (x = {:.17g}): expected {:.12g} (central difference), "
            "got {:.12g} (autograd); |error| {:.3g} > tolerance {:.3g}",
            name, i, shape_str(xs[i].shape()), k, x0, expected, got, err, tol);
        return res;
      }
    }
  }
  return res;
}

}  // namespace tz
