// Shared by the Gaussian mixture's tests (test_gmm_em.cpp, test_gmm_estimator.cpp,
// test_gmm_gradient.cpp): small data sets with known structure, and the hand-computed parameters.
#pragma once

#include <array>
#include <exception>
#include <string>
#include <vector>

#include "autograd/random.hpp"
#include "models/gmm.hpp"

using tz::models::gmm::CovarianceType;
using tz::models::gmm::GaussianMixture;
using tz::models::gmm::Matrix;
using tz::models::gmm::Options;
using tz::models::gmm::Parameters;
using tz::models::gmm::Vector;

inline const CovarianceType kAllTypes[] = {CovarianceType::full, CovarianceType::tied, CovarianceType::diag,
                                           CovarianceType::spherical};

// N points from a 2-D mixture with the given π, μ and lower Cholesky factors L_k (Σ_k = L_k L_kᵀ).
inline Matrix draw_mixture(std::size_t n, const std::vector<double>& w, const std::vector<std::array<double, 2>>& mu,
                    const std::vector<std::array<double, 3>>& chol /* l00, l10, l11 */, tz::Rng& rng,
                    std::vector<std::size_t>* labels = nullptr) {
  Matrix x = Matrix::from_shape({n, 2});
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t k = rng.categorical(w);
    if (labels) labels->push_back(k);
    const double e0 = rng.normal(), e1 = rng.normal();
    x(i, 0) = mu[k][0] + chol[k][0] * e0;
    x(i, 1) = mu[k][1] + chol[k][1] * e0 + chol[k][2] * e1;
  }
  return x;
}

// Three overlapping clusters: EM takes dozens of iterations here.
inline Matrix overlapping_data(std::size_t n, std::uint64_t seed) {
  tz::Rng rng(seed);
  return draw_mixture(n, {0.5, 0.3, 0.2}, {{0.0, 0.0}, {2.0, 1.0}, {-1.0, 2.5}},
                      {{1.0, 0.3, 0.8}, {0.7, -0.2, 0.5}, {0.9, 0.0, 0.4}}, rng);
}

inline Options options(std::size_t k, CovarianceType type) {
  Options o;
  o.n_components = k;
  o.covariance_type = type;
  return o;
}

// The parameters of the 2-D, K = 2 hand-computed examples, shaped for `type`.
inline Parameters hand_parameters(CovarianceType type) {
  Parameters p;
  p.weights = {0.25, 0.75};
  p.means = {{0.0, 0.0}, {3.0, -1.0}};
  switch (type) {
    case CovarianceType::full: p.covariances = xt::xarray<double>{{{2.0, 0.5}, {0.5, 1.0}}, {{1.0, -0.3}, {-0.3, 0.5}}}; break;
    case CovarianceType::tied: p.covariances = xt::xarray<double>{{2.0, 0.5}, {0.5, 1.0}}; break;
    case CovarianceType::diag: p.covariances = xt::xarray<double>{{2.0, 1.0}, {1.0, 0.5}}; break;
    case CovarianceType::spherical: p.covariances = xt::xarray<double>{2.0, 0.5}; break;
  }
  return p;
}

inline GaussianMixture model_with(CovarianceType type, const Parameters& p) {
  GaussianMixture m(options(p.weights.size(), type));
  m.set_parameters(p);
  return m;
}

inline std::string error_of(auto&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

