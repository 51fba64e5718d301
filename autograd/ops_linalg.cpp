// tapezoo: matrix products through BLAS. Backward products pass transposes as gemm flags (no
// transposed copies), and accumulate straight into the gradient with beta = 1 (docs/pitfalls.md#blas-transposes).
// Each op: its kOps row as a one-line comment, then its forward, then its backward.
#include "autograd/blas.hpp"
#include "autograd/op_helpers.hpp"

#include <algorithm>
#include <tuple>

namespace tz {

using detail::record;

// matmul: y = a @ b (BLAS gemm)                ga += gy @ bᵀ, gb += aᵀ @ gy
// a [m,k], b [k,n].
template <class T>
Var<T> matmul(const Var<T>& a, const Var<T>& b) {
  if (a.dim() != 2 || b.dim() != 2 || a.shape()[1] != b.shape()[0])
    throw AutogradError(fmt::format("matmul: expected [m,k] @ [k,n], got {} @ {}", shape_str(a.shape()),
                                    shape_str(b.shape())));
  return record<T>(Op::matmul, {a, b},
      [](Tape<T>& t, Node<T>& nd) {
        const Array<T>& a = t.val(nd.in[0]);
        const Array<T>& b = t.val(nd.in[1]);
        const std::size_t m = a.shape()[0], k = a.shape()[1], n = b.shape()[1];
        nd.value.resize(Shape{m, n});
        blas::gemm(false, false, m, n, k, T(1), a.data(), k, b.data(), n, T(0), nd.value.data(), n);
      },
      [](Tape<T>& t, Node<T>& nd) {
        // TASK 1.5 matmul: ga [m,k] += gy [m,n] @ bᵀ,  gb [k,n] += aᵀ @ gy   (blas::gemm, beta from grad_dest)
        const T* gy = nd.grad.data();
        const Array<T>& a = t.val(nd.in[0]);
        const Array<T>& b = t.val(nd.in[1]);
        const std::size_t m = a.shape()[0], k = a.shape()[1], n = b.shape()[1];
        T beta;
        if (t.wants_grad(nd.in[0])) {  // ga [m,k] += gy [m,n] @ bᵀ
          Array<T>& ga = t.grad_dest(nd.in[0], beta);
          blas::gemm(false, true, m, k, n, T(1), gy, n, b.data(), n, beta, ga.data(), k);
        }
        if (t.wants_grad(nd.in[1])) {  // gb [k,n] += aᵀ @ gy [m,n]
          Array<T>& gb = t.grad_dest(nd.in[1], beta);
          blas::gemm(true, false, k, n, m, T(1), a.data(), k, gy, n, beta, gb.data(), n);
        }
        // END TASK
      });
}

// ---- x @ W + b, shared with linear_elu (autograd/ops_fused.cpp) through autograd/op_helpers.hpp ----

namespace detail {

template <class T>
void check_linear(const char* op, const Var<T>& x, const Var<T>& W, const Var<T>& b) {
  const bool bias_ok = (b.dim() == 1 && W.dim() == 2 && b.shape()[0] == W.shape()[1]) ||
                       (b.dim() == 2 && W.dim() == 2 && b.shape()[0] == 1 && b.shape()[1] == W.shape()[1]);
  if (x.dim() != 2 || W.dim() != 2 || x.shape()[1] != W.shape()[0] || !bias_ok)
    throw AutogradError(fmt::format("{}: expected x [n,in] @ W [in,out] + b [out], got {} @ {} + {}", op,
                                    shape_str(x.shape()), shape_str(W.shape()), shape_str(b.shape())));
}

// y = x @ W + b into the node's value: the bias is written into y first, then one gemm adds x @ W
// on top (beta = 1), so the bias add costs no extra pass.
template <class T>
void linear_forward(Tape<T>& t, Node<T>& nd) {
  const Array<T>& x = t.val(nd.in[0]);
  const Array<T>& W = t.val(nd.in[1]);
  const std::size_t n = x.shape()[0], in = x.shape()[1], out = W.shape()[1];
  nd.value.resize(Shape{n, out});
  T* y = nd.value.data();
  const T* bias = t.val(nd.in[2]).data();
  for (std::size_t r = 0; r < n; ++r) std::copy(bias, bias + out, y + r * out);
  blas::gemm(false, false, n, out, in, T(1), x.data(), in, W.data(), out, T(1), y, out);
}

// Given gy [n,out], the gradient at y = x @ W + b:
// gx += gy @ Wᵀ,  gW += xᵀ @ gy,  gb += Σ_rows gy
template <class T>
void linear_backward(Tape<T>& t, const Node<T>& nd, const T* gy) {
  const Array<T>& x = t.val(nd.in[0]);
  const Array<T>& W = t.val(nd.in[1]);
  const std::size_t n = x.shape()[0], in = x.shape()[1], out = W.shape()[1];
  T beta;
  if (t.wants_grad(nd.in[0])) {  // gx [n,in] += gy @ Wᵀ
    Array<T>& gx = t.grad_dest(nd.in[0], beta);
    blas::gemm(false, true, n, in, out, T(1), gy, out, W.data(), out, beta, gx.data(), in);
  }
  if (t.wants_grad(nd.in[1])) {  // gW [in,out] += xᵀ @ gy
    Array<T>& gW = t.grad_dest(nd.in[1], beta);
    blas::gemm(true, false, in, out, n, T(1), x.data(), in, gy, out, beta, gW.data(), out);
  }
  if (t.wants_grad(nd.in[2])) {  // gb [out] += Σ_rows gy
    Array<T>& gb = t.grad_dest(nd.in[2], beta);
    T* g = gb.data();
    if (beta == T(0)) std::fill(g, g + out, T(0));
    for (std::size_t r = 0; r < n; ++r)
      for (std::size_t c = 0; c < out; ++c) g[c] += gy[r * out + c];
  }
}

template void check_linear(const char*, const Var<float>&, const Var<float>&, const Var<float>&);
template void check_linear(const char*, const Var<double>&, const Var<double>&, const Var<double>&);
template void linear_forward(Tape<float>&, Node<float>&);
template void linear_forward(Tape<double>&, Node<double>&);
template void linear_backward(Tape<float>&, const Node<float>&, const float*);
template void linear_backward(Tape<double>&, const Node<double>&, const double*);

}  // namespace detail

// linear: y = x @ W + b (bias fused)           gx += gy @ Wᵀ, gW += xᵀ @ gy, gb += Σ_rows gy
// x [n,in], W [in,out], b [out] or [1,out], the bias fused into the gemm.
template <class T>
Var<T> linear(const Var<T>& x, const Var<T>& W, const Var<T>& b) {
  detail::check_linear("linear", x, W, b);
  return record<T>(Op::linear, {x, W, b},
      [](Tape<T>& t, Node<T>& nd) { detail::linear_forward(t, nd); },
      [](Tape<T>& t, Node<T>& nd) {
        const T* gy = nd.grad.data();
        detail::linear_backward(t, nd, gy);
      });
}

// ---- for float (training) and double (gradient checks): autograd/op_helpers.hpp -------------------
// Every op of this file, once; a new op's address goes here too.
template <class T>
auto linalg_ops() {
  return std::tuple{&matmul<T>, &linear<T>};
}
template auto linalg_ops<float>();
template auto linalg_ops<double>();
static_assert(std::tuple_size_v<decltype(linalg_ops<float>())> == ops_in_groups({"linalg"}),
              "ops_linalg.cpp: linalg_ops() must list every op of the group 'linalg' in kOps, once: add the "
              "new op's address to it");

}  // namespace tz
