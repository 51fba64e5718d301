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
    {"mle-closed-form-equals-ascent", "θ* = argmax_θ Σ_i log p_θ(x_i): the closed form μ̂ = x̄, σ̂² = (1/n) Σ (x_i − x̄)² is a stationary maximum and equals gradient ascent's limit",
     "tutorials/mle_gaussian.hpp: closed_form_mle", "01_mle_gaussian", 1},
    {"mle-is-min-kl", "argmax_θ E_pdata[log p_θ] = argmin_θ KL(p_data ‖ p_θ): with a known p_data the exact KL falls as the log-likelihood rises, to about χ²₂/2n at the MLE",
     "tutorials/mle_gaussian.hpp: kl_gaussians", "01_mle_gaussian", 2},
    {"expected-vs-empirical-log-likelihood", "(1/n) Σ_i log p_θ(x_i) → E_p[log p_θ(x)], with an error within 4 standard errors whose RMS is sd/√n",
     "tutorials/mle_gaussian.hpp: expected_log_likelihood", "01_mle_gaussian", 3},
    {"bias-variance", "MSE(σ̂²) = bias² + Var with bias = −σ²/n, Var = 2(n−1)σ⁴/n² for 1/n and 0, 2σ⁴/(n−1) for 1/(n−1); the biased one has the lower MSE",
     "tutorials/01_mle_gaussian.cpp: bias_variance_for_n", "01_mle_gaussian", 4},
    {"learning-rate-threshold", "θ ← θ + η ∇L rises monotonically for η < 2/|L''| and oscillates or diverges above it; in (μ, log σ) L''_ss = −2, so η* = 1",
     "tutorials/mle_gaussian.hpp: gradient_ascent", "01_mle_gaussian", 5},
    {"log-likelihood-not-product", "Π_i p(x_i) underflows to 0 at n = 1000 (where Σ log p < log(denorm_min/2)) while Σ_i log p(x_i) is finite",
     "tutorials/mle_gaussian.hpp: log_normal_pdf", "01_mle_gaussian", 6},
    {"mle-mean-within-standard-errors", "μ̂ = x̄ has standard error σ/√n: |μ̂ − μ| < 4σ/√n",
     "tutorials/mle_gaussian.hpp: closed_form_mle", "01_mle_gaussian"},
    {"log-likelihood-on-the-tape", "(1/n) ℓ(μ, s) = −½ log 2π − s − (1/n) Σ ½ ((x_i − μ) e^−s)², with ∂/∂μ = (x̄ − μ)/σ² and ∂/∂s = −1 + (1/n) Σ (x_i − μ)²/σ² by backward",
     "tutorials/mle_gaussian.hpp: mean_log_likelihood", "01_mle_gaussian"},
    {"ascent-is-descent-on-the-negative", "θ ← θ + η ∇L (ascent on L) is θ ← θ − η ∇(−L) (descent on −L): one SGD step on −ℓ moves θ by +η ∇ℓ",
     "tutorials/mle_gaussian.hpp: gradient_ascent", "01_mle_gaussian"},
    {"unnormalised-log-normal-loses-sigma", "without −½ log 2πσ², −(x − μ)²/(2σ²) keeps ∂/∂μ = 0 at x̄ but rises forever in σ: ascent gives σ_k ≥ √(1 + 2η σ̂² k)",
     "tutorials/mle_gaussian.hpp: mean_unnormalised_log_likelihood", "01_mle_gaussian"},

    // ---- 02_gmm_em -----------------------------------------------------------------------------
    {"mixture-samples-match", "samples of Σ_k π_k N(μ_k, Σ_k) (z ~ Cat(π), x = μ_z + L_z ε, L_z L_zᵀ = Σ_z) have frequencies π_k, means μ_k and covariances Σ_k within 4 standard errors",
     "models/gmm.cpp: GaussianMixture::sample", "02_gmm_em", 8},
    {"bayes-posterior-is-e-step", "p(z=k | x) = π_k N(x; μ_k, Σ_k) / Σ_j π_j N(x; μ_j, Σ_j), by hand from the densities, equals e_step's r_nk, and (1/N) Σ_n log p(x_n) its return value",
     "models/gmm_em.cpp: GaussianMixture::e_step_textbook", "02_gmm_em", 9},
    {"elbo-gap-is-kl", "log p(x_n) − ELBO_n(q, θ) = KL(q(z_n) ‖ p(z_n | x_n, θ)) for every q, so the gap is 0 for q = e_step's r",
     "models/gmm_em.cpp: GaussianMixture::e_step_textbook", "02_gmm_em"},
    {"m-step-is-weighted-mle", "m_step: N_k = Σ_n r_nk, π_k = N_k / N, μ_k = Σ_n r_nk x_n / N_k, Σ_k = Σ_n r_nk (x_n − μ_k)(x_n − μ_k)ᵀ / N_k",
     "models/gmm_em.cpp: GaussianMixture::m_step_textbook", "02_gmm_em"},
    {"m-step-raises-the-elbo", "ELBO(r, θ_new) ≥ ELBO(r, θ_old): the M-step maximises the bound over θ with q = r fixed, at every iteration",
     "models/gmm_em.cpp: GaussianMixture::m_step_textbook", "02_gmm_em"},
    {"em-log-likelihood-rises", "ℓ(θ_new) ≥ ELBO(r, θ_new) ≥ ELBO(r, θ_old) = ℓ(θ_old): EM's log-likelihood never decreases (up to rounding, 1e-13)",
     "models/gmm_em.cpp: GaussianMixture::run_em", "02_gmm_em"},
    {"em-converges", "EM's |Δℓ| falls below tol = 1e-10 nats per point within max_iter iterations",
     "models/gmm_em.cpp: GaussianMixture::run_em", "02_gmm_em"},
    {"em-fit-recovers-the-truth", "EM's μ̂_k lie within 4 standard errors √(Σ_k,jj / (N π_k)) of the true means, and ℓ(θ_EM) ≥ ℓ(θ_true)",
     "models/gmm_em.cpp: GaussianMixture::fit", "02_gmm_em"},
    {"fit-is-the-loop", "GaussianMixture::fit's lower bounds are ℓ(θ_t) of the e_step/m_step loop by hand, iteration by iteration",
     "models/gmm_em.cpp: GaussianMixture::run_em", "02_gmm_em"},
    {"fit-classifies-like-bayes", "argmax_k r_nk of the fit is right about z_n as often as the true posterior's argmax (the Bayes classifier), within 4 paired standard errors",
     "models/gmm.cpp: GaussianMixture::predict", "02_gmm_em"},

    // ---- 03_gmm_gradient -----------------------------------------------------------------------
    {"em-fixed-point", "at EM's fixed point ∇_θ log p(x; θ) = 0 (the M-step equations), and EM is coordinate ascent on the ELBO: each E-step makes it equal ℓ, each M-step raises it",
     "models/gmm_em.cpp: GaussianMixture::run_em", "03_gmm_gradient", 28},
    {"gmm-tape-log-likelihood", "(1/N) ℓ = mean_n logsumexp_k [log_softmax(α)_k − ½ D log 2π + Σ_d s_kd − ½ ‖(x_n − μ_k) P_k‖²] on the tape equals GaussianMixture::score",
     "models/gmm_tape.hpp: mixture_log_likelihood", "03_gmm_gradient"},
    {"gmm-tape-gradcheck", "the tape's ∂ℓ/∂(α, μ, U, s) equals central differences, every element",
     "models/gmm_tape.hpp: mixture_log_likelihood", "03_gmm_gradient"},
    {"adam-finds-em-maximum", "Adam on −ℓ from EM's start ends where EM does: ∇ℓ ≈ 0, the same ℓ, the same π, μ, Σ and responsibilities",
     "models/gmm_gradient.cpp: GaussianMixture::fit_gradient", "03_gmm_gradient"},
    {"em-needs-fewer-iterations", "EM comes within 1e-6 nats per point of its maximum in fewer iterations than Adam takes steps",
     "models/gmm_em.cpp: GaussianMixture::run_em", "03_gmm_gradient"},
    {"fit-gradient-is-the-loop", "GaussianMixture::fit_gradient runs the tutorial's Adam loop: the same ℓ from the same start",
     "models/gmm_gradient.cpp: GaussianMixture::fit_gradient", "03_gmm_gradient"},
    {"raw-covariance-gradient", "∂f/∂Σ = ½(Σ⁻¹ Σ̂ Σ⁻¹ − Σ⁻¹) for f(Σ) = Σ_n w_n log N(x_n | μ, Σ); b appears twice, so ∂f/∂b = 2 (∂f/∂Σ)₀₁",
     "tutorials/gmm_grad_steps.cpp: weighted_log_normal_raw", "03_gmm_gradient"},
    {"precision-cholesky-round-trip", "P from Σ⁻¹ = P Pᵀ (p11 = √(Σ⁻¹)₁₁, p01 = (Σ⁻¹)₀₁ / p11, p00 = √((Σ⁻¹)₀₀ − p01²)) gives back Σ = (P Pᵀ)⁻¹",
     "tutorials/gmm_grad_steps.cpp: covariance_from_precision_cholesky", "03_gmm_gradient"},
    {"raw-step-eigenvalues", "at Σ₀ = 2Σ̂, Σ₀ + η ∂f/∂Σ = 2Σ̂ − (η/8) Σ̂⁻¹ has eigenvalues 2λ − η/(8λ): negative once η > 16 λ_min²",
     "tutorials/gmm_grad_steps.cpp: step_one_step_each_way", "03_gmm_gradient"},
    {"raw-step-leaves-the-cone", "a gradient step on a raw Σ = [[a, b], [b, c]] can leave the positive-definite cone (λ_min < 0), in one step and inside an Adam fit",
     "tutorials/gmm_grad_steps.cpp: mean_log_likelihood_raw", "03_gmm_gradient"},
    {"cholesky-stays-in-the-cone", "Σ_k⁻¹ = P_k P_kᵀ with P_k = strictly-upper(U_k) + diag(e^{s_k}) is positive definite for every finite U, s: Adam fits stay finite at every lr",
     "models/gmm_tape.hpp: mixture_log_likelihood", "03_gmm_gradient"},

    // ---- 04_vae --------------------------------------------------------------------------------
    {"fresh-decoder-flips-coins", "a fresh decoder's logits are near 0, so rec = Σ_j softplus(l_j) − x_j l_j ≈ 784 log 2",
     "nn/nn.cpp: Linear::Linear", "04_vae"},
    {"vae-objective", "−ELBO = rec + KL, rec = −Σ_j [x_j l_j − softplus(l_j)], KL = ½ Σ_j (v_j + m_j² − 1 − log v_j): negative_elbo_bound against both by hand, at iterations 0, T/3, 2T/3, T",
     "models/vae.cpp: VAE::negative_elbo_bound", "04_vae", 17},
    {"training-lowers-nelbo", "Adam on the batch mean of −ELBO lowers it: the training curve, and a fixed batch with a fixed ε after each third of training",
     "models/train.cpp: train", "04_vae"},
    {"elbo-form-1", "ELBO = E_q[log p(x, z) − log q(z|x)]: its Monte-Carlo mean equals form 2's on independent samples, within 4 standard errors",
     "models/vae.cpp: VAE::log_importance_weights", "04_vae", 13},
    {"elbo-form-2", "ELBO = E_q[log p(x|z)] − KL(q(z|x) ‖ p(z)): on form 1's samples the two differ by the KL's Monte-Carlo error, 0 within 4 standard errors",
     "models/vae.cpp: VAE::elbo_from", "04_vae", 14},
    {"trained-q-quiets-log-w", "log w = log p(x) + log p(z|x) − log q(z|x) varies less within an image than log p(x|z) once q is near p(z|x)",
     "models/vae.cpp: VAE::log_importance_weights", "04_vae"},
    {"kl-closed-form-vs-mc", "KL(N(m, diag v) ‖ N(0, I)) = ½ Σ_j (v_j + m_j² − 1 − log v_j), against the mean of log q − log p(z) over 10⁶ samples, within 4 SE",
     "distributions/distributions.cpp: kl_std_normal", "04_vae", 18},
    {"kl-asymmetry", "argmin_q KL(p ‖ q) matches p's moments and covers both modes of a two-mode p; argmin_q KL(q ‖ p) sits on one (KL ≈ log 2)",
     "tutorials/vae_steps.cpp: fit_gaussian_by_kl", "04_vae", 11},
    {"mc-elbo-spread", "the L-sample ELBO (1/L) Σ_l log w_l is unbiased (its mean is the closed-form-KL ELBO) and L · its variance = Var[log w] (sd·√L constant), within 4 SE",
     "models/vae_eval.cpp: VAE::log_importance_weights_eval", "04_vae", 25},
    {"reparameterisation-variance", "∇_μ E_{N(μ,v)}[z²] = 2μ by z = μ + √v ε (variance 4v) and by the score function z² (z − μ)/v (variance μ⁴/v + 14μ² + 15v)",
     "distributions/distributions.cpp: sample_gaussian", "04_vae", 24},
    {"samples-match-the-data", "samples z ~ N(0, I), x ~ σ(f_θ(z)) put ink where the test images do: the two mean images correlate",
     "models/vae_eval.cpp: VAE::sample", "04_vae"},

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
    {"beta-vae-tradeoff", "rec + β KL for β = 0.5, 1, 4: a larger β buys a smaller KL with a larger rec; rec + β KL ≥ −log p(x) needs β ≥ 1, yet every model's own rec + KL bounds it, whatever β trained it",
     "models/vae.cpp: VAE::weighted_objective", "06_beta_vae", 20},
    {"traversal-follows-activity", "moving the most active unit (largest A_j = Cov_x(E_q[z_j|x])) from −3 to 3 changes σ(f_θ(z)) more than moving the least active one",
     "tutorials/06_beta_vae.cpp: traversals", "06_beta_vae"},
    {"free-bits-against-collapse", "at β = 8, z = 32 most units collapse (KL_j → 0), more than at β = 1; free bits, rec + β Σ_j max(λ, KL_j), keeps more units active in each of 3 seeds (2 with --quick; KL annealing β·min(1, t/N) shown beside it)",
     "tutorials/06_beta_vae.cpp: train_free_bits", "06_beta_vae", 26},
    {"inactive-unit-is-the-prior", "a unit with Cov_x(E_q[z_j|x]) ≤ 1e-2 has KL_j = E_x ½ (v_j + m_j² − 1 − log v_j) ≈ 0: q(z_j|x) is the prior; Σ_j KL_j is the model's test KL",
     "tutorials/06_beta_vae.cpp: unit_kl", "06_beta_vae"},
    {"adam-learning-rate", "Adam (θ ← θ − lr · m̂ / (√v̂ + ε)) with lr 1e-3 reaches lr 1e-4's final NELBO in fewer steps on the same VAE",
     "nn/optim.cpp: adam_update", "06_beta_vae", 27},

    // ---- 07_gmvae -------------------------------------------------------------------------------
    {"gmvae-prior-init", "z_pre ~ N(0, 1)/√(K·z) of shape [2K, z]; σ_i² = softplus(z_pre[K:2K]) + 1e-8 starts at log 2 on average, with sd softplus'(0)/√(K·z) = ½/√(K·z)",
     "models/gmvae.cpp: GMVAE::GMVAE", "07_gmvae"},
    {"log-normal-is-normalised", "log N(z; m, v) = −½ Σ_j [log 2π + log v_j + (z_j − m_j)²/v_j]: ∫ exp(log N) dz = 1",
     "distributions/distributions.cpp: log_normal", "07_gmvae"},
    {"mixture-kl-monte-carlo", "KL(q ‖ p) ≈ (1/S) Σ_s [log q(z_s|x) − log p(z_s)], z_s ~ q: unbiased (equal to the closed form within 4 SE for one standard component), single terms can be < 0, SE ∝ 1/√S",
     "distributions/distributions.cpp: log_normal_mixture", "07_gmvae"},
    {"gmvae-trains", "negative_elbo_bound is E_q[−log p(x|z)] + E_q[log q(z|x) − log p(z)] (against plain loops, one ε), and training lowers it below a fresh model's by more than 4 paired SE",
     "models/gmvae.cpp: GMVAE::negative_elbo_bound", "07_gmvae"},
    {"gmvae-prior-is-learned", "the prior's μ_i leave their initialisation and, at z = 2, the learned mixture gives the codes m(x) a higher log p than N(0, I)",
     "models/gmvae.cpp: GMVAE::prior", "07_gmvae"},
    {"gmvae-iwae-tighter", "−L_100 = −log (1/100) Σ_i w_i ≤ −ELBO for the GMVAE and the VAE alike, image by image by more than 4 standard errors",
     "models/gmvae.cpp: GMVAE::negative_iwae_bound", "07_gmvae"},
    {"mixture-prior-lowers-the-bound", "at z = 10 the GMVAE's −ELBO and KL term, I_q(x; z) + KL(q(z) ‖ p(z)), lie below the VAE's",
     "models/gmvae.cpp: GMVAE::negative_elbo_bound", "07_gmvae"},

    // ---- 08_ssvae ------------------------------------------------------------------------------
    {"ssvae-labelled-subset", "prepare_data keeps labels/K labelled images of every class and sets every other training label to −1",
     "models/ssvae.cpp: SSVAE::prepare_data", "08_ssvae"},
    {"ssvae-labelled-bound", "L(x, y) = E_q[−log p(x|y, z)] + KL(q(z|x, y) ‖ p(z)) − log p(y), the negative bound, term by term: rec, KL_z and −log p(y) = log K",
     "models/ssvae.cpp: SSVAE::negative_elbo_bound", "08_ssvae", 21},
    {"ssvae-loss-adds-classification", "loss = gw · mean_batch L(x, y) + cw · E_labelled[−log q(y|x)]: a '+log p(y|x)' in the labelled objective is M2's log p(y) plus this separate term",
     "models/ssvae.cpp: SSVAE::loss", "08_ssvae"},
    {"ssvae-unlabelled-bound", "U(x) = Σ_y q(y|x) L(x, y) − H[q(y|x)] equals the model's KL(q(y|x) ‖ Cat(1/K)) + Σ_y q [KL_z + rec]; the form Σ_y q [KL_z + rec] − H, without −log p(y) in L, differs from it by exactly log K",
     "models/ssvae.cpp: SSVAE::negative_elbo_bound", "08_ssvae", 22},
    {"kl-to-uniform-is-log-k-minus-entropy", "KL(q(y|x) ‖ Cat(1/K)) = Σ_y q log q + log K = log K − H[q(y|x)]",
     "distributions/distributions.cpp: kl_cat", "08_ssvae"},
    {"ssvae-classifier-learns", "q(y|x) trained on 100 labels scores above chance by more than 4 binomial standard errors √(0.1 · 0.9 / n)",
     "models/ssvae.cpp: SSVAE::classification_cross_entropy", "08_ssvae"},
    {"ssvae-unlabelled-images-help", "with gw = 1 the unlabelled images raise the test accuracy over gw = 0 (the classifier alone) by at least 3 paired standard errors (the same test images)",
     "models/ssvae.cpp: SSVAE::loss", "08_ssvae"},
    {"more-labels-better-classifier", "the classifier alone with 1000 labels beats 20 labels by more than 4 standard errors of the difference",
     "models/ssvae.cpp: SSVAE::classification_cross_entropy", "08_ssvae"},
    {"ssvae-grid-rows-are-classes", "in the class × style grid q(y|x) names row y's class for at least half the 100 pictures (chance: 10 ± 3)",
     "models/ssvae.cpp: SSVAE::class_style_grid", "08_ssvae"},

    // ---- 09_fsvae ------------------------------------------------------------------------------
    {"fsvae-bound-term-by-term", "−ELBO(x|y) = rec + KL, rec = −Σ_j [x_j l_j − softplus(l_j)], KL = ½ Σ_j (v_j + m_j² − 1 − log v_j), each term by hand",
     "models/fsvae.cpp: FSVAE::negative_elbo_bound", "09_fsvae"},
    {"fsvae-training-lowers-nelbo", "Adam on the batch mean of −ELBO(x|y) lowers it: the last 100 steps' mean below the first 100's",
     "models/fsvae.cpp: FSVAE::loss", "09_fsvae"},
    {"fsvae-true-label-explains-better", "the mean −ELBO(x|y) of test images under their true label is below that under the 9 wrong ones",
     "models/fsvae.cpp: FSVAE::negative_elbo_bound", "09_fsvae"},
    {"fsvae-bayes-classifier", "ŷ = argmin_y −ELBO(x|y) (Bayes' rule with p(y) = 1/10) is above chance by more than 4 standard errors √(0.1 · 0.9 / n)",
     "models/fsvae.cpp: FSVAE::negative_elbo_bound", "09_fsvae"},
    {"fsvae-grid-rows-are-classes", "a class-mean judge names row y's class in the class × style grid for more than 10 + 4 × 3 = 22 of 100 pictures",
     "models/fsvae.cpp: FSVAE::class_style_grid", "09_fsvae"},
    {"fsvae-style-is-shared", "the ink of a grid column's images correlates across the rows: mean r over 45 pairs > 4 × 1/√(9 · 45)",
     "models/fsvae.cpp: FSVAE::class_style_grid", "09_fsvae"},
    {"fsvae-iwae-tighter", "−ELBO(x|y) − (−IWAE_100(x|y)) > 0 image by image, by more than 4 standard errors: L_100 = E[log (1/100) Σ w] is the tighter bound of log p(x|y)",
     "models/fsvae.cpp: FSVAE::negative_iwae_bound", "09_fsvae"},
    {"fsvae-conditioning", "conditioning on y lowers −ELBO(x|y) against an unconditional VAE by a gain 0 < gain ≤ log 10 + gap(x), since log p(x|y) − log p(x) = log p(y|x) + log 10 ≤ log 10",
     "models/fsvae.cpp: FSVAE::negative_elbo_bound", "09_fsvae", 23},
    {"fsvae-learned-prior-kl", "with p(z|y) = N(μ_y, σ_y²): KL = ½ Σ_j [log σ²_yj − log v_j + v_j/σ²_yj + (m_j − μ_yj)²/σ²_yj − 1], by hand",
     "distributions/distributions.cpp: kl_normal", "09_fsvae"},
    {"fsvae-learned-prior-moments", "the KL is smallest at μ_y = E_{x|y}[m], σ_y² = E_{x|y}[v + (m − μ_y)²]: training moves the prior closer to them than N(0, I)",
     "models/fsvae.cpp: FSVAE::prior", "09_fsvae"},
    {"fsvae-learned-prior-no-worse", "N(0, I) is one value of the learned prior, so −ELBO(x|y) with it is not worse than with N(0, I) beyond 4 standard errors",
     "models/fsvae.cpp: FSVAE::negative_elbo_bound", "09_fsvae"},

    // ---- 10_gradient_estimators ----------------------------------------------------------------
    {"estimators-share-value-and-decoder-gradient", "standard, STL and DReG give one value −L_k and one decoder gradient Σ_i w̃_i ∇_θ log w_i on one ε; their encoder gradients differ",
     "models/vae.cpp: VAE::log_importance_weights", "10_gradient_estimators"},
    {"snr-standard-encoder-falls-with-k", "under the standard estimator the encoder's median SNR |E[g]| / std(g) falls as k grows, O(1/√k) (Rainforth et al. 2018)",
     "models/estimators.cpp: gradient_snr", "10_gradient_estimators"},
    {"snr-standard-decoder-rises-with-k", "under the standard estimator the decoder's median SNR rises as k grows, O(√k) (Rainforth et al. 2018)",
     "models/estimators.cpp: gradient_snr", "10_gradient_estimators"},
    {"snr-dreg-encoder-beats-standard", "DReG's encoder gradient Σ_i w̃_i² ∂ log w_i/∂z_i · ∂z_i/∂φ has a higher encoder SNR than the standard estimator's at k = 100 (Tucker et al. 2019)",
     "models/vae.cpp: VAE::log_importance_weights", "10_gradient_estimators"},
    {"snr-stl-helps-at-k1", "at k = 1 STL, which drops the score term of mean 0, has a higher encoder SNR than the standard estimator (Roeder et al. 2017)",
     "models/vae.cpp: VAE::log_importance_weights", "10_gradient_estimators"},
    {"iwae-trains-higher-log-px", "training on L_10 with any of the three estimators reaches a higher log p(x) (grid) than training on the ELBO for as many steps",
     "models/vae.cpp: VAE::negative_iwae_bound", "10_gradient_estimators"},
    {"iwae-encoder-larger-gap", "an encoder trained on L_10 has a larger gap KL(q(z|x) ‖ p(z|x)) (grid) than one trained on the ELBO: a tighter bound, a worse posterior approximation",
     "models/vae.cpp: VAE::negative_iwae_bound", "10_gradient_estimators"},
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
