// tapezoo: diagnostics of the VAE's gradient estimators and of its code: the signal-to-noise ratio
// of the gradient (Rainforth et al. 2018), active units (Burda et al. 2016) and the KL of each unit.
// The estimators themselves (standard, stl, dreg) are the VAE's: models/vae.hpp, models/vae.cpp.
//
// Gradient SNR (Rainforth, Kosiorek, Le, Maddison, Igl, Wood & Teh 2018, "Tighter Variational Bounds are
// Not Necessarily Better"): for one fixed batch x and R draws of the noise ε^(r),
//   g^(r) = ∇ of the batch mean of −L_k(x) by the estimator, on ε^(r)
//   SNR_j = |ĝ_j| / ŝ_j,   ĝ_j = (1/R) Σ_r g_j^(r),   ŝ_j² = (1/(R − 1)) Σ_r (g_j^(r) − ĝ_j)²
// for every scalar parameter j; the encoder's (φ, "enc.*") and the decoder's (θ, "dec.*") medians
// summarise them. Their result: under the standard estimator the encoder's SNR falls like 1/√k
// while the decoder's rises like √k; DReG's encoder SNR rises with k instead (Tucker et al. 2019).
//
//   GradientSNR s = gradient_snr(vae, x, 100, Estimator::dreg, 100, rng);   // s.median_encoder
//
// Active units (Burda et al. 2016, §5.2): unit j is active when A_j = Cov_x(E_q[z_j|x]) > 0.01; and
// the KL of unit j, KL_j = E_x[KL(q(z_j|x) ‖ p(z_j))], against the prior's marginal on unit j.
// - p(z) = N(0, I): KL_j = E_x[½ (v_j + m_j² − 1 − log v_j)], and Σ_j KL_j is the bound's KL.
// - p(z) = (1/K) Σ_k N(z; μ_k, diag σ_k²) (GMVAE, VampPrior): the marginal p(z_j) = (1/K) Σ_k N(z_j; μ_kj, σ²_kj)
//   is a 1-D mixture, and KL(q_j ‖ p_j) = −½ log(2πe v_j) − E_q[log p_j(z_j)] has no closed form: the
//   expectation is a quadrature (kl_to_mixture_marginal). A mixture does not factorise over units, so
//   here Σ_j KL_j is not the bound's KL(q(z|x) ‖ p(z)); each KL_j still says how far unit j's code is
//   from what the prior alone would give.
// A unit with KL_j ≈ 0 has q(z_j|x) = p(z_j) for every x: it has collapsed.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "models/model.hpp"
#include "models/vae.hpp"

namespace tz::models {

struct GradientSNR {
  std::vector<double> snr;      // SNR_j of every scalar parameter, in params().all() order, element by element
  std::vector<bool> encoder;    // whether parameter element j belongs to the encoder ("enc.*")
  double median_encoder = 0;    // median SNR_j over the encoder's elements
  double median_decoder = 0;    // and over the decoder's
};

// SNR_j of the gradient of the batch mean of −L_k(x) by `estimator`, over `repeats` (≥ 2) draws of ε
// from rng for the fixed rows x. The model's parameter gradients are left at zero.
template <class T>
GradientSNR gradient_snr(VAE<T>& vae, const Array<T>& x, std::size_t k, Estimator estimator, std::size_t repeats,
                         Rng& rng);

// The median of a list (the mean of the two middle values for an even count); NaN for none.
double median_of(std::vector<double> v);

struct UnitReport {
  std::vector<double> activity;  // A_j = Cov_x(E_q[z_j|x]) over the rows
  std::vector<double> kl;        // KL_j = mean over the rows of KL(N(m_j, v_j) ‖ p(z_j))
  std::size_t active = 0;        // #{j : A_j > threshold}
  bool mixture_prior = false;    // whether p(z) was code's mixture (else N(0, I))
};
// The units of q(z|x) = N(m, diag v) of the rows of code, with Burda et al.'s threshold 1e-2.
UnitReport unit_report(const GaussianCode& code, double threshold = 1e-2);

// KL(N(m, v) ‖ (1/K) Σ_k N(μ_k, σ²_k)) in one dimension: −½ log(2πe v) − E[log p(t)], t ~ N(m, v), by the
// trapezoid rule on t = m + √v u, u ∈ [−8, 8] in steps h = min(1/16, r/8), r = min_k σ_k / √v (at least
// 1/512). The rule converges geometrically for a Gaussian weight times a smooth function: against a
// 4-million-point rule its error is below 1e-9 nats for r ≥ 0.25 and 2e-8 at r = 0.1.
double kl_to_mixture_marginal(double m, double v, const std::vector<double>& mu, const std::vector<double>& var);

}  // namespace tz::models
