// tapezoo coursework: plain-double formulas for the checks of parts 6–9 (coursework/checks/), one
// row of a [n, d] array at a time. They are the references, written as the formulas read.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "coursework/checks/checks.hpp"
#include "distributions/constants.hpp"
#include "nn/nn.hpp"

namespace tz::coursework {

// Every parameter of the model to a fixed number, 0.4·sin(0.7·i) for its i-th scalar: no draw.
inline void fix_parameters(nn::ParamSet<double>& params) {
  std::size_t i = 0;
  for (Param<double>* p : params.all())
    for (double& v : p->value) v = 0.4 * std::sin(0.7 * static_cast<double>(++i));
}

// z[i·n + j] = m_j + √v_j ⊙ ε[i·n + j] for k samples of each of the n rows.
inline A reparameterize(const A& m, const A& v, const A& eps, std::size_t k) {
  const std::size_t n = m.shape()[0], d = m.shape()[1];
  A z = xt::zeros<double>({k * n, d});
  for (std::size_t r = 0; r < k * n; ++r)
    for (std::size_t c = 0; c < d; ++c) z(r, c) = m(r % n, c) + std::sqrt(v(r % n, c)) * eps(r, c);
  return z;
}

// Σ_j [x_j l_j − softplus(l_j)], softplus(l) = max(l, 0) + log1p(e^−|l|)
inline double log_bernoulli_row(const A& x, std::size_t xi, const A& l, std::size_t li) {
  double s = 0;
  for (std::size_t c = 0; c < x.shape()[1]; ++c) {
    const double lc = l(li, c);
    s += x(xi, c) * lc - (std::max(lc, 0.0) + std::log1p(std::exp(-std::fabs(lc))));
  }
  return s;
}

// log N(z_r; m_mi, diag v_mi) = −½ Σ_j [log 2π + log v_j + (z_j − m_j)²/v_j]
inline double log_normal_row(const A& z, std::size_t r, const A& m, const A& v, std::size_t mi) {
  double s = 0;
  for (std::size_t c = 0; c < z.shape()[1]; ++c) {
    const double d = z(r, c) - m(mi, c);
    s += -0.5 * (kLog2Pi + std::log(v(mi, c)) + d * d / v(mi, c));
  }
  return s;
}

// log N(z_r; 0, I) = −½ Σ_j (z_j² + log 2π)
inline double log_std_normal_row(const A& z, std::size_t r) {
  double s = 0;
  for (std::size_t c = 0; c < z.shape()[1]; ++c) s += -0.5 * (z(r, c) * z(r, c) + kLog2Pi);
  return s;
}

// KL(N(m_i, diag v_i) ‖ N(0, I)) = ½ Σ_j (v_j + m_j² − 1 − log v_j)
inline double kl_std_row(const A& m, const A& v, std::size_t i) {
  double s = 0;
  for (std::size_t c = 0; c < m.shape()[1]; ++c) s += 0.5 * (v(i, c) + m(i, c) * m(i, c) - 1 - std::log(v(i, c)));
  return s;
}

// KL(N(qm_i, qv_i) ‖ N(pm_i, pv_i)) = ½ Σ_j [log pv/qv + qv/pv + (qm − pm)²/pv − 1]
inline double kl_normal_row(const A& qm, const A& qv, const A& pm, const A& pv, std::size_t i) {
  double s = 0;
  for (std::size_t c = 0; c < qm.shape()[1]; ++c) {
    const double d = qm(i, c) - pm(i, c);
    s += 0.5 * (std::log(pv(i, c) / qv(i, c)) + qv(i, c) / pv(i, c) + d * d / pv(i, c) - 1);
  }
  return s;
}

// log (1/k) Σ_i e^{w_i} = max + log((1/k) Σ_i e^{w_i − max})
inline double log_mean_exp_values(const std::vector<double>& w) {
  const double mx = *std::max_element(w.begin(), w.end());
  double s = 0;
  for (double x : w) s += std::exp(x - mx);
  return mx + std::log(s / static_cast<double>(w.size()));
}

inline std::vector<double> concat_values(const std::vector<std::vector<double>>& parts) {
  std::vector<double> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// Parts 8 and 9: the SSVAE's two bounds and the FSVAE's (coursework/checks/checks_supervised.cpp).
std::vector<Check> supervised_checks(const A& x, const A& x2, const A& eps, const A& eps2, const A& eps3,
                                     const A& eps3b, const std::vector<int>& labels);

}  // namespace tz::coursework
