// tapezoo: gradient SNR, active units and the KL of each unit (the formulas are in models/estimators.hpp).
#include "models/estimators.hpp"

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

UnitReport unit_report(const GaussianCode& code, double threshold) {
  UnitReport u;
  u.activity = unit_activities(code.m);
  const std::size_t n = code.m.shape()[0], d = code.m.shape()[1];
  u.kl.assign(d, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < d; ++j) {
      const double m = code.m(i, j), v = code.v(i, j);
      // KL(N(m, v) ‖ N(0, 1)) = ½ (v + m² − 1 − log v), unit j of row i
      u.kl[j] += 0.5 * (v + m * m - 1 - std::log(v));
    }
  for (double& a : u.kl) a /= static_cast<double>(std::max<std::size_t>(n, 1));
  for (double a : u.activity) u.active += a > threshold;
  return u;
}

template GradientSNR gradient_snr(VAE<float>&, const Array<float>&, std::size_t, Estimator, std::size_t, Rng&);
template GradientSNR gradient_snr(VAE<double>&, const Array<double>&, std::size_t, Estimator, std::size_t, Rng&);

}  // namespace tz::models
