// tapezoo coursework: the syllabus table. Rows in dependency order: a task's `depends` lists only
// rows above it, and its checks (coursework/checks/) call nothing else that a student writes, so a
// student who goes in order can pass each task as soon as it is written. tests/test_coursework.cpp
// holds the table to that, and to the regions in the source.
#include "coursework/tasks.hpp"

#include <stdexcept>

namespace tz::coursework {

namespace {
const std::string kEw = "autograd/ops_elementwise.cpp";
const std::string kReduce = "autograd/ops_reduce.cpp";
const std::string kTape = "autograd/tape.cpp";
const std::string kDist = "distributions/distributions.cpp";
const std::string kMle = "tutorials/mle_gaussian.hpp";
const std::string kGmm = "models/gmm_em.cpp";
}  // namespace

const std::vector<Task>& tasks() {
  static const std::vector<Task> table = {
      // ---- 1. the backward of the core ops: gx += ∂y/∂x · gy, checked against finite differences
      {"1.1", "log backward: gx += gy / x", 2, {kEw}, {"log"}, {}, "00_autograd"},
      {"1.2", "exp backward: gx += gy · y", 2, {kEw}, {"exp"}, {}, "00_autograd"},
      {"1.3", "mul backward: ga += sum_to(gy · b), gb += sum_to(gy · a)", 2, {kEw}, {"mul"}, {}, "00_autograd"},
      {"1.4", "div backward: ga += sum_to(gy / b), gb += sum_to(−gy · y / b)", 2, {kEw}, {"div"}, {}, "00_autograd"},
      {"1.5", "matmul backward: ga += gy @ bᵀ, gb += aᵀ @ gy", 3, {"autograd/ops_linalg.cpp"}, {"matmul"}, {},
       "00_autograd"},
      {"1.6", "sum_axis backward: gx += gy broadcast along the axis", 2, {kReduce}, {"spread_along"}, {}, "00_autograd"},
      {"1.7", "softplus backward: gx += gy · σ(x)", 2, {kEw}, {"softplus"}, {}, "04_vae"},
      {"1.8", "logsumexp backward: gx += gy · softmax(x)", 3, {kReduce}, {"logsumexp"}, {}, "05_iwae"},
      // ---- 2. the tape
      {"2.1", "the reverse sweep: seed dy/dy, then each node's backward in reverse creation order", 4, {kTape, kTape},
       {"backward_from", "sweep"}, {}, "00_autograd"},
      // ---- 3. maximum likelihood for a Gaussian
      {"3.1", "closed-form Gaussian MLE: μ̂ = mean, σ̂² = mean squared deviation", 2, {kMle}, {"closed_form_mle"}, {},
       "01_mle_gaussian"},
      {"3.2", "the average log-likelihood on the tape in (μ, s = log σ)", 3, {kMle}, {"mean_log_likelihood"},
       {"1.2", "1.3", "2.1"}, "01_mle_gaussian"},
      // ---- 4. EM for a Gaussian mixture (the textbook steps)
      {"4.1", "GMM log-likelihood per component: log ρ_nk = log π_k + log N(x_n; μ_k, Σ_k)", 3, {kGmm}, {"log_joint"}, {},
       "02_gmm_em"},
      {"4.2", "GMM E-step: r_nk normalised in log space, and (1/N) Σ_n log p(x_n)", 3, {kGmm}, {"e_step_textbook"},
       {"4.1"}, "02_gmm_em"},
      {"4.3", "GMM M-step: π, μ, Σ from the responsibilities", 3, {kGmm}, {"m_step_textbook"}, {}, "02_gmm_em"},
      // ---- 5. the distributions of the VAEs
      {"5.1", "sample_gaussian: z = m + √v ⊙ ε", 2, {kDist}, {"sample_gaussian"}, {}, "04_vae"},
      {"5.2", "log_normal: log N(x; m, diag v)", 2, {kDist}, {"log_normal"}, {}, "05_iwae"},
      {"5.3", "kl_normal: KL(N(qm, qv) ‖ N(pm, pv))", 2, {kDist}, {"kl_normal"}, {}, "07_gmvae"},
      {"5.4", "log_mean_exp: logsumexp − log k", 2, {kDist}, {"log_mean_exp"}, {}, "05_iwae"},
      {"5.5", "log_bernoulli_with_logits: Σ x·l − softplus(l), stable at any logit", 3, {kDist},
       {"log_bernoulli_with_logits"}, {}, "04_vae"},
      // ---- 6. the VAE and the IWAE
      {"6.1", "VAE negative_elbo_bound: rec + KL per example", 4, {"models/vae.cpp"}, {"elbo_from"}, {"5.1", "5.5"}, "04_vae"},
      {"6.2", "VAE negative_iwae_bound: the log importance weights, −log (1/k) Σ_i w_i", 4, {"models/vae.cpp"},
       {"log_weights_at"}, {"5.1", "5.2", "5.4", "5.5"}, "05_iwae"},
      // ---- 7. the GMVAE
      {"7.1", "the mixture prior: log (1/k) Σ_i N(z; m_i, diag v_i)", 3, {kDist}, {"log_normal_mixture"}, {"5.2", "5.4"},
       "07_gmvae"},
      {"7.2", "GMVAE negative_elbo_bound: the Monte-Carlo KL log q(z|x) − log p(z)", 4, {"models/gmvae.cpp"},
       {"negative_elbo_bound"}, {"5.1", "5.2", "5.5", "7.1"}, "07_gmvae"},
      // ---- 8. the SSVAE
      {"8.1", "SSVAE labelled bound L(x, y) = rec + KL_z + log K", 3, {"models/ssvae.cpp"}, {"negative_elbo_bound"},
       {"5.1", "5.5"}, "08_ssvae"},
      {"8.2", "SSVAE unlabelled bound U(x) = KL(q(y|x) ‖ p(y)) + Σ_y q(y|x)(KL_z + rec)", 4, {"models/ssvae.cpp"},
       {"negative_elbo_bound"}, {"1.2", "5.1", "5.5"}, "08_ssvae"},
      // ---- 9. the FSVAE
      {"9.1", "FSVAE negative_elbo_bound: rec + KL(q(z|x,y) ‖ p(z|y)), fixed or learned prior", 4, {"models/fsvae.cpp"},
       {"negative_elbo_bound"}, {"5.1", "5.3", "5.5"}, "09_fsvae"},
  };
  return table;
}

const Task* find_task(const std::string& id) {
  for (const Task& t : tasks())
    if (t.id == id) return &t;
  return nullptr;
}

int part_of(const std::string& id) {
  const auto dot = id.find('.');
  if (dot == 0 || dot == std::string::npos || dot + 1 == id.size())
    throw std::invalid_argument("task id '" + id + "': expected part.number, e.g. 6.1");
  for (std::size_t i = 0; i < id.size(); ++i)
    if (i != dot && (id[i] < '0' || id[i] > '9'))
      throw std::invalid_argument("task id '" + id + "': expected part.number, e.g. 6.1");
  return std::stoi(id.substr(0, dot));
}

}  // namespace tz::coursework
