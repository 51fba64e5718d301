// tapezoo: the initialisation of EM for the Gaussian mixture (see models/gmm.hpp): scikit-learn's,
// from responsibilities (k-means++ seeds or random) and one M-step.
#include <algorithm>
#include <cmath>
#include <limits>

#include "autograd/path.hpp"
#include "models/gmm.hpp"
#include "models/gmm_detail.hpp"

namespace tz::models::gmm {

namespace {

// Greedy k-means++ seeding as scikit-learn's kmeans_plusplus (Arthur & Vassilvitskii 2007):
// the first centre uniformly, each next one among 2 + ⌊log K⌋ candidates drawn with probability
// ∝ D(x)², the squared distance to the closest centre so far, keeping the candidate that lowers
// the potential Σ_n D(x_n)² the most. Returns the indices of the K chosen points.
std::vector<std::size_t> kmeans_plusplus(const Matrix& x, std::size_t K, Rng& rng) {
  const std::size_t N = x.shape(0), D = x.shape(1);
  const std::size_t n_local_trials = 2 + static_cast<std::size_t>(std::log(static_cast<double>(K)));
  auto sq_dist = [&](std::size_t a, std::size_t b) {
    double s = 0;
    for (std::size_t j = 0; j < D; ++j) s += (x(a, j) - x(b, j)) * (x(a, j) - x(b, j));
    return s;
  };
  std::vector<std::size_t> centres{rng.below(N)};
  std::vector<double> closest(N), cumulative(N), candidate(N), best(N);
  double potential = 0;
  for (std::size_t n = 0; n < N; ++n) potential += (closest[n] = sq_dist(n, centres[0]));
  while (centres.size() < K) {
    double s = 0;
    for (std::size_t n = 0; n < N; ++n) cumulative[n] = (s += closest[n]);
    double best_potential = std::numeric_limits<double>::infinity();
    std::size_t best_index = 0;
    for (std::size_t t = 0; t < n_local_trials; ++t) {
      // the first n with Σ_{m≤n} D(x_m)² > u, u ~ U(0, potential)
      const double u = rng.uniform() * potential;
      const auto it = std::upper_bound(cumulative.begin(), cumulative.end(), u);
      const std::size_t c = std::min<std::size_t>(static_cast<std::size_t>(it - cumulative.begin()), N - 1);
      double p = 0;
      for (std::size_t n = 0; n < N; ++n) p += (candidate[n] = std::min(closest[n], sq_dist(n, c)));
      if (p < best_potential) {
        best_potential = p;
        best_index = c;
        best.swap(candidate);
      }
    }
    centres.push_back(best_index);
    closest.swap(best);
    potential = best_potential;
  }
  return centres;
}

}  // namespace

// scikit-learn initialises from responsibilities and one M-step (its _initialize). One
// difference: the weights are normalised here (scikit-learn leaves Σ π_k = K/N after k-means++),
// which only shifts the first lower bound by a constant, never the responsibilities.
void GaussianMixture::initialize(const EmData& data, Rng& rng) {
  const Matrix& x = data.x;
  const std::size_t N = x.shape(0), K = options_.n_components;
  if (options_.init_parameters) {
    set_parameters(*options_.init_parameters, "init parameters");
    return;
  }
  Matrix resp = xt::zeros<double>({N, K});
  if (options_.init == Init::kmeans_pp) {
    // r_nk = 1 at the K points chosen by k-means++: each μ_k starts at a data point and each
    // Σ_k at reg_covar I, so the first E-step assigns every point to its nearest centre
    const std::vector<std::size_t> centres = kmeans_plusplus(x, K, rng);
    for (std::size_t k = 0; k < K; ++k) resp(centres[k], k) = 1.0;
  } else {
    // r_nk ∝ U(0, 1)
    for (std::size_t n = 0; n < N; ++n) {
      double s = 0;
      for (std::size_t k = 0; k < K; ++k) s += (resp(n, k) = rng.uniform());
      for (std::size_t k = 0; k < K; ++k) resp(n, k) /= s;
    }
  }
  // one M-step from these responsibilities, by the path the fit takes
  if (data.fast) m_step_fast(data, kernels::to_blocked(resp));
  else m_step_textbook(data, resp);
}

void GaussianMixture::initialize(const Matrix& x, Rng& rng) { initialize(EmData(x, !tz::textbook()), rng); }

}  // namespace tz::models::gmm
