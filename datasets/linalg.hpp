// tapezoo: the one Cholesky factorisation of the project, and the variants built on it.
//
// For a symmetric positive definite A (D×D, row-major), the Cholesky factor is the lower triangular
// L with positive diagonal and A = L Lᵀ (Golub & Van Loan, "Matrix Computations", §4.2). Column by
// column:  L_jj = √(A_jj − Σ_{p<j} L_jp²),   L_ij = (A_ij − Σ_{p<j} L_ip L_jp) / L_jj  (i > j).
// LAPACK's dpotrf computes exactly this; A is positive definite iff every square root above has a
// positive argument, which is how dpotrf (and so every caller here) detects a singular covariance
// (docs/pitfalls.md#cholesky).
//
// Users: synthetic data (x = μ + L ε), the Gaussian mixture (its precision factor P with
// P Pᵀ = Σ⁻¹, and sampling), and the model template's exact log-likelihood.
#pragma once

#include <cstddef>

#include <xtensor/xtensor.hpp>

namespace tz {

// In place: A ← L, lower triangular, A = L Lᵀ (upper triangle zeroed). Returns false, leaving A
// undefined, if A is not positive definite.
bool cholesky_lower_inplace(double* a, std::size_t d);

// The same on a copy; throws std::invalid_argument if A is not square or not positive definite,
// naming the first pivot (0-based) that is not positive.
xt::xtensor<double, 2> cholesky_lower(const xt::xtensor<double, 2>& a);

// In place: an upper triangular P ← P⁻¹ (upper, lower triangle zeroed). False if P is singular.
bool invert_upper_triangular_inplace(double* a, std::size_t d);

// In place on a symmetric positive definite A: A ← P = L⁻ᵀ, upper triangular, with A = L Lᵀ, so that
// P Pᵀ = L⁻ᵀ L⁻¹ = (L Lᵀ)⁻¹ = A⁻¹ (scikit-learn's precisions_cholesky_). Built on
// cholesky_lower_inplace: transpose L to the upper Lᵀ, then invert it. False if A is not positive
// definite.
bool precision_cholesky_inplace(double* a, std::size_t d);

}  // namespace tz
