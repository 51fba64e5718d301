// tapezoo coursework: the checks of parts 6–9, the bounds of the VAE family, in float64. Each model
// is small (5 pixels, hidden 4, z 2) with every parameter set to a fixed number (0.4·sin(0.7·i),
// never a random draw), and ε is given. The reference is built here from the model's forward
// pieces (encoder, decoder, classifier: no task) and plain-double formulas; rtol 1e-6 is far
// above the rounding of these few sums and far below any wrong term (a flipped KL, a missing
// entropy, a variance taken for a standard deviation).
#include <cmath>
#include <memory>

#include "coursework/checks/checks.hpp"
#include "coursework/checks/model_refs.hpp"
#include "models/fsvae.hpp"
#include "models/gmvae.hpp"
#include "models/ssvae.hpp"
#include "models/vae.hpp"

namespace tz::coursework {

namespace {

using namespace tz::models;

const A kX{{1, 0, 1, 1, 0}, {0, 0, 1, 0, 1}};
const A kX2{{0, 1, 1, 0, 0}, {1, 1, 0, 0, 1}};
const A kEps{{0.5, -1.2}, {1.5, 0.3}};
const A kEps2{{-0.7, 0.9}, {0.2, -2.0}};
// k = 3 samples of each of the 2 rows (row i·n + j: sample i of example j), or K = 3 labels
const A kEps3{{0.5, -1.2}, {1.5, 0.3}, {-0.7, 0.9}, {0.2, -2.0}, {1.1, 0.4}, {-0.3, -0.8}};
const A kEps3b{{0.1, 0.2}, {-1.0, 0.6}, {0.8, -0.4}, {-1.3, 1.7}, {0.05, 0.9}, {2.1, -0.6}};
const std::vector<int> kLabels{0, 2};

template <class Opt>
Opt small(Opt o) {
  o.x_dim = 5;
  o.hidden = 4;
  o.z = 2;
  return o;
}

// ---- 6: the VAE -----------------------------------------------------------------------------------

std::unique_ptr<VAE<double>> vae() {
  Rng rng(0);
  auto m = std::make_unique<VAE<double>>(small(VAEOptions{}), rng);
  fix_parameters(m->params());
  return m;
}

// {nelbo…, kl…, rec…} of −ELBO = rec + KL from the model's forward pieces; kl_row(tape, q, z, i)
// gives the KL term of row i (closed form for the VAE, one-sample Monte Carlo for the GMVAE).
template <class M, class KL>
std::vector<double> elbo_ref(M& m, const A& x, const A& eps, KL kl_row) {
  Tape<double> t;
  const Gaussian<double> q = m.encode(t, t.constant(x));
  const A z = reparameterize(q.m.value(), q.v.value(), eps, 1);
  const A l = m.decode(t, t.constant(z)).value();
  std::vector<double> nelbo, kl, rec;
  for (std::size_t i = 0; i < x.shape()[0]; ++i) {
    kl.push_back(kl_row(t, q, z, i));
    rec.push_back(-log_bernoulli_row(x, i, l, i));
    nelbo.push_back(rec.back() + kl.back());
  }
  return concat_values({nelbo, kl, rec});
}

template <class M>
std::vector<double> elbo_got(M& m, const A& x, const A& eps) {
  Tape<double> t;
  auto b = m.negative_elbo_bound(t, t.constant(x), t.constant(eps));
  return concat_values({flat(b.nelbo.value()), flat(b.kl.value()), flat(b.rec.value())});
}

std::vector<double> vae_elbo_ref(const A& x, const A& eps) {
  // KL(q(z|x) ‖ N(0, I)) in closed form
  return elbo_ref(*vae(), x, eps, [](Tape<double>&, const Gaussian<double>& q, const A&, std::size_t i) {
    return kl_std_row(q.m.value(), q.v.value(), i);
  });
}

std::vector<double> vae_elbo_got(const A& x, const A& eps) { return elbo_got(*vae(), x, eps); }

std::vector<double> vae_iwae_ref(const A& x, const A& eps) {
  auto m = vae();
  Tape<double> t;
  const Gaussian<double> q = m->encode(t, t.constant(x));
  const std::size_t n = x.shape()[0], k = eps.shape()[0] / n;
  const A z = reparameterize(q.m.value(), q.v.value(), eps, k);
  const A l = m->decode(t, t.constant(z)).value();
  std::vector<double> out;
  for (std::size_t j = 0; j < n; ++j) {
    std::vector<double> log_w;
    for (std::size_t i = 0; i < k; ++i) {
      const std::size_t r = i * n + j;
      log_w.push_back(log_bernoulli_row(x, j, l, r) + log_std_normal_row(z, r) - log_normal_row(z, r, q.m.value(), q.v.value(), j));
    }
    out.push_back(-log_mean_exp_values(log_w));
  }
  return out;
}

std::vector<double> vae_iwae_got(const A& x, const A& eps) {
  auto m = vae();
  Tape<double> t;
  return flat(m->negative_iwae_bound(t, t.constant(x), eps.shape()[0] / x.shape()[0], t.constant(eps)).value());
}

// ---- 7: the GMVAE -----------------------------------------------------------------------------------

std::unique_ptr<GMVAE<double>> gmvae() {
  Rng rng(0);
  GMVAEOptions o = small(GMVAEOptions{});
  o.components = 3;
  auto m = std::make_unique<GMVAE<double>>(o, rng);
  fix_parameters(m->params());
  return m;
}

std::vector<double> gmvae_ref(const A& x, const A& eps) {
  auto m = gmvae();
  return elbo_ref(*m, x, eps, [&m](Tape<double>& t, const Gaussian<double>& q, const A& z, std::size_t i) {
    const Gaussian<double> p = m->prior(t);
    std::vector<double> log_pk;  // log N(z; μ_k, σ_k²) for each component
    for (std::size_t c = 0; c < p.m.shape()[0]; ++c) log_pk.push_back(log_normal_row(z, i, p.m.value(), p.v.value(), c));
    // KL ≈ log q(z|x) − log (1/K) Σ_k N(z; μ_k, σ_k²) at the one sample z
    return log_normal_row(z, i, q.m.value(), q.v.value(), i) - log_mean_exp_values(log_pk);
  });
}

std::vector<double> gmvae_got(const A& x, const A& eps) { return elbo_got(*gmvae(), x, eps); }

}  // namespace

std::vector<Check> model_checks() {
  auto pair = [](std::string task, std::string name, std::string what, auto ref, auto got, A x, A e, A x2, A e2) {
    const std::string in = "(x = " + show(flat(x)) + ", ε = " + show(flat(e)) + ")";
    return std::vector<Check>{
        {task, name + " against its terms from the forward pieces", true,
         [=](Checker& c) { c.close(name + in + " → " + what, ref(x, e), got(x, e), 1e-6, 1e-9); }},
        {task, name + " at stored values", false,
         [=](Checker& c) { c.hidden(task + "/" + name, name + " at other inputs", got(x2, e2), 1e-6, 1e-9); }}};
  };
  std::vector<Check> out;
  for (auto part : {pair("6.1", "VAE negative_elbo_bound", "{nelbo…, kl…, rec…}", vae_elbo_ref, vae_elbo_got, kX, kEps, kX2, kEps2),
                    pair("6.2", "VAE negative_iwae_bound (k = 3)", "{−L_3 per row}", vae_iwae_ref, vae_iwae_got, kX, kEps3, kX2, kEps3b),
                    pair("7.2", "GMVAE negative_elbo_bound (K = 3)", "{nelbo…, kl…, rec…}", gmvae_ref, gmvae_got, kX, kEps, kX2, kEps2),
                    supervised_checks(kX, kX2, kEps, kEps2, kEps3, kEps3b, kLabels)})
    out.insert(out.end(), part.begin(), part.end());
  return out;
}

}  // namespace tz::coursework
