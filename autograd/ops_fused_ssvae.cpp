// tapezoo: the SSVAE's fused op (declared in autograd/ops_fused_zoo.hpp with the model zoo's
// others): its first layer on [x, onehot(y)], x W_x taken once for the K copies of each image that
// M2's enumeration makes (the derivation: models/ssvae_fast.cpp). Like the engine's own fused ops
// (autograd/ops_fused.cpp), it computes what a composite of plain ops computes, its comment names
// that composite, and the caller picks one with tz::textbook(); tests/test_fast_paths_models.cpp
// compares the two paths. Its kOps row as a one-line comment, then its forward, then its backward.
#include <algorithm>
#include <cmath>
#include <tuple>
#include <vector>

#ifdef XTENSOR_USE_XSIMD
#include <xsimd/xsimd.hpp>
#endif

#include "autograd/blas.hpp"
#include "autograd/op_helpers.hpp"
#include "autograd/ops_fused_zoo.hpp"

namespace tz {

using detail::record;

namespace {

// h_j = elu(a_j + c_j), j < size, in one pass: xsimd's expm1 over whole batches. The row's tail
// (size mod the lanes: 12 of each 300-wide row with 16 float lanes) goes through one batch more,
// zero-padded on the stack, rather than libm's scalar expm1f, which cost about as much for those
// 4 % of the elements as the batches for the other 96 % (the SSVAE's step in bench/zoo_step, this
// loop timed on its own inside it: 0.47 → 0.32 ms a step; docs/fast-paths.md). Without xsimd,
// libm's for every element.
template <class T>
void add_elu(const T* a, const T* c, T* h, std::size_t size) {
  std::size_t j = 0;
#ifdef XTENSOR_USE_XSIMD
  using B = xsimd::batch<T>;
  auto elu = [](const B& y) { return xsimd::select(y > B(T(0)), y, xsimd::expm1(y)); };
  for (; j + B::size <= size; j += B::size)
    elu(B::load_unaligned(a + j) + B::load_unaligned(c + j)).store_unaligned(h + j);
  if (j < size) {
    alignas(B::arch_type::alignment()) T tail[B::size] = {};  // elu(0) = 0 in the unused lanes
    const std::size_t rest = size - j;
    for (std::size_t k = 0; k < rest; ++k) tail[k] = a[j + k] + c[j + k];
    elu(B::load_aligned(tail)).store_aligned(tail);
    std::copy(tail, tail + rest, h + j);
    return;
  }
#endif
  for (; j < size; ++j) {
    const T y = a[j] + c[j];
    h[j] = y > T(0) ? y : std::expm1(y);
  }
}

// g_j = gh_j·elu'(y_j) from h = elu(y): gh_j where h_j > 0, else gh_j·(h_j + 1) (e^y = h + 1); a
// plain loop, which g++ -O3 vectorises with masks (no expm1 to call).
template <class T>
void elu_grad(const T* gh, const T* h, T* g, std::size_t size) {
  for (std::size_t j = 0; j < size; ++j) g[j] = h[j] > T(0) ? gh[j] : gh[j] * (h[j] + T(1));
}

// dst_j += src_j, j < size.
template <class T>
void add_to(const T* src, T* dst, std::size_t size) {
  for (std::size_t j = 0; j < size; ++j) dst[j] += src[j];
}

template <class T>
void check_onehot_linear(const Var<T>& x, const Var<T>& W, const Var<T>& b, const std::vector<std::size_t>& labels) {
  const bool shapes = x.dim() == 2 && W.dim() == 2 && W.shape()[0] > x.shape()[1] &&
                      ((b.dim() == 1 && b.shape()[0] == W.shape()[1]) ||
                       (b.dim() == 2 && b.shape()[0] == 1 && b.shape()[1] == W.shape()[1]));
  const std::size_t n = x.dim() == 2 ? x.shape()[0] : 0;
  if (!shapes || n == 0 || labels.empty() || labels.size() % n != 0)
    throw AutogradError(fmt::format("onehot_linear_elu: expected x [n,in], W [in+K,out] (K ≥ 1), b [out] and a "
                                    "multiple of n labels; got x {}, W {}, b {} and {} labels",
                                    shape_str(x.shape()), shape_str(W.shape()), shape_str(b.shape()), labels.size()));
  const std::size_t K = W.shape()[0] - x.shape()[1];
  for (std::size_t r = 0; r < labels.size(); ++r)
    if (labels[r] >= K)
      throw AutogradError(fmt::format("onehot_linear_elu: label {} of row {} is outside [0, {}) (W has {} rows for "
                                      "x's {} columns)", labels[r], r, K, W.shape()[0], x.shape()[1]));
}

}  // namespace

// ---- a hidden ELU layer on [x, onehot(y)], x shared by its copies -----------------------------------

// onehot_elu: h_r = elu(x_(r mod n) @ W[:in] + W[in + y_r] + b)   g = gh·(h > 0 ? 1 : h + 1); gx += Σ_copies g @ W[:in]ᵀ, gW[:in] += xᵀ @ Σ_copies g, gW[in + y_r] += g_r, gb += Σ_rows g
// The textbook code it replaces: elu(linear(concat({tile(x, copies), onehot(y)}, 1), W, b)). With
// [x, onehot(y)] W = x W[:in] + W[in + y] (a one-hot row picks one row of W's lower block), and
// row c·n + i of the tiled batch holding x_i, the product x W[:in] is one [n, in] @ [in, out] gemm
// for all copies; each row then adds its label's row of W and the bias. The backward sums the
// copies' gradients before its two products, so those shrink by the same factor. Not bit for bit
// the composite: the gemm sums over in terms, not in + K, in its own order (within the rounding
// bound of linear, tests/test_fast_paths_models.cpp).
template <class T>
Var<T> onehot_linear_elu(const Var<T>& x, const Var<T>& W, const Var<T>& b, const std::vector<std::size_t>& labels) {
  check_onehot_linear(x, W, b, labels);
  return record<T>(Op::onehot_elu, {x, W, b},
      [&labels](Tape<T>& t, Node<T>& nd) {
        const Array<T>& xv = t.val(nd.in[0]);
        const T* w = t.val(nd.in[1]).data();
        const T* bias = t.val(nd.in[2]).data();
        const std::size_t n = xv.shape()[0], in = xv.shape()[1], out = t.val(nd.in[1]).shape()[1];
        const std::size_t rows = labels.size();
        nd.saved.rows = labels;
        nd.saved.copies = rows / n;
        nd.value.resize(Shape{rows, out});
        T* h = nd.value.data();
        // a_i = x_i W[:in] + b for the n distinct rows: the bias copied in, then one gemm (beta = 1),
        // into h itself when there is one copy (the decoder), else into n rows of scratch
        thread_local std::vector<T> scratch;
        if (rows != n) scratch.resize(n * out);
        T* a = rows == n ? h : scratch.data();
        for (std::size_t i = 0; i < n; ++i) std::copy(bias, bias + out, a + i * out);
        blas::gemm(false, false, n, out, in, T(1), xv.data(), in, w, out, T(1), a, out);
        // h_r = elu(a_(r mod n) + W[in + y_r])   (in place when a is h: each element reads only itself)
        for (std::size_t r = 0; r < rows; ++r)
          add_elu(a + (r % n) * out, w + (in + labels[r]) * out, h + r * out, out);
      },
      [](Tape<T>& t, Node<T>& nd) {
        const Array<T>& xv = t.val(nd.in[0]);
        const T* w = t.val(nd.in[1]).data();
        const std::size_t n = xv.shape()[0], in = xv.shape()[1], out = t.val(nd.in[1]).shape()[1];
        const std::size_t rows = nd.saved.rows.size();
        // One pass over the rows: g_r = gh_r·elu'(y_r) (elu'(y) = h + 1 for y ≤ 0), added in row
        // order to gA = Σ_copies g [n, out] (the first copy assigns), to gW[in + y_r] and to gb.
        // The row g_r is in L1 while it is added three times; the [rows, out] g is never stored.
        T beta_W = 0, beta_b = 0;
        T* gW = t.wants_grad(nd.in[1]) ? t.grad_dest(nd.in[1], beta_W).data() : nullptr;
        T* gb = t.wants_grad(nd.in[2]) ? t.grad_dest(nd.in[2], beta_b).data() : nullptr;
        if (gW && beta_W == T(0)) std::fill(gW + in * out, gW + t.val(nd.in[1]).size(), T(0));  // gW[in:], the label rows
        if (gb && beta_b == T(0)) std::fill(gb, gb + out, T(0));
        thread_local std::vector<T> ga, row;
        ga.resize(n * out);
        row.resize(out);
        const T* gh = nd.grad.data();
        const T* h = nd.value.data();
        for (std::size_t r = 0; r < rows; ++r) {
          T* g = r < n ? ga.data() + r * out : row.data();
          elu_grad(gh + r * out, h + r * out, g, out);
          if (r >= n) add_to(g, ga.data() + (r % n) * out, out);
          if (gW) add_to(g, gW + (in + nd.saved.rows[r]) * out, out);
          if (gb) add_to(g, gb, out);
        }
        T beta;
        if (t.wants_grad(nd.in[0])) {  // gx [n,in] += gA @ W[:in]ᵀ
          Array<T>& gx = t.grad_dest(nd.in[0], beta);
          blas::gemm(false, true, n, in, out, T(1), ga.data(), out, w, out, beta, gx.data(), in);
        }
        if (gW)  // gW[:in] += xᵀ @ gA
          blas::gemm(true, false, in, out, n, T(1), xv.data(), in, ga.data(), out, beta_W, gW, out);
      });
}

// ---- for float (training) and double (gradient checks): autograd/op_helpers.hpp -------------------
// Every op of this file, once; a new op's address goes here too.
template <class T>
auto fused_ssvae_ops() {
  return std::tuple{&onehot_linear_elu<T>};
}
template auto fused_ssvae_ops<float>();
template auto fused_ssvae_ops<double>();
static_assert(std::tuple_size_v<decltype(fused_ssvae_ops<float>())> == ops_in_groups({"fused_ssvae"}),
              "ops_fused_ssvae.cpp: fused_ssvae_ops() must list every op of the group 'fused_ssvae' in kOps, once: "
              "add the new op's address to it");

}  // namespace tz
