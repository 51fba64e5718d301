// tapezoo: the fused op of the GMVAE's fast path (autograd/ops_fused_gmvae.cpp), equal to a
// composite of the ops of autograd/ops.hpp within float rounding. The caller chooses between the
// op and its composite with tz::textbook() (autograd/path.hpp, docs/fast-paths.md).
#pragma once

#include <cstddef>

#include "autograd/ops.hpp"

namespace tz {

// A variance read off a slice of x (op softplus_rows): y = softplus(x[start : start+length]) + c
// along axis, c ≥ 0 a floor (1e-8 in gaussian_parameters). The composite it replaces:
// softplus(narrow(x, axis, start, length)) + c, three nodes and two arrays of the slice's size.
// The GMVAE's prior takes σ² = softplus(z_pre[K:2K]) + 1e-8 this way (models/gmvae.cpp), and every
// encoder its v = softplus(h[:, d:]) + 1e-8 (gaussian_parameters, distributions/distributions.cpp).
template <class T>
Var<T> softplus_rows(const Var<T>& x, int axis, std::size_t start, std::size_t length, double c);

}  // namespace tz
