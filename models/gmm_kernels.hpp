// tapezoo: the fast path of EM for the Gaussian mixture (internal header): the kernels under
// GaussianMixture::e_step_fast and m_step_fast (models/gmm_em.cpp). Each one replaces a loop of the
// textbook path, e_step_textbook or m_step_textbook, named in its comment; tests/test_gmm_em.cpp
// proves the two paths equal within float64 rounding ("textbook and fast ...").
//
// EM touches every (point, component) pair twice per iteration, so these loops are the whole
// cost. They work on the data in blocks of kBlock rows stored transposed ("blocked": within a
// block, one contiguous run of kBlock values per column), so that every inner loop runs over
// consecutive points and each SIMD register (an xsimd batch: 8 doubles with AVX-512) holds
// kLanes points. Why not one BLAS gemm per component: see gmm_kernels.cpp.
//
// Raw cblas lives in gmm_kernels.cpp alone: <cblas.h> and xtensor-blas clash in one
// file (docs/pitfalls.md#linking-openblas).
#pragma once

#include <cstddef>
#include <vector>

#include <xtensor/xarray.hpp>
#include <xtensor/xtensor.hpp>

#include "models/gmm.hpp"

namespace tz::models::gmm::kernels {

inline constexpr std::size_t kBlock = 64;  // rows per block
// Blocks per chunk of work on the pool of --threads (autograd/parallel.hpp): fixed, so that the
// E-step's ℓ and the M-step's moments, summed chunk after chunk, are the same for every thread count.
inline constexpr std::size_t kChunkBlocks = 32;
// Up to this D the full and tied kernels are SIMD loops that skip the zeros of the triangular
// P_k; beyond it, one BLAS gemm per block (see gmm_kernels.cpp).
inline constexpr std::size_t kSmallD = 32;

// An [rows, cols] matrix as blocks of kBlock rows, each stored column by column:
//   at(n, c) = v[((n / kBlock)·cols + c)·kBlock + n % kBlock]
// The rows past `rows` in the last block are zero (so a zero responsibility: they add nothing).
struct Blocked {
  std::size_t rows = 0, cols = 0;
  std::vector<double> v;

  Blocked() = default;
  Blocked(std::size_t rows_, std::size_t cols_);
  std::size_t n_blocks() const { return (rows + kBlock - 1) / kBlock; }
  std::size_t rows_in(std::size_t block) const { return std::min(kBlock, rows - block * kBlock); }
  // Block j: cols runs of kBlock values.
  double* block(std::size_t j) { return v.data() + j * cols * kBlock; }
  const double* block(std::size_t j) const { return v.data() + j * cols * kBlock; }
};
Blocked to_blocked(const Matrix& m);
void to_matrix(const Blocked& b, Matrix& m);  // m is resized to [rows, cols]

// ‖(x_n − μ_k) P_k‖² for the points of one block, with P_k the precision Cholesky factor of
// component k (the squared Mahalanobis distance). Built once per E-step.
// Replaces: the `mahalanobis` loop of GaussianMixture::e_step_textbook (models/gmm_em.cpp).
//   full, tied:      D ≤ kSmallD: y_j = Σ_{i≤j} (x_i − μ_ki) P_k,ij in SIMD registers;
//                    larger D: one gemm of the block with [P_1 … P_K], minus μ_k P_k
//   diag, spherical: a loop, P_k being diagonal
class SquaredMahalanobis {
 public:
  SquaredMahalanobis(CovarianceType type, const Matrix& means, const xt::xarray<double>& precisions_cholesky);
  // out[k·kBlock + b] = ‖(x_b − μ_k) P_k‖² for the rows b of block j of x.
  void operator()(const Blocked& x, std::size_t j, double* out);

 private:
  CovarianceType type_;
  std::size_t k_, d_;
  const Matrix& means_;
  const xt::xarray<double>& prec_chol_;
  std::vector<double> c_;      // small D: a block centred on μ_k, [D, kBlock]
  std::vector<double> p_all_;  // large D: full [D, K·D] = [P_1 … P_K]; tied [D, D] = P
  std::vector<double> mu_p_;   // large D: [K, D], μ_k P_k
  std::vector<double> xp_;     // large D: [kBlock, K·D] or [kBlock, D], x P
};

// Given a_kb = log π_k + log N(x_b | μ_k, Σ_k) for one block (a[k·kBlock + b]), computes in place
//   log p(x_b) = logsumexp_k a_kb    into log_p[b]     (for b < rows)
//   r_kb = e^{a_kb − log p(x_b)}     into a
// and returns Σ_b log p(x_b) over the block's rows. Vectorised over the points, exp included.
// Replaces: the log-sum-exp and r_nk loop of GaussianMixture::e_step_textbook.
double log_normalize_block(double* a, std::size_t K, std::size_t rows, double* log_p);

// The responsibility-weighted moments of the data about a shift a_k per component, in one pass:
//   n[k] = Σ_n r_nk,   m1[k, d] = Σ_n r_nk (x_nd − a_kd),
//   m2 = Σ_n r_nk (x_n − a_k)(x_n − a_k)ᵀ: [K, D, D] if full (both triangles), else its diagonal [K, D].
// The M-step turns them into moments about the new mean (the parallel-axis theorem). The blocks are
// summed in chunks of kChunkBlocks on the pool, each from zero, and the chunks' sums added in chunk order.
// Replaces: the N_k, μ_k and S_k loops of GaussianMixture::m_step_textbook (models/gmm_em.cpp).
struct Moments {
  Vector n;
  Matrix m1;
  xt::xarray<double> m2;
};
Moments weighted_moments(const Blocked& x, const Blocked& resp, const Matrix& shift, bool full);

// ---- small dense linear algebra (the Cholesky and its variants: datasets/linalg.hpp) -----------------

// Σ = (P Pᵀ)⁻¹ from an upper triangular precision Cholesky factor P (both d×d, row-major).
bool covariance_from_precision_cholesky(const double* p, double* cov, std::size_t d);

}  // namespace tz::models::gmm::kernels
