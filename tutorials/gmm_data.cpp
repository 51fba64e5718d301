// tapezoo tutorials 02 and 03: the shared mixture data and starting point (see gmm_data.hpp).
#include "tutorials/gmm_data.hpp"

#include <algorithm>
#include <cmath>

namespace tz::tutorial::gmm_data {

using tz::models::gmm::Matrix;

tz::MixtureData make_data(std::size_t n, tz::Rng& rng) {
  tz::MixtureOptions o;
  o.mean_scale = 2.5;       // μ_k ~ N(0, 2.5² I) …
  o.min_separation = 2.5;   // … redrawn until every two are at least 2.5 apart: clusters that touch
  o.var_min = 0.25;
  o.var_max = 1.2;
  return tz::make_gaussian_mixture(n, K, D, rng, o);
}

std::vector<std::size_t> kmeans_pp_seeds(const Matrix& x, tz::Rng& rng) {
  const std::size_t N = x.shape(0);
  std::vector<std::size_t> seeds{rng.below(N)};
  std::vector<double> d2(N, HUGE_VAL);
  while (seeds.size() < K) {
    const std::size_t c = seeds.back();
    for (std::size_t n = 0; n < N; ++n) {
      double s = 0;
      for (std::size_t j = 0; j < D; ++j) s += (x(n, j) - x(c, j)) * (x(n, j) - x(c, j));
      d2[n] = std::min(d2[n], s);
    }
    seeds.push_back(rng.categorical(d2));
  }
  return seeds;
}

tz::models::gmm::Parameters initial_parameters(const Matrix& x, tz::Rng& rng, std::vector<std::size_t>* seeds_out) {
  const std::size_t N = x.shape(0);
  tz::models::gmm::Parameters init;
  init.weights = xt::ones<double>({K}) / static_cast<double>(K);
  init.means = Matrix::from_shape({K, D});
  const std::vector<std::size_t> seeds = kmeans_pp_seeds(x, rng);
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t j = 0; j < D; ++j) init.means(k, j) = x(seeds[k], j);
  double mean[D] = {0, 0}, cov[D][D] = {{0, 0}, {0, 0}};
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t j = 0; j < D; ++j) mean[j] += x(n, j) / static_cast<double>(N);
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t i = 0; i < D; ++i)
      for (std::size_t j = 0; j < D; ++j) cov[i][j] += (x(n, i) - mean[i]) * (x(n, j) - mean[j]) / N;
  init.covariances = xt::xarray<double>::from_shape({K, D, D});
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t i = 0; i < D; ++i)
      for (std::size_t j = 0; j < D; ++j) init.covariances(k, i, j) = cov[i][j];
  if (seeds_out) *seeds_out = seeds;
  return init;
}

}  // namespace tz::tutorial::gmm_data
