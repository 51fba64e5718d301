// tapezoo: matrix products through BLAS. Backward products pass transposes as gemm flags (no
// transposed copies), and accumulate straight into the gradient with beta = 1 (docs/pitfalls.md#blas-transposes).
#include "autograd/blas.hpp"
#include "autograd/op_helpers.hpp"

#include <cmath>
#include <vector>

#ifdef XTENSOR_USE_XSIMD
#include <xsimd/xsimd.hpp>
#endif

namespace tz {

// y = a @ b, a [m,k], b [k,n]     ga += gy @ bᵀ,  gb += aᵀ @ gy
template <class T>
Var<T> matmul(const Var<T>& a, const Var<T>& b) {
  Tape<T>& t = a.tape();
  if (a.dim() != 2 || b.dim() != 2 || a.shape()[1] != b.shape()[0])
    throw AutogradError(fmt::format("matmul: expected [m,k] @ [k,n], got {} @ {}", shape_str(a.shape()),
                                    shape_str(b.shape())));
  const std::size_t m = a.shape()[0], k = a.shape()[1], n = b.shape()[1];
  const std::uint32_t id = t.push(Op::matmul, {a, b}, [](Tape<T>& t, Node<T>& nd) {
    const Array<T>& a = t.val(nd.in[0]);
    const Array<T>& b = t.val(nd.in[1]);
    const std::size_t m = a.shape()[0], k = a.shape()[1], n = b.shape()[1];
    T beta;
    if (t.wants_grad(nd.in[0])) {  // ga [m,k] += gy [m,n] @ bᵀ
      Array<T>& ga = t.grad_dest(nd.in[0], beta);
      blas::gemm(false, true, m, k, n, T(1), nd.grad.data(), n, b.data(), n, beta, ga.data(), k);
    }
    if (t.wants_grad(nd.in[1])) {  // gb [k,n] += aᵀ @ gy [m,n]
      Array<T>& gb = t.grad_dest(nd.in[1], beta);
      blas::gemm(true, false, k, n, m, T(1), a.data(), k, nd.grad.data(), n, beta, gb.data(), n);
    }
  });
  Node<T>& nd = t.node(id);
  nd.value.resize(Shape{m, n});
  blas::gemm(false, false, m, n, k, T(1), t.val(a).data(), k, t.val(b).data(), n, T(0), nd.value.data(), n);
  return t.finish(id);
}

namespace {

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
void linear_forward(Tape<T>& t, Node<T>& nd, const Var<T>& x, const Var<T>& W, const Var<T>& b) {
  const std::size_t n = x.shape()[0], in = x.shape()[1], out = W.shape()[1];
  nd.value.resize(Shape{n, out});
  T* y = nd.value.data();
  const T* bias = t.val(b).data();
  for (std::size_t r = 0; r < n; ++r) std::copy(bias, bias + out, y + r * out);
  blas::gemm(false, false, n, out, in, T(1), t.val(x).data(), in, t.val(W).data(), out, T(1), y, out);
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

}  // namespace

// y = x @ W + b, x [n,in], W [in,out], b [out] or [1,out], the bias fused into the gemm.
// gx += gy @ Wᵀ,  gW += xᵀ @ gy,  gb += Σ_rows gy
template <class T>
Var<T> linear(const Var<T>& x, const Var<T>& W, const Var<T>& b) {
  Tape<T>& t = x.tape();
  check_linear("linear", x, W, b);
  const std::uint32_t id = t.push(Op::linear, {x, W, b},
                                  [](Tape<T>& t, Node<T>& nd) { linear_backward(t, nd, nd.grad.data()); });
  linear_forward(t, t.node(id), x, W, b);
  return t.finish(id);
}

// h = elu(x @ W + b): a hidden layer with its activation in one node (nn::MLP records ELU layers
// this way), so the activation is applied in place on the gemm's output instead of in a node of its
// own. With y = x @ W + b and elu'(y) = e^y = h + 1 for y ≤ 0 (h > 0 exactly when y > 0):
// gy = gh·(h > 0 ? 1 : h + 1), then linear's backward on gy.
template <class T>
Var<T> linear_elu(const Var<T>& x, const Var<T>& W, const Var<T>& b) {
  Tape<T>& t = x.tape();
  check_linear("linear_elu", x, W, b);
  const std::uint32_t id = t.push(Op::linear_elu, {x, W, b}, [](Tape<T>& t, Node<T>& nd) {
    // gy goes to a scratch buffer, so the node's own gradient stays dLoss/dh for print() and DOT.
    thread_local std::vector<T> gy;
    const T* h = nd.value.data();
    const T* gh = nd.grad.data();
    const std::size_t size = nd.value.size();
    gy.resize(size);
    for (std::size_t i = 0; i < size; ++i) gy[i] = h[i] > T(0) ? gh[i] : gh[i] * (h[i] + T(1));
    linear_backward(t, nd, gy.data());
  });
  Node<T>& nd = t.node(id);
  linear_forward(t, nd, x, W, b);
  T* y = nd.value.data();
  const std::size_t size = nd.value.size();
  std::size_t i = 0;
#ifdef XTENSOR_USE_XSIMD
  using B = xsimd::batch<T>;
  for (; i + B::size <= size; i += B::size) {
    const B v = B::load_unaligned(y + i);
    xsimd::select(v > B(T(0)), v, xsimd::expm1(v)).store_unaligned(y + i);
  }
#endif
  for (; i < size; ++i) y[i] = y[i] > T(0) ? y[i] : std::expm1(y[i]);
  return t.finish(id);
}

template Var<float> matmul(const Var<float>&, const Var<float>&);
template Var<double> matmul(const Var<double>&, const Var<double>&);
template Var<float> linear(const Var<float>&, const Var<float>&, const Var<float>&);
template Var<double> linear(const Var<double>&, const Var<double>&, const Var<double>&);
template Var<float> linear_elu(const Var<float>&, const Var<float>&, const Var<float>&);
template Var<double> linear_elu(const Var<double>&, const Var<double>&, const Var<double>&);

}  // namespace tz
