// tapezoo: gradcheck. Compares the tape's gradients with central finite differences in float64:
//
//   ∂f/∂x_i ≈ (f(x + h e_i) − f(x − h e_i)) / 2h,     h = 1e-6·max(1, |x_i|)
//
// A function with a non-scalar output is reduced to L = Σ y ⊙ r with a fixed random r in
// [0.5, 1.5], so every output element takes part; a scalar output is checked as it is. A failure names the op, the input, the element, the expected value
// and the value autograd gave.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "autograd/ops.hpp"

namespace tz {

struct GradcheckOptions {
  double rtol = 1e-6;     // |autograd − numeric| ≤ atol + rtol·max(|autograd|, |numeric|)
  double atol = 1e-8;
  double step = 1e-6;     // relative finite-difference step
  unsigned seed = 1234;   // for the projection r of non-scalar outputs
};

struct GradcheckResult {
  bool ok = true;
  std::string message;       // empty when ok; else the first failing element, in full
  double max_abs_error = 0;  // over all checked elements
  std::size_t checked = 0;   // elements compared
};

using GradFn = std::function<Var<double>(const std::vector<Var<double>>&)>;

// Checks the gradient of f with respect to each input. Inputs that are not finite (±inf) are
// not perturbed; their gradient must be finite (usually 0). Element k of input i is skipped
// when skip(i, k) is true (e.g. at a kink).
GradcheckResult gradcheck(const std::string& name, const GradFn& f, const std::vector<Array<double>>& inputs,
                          const GradcheckOptions& opts = {},
                          const std::function<bool(std::size_t, std::size_t)>& skip = nullptr);

}  // namespace tz
