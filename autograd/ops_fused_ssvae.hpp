// tapezoo: the SSVAE's fused ops (autograd/ops_fused_ssvae.cpp), each equal to a composite of the
// ops of autograd/ops.hpp within float rounding. models/ssvae_fast.cpp records them on the fast
// path and the composite on the textbook one, chosen with tz::textbook() (autograd/path.hpp,
// docs/fast-paths.md); tests/test_fast_paths_ssvae.cpp compares the two.
#pragma once

#include "autograd/ops.hpp"

namespace tz {

// The variance half of a Gaussian head h = [h_m, h_v] [n, 2d] (op gauss_var), read in place:
//   v = softplus(h[:, d:]) + 1e-8   → [n, d]
// The composite it replaces: softplus(narrow(h, 1, d, d)) + 1e-8, gaussian_parameters' variance
// (distributions/distributions.cpp).
template <class T>
Var<T> gaussian_variance(const Var<T>& h);

}  // namespace tz
