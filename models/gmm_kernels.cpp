// tapezoo: the fast path of EM for the Gaussian mixture (see gmm_kernels.hpp; the textbook path it
// replaces is models/gmm_em.cpp). Each loop and each BLAS call carries the formula it computes.
// Matrices are row-major unless blocked.
//
// Why SIMD loops rather than one BLAS gemm per component (as scikit-learn): with D = 10 every
// product has an inner dimension of 10, where OpenBLAS spends more time packing its operands
// than multiplying, and its speed depends on the kernels it detected (docs/pitfalls.md#openblas-kernels).
// The loops below use the SIMD width of the build (-march) whatever OpenBLAS detected, skip the
// zeros of the triangular P_k (D(D+1)/2 products instead of D²), keep a block of 64 points in L1
// from the distance to the responsibility, and take all the M-step's sums in one pass. For
// D > kSmallD the same blocks go through BLAS (gemm, syrk), where its cache blocking pays.
// bench/gmm measures both against scikit-learn (bench/gmm_sklearn.py).
#include "models/gmm_kernels.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include <xsimd/xsimd.hpp>

#include "autograd/parallel.hpp"
#include "datasets/linalg.hpp"

// GCC 12 reports "'__Y' is used uninitialized" inside its own AVX-512 intrinsics (the
// _mm512_undefined_* placeholders) wherever xsimd's hadd, exp and log are inlined: a known false
// positive (GCC bug 105593), silenced for this file only.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace tz::models::gmm::kernels {

namespace {

// Copies the upper triangle of a row-major d×d matrix into its lower triangle.
void symmetrize_from_upper(double* a, std::size_t d) {
  for (std::size_t i = 0; i < d; ++i)
    for (std::size_t j = 0; j < i; ++j) a[i * d + j] = a[j * d + i];
}

}  // namespace

// ---- small dense linear algebra (the Cholesky itself: datasets/linalg.hpp) -------------------------------

bool covariance_from_precision_cholesky(const double* p, double* cov, std::size_t d) {
  std::vector<double> p_inv(p, p + d * d);
  if (!tz::invert_upper_triangular_inplace(p_inv.data(), d)) return false;
  // Σ = (P Pᵀ)⁻¹ = P⁻ᵀ P⁻¹ = (P⁻¹)ᵀ (P⁻¹): syrk with trans on P⁻¹, upper triangle, then mirrored
  const int n = static_cast<int>(d);
  cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, n, n, 1.0, p_inv.data(), n, 0.0, cov, n);
  symmetrize_from_upper(cov, d);
  return true;
}

// ---- blocked storage ------------------------------------------------------------------------------------

namespace {

using batch = xsimd::batch<double>;  // one SIMD register: 8 doubles with AVX-512, 4 with AVX2
constexpr std::size_t kLanes = batch::size;
// Independent accumulators per inner loop: an FMA takes 4 cycles before its result can be used
// again, so one running sum would leave the FMA units idle 7 cycles in 8.
constexpr std::size_t kChains = kLanes >= 8 ? 8 : 4;
constexpr std::size_t kStep = kChains * kLanes;  // points per inner step
static_assert(kBlock % kStep == 0);

batch load(const double* p) { return batch::load_unaligned(p); }

// c_b = x_b − a for the kBlock points of a block: c[i·kBlock + b] = xt[i·kBlock + b] − a_i, i < D.
void center_block(const double* xt, const double* a, std::size_t D, double* c) {
  for (std::size_t i = 0; i < D; ++i)
    for (std::size_t b = 0; b < kBlock; ++b) c[i * kBlock + b] = xt[i * kBlock + b] - a[i];
}

// Σ_b term(b) over the kBlock points of a block, as one batch of per-lane partial sums.
// term(b0) gives the kLanes values at points b0 … b0 + kLanes − 1; kChains independent sums.
template <class Term>
batch sum_over_block(Term term) {
  batch t[kChains];
  for (auto& v : t) v = batch(0.0);
  for (std::size_t b0 = 0; b0 < kBlock; b0 += kStep)
    for (std::size_t g = 0; g < kChains; ++g) t[g] += term(b0 + g * kLanes);
  for (std::size_t w = kChains / 2; w > 0; w /= 2)
    for (std::size_t g = 0; g < w; ++g) t[g] += t[g + w];
  return t[0];
}

// acc[p·ld + q] += Σ_b r_b c_i+p,b c_jj+q,b for a 4×4 tile (rows ci, columns cj: 4 runs of kBlock
// values each). On the diagonal (ci = cj) only q ≥ p is needed: 10 products instead of 16.
template <bool Diagonal>
void add_tile(const double* ci, const double* cj, const double* r, batch* acc, std::size_t ld) {
  batch t[4][4];
  for (auto& row : t)
    for (auto& v : row) v = batch(0.0);
  for (std::size_t b0 = 0; b0 < kBlock; b0 += kLanes) {
    const batch rb = load(r + b0);
    batch a[4];
    for (std::size_t p = 0; p < 4; ++p) a[p] = rb * load(ci + p * kBlock + b0);
    for (std::size_t q = 0; q < 4; ++q) {
      const batch cq = load(cj + q * kBlock + b0);
      for (std::size_t p = 0; p < 4; ++p)
        if (!Diagonal || q >= p) t[p][q] = xsimd::fma(a[p], cq, t[p][q]);
    }
  }
  for (std::size_t p = 0; p < 4; ++p)
    for (std::size_t q = 0; q < 4; ++q)
      if (!Diagonal || q >= p) acc[p * ld + q] += t[p][q];
}

}  // namespace

Blocked::Blocked(std::size_t rows_, std::size_t cols_) : rows(rows_), cols(cols_) {
  v.assign(n_blocks() * cols * kBlock, 0.0);
}

Blocked to_blocked(const Matrix& m) {
  Blocked b(m.shape(0), m.shape(1));
  for (std::size_t j = 0; j < b.n_blocks(); ++j) {
    double* dst = b.block(j);
    const std::size_t row0 = j * kBlock, rows = b.rows_in(j);
    for (std::size_t c = 0; c < b.cols; ++c)
      for (std::size_t r = 0; r < rows; ++r) dst[c * kBlock + r] = m(row0 + r, c);
  }
  return b;
}

void to_matrix(const Blocked& b, Matrix& m) {
  if (m.shape(0) != b.rows || m.shape(1) != b.cols) m = Matrix::from_shape({b.rows, b.cols});
  for (std::size_t j = 0; j < b.n_blocks(); ++j) {
    const double* src = b.block(j);
    const std::size_t row0 = j * kBlock, rows = b.rows_in(j);
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < b.cols; ++c) m(row0 + r, c) = src[c * kBlock + r];
  }
}

// ---- E-step ---------------------------------------------------------------------------------------------

SquaredMahalanobis::SquaredMahalanobis(CovarianceType type, const Matrix& means,
                                       const xt::xarray<double>& precisions_cholesky)
    : type_(type), k_(means.shape(0)), d_(means.shape(1)), means_(means), prec_chol_(precisions_cholesky) {
  const std::size_t K = k_, D = d_;
  const bool triangular = type_ == CovarianceType::full || type_ == CovarianceType::tied;
  if (triangular && D <= kSmallD) {
    c_.assign(D * kBlock, 0.0);
  } else if (triangular) {
    const std::size_t cols = type_ == CovarianceType::full ? K * D : D;
    p_all_.assign(D * cols, 0.0);
    mu_p_.assign(K * D, 0.0);
    xp_.assign(kBlock * cols, 0.0);
    const double* P = prec_chol_.data();
    // full: [P_1 … P_K] side by side, [D, K·D]; tied: P itself
    for (std::size_t k = 0; k < (type_ == CovarianceType::full ? K : 1); ++k)
      for (std::size_t i = 0; i < D; ++i)
        for (std::size_t j = 0; j < D; ++j) p_all_[i * cols + k * D + j] = P[(k * D + i) * D + j];
    // μ_k P_k, [K, D]
    for (std::size_t k = 0; k < K; ++k) {
      const double* Pk = type_ == CovarianceType::full ? P + k * D * D : P;
      for (std::size_t j = 0; j < D; ++j) {
        double s = 0;
        for (std::size_t i = 0; i < D; ++i) s += means_(k, i) * Pk[i * D + j];
        mu_p_[k * D + j] = s;
      }
    }
  }
}

void SquaredMahalanobis::operator()(const Blocked& x, std::size_t j, double* out) {
  const std::size_t K = k_, D = d_;
  const double* xt = x.block(j);  // xt[d·kBlock + b]
  const double* mu = means_.data();
  const double* P = prec_chol_.data();
  const bool tied = type_ == CovarianceType::tied;
  switch (type_) {
    case CovarianceType::full:
    case CovarianceType::tied:
      if (D <= kSmallD) {
        double* c = c_.data();
        for (std::size_t k = 0; k < K; ++k) {
          const double* Pk = tied ? P : P + k * D * D;
          // c_i = x_i − μ_ki for the block
          center_block(xt, mu + k * D, D, c);
          // y_j = Σ_{i≤j} c_i P_k,ij  and  Σ_j y_j², kStep points and two columns j at a time, all
          // in registers (each c_i loaded once serves both columns)
          for (std::size_t b0 = 0; b0 < kBlock; b0 += kStep) {
            batch sum[kChains], y0[kChains], y1[kChains];
            for (auto& v : sum) v = batch(0.0);
            for (std::size_t jj = 0; jj < D; jj += 2) {
              const bool two = jj + 1 < D;  // an odd D leaves the last column alone (y1 stays 0)
              for (std::size_t g = 0; g < kChains; ++g) y0[g] = y1[g] = batch(0.0);
              for (std::size_t i = 0; i <= jj + (two ? 1 : 0); ++i) {
                const batch p0(i <= jj ? Pk[i * D + jj] : 0.0), p1(two ? Pk[i * D + jj + 1] : 0.0);
                const double* ci = c + i * kBlock + b0;
                for (std::size_t g = 0; g < kChains; ++g) {
                  const batch cg = load(ci + g * kLanes);
                  y0[g] = xsimd::fma(cg, p0, y0[g]);
                  y1[g] = xsimd::fma(cg, p1, y1[g]);
                }
              }
              for (std::size_t g = 0; g < kChains; ++g) sum[g] = xsimd::fma(y1[g], y1[g], xsimd::fma(y0[g], y0[g], sum[g]));
            }
            for (std::size_t g = 0; g < kChains; ++g) sum[g].store_unaligned(out + k * kBlock + b0 + g * kLanes);
          }
        }
      } else {
        const std::size_t cols = tied ? D : K * D;
        // x P = xtᵀ [P_1 … P_K]: [kBlock, D] @ [D, cols], xt passed with the transpose flag
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(kBlock), static_cast<int>(cols),
                    static_cast<int>(D), 1.0, xt, static_cast<int>(kBlock), p_all_.data(), static_cast<int>(cols),
                    0.0, xp_.data(), static_cast<int>(cols));
        // ‖(x − μ_k) P_k‖² = ‖x P_k − μ_k P_k‖²
        for (std::size_t b = 0; b < kBlock; ++b)
          for (std::size_t k = 0; k < K; ++k) {
            const double* xpk = xp_.data() + b * cols + (tied ? 0 : k * D);
            const double* mpk = mu_p_.data() + k * D;
            double s = 0;
            for (std::size_t jj = 0; jj < D; ++jj) s += (xpk[jj] - mpk[jj]) * (xpk[jj] - mpk[jj]);
            out[k * kBlock + b] = s;
          }
      }
      break;
    case CovarianceType::diag:
      // ‖(x − μ_k) P_k‖² = Σ_d ((x_d − μ_kd) p_kd)²,  P_k = diag(p_k)
      for (std::size_t k = 0; k < K; ++k)
        for (std::size_t b0 = 0; b0 < kBlock; b0 += kLanes) {
          batch sum(0.0);
          for (std::size_t d = 0; d < D; ++d) {
            const batch y = (load(xt + d * kBlock + b0) - batch(mu[k * D + d])) * batch(P[k * D + d]);
            sum = xsimd::fma(y, y, sum);
          }
          sum.store_unaligned(out + k * kBlock + b0);
        }
      break;
    case CovarianceType::spherical:
      // ‖(x − μ_k) P_k‖² = p_k² ‖x − μ_k‖²,  P_k = p_k I
      for (std::size_t k = 0; k < K; ++k)
        for (std::size_t b0 = 0; b0 < kBlock; b0 += kLanes) {
          batch sum(0.0);
          for (std::size_t d = 0; d < D; ++d) {
            const batch y = load(xt + d * kBlock + b0) - batch(mu[k * D + d]);
            sum = xsimd::fma(y, y, sum);
          }
          (sum * batch(P[k] * P[k])).store_unaligned(out + k * kBlock + b0);
        }
      break;
  }
}

double log_normalize_block(double* a, std::size_t K, std::size_t rows, double* log_p) {
  for (std::size_t b0 = 0; b0 < kBlock; b0 += kLanes) {
    // m_b = max_k a_kb, so that the largest term is e⁰ = 1 (no overflow, no underflow of the sum)
    batch m(-std::numeric_limits<double>::infinity());
    for (std::size_t k = 0; k < K; ++k) m = xsimd::max(m, load(a + k * kBlock + b0));
    // s_b = Σ_k e^{a_kb − m_b}
    batch s(0.0);
    for (std::size_t k = 0; k < K; ++k) {
      const batch e = xsimd::exp(load(a + k * kBlock + b0) - m);
      e.store_unaligned(a + k * kBlock + b0);
      s += e;
    }
    // log p(x_b) = m_b + log s_b,   r_kb = e^{a_kb − m_b} / s_b
    (m + xsimd::log(s)).store_unaligned(log_p + b0);
    const batch inv_s = batch(1.0) / s;
    for (std::size_t k = 0; k < K; ++k) (load(a + k * kBlock + b0) * inv_s).store_unaligned(a + k * kBlock + b0);
  }
  // the padding rows past `rows` get r = 0, so that the M-step ignores them
  double total = 0;
  for (std::size_t b = 0; b < rows; ++b) total += log_p[b];
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t b = rows; b < kBlock; ++b) a[k * kBlock + b] = 0.0;
  return total;
}

// ---- M-step ---------------------------------------------------------------------------------------------

namespace {

// Σ_b r_kb [c_b; 1][c_b; 1]ᵀ over the blocks [j0, j1), c_b = x_b − a_k, added into acc (upper
// triangles, one partial sum per SIMD lane): the moments of full covariances with D ≤ kSmallD. Its
// second moment holds Σ_b r_kb c_b c_bᵀ (rows and columns < D), Σ_b r_kb c_b (column D) and
// Σ_b r_kb (entry D, D).
void augmented_moments(const Blocked& x, const Blocked& resp, const Matrix& shift, std::size_t j0, std::size_t j1,
                       std::size_t Dp, batch* acc) {
  const std::size_t D = x.cols, K = resp.cols;
  // Rows of c: D centred coordinates, a row of ones, zero rows up to Dp (whole 4×4 tiles).
  std::vector<double> c(Dp * kBlock, 0.0);
  std::fill(c.begin() + static_cast<std::ptrdiff_t>(D * kBlock), c.begin() + static_cast<std::ptrdiff_t>((D + 1) * kBlock), 1.0);
  for (std::size_t j = j0; j < j1; ++j) {
    const double* xt = x.block(j);
    for (std::size_t k = 0; k < K; ++k) {
      const double* r = resp.block(j) + k * kBlock;  // padding rows have r = 0
      // c_b = x_b − a_k for the block
      center_block(xt, &shift(k, 0), D, c.data());
      // acc_k += Σ_b r_kb [c_b; 1][c_b; 1]ᵀ, upper triangle, in 4×4 tiles of SIMD accumulators
      batch* acc_k = acc + k * Dp * Dp;
      for (std::size_t i = 0; i <= D; i += 4) {
        add_tile<true>(c.data() + i * kBlock, c.data() + i * kBlock, r, acc_k + i * Dp + i, Dp);  // on the diagonal
        for (std::size_t jj = i + 4; jj <= D; jj += 4)
          add_tile<false>(c.data() + i * kBlock, c.data() + jj * kBlock, r, acc_k + i * Dp + jj, Dp);
      }
    }
  }
}

// The moments of the other cases (diag, spherical, or D > kSmallD) over the blocks [j0, j1).
struct MomentSums {
  std::vector<batch> n, m1, m2;  // per SIMD lane: [K], [K, D], [K, D] (the diagonal, if not full)
  std::vector<double> m2_full;   // full: [K, D, D], upper triangles (syrk)

  MomentSums(std::size_t K, std::size_t D, bool full)
      : n(K, batch(0.0)), m1(K * D, batch(0.0)), m2(full ? 0 : K * D, batch(0.0)), m2_full(full ? K * D * D : 0, 0.0) {}
  void add(const MomentSums& o) {
    for (std::size_t i = 0; i < n.size(); ++i) n[i] += o.n[i];
    for (std::size_t i = 0; i < m1.size(); ++i) m1[i] += o.m1[i];
    for (std::size_t i = 0; i < m2.size(); ++i) m2[i] += o.m2[i];
    for (std::size_t i = 0; i < m2_full.size(); ++i) m2_full[i] += o.m2_full[i];
  }
};

void moment_sums(const Blocked& x, const Blocked& resp, const Matrix& shift, std::size_t j0, std::size_t j1,
                 MomentSums& s) {
  const std::size_t D = x.cols, K = resp.cols;
  const bool full = !s.m2_full.empty();
  std::vector<double> c(D * kBlock, 0.0);
  for (std::size_t j = j0; j < j1; ++j) {
    const double* xt = x.block(j);
    for (std::size_t k = 0; k < K; ++k) {
      const double* r = resp.block(j) + k * kBlock;  // padding rows have r = 0
      // c_b = x_b − a_k for the block
      center_block(xt, &shift(k, 0), D, c.data());
      // N_k += Σ_b r_kb,   m1_k += Σ_b r_kb c_b
      s.n[k] += sum_over_block([&](std::size_t b) { return load(r + b); });
      for (std::size_t d = 0; d < D; ++d)
        s.m1[k * D + d] += sum_over_block([&](std::size_t b) { return load(r + b) * load(c.data() + d * kBlock + b); });
      if (full) {
        // z_b = √r_kb c_b, so that z zᵀ = Σ_b r_kb c_b c_bᵀ; c becomes z in place
        for (std::size_t i = 0; i < D; ++i)
          for (std::size_t b = 0; b < kBlock; ++b) c[i * kBlock + b] *= std::sqrt(r[b]);
        // m2_k += z zᵀ: syrk on the upper triangle, [D, kBlock] @ [kBlock, D]
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, static_cast<int>(D), static_cast<int>(kBlock), 1.0,
                    c.data(), static_cast<int>(kBlock), 1.0, s.m2_full.data() + k * D * D, static_cast<int>(D));
      } else {
        // the diagonal only: m2_kd += Σ_b r_kb c_bd²
        for (std::size_t d = 0; d < D; ++d)
          s.m2[k * D + d] += sum_over_block([&](std::size_t b) {
            const batch cd = load(c.data() + d * kBlock + b);
            return load(r + b) * cd * cd;
          });
      }
    }
  }
}

}  // namespace

Moments weighted_moments(const Blocked& x, const Blocked& resp, const Matrix& shift, bool full) {
  const std::size_t D = x.cols, K = resp.cols, n_chunks = chunk_count(x.n_blocks(), kChunkBlocks);
  const auto chunk_end = [&](std::size_t c) { return std::min(x.n_blocks(), (c + 1) * kChunkBlocks); };
  Moments m;
  m.n = Vector::from_shape({K});
  m.m1 = Matrix::from_shape({K, D});
  m.m2 = xt::zeros<double>(full ? std::vector<std::size_t>{K, D, D} : std::vector<std::size_t>{K, D});

  if (full && D <= kSmallD) {
    // Every chunk of blocks from zero on the pool, then the chunks added in chunk order.
    const std::size_t Dp = (D + 1 + 3) / 4 * 4;
    std::vector<std::vector<batch>> chunk_acc(n_chunks);
    parallel_for(n_chunks, [&](std::size_t c) {
      chunk_acc[c].assign(K * Dp * Dp, batch(0.0));
      augmented_moments(x, resp, shift, c * kChunkBlocks, chunk_end(c), Dp, chunk_acc[c].data());
    });
    std::vector<batch> acc(K * Dp * Dp, batch(0.0));
    for (const std::vector<batch>& a : chunk_acc)
      for (std::size_t i = 0; i < acc.size(); ++i) acc[i] += a[i];
    for (std::size_t k = 0; k < K; ++k) {
      const batch* acc_k = acc.data() + k * Dp * Dp;
      m.n(k) = xsimd::hadd(acc_k[D * Dp + D]);
      for (std::size_t i = 0; i < D; ++i) {
        m.m1(k, i) = xsimd::hadd(acc_k[i * Dp + D]);
        for (std::size_t jj = i; jj < D; ++jj) m.m2(k, i, jj) = m.m2(k, jj, i) = xsimd::hadd(acc_k[i * Dp + jj]);
      }
    }
    return m;
  }

  // diag, spherical, or D > kSmallD: the same chunking
  std::vector<MomentSums> chunk_sums(n_chunks, MomentSums(K, D, full));
  parallel_for(n_chunks, [&](std::size_t c) { moment_sums(x, resp, shift, c * kChunkBlocks, chunk_end(c), chunk_sums[c]); });
  MomentSums s(K, D, full);
  for (const MomentSums& cs : chunk_sums) s.add(cs);
  for (std::size_t k = 0; k < K; ++k) {
    m.n(k) = xsimd::hadd(s.n[k]);
    for (std::size_t d = 0; d < D; ++d) {
      m.m1(k, d) = xsimd::hadd(s.m1[k * D + d]);
      if (!full) m.m2(k, d) = xsimd::hadd(s.m2[k * D + d]);
    }
    if (full) {
      std::copy(s.m2_full.begin() + static_cast<std::ptrdiff_t>(k * D * D),
                s.m2_full.begin() + static_cast<std::ptrdiff_t>((k + 1) * D * D), &m.m2(k, 0, 0));
      symmetrize_from_upper(&m.m2(k, 0, 0), D);
    }
  }
  return m;
}

}  // namespace tz::models::gmm::kernels
