// tapezoo: the fused ops the model zoo's fast paths record (the SSVAE's layer in
// autograd/ops_fused_ssvae.cpp, the Gaussian mixture's in autograd/ops_fused_zoo.cpp), each equal
// to a composite of the ops of autograd/ops.hpp within float rounding. Callers choose between the
// op and its composite with tz::textbook() (autograd/path.hpp, docs/fast-paths.md).
#pragma once

#include <cstddef>
#include <vector>

#include "autograd/ops.hpp"

namespace tz {

// A hidden ELU layer on [x, onehot(y)] whose x part is shared by `copies` rows (op onehot_elu):
//   h_r = elu(x_{r mod n} W[:in] + W[in + y_r] + b),   r = 0 … copies·n − 1,
// x [n, in], W [in + K, out], b [out], labels y_r in [0, K), copies = labels.size() / n.
// The composite it replaces: elu(linear(concat({tile(x, copies), onehot(y)}, 1), W, b)).
// The product x W[:in] is taken once for the n rows of x, not once per copy (models/ssvae.cpp).
template <class T>
Var<T> onehot_linear_elu(const Var<T>& x, const Var<T>& W, const Var<T>& b, const std::vector<std::size_t>& labels);

// log N(z_i; m_k, diag v_k) for every pair (op normal_pairs), z [n, d], m and v [K, d] → [n, K]: the square expanded,
// Σ_d (z − m)²/v = Σ_d z²/v − 2 z·(m/v) + Σ_d m²/v, so that the [n, K] cross term is one gemm.
// The composite it replaces: log_normal(reshape(z, {n,1,d}), reshape(m, {1,K,d}), reshape(v, {1,K,d})).
template <class T>
Var<T> log_normal_pairs(const Var<T>& z, const Var<T>& m, const Var<T>& v);

// A Gaussian mixture's log-density (op normal_mix), y_i = log Σ_k w_k N(z_i; m_k, diag v_k) =
// logsumexp_k [log w_k + log N(z_i; m_k, v_k)], z [n, d], m and v [K, d], log w [K] → [n]: the table
// of log_normal_pairs and a stable log-sum-exp in one node, the backward through the
// responsibilities r_ik = w_k N(z_i; m_k, v_k) / Σ_j w_j N(z_i; m_j, v_j), again as gemms.
// The composite it replaces: logsumexp(log_normal_pairs' composite + log w, 1).
template <class T>
Var<T> normal_mixture(const Var<T>& z, const Var<T>& m, const Var<T>& v, const Var<T>& log_w);

}  // namespace tz
