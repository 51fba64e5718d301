// tutorial: the Gaussian mixture by gradient ascent on the tape (Adam) against EM, and why the parameterization matters
//
// The model and data of tutorial 02 (Bishop, PRML §9.2): z_n ~ Categorical(π), x_n | z_n = k ~ N(μ_k, Σ_k).
// Objective: the mean log-likelihood (1/N) ℓ(θ) = (1/N) Σ_n log Σ_k π_k N(x_n | μ_k, Σ_k)  (PRML 9.14),
// now maximised by Adam (Kingma & Ba 2015) with the gradient from one backward sweep of the tape.
//
// Gradient steps move parameters anywhere in ℝ^p, but π must lie on the simplex and every Σ_k
// must be symmetric positive definite. So the tape works in unconstrained coordinates that map
// onto the constraints (scikit-learn's precisions_cholesky; Stan's cholesky_factor_cov transform),
// as models/gmm_gd.cpp records them:
//   π = softmax(α)                                   any α ∈ ℝ^K gives π_k > 0, Σ_k π_k = 1
//   P_k = strictly-upper(U_k) + diag(e^{s_k})        upper triangular with a positive diagonal,
//   Σ_k⁻¹ = P_k P_kᵀ                                 hence positive definite, for every U_k and s_k
//   log N(x | μ, Σ) = −½ D log 2π + Σ_d s_d − ½ ‖(x − μ) P‖²
// Only matmuls, sums and exps: no determinant, inverse or Cholesky decomposition on the tape.
// The raw alternative, Σ_k itself as the parameter, needs log det Σ and Σ⁻¹ on the tape and, worse,
// a gradient step can leave the positive-definite cone (step 5 shows it with numbers).
//
// Steps: 1 data and the EM baseline, 2 the log-likelihood on the tape (checked against EM and
// finite differences), 3 EM's fixed point has zero gradient, 4 Adam against EM (ℓ and time),
// 5 one gradient step on a raw covariance leaves the cone, 6 the same inside a fit, 7 a picture.
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include <xtensor/xview.hpp>

#include "autograd/gradcheck.hpp"
#include "autograd/ops.hpp"
#include "autograd/random.hpp"
#include "datasets/synthetic.hpp"
#include "io/plot.hpp"
#include "models/gmm.hpp"
#include "nn/optim.hpp"
#include "tutorials/gmm_data.hpp"
#include "tutorials/tutorial.hpp"
#include "distributions/constants.hpp"

using tz::models::gmm::CovarianceType;
using tz::models::gmm::Matrix;
// The mixture shared with tutorial 02 (tutorials/gmm_data.hpp): K = 3 components in D = 2
// dimensions, its data make_data() and the start of the fit initial_parameters().
using namespace tz::tutorial::gmm_data;
using A = tz::Array<double>;
using V = tz::Var<double>;
using clock_type = std::chrono::steady_clock;

using tz::kLog2Pi;

namespace {


// ---- 2×2 symmetric matrices [[a, b], [b, c]] on plain doubles ------------------------------------
struct Sym2 {
  double a, b, c;
  double det() const { return a * c - b * b; }
  // eigenvalues (a + c)/2 ∓ √(((a − c)/2)² + b²): positive definite iff λ_min > 0
  double lambda_min() const { return 0.5 * (a + c) - std::hypot(0.5 * (a - c), b); }
  double lambda_max() const { return 0.5 * (a + c) + std::hypot(0.5 * (a - c), b); }
  Sym2 inverse() const { return {c / det(), -b / det(), a / det()}; }
  std::string str() const { return fmt::format("[[{:.3f}, {:.3f}], [{:.3f}, {:.3f}]]", a, b, b, c); }
};

Sym2 covariance(const tz::models::gmm::GaussianMixture& m, std::size_t k) {
  const auto& S = m.covariances();
  return {S(k, 0, 0), S(k, 0, 1), S(k, 1, 1)};
}

double max_abs_grad(tz::models::gmm::UnconstrainedParameters& theta) {
  double g = 0;
  for (auto* p : theta.all())
    for (double v : p->grad) g = std::max(g, std::abs(v));
  return g;
}

// ---- one Gaussian, two parameterizations, for step 5 ----------------------------------------------
// f(Σ) = Σ_n w_n log N(x_n | μ, Σ) with weights w_n = r_nk / N_k: the part of the ELBO that
// component k's covariance controls (its maximiser is the M-step's Σ_k).

// Raw: Σ = [[a, b], [b, c]] itself. With u, v the two columns of x − μ (constants):
//   log N = −log 2π − ½ log det Σ − ½ (c u² − 2 b u v + a v²) / det Σ,   det Σ = a c − b²
// (log det Σ is NaN once det Σ < 0: the tape then carries NaN onwards).
V weighted_log_normal_raw(const V& a, const V& b, const V& c, const V& u, const V& v, const V& w) {
  V det = a * c - b * b;
  V quad = (c * square(u) - 2.0 * (b * u * v) + a * square(v)) / det;
  return sum(w * ((-kLog2Pi) - 0.5 * log(det) - 0.5 * quad));
}

// Cholesky of the precision: P = [[e^{s0}, p01], [0, e^{s1}]], Σ⁻¹ = P Pᵀ. With y = (x − μ) P:
//   log N = −log 2π + s0 + s1 − ½ ‖y‖²
V weighted_log_normal_cholesky(const V& s0, const V& p01, const V& s1, const V& u, const V& v, const V& w) {
  V y0 = u * exp(s0);            // y_0 = u P_00
  V y1 = u * p01 + v * exp(s1);  // y_1 = u P_01 + v P_11
  return sum(w * ((-kLog2Pi) + (s0 + s1) - 0.5 * (square(y0) + square(y1))));
}

// Σ = (P Pᵀ)⁻¹ for P = [[p00, p01], [0, p11]].
Sym2 covariance_from_precision_cholesky(double p00, double p01, double p11) {
  return Sym2{p00 * p00 + p01 * p01, p01 * p11, p11 * p11}.inverse();
}

// λ_min(Σ) = 1 / λ_max(P Pᵀ), without forming Σ: for a collapsing component P Pᵀ is nearly singular
// and inverting it in floating point loses the small eigenvalue to rounding (it may even come out
// negative), while λ_max of P Pᵀ, a sum of squares, stays accurate.
double lambda_min_from_precision_cholesky(double p00, double p01, double p11) {
  return 1.0 / Sym2{p00 * p00 + p01 * p01, p01 * p11, p11 * p11}.lambda_max();
}

// ---- the whole mixture with raw covariances, for step 6 -------------------------------------------
// a_nk = log softmax(α)_k + log N(x_n | μ_k, Σ_k) with Σ_k = [[a_k, b_k], [b_k, c_k]] the rows of
// cov [K, 3]; (1/N) ℓ = mean_n logsumexp_k a_nk.
V mean_log_likelihood_raw(tz::Tape<double>& tape, const A& x, tz::Param<double>& logits, tz::Param<double>& means,
                          tz::Param<double>& cov) {
  const std::size_t N = x.shape(0);
  V x0 = tape.constant(A(xt::view(x, xt::all(), 0))), x1 = tape.constant(A(xt::view(x, xt::all(), 1)));
  V mu = tape.param(means), S = tape.param(cov);
  std::vector<V> columns;
  for (std::size_t k = 0; k < K; ++k) {
    V u = x0 - reshape(narrow(narrow(mu, 0, k, 1), 1, 0, 1), {1});  // x_n0 − μ_k0, [N]
    V v = x1 - reshape(narrow(narrow(mu, 0, k, 1), 1, 1, 1), {1});
    V a = reshape(narrow(narrow(S, 0, k, 1), 1, 0, 1), {1});
    V b = reshape(narrow(narrow(S, 0, k, 1), 1, 1, 1), {1});
    V c = reshape(narrow(narrow(S, 0, k, 1), 1, 2, 1), {1});
    V det = a * c - b * b;
    V quad = (c * square(u) - 2.0 * (b * u * v) + a * square(v)) / det;
    columns.push_back(reshape((-kLog2Pi) - 0.5 * log(det) - 0.5 * quad, {static_cast<std::ptrdiff_t>(N), 1}));
  }
  V a = concat(columns, 1) + reshape(log_softmax(tape.param(logits), 0), {1, static_cast<std::ptrdiff_t>(K)});
  return mean(logsumexp(a, 1));
}

}  // namespace

int main(int argc, char** argv) {
  tz::tutorial::Tutorial t("03_gmm_gradient", "the Gaussian mixture by gradient ascent on the tape, against EM", 7);
  double lr = 0.05;
  t.add_option("--lr", lr, "Adam's learning rate (steps 4 and 6)");
  if (auto rc = t.parse(argc, argv)) return *rc;
  tz::Rng rng(t.seed());
  const std::size_t N = t.pick<std::size_t>(3000, 600);
  const std::size_t gd_iters = t.pick<std::size_t>(1000, 500);

  // ---- Step 1: data and the EM baseline --------------------------------------------------------
  t.step(1, "Data and the EM baseline: tutorial 02's N = {} points, K = {}, from the same start", N, K);
  const tz::MixtureData data = make_data(N, rng);
  const Matrix& x = data.x;
  const A x_array = x;
  const tz::models::gmm::Parameters init = initial_parameters(x, rng);
  tz::models::gmm::Options options;
  options.n_components = K;
  options.covariance_type = CovarianceType::full;
  options.reg_covar = 0.0;  // textbook EM, as in tutorial 02: then EM's fixed point is exactly ∇ℓ = 0
  options.tol = 1e-12;  // to the last digits ℓ can resolve: the reference for GD
  options.max_iter = 5000;
  options.init_parameters = init;
  tz::models::gmm::GaussianMixture em(options);
  em.fit(x);
  const double ll_em = em.score(x);
  // time per iteration: the best of a few runs (the first one warms the caches)
  double em_ms = em.ms_per_iter();
  for (int r = 0; r < 4; ++r) {
    tz::models::gmm::GaussianMixture again(options);
    again.fit(x);
    em_ms = std::min(em_ms, again.ms_per_iter());
  }
  t.say("EM (GaussianMixture::fit): {} iterations to |Δℓ| < 1e-12, (1/N) ℓ = {:.10f}", em.n_iter(), ll_em);
  t.say("                           {:.4f} ms per iteration, {:.2f} ms in all", em_ms, em_ms * em.n_iter());

  // ---- Step 2: the log-likelihood on the tape --------------------------------------------------
  t.step(2, "The log-likelihood on the tape: softmax weights, means, Cholesky factor of the precision");
  t.say("  π = softmax(α)         P_k = strictly-upper(U_k) + diag(e^s_k)       Σ_k⁻¹ = P_k P_kᵀ");
  t.say("  log N(x|μ_k,Σ_k) = −½ D log 2π + Σ_d s_kd − ½ ‖(x − μ_k) P_k‖²");
  t.say("  (1/N) ℓ = mean_n logsumexp_k [log_softmax(α)_k + log N(x_n|μ_k,Σ_k)]");
  t.say("Every α, μ, U, s in ℝ gives a valid mixture: π on the simplex, Σ_k positive definite.");
  t.say("tz::models::gmm::mean_log_likelihood (models/gmm_gd.cpp) records exactly these ops.");
  tz::models::gmm::GaussianMixture start(options);
  start.set_parameters(init, "the initial parameters");
  tz::models::gmm::UnconstrainedParameters theta = start.unconstrained();  // α = log π, U and s from P
  tz::Tape<double> tape;
  V ll_start = tz::models::gmm::mean_log_likelihood(tape.constant(x_array, "x"), theta, CovarianceType::full);
  t.say("One evaluation records {} nodes for K = {} components.", tape.size(), K);
  t.check_close("(1/N) ℓ on the tape = GaussianMixture::score at the start", ll_start.item(), start.score(x), 1e-12);
  {
    // every element of every parameter against central differences, on 12 points
    const A x_small = xt::view(x_array, xt::range(0, 12), xt::all());
    tz::GradcheckResult r = tz::gradcheck(
        "GMM mean log-likelihood",
        [&x_small](const std::vector<V>& v) {
          return tz::models::gmm::mean_log_likelihood(v[0].tape().constant(x_small), v[0], v[1], v[2], v[3],
                                              CovarianceType::full);
        },
        {theta.logits.value, theta.means.value, theta.chol_offdiag.value, theta.log_diag.value});
    t.check("gradcheck: backward vs central differences, all of α, μ, U, s", r.ok,
            r.ok ? fmt::format("{} elements, max |error| = {:.1e}", r.checked, r.max_abs_error) : r.message);
  }

  // ---- Step 3: EM's fixed point is a stationary point ------------------------------------------
  t.step(3, "EM's fixed point has zero gradient: the M-step equations are ∇ℓ = 0");
  t.say("At a fixed point the M-step returns θ itself, and its equations (π_k = N_k/N, μ_k and Σ_k");
  t.say("the weighted mean and covariance) are what ∂ℓ/∂θ = 0 says. So the tape's gradient at EM's");
  t.say("answer should vanish, while it is far from 0 at the start:");
  tape.clear();
  tape.backward(tz::models::gmm::mean_log_likelihood(tape.constant(x_array), theta, CovarianceType::full));
  const double g_start = max_abs_grad(theta);
  for (auto* p : theta.all()) p->zero_grad();
  tz::models::gmm::UnconstrainedParameters theta_em = em.unconstrained();
  tape.clear();
  V ll_at_em = tz::models::gmm::mean_log_likelihood(tape.constant(x_array), theta_em, CovarianceType::full);
  tape.backward(ll_at_em);
  const double g_em = max_abs_grad(theta_em);
  t.check_close("(1/N) ℓ on the tape at EM's θ = EM's score", ll_at_em.item(), ll_em, 1e-12);
  t.check("the gradient at EM's θ is ~0", g_em < 1e-4 * g_start,
          fmt::format("max |∂ℓ/∂θ| = {:.1e} there vs {:.1e} at the start", g_em, g_start));
  t.say("Not exactly 0: EM stopped once |Δℓ| < 1e-12, a hair short of the fixed point itself.");

  // ---- Step 4: Adam against EM -----------------------------------------------------------------
  t.step(4, "Adam on −(1/N) ℓ: lr = {}, {} full-batch steps, from EM's start", lr, gd_iters);
  t.say("Each step is the tape's life cycle: clear, record ℓ, backward(−ℓ), Adam step, zero_grad.");
  std::vector<double> lls;
  lls.reserve(gd_iters + 1);
  tz::models::gmm::GaussianMixture gd_model(options);  // the fit of this step, for step 7
  {
    tz::nn::Adam<double> adam(theta.all(), {.lr = lr});
    const auto t0 = clock_type::now();
    for (std::size_t it = 0; it < gd_iters; ++it) {
      tape.clear();
      V ll = tz::models::gmm::mean_log_likelihood(tape.constant(x_array), theta, CovarianceType::full);
      lls.push_back(ll.item());
      tape.backward(-ll);  // ascend ℓ = descend −ℓ
      adam.step();
      for (auto* p : theta.all()) p->zero_grad();
    }
    const double gd_ms = std::chrono::duration<double, std::milli>(clock_type::now() - t0).count() / gd_iters;
    tape.clear();
    V ll_final = tz::models::gmm::mean_log_likelihood(tape.constant(x_array), theta, CovarianceType::full);
    lls.push_back(ll_final.item());
    tape.backward(ll_final);
    const double g_gd = max_abs_grad(theta);
    for (auto* p : theta.all()) p->zero_grad();

    t.say("");
    t.say("   step    (1/N) ℓ(θ)      ℓ_EM − ℓ");
    for (std::size_t it : {0, 1, 10, 30, 100, 200, 300, 1000, 2000})
      if (it < gd_iters) t.say("  {:5d}  {:13.10f}   {:10.3e}", it, lls[it], ll_em - lls[it]);
    t.say("  {:5d}  {:13.10f}   {:10.3e}", gd_iters, lls[gd_iters], ll_em - lls[gd_iters]);
    // the first step at which GD is within 1e-3, 1e-6 of EM's answer
    auto first_within = [&](double tol) -> std::optional<std::size_t> {
      for (std::size_t i = 0; i < lls.size(); ++i)
        if (ll_em - lls[i] < tol) return i;
      return std::nullopt;
    };
    const double ll_gd = lls.back();
    t.say("");
    t.say("                      EM          Adam on the tape");
    t.say("  final (1/N) ℓ       {:.10f}   {:.10f}", ll_em, ll_gd);
    t.say("  iterations          {:<13d}   {}", em.n_iter(), gd_iters);
    t.say("  ms per iteration    {:<13.4f}   {:.4f}   ({:.0f}× EM's)", em_ms, gd_ms, gd_ms / em_ms);
    const auto w3 = first_within(1e-3), w6 = first_within(1e-6);
    auto em_first_within = [&](double tol) -> std::size_t {
      const auto& lb = em.lower_bounds();
      for (std::size_t i = 0; i < lb.size(); ++i)
        if (ll_em - lb[i] < tol) return i + 1;
      return lb.size();
    };
    t.say("  steps to ℓ_EM−1e-3  {:<13d}   {}", em_first_within(1e-3), w3 ? fmt::format("{}", *w3) : "not reached");
    t.say("  steps to ℓ_EM−1e-6  {:<13d}   {}", em_first_within(1e-6), w6 ? fmt::format("{}", *w6) : "not reached");
    if (w6)
      t.say("  ms to ℓ_EM−1e-6     {:<13.3f}   {:.3f}   ({:.0f}× EM's)", em_ms * em_first_within(1e-6), gd_ms * *w6,
            gd_ms * *w6 / (em_ms * em_first_within(1e-6)));
    t.say("EM's M-step jumps straight to the maximum of the bound; Adam creeps along the gradient with");
    t.say("a step of about lr per coordinate, and pays for a tape (record + backward) at every step.");
    int falls = 0;
    double largest_fall = 0;
    for (std::size_t i = 1; i < lls.size(); ++i)
      if (lls[i] < lls[i - 1] - 1e-13) ++falls, largest_fall = std::max(largest_fall, lls[i - 1] - lls[i]);
    if (falls > 0) {
      t.say("Nor does Adam promise what EM does: ℓ fell at {} of its {} steps (the largest fall {:.1e}),",
            falls, gd_iters, largest_fall);
      t.say("where EM's never falls (tutorial 02). Momentum carries it past the crest and back.");
    } else {
      t.say("Here ℓ happened to rise at every Adam step; unlike EM's (tutorial 02), nothing guarantees it.");
    }
    t.check("GD ends at a stationary point of ℓ", g_gd < 1e-4 * g_start,
            fmt::format("max |∂ℓ/∂θ| = {:.1e} (at the start {:.1e})", g_gd, g_start));
    if (std::abs(ll_em - ll_gd) >= 1e-6)
      t.say("ℓ_GD ≠ ℓ_EM: from the same start, EM and Adam took different paths and ended on different\n"
            "crests of ℓ (ℓ_EM − ℓ_GD = {:+.2e}). Neither method promises the global maximum; restarts\n"
            "(GaussianMixture's n_init) are the usual remedy.",
            ll_em - ll_gd);
    t.check("GD reaches EM's log-likelihood", std::abs(ll_em - ll_gd) < 1e-6,
            fmt::format("|ℓ_EM − ℓ_GD| = {:.1e} < 1e-6 nats per point", std::abs(ll_em - ll_gd)));
    // the same maximum: compare the parameters themselves, under the permutation of the components
    // that matches them best (the two runs may swap labels on the way: ℓ does not care)
    gd_model.set_unconstrained(theta);
    std::array<std::size_t, K> perm, best_perm{};
    std::iota(perm.begin(), perm.end(), std::size_t{0});
    double max_mu = HUGE_VAL, max_sigma = HUGE_VAL;
    do {
      double mu_err = 0, sigma_err = 0;
      for (std::size_t k = 0; k < K; ++k)
        for (std::size_t i = 0; i < D; ++i) {
          mu_err = std::max(mu_err, std::abs(gd_model.means()(perm[k], i) - em.means()(k, i)));
          for (std::size_t j = 0; j < D; ++j)
            sigma_err = std::max(sigma_err,
                                 std::abs(gd_model.covariances()(perm[k], i, j) - em.covariances()(k, i, j)));
        }
      if (mu_err < max_mu) max_mu = mu_err, max_sigma = sigma_err, best_perm = perm;
    } while (std::next_permutation(perm.begin(), perm.end()));
    const bool relabelled = !std::is_sorted(best_perm.begin(), best_perm.end());
    t.check("both find the same maximum: the parameters agree", max_mu < 1e-4 && max_sigma < 1e-4,
            fmt::format("max |μ_GD − μ_EM| = {:.1e}, max |Σ_GD − Σ_EM| = {:.1e}{}", max_mu, max_sigma,
                        relabelled ? " (after relabelling the components)" : ""));
    if (ll_gd > ll_em)
      t.note("GD ends {:.1e} above EM: EM stopped once |Δℓ| < 1e-12, a hair short of the maximum", ll_gd - ll_em);
    t.check("EM is cheaper per iteration here (one pass, no tape)", em_ms < gd_ms,
            fmt::format("{:.4f} ms < {:.4f} ms", em_ms, gd_ms));
  }
  // GaussianMixture::fit_gradient runs this loop: from the same start, the same answer.
  {
    tz::models::gmm::GaussianMixture gd(options);
    gd.set_parameters(init, "the initial parameters");  // a fitted start: fit_gradient goes on from here
    gd.fit_gradient(x, {.optimizer = "adam", .learning_rate = lr, .max_iter = gd_iters, .tol = 0.0});
    t.check_close("GaussianMixture::fit_gradient from the same start gives the same ℓ", gd.score(x), lls.back(),
                  1e-12);
  }

  // ---- Step 5: one gradient step on a raw covariance -------------------------------------------
  t.step(5, "Why the parameterization matters: one gradient step on a raw Σ can leave the PD cone");
  // the narrowest fitted component, and its responsibilities
  std::size_t kc = 0;
  for (std::size_t k = 1; k < K; ++k)
    if (covariance(em, k).lambda_min() < covariance(em, kc).lambda_min()) kc = k;
  Matrix resp;
  em.e_step(x, resp);
  A w = A::from_shape({N}), u = A::from_shape({N}), v = A::from_shape({N});
  double nk = 0;
  for (std::size_t n = 0; n < N; ++n) nk += resp(n, kc);
  for (std::size_t n = 0; n < N; ++n) {
    w(n) = resp(n, kc) / nk;
    u(n) = x(n, 0) - em.means()(kc, 0);
    v(n) = x(n, 1) - em.means()(kc, 1);
  }
  // Σ̂ = Σ_n w_n (x_n − μ_k)(x_n − μ_k)ᵀ, the maximiser of f (the M-step's Σ_k for these r)
  Sym2 s_hat{0, 0, 0};
  for (std::size_t n = 0; n < N; ++n) {
    s_hat.a += w(n) * u(n) * u(n);
    s_hat.b += w(n) * u(n) * v(n);
    s_hat.c += w(n) * v(n) * v(n);
  }
  const Sym2 sigma0{2 * s_hat.a, 2 * s_hat.b, 2 * s_hat.c};
  t.say("Component {} of EM's fit, with its responsibilities w_n = r_nk/N_k held fixed. The part of the", kc);
  t.say("ELBO its covariance controls is f(Σ) = Σ_n w_n log N(x_n | μ_k, Σ), maximised by the M-step's");
  t.say("Σ̂ = {} (eigenvalues {:.3f}, {:.3f}).", s_hat.str(), s_hat.lambda_min(), s_hat.lambda_max());
  t.say("Start twice too wide, Σ₀ = 2Σ̂, where the gradient says: shrink. Take one gradient-ascent step");
  t.say("of size η in each parameterization:");
  t.say("  raw       θ = (a, b, c), Σ = [[a, b], [b, c]]                 Σ₁ = Σ₀ + η ∇_Σ f");
  t.say("  Cholesky  θ = (s0, p01, s1), P = [[e^s0, p01], [0, e^s1]]     Σ₁ = (P₁ P₁ᵀ)⁻¹");
  // gradients on the tape, at Σ₀
  double g_raw[3], g_chol[3];
  {
    tz::Tape<double> tp;
    V a = tp.leaf(A{sigma0.a}), b = tp.leaf(A{sigma0.b}), c = tp.leaf(A{sigma0.c});
    V f = weighted_log_normal_raw(a, b, c, tp.constant(u), tp.constant(v), tp.constant(w));
    tp.backward(f);
    g_raw[0] = a.grad()(0), g_raw[1] = b.grad()(0), g_raw[2] = c.grad()(0);
    // ∂f/∂Σ = ½ (Σ⁻¹ S Σ⁻¹ − Σ⁻¹) with S = Σ̂ the weighted scatter; b appears twice in Σ, so ∂f/∂b = 2·(∂f/∂Σ)_01
    const Sym2 si = sigma0.inverse();
    const double m00 = si.a * s_hat.a + si.b * s_hat.b, m01 = si.a * s_hat.b + si.b * s_hat.c;
    const double m10 = si.b * s_hat.a + si.c * s_hat.b, m11 = si.b * s_hat.b + si.c * s_hat.c;
    const double g00 = 0.5 * (m00 * si.a + m01 * si.b - si.a), g01 = 0.5 * (m00 * si.b + m01 * si.c - si.b);
    const double g11 = 0.5 * (m10 * si.b + m11 * si.c - si.c);
    t.say("The tape's gradient against the matrix calculus ∂f/∂Σ = ½(Σ⁻¹ Σ̂ Σ⁻¹ − Σ⁻¹):");
    t.check_close("∂f/∂a = (∂f/∂Σ)₀₀", g_raw[0], g00, 1e-10, 1e-14);
    t.check_close("∂f/∂b = 2·(∂f/∂Σ)₀₁ (b sits at (0,1) and (1,0))", g_raw[1], 2 * g01, 1e-10, 1e-14);
    t.check_close("∂f/∂c = (∂f/∂Σ)₁₁", g_raw[2], g11, 1e-10, 1e-14);
  }
  // P₀ from Σ₀⁻¹ = P Pᵀ: p11 = √(Σ⁻¹)₁₁, p01 = (Σ⁻¹)₀₁/p11, p00 = √((Σ⁻¹)₀₀ − p01²)
  const Sym2 prec0 = sigma0.inverse();
  const double p11_0 = std::sqrt(prec0.c), p01_0 = prec0.b / p11_0, p00_0 = std::sqrt(prec0.a - p01_0 * p01_0);
  {
    tz::Tape<double> tp;
    V s0 = tp.leaf(A{std::log(p00_0)}), p01 = tp.leaf(A{p01_0}), s1 = tp.leaf(A{std::log(p11_0)});
    V f = weighted_log_normal_cholesky(s0, p01, s1, tp.constant(u), tp.constant(v), tp.constant(w));
    tp.backward(f);
    g_chol[0] = s0.grad()(0), g_chol[1] = p01.grad()(0), g_chol[2] = s1.grad()(0);
    const Sym2 back = covariance_from_precision_cholesky(p00_0, p01_0, p11_0);
    t.check_close("the two parameterizations are the same Σ₀ (Cholesky round trip, entry a)", back.a, sigma0.a,
                  1e-12);
  }
  t.say("");
  t.say("      η   raw: λ_min(Σ₁)   det Σ₁     f(Σ₁)     │ Cholesky: λ_min(Σ₁)   f(Σ₁)");
  const double f0 = [&] {
    tz::Tape<double> tp;
    return weighted_log_normal_raw(tp.constant(A{sigma0.a}), tp.constant(A{sigma0.b}), tp.constant(A{sigma0.c}),
                                   tp.constant(u), tp.constant(v), tp.constant(w))
        .item();
  }();
  const double f_hat = [&] {
    tz::Tape<double> tp;
    return weighted_log_normal_raw(tp.constant(A{s_hat.a}), tp.constant(A{s_hat.b}), tp.constant(A{s_hat.c}),
                                   tp.constant(u), tp.constant(v), tp.constant(w))
        .item();
  }();
  // Σ₀ = 2Σ̂ makes the step exact: ∂f/∂Σ = ½(¼Σ̂⁻¹ − ½Σ̂⁻¹) = −⅛ Σ̂⁻¹, so Σ₁ = 2Σ̂ − (η/8) Σ̂⁻¹ has the
  // eigenvalues 2λ − η/(8λ) for each eigenvalue λ of Σ̂: the smallest turns negative once η > 16 λ_min².
  const double lam1 = s_hat.lambda_min(), lam2 = s_hat.lambda_max();
  double raw_min_at_largest = 0, chol_min_over_all = HUGE_VAL, theory_err = 0;
  std::optional<double> first_bad_eta, first_det_positive_but_bad;
  const std::vector<double> etas = {0.1, 0.3, 1.0, 3.0, 10.0, 30.0};
  for (double eta : etas) {
    const Sym2 raw1{sigma0.a + eta * g_raw[0], sigma0.b + eta * g_raw[1] / 2, sigma0.c + eta * g_raw[2]};
    double f_raw1, f_chol1;
    {
      tz::Tape<double> tp;
      f_raw1 = weighted_log_normal_raw(tp.constant(A{raw1.a}), tp.constant(A{raw1.b}), tp.constant(A{raw1.c}),
                                       tp.constant(u), tp.constant(v), tp.constant(w))
                   .item();
    }
    const double s0_1 = std::log(p00_0) + eta * g_chol[0], p01_1 = p01_0 + eta * g_chol[1],
                 s1_1 = std::log(p11_0) + eta * g_chol[2];
    const double chol1_lambda_min = lambda_min_from_precision_cholesky(std::exp(s0_1), p01_1, std::exp(s1_1));
    {
      tz::Tape<double> tp;
      f_chol1 = weighted_log_normal_cholesky(tp.constant(A{s0_1}), tp.constant(A{p01_1}), tp.constant(A{s1_1}),
                                             tp.constant(u), tp.constant(v), tp.constant(w))
                    .item();
    }
    const bool raw_ok = raw1.lambda_min() > 0;
    if (!raw_ok && !first_bad_eta) first_bad_eta = eta;
    if (!raw_ok && raw1.det() > 0 && !first_det_positive_but_bad) first_det_positive_but_bad = eta;
    raw_min_at_largest = raw1.lambda_min();
    theory_err = std::max(theory_err, std::abs(raw1.lambda_min() - (2 * lam1 - eta / (8 * lam1))));
    chol_min_over_all = std::min(chol_min_over_all, chol1_lambda_min);
    const std::string f_raw_text = std::isnan(f_raw1) ? std::string("NaN") : fmt::format("{:.4f}", f_raw1);
    t.say("  {:5.1f}   {:14.4f}   {:8.4f}   {:>9} {} │ {:19.4g}   {:9.5g}", eta, raw1.lambda_min(), raw1.det(),
          f_raw_text, raw_ok ? " " : "✗", chol1_lambda_min, f_chol1);
  }
  t.say("  f(Σ₀) = {:.4f}, f(Σ̂) = {:.4f} (the maximum). The raw step is the matrix gradient,", f0, f_hat);
  t.say("  Σ₁ = Σ₀ + η ∂f/∂Σ, so b moves by η·(∂f/∂b)/2.");
  t.say("Why, exactly: at Σ₀ = 2Σ̂ the gradient is ∂f/∂Σ = ½(Σ₀⁻¹ Σ̂ Σ₀⁻¹ − Σ₀⁻¹) = −⅛ Σ̂⁻¹, so");
  t.say("Σ₁ = 2Σ̂ − (η/8) Σ̂⁻¹ has eigenvalues 2λ − η/(8λ): negative once η > 16 λ_min² = {:.3f}.", 16 * lam1 * lam1);
  t.check("the raw λ_min(Σ₁) in the table is 2λ_min − η/(8λ_min)", theory_err < 1e-9,
          fmt::format("λ_min(Σ̂) = {:.4f}, max deviation {:.1e}", lam1, theory_err));
  t.check("a raw step leaves the cone: λ_min(Σ₁) < 0 for a large η", first_bad_eta.has_value(),
          first_bad_eta ? fmt::format("from η = {} on; at η = {}: λ_min = {:.3f}", *first_bad_eta, etas.back(),
                                      raw_min_at_largest)
                        : std::string("never"));
  if (first_det_positive_but_bad)
    t.say("At η = {} both eigenvalues are negative (η > 16 λ_max² = {:.2f}): det Σ₁ > 0 again and f is a number,",
          *first_det_positive_but_bad, 16 * lam2 * lam2);
  if (first_det_positive_but_bad)
    t.say("but Σ₁ is no covariance. A test for NaN, or for det > 0, would not catch it; λ_min > 0 does.");
  t.check("a Cholesky step never does: λ_min(Σ₁) > 0 for every η", chol_min_over_all > 0,
          fmt::format("smallest λ_min over all η = {:.3e}", chol_min_over_all));
  t.say("Valid is not the same as good: too large a Cholesky step overshoots too (f falls). But it");
  t.say("overshoots to another covariance, never to a non-covariance: f(Σ₁) stays a number.");

  // ---- Step 6: the same inside a fit -----------------------------------------------------------
  t.step(6, "The same inside a fit: raw Σ_k against the Cholesky parameterization, with anomaly mode on");
  struct Outcome {
    std::optional<std::size_t> failed_at;
    double ll = 0, lambda_min = HUGE_VAL;
    std::string what;
  };
  // Runs `steps` steps of Adam on −(1/N) ℓ from the start of step 1, in one parameterization.
  auto run_fit = [&](bool raw, double rate, std::size_t steps) {
    Outcome o;
    tz::models::gmm::GaussianMixture s0(options);
    s0.set_parameters(init, "the initial parameters");
    tz::models::gmm::UnconstrainedParameters th = s0.unconstrained();
    tz::Param<double> logits("logits", A(xt::log(init.weights)));
    tz::Param<double> means("means", A(init.means));
    A cov0 = A::from_shape({K, 3});
    for (std::size_t k = 0; k < K; ++k) {
      cov0(k, 0) = init.covariances(k, 0, 0);
      cov0(k, 1) = init.covariances(k, 0, 1);
      cov0(k, 2) = init.covariances(k, 1, 1);
    }
    tz::Param<double> cov("cov", cov0);
    std::vector<tz::Param<double>*> params = raw ? std::vector<tz::Param<double>*>{&logits, &means, &cov} : th.all();
    tz::nn::Adam<double> adam(params, {.lr = rate});
    tz::Tape<double> tp;
    tp.set_detect_anomaly(true);
    for (std::size_t it = 0; it < steps; ++it) {
      tp.clear();
      try {
        V ll = raw ? mean_log_likelihood_raw(tp, x_array, logits, means, cov)
                   : tz::models::gmm::mean_log_likelihood(tp.constant(x_array), th, CovarianceType::full);
        o.ll = ll.item();
        tp.backward(-ll);
      } catch (const tz::AnomalyError& e) {
        o.failed_at = it;
        o.what = e.what();
        break;
      }
      adam.step();
      for (auto* p : params) p->zero_grad();
    }
    for (std::size_t k = 0; k < K; ++k) {
      const double lambda_min =
          raw ? Sym2{cov.value(k, 0), cov.value(k, 1), cov.value(k, 2)}.lambda_min()
              : lambda_min_from_precision_cholesky(std::exp(th.log_diag.value(k, 0)), th.chol_offdiag.value(k, 0, 1),
                                                   std::exp(th.log_diag.value(k, 1)));
      o.lambda_min = std::min(o.lambda_min, lambda_min);
    }
    return o;
  };
  t.say("Adam from step 1's start, 300 steps, at five learning rates. The raw run keeps Σ_k = [[a, b], [b, c]]");
  t.say("as three free numbers per component (log det Σ and Σ⁻¹ written out for 2×2). Anomaly mode stops a");
  t.say("run at its first NaN and names the op. λ_min is the smallest eigenvalue over the K covariances.");
  t.say("");
  t.say("     lr   raw Σ_k                                  Cholesky of Σ_k⁻¹");
  const std::vector<double> rates = {0.05, 0.2, 0.5, 1.0, 2.0};
  std::string first_anomaly;
  double worst_chol_lambda = HUGE_VAL;
  int raw_failures = 0;
  std::optional<double> chol_gap_where_raw_failed;  // at the smallest lr where the raw run failed
  std::vector<std::string> chol_elsewhere;
  bool chol_collapsed = false;
  for (double rate : rates) {
    const Outcome r = run_fit(/*raw=*/true, rate, 300), c = run_fit(/*raw=*/false, rate, 300);
    auto show = [](const Outcome& o) {
      return o.failed_at ? fmt::format("NaN at step {:3d}, λ_min = {:7.3g}", *o.failed_at, o.lambda_min)
                         : fmt::format("ℓ = {:.6f},   λ_min = {:7.3g}", o.ll, o.lambda_min);
    };
    t.say("  {:5.2f}   {:<40} {}", rate, show(r), show(c));
    if (r.failed_at) {
      ++raw_failures;
      if (first_anomaly.empty()) first_anomaly = r.what;
    }
    worst_chol_lambda = std::min(worst_chol_lambda, c.failed_at ? -HUGE_VAL : c.lambda_min);
    if (r.failed_at && !chol_gap_where_raw_failed)
      chol_gap_where_raw_failed = c.failed_at ? HUGE_VAL : std::abs(c.ll - ll_em);
    if (!c.failed_at && std::abs(c.ll - ll_em) > 1e-4)
      chol_elsewhere.push_back(fmt::format("lr = {} (ℓ = {:.6f}, λ_min = {:.3g})", rate, c.ll, c.lambda_min));
    if (!c.failed_at && c.lambda_min < 1e-3) chol_collapsed = true;
  }
  t.say("");
  if (!first_anomaly.empty()) {
    t.say("The first raw failure, as anomaly mode reports it:");
    t.say("  {}", first_anomaly);
    t.say("The log is log det Σ_k = log(a c − b²) (the sub before it): Adam moves a, b and c independently,");
    t.say("each by up to about lr per step, and nothing keeps a c − b² (or a, or c) above 0.");
  }
  t.check("raw Σ: leaves the cone (λ_min < 0, log det = NaN) at some lr", raw_failures >= 1,
          fmt::format("{} of {} learning rates failed", raw_failures, rates.size()));
  t.check("Cholesky: finite and positive definite at every lr", worst_chol_lambda > 0,
          fmt::format("smallest λ_min over all runs = {:.3g}", worst_chol_lambda));
  if (chol_gap_where_raw_failed && *chol_gap_where_raw_failed < 1e-4)
    t.say("Where the raw run first failed, the Cholesky run reached EM's ℓ (|ℓ − ℓ_EM| = {:.1e}).",
          *chol_gap_where_raw_failed);
  for (const std::string& e : chol_elsewhere)
    t.say("At {} the Cholesky run is valid, but after 300 steps not at EM's maximum.", e);
  if (!chol_elsewhere.empty()) {
    t.say("A step of size lr in s scales a standard deviation by up to e^lr: with large steps Adam wanders");
    t.say("over plateaus, jitters around a crest or settles on another one. Valid, but not EM's answer.");
  }
  if (chol_collapsed) {
    t.say("λ_min ≈ 0 is a collapsing component: one Gaussian shrinking onto a few points, where ℓ is");
    t.say("unbounded (docs/pitfalls.md#em-stability). Still a covariance, since e^s > 0, but a useless one.");
  }
  t.note("not a licence for any step size: a large enough step overshoots into a collapsing component\n"
         "(λ_min → 0), and plain SGD with a large lr overflows e^s to inf. The Cholesky run stays a covariance\n"
         "as long as its numbers stay finite, which the raw parameterization cannot promise at any lr.");

  // ---- Step 7: a picture -----------------------------------------------------------------------
  t.step(7, "Pictures: the GD fit, and both learning curves");
  Matrix gd_resp;
  gd_model.e_step(x, gd_resp);
  std::vector<tz::CovarianceEllipse> ell;
  for (std::size_t k = 0; k < K; ++k) {
    const Sym2 S = covariance(gd_model, k);
    ell.push_back({gd_model.means()(k, 0), gd_model.means()(k, 1), S.a, S.b, S.c, tz::palette_color(k)});
  }
  const auto png = t.out_file("gmm_gradient.png");
  tz::save_scatter_plot(png.string(), x, tz::responsibility_colors(gd_resp), ell,
                        {.title = fmt::format("Adam, {} steps", gd_iters),
                         .xlabel = "x1",
                         .ylabel = "x2",
                         .point_radius = N > 1000 ? 1.3 : 2.0});
  std::vector<double> em_x, em_y, gd_x, gd_y;
  for (std::size_t i = 0; i < em.lower_bounds().size(); ++i)
    em_x.push_back(static_cast<double>(i + 1)), em_y.push_back(em.lower_bounds()[i]);
  for (std::size_t i = 0; i < lls.size(); ++i) gd_x.push_back(static_cast<double>(i + 1)), gd_y.push_back(lls[i]);
  const auto curves = t.out_file("gmm_gradient_curves.png");
  tz::save_line_plot(curves.string(), {{"EM", em_x, em_y}, {"Adam on the tape", gd_x, gd_y}},
                     {.title = "EM vs Adam: mean log-likelihood",
                      .xlabel = "iteration (log scale)",
                      .ylabel = "nats per point",
                      .log_x = true});
  for (const auto& f : {png, curves}) {
    const bool ok = std::filesystem::exists(f) && std::filesystem::file_size(f) > 1000;
    t.check(fmt::format("wrote {}", f.filename().string()), ok,
            ok ? fmt::format("{} ({} bytes)", f.string(), std::filesystem::file_size(f)) : f.string());
  }
  t.say("gmm_gradient.png should look like tutorial 02's gmm_em.png: the same maximum.");
  t.say("gmm_gradient_curves.png: EM is flat after ~{} iterations, Adam after a few hundred.", em.n_iter());

  return t.finish();
}
