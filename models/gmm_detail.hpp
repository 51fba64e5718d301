// tapezoo: what the files of the Gaussian mixture share (internal header: models/gmm.cpp,
// gmm_em.cpp, gmm_init.cpp).
#pragma once

#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "models/gmm.hpp"
#include "models/gmm_kernels.hpp"

namespace tz::models::gmm {

namespace detail {

inline constexpr double kEps = std::numeric_limits<double>::epsilon();

// "[3,2,2]", for error messages.
std::string shape_text(const std::vector<std::size_t>& s);
template <class S>
std::string shape_text(const S& s) {
  return shape_text(std::vector<std::size_t>(s.begin(), s.end()));
}
std::string num(double v);  // 6 significant digits

// log det P_k = Σ_d log P_k,dd (= −½ log det Σ_k) for each component, [K].
Vector log_det_cholesky(CovarianceType type, const xt::xarray<double>& prec_chol, std::size_t K, std::size_t D);

// P from Σ for every component, into prec_chol. Returns the first component that has collapsed
// (K for the shared Σ of the tied type), or nothing. A component collapses when its Σ is not
// positive definite or, given max_p (one value per column), when a diagonal entry of P exceeds it:
// 1/P_dd is the standard deviation of column d given the columns before it, so the component has
// become too narrow to resolve in that direction.
std::optional<std::size_t> compute_precision_cholesky(CovarianceType type, const xt::xarray<double>& covariances,
                                                      std::size_t K, std::size_t D, xt::xarray<double>& prec_chol,
                                                      const std::vector<double>& max_p = {});

// (1/N) Σ_n x_n, [D].
Vector column_mean(const Matrix& x);

// The collapse limit on P_dd for each column: a standard deviation below 1000 rounding steps of
// the column's largest |x| cannot be resolved in doubles (the points it covers are, to within
// rounding, identical). No limit for an all-zero column.
std::vector<double> max_precision_diagonal(const Matrix& x);

}  // namespace detail

// The data as the EM loop reads them: as given, in the kernels' blocked layout (for the fast path
// only), the collapse limits of each column (max_precision_diagonal) and the mean. Built once per fit.
struct GaussianMixture::EmData {
  const Matrix& x;
  bool fast;                 // built for the fast path (else the textbook one)
  kernels::Blocked blocked;  // the fast path's layout of x; empty on the textbook path
  std::vector<double> max_p;
  Vector mean;  // (1/N) Σ_n x_n
  EmData(const Matrix& x_, bool fast_)
      : x(x_),
        fast(fast_),
        blocked(fast_ ? kernels::to_blocked(x_) : kernels::Blocked()),
        max_p(detail::max_precision_diagonal(x_)),
        mean(detail::column_mean(x_)) {}
};

}  // namespace tz::models::gmm
