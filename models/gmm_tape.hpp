// tapezoo: the Gaussian mixture's log-likelihood on the autograd tape, written once for its two
// users: GaussianMixture::fit_gradient (models/gmm_gradient.cpp, float64) and the registered model
// gmm_gd (models/gmm_gd.cpp: trains in float32, is gradient-checked in float64).
//
// Over unconstrained parameters, so that any gradient step gives a valid mixture (models/gmm.hpp):
//   log π = log_softmax(logits)                                   π stays on the simplex
//   P_k = A_k ⊙ M + diag(e^{s_k}),   M_ij = [j > i]               P_k P_kᵀ = Σ_k⁻¹
// P_k is upper triangular with a positive diagonal, hence invertible, so Σ_k⁻¹ = P_k P_kᵀ is
// symmetric positive definite (vᵀ P Pᵀ v = ‖Pᵀ v‖² > 0 for v ≠ 0), and so is Σ_k, for every A_k and
// s_k. The density then needs matmuls only, no triangular solve and no determinant:
//   log N(x | μ_k, Σ_k) = −½ D log 2π + ½ log det Σ_k⁻¹ − ½ (x − μ_k) Σ_k⁻¹ (x − μ_k)ᵀ
//                       = −½ D log 2π + Σ_d s_kd − ½ ‖(x − μ_k) P_k‖²
// since log det Σ_k⁻¹ = 2 log det P_k = 2 Σ_d s_kd (P_k triangular) and (x−μ) P Pᵀ (x−μ)ᵀ = ‖(x−μ) P‖².
// Diagonal and spherical covariances drop A: P_k = diag(e^{s_k}) or e^{s_k} I.
#pragma once

#include <cstddef>
#include <vector>

#include <xtensor/xbuilder.hpp>

#include "autograd/ops.hpp"
#include "distributions/constants.hpp"
#include "models/gmm.hpp"

namespace tz::models::gmm {

// The parameters as recorded on one tape: logits [K], means [K, D], chol_offdiag (A) [K, D, D]
// for full or [D, D] for tied (an empty Var for diag and spherical), log_diag (s) [K, D] for full
// and diag, [D] for tied, [K] for spherical.
template <class T>
struct TapeParameters {
  Var<T> logits, means, chol_offdiag, log_diag;
};

// M: 1 strictly above the diagonal, 0 elsewhere, [D, D]
template <class T>
Array<T> strict_upper_mask(std::size_t D) {
  Array<T> m = xt::zeros<T>({D, D});
  for (std::size_t i = 0; i < D; ++i)
    for (std::size_t j = i + 1; j < D; ++j) m(i, j) = T(1);
  return m;
}

// log p(x_n) = logsumexp_k [log π_k + log N(x_n | μ_k, Σ_k)] for each row of the constant x [N, D],
// as [N].
template <class T>
Var<T> mixture_log_likelihood(const Var<T>& x, const TapeParameters<T>& theta, CovarianceType type) {
  Tape<T>& tape = x.tape();
  const std::size_t D = x.shape()[1], K = theta.means.shape()[0];
  const auto d = static_cast<std::ptrdiff_t>(D);
  const bool triangular = type == CovarianceType::full || type == CovarianceType::tied;
  Var<T> mask, eye;
  if (triangular) {
    mask = tape.constant(strict_upper_mask<T>(D));
    eye = tape.constant(Array<T>(xt::eye<T>(D)));
  }
  // P_k = A_k ⊙ M + diag(e^{s_k}): the row e^{s_k} [1, D] times I puts e^{s_kd} at (d, d)
  auto precision_cholesky = [&](const Var<T>& A, const Var<T>& s) { return A * mask + exp(s) * eye; };
  Var<T> tied_p;
  if (type == CovarianceType::tied) tied_p = precision_cholesky(theta.chol_offdiag, reshape(theta.log_diag, {1, d}));

  std::vector<Var<T>> columns;  // log N(x_n | μ_k, Σ_k) + ½ D log 2π, one [N, 1] column per k
  for (std::size_t k = 0; k < K; ++k) {
    // x_n − μ_k, [N, D]
    const Var<T> centred = x - reshape(narrow(theta.means, 0, k, 1), {1, d});
    Var<T> y, log_det;
    switch (type) {
      case CovarianceType::full: {
        // y = (x − μ_k) P_k and log det P_k = Σ_d s_kd
        const Var<T> s = reshape(narrow(theta.log_diag, 0, k, 1), {1, d});
        y = matmul(centred, precision_cholesky(reshape(narrow(theta.chol_offdiag, 0, k, 1), {d, d}), s));
        log_det = sum(s);
        break;
      }
      case CovarianceType::tied:
        y = matmul(centred, tied_p);
        log_det = sum(theta.log_diag);
        break;
      case CovarianceType::diag: {
        // y = (x − μ_k) ⊙ e^{s_k}, P_k = diag(e^{s_k})
        const Var<T> s = reshape(narrow(theta.log_diag, 0, k, 1), {1, d});
        y = centred * exp(s);
        log_det = sum(s);
        break;
      }
      case CovarianceType::spherical: {
        // y = e^{s_k} (x − μ_k), P_k = e^{s_k} I, log det P_k = D s_k
        const Var<T> s = narrow(theta.log_diag, 0, k, 1);
        y = centred * exp(s);
        log_det = sum(s) * static_cast<double>(D);
        break;
      }
    }
    // log det P_k − ½ ‖(x_n − μ_k) P_k‖²
    columns.push_back(log_det - 0.5 * sum(square(y), 1, /*keepdims=*/true));
  }
  // a_nk = log π_k + log N(x_n | μ_k, Σ_k), [N, K]
  const Var<T> log_pi = reshape(log_softmax(theta.logits, 0), {1, static_cast<std::ptrdiff_t>(K)});
  const Var<T> a = concat(columns, 1) + log_pi - 0.5 * static_cast<double>(D) * kLog2Pi;
  // log p(x_n) = logsumexp_k a_nk, [N]
  return logsumexp(a, 1);
}

}  // namespace tz::models::gmm
