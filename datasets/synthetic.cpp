// tapezoo: synthetic data with ground truth (see synthetic.hpp).
#include "datasets/synthetic.hpp"

#include "datasets/linalg.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include <xtensor/xbuilder.hpp>

namespace tz {

namespace {

// A random rotation: Gram-Schmidt on the columns of a D x D standard normal matrix.
xt::xtensor<double, 2> random_orthogonal(std::size_t d, Rng& rng) {
  for (;;) {
    xt::xtensor<double, 2> q = xt::xtensor<double, 2>::from_shape({d, d});
    for (auto& v : q) v = rng.normal();
    bool ok = true;
    for (std::size_t j = 0; j < d && ok; ++j) {
      for (std::size_t p = 0; p < j; ++p) {
        double dot = 0;
        for (std::size_t i = 0; i < d; ++i) dot += q(i, j) * q(i, p);
        for (std::size_t i = 0; i < d; ++i) q(i, j) -= dot * q(i, p);
      }
      double norm = 0;
      for (std::size_t i = 0; i < d; ++i) norm += q(i, j) * q(i, j);
      norm = std::sqrt(norm);
      if (norm < 1e-8) ok = false;  // (almost) dependent columns: probability zero, redraw
      else
        for (std::size_t i = 0; i < d; ++i) q(i, j) /= norm;
    }
    if (ok) return q;
  }
}

void check_options(const MixtureOptions& o) {
  if (!(o.var_min > 0) || !(o.var_max >= o.var_min))
    throw std::invalid_argument("random_gaussian_mixture: need 0 < var_min <= var_max, got var_min = " +
                                std::to_string(o.var_min) + ", var_max = " + std::to_string(o.var_max));
  if (!(o.weight_min > 0) || !(o.weight_max >= o.weight_min))
    throw std::invalid_argument("random_gaussian_mixture: need 0 < weight_min <= weight_max");
  if (!(o.mean_scale >= 0) || !(o.min_separation >= 0))
    throw std::invalid_argument("random_gaussian_mixture: mean_scale and min_separation must be >= 0");
}

}  // namespace

MixtureTruth random_gaussian_mixture(std::size_t k, std::size_t d, Rng& rng, const MixtureOptions& opt) {
  if (k == 0 || d == 0) throw std::invalid_argument("random_gaussian_mixture: need k >= 1 and d >= 1");
  check_options(opt);
  MixtureTruth g;

  // π_k ∝ U(weight_min, weight_max)
  g.weights = xt::xtensor<double, 1>::from_shape({k});
  double total = 0;
  for (auto& w : g.weights) total += (w = rng.uniform(opt.weight_min, opt.weight_max));
  for (auto& w : g.weights) w /= total;

  // μ_k ~ N(0, mean_scale² I), redrawn while closer than min_separation to an earlier mean
  g.means = xt::xtensor<double, 2>::from_shape({k, d});
  for (std::size_t c = 0; c < k; ++c) {
    for (int attempt = 0;; ++attempt) {
      if (attempt == 10000)
        throw std::invalid_argument("random_gaussian_mixture: cannot place " + std::to_string(k) +
                                    " means at least " + std::to_string(opt.min_separation) +
                                    " apart with mean_scale " + std::to_string(opt.mean_scale));
      for (std::size_t i = 0; i < d; ++i) g.means(c, i) = opt.mean_scale * rng.normal();
      bool far = true;
      for (std::size_t p = 0; p < c && far; ++p) {
        double d2 = 0;
        for (std::size_t i = 0; i < d; ++i) d2 += (g.means(c, i) - g.means(p, i)) * (g.means(c, i) - g.means(p, i));
        far = std::sqrt(d2) >= opt.min_separation;
      }
      if (far) break;
    }
  }

  // Σ_k = Q diag(λ) Qᵀ
  g.covs = xt::xtensor<double, 3>::from_shape({k, d, d});
  for (std::size_t c = 0; c < k; ++c) {
    const xt::xtensor<double, 2> q = random_orthogonal(d, rng);
    std::vector<double> lambda(d);
    for (auto& l : lambda) l = rng.uniform(opt.var_min, opt.var_max);
    for (std::size_t i = 0; i < d; ++i)
      for (std::size_t j = 0; j < d; ++j) {
        double s = 0;
        for (std::size_t p = 0; p < d; ++p) s += q(i, p) * lambda[p] * q(j, p);
        g.covs(c, i, j) = s;
      }
    for (std::size_t i = 0; i < d; ++i)  // exact symmetry, whatever the rounding
      for (std::size_t j = 0; j < i; ++j) g.covs(c, j, i) = g.covs(c, i, j);
  }
  return g;
}

LabelledPoints sample_gaussian_mixture(const MixtureTruth& g, std::size_t n, Rng& rng) {
  const std::size_t k = g.k(), d = g.d();
  if (g.means.shape(0) != k || g.covs.shape(0) != k || g.covs.shape(1) != d || g.covs.shape(2) != d)
    throw std::invalid_argument("sample_gaussian_mixture: weights [K], means [K, D] and covs [K, D, D] disagree");
  std::vector<xt::xtensor<double, 2>> chol;
  for (std::size_t c = 0; c < k; ++c) {
    xt::xtensor<double, 2> cov = xt::xtensor<double, 2>::from_shape({d, d});
    for (std::size_t i = 0; i < d; ++i)
      for (std::size_t j = 0; j < d; ++j) cov(i, j) = g.covs(c, i, j);
    chol.push_back(cholesky_lower(cov));
  }
  LabelledPoints out;
  out.x = xt::xtensor<double, 2>::from_shape({n, d});
  out.labels.resize(n);
  std::vector<double> z(d);
  for (std::size_t s = 0; s < n; ++s) {
    // z_n ~ Categorical(π);  x_n = μ_z + L_z ε,  ε ~ N(0, I)
    const std::size_t c = rng.categorical(g.weights);
    out.labels[s] = static_cast<int>(c);
    for (auto& e : z) e = rng.normal();
    for (std::size_t i = 0; i < d; ++i) {
      double v = g.means(c, i);
      for (std::size_t p = 0; p <= i; ++p) v += chol[c](i, p) * z[p];
      out.x(s, i) = v;
    }
  }
  return out;
}

MixtureData make_gaussian_mixture(std::size_t n, std::size_t k, std::size_t d, Rng& rng, const MixtureOptions& opt) {
  MixtureData m;
  m.truth = random_gaussian_mixture(k, d, rng, opt);
  LabelledPoints p = sample_gaussian_mixture(m.truth, n, rng);
  m.x = std::move(p.x);
  m.labels = std::move(p.labels);
  return m;
}

LabelledPoints make_moons(std::size_t n, double noise, Rng& rng) {
  if (!(noise >= 0)) throw std::invalid_argument("make_moons: noise must be >= 0");
  LabelledPoints out;
  out.x = xt::xtensor<double, 2>::from_shape({n, std::size_t{2}});
  out.labels.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const int moon = static_cast<int>(i % 2);
    const double t = rng.uniform(0.0, M_PI);
    const double x = moon == 0 ? std::cos(t) : 1.0 - std::cos(t);
    const double y = moon == 0 ? std::sin(t) : 0.5 - std::sin(t);
    out.x(i, 0) = x + noise * rng.normal();
    out.x(i, 1) = y + noise * rng.normal();
    out.labels[i] = moon;
  }
  return out;
}

LabelledPoints make_rings(std::size_t n, double noise, Rng& rng, const std::vector<double>& radii) {
  if (radii.empty()) throw std::invalid_argument("make_rings: need at least one radius");
  if (!(noise >= 0)) throw std::invalid_argument("make_rings: noise must be >= 0");
  LabelledPoints out;
  out.x = xt::xtensor<double, 2>::from_shape({n, std::size_t{2}});
  out.labels.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t ring = i % radii.size();
    const double t = rng.uniform(0.0, 2.0 * M_PI);
    out.x(i, 0) = radii[ring] * std::cos(t) + noise * rng.normal();
    out.x(i, 1) = radii[ring] * std::sin(t) + noise * rng.normal();
    out.labels[i] = static_cast<int>(ring);
  }
  return out;
}

xt::xtensor<float, 2> points_to_float(const xt::xtensor<double, 2>& x) {
  xt::xtensor<float, 2> out = xt::xtensor<float, 2>::from_shape(x.shape());
  std::transform(x.begin(), x.end(), out.begin(), [](double v) { return static_cast<float>(v); });
  return out;
}

}  // namespace tz
