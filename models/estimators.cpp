// tapezoo: gradient SNR, active units and the KL of each unit (the formulas are in models/estimators.hpp).
#include "models/estimators.hpp"

#include "autograd/parallel.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

namespace tz::models {

double median_of(std::vector<double> v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  const std::size_t h = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(h), v.end());
  if (v.size() % 2 == 1) return v[h];
  const double hi = v[h];
  return (hi + *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(h))) / 2;
}

template <class T>
GradientSNR gradient_snr(VAE<T>& vae, const Array<T>& x, std::size_t k, Estimator estimator, std::size_t repeats,
                         Rng& rng) {
  if (repeats < 2) throw std::invalid_argument(fmt::format("gradient_snr: needs at least 2 repeats, got {}", repeats));
  const std::vector<Param<T>*> params = vae.params().all();
  std::size_t total = 0;
  for (const Param<T>* p : params) total += p->value.size();
  // Welford's running mean and sum of squared deviations, in double (docs/pitfalls.md#double-accumulators)
  std::vector<double> avg(total, 0.0), m2(total, 0.0);
  const std::size_t n = x.shape()[0], z = vae.options().z;
  Tape<T> tape;
  vae.params().zero_grad();
  for (std::size_t r = 0; r < repeats; ++r) {
    tape.clear();
    // g^(r) = ∇ mean_x(−L_k(x)) on a fresh ε^(r) [k·n, z]
    Var<T> eps = tape.constant(rng.normal<T>({k * n, z}), "ε");
    tape.backward(tz::mean(vae.negative_iwae_bound(tape, tape.constant(x), k, eps, estimator)));
    std::size_t j = 0;
    for (Param<T>* p : params) {
      for (T g : p->grad) {
        // δ = g − ĝ_{r−1};  ĝ_r = ĝ_{r−1} + δ / r;  M2 += δ · (g − ĝ_r)
        const double gd = static_cast<double>(g), delta = gd - avg[j];
        avg[j] += delta / static_cast<double>(r + 1);
        m2[j] += delta * (gd - avg[j]);
        ++j;
      }
      p->zero_grad();
    }
  }
  GradientSNR out;
  std::vector<double> enc, dec;
  std::size_t j = 0;
  for (const Param<T>* p : params) {
    const bool is_enc = p->name.rfind("enc", 0) == 0;
    for (std::size_t e = 0; e < p->value.size(); ++e, ++j) {
      // SNR_j = |ĝ_j| / ŝ_j, ŝ_j² = M2 / (R − 1); an element whose gradient is always 0 has no SNR
      const double sd = std::sqrt(m2[j] / static_cast<double>(repeats - 1));
      const double snr = sd > 0 ? std::abs(avg[j]) / sd : (avg[j] == 0 ? std::nan("") : INFINITY);
      out.snr.push_back(snr);
      out.encoder.push_back(is_enc);
      if (!std::isnan(snr)) (is_enc ? enc : dec).push_back(snr);
    }
  }
  out.median_encoder = median_of(enc);
  out.median_decoder = median_of(dec);
  return out;
}

double kl_to_mixture_marginal(double m, double v, const std::vector<double>& mu, const std::vector<double>& var) {
  if (mu.empty() || mu.size() != var.size())
    throw std::invalid_argument(fmt::format("kl_to_mixture_marginal: {} means and {} variances (need K ≥ 1 of each)",
                                            mu.size(), var.size()));
  if (!(v > 0) || std::any_of(var.begin(), var.end(), [](double s2) { return !(s2 > 0); }))
    throw std::invalid_argument(fmt::format("kl_to_mixture_marginal: every variance must be positive (v = {})", v));
  constexpr double kHalfLog2Pi = 0.91893853320467274178;  // ½ log 2π
  constexpr double kU = 8;
  const double s = std::sqrt(v), log_k = std::log(static_cast<double>(mu.size()));
  // the step h = min(1/16, r/8), r = min_k σ_k / √v: log p(t) bends on the scale of the narrowest
  // component, and h in units of q's sd must resolve it (at most 8,193 points: h ≥ 1/512)
  double r = INFINITY;
  for (double vk : var) r = std::min(r, std::sqrt(vk) / s);
  const double h = std::max(1.0 / 512, std::min(1.0 / 16, r / 8));
  // a_k = c_k − ½ (t − μ_k)² / σ²_k,  c_k = −½ log 2π − ½ log σ²_k
  std::vector<double> a(mu.size()), c(mu.size());
  for (std::size_t k = 0; k < mu.size(); ++k) c[k] = -kHalfLog2Pi - 0.5 * std::log(var[k]);
  double e_log_p = 0, weight = 0;
  const long steps = std::lround(2 * kU / h);
  for (long i = 0; i <= steps; ++i) {
    const double u = -kU + static_cast<double>(i) * (2 * kU / static_cast<double>(steps)), t = m + s * u;
    // log p(t) = log Σ_k e^{a_k} − log K,  a_k = log N(t; μ_k, σ²_k)   (log-sum-exp: shift by the largest a_k)
    double top = -INFINITY;
    for (std::size_t k = 0; k < mu.size(); ++k) {
      const double d = t - mu[k];
      a[k] = c[k] - 0.5 * d * d / var[k];
      top = std::max(top, a[k]);
    }
    double sum = 0;
    for (double ak : a) sum += std::exp(ak - top);
    // the trapezoid's weight φ(u) (h cancels below; the end points' φ(±8) / 2 ≈ 5e-15 is not halved)
    const double w = std::exp(-0.5 * u * u - kHalfLog2Pi);
    e_log_p += w * (top + std::log(sum) - log_k);
    weight += w;
  }
  // −H(q) = −½ log(2πe v);  divided by Σ w (= 1/h up to 1e-15) so that a constant log p is integrated exactly
  return -0.5 * std::log(2 * M_PI * M_E * v) - e_log_p / weight;
}

UnitReport unit_report(const GaussianCode& code, double threshold) {
  UnitReport u;
  u.activity = unit_activities(code.m);
  const std::size_t n = code.m.shape()[0], d = code.m.shape()[1];
  u.mixture_prior = code.prior_m.dimension() != 0;  // a default xarray is a 0-D scalar: no prior given
  if (u.mixture_prior && (code.prior_m.dimension() != 2 || code.prior_m.shape()[1] != d ||
                          code.prior_v.shape() != code.prior_m.shape()))
    throw std::invalid_argument(fmt::format("unit_report: the prior's means {} and variances {} must be [K, {}]",
                                            shape_str(code.prior_m.shape()), shape_str(code.prior_v.shape()), d));
  u.kl.assign(d, 0.0);
  // unit j's marginal prior p(z_j) = (1/K) Σ_k N(μ_kj, σ²_kj), as lists (empty: N(0, 1))
  const std::size_t K = u.mixture_prior ? code.prior_m.shape()[0] : 0;
  std::vector<std::vector<double>> mu(d, std::vector<double>(K)), var(d, std::vector<double>(K));
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t j = 0; j < d; ++j) mu[j][k] = code.prior_m(k, j), var[j][k] = code.prior_v(k, j);
  // one unit per chunk: each chunk writes only its own u.kl[j], so every thread count gives the same sums
  parallel_for(d, [&](std::size_t j) {
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double m = code.m(i, j), v = code.v(i, j);
      // N(0, 1): KL(N(m, v) ‖ N(0, 1)) = ½ (v + m² − 1 − log v), unit j of row i
      sum += K == 0 ? 0.5 * (v + m * m - 1 - std::log(v)) : kl_to_mixture_marginal(m, v, mu[j], var[j]);
    }
    u.kl[j] = sum / static_cast<double>(std::max<std::size_t>(n, 1));
  });
  for (double a : u.activity) u.active += a > threshold;
  return u;
}

template GradientSNR gradient_snr(VAE<float>&, const Array<float>&, std::size_t, Estimator, std::size_t, Rng&);
template GradientSNR gradient_snr(VAE<double>&, const Array<double>&, std::size_t, Estimator, std::size_t, Rng&);

}  // namespace tz::models
