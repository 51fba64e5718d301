// tapezoo coursework: the checks of parts 8 (the SSVAE's labelled and unlabelled bounds) and 9
// (the FSVAE's), built as those of coursework/checks/checks_models.cpp are: fixed parameters,
// fixed ε, the reference from the forward pieces and plain-double formulas, float64, rtol 1e-6.
#include <cmath>
#include <memory>

#include "coursework/checks/model_refs.hpp"
#include "distributions/distributions.hpp"
#include "models/fsvae.hpp"
#include "models/ssvae.hpp"

namespace tz::coursework {

namespace {

using namespace tz::models;
constexpr std::size_t kK = 3;  // classes

template <class M, class Opt>
std::unique_ptr<M> make(Opt o) {
  o.x_dim = 5;
  o.hidden = 4;
  o.z = 2;
  o.classes = kK;
  Rng rng(0);
  auto m = std::make_unique<M>(o, rng);
  fix_parameters(m->params());
  return m;
}

std::unique_ptr<SSVAE<double>> ssvae() {
  SSVAEOptions o;
  o.labels = o.labelled_batch = kK;  // a multiple of the classes, as the model requires
  return make<SSVAE<double>>(o);
}

// L(x, y) = rec + KL_z + log K, the terms {nelbo…, kl_z…, rec…}
std::vector<double> labelled_ref(const A& x, const A& eps, const std::vector<int>& labels) {
  auto m = ssvae();
  Tape<double> t;
  V y = t.constant(one_hot<double>(labels, kK));
  const Gaussian<double> q = m->encode(t, t.constant(x), y);
  const A z = reparameterize(q.m.value(), q.v.value(), eps, 1);
  const A l = m->decode(t, t.constant(z), y).value();
  std::vector<double> nelbo, kl, rec;
  for (std::size_t i = 0; i < x.shape()[0]; ++i) {
    kl.push_back(kl_std_row(q.m.value(), q.v.value(), i));
    rec.push_back(-log_bernoulli_row(x, i, l, i));
    nelbo.push_back(rec.back() + kl.back() + std::log(static_cast<double>(kK)));
  }
  return concat_values({nelbo, kl, rec});
}

std::vector<double> labelled_got(const A& x, const A& eps, const std::vector<int>& labels) {
  auto m = ssvae();
  Tape<double> t;
  auto b = m->negative_elbo_bound(t, t.constant(x), labels, t.constant(eps));
  return concat_values({flat(b.nelbo.value()), flat(b.kl_z.value()), flat(b.rec.value())});
}

// U(x) = Σ_c q_c (log q_c + log K) + Σ_c q_c (KL_z(x, c) + rec(x, c)), the terms {nelbo…, kl_y…, kl_z…, rec…};
// ε row c·n + i is the sample of the pair (x_i, y = c)
std::vector<double> unlabelled_ref(const A& x, const A& eps) {
  auto m = ssvae();
  Tape<double> t;
  const std::size_t n = x.shape()[0];
  const A logits = m->classify(t, t.constant(x)).value();
  std::vector<double> nelbo(n), kl_y(n), kl_z(n), rec(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<double> row(logits.begin() + static_cast<std::ptrdiff_t>(i * kK),
                            logits.begin() + static_cast<std::ptrdiff_t>((i + 1) * kK));
    const double lse = log_mean_exp_values(row) + std::log(static_cast<double>(kK));
    for (std::size_t c = 0; c < kK; ++c) {
      const double log_q = row[c] - lse, q = std::exp(log_q);
      kl_y[i] += q * (log_q + std::log(static_cast<double>(kK)));  // KL(q(y|x) ‖ 1/K) = log K − H[q]
      A yc = xt::zeros<double>({std::size_t{1}, kK});
      yc(0, c) = 1;
      A xi = xt::zeros<double>({std::size_t{1}, x.shape()[1]}), ei = xt::zeros<double>({std::size_t{1}, eps.shape()[1]});
      for (std::size_t j = 0; j < x.shape()[1]; ++j) xi(0, j) = x(i, j);
      for (std::size_t j = 0; j < eps.shape()[1]; ++j) ei(0, j) = eps(c * n + i, j);
      const Gaussian<double> qz = m->encode(t, t.constant(xi), t.constant(yc));
      const A z = reparameterize(qz.m.value(), qz.v.value(), ei, 1);
      const A l = m->decode(t, t.constant(z), t.constant(yc)).value();
      kl_z[i] += q * kl_std_row(qz.m.value(), qz.v.value(), 0);
      rec[i] += q * -log_bernoulli_row(xi, 0, l, 0);
    }
    nelbo[i] = kl_y[i] + kl_z[i] + rec[i];
  }
  return concat_values({nelbo, kl_y, kl_z, rec});
}

std::vector<double> unlabelled_got(const A& x, const A& eps) {
  auto m = ssvae();
  Tape<double> t;
  auto b = m->negative_elbo_bound(t, t.constant(x), t.constant(eps));
  return concat_values({flat(b.nelbo.value()), flat(b.kl_y.value()), flat(b.kl_z.value()), flat(b.rec.value())});
}

std::unique_ptr<FSVAE<double>> fsvae(bool learned) {
  FSVAEOptions o;
  o.learned_prior = learned;
  return make<FSVAE<double>>(o);
}

// −ELBO(x|y) = rec + KL(q(z|x,y) ‖ p(z|y)), the terms {nelbo…, kl…, rec…}
std::vector<double> fsvae_ref(bool learned, const A& x, const A& eps, const std::vector<int>& labels) {
  auto m = fsvae(learned);
  Tape<double> t;
  V y = t.constant(one_hot<double>(labels, kK));
  const Gaussian<double> q = m->encode(t, t.constant(x), y);
  const Gaussian<double> p = m->prior(t, labels);
  const A z = reparameterize(q.m.value(), q.v.value(), eps, 1);
  const A l = m->decode(t, t.constant(z), y).value();
  std::vector<double> nelbo, kl, rec;
  for (std::size_t i = 0; i < x.shape()[0]; ++i) {
    kl.push_back(kl_normal_row(q.m.value(), q.v.value(), p.m.value(), p.v.value(), i));
    rec.push_back(-log_bernoulli_row(x, i, l, i));
    nelbo.push_back(rec.back() + kl.back());
  }
  return concat_values({nelbo, kl, rec});
}

std::vector<double> fsvae_got(bool learned, const A& x, const A& eps, const std::vector<int>& labels) {
  auto m = fsvae(learned);
  Tape<double> t;
  auto b = m->negative_elbo_bound(t, t.constant(x), labels, t.constant(eps));
  return concat_values({flat(b.nelbo.value()), flat(b.kl.value()), flat(b.rec.value())});
}

}  // namespace

std::vector<Check> supervised_checks(const A& x, const A& x2, const A& eps, const A& eps2, const A& eps3,
                                     const A& eps3b, const std::vector<int>& labels) {
  const std::string in = "(x = " + show(flat(x)) + ", y = [0, 2], ε = " + show(flat(eps)) + ")";
  const std::string in3 = "(x = " + show(flat(x)) + ", ε = " + show(flat(eps3)) + ", row c·n + i for (x_i, y = c))";
  const std::vector<int> labels2{1, 1};
  return {
      {"8.1", "SSVAE labelled bound against its terms", true, [=](Checker& c) {
         c.close("SSVAE negative_elbo_bound" + in + " → {nelbo…, kl_z…, rec…}", labelled_ref(x, eps, labels),
                 labelled_got(x, eps, labels), 1e-6, 1e-9);
       }},
      {"8.1", "SSVAE labelled bound at stored values", false,
       [=](Checker& c) { c.hidden("8.1/labelled", "SSVAE labelled bound", labelled_got(x2, eps2, labels2), 1e-6, 1e-9); }},
      {"8.2", "SSVAE unlabelled bound against its terms", true, [=](Checker& c) {
         c.close("SSVAE negative_elbo_bound" + in3 + " → {nelbo…, kl_y…, kl_z…, rec…}", unlabelled_ref(x, eps3),
                 unlabelled_got(x, eps3), 1e-6, 1e-9);
       }},
      {"8.2", "SSVAE unlabelled bound at stored values", false,
       [=](Checker& c) { c.hidden("8.2/unlabelled", "SSVAE unlabelled bound", unlabelled_got(x2, eps3b), 1e-6, 1e-9); }},
      {"9.1", "FSVAE bound, prior N(0, I), against its terms", true, [=](Checker& c) {
         c.close("FSVAE negative_elbo_bound" + in + " → {nelbo…, kl…, rec…}", fsvae_ref(false, x, eps, labels),
                 fsvae_got(false, x, eps, labels), 1e-6, 1e-9);
       }},
      {"9.1", "FSVAE bound, the learned prior N(μ_y, σ_y²), against its terms", true, [=](Checker& c) {
         c.close("FSVAE negative_elbo_bound, learned prior" + in + " → {nelbo…, kl…, rec…}", fsvae_ref(true, x, eps, labels),
                 fsvae_got(true, x, eps, labels), 1e-6, 1e-9);
       }},
      {"9.1", "FSVAE bound at stored values", false,
       [=](Checker& c) { c.hidden("9.1/fsvae", "FSVAE bound, learned prior", fsvae_got(true, x2, eps2, labels2), 1e-6, 1e-9); }},
  };
}

}  // namespace tz::coursework
