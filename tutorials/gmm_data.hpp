// tapezoo tutorials 02 and 03: the Gaussian mixture they both fit, and the point both fits start from.
//
// Tutorial 02 fits it by EM, tutorial 03 by gradient ascent on the tape; with the same seed they see
// the same points and the same start, so their results can be compared number for number.
// Random draws, in this order: make_data() draws the mixture and its points, initial_parameters()
// then draws the K k-means++ seeds.
#pragma once

#include <cstddef>
#include <vector>

#include "autograd/random.hpp"
#include "datasets/synthetic.hpp"
#include "models/gmm.hpp"

namespace tz::tutorial::gmm_data {

// The mixture: K = 3 components in D = 2 dimensions.
constexpr std::size_t K = 3, D = 2;

// N points from three 2-D Gaussians with known π, μ, Σ (returned with the points, as the truth).
tz::MixtureData make_data(std::size_t n, tz::Rng& rng);

// k-means++ seeding (Arthur & Vassilvitskii 2007): K data points, the first uniformly at random,
// each next one with probability ∝ D(x_n)², its squared distance to the nearest point chosen so far.
std::vector<std::size_t> kmeans_pp_seeds(const tz::models::gmm::Matrix& x, tz::Rng& rng);

// The start: π_k = 1/K, μ_k = the k-means++ seeds, Σ_k = the covariance of all the data (every
// component starts as wide as the whole data set). seeds_out, if given, receives the seeds' rows.
tz::models::gmm::Parameters initial_parameters(const tz::models::gmm::Matrix& x, tz::Rng& rng,
                                       std::vector<std::size_t>* seeds_out = nullptr);

}  // namespace tz::tutorial::gmm_data
