// tapezoo: synthetic data with known ground truth, all drawn from an explicit, seeded Rng.
//
//   tz::Rng rng(0);
//   tz::MixtureData m = tz::make_gaussian_mixture(1000, /*k=*/3, /*d=*/2, rng);
//   m.x;        // [1000, 2] points
//   m.labels;   // the component each point came from
//   m.truth;    // weights [3], means [3, 2], covs [3, 2, 2]: what EM should recover
//
//   tz::LabelledPoints moons = tz::make_moons(500, /*noise=*/0.1, rng);
//   tz::LabelledPoints rings = tz::make_rings(500, /*noise=*/0.05, rng, {1.0, 0.5});
//
// Generative story of a mixture (Bishop, PRML §9.2):  z_n ~ Categorical(π),  x_n | z_n = k ~ N(μ_k, Σ_k).
// Ground truth: μ_k ~ N(0, mean_scale² I) (redrawn while two means are closer than
// min_separation); Σ_k = Q diag(λ) Qᵀ with Q a random rotation (Gram-Schmidt of a Gaussian
// matrix) and λ_i ~ U(var_min, var_max), so Σ_k is symmetric positive definite with eigenvalues
// in [var_min, var_max]; π_k ∝ U(weight_min, weight_max).
#pragma once

#include <cstddef>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "autograd/random.hpp"
#include "datasets/linalg.hpp"  // cholesky_lower

namespace tz {

// The ground truth of a synthetic mixture: the parameters the points were drawn from. (The model
// that fits a mixture is tz::models::gmm::GaussianMixture, models/gmm.hpp.)
struct MixtureTruth {
  xt::xtensor<double, 1> weights;  // [K], sums to 1
  xt::xtensor<double, 2> means;    // [K, D]
  xt::xtensor<double, 3> covs;     // [K, D, D], symmetric positive definite

  std::size_t k() const { return weights.size(); }
  std::size_t d() const { return means.shape(1); }
};

struct MixtureOptions {
  double mean_scale = 4.0;
  double min_separation = 0.0;  // 0: no check
  double var_min = 0.2, var_max = 1.0;
  double weight_min = 0.5, weight_max = 1.5;
};

struct LabelledPoints {
  xt::xtensor<double, 2> x;  // [N, D]
  std::vector<int> labels;   // [N]
};

struct MixtureData {
  xt::xtensor<double, 2> x;  // [N, D]
  std::vector<int> labels;   // [N], the component of each point
  MixtureTruth truth;
};

MixtureTruth random_gaussian_mixture(std::size_t k, std::size_t d, Rng& rng, const MixtureOptions& opt = {});
LabelledPoints sample_gaussian_mixture(const MixtureTruth& truth, std::size_t n, Rng& rng);
MixtureData make_gaussian_mixture(std::size_t n, std::size_t k, std::size_t d, Rng& rng,
                                  const MixtureOptions& opt = {});

// Two interleaving half circles (as scikit-learn's make_moons): point i belongs to moon i % 2.
// Moon 0: (cos t, sin t); moon 1: (1 - cos t, 0.5 - sin t); t ~ U(0, π); plus N(0, noise²) per coordinate.
LabelledPoints make_moons(std::size_t n, double noise, Rng& rng);

// Concentric circles: point i lies on ring i % R at radius radii[i % R], angle ~ U(0, 2π),
// plus N(0, noise²) per coordinate.
LabelledPoints make_rings(std::size_t n, double noise, Rng& rng, const std::vector<double>& radii = {1.0, 0.5});

xt::xtensor<float, 2> points_to_float(const xt::xtensor<double, 2>& x);

}  // namespace tz
