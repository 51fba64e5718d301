// tapezoo: the two fused ops of every VAE's Gaussian latent (autograd/ops_fused_gaussian.cpp), each
// equal to a composite of the ops of autograd/ops.hpp, bit for bit in the graph a VAE builds (see
// the .cpp). sample_gaussian and kl_std_normal (distributions/distributions.cpp) choose between an
// op and its composite with tz::textbook() (autograd/path.hpp, docs/fast-paths.md).
#pragma once

#include "autograd/ops.hpp"

namespace tz {

// The reparameterization trick in one node (op reparam): z = m + √v ⊙ ε, m, v (a variance,
// > 0) and ε of one shape. The composite it replaces: m + sqrt(v) * eps, three nodes (sqrt, mul, add).
// ∂z/∂m = 1, ∂z/∂v = ε / (2√v), ∂z/∂ε = √v; ε is usually a constant and gets no gradient.
template <class T>
Var<T> reparameterize(const Var<T>& m, const Var<T>& v, const Var<T>& eps);

// KL(N(m, diag v) ‖ N(0, I)) per row in one node (op kl_std_normal): m, v [..., d] → [...],
// kl = ½ [Σ_j (v_j − log v_j + m_j²) − d]. The composite it replaces:
// 0.5 * (sum(v - log(v) + square(m), -1) - d), seven nodes. ∂kl/∂m_j = m_j, ∂kl/∂v_j = ½ (1 − 1/v_j).
template <class T>
Var<T> kl_std_normal_fused(const Var<T>& m, const Var<T>& v);

}  // namespace tz
