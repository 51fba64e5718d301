// tapezoo: the Gaussian mixture's fused ops of the model zoo (declared in autograd/ops_fused_zoo.hpp;
// the SSVAE's shared first layer, declared there too, is autograd/ops_fused_ssvae.cpp). Like the
// engine's own (autograd/ops_fused.cpp), each computes what a composite of plain ops computes, its
// comment names that composite, and the caller picks one with tz::textbook():
// distributions/distributions.cpp; tests/test_fast_paths_models.cpp compares the two paths.
// Each op: its kOps row as a one-line comment, then its forward, then its backward.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <tuple>
#include <type_traits>
#include <vector>

#ifdef XTENSOR_USE_XSIMD
#include <xsimd/xsimd.hpp>
#endif

#include "autograd/blas.hpp"
#include "autograd/op_helpers.hpp"
#include "autograd/ops_fused_zoo.hpp"
#include "distributions/constants.hpp"  // kLog2Pi

namespace tz {

using detail::record;

// ---- the Gaussian log-density of every (point, component) pair -------------------------------------

namespace {

// log v_i for i < size into out. Float (training): xsimd's log over whole batches, libm's on the
// tail; its error, an ε or two of |log v|, is inside the bound log_normal_pairs states. Double
// (gradient checks): libm's throughout.
template <class T>
void log_into(const T* v, T* out, std::size_t size) {
  std::size_t i = 0;
#ifdef XTENSOR_USE_XSIMD
  if constexpr (std::is_same_v<T, float>) {
    using B = xsimd::batch<float>;
    for (; i + B::size <= size; i += B::size) xsimd::log(B::load_unaligned(v + i)).store_unaligned(out + i);
  }
#endif
  for (; i < size; ++i) out[i] = std::log(v[i]);
}

// The operands of the expanded square, shifted by c_j = mean_k m_kj (see log_normal_pairs):
//   zc [n, 2d] = [z̃², z̃],   mc [K, 2d] = [1/v, −2 m̃/v],   ck [K] = Σ_j (log 2π + log v_kj + m̃_kj²/v_kj)
// with z̃ = z − c and m̃ = m − c.
template <class T>
struct PairTerms {
  std::vector<T> c, zc, mc, ck, logv;
  std::vector<double> sum;
  // Raw row-major pointers: xarray's (k, j) indexing costs a stride product per element.
  void fill(const Array<T>& z_, const Array<T>& m_, const Array<T>& v_) {
    const std::size_t n = z_.shape()[0], d = z_.shape()[1], K = m_.shape()[0];
    const T *z = z_.data(), *m = m_.data(), *v = v_.data();
    // c_j = mean_k m_kj, summed in double row by row
    sum.assign(d, 0.0);
    for (std::size_t k = 0; k < K; ++k)
      for (std::size_t j = 0; j < d; ++j) sum[j] += static_cast<double>(m[k * d + j]);
    c.resize(d);
    for (std::size_t j = 0; j < d; ++j) c[j] = static_cast<T>(sum[j] / static_cast<double>(K));
    zc.resize(n * 2 * d);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < d; ++j) {
        const T zt = z[i * d + j] - c[j];
        zc[i * 2 * d + j] = zt * zt;
        zc[i * 2 * d + d + j] = zt;
      }
    logv.resize(K * d);
    log_into(v, logv.data(), K * d);
    mc.resize(K * 2 * d);
    ck.resize(K);
    for (std::size_t k = 0; k < K; ++k) {
      double s = 0;
      for (std::size_t j = 0; j < d; ++j) {
        const T p = T(1) / v[k * d + j], mt = m[k * d + j] - c[j];
        mc[k * 2 * d + j] = p;
        mc[k * 2 * d + d + j] = T(-2) * mt * p;
        s += kLog2Pi + static_cast<double>(logv[k * d + j]) + static_cast<double>(mt * mt * p);
      }
      ck[k] = static_cast<T>(s);
    }
  }
};

// Given G = ∂loss/∂y for the table y_ik = log N(z_i; m_k, v_k) of the node's inputs z, m, v (p
// filled from them): gz, gm and gv as normal_pairs' row, and s_k = Σ_i G_ik.
template <class T>
void pairs_backward(Tape<T>& t, const Node<T>& nd, const PairTerms<T>& p, const T* G, std::vector<T>& s) {
  const Array<T>& z = t.val(nd.in[0]);
  const Array<T>& m = t.val(nd.in[1]);
  const std::size_t n = z.shape()[0], d = z.shape()[1], K = m.shape()[0];
  thread_local std::vector<T> nc, H, S;
  // s_k = Σ_i G_ik
  s.assign(K, T(0));
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t k = 0; k < K; ++k) s[k] += G[i * K + k];
  T beta;
  if (t.wants_grad(nd.in[0])) {
    // gz_ij = Σ_k G_ik (m̃_kj − z̃_ij)/v_kj = (G @ (m̃/v))_ij − z̃_ij (G @ (1/v))_ij: H = G @ [1/v, m̃/v]
    nc.resize(K * 2 * d);
    for (std::size_t k = 0; k < K; ++k)
      for (std::size_t j = 0; j < d; ++j) {
        nc[k * 2 * d + j] = p.mc[k * 2 * d + j];
        nc[k * 2 * d + d + j] = T(-0.5) * p.mc[k * 2 * d + d + j];
      }
    H.resize(n * 2 * d);
    blas::gemm(false, false, n, 2 * d, K, T(1), G, K, nc.data(), 2 * d, T(0), H.data(), 2 * d);
    T* gz = t.grad_dest(nd.in[0], beta).data();
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < d; ++j) {
        const T g = H[i * 2 * d + d + j] - p.zc[i * 2 * d + d + j] * H[i * 2 * d + j];
        gz[i * d + j] = beta != T(0) ? gz[i * d + j] + g : g;
      }
  }
  if (!t.wants_grad(nd.in[1]) && !t.wants_grad(nd.in[2])) return;
  // S = Gᵀ @ [z̃², z̃] [K, 2d]: Σ_i G_ik z̃_ij² and Σ_i G_ik z̃_ij
  S.resize(K * 2 * d);
  blas::gemm(true, false, K, 2 * d, n, T(1), G, K, p.zc.data(), 2 * d, T(0), S.data(), 2 * d);
  auto at = [&](std::size_t k, std::size_t j, auto&& f) {
    const T pk = p.mc[k * 2 * d + j], mt = m(k, j) - p.c[j];
    return f(pk, mt, S[k * 2 * d + j], S[k * 2 * d + d + j]);
  };
  if (t.wants_grad(nd.in[1])) {  // gm_kj = (1/v_kj) [Σ_i G_ik z̃_ij − m̃_kj s_k]
    T* gm = t.grad_dest(nd.in[1], beta).data();
    for (std::size_t k = 0; k < K; ++k)
      for (std::size_t j = 0; j < d; ++j) {
        const T g = at(k, j, [&](T pk, T mt, T, T sz) { return pk * (sz - mt * s[k]); });
        gm[k * d + j] = beta != T(0) ? gm[k * d + j] + g : g;
      }
  }
  if (t.wants_grad(nd.in[2])) {  // gv_kj = ½ (1/v²) Σ_i G_ik (z̃_ij − m̃_kj)² − ½ (1/v) s_k
    T* gv = t.grad_dest(nd.in[2], beta).data();
    for (std::size_t k = 0; k < K; ++k)
      for (std::size_t j = 0; j < d; ++j) {
        const T g = at(k, j, [&](T pk, T mt, T sz2, T sz) {
          return T(0.5) * pk * (pk * (sz2 - T(2) * mt * sz + mt * mt * s[k]) - s[k]);
        });
        gv[k * d + j] = beta != T(0) ? gv[k * d + j] + g : g;
      }
  }
}

}  // namespace

// normal_pairs: y_ik = −½ Σ_d [log 2π + log v_kd + (z_id − m_kd)²/v_kd]   gz_i += Σ_k gy_ik (m_k − z_i)/v_k, gm_k += Σ_i gy_ik (z_i − m_k)/v_k, gv_k += Σ_i gy_ik ½[(z_i − m_k)²/v_k² − 1/v_k]
// The textbook code it replaces: log_normal(reshape(z, {n,1,d}), reshape(m, {1,K,d}),
// reshape(v, {1,K,d})), which builds [n, K, d] arrays in six nodes and sums them back. Expanding
// the square, Σ_d (z − m)²/v = Σ_d z²/v − 2 Σ_d z m/v + Σ_d m²/v, makes the [n, K] table one gemm
// [z², z] @ [1/v, −2m/v]ᵀ plus a per-component constant, and the backward two more: with G = gy,
// gz = G @ (m/v) − z ⊙ (G @ 1/v) and, from Gᵀ @ [z², z], gm and gv. Precision: the expanded sum
// loses what the direct (z − m)² keeps when |z − m| ≪ |z|: its rounding error is about
// (2d + 3)·ε·Σ_d (|z̃_d| + |m̃_d|)²/v_d, not 3ε·Σ_d (z_d − m_d)²/v_d. To keep |z̃| and |m̃| small,
// z and m are both shifted by the components' mean c = mean_k m_k first (z − m is unchanged, and
// the result does not depend on c, so c needs no gradient). tests/test_fast_paths_models.cpp
// checks the bound in float32 against float64.
template <class T>
Var<T> log_normal_pairs(const Var<T>& z, const Var<T>& m, const Var<T>& v) {
  if (z.dim() != 2 || m.dim() != 2 || v.dim() != 2 || m.shape()[1] != z.shape()[1] || v.shape() != m.shape())
    throw AutogradError(fmt::format("log_normal_pairs: expected z [n,d] and m, v [K,d], got z {}, m {}, v {}",
                                    shape_str(z.shape()), shape_str(m.shape()), shape_str(v.shape())));
  return record<T>(Op::normal_pairs, {z, m, v},
      [](Tape<T>& t, Node<T>& nd) {
        const Array<T>& zv = t.val(nd.in[0]);
        const std::size_t n = zv.shape()[0], d = zv.shape()[1], K = t.val(nd.in[1]).shape()[0];
        thread_local PairTerms<T> p;
        p.fill(zv, t.val(nd.in[1]), t.val(nd.in[2]));
        nd.value.resize(Shape{n, K});
        T* y = nd.value.data();
        // y_ik = −½ ck_k, then y += −½ [z̃², z̃] @ [1/v, −2 m̃/v]ᵀ
        for (std::size_t i = 0; i < n; ++i)
          for (std::size_t k = 0; k < K; ++k) y[i * K + k] = T(-0.5) * p.ck[k];
        blas::gemm(false, true, n, K, 2 * d, T(-0.5), p.zc.data(), 2 * d, p.mc.data(), 2 * d, T(1), y, K);
      },
      [](Tape<T>& t, Node<T>& nd) {
        thread_local PairTerms<T> p;
        thread_local std::vector<T> s;
        p.fill(t.val(nd.in[0]), t.val(nd.in[1]), t.val(nd.in[2]));
        pairs_backward(t, nd, p, nd.grad.data(), s);
      });
}

// ---- the Gaussian mixture's log-density --------------------------------------------------------------

namespace {

// L_ik = log w_k + log N(z_i; m_k, v_k) into L [n, K] (p filled from z, m, v): −½ ck_k + log w_k,
// then the gemm of normal_pairs.
template <class T>
void mixture_table(const PairTerms<T>& p, const T* log_w, std::size_t n, std::size_t d, std::size_t K, T* L) {
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t k = 0; k < K; ++k) L[i * K + k] = T(-0.5) * p.ck[k] + log_w[k];
  blas::gemm(false, true, n, K, 2 * d, T(-0.5), p.zc.data(), 2 * d, p.mc.data(), 2 * d, T(1), L, K);
}

// max_k L_k over one row (K ≥ 1), xsimd's max over whole batches: a scalar max is one long chain
// of dependent maxss, slower than the exponentials that follow it.
template <class T>
T row_max(const T* L, std::size_t K) {
  T mx = L[0];
  std::size_t k = 0;
#ifdef XTENSOR_USE_XSIMD
  using B = xsimd::batch<T>;
  if (K >= B::size) {
    B acc = B::load_unaligned(L);
    for (k = B::size; k + B::size <= K; k += B::size) acc = xsimd::max(acc, B::load_unaligned(L + k));
    alignas(64) T lanes[B::size];
    acc.store_aligned(lanes);
    mx = *std::max_element(lanes, lanes + B::size);
  }
#endif
  for (; k < K; ++k) mx = std::max(mx, L[k]);
  return mx;
}

// Σ_k e^(L_k − mx) over one row, xsimd's exp over whole batches, libm's on the tail.
template <class T>
T sum_exp(const T* L, std::size_t K, T mx) {
  T s = 0;
  std::size_t k = 0;
#ifdef XTENSOR_USE_XSIMD
  using B = xsimd::batch<T>;
  B acc(T(0));
  for (; k + B::size <= K; k += B::size) acc += xsimd::exp(B::load_unaligned(L + k) - B(mx));
  s = xsimd::hadd(acc);
#endif
  for (; k < K; ++k) s += std::exp(L[k] - mx);
  return s;
}

// row_k ← g·e^(row_k − y), xsimd's exp over whole batches, libm's on the tail.
template <class T>
void scaled_exp(T* row, std::size_t K, T y, T g) {
  std::size_t k = 0;
#ifdef XTENSOR_USE_XSIMD
  using B = xsimd::batch<T>;
  for (; k + B::size <= K; k += B::size) (B(g) * xsimd::exp(B::load_unaligned(row + k) - B(y))).store_unaligned(row + k);
#endif
  for (; k < K; ++k) row[k] = g * std::exp(row[k] - y);
}

// The last normal_mix forward's table on this thread, for that node's backward. saved.c holds its stamp,
// unique in the process (0 is none): a backward on another thread never takes this one's table as its own.
std::atomic<std::uint64_t> mixture_stamps{1};
template <class T>
struct MixtureTable {
  double stamp = 0;
  PairTerms<T> p;
  std::vector<T> L;  // L_ik = log w_k + log N(z_i; m_k, v_k), [n, K]
};
template <class T>
MixtureTable<T>& last_mixture_table() {
  thread_local MixtureTable<T> table;
  return table;
}

}  // namespace

// normal_mix: y_i = logsumexp_k [log w_k + log N(z_i; m_k, v_k)] (fused)   r_ik = e^(log w_k + log N(z_i; m_k, v_k) − y_i), then normal_pairs' with gy_ik = gy_i·r_ik; glog_w_k += Σ_i gy_i·r_ik
// The textbook code it replaces: logsumexp(log_normal_pairs' composite + log w, 1), the
// mixture's density log Σ_k w_k N(z; m_k, v_k) (log_normal_mixture). One node: the table L of
// normal_pairs (one gemm), log w added, and a stable log-sum-exp per row, y_i = M_i +
// log Σ_k e^(L_ik − M_i) with M_i = max_k L_ik, exponentials in xsimd batches. Nothing [n, K] is
// kept on the tape. The backward needs L again for the responsibilities r_ik = e^(L_ik − y_i),
// then normal_pairs' products with G = gy·r: it finds L in the thread's copy of the last forward's
// table when that forward was its own (the stamp in saved.c; in a training step the mixture is the last one
// recorded, so it always is), and otherwise takes the table again (one gemm). Either way the same numbers,
// since a node's inputs never change (docs/pitfalls.md#saved-values). An all −inf row gives −inf, no gradient.
template <class T>
Var<T> normal_mixture(const Var<T>& z, const Var<T>& m, const Var<T>& v, const Var<T>& log_w) {
  if (z.dim() != 2 || m.dim() != 2 || v.dim() != 2 || m.shape()[1] != z.shape()[1] || v.shape() != m.shape() ||
      log_w.dim() != 1 || log_w.shape()[0] != m.shape()[0])
    throw AutogradError(fmt::format("normal_mixture: expected z [n,d], m, v [K,d] and log w [K], got z {}, m {}, v {}, "
                                    "log w {}", shape_str(z.shape()), shape_str(m.shape()), shape_str(v.shape()),
                                    shape_str(log_w.shape())));
  return record<T>(Op::normal_mix, {z, m, v, log_w},
      [](Tape<T>& t, Node<T>& nd) {
        const Array<T>& zv = t.val(nd.in[0]);
        const std::size_t n = zv.shape()[0], d = zv.shape()[1], K = t.val(nd.in[1]).shape()[0];
        MixtureTable<T>& tab = last_mixture_table<T>();
        tab.p.fill(zv, t.val(nd.in[1]), t.val(nd.in[2]));
        tab.L.resize(n * K);
        mixture_table(tab.p, t.val(nd.in[3]).data(), n, d, K, tab.L.data());
        tab.stamp = nd.saved.c = static_cast<double>(mixture_stamps.fetch_add(1, std::memory_order_relaxed));
        nd.value.resize(Shape{n});
        for (std::size_t i = 0; i < n; ++i) {
          const T* row = tab.L.data() + i * K;
          const T mx = row_max(row, K);
          nd.value(i) = std::isinf(mx) ? mx : mx + std::log(sum_exp(row, K, mx));
        }
      },
      [](Tape<T>& t, Node<T>& nd) {
        const Array<T>& zv = t.val(nd.in[0]);
        const std::size_t n = zv.shape()[0], d = zv.shape()[1], K = t.val(nd.in[1]).shape()[0];
        MixtureTable<T>& tab = last_mixture_table<T>();
        if (tab.stamp != nd.saved.c) {  // another forward came since this node's: the table again
          tab.p.fill(zv, t.val(nd.in[1]), t.val(nd.in[2]));
          tab.L.resize(n * K);
          mixture_table(tab.p, t.val(nd.in[3]).data(), n, d, K, tab.L.data());
        }
        tab.stamp = 0;  // G takes L's place
        // G_ik = gy_i·r_ik = gy_i·e^(L_ik − y_i), 0 for an all −inf row
        T* G = tab.L.data();
        for (std::size_t i = 0; i < n; ++i) {
          const T y = nd.value(i), gy = nd.grad(i);
          T* row = G + i * K;
          if (std::isinf(y)) std::fill(row, row + K, T(0));
          else scaled_exp(row, K, y, gy);
        }
        thread_local std::vector<T> s;
        pairs_backward(t, nd, tab.p, G, s);
        detail::accumulate_loop(t, nd.in[3], [&](std::size_t k) { return s[k]; });  // glog_w_k += Σ_i G_ik
      });
}

// ---- for float (training) and double (gradient checks): autograd/op_helpers.hpp -------------------
// Every op of this file, once; a new op's address goes here too.
template <class T>
auto fused_zoo_ops() {
  return std::tuple{&log_normal_pairs<T>, &normal_mixture<T>};
}
template auto fused_zoo_ops<float>();
template auto fused_zoo_ops<double>();
static_assert(std::tuple_size_v<decltype(fused_zoo_ops<float>())> == ops_in_groups({"fused_zoo"}),
              "ops_fused_zoo.cpp: fused_zoo_ops() must list every op of the group 'fused_zoo' in kOps, once: add "
              "the new op's address to it");

}  // namespace tz
