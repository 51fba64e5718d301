// tapezoo: the Cholesky factorisation and its variants (see linalg.hpp), on LAPACK.
//
// LAPACK is Fortran, column-major: a row-major matrix read column-major is its transpose. For a
// symmetric A that is A itself; a triangle we call lower is LAPACK's upper, and vice versa.
#include "datasets/linalg.hpp"

#include <stdexcept>
#include <string>
#include <utility>

// LAPACK (from OpenBLAS). The trailing size_t arguments are the hidden lengths of the character
// arguments that gfortran expects.
extern "C" {
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info, std::size_t uplo_len);
void dtrtri_(const char* uplo, const char* diag, const int* n, double* a, const int* lda, int* info,
             std::size_t uplo_len, std::size_t diag_len);
}

namespace tz {

namespace {

// Zeroes the strict lower (lower = true) or strict upper triangle of a row-major d×d matrix.
void zero_triangle(double* a, std::size_t d, bool lower) {
  for (std::size_t i = 0; i < d; ++i)
    for (std::size_t j = 0; j < d; ++j)
      if (lower ? j < i : j > i) a[i * d + j] = 0.0;
}

// dpotrf 'U' on our row-major A: A = Uᵀ U with U in LAPACK's upper triangle, which is our lower
// triangle and holds Uᵀ = L. Returns LAPACK's info: 0, or j + 1 when pivot j is not positive.
int potrf_lower(double* a, std::size_t d) {
  const int n = static_cast<int>(d);
  int info = 0;
  dpotrf_("U", &n, a, &n, &info, 1);
  return info;
}

}  // namespace

bool cholesky_lower_inplace(double* a, std::size_t d) {
  if (potrf_lower(a, d) != 0) return false;
  zero_triangle(a, d, /*lower=*/false);
  return true;
}

xt::xtensor<double, 2> cholesky_lower(const xt::xtensor<double, 2>& a) {
  const std::size_t n = a.shape(0);
  if (a.shape(1) != n) throw std::invalid_argument("cholesky_lower: matrix is not square");
  xt::xtensor<double, 2> l = a;
  if (const int info = potrf_lower(l.data(), n); info != 0)
    throw std::invalid_argument("cholesky_lower: matrix is not positive definite (pivot " + std::to_string(info - 1) +
                                " is not positive)");
  zero_triangle(l.data(), n, /*lower=*/false);
  return l;
}

// dtrtri 'L' on our upper triangular P (LAPACK's lower triangle holds Pᵀ): Pᵀ ← P⁻ᵀ, so our upper
// triangle holds P⁻¹.
bool invert_upper_triangular_inplace(double* a, std::size_t d) {
  const int n = static_cast<int>(d);
  int info = 0;
  dtrtri_("L", "N", &n, a, &n, &info, 1, 1);
  if (info != 0) return false;
  zero_triangle(a, d, /*lower=*/true);
  return true;
}

bool precision_cholesky_inplace(double* a, std::size_t d) {
  // A = L Lᵀ
  if (!cholesky_lower_inplace(a, d)) return false;
  // Lᵀ, upper triangular
  for (std::size_t i = 0; i < d; ++i)
    for (std::size_t j = 0; j < i; ++j) std::swap(a[i * d + j], a[j * d + i]);
  // P = (Lᵀ)⁻¹ = L⁻ᵀ
  return invert_upper_triangular_inplace(a, d);
}

}  // namespace tz
