// tutorial: the Gaussian mixture by gradient ascent on the tape (Adam) against EM, and why the parameterization matters
//
// The model and data of tutorial 02 (Bishop, PRML §9.2): z_n ~ Categorical(π), x_n | z_n = k ~ N(μ_k, Σ_k).
// Objective: the mean log-likelihood (1/N) ℓ(θ) = (1/N) Σ_n log Σ_k π_k N(x_n | μ_k, Σ_k)  (PRML 9.14),
// now maximised by Adam (Kingma & Ba 2015) with the gradient from one backward sweep of the tape.
//
// Gradient steps move parameters anywhere in ℝ^p, but π must lie on the simplex and every Σ_k
// must be symmetric positive definite. So the tape works in unconstrained coordinates that map
// onto the constraints (scikit-learn's precisions_cholesky; Stan's cholesky_factor_cov transform),
// as models/gmm_tape.hpp records them:
//   π = softmax(α)                                   any α ∈ ℝ^K gives π_k > 0, Σ_k π_k = 1
//   P_k = strictly-upper(U_k) + diag(e^{s_k})        upper triangular with a positive diagonal,
//   Σ_k⁻¹ = P_k P_kᵀ                                 hence positive definite, for every U_k and s_k
//   log N(x | μ, Σ) = −½ D log 2π + Σ_d s_d − ½ ‖(x − μ) P‖²
// Only matmuls, sums and exps: no determinant, inverse or Cholesky decomposition on the tape.
// The raw alternative, Σ_k itself as the parameter, needs log det Σ and Σ⁻¹ on the tape and, worse,
// a gradient step can leave the positive-definite cone (step 5 shows it with numbers).
//
// Steps: 1 data and the EM baseline, 2 the log-likelihood on the tape (checked against EM and
// finite differences), 3 EM's fixed point has zero gradient and EM is coordinate ascent on the ELBO,
// 4 Adam against EM, 5 one gradient step on a raw covariance leaves the cone, 6 the same inside a
// fit, 7 pictures. Every check names its row of tutorials/claims.hpp.
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
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
#include "tutorials/gmm_grad_steps.hpp"
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
using tz::models::gmm::GaussianMixture;
using tz::models::gmm::UnconstrainedParameters;
using tz::tutorial::claim;
using tz::tutorial::Tutorial;
using tz::tutorial::gmm_grad::covariance;
using tz::tutorial::gmm_grad::Sym2;

namespace {

double max_abs_grad(tz::models::gmm::UnconstrainedParameters& theta) {
  double g = 0;
  for (auto* p : theta.all())
    for (double v : p->grad) g = std::max(g, std::abs(v));
  return g;
}

// What step 1 hands on: the data, the start both methods share, EM's options, fit and time.
struct Baseline {
  tz::MixtureData data;
  A x_array;
  tz::models::gmm::Parameters init;
  tz::models::gmm::Options options;
  GaussianMixture em{tz::models::gmm::Options{}};
  double ll_em = 0, em_ms = 0;
};

// Step 1: tutorial 02's data and start, and EM's fit from there (the reference for GD).
Baseline step_data_and_em_baseline(Tutorial& t, std::size_t N, tz::Rng& rng) {
  t.step(1, "Data and the EM baseline: tutorial 02's N = {} points, K = {}, from the same start", N, K);
  Baseline b;
  b.data = make_data(N, rng);
  const Matrix& x = b.data.x;
  b.x_array = x;
  const tz::models::gmm::Parameters init = b.init = initial_parameters(x, rng);
  tz::models::gmm::Options& options = b.options;
  options.n_components = K;
  options.covariance_type = CovarianceType::full;
  options.reg_covar = 0.0;  // textbook EM, as in tutorial 02: then EM's fixed point is exactly ∇ℓ = 0
  options.tol = 1e-12;  // to the last digits ℓ can resolve: the reference for GD
  options.max_iter = 5000;
  options.init_parameters = init;
  GaussianMixture& em = b.em = GaussianMixture(options);
  em.fit(x);
  const double ll_em = b.ll_em = em.score(x);
  // time per iteration: the best of a few runs (the first one warms the caches)
  double& em_ms = b.em_ms = em.ms_per_iter();
  for (int r = 0; r < 4; ++r) {
    tz::models::gmm::GaussianMixture again(options);
    again.fit(x);
    em_ms = std::min(em_ms, again.ms_per_iter());
  }
  t.say("EM (GaussianMixture::fit): {} iterations to |Δℓ| < 1e-12, (1/N) ℓ = {:.10f}", em.n_iter(), ll_em);
  t.say("                           {:.4f} ms per iteration, {:.2f} ms in all", em_ms, em_ms * em.n_iter());
  return b;
}

// Step 2: the log-likelihood on the tape, against score() and central differences.
UnconstrainedParameters step_loglik_on_the_tape(Tutorial& t, const Baseline& b, tz::Tape<double>& tape) {
  const Matrix& x = b.data.x;
  const A& x_array = b.x_array;
  const tz::models::gmm::Options& options = b.options;
  const tz::models::gmm::Parameters& init = b.init;
  t.step(2, "The log-likelihood on the tape: softmax weights, means, Cholesky factor of the precision");
  t.say("  π = softmax(α)         P_k = strictly-upper(U_k) + diag(e^s_k)       Σ_k⁻¹ = P_k P_kᵀ");
  t.say("  log N(x|μ_k,Σ_k) = −½ D log 2π + Σ_d s_kd − ½ ‖(x − μ_k) P_k‖²");
  t.say("  (1/N) ℓ = mean_n logsumexp_k [log_softmax(α)_k + log N(x_n|μ_k,Σ_k)]");
  t.say("Every α, μ, U, s in ℝ gives a valid mixture: π on the simplex, Σ_k positive definite.");
  t.say("tz::models::gmm::mean_log_likelihood (models/gmm_tape.hpp) records exactly these ops.");
  tz::models::gmm::GaussianMixture start(options);
  start.set_parameters(init, "the initial parameters");
  UnconstrainedParameters theta = start.unconstrained();  // α = log π, U and s from P
  V ll_start = tz::models::gmm::mean_log_likelihood(tape.constant(x_array, "x"), theta, CovarianceType::full);
  t.say("One evaluation records {} nodes for K = {} components.", tape.size(), K);
  // score() sums the same N·K terms in another order, on plain loops or the kernels: rounding ~1e-15.
  t.check_close(claim("gmm-tape-log-likelihood"), "(1/N) ℓ on the tape = GaussianMixture::score at the start",
                ll_start.item(), start.score(x), 1e-12);
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
    t.check(claim("gmm-tape-gradcheck"), "gradcheck: backward vs central differences, all of α, μ, U, s", r.ok,
            r.ok ? fmt::format("{} elements, max |error| = {:.1e}", r.checked, r.max_abs_error) : r.message);
  }
  return theta;
}

// Step 3: the tape's gradient vanishes at EM's answer; returns max |∂ℓ/∂θ| at the start.
double step_em_fixed_point_has_zero_gradient(Tutorial& t, const Baseline& b, tz::Tape<double>& tape,
                                             UnconstrainedParameters& theta) {
  const A& x_array = b.x_array;
  t.step(3, "EM's fixed point has zero gradient: the M-step equations are ∇ℓ = 0");
  t.say("At a fixed point the M-step returns θ itself, and its equations (π_k = N_k/N, μ_k and Σ_k");
  t.say("the weighted mean and covariance) are what ∂ℓ/∂θ = 0 says. So the tape's gradient at EM's");
  t.say("answer should vanish, while it is far from 0 at the start:");
  tape.clear();
  tape.backward(tz::models::gmm::mean_log_likelihood(tape.constant(x_array), theta, CovarianceType::full));
  const double g_start = max_abs_grad(theta);
  for (auto* p : theta.all()) p->zero_grad();
  UnconstrainedParameters theta_em = b.em.unconstrained();
  tape.clear();
  V ll_at_em = tz::models::gmm::mean_log_likelihood(tape.constant(x_array), theta_em, CovarianceType::full);
  tape.backward(ll_at_em);
  const double g_em = max_abs_grad(theta_em);
  t.check_close(claim("gmm-tape-log-likelihood"), "(1/N) ℓ on the tape at EM's θ = EM's score", ll_at_em.item(),
                b.ll_em, 1e-12);
  // Not exactly 0: EM stopped once |Δℓ| < 1e-12. It converges linearly (Δℓ shrinks by a factor ρ ≈ 0.3
  // per iteration, tutorial 02's table), so ℓ* − ℓ ≤ Δℓ ρ/(1 − ρ) < 1e-12, and near the maximum
  // ‖∇ℓ‖² ≈ 2h(ℓ* − ℓ): with curvatures h ≤ 10 (per point), |∂ℓ/∂θ| ≲ √(2·10·1e-12) ≈ 5e-6.
  t.check(claim("em-fixed-point"), "the gradient at EM's θ is 0, to what EM's stopping rule allows", g_em < 1e-5,
          fmt::format("max |∂ℓ/∂θ| = {:.1e} < 1e-5 there, {:.1e} at the start", g_em, g_start));
  t.say("EM is coordinate ascent on ELBO(q, θ): the E-step maximises it over q (the bound becomes tight),");
  t.say("the M-step over θ. EM's run replayed by hand (tutorials/gmm_data.cpp: em_by_hand), step by step:");
  GaussianMixture replay(b.options);
  const std::vector<EmIteration> its = em_by_hand(b.data.x, replay, b.init, b.options.max_iter, b.options.tol);
  double max_gap = 0, min_rise = HUGE_VAL;
  for (const EmIteration& it : its) max_gap = std::max(max_gap, std::abs(it.gap_after)), min_rise = std::min(min_rise, it.m_rise);
  // ℓ and the ELBO are means of N·K terms of size ≲ 30 summed in another order: rounding ~1e-14.
  t.check(claim("em-fixed-point"), "after each of its E-steps the ELBO equals ℓ", max_gap < 1e-12,
          fmt::format("max |ℓ − ELBO(r, θ)| = {:.1e} < 1e-12 over {} iterations", max_gap, its.size()));
  t.check(claim("em-fixed-point"), "and each of its M-steps raises the ELBO", min_rise >= -1e-13,
          fmt::format("smallest ELBO(r, θ_new) − ELBO(r, θ) = {:.1e} ≥ −1e-13 (rounding)", min_rise));
  return g_start;
}

// What Adam's run of step 4 ends with: ℓ before each step and at the end, the time per step, and
// max |∂ℓ/∂θ| at the end.
struct AdamRun {
  std::vector<double> lls;
  double gd_ms = 0, g_gd = 0;
};

// Step 4's loop: gd_iters full-batch Adam steps on −(1/N) ℓ, theta updated in place.
AdamRun run_adam(tz::Tape<double>& tape, const A& x_array, UnconstrainedParameters& theta, double lr,
                 std::size_t gd_iters) {
  AdamRun r;
  std::vector<double>& lls = r.lls;
  lls.reserve(gd_iters + 1);
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
  r.gd_ms = std::chrono::duration<double, std::milli>(clock_type::now() - t0).count() / gd_iters;
  tape.clear();
  V ll_final = tz::models::gmm::mean_log_likelihood(tape.constant(x_array), theta, CovarianceType::full);
  lls.push_back(ll_final.item());
  tape.backward(ll_final);
  r.g_gd = max_abs_grad(theta);
  for (auto* p : theta.all()) p->zero_grad();
  return r;
}

// Step 4, Adam against EM: the table, the speeds, and the stationary point GD ends at.
void report_adam_against_em(Tutorial& t, const Baseline& b, const AdamRun& r, double g_start, std::size_t gd_iters) {
  const std::vector<double>& lls = r.lls;
  const double ll_em = b.ll_em, em_ms = b.em_ms, gd_ms = r.gd_ms, g_gd = r.g_gd;
  const GaussianMixture& em = b.em;
  t.say("\n   step    (1/N) ℓ(θ)      ℓ_EM − ℓ");
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
  t.note("a common presentation of this road writes 'gradient descent' with a +, θ ← θ + η∇ℓ: that is ascent\n"
         "on ℓ. Descent is θ ← θ − η∇L on the loss L = −ℓ, which is what backward(−ℓ) and Adam do here.");
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
  // the same bound as EM's in step 3: |∂ℓ/∂θ| < 1e-5
  t.check(claim("adam-finds-em-maximum"), "GD ends at a stationary point of ℓ", g_gd < 1e-5,
          fmt::format("max |∂ℓ/∂θ| = {:.1e} < 1e-5 (at the start {:.1e})", g_gd, g_start));
  if (std::abs(ll_em - ll_gd) >= 1e-6)
    t.say("ℓ_GD ≠ ℓ_EM: from the same start, EM and Adam took different paths and ended on different\n"
          "crests of ℓ (ℓ_EM − ℓ_GD = {:+.2e}). Neither method promises the global maximum; restarts\n"
          "(GaussianMixture's n_init) are the usual remedy.",
          ll_em - ll_gd);
  // EM's ℓ is within ~1e-12 of its crest (step 3): 1e-10 allows for Adam's own last steps.
  t.check(claim("adam-finds-em-maximum"), "GD reaches EM's log-likelihood", std::abs(ll_em - ll_gd) < 1e-10,
          fmt::format("|ℓ_EM − ℓ_GD| = {:.1e} < 1e-10 nats per point", std::abs(ll_em - ll_gd)));
  t.check(claim("em-needs-fewer-iterations"), "EM gets within 1e-6 of its maximum in fewer iterations than Adam",
          w6 && em_first_within(1e-6) < *w6,
          fmt::format("{} EM iterations < {} Adam steps", em_first_within(1e-6), w6 ? fmt::format("{}", *w6) : "no"));
}

// Step 4, the same maximum: GD's parameters against EM's, under the best relabelling.
void check_same_maximum(Tutorial& t, const Baseline& b, const AdamRun& r, const UnconstrainedParameters& theta,
                        GaussianMixture& gd_model) {
  const double ll_em = b.ll_em, em_ms = b.em_ms, gd_ms = r.gd_ms, ll_gd = r.lls.back();
  const GaussianMixture& em = b.em;
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
  // ℓ* − ℓ ≲ 1e-12 at both ends, so each parameter is within √(2·1e-12 / h) ≈ 1e-6 of the crest for
  // curvatures h ≥ 1; 1e-5 allows flatter directions, down to h ≈ 0.02.
  t.check(claim("adam-finds-em-maximum"), "both find the same maximum: the parameters agree",
          max_mu < 1e-5 && max_sigma < 1e-5,
          fmt::format("max |μ_GD − μ_EM| = {:.1e}, max |Σ_GD − Σ_EM| = {:.1e} (< 1e-5){}", max_mu, max_sigma,
                      relabelled ? " (after relabelling the components)" : ""));
  if (ll_gd > ll_em)
    t.note("GD ends {:.1e} above EM: EM stopped once |Δℓ| < 1e-12, a hair short of the maximum", ll_gd - ll_em);
  t.say("On this run EM took {:.4f} ms per iteration, Adam {:.4f} ms per step (one pass without a tape against",
        em_ms, gd_ms);
  t.say("a recorded forward and backward; bench/ measures such speeds, a tutorial only reports them).");
}

// Step 4: Adam from EM's start against EM. Leaves GD's fit in gd_model; returns ℓ at each step.
std::vector<double> step_adam_against_em(Tutorial& t, const Baseline& b, tz::Tape<double>& tape,
                                         UnconstrainedParameters& theta, double g_start, double lr,
                                         std::size_t gd_iters, GaussianMixture& gd_model) {
  t.step(4, "Adam on −(1/N) ℓ: lr = {}, {} full-batch steps, from EM's start", lr, gd_iters);
  t.say("Each step is the tape's life cycle: clear, record ℓ, backward(−ℓ), Adam step, zero_grad.");
  const AdamRun r = run_adam(tape, b.x_array, theta, lr, gd_iters);
  report_adam_against_em(t, b, r, g_start, gd_iters);
  check_same_maximum(t, b, r, theta, gd_model);
  // GaussianMixture::fit_gradient runs this loop: from the same start, the same answer.
  {
    GaussianMixture gd(b.options);
    gd.set_parameters(b.init, "the initial parameters");  // a fitted start: fit_gradient goes on from here
    gd.fit_gradient(b.data.x, {.optimizer = "adam", .learning_rate = lr, .max_iter = gd_iters, .tol = 0.0});
    t.check_close(claim("fit-gradient-is-the-loop"), "GaussianMixture::fit_gradient from the same start gives the same ℓ",
                  gd.score(b.data.x), r.lls.back(), 1e-12);
  }
  return r.lls;
}

// Step 5 (tutorials/gmm_grad_steps.cpp computes it, this checks it): one gradient step on a raw
// covariance leaves the positive-definite cone, one on the Cholesky factor of the precision cannot.
void step_raw_step_leaves_the_cone(Tutorial& t, const Baseline& b) {
  const tz::tutorial::gmm_grad::OneComponent c = tz::tutorial::gmm_grad::step_gradients_at_twice_too_wide(t, b.data.x, b.em);
  t.say("The tape's gradient against the matrix calculus ∂f/∂Σ = ½(Σ⁻¹ Σ̂ Σ⁻¹ − Σ⁻¹) (b sits at (0,1) and (1,0)):");
  // Both sides sum N terms of size O(1) in another order: rounding ≲ N·ε ≈ 1e-12 relative.
  const char* names[] = {"∂f/∂a = (∂f/∂Σ)₀₀", "∂f/∂b = 2·(∂f/∂Σ)₀₁", "∂f/∂c = (∂f/∂Σ)₁₁"};
  for (int i = 0; i < 3; ++i)
    t.check_close(claim("raw-covariance-gradient"), names[i], c.g_raw[i], c.g_matrix[i], 1e-10, 1e-14);
  const Sym2 &s0 = c.sigma0, &rt = c.round_trip;
  const double rt_err = std::max({std::abs(rt.a - s0.a), std::abs(rt.b - s0.b), std::abs(rt.c - s0.c)});
  t.check(claim("precision-cholesky-round-trip"), "the two parameterizations are the same Σ₀: (P₀ P₀ᵀ)⁻¹ = Σ₀",
          rt_err < 1e-12, fmt::format("max entry error {:.1e} < 1e-12", rt_err));
  const tz::tutorial::gmm_grad::OneStep r = tz::tutorial::gmm_grad::step_one_step_each_way(t, c);
  t.check(claim("raw-step-eigenvalues"), "the raw λ_min(Σ₁) in the table is 2λ_min − η/(8λ_min)", r.theory_err < 1e-12,
          fmt::format("λ_min(Σ̂) = {:.4f}, max deviation {:.1e} < 1e-12", r.lambda_hat_min, r.theory_err));
  t.check(claim("raw-step-leaves-the-cone"), "a raw step leaves the cone: λ_min(Σ₁) < 0 for a large η",
          r.first_bad_eta.has_value(),
          r.first_bad_eta ? fmt::format("from η = {} on; at η = {}: λ_min = {:.3f}", *r.first_bad_eta, r.eta_last,
                                        r.raw_min_at_last)
                          : std::string("never"));
  t.identity("a Cholesky step never does: Σ₁⁻¹ = P₁ P₁ᵀ with e^s > 0, whatever the step",
             fmt::format("smallest λ_min over all η = {:.3e}", r.chol_min_over_all));
}

// Step 6 (computed in tutorials/gmm_grad_steps.cpp): the same inside whole fits, at five learning rates.
void step_same_inside_a_fit(Tutorial& t, const Baseline& b) {
  const tz::tutorial::gmm_grad::FitComparison f =
      tz::tutorial::gmm_grad::step_same_inside_a_fit(t, b.x_array, b.options, b.init, b.ll_em);
  t.check(claim("raw-step-leaves-the-cone"), "raw Σ: leaves the cone (λ_min < 0, log det = NaN) at some lr",
          f.raw_failures >= 1, fmt::format("{} of {} learning rates failed", f.raw_failures, f.n_rates));
  // Positive definite whenever finite, by construction; what can fail is finiteness (e^s overflowing).
  t.check(claim("cholesky-stays-in-the-cone"), "Cholesky: finite, hence positive definite, at every lr",
          f.chol_failures == 0, fmt::format("{} of {} runs hit NaN or inf; smallest λ_min = {:.3g}", f.chol_failures,
                                            f.n_rates, f.chol_lambda_min));
}

// Step 7: the GD fit, and both learning curves.
void step_pictures(Tutorial& t, const Baseline& b, const GaussianMixture& gd_model, const std::vector<double>& lls,
                   std::size_t gd_iters) {
  const Matrix& x = b.data.x;
  const std::size_t N = x.shape(0);
  const GaussianMixture& em = b.em;
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
  t.say("Wrote gmm_gradient.png and gmm_gradient_curves.png to {}.", t.out_dir().string());
  // gmm_gradient.png colours point n by Σ_k r_nk colour_k, so its colours are EM's (tutorial 02's
  // gmm_em.png) to within 255·Σ_k |Δr_nk| levels of 8 bits: the check asks less than half a level.
  Matrix em_resp;
  em.e_step(x, em_resp);
  const std::vector<std::size_t> match = match_components(gd_model.means(), em.means());
  double max_dr = 0;
  for (std::size_t n = 0; n < N; ++n) {
    double dr = 0;
    for (std::size_t k = 0; k < K; ++k) dr += std::abs(gd_resp(n, match[k]) - em_resp(n, k));
    max_dr = std::max(max_dr, dr);
  }
  t.check(claim("adam-finds-em-maximum"), "gmm_gradient.png has EM's colours: the same maximum", 255 * max_dr < 0.5,
          fmt::format("max_n 255·Σ_k |r_GD − r_EM| = {:.1e} < 0.5 of an 8-bit level", 255 * max_dr));
  // the first index from which a curve stays within 1e-6 of its last value
  auto flat_from = [](const std::vector<double>& c) {
    std::size_t i = c.size();
    for (; i > 0 && std::abs(c.back() - c[i - 1]) < 1e-6; --i) {}
    return i;
  };
  t.say("gmm_gradient_curves.png: EM's curve stays within 1e-6 of its end from iteration {}, Adam's from step {}",
        flat_from(em.lower_bounds()) + 1, flat_from(lls));
  t.say("(the table of step 4, on a logarithmic x axis).");
}

}  // namespace

int main(int argc, char** argv) {
  Tutorial t("03_gmm_gradient", "the Gaussian mixture by gradient ascent on the tape, against EM", 7);
  double lr = 0.05;
  t.add_option("--lr", lr, "Adam's learning rate (steps 4 and 6)");
  if (auto rc = t.parse(argc, argv)) return *rc;
  tz::Rng rng(t.seed());
  const std::size_t N = t.pick<std::size_t>(3000, 600);
  const std::size_t gd_iters = t.pick<std::size_t>(1000, 500);

  const Baseline b = step_data_and_em_baseline(t, N, rng);
  tz::Tape<double> tape;
  UnconstrainedParameters theta = step_loglik_on_the_tape(t, b, tape);
  const double g_start = step_em_fixed_point_has_zero_gradient(t, b, tape, theta);
  GaussianMixture gd_model(b.options);  // the fit of step 4, for step 7
  const std::vector<double> lls = step_adam_against_em(t, b, tape, theta, g_start, lr, gd_iters, gd_model);
  step_raw_step_leaves_the_cone(t, b);
  step_same_inside_a_fit(t, b);
  step_pictures(t, b, gd_model, lls, gd_iters);
  return t.finish();
}
