// tapezoo: the differentiable ops. Formulas for each are in autograd/op_table.hpp; each op's
// definition in autograd/ops_<group>.cpp repeats its row, then gives its forward and its backward.
// Built for float (training) and double (gradient checks) by one list per file (autograd/op_helpers.hpp);
// adding an op: docs/adding-an-op.md.
//
// Axes may be negative (-1 is the last). Results are always containers, never lazy expressions.
#pragma once

#include <vector>

#include "autograd/tape.hpp"

namespace tz {

// ---- elementwise ---------------------------------------------------------------------------------
template <class T> Var<T> neg(const Var<T>& x);
template <class T> Var<T> add_scalar(const Var<T>& x, double c);   // x + c
template <class T> Var<T> mul_scalar(const Var<T>& x, double c);   // c·x
template <class T> Var<T> rsub_scalar(double c, const Var<T>& x);  // c - x
template <class T> Var<T> rdiv_scalar(double c, const Var<T>& x);  // c / x
template <class T> Var<T> pow(const Var<T>& x, double p);          // x^p (x > 0 unless p is an integer)
template <class T> Var<T> log(const Var<T>& x);
template <class T> Var<T> log1p(const Var<T>& x);
template <class T> Var<T> square(const Var<T>& x);
template <class T> Var<T> abs(const Var<T>& x);
template <class T> Var<T> relu(const Var<T>& x);
template <class T> Var<T> elu(const Var<T>& x);                    // alpha = 1
template <class T> Var<T> softplus(const Var<T>& x);
template <class T> Var<T> log_sigmoid(const Var<T>& x);
template <class T> Var<T> clamp(const Var<T>& x, double lo, double hi);
template <class T> Var<T> exp(const Var<T>& x);
template <class T> Var<T> sqrt(const Var<T>& x);
template <class T> Var<T> tanh(const Var<T>& x);
template <class T> Var<T> sigmoid(const Var<T>& x);

// ---- binary, broadcasting by NumPy's rules -------------------------------------------------------
template <class T> Var<T> add(const Var<T>& a, const Var<T>& b);
template <class T> Var<T> sub(const Var<T>& a, const Var<T>& b);
template <class T> Var<T> mul(const Var<T>& a, const Var<T>& b);
template <class T> Var<T> div(const Var<T>& a, const Var<T>& b);

// ---- reductions -----------------------------------------------------------------------------------
template <class T> Var<T> sum(const Var<T>& x);                                  // shape []
template <class T> Var<T> sum(const Var<T>& x, int axis, bool keepdims = false);
template <class T> Var<T> mean(const Var<T>& x);                                 // shape []
template <class T> Var<T> mean(const Var<T>& x, int axis, bool keepdims = false);
template <class T> Var<T> logsumexp(const Var<T>& x, int axis, bool keepdims = false);
template <class T> Var<T> max(const Var<T>& x, int axis, bool keepdims = false);

// ---- shape ----------------------------------------------------------------------------------------
// One entry of shape may be -1 (inferred).
template <class T> Var<T> reshape(const Var<T>& x, const std::vector<std::ptrdiff_t>& shape);
template <class T> Var<T> transpose(const Var<T>& x);  // 2-D
template <class T> Var<T> concat(const std::vector<Var<T>>& xs, int axis);
template <class T> Var<T> narrow(const Var<T>& x, int axis, std::size_t start, std::size_t length);
template <class T> Var<T> gather_rows(const Var<T>& x, const std::vector<std::size_t>& idx);
template <class T> Var<T> tile(const Var<T>& x, std::size_t k);  // k copies stacked on axis 0
template <class T> Var<T> broadcast_to(const Var<T>& x, const Shape& shape);
template <class T> Var<T> detach(const Var<T>& x);

// ---- linear algebra (BLAS) ------------------------------------------------------------------------
template <class T> Var<T> matmul(const Var<T>& a, const Var<T>& b);  // [m,k] @ [k,n]
// x @ W + b with x [n,in], W [in,out], b [out] or [1,out]: one gemm with the bias fused in.
template <class T> Var<T> linear(const Var<T>& x, const Var<T>& W, const Var<T>& b);

// ---- normalisation along an axis ------------------------------------------------------------------
template <class T> Var<T> softmax(const Var<T>& x, int axis);
template <class T> Var<T> log_softmax(const Var<T>& x, int axis);

// ---- fused: fast paths, each equal to a composite of the ops above (autograd/ops_fused.cpp) -----
// Callers pick them or the composite with tz::textbook() (autograd/path.hpp, docs/fast-paths.md).
// log Bernoulli(x; σ(l)) summed over the last axis, y = Σ_j [x_j l_j − softplus(l_j)], x and l of
// one shape [..., d] → [...]: sum(x * l - softplus(l), -1) in one vectorised pass
// (distributions' log_bernoulli_with_logits calls it on the fast path).
template <class T> Var<T> log_bernoulli(const Var<T>& x, const Var<T>& logits);
// elu(linear(x, W, b)) in one node, the activation applied in place (nn::MLP's ELU hidden layers
// on the fast path).
template <class T> Var<T> linear_elu(const Var<T>& x, const Var<T>& W, const Var<T>& b);

// ---- the one home of broadcasting -----------------------------------------------------------------
// The shape a op b has under NumPy's rules; throws AutogradError naming op and both shapes.
Shape broadcast_shape(const char* op, const Shape& a, const Shape& b);
// Sums g over the axes that broadcasting added or stretched, so that it has shape `shape`.
template <class T> Array<T> sum_to(const Array<T>& g, const Shape& shape);

// ---- operators ------------------------------------------------------------------------------------
template <class T> Var<T> operator+(const Var<T>& a, const Var<T>& b) { return add(a, b); }
template <class T> Var<T> operator-(const Var<T>& a, const Var<T>& b) { return sub(a, b); }
template <class T> Var<T> operator*(const Var<T>& a, const Var<T>& b) { return mul(a, b); }
template <class T> Var<T> operator/(const Var<T>& a, const Var<T>& b) { return div(a, b); }
template <class T> Var<T> operator-(const Var<T>& x) { return neg(x); }
template <class T> Var<T> operator+(const Var<T>& x, double c) { return add_scalar(x, c); }
template <class T> Var<T> operator+(double c, const Var<T>& x) { return add_scalar(x, c); }
template <class T> Var<T> operator-(const Var<T>& x, double c) { return add_scalar(x, -c); }
template <class T> Var<T> operator-(double c, const Var<T>& x) { return rsub_scalar(c, x); }
template <class T> Var<T> operator*(const Var<T>& x, double c) { return mul_scalar(x, c); }
template <class T> Var<T> operator*(double c, const Var<T>& x) { return mul_scalar(x, c); }
template <class T> Var<T> operator/(const Var<T>& x, double c) { return mul_scalar(x, 1.0 / c); }
template <class T> Var<T> operator/(double c, const Var<T>& x) { return rdiv_scalar(c, x); }

}  // namespace tz
