// tapezoo: the conformance suite every registered model passes (tests/test_conformance.cpp runs
// it on each entry of the registry, so a new model is checked the moment it is registered).
//
//   gradient    the loss's gradient with respect to every parameter matches central differences
//               in float64, on the model's tiny configuration (a sample of elements per parameter)
//   training    200 Adam steps on the tiny data lower the loss on a fixed batch, and every
//               parameter receives a nonzero gradient
//   roundtrip   save → load into a fresh model reproduces the loss bit for bit
//   flags       the flags parse, and an unknown flag is a clear error that names it
//
// Each check returns a message that names the model and the check, and says why it failed.
#pragma once

#include <string>
#include <vector>

#include "models/model.hpp"

namespace tz::models {

struct CheckResult {
  bool ok = true;
  std::string message;  // "" when ok
};

CheckResult check_gradient(const ModelInfo& info);
CheckResult check_training(const ModelInfo& info, int steps = 200);
CheckResult check_roundtrip(const ModelInfo& info);
CheckResult check_flags(const ModelInfo& info);

struct NamedCheck {
  std::string name;
  CheckResult result;
};
std::vector<NamedCheck> run_conformance(const ModelInfo& info);

// Gradient check of a scalar function of a parameter set: compares p.grad after backward with
// central differences of `loss` for up to `per_param` elements of each parameter (chosen with a
// fixed seed). `loss` must be deterministic (reseed any noise inside it).
CheckResult gradcheck_params(const std::string& what, nn::ParamSet<double>& params,
                             const std::function<Var<double>(Tape<double>&)>& loss, std::size_t per_param = 12,
                             double rtol = 1e-5);

}  // namespace tz::models
