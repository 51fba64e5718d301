// tapezoo tutorials: the one table of claims.
//
// Every check a tutorial prints carries the id of a row here, so that a teacher can map a course
// onto the code: what is claimed (the formula, in one line), where the code implements it (file
// and function), and which tutorial checks it.
//
//   t.check(claim("jensen-gap-is-kl"), "Jensen's gap", gap_ok, detail);
//   t.check_close(claim("kl-closed-form-vs-mc"), "KL, Monte Carlo vs closed form", mc, exact, 0, 4 * se);
//
// claim() runs at compile time: an id that is not in the table does not compile. A check that holds
// by construction (an AM–GM inequality on the same samples, one sum in another order) is no check:
// print it with t.identity(...), which shows "(identity)" and is not counted, and takes no id.
//
// Rows with road = 1…28 are the road from maximum likelihood to variational inference, in the
// order a course takes it; the others (road = 0) back the tutorials' further checks. A row's code
// column names a file of the project and a function in it; its tutorial column, the tutorial whose
// source checks it. tests/test_claims.cpp holds the table to that: every row is checked by its
// tutorial with a check that can fail, every road number 1…28 has its row, every code column names
// a file that holds that function. `./zoo claims` prints the table with the last printed line of
// each check, and docs/claims.md is its Markdown (`./zoo claims --markdown`, compared by the test).
//
// Adding a claim: a row here in its tutorial's section, then t.check(claim("id"), …) in the tutorial,
// then `./zoo claims --markdown > docs/claims.md`.
#pragma once

#include <cstddef>
#include <string_view>

namespace tz::tutorial {

struct Claim {
  std::string_view id;        // kebab-case, unique
  std::string_view formula;   // the claim in one line
  std::string_view code;      // "file: function" that implements it
  std::string_view tutorial;  // the tutorial that checks it, e.g. "04_vae"
  int road = 0;               // 1…28 on the road from MLE to VI, 0 otherwise
};

inline constexpr Claim kClaims[] = {
    // ---- 00_autograd ---------------------------------------------------------------------------
    {"tape-records-in-order", "each op appends one node to the tape, in creation order, which is a topological order",
     "autograd/tape.cpp: Tape::push", "00_autograd"},
    {"tape-forward-is-the-function", "the last node's value is f(x) computed without the tape",
     "autograd/tape.cpp: Tape::push", "00_autograd"},
    {"op-table-has-every-formula", "every op on a tape has its forward and backward formula in kOps",
     "autograd/op_table.hpp: op_info", "00_autograd"},
    {"reverse-sweep-sums-adjoints", "x̄_i = Σ_{j uses i} x̄_j ∂x_j/∂x_i, seeded with f̄ = 1, in reverse creation order",
     "autograd/tape.cpp: Tape::backward", "00_autograd"},
    {"backward-matches-finite-differences", "the reverse sweep's gradient equals central differences (f(x+h) − f(x−h)) / 2h",
     "autograd/gradcheck.cpp: gradcheck", "00_autograd"},
    {"backward-matches-the-derivative", "the reverse sweep's gradient equals the derivative written by hand",
     "autograd/tape.cpp: Tape::backward", "00_autograd"},
    {"chain-rule-sums-paths", "df/dx = Σ over the paths from x to f of the product of local derivatives",
     "autograd/tape.cpp: Tape::backward", "00_autograd"},
    {"constants-get-no-gradient", "a constant (data) records no backward and receives no gradient",
     "autograd/tape.cpp: Tape::constant", "00_autograd"},
    {"gradients-accumulate", "two backward passes add their gradients (+=); zero_grad() resets them",
     "nn/nn.cpp: ParamSet::zero_grad", "00_autograd"},
    {"no-grad-records-nothing", "under NoGrad ops compute the same values and record no backward",
     "autograd/tape.hpp: NoGrad", "00_autograd"},
    {"anomaly-mode-names-the-op", "without anomaly mode a −inf flows on into NaN; with it, the first non-finite value throws, naming the op and position",
     "autograd/tape.cpp: Tape::check_finite_forward", "00_autograd"},
    {"dot-has-one-box-per-node", "the DOT export draws one box per tape node",
     "autograd/tape.cpp: Tape::to_dot", "00_autograd"},

    // ---- 01_mle_gaussian -----------------------------------------------------------------------
    {"mle-closed-form-equals-ascent", "θ* = argmax_θ Σ_i log p_θ(x_i): the closed form μ̂ = x̄, σ̂² = (1/n) Σ (x_i − x̄)² equals gradient ascent's limit",
     "tutorials/01_mle_gaussian.cpp: gaussian_log_likelihood", "01_mle_gaussian", 1},
    {"mle-is-min-kl", "argmax_θ E_pdata[log p_θ] = argmin_θ KL(p_data ‖ p_θ): with a known p_data the exact KL falls as the log-likelihood rises",
     "tutorials/01_mle_gaussian.cpp: kl_gaussians", "01_mle_gaussian", 2},
    {"expected-vs-empirical-log-likelihood", "(1/n) Σ_i log p_θ(x_i) → E_p[log p_θ(x)], with an error within 4 standard errors that shrinks like 1/√n",
     "tutorials/01_mle_gaussian.cpp: expected_log_likelihood", "01_mle_gaussian", 3},
    {"bias-variance", "MSE(σ̂²) = bias² + variance, for the biased (1/n) and the unbiased (1/(n−1)) estimator; the biased one has the lower MSE",
     "tutorials/01_mle_gaussian.cpp: variance_estimators", "01_mle_gaussian", 4},
    {"learning-rate-threshold", "θ ← θ + η ∇L rises monotonically for η < 2 / curvature and oscillates or diverges above it",
     "tutorials/01_mle_gaussian.cpp: gradient_ascent", "01_mle_gaussian", 5},
    {"log-likelihood-not-product", "Π_i p(x_i) underflows to 0 at n = 1000 while Σ_i log p(x_i) is finite",
     "tutorials/01_mle_gaussian.cpp: gaussian_log_likelihood", "01_mle_gaussian", 6},

    // ---- 02_gmm_em -----------------------------------------------------------------------------
    {"mixture-samples-match", "samples of Σ_k π_k N(μ_k, Σ_k) have frequencies π_k, means μ_k and covariances Σ_k within their standard errors",
     "models/gmm_api.cpp: GaussianMixture::sample", "02_gmm_em", 8},
    {"bayes-posterior-is-e-step", "p(z=k | x) = π_k N(x; μ_k, Σ_k) / Σ_j π_j N(x; μ_j, Σ_j): by hand for one point, equal to e_step",
     "models/gmm_em.cpp: GaussianMixture::e_step", "02_gmm_em", 9},

    // ---- 03_gmm_gradient -----------------------------------------------------------------------
    {"em-fixed-point", "at EM's fixed point ∇_θ log p(x; θ) = 0, and EM is coordinate ascent on the ELBO (the E-step closes the gap, the M-step raises the bound)",
     "models/gmm_em.cpp: GaussianMixture::m_step", "03_gmm_gradient", 28},

    // ---- 04_vae --------------------------------------------------------------------------------
    {"kl-asymmetry", "argmin_q KL(p ‖ q) covers both modes of a two-mode p; argmin_q KL(q ‖ p) sits on one",
     "tutorials/04_vae.cpp: fit_gaussian_by_kl", "04_vae", 11},
    {"elbo-form-1", "ELBO = E_q[log p(x, z)] − E_q[log q(z|x)]: its Monte-Carlo mean equals form 2 in expectation",
     "models/vae.cpp: VAE::log_weights", "04_vae", 13},
    {"elbo-form-2", "ELBO = E_q[log p(x|z)] − KL(q(z|x) ‖ p(z)): the Monte-Carlo KL agrees with the closed form within standard errors",
     "distributions/distributions.cpp: kl_std_normal", "04_vae", 14},
    {"vae-objective", "−ELBO = rec + KL, rec = −E_q[log p(x|z)]: negative_elbo_bound against rec and KL computed by hand",
     "models/vae.cpp: VAE::negative_elbo_bound", "04_vae", 17},
    {"kl-closed-form-vs-mc", "KL(N(m, diag v) ‖ N(0, I)) = ½ Σ_j (v_j + m_j² − 1 − log v_j), against its Monte-Carlo estimate with 10⁶ samples",
     "distributions/distributions.cpp: kl_std_normal", "04_vae", 18},
    {"reparameterisation-variance", "∇_φ E_q[f(z)] by z = m + √v ε has a lower variance than the score function f(z) ∇_φ log q(z)",
     "distributions/distributions.cpp: sample_gaussian", "04_vae", 24},
    {"mc-elbo-spread", "the L-sample ELBO is unbiased and its spread falls like 1/√L: sd(L) · √L is constant",
     "models/vae.cpp: VAE::negative_elbo_bound", "04_vae", 25},

    // ---- 05_iwae -------------------------------------------------------------------------------
    {"latent-marginal-by-grid", "p(x) = ∫ p(x|z) p(z) dz on a 2-D grid equals IWAE-5000 two-sided within Monte-Carlo error; a grid needs G^d points",
     "tutorials/iwae_grid.hpp: integrate_on_grid", "05_iwae", 7},
    {"vi-gap-falls", "φ* = argmin_φ KL(q_φ(z|x) ‖ p(z|x)): with θ held, fitting φ alone lowers the grid gap log p(x) − ELBO of a 2-D VAE",
     "models/vae.cpp: VAE::negative_elbo_bound", "05_iwae", 10},
    {"jensen-gap-is-kl", "log E_q[w] − E_q[log w] = log p(x) − ELBO = KL(q(z|x) ‖ p(z|x)) ≥ 0, the gap measured against the grid KL",
     "models/vae.cpp: VAE::negative_iwae_bound", "05_iwae", 12},
    {"variational-gap-on-grid", "log p(x) − ELBO(x) = KL(q(z|x) ‖ p(z|x)): ELBO by Monte Carlo with the closed-form KL, the KL by the grid's posterior",
     "tutorials/iwae_grid.hpp: integrate_on_grid", "05_iwae", 15},
    {"elbo-improves-theta-and-phi", "maximising the ELBO over θ and φ raises it and log p(x) on the grid at every stage; the gap it leaves need not fall (φ alone lowers it: vi-gap-falls)",
     "models/vae.cpp: VAE::loss", "05_iwae", 16},
    {"iwae-bounds-ordered", "log p(x) ≥ L_k ≥ L_1 = ELBO, with independent samples for each k and a standard error for each",
     "models/vae.cpp: VAE::negative_iwae_bound", "05_iwae", 19},
    {"grid-quadrature-converged", "Σ_g h² f(z_g) has converged: grids at h and 2h agree, no mass on the edge, Σ h² q = 1, Σ h² q log(q/p(z)) = the closed-form KL",
     "tutorials/iwae_grid.hpp: integrate_on_grid", "05_iwae"},

    // ---- 06_beta_vae ---------------------------------------------------------------------------
    {"beta-vae-tradeoff", "rec + β KL for β = 0.5, 1, 4: β ≥ 1 bounds −log p(x) (rec + β KL ≥ rec + KL), β < 1 does not",
     "models/vae.cpp: VAE::loss", "06_beta_vae", 20},
    {"kl-annealing-against-collapse", "with collapse (per-unit KL → 0 for most units), annealing β from 0 to 1 keeps more units active, over 3 seeds",
     "models/vae.cpp: VAE::set_iteration", "06_beta_vae", 26},
    {"adam-learning-rate", "Adam with lr 1e-3 reaches a given NELBO in fewer steps than with 1e-4 on the same VAE",
     "nn/optim.cpp: Adam::step", "06_beta_vae", 27},

    // ---- 08_ssvae ------------------------------------------------------------------------------
    {"ssvae-labelled-bound", "−L(x, y) = −E_q[log p(x|y, z)] − log p(y) + KL(q(z|x, y) ‖ p(z)), term by term",
     "models/ssvae.cpp: SSVAE::labelled_bound", "08_ssvae", 21},
    {"ssvae-unlabelled-bound", "−U(x) = Σ_y q(y|x) (−L(x, y)) − H[q(y|x)]; the two forms differ by exactly log K",
     "models/ssvae.cpp: SSVAE::unlabelled_bound", "08_ssvae", 22},

    // ---- 09_fsvae ------------------------------------------------------------------------------
    {"fsvae-conditioning", "conditioning on y lowers −ELBO(x|y) against an unconditional VAE by at most log 10 plus the bound's gap",
     "models/fsvae.cpp: FSVAE::negative_elbo_bound", "09_fsvae", 23},
};

inline constexpr std::size_t kNumClaims = sizeof(kClaims) / sizeof(kClaims[0]);

namespace detail {
// Not constexpr on purpose: reaching it in claim() makes the call no constant expression, so an
// unknown id is a compile error that points here.
inline const Claim& no_such_claim_in_tutorials_claims_hpp() { return kClaims[0]; }
}  // namespace detail

// The row with this id, found at compile time.
consteval const Claim& claim(std::string_view id) {
  for (const Claim& c : kClaims)
    if (c.id == id) return c;
  return detail::no_such_claim_in_tutorials_claims_hpp();
}

}  // namespace tz::tutorial
