// tapezoo: the fused ops of every VAE's Gaussian latent (declared in autograd/ops_fused_gaussian.hpp).
// Like the engine's own (autograd/ops_fused.cpp), each computes what a composite of the table's
// plain ops computes, its comment names that composite, and its caller chooses between the two with
// tz::textbook(): sample_gaussian and kl_std_normal (distributions/distributions.cpp), which the VAE,
// the FSVAE, the SSVAE and the GMVAE call in every step. tests/test_fast_paths_gaussian.cpp compares
// the two paths. Each op: its kOps row as a one-line comment, then its forward, then its backward.
//
// Same bits as the composite. Each op performs the composite's operations, in its order, each
// rounded to T as the composite's nodes round them into their arrays: the square root and the
// products and sums are exactly rounded in a batch as in a scalar, log is xsimd's on whole batches
// and libm's on the tail of the flat array exactly where xtensor's assignment of xt::log takes them,
// and the row sums add in double, left to right, as sum_axis adds. What would break it is g++
// contracting a product and a following sum into one fused multiply-add (one rounding instead of
// two): its default for C++ (-ffp-contract=fast) wherever the CPU has FMA, as -march=native gives
// (docs/pitfalls.md#fma-contraction).
// rounded() below keeps every product apart. The backward adds its contributions to an input's
// gradient in one term where the composite's nodes add two or three (v gets sub's and log's): the
// same bits when the gradient starts at this node, as in a VAE's graph; within a rounding otherwise.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <tuple>
#include <type_traits>

#ifdef XTENSOR_USE_XSIMD
#include <xsimd/xsimd.hpp>
#endif

#include "autograd/op_helpers.hpp"
#include "autograd/ops_fused_gaussian.hpp"

namespace tz {

using detail::record;

namespace {

// x as computed, rounded to its type: g++ cannot see through the empty asm, so it cannot fuse the
// product x into the sum that reads it (see the top of the file). No instruction is emitted. The
// constraint names the CPU's vector registers: "v" on x86-64, "w" on AArch64 (not built here).
template <class V>
inline V rounded(V x) {
#if defined(__GNUC__) && defined(__x86_64__)
  if constexpr (std::is_floating_point_v<V>) asm("" : "+v"(x));
  else asm("" : "+v"(x.data));  // an xsimd batch: its register
#elif defined(__GNUC__) && defined(__aarch64__)
  if constexpr (std::is_floating_point_v<V>) asm("" : "+w"(x));
  else asm("" : "+w"(x.data));
#endif
  return x;
}

// A gradient to write: p[i] = x (the first contribution, beta = 0) or p[i] += x; p null when the
// input wants none.
template <class T>
struct Dest {
  T* p = nullptr;
  bool add = false;
};

template <class T>
Dest<T> dest(Tape<T>& t, std::uint32_t id) {
  if (!t.wants_grad(id)) return {};
  T beta;
  T* p = t.grad_dest(id, beta).data();
  return {p, beta != T(0)};
}

// Writes x (a batch, or one T) into d at element i.
template <class T, class V>
void put(const Dest<T>& d, std::size_t i, const V& x) {
  if constexpr (std::is_same_v<V, T>) {
    d.p[i] = d.add ? d.p[i] + x : x;
  } else {
    (d.add ? V::load_unaligned(d.p + i) + x : x).store_unaligned(d.p + i);
  }
}

// z_i = m_i + (√v_i · ε_i), the product rounded before the sum as mul's node rounds it, i < size.
template <class T>
void shift_scale(const T* m, const T* v, const T* e, T* z, std::size_t size) {
  std::size_t i = 0;
#ifdef XTENSOR_USE_XSIMD
  using B = xsimd::batch<T>;
  for (; i + B::size <= size; i += B::size) {
    const B p = rounded(xsimd::sqrt(B::load_unaligned(v + i)) * B::load_unaligned(e + i));
    (B::load_unaligned(m + i) + p).store_unaligned(z + i);
  }
#endif
  for (; i < size; ++i) z[i] = m[i] + rounded(std::sqrt(v[i]) * e[i]);
}

// gm_i (+)= gy_i; gv_i (+)= (gy_i·ε_i) / (2√v_i), as mul's and then sqrt's backward compute it;
// gε_i (+)= gy_i·√v_i. i < size; a null destination is skipped.
template <class T>
void shift_scale_backward(const T* gy, const T* v, const T* e, const Dest<T>& gm, const Dest<T>& gv,
                          const Dest<T>& ge, std::size_t size) {
  std::size_t i = 0;
#ifdef XTENSOR_USE_XSIMD
  using B = xsimd::batch<T>;
  for (; i + B::size <= size; i += B::size) {
    const B g = B::load_unaligned(gy + i), s = xsimd::sqrt(B::load_unaligned(v + i));
    if (gm.p) put(gm, i, g);
    if (gv.p) put(gv, i, rounded(g * B::load_unaligned(e + i)) / (B(T(2)) * s));
    if (ge.p) put(ge, i, rounded(g * s));
  }
#endif
  for (; i < size; ++i) {
    const T g = gy[i], s = std::sqrt(v[i]);
    if (gm.p) put(gm, i, g);
    if (gv.p) put(gv, i, rounded(g * e[i]) / (T(2) * s));
    if (ge.p) put(ge, i, rounded(g * s));
  }
}

// y_r = ½·(Σ_j t_rj − d), t = (v − log v) + m², for rows r < rows of d elements. The terms are
// taken over the flat array in batches from element 0 and a scalar tail, as xtensor assigns
// xt::log (so each log v is the one the composite's log node computes), and each row's terms are
// added in double from j = 0, as sum_axis adds them (docs/pitfalls.md#double-accumulators).
template <class T>
void kl_rows(const T* m, const T* v, T* y, std::size_t rows, std::size_t d) {
  if (d == 0) {  // an empty sum: ½·(0 − 0)
    std::fill(y, y + rows, T(0));
    return;
  }
  const T minus_d = static_cast<T>(-static_cast<double>(d));
  double s = 0;
  std::size_t r = 0, j = 0;
  auto take = [&](T t) {  // the next term of row r
    s += t;
    if (++j < d) return;
    y[r++] = T(0.5) * (static_cast<T>(s) + minus_d);
    s = 0;
    j = 0;
  };
  const std::size_t size = rows * d;
  std::size_t i = 0;
#ifdef XTENSOR_USE_XSIMD
  using B = xsimd::batch<T>;
  alignas(B::arch_type::alignment()) T t[B::size];
  for (; i + B::size <= size; i += B::size) {
    const B vb = B::load_unaligned(v + i), mb = B::load_unaligned(m + i);
    ((vb - rounded(xsimd::log(vb))) + rounded(mb * mb)).store_aligned(t);
    for (const T term : t) take(term);
  }
#endif
  for (; i < size; ++i) take((v[i] - rounded(std::log(v[i]))) + rounded(m[i] * m[i]));
}

// Row r, g = ½·gy_r: gm_rj (+)= (2g)·m_rj, as square's backward writes it (2g = gy_r unless ½·gy_r
// is subnormal); gv_rj (+)= g − g/v_rj, sub's g and log's −g/v_rj in one term: ½·gy_r·(1 − 1/v_rj).
template <class T>
void kl_rows_backward(const T* gy, const T* m, const T* v, const Dest<T>& gm, const Dest<T>& gv, std::size_t rows,
                      std::size_t d) {
  for (std::size_t r = 0; r < rows; ++r) {
    const T g = T(0.5) * gy[r], g2 = T(2) * g;
    const std::size_t at = r * d;
    std::size_t j = 0;
#ifdef XTENSOR_USE_XSIMD
    using B = xsimd::batch<T>;
    const B gb(g), g2b(g2);
    for (; j + B::size <= d; j += B::size) {
      if (gm.p) put(gm, at + j, rounded(g2b * B::load_unaligned(m + at + j)));
      if (gv.p) put(gv, at + j, gb - gb / B::load_unaligned(v + at + j));
    }
#endif
    for (; j < d; ++j) {
      if (gm.p) put(gm, at + j, rounded(g2 * m[at + j]));
      if (gv.p) put(gv, at + j, g - g / v[at + j]);
    }
  }
}

}  // namespace

// reparam: y = m + √v ⊙ ε (fused)   gm += gy, gv += gy·ε / (2√v), gε += gy·√v
// The textbook code it replaces: m + sqrt(v) * eps (sample_gaussian), three nodes and three arrays
// of z's size; here one pass each way, √v taken again in the backward instead of kept. The same
// bits as the composite, values and gradients (see the top of the file).
template <class T>
Var<T> reparameterize(const Var<T>& m, const Var<T>& v, const Var<T>& eps) {
  if (v.shape() != m.shape() || eps.shape() != m.shape())
    throw AutogradError(fmt::format("reparameterize: m, v and ε must have one shape, got m {}, v {} and ε {}",
                                    shape_str(m.shape()), shape_str(v.shape()), shape_str(eps.shape())));
  return record<T>(Op::reparam, {m, v, eps},
      [](Tape<T>& t, Node<T>& n) {
        const Array<T>& mv = t.val(n.in[0]);
        n.value.resize(mv.shape());
        shift_scale(mv.data(), t.val(n.in[1]).data(), t.val(n.in[2]).data(), n.value.data(), mv.size());
      },
      [](Tape<T>& t, Node<T>& n) {
        const Dest<T> gm = dest(t, n.in[0]), gv = dest(t, n.in[1]), ge = dest(t, n.in[2]);
        shift_scale_backward(n.grad.data(), t.val(n.in[1]).data(), t.val(n.in[2]).data(), gm, gv, ge, n.grad.size());
      });
}

// kl_std_normal: y = ½ [Σ_last (v − log v + m²) − d] (fused)   gm += gy·m, gv += ½·gy·(1 − 1/v)
// KL(N(m, diag v) ‖ N(0, I)) of each row, d its length. The textbook code it replaces:
// 0.5 * (sum(v - log(v) + square(m), -1) - d) (kl_std_normal), seven nodes, four arrays of m's size;
// here one pass each way. The same bits as the composite (see the top of the file).
template <class T>
Var<T> kl_std_normal_fused(const Var<T>& m, const Var<T>& v) {
  if (m.dim() == 0 || v.shape() != m.shape())
    throw AutogradError(fmt::format("kl_std_normal: m and v must have one shape [..., d], got m {} and v {}",
                                    shape_str(m.shape()), shape_str(v.shape())));
  return record<T>(Op::kl_std_normal, {m, v},
      [](Tape<T>& t, Node<T>& n) {
        const Array<T>& mv = t.val(n.in[0]);
        const std::size_t d = mv.shape().back();
        n.value.resize(Shape(mv.shape().begin(), mv.shape().end() - 1));
        kl_rows(mv.data(), t.val(n.in[1]).data(), n.value.data(), n.value.size(), d);
      },
      [](Tape<T>& t, Node<T>& n) {
        const Array<T>& mv = t.val(n.in[0]);
        const Dest<T> gm = dest(t, n.in[0]), gv = dest(t, n.in[1]);
        kl_rows_backward(n.grad.data(), mv.data(), t.val(n.in[1]).data(), gm, gv, n.grad.size(), mv.shape().back());
      });
}

// ---- for float (training) and double (gradient checks): autograd/op_helpers.hpp -------------------
// Every op of this file, once; a new op's address goes here too.
template <class T>
auto fused_gaussian_ops() {
  return std::tuple{&reparameterize<T>, &kl_std_normal_fused<T>};
}
template auto fused_gaussian_ops<float>();
template auto fused_gaussian_ops<double>();
static_assert(std::tuple_size_v<decltype(fused_gaussian_ops<float>())> == ops_in_groups({"fused_gaussian"}),
              "ops_fused_gaussian.cpp: fused_gaussian_ops() must list every op of the group 'fused_gaussian' in kOps, "
              "once: add the new op's address to it");

}  // namespace tz
