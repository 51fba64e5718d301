// tapezoo: softplus(l) = max(l, 0) + log1p(e^−|l|) in xsimd batches and as a scalar, for the fused
// ops that evaluate it in their own loops: log_bernoulli (autograd/ops_fused.cpp). The stable form only, never log(1 + e^l)
// (docs/pitfalls.md#softplus). Both files are compiled with the project's one SIMD setting
// (docs/pitfalls.md#simd-flags); without XTENSOR_USE_XSIMD only the scalar form exists.
#pragma once

#include <algorithm>
#include <cmath>

#ifdef XTENSOR_USE_XSIMD
#include <xsimd/xsimd.hpp>
#endif

namespace tz::detail {

#ifdef XTENSOR_USE_XSIMD
// log(1 + e) for e = e^−|l| in (0, 1], float: 2·atanh(s) with s = e / (2 + e) in (0, 1/3],
//   log(1 + e) = 2s·(1 + s²/3 + s⁴/5 + … + s¹²/13) + R,  |R| < 2s·(s²)⁷/15·(9/8) ≤ 2s·1.6e−8,
// a quarter of float rounding (ε/2 = 6e−8): one division and six FMAs where xsimd's general
// log1p (any argument, special cases) costs three times as many operations, and the forward is
// mostly this log (bench/zoo_step: the IWAE's [500, 784] logits). Relative error a few ε
// (the division, Horner's rounding); double keeps xsimd's log1p (the series would need 17 terms).
inline xsimd::batch<float> log1p_unit(const xsimd::batch<float>& e) {
  using B = xsimd::batch<float>;
  const B s = e / (B(2.0f) + e), t = s * s;
  B p(1.0f / 13);
  for (const float c : {1.0f / 11, 1.0f / 9, 1.0f / 7, 1.0f / 5, 1.0f / 3, 1.0f}) p = xsimd::fma(p, t, B(c));
  return (s + s) * p;
}
inline xsimd::batch<double> log1p_unit(const xsimd::batch<double>& e) { return xsimd::log1p(e); }

template <class T>
xsimd::batch<T> softplus_simd(const xsimd::batch<T>& l) {
  using B = xsimd::batch<T>;
  return xsimd::max(l, B(T(0))) + log1p_unit(xsimd::exp(-xsimd::abs(l)));
}
#endif

template <class T>
T softplus_scalar(T l) {
  return std::max(l, T(0)) + std::log1p(std::exp(-std::abs(l)));
}

}  // namespace tz::detail
