// tapezoo tutorial 03, steps 5 and 6 (see gmm_grad_steps.hpp).
#include "tutorials/gmm_grad_steps.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

#include <xtensor/xview.hpp>

#include "autograd/ops.hpp"
#include "distributions/constants.hpp"
#include "nn/optim.hpp"
#include "tutorials/gmm_data.hpp"

namespace tz::tutorial::gmm_grad {

using tz::models::gmm::CovarianceType;
using tz::models::gmm::GaussianMixture;
using tz::models::gmm::Matrix;
using namespace tz::tutorial::gmm_data;  // K, D
using A = tz::Array<double>;
using V = tz::Var<double>;
using tz::kLog2Pi;

Sym2 covariance(const tz::models::gmm::GaussianMixture& m, std::size_t k) {
  const auto& S = m.covariances();
  return {S(k, 0, 0), S(k, 0, 1), S(k, 1, 1)};
}

namespace {

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

// Step 5, first half: component k of EM's fit with its responsibilities held fixed, Σ₀ = 2Σ̂, and
// the gradient of f at Σ₀ in each parameterization (checked against the matrix calculus).
OneComponent step_gradients_at_twice_too_wide(Tutorial& t, const Matrix& x, const GaussianMixture& em) {
  t.step(5, "Why the parameterization matters: one gradient step on a raw Σ can leave the PD cone");
  // the narrowest fitted component, and its responsibilities
  std::size_t kc = 0;
  for (std::size_t k = 1; k < K; ++k)
    if (covariance(em, k).lambda_min() < covariance(em, kc).lambda_min()) kc = k;
  const std::size_t N = x.shape(0);
  Matrix resp;
  em.e_step(x, resp);
  OneComponent c;
  A& w = c.w = A::from_shape({N});
  A& u = c.u = A::from_shape({N});
  A& v = c.v = A::from_shape({N});
  double nk = 0;
  for (std::size_t n = 0; n < N; ++n) nk += resp(n, kc);
  for (std::size_t n = 0; n < N; ++n) {
    w(n) = resp(n, kc) / nk;
    u(n) = x(n, 0) - em.means()(kc, 0);
    v(n) = x(n, 1) - em.means()(kc, 1);
  }
  // Σ̂ = Σ_n w_n (x_n − μ_k)(x_n − μ_k)ᵀ, the maximiser of f (the M-step's Σ_k for these r)
  Sym2& s_hat = c.s_hat;  // starts at 0
  for (std::size_t n = 0; n < N; ++n) {
    s_hat.a += w(n) * u(n) * u(n);
    s_hat.b += w(n) * u(n) * v(n);
    s_hat.c += w(n) * v(n) * v(n);
  }
  const Sym2 sigma0 = c.sigma0 = {2 * s_hat.a, 2 * s_hat.b, 2 * s_hat.c};
  t.say("Component {} of EM's fit, with its responsibilities w_n = r_nk/N_k held fixed. The part of the", kc);
  t.say("ELBO its covariance controls is f(Σ) = Σ_n w_n log N(x_n | μ_k, Σ), maximised by the M-step's");
  t.say("Σ̂ = {} (eigenvalues {:.3f}, {:.3f}).", s_hat.str(), s_hat.lambda_min(), s_hat.lambda_max());
  t.say("Start twice too wide, Σ₀ = 2Σ̂, where the gradient says: shrink. Take one gradient-ascent step");
  t.say("of size η in each parameterization:");
  t.say("  raw       θ = (a, b, c), Σ = [[a, b], [b, c]]                 Σ₁ = Σ₀ + η ∇_Σ f");
  t.say("  Cholesky  θ = (s0, p01, s1), P = [[e^s0, p01], [0, e^s1]]     Σ₁ = (P₁ P₁ᵀ)⁻¹");
  // gradients on the tape, at Σ₀
  double* g_raw = c.g_raw;
  double* g_chol = c.g_chol;
  double* g_matrix = c.g_matrix;
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
    g_matrix[0] = g00, g_matrix[1] = 2 * g01, g_matrix[2] = g11;
  }
  // P₀ from Σ₀⁻¹ = P Pᵀ: p11 = √(Σ⁻¹)₁₁, p01 = (Σ⁻¹)₀₁/p11, p00 = √((Σ⁻¹)₀₀ − p01²)
  const Sym2 prec0 = sigma0.inverse();
  const double p11_0 = c.p11 = std::sqrt(prec0.c), p01_0 = c.p01 = prec0.b / p11_0;
  const double p00_0 = c.p00 = std::sqrt(prec0.a - p01_0 * p01_0);
  Sym2& round_trip = c.round_trip;
  {
    tz::Tape<double> tp;
    V s0 = tp.leaf(A{std::log(p00_0)}), p01 = tp.leaf(A{p01_0}), s1 = tp.leaf(A{std::log(p11_0)});
    V f = weighted_log_normal_cholesky(s0, p01, s1, tp.constant(u), tp.constant(v), tp.constant(w));
    tp.backward(f);
    g_chol[0] = s0.grad()(0), g_chol[1] = p01.grad()(0), g_chol[2] = s1.grad()(0);
    round_trip = covariance_from_precision_cholesky(p00_0, p01_0, p11_0);
  }
  return c;
}

// Step 5, second half: one gradient step of size η in each parameterization, for several η.
OneStep step_one_step_each_way(Tutorial& t, const OneComponent& c) {
  const Sym2 &sigma0 = c.sigma0, &s_hat = c.s_hat;
  const double *g_raw = c.g_raw, *g_chol = c.g_chol;
  const double p00_0 = c.p00, p01_0 = c.p01, p11_0 = c.p11;
  const A &u = c.u, &v = c.v, &w = c.w;
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
  if (first_det_positive_but_bad)
    t.say("At η = {} both eigenvalues are negative (η > 16 λ_max² = {:.2f}): det Σ₁ > 0 again and f is a number,",
          *first_det_positive_but_bad, 16 * lam2 * lam2);
  if (first_det_positive_but_bad)
    t.say("but Σ₁ is no covariance. A test for NaN, or for det > 0, would not catch it; λ_min > 0 does.");
  t.say("Valid is not the same as good: too large a Cholesky step overshoots too (f falls). But it");
  t.say("overshoots to another covariance, never to a non-covariance: f(Σ₁) stays a number.");
  return {theory_err, lam1, first_bad_eta, etas.back(), raw_min_at_largest, chol_min_over_all};
}

namespace {

// What one run of step 6 ends with.
struct Outcome {
  std::optional<std::size_t> failed_at;
  double ll = 0, lambda_min = HUGE_VAL;
  std::string what;
};

// Runs `steps` steps of Adam on −(1/N) ℓ from the start of step 1, in one parameterization.
Outcome run_fit(const tz::models::gmm::Options& options, const tz::models::gmm::Parameters& init, const A& x_array,
              bool raw, double rate, std::size_t steps) {
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
}

}  // namespace

// Step 6: Adam from step 1's start in both parameterizations, at five learning rates.
FitComparison step_same_inside_a_fit(Tutorial& t, const A& x_array, const tz::models::gmm::Options& options,
                                     const tz::models::gmm::Parameters& init, double ll_em) {
  t.step(6, "The same inside a fit: raw Σ_k against the Cholesky parameterization, with anomaly mode on");
  t.say("Adam from step 1's start, 300 steps, at five learning rates. The raw run keeps Σ_k = [[a, b], [b, c]]");
  t.say("as three free numbers per component (log det Σ and Σ⁻¹ written out for 2×2). Anomaly mode stops a");
  t.say("run at its first NaN and names the op. λ_min is the smallest eigenvalue over the K covariances.");
  t.say("");
  t.say("     lr   raw Σ_k                                  Cholesky of Σ_k⁻¹");
  const std::vector<double> rates = {0.05, 0.2, 0.5, 1.0, 2.0};
  std::string first_anomaly;
  double worst_chol_lambda = HUGE_VAL;
  int raw_failures = 0, chol_failures = 0;
  std::optional<double> chol_gap_where_raw_failed;  // at the smallest lr where the raw run failed
  std::vector<std::string> chol_elsewhere;
  bool chol_collapsed = false;
  for (double rate : rates) {
    const Outcome r = run_fit(options, init, x_array, /*raw=*/true, rate, 300),
                  c = run_fit(options, init, x_array, /*raw=*/false, rate, 300);
    auto show = [](const Outcome& o) {
      return o.failed_at ? fmt::format("NaN at step {:3d}, λ_min = {:7.3g}", *o.failed_at, o.lambda_min)
                         : fmt::format("ℓ = {:.6f},   λ_min = {:7.3g}", o.ll, o.lambda_min);
    };
    t.say("  {:5.2f}   {:<40} {}", rate, show(r), show(c));
    if (r.failed_at) {
      ++raw_failures;
      if (first_anomaly.empty()) first_anomaly = r.what;
    }
    chol_failures += c.failed_at.has_value();
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
  return {raw_failures, chol_failures, static_cast<int>(rates.size()), worst_chol_lambda};
}

}  // namespace tz::tutorial::gmm_grad
