// tapezoo coursework: the checks of part 4, EM for a Gaussian mixture (models/gmm_em.cpp, the
// textbook steps), on fixed parameters and points against closed forms computed here for D = 2:
//   log N(x; μ, Σ) = −log 2π − ½ log det Σ − ½ dᵀ Σ⁻¹ d,   d = x − μ,   Σ⁻¹ = adj(Σ) / det Σ.
// float64, rtol 1e-6 (atol 1e-9 for responsibilities near 0): far above the rounding of a 2 × 2
// Cholesky factor, far below any wrong formula. One point lies 60σ out, where e^{log ρ} is 0 in
// float64: an E-step that exponentiates before it normalises gives 0/0 there.
#include <array>
#include <cmath>

#include <xtensor/xadapt.hpp>

#include "coursework/checks/checks.hpp"
#include "distributions/constants.hpp"
#include "models/gmm.hpp"

namespace tz::coursework {

namespace {

using namespace tz::models::gmm;

struct Mixture {
  std::vector<double> w;                  // π_k
  std::vector<std::array<double, 2>> mu;  // μ_k
  std::vector<std::array<double, 3>> cov; // Σ_k as (a, b, c): [[a, b], [b, c]]
};

const Mixture kVisible{{0.3, 0.7}, {{0.0, 0.0}, {2.0, -1.0}}, {{1.0, 0.3, 0.5}, {2.0, -0.4, 1.5}}};
const Mixture kHidden{{0.5, 0.2, 0.3}, {{1.0, 1.0}, {-2.0, 0.5}, {0.0, -3.0}},
                      {{0.8, 0.1, 0.9}, {1.2, 0.0, 0.4}, {3.0, 1.0, 2.0}}};
const Matrix kX{{0.5, -0.2}, {1.8, -1.3}, {-1.0, 2.0}, {60.0, -60.0}};

double log_normal2(const std::array<double, 2>& x, const std::array<double, 2>& mu, const std::array<double, 3>& c) {
  const double det = c[0] * c[2] - c[1] * c[1], d0 = x[0] - mu[0], d1 = x[1] - mu[1];
  const double maha = (c[2] * d0 * d0 - 2 * c[1] * d0 * d1 + c[0] * d1 * d1) / det;
  return -kLog2Pi - 0.5 * std::log(det) - 0.5 * maha;
}

Matrix log_rho_reference(const Mixture& m, const Matrix& x) {
  Matrix r = xt::zeros<double>({x.shape(0), m.w.size()});
  for (std::size_t n = 0; n < x.shape(0); ++n)
    for (std::size_t k = 0; k < m.w.size(); ++k) r(n, k) = std::log(m.w[k]) + log_normal2({x(n, 0), x(n, 1)}, m.mu[k], m.cov[k]);
  return r;
}

GaussianMixture model(const Mixture& m) {
  Options o;
  o.n_components = m.w.size();
  GaussianMixture g(o);
  Parameters p;
  p.weights = xt::adapt(m.w, {m.w.size()});
  p.means = xt::zeros<double>({m.w.size(), std::size_t{2}});
  p.covariances = xt::zeros<double>({m.w.size(), std::size_t{2}, std::size_t{2}});
  for (std::size_t k = 0; k < m.w.size(); ++k) {
    p.means(k, 0) = m.mu[k][0];
    p.means(k, 1) = m.mu[k][1];
    p.covariances(k, 0, 0) = m.cov[k][0];
    p.covariances(k, 0, 1) = p.covariances(k, 1, 0) = m.cov[k][1];
    p.covariances(k, 1, 1) = m.cov[k][2];
  }
  g.set_parameters(p);
  return g;
}

// {r_nk…, (1/N) Σ_n log p(x_n)} by logsumexp over k.
std::vector<double> e_step_reference(const Mixture& m, const Matrix& x) {
  const Matrix lr = log_rho_reference(m, x);
  std::vector<double> out;
  double total = 0;
  for (std::size_t n = 0; n < lr.shape(0); ++n) {
    double mx = -INFINITY, s = 0;
    for (std::size_t k = 0; k < lr.shape(1); ++k) mx = std::max(mx, lr(n, k));
    for (std::size_t k = 0; k < lr.shape(1); ++k) s += std::exp(lr(n, k) - mx);
    for (std::size_t k = 0; k < lr.shape(1); ++k) out.push_back(std::exp(lr(n, k) - mx - std::log(s)));
    total += mx + std::log(s);
  }
  out.push_back(total / static_cast<double>(lr.shape(0)));
  return out;
}

std::vector<double> e_step_got(const Mixture& m, const Matrix& x) {
  Matrix resp;
  const double mean_log_p = model(m).e_step_textbook(x, resp);
  std::vector<double> out = flat(A(resp));
  out.push_back(mean_log_p);
  return out;
}

// {π…, μ…, Σ…} of the M-step for fixed r: N_k = Σ_n r_nk, π_k = N_k/N, μ_k = Σ_n r_nk x_n / N_k,
// Σ_k = Σ_n r_nk (x_n − μ_k)(x_n − μ_k)ᵀ / N_k + reg I.
std::vector<double> m_step_reference(const Matrix& x, const Matrix& r, double reg) {
  const std::size_t N = x.shape(0), K = r.shape(1);
  std::vector<double> w, mu, cov;
  for (std::size_t k = 0; k < K; ++k) {
    double nk = 0, m0 = 0, m1 = 0;
    for (std::size_t n = 0; n < N; ++n) nk += r(n, k), m0 += r(n, k) * x(n, 0), m1 += r(n, k) * x(n, 1);
    m0 /= nk, m1 /= nk;
    double s00 = 0, s01 = 0, s11 = 0;
    for (std::size_t n = 0; n < N; ++n) {
      const double d0 = x(n, 0) - m0, d1 = x(n, 1) - m1;
      s00 += r(n, k) * d0 * d0, s01 += r(n, k) * d0 * d1, s11 += r(n, k) * d1 * d1;
    }
    w.push_back(nk / static_cast<double>(N));
    mu.insert(mu.end(), {m0, m1});
    cov.insert(cov.end(), {s00 / nk + reg, s01 / nk, s01 / nk, s11 / nk + reg});
  }
  w.insert(w.end(), mu.begin(), mu.end());
  w.insert(w.end(), cov.begin(), cov.end());
  return w;
}

std::vector<double> m_step_got(const Matrix& x, const Matrix& r) {
  Options o;
  o.n_components = r.shape(1);
  GaussianMixture g(o);
  g.m_step_textbook(x, r);
  std::vector<double> out = flat(A(g.weights()));
  for (double v : g.means()) out.push_back(v);
  for (double v : g.covariances()) out.push_back(v);
  return out;
}

const Matrix kXm{{0.5, -0.2}, {1.8, -1.3}, {-1.0, 2.0}, {3.0, 0.5}, {0.0, 1.0}};
const Matrix kR{{0.9, 0.1}, {0.2, 0.8}, {0.6, 0.4}, {0.05, 0.95}, {0.5, 0.5}};
const Matrix kRHidden{{0.7, 0.2, 0.1}, {0.1, 0.1, 0.8}, {0.3, 0.3, 0.4}, {0.25, 0.5, 0.25}, {0.6, 0.0, 0.4}};

std::string mixture_text(const Mixture& m) {
  std::string s = "π = " + show(m.w) + ", μ = [";
  for (const auto& mu : m.mu) s += show({mu[0], mu[1]});
  s += "], Σ (a, b, c) = [";
  for (const auto& c : m.cov) s += show({c[0], c[1], c[2]});
  return s + "]";
}

}  // namespace

std::vector<Check> gmm_checks() {
  return {
      {"4.1", "log_joint against log π_k + log N(x_n; μ_k, Σ_k)", true, [](Checker& c) {
         c.close("log_joint(x = " + show(flat(A(kX))) + ") with " + mixture_text(kVisible), flat(A(log_rho_reference(kVisible, kX))),
                 flat(A(model(kVisible).log_joint(kX))), 1e-6);
       }},
      {"4.1", "log_joint at stored values", false, [](Checker& c) {
         c.hidden("4.1/log_joint", "log_joint, three components", flat(A(model(kHidden).log_joint(kX))), 1e-6);
       }},
      {"4.2", "e_step_textbook: r_nk and the mean log-likelihood, a point 60σ out included", true, [](Checker& c) {
         c.close("e_step_textbook(x = " + show(flat(A(kX))) + ") with " + mixture_text(kVisible) + " → {r_nk…, (1/N) Σ log p}",
                 e_step_reference(kVisible, kX), e_step_got(kVisible, kX), 1e-6, 1e-9);
       }},
      {"4.2", "e_step_textbook at stored values", false, [](Checker& c) {
         c.hidden("4.2/e_step", "e_step_textbook, three components", e_step_got(kHidden, kX), 1e-6, 1e-9);
       }},
      {"4.3", "m_step_textbook: π, μ, Σ for fixed responsibilities", true, [](Checker& c) {
         c.close("m_step_textbook(x = " + show(flat(A(kXm))) + ", r = " + show(flat(A(kR))) + ") → {π…, μ…, Σ…}",
                 m_step_reference(kXm, kR, Options{}.reg_covar), m_step_got(kXm, kR), 1e-6, 1e-9);
       }},
      {"4.3", "m_step_textbook at stored values", false, [](Checker& c) {
         c.hidden("4.3/m_step", "m_step_textbook, three components", m_step_got(kXm, kRHidden), 1e-6, 1e-9);
       }},
  };
}

}  // namespace tz::coursework
