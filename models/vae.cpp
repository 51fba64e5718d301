// tapezoo: the VAE, IWAE and β-VAE. The derivation is in models/vae.hpp; each loss term below
// carries its formula on the line above it.
#include "models/vae.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

#include "io/png.hpp"
#include "distributions/constants.hpp"

namespace tz::models {

namespace {


// Images evaluated together by negative_iwae_bound_eval: fixed, so that the order in which ε is
// drawn does not depend on the chunk size.
constexpr std::size_t kEvalGroup = 100;

// Φ⁻¹(p), the standard normal quantile, by bisection on Φ(x) = ½ erfc(−x/√2): exact to double
// precision, and only used for pictures.
double normal_quantile(double p) {
  double lo = -40, hi = 40;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

// Synthetic 28×28 "strokes" for the conformance suite: one of four shapes (a vertical bar, a
// horizontal bar, a square outline, a diagonal), shifted by up to 3 pixels, as intensities 0.9 on
// the stroke and 0.05 elsewhere (binarized by prepare_batch like real images).
Dataset synthetic_strokes(std::size_t n_train, std::size_t n_test, Rng& rng) {
  auto draw = [&](std::size_t n) {
    Array<float> x = Array<float>::from_shape({n, 784});
    for (std::size_t r = 0; r < n; ++r) {
      const std::size_t shape = rng.below(4);
      const int dx = static_cast<int>(rng.below(7)) - 3, dy = static_cast<int>(rng.below(7)) - 3;
      for (int i = 0; i < 28; ++i)
        for (int j = 0; j < 28; ++j) {
          const int a = i - dy, b = j - dx;
          bool on = false;
          if (shape == 0) on = b >= 12 && b <= 15 && a >= 4 && a <= 23;
          if (shape == 1) on = a >= 12 && a <= 15 && b >= 4 && b <= 23;
          if (shape == 2) on = a >= 6 && a <= 21 && b >= 6 && b <= 21 && (a <= 8 || a >= 19 || b <= 8 || b >= 19);
          if (shape == 3) on = std::abs(a - b) <= 2 && a >= 4 && a <= 23;
          x(r, static_cast<std::size_t>(i * 28 + j)) = on ? 0.9f : 0.05f;
        }
    }
    return x;
  };
  Dataset d;
  d.name = "strokes";
  d.train_x = draw(n_train);
  d.test_x = draw(n_test);
  d.rows = d.cols = 28;
  return d;
}

}  // namespace

// ---- flags --------------------------------------------------------------------------------------

Objective parse_objective(const std::string& name) {
  if (name == "elbo") return Objective::elbo;
  if (name == "iwae") return Objective::iwae;
  throw std::invalid_argument(fmt::format("--objective: '{}' is not one of elbo, iwae", name));
}

AnnealShape parse_anneal_shape(const std::string& name) {
  if (name == "linear") return AnnealShape::linear;
  if (name == "cyclic") return AnnealShape::cyclic;
  throw std::invalid_argument(fmt::format("--anneal-shape: '{}' is not one of linear, cyclic", name));
}

double anneal_fraction(long t, long anneal, AnnealShape shape) {
  if (anneal <= 0) return 1.0;
  const double n = static_cast<double>(anneal);
  if (shape == AnnealShape::linear) return std::min(1.0, static_cast<double>(t) / n);
  // τ = (t mod N) / N;  β = 2τ on the first half of each cycle, then 1 (Fu et al. 2019, R = ½)
  const double tau = static_cast<double>(t % anneal) / n;
  return tau < 0.5 ? 2 * tau : 1.0;
}

VAEOptions vae_options(const Config& c) {
  VAEOptions o;
  o.z = count_flag(c, "z");
  o.hidden = count_flag(c, "hidden");
  o.beta = c.real("beta");
  if (!(o.beta >= 0)) throw std::invalid_argument(fmt::format("--beta: expected β ≥ 0, got {}", o.beta));
  o.anneal = c.integer("anneal");
  if (o.anneal < 0) throw std::invalid_argument(fmt::format("--anneal: expected ≥ 0 iterations, got {}", o.anneal));
  o.anneal_shape = parse_anneal_shape(c.str("anneal-shape"));
  o.objective = parse_objective(c.str("objective"));
  o.k = count_flag(c, "k");
  o.iwae = c.integers("iwae");
  for (long k : o.iwae)
    if (k < 1) throw std::invalid_argument(fmt::format("--iwae: every k must be at least 1, got {}", k));
  return o;
}

// ---- the model ----------------------------------------------------------------------------------

template <class T>
VAE<T>::VAE(const VAEOptions& options, Rng& rng)
    : options_(options),
      // e_φ: x → [m, h]   (784-300-300-2z, ELU)
      encoder_(this->params_, "enc", {options.x_dim, options.hidden, options.hidden, 2 * options.z},
               nn::Activation::elu, rng),
      // f_θ: z → logits   (z-300-300-784, ELU)
      decoder_(this->params_, "dec", {options.z, options.hidden, options.hidden, options.x_dim},
               nn::Activation::elu, rng) {}

template <class T>
Gaussian<T> VAE<T>::encode(Tape<T>& tape, const Var<T>& x) const {
  // m = e_φ(x)[:, :z],  v = softplus(e_φ(x)[:, z:]) + 1e-8
  return gaussian_parameters(encoder_(tape, x));
}

template <class T>
Var<T> VAE<T>::decode(Tape<T>& tape, const Var<T>& z) const {
  // logits of p_θ(x|z): f_θ(z)
  return decoder_(tape, z);
}

template <class T>
Var<T> VAE<T>::draw_eps(Tape<T>& tape, std::size_t rows, Rng& rng) {
  if (eps_.dimension() != 2 || eps_.shape()[0] != rows || eps_.shape()[1] != options_.z)
    eps_.resize(Shape{rows, options_.z});
  rng.fill_normal(eps_);
  return tape.constant(eps_, "ε");  // copied into the node's recycled storage
}

template <class T>
typename VAE<T>::Bound VAE<T>::elbo_from(Tape<T>& tape, const Var<T>& x, const Gaussian<T>& q,
                                          const Var<T>& eps) const {
  // z = m + √v ⊙ ε: one sample from q(z|x), differentiable in φ (the reparameterization trick)
  Var<T> z = sample_gaussian(q.m, q.v, eps);
  Var<T> logits = decode(tape, z);
  // rec = −log p(x|z) = −Σ_j [x_j l_j − softplus(l_j)],  l = f_θ(z)      (never log σ(l): docs/pitfalls.md#bernoulli-logits)
  // (log_bernoulli is log_bernoulli_with_logits fused into one vectorised op: autograd/ops.hpp)
  Var<T> rec = -log_bernoulli(x, logits);
  // KL(q(z|x) ‖ N(0, I)) = ½ Σ_j (v_j + m_j² − 1 − log v_j)      (Kingma & Welling 2014, App. B)
  Var<T> kl = 0.5 * (sum(q.v + square(q.m) - log(q.v), -1) - static_cast<double>(options_.z));
  // −ELBO = rec + KL, averaged over the batch
  return {mean(rec + kl), mean(kl), mean(rec)};
}

template <class T>
typename VAE<T>::Bound VAE<T>::negative_elbo_bound(Tape<T>& tape, const Var<T>& x, const Var<T>& eps) const {
  return elbo_from(tape, x, encode(tape, x), eps);
}

template <class T>
typename VAE<T>::Bound VAE<T>::negative_elbo_bound(Tape<T>& tape, const Var<T>& x, Rng& rng) {
  Gaussian<T> q = encode(tape, x);
  return elbo_from(tape, x, q, draw_eps(tape, x.shape()[0], rng));
}

template <class T>
Var<T> VAE<T>::weighted_objective(const Bound& b, double beta) const {
  if (beta == 1.0) return b.nelbo;
  // β-VAE: rec + β·KL      (Higgins et al. 2017, eq. 4)
  return b.rec + beta * b.kl;
}

template <class T>
Var<T> VAE<T>::log_importance_weights(Tape<T>& tape, const Var<T>& x, const Gaussian<T>& q, std::size_t k,
                                      const Var<T>& eps) const {
  const std::size_t n = x.shape()[0];
  if (eps.dim() != 2 || eps.shape()[0] != k * n || eps.shape()[1] != options_.z)
    throw std::invalid_argument(fmt::format("log_importance_weights: ε must be [k·n, z] = [{}, {}], got {}", k * n,
                                            options_.z, shape_str(eps.shape())));
  // k copies of q(z|x) and of x: row i·n + j belongs to sample i of example j
  Var<T> m = k == 1 ? q.m : duplicate(q.m, k);
  Var<T> v = k == 1 ? q.v : duplicate(q.v, k);
  Var<T> xk = k == 1 ? x : duplicate(x, k);
  // z_i = m + √v ⊙ ε_i
  Var<T> z = sample_gaussian(m, v, eps);
  // log p(x|z_i) = Σ_j [x_j l_ij − softplus(l_ij)]
  Var<T> log_px_z = log_bernoulli(xk, decode(tape, z));
  // log p(z_i) = log N(z_i; 0, I) = −½ Σ_j (z_ij² + log 2π)
  Var<T> log_pz = -0.5 * (sum(square(z), -1) + kLog2Pi * static_cast<double>(options_.z));
  // log q(z_i|x) = log N(z_i; m, diag v)
  Var<T> log_qz = log_normal(z, m, v);
  // log w_i = log p(x|z_i) + log p(z_i) − log q(z_i|x), as [k, n]
  return reshape(log_px_z + log_pz - log_qz, {static_cast<std::ptrdiff_t>(k), static_cast<std::ptrdiff_t>(n)});
}

template <class T>
Var<T> VAE<T>::negative_iwae_bound(Tape<T>& tape, const Var<T>& x, std::size_t k, const Var<T>& eps) const {
  Var<T> log_w = log_importance_weights(tape, x, encode(tape, x), k, eps);
  // −L_k(x) = −log (1/k) Σ_i w_i      (Burda et al. 2016, eq. 8), averaged over the batch
  return mean(-log_mean_exp(log_w, 0));
}

template <class T>
Var<T> VAE<T>::negative_iwae_bound(Tape<T>& tape, const Var<T>& x, std::size_t k, Rng& rng) {
  Gaussian<T> q = encode(tape, x);
  Var<T> log_w = log_importance_weights(tape, x, q, k, draw_eps(tape, k * x.shape()[0], rng));
  // −L_k(x) = −log (1/k) Σ_i w_i      (Burda et al. 2016, eq. 8), averaged over the batch
  return mean(-log_mean_exp(log_w, 0));
}

template <class T>
void VAE<T>::log_weights_of_group(Tape<T>& tape, const Array<T>& xg, std::size_t k, Rng& rng, std::size_t max_rows,
                                  double* out) {
  const std::size_t g = xg.shape()[0];
  tape.clear();
  Gaussian<T> q0 = encode(tape, tape.constant(xg));
  const Array<T> m = q0.m.value(), v = q0.v.value();
  // Samples per chunk: at most max_rows decoded rows at once (at least one sample).
  const std::size_t per_chunk = std::max<std::size_t>(1, max_rows / g);
  for (std::size_t i0 = 0; i0 < k; i0 += per_chunk) {
    const std::size_t c = std::min(per_chunk, k - i0);
    tape.clear();
    Gaussian<T> q{tape.constant(m), tape.constant(v)};
    Var<T> lw = log_importance_weights(tape, tape.constant(xg), q, c, draw_eps(tape, c * g, rng));
    const T* p = lw.value().data();
    for (std::size_t r = 0; r < c * g; ++r) out[i0 * g + r] = static_cast<double>(p[r]);
  }
}

template <class T>
std::vector<double> VAE<T>::log_importance_weights_eval(const Array<T>& x, std::size_t k, Rng& rng,
                                                        std::size_t max_rows) {
  if (k < 1) throw std::invalid_argument("log_importance_weights_eval: k must be at least 1");
  if (max_rows == 0) max_rows = options_.eval_rows;
  const std::size_t n = x.shape()[0];
  std::vector<double> out(k * n), group;
  Tape<T> tape;
  NoGrad<T> no_grad(tape);
  for (std::size_t b = 0; b < n; b += kEvalGroup) {
    const std::size_t e = std::min(n, b + kEvalGroup), g = e - b;
    group.resize(k * g);
    log_weights_of_group(tape, rows_of(x, b, e), k, rng, max_rows, group.data());
    for (std::size_t i = 0; i < k; ++i)
      for (std::size_t j = 0; j < g; ++j) out[i * n + b + j] = group[i * g + j];
  }
  return out;
}

template <class T>
std::vector<double> VAE<T>::negative_iwae_bound_eval(const Array<T>& x, std::size_t k, Rng& rng,
                                                    std::size_t max_rows) {
  if (k < 1) throw std::invalid_argument("negative_iwae_bound_eval: k must be at least 1");
  if (max_rows == 0) max_rows = options_.eval_rows;
  const std::size_t n = x.shape()[0];
  std::vector<double> out(n);
  Tape<T> tape;
  NoGrad<T> no_grad(tape);
  std::vector<double> log_w;  // [k, group]: every sample's log weight, in double
  for (std::size_t b = 0; b < n; b += kEvalGroup) {
    const std::size_t e = std::min(n, b + kEvalGroup), g = e - b;
    log_w.resize(k * g);
    log_weights_of_group(tape, rows_of(x, b, e), k, rng, max_rows, log_w.data());
    // −L_k(x_j) = −(max_i log w_ij + log Σ_i e^{log w_ij − max}) + log k
    for (std::size_t j = 0; j < g; ++j) {
      double mx = -std::numeric_limits<double>::infinity();
      for (std::size_t i = 0; i < k; ++i) mx = std::max(mx, log_w[i * g + j]);
      double s = 0;
      for (std::size_t i = 0; i < k; ++i) s += std::exp(log_w[i * g + j] - mx);
      out[b + j] = -(mx + std::log(s) - std::log(static_cast<double>(k)));
    }
  }
  return out;
}

template <class T>
double VAE<T>::kl_weight() const {
  return options_.beta * anneal_fraction(iteration_, options_.anneal, options_.anneal_shape);
}

template <class T>
Loss<T> VAE<T>::loss(Tape<T>& tape, const Batch<T>& batch, Rng& rng) {
  Var<T> x = tape.constant_view(batch.x, "x");  // read in place: no copy of the batch per step
  if (options_.objective == Objective::iwae) {
    Var<T> niwae = negative_iwae_bound(tape, x, options_.k, rng);
    return {niwae, {{"niwae", niwae.item()}}};
  }
  Bound b = negative_elbo_bound(tape, x, rng);
  return {weighted_objective(b, kl_weight()), {{"nelbo", b.nelbo.item()}, {"kl", b.kl.item()}, {"rec", b.rec.item()}}};
}

template <class T>
void VAE<T>::prepare_data(Dataset& data, Rng& /*rng*/) {
  if (data.dim() != options_.x_dim)
    throw std::invalid_argument(fmt::format("vae: the data '{}' has {} columns, but the model takes {} (28×28 images)",
                                            data.name, data.dim(), options_.x_dim));
}

template <class T>
void VAE<T>::prepare_batch(Batch<T>& batch, Rng& rng) {
  // x ~ Bernoulli(intensities), fresh every time a batch is seen (Burda et al. 2016, §5):
  // x_j = [u_j < p_j] with u_j uniform on [0, 1) from 24 random bits, two per 64-bit draw. (This is
  // binarize_dynamic at a quarter of its cost, which matters in a step this short: bench/vae_step's
  // prepare_ms; P(x_j = 1) = p_j to within 2⁻²⁴.)
  if (!std::equal(batch.x.shape().begin(), batch.x.shape().end(), xbin_.shape().begin(), xbin_.shape().end()))
    xbin_.resize(batch.x.shape());
  const T* p = batch.x.data();
  T* x = xbin_.data();
  const std::size_t n = batch.x.size();
  constexpr float two24 = 16777216.0f;  // 2²⁴
  for (std::size_t i = 0; i < n; i += 2) {
    const std::uint64_t bits = rng.next_u64();
    x[i] = static_cast<T>(static_cast<float>(bits >> 40) < static_cast<float>(p[i]) * two24);
    if (i + 1 < n) x[i + 1] = static_cast<T>(static_cast<float>((bits >> 16) & 0xFFFFFF) < static_cast<float>(p[i + 1]) * two24);
  }
  std::swap(batch.x, xbin_);
}

template <class T>
Metrics VAE<T>::evaluate(const Dataset& data, Rng& rng) {
  const Array<float> x_test = binarized_test_rows(data);
  const std::size_t n = x_test.shape()[0];
  const Array<T> x = rows_as<T>(x_test, 0, n);
  Tape<T> tape;
  NoGrad<T> no_grad(tape);
  double nelbo = 0, kl = 0, rec = 0;  // sums in double (docs/pitfalls.md#double-accumulators)
  for (std::size_t b = 0; b < n; b += kEvalGroup) {
    const std::size_t e = std::min(n, b + kEvalGroup);
    tape.clear();
    Bound bound = negative_elbo_bound(tape, tape.constant(rows_of(x, b, e)), rng);
    const double rows = static_cast<double>(e - b);
    nelbo += rows * bound.nelbo.item();
    kl += rows * bound.kl.item();
    rec += rows * bound.rec.item();
  }
  const double dn = static_cast<double>(n);
  Metrics out = {{"test_nelbo", nelbo / dn}, {"test_kl", kl / dn}, {"test_rec", rec / dn}};
  for (long k : options_.iwae) {
    double s = 0;
    for (double v : negative_iwae_bound_eval(x, static_cast<std::size_t>(k), rng)) s += v;
    out.emplace_back(fmt::format("test_niwae_{}", k), s / dn);
  }
  return out;
}

template <class T>
Array<float> VAE<T>::decode_means(const Array<float>& z) {
  // E[x|z] = σ(f_θ(z)), 1000 rows at a time
  return map_rows<T>(z, options_.x_dim, [&](Tape<T>& tape, const Var<T>& zc) { return sigmoid(decode(tape, zc)).value(); });
}

template <class T>
Array<float> VAE<T>::posterior_means(const Array<float>& x) {
  // m of q(z|x) = N(m, diag v), 1000 rows at a time
  return map_rows<T>(x, options_.z, [&](Tape<T>& tape, const Var<T>& xc) { return encode(tape, xc).m.value(); });
}

template <class T>
Array<float> VAE<T>::sample(std::size_t n, Rng& rng) {
  // z ~ N(0, I), then the Bernoulli means σ(f_θ(z))
  return decode_means(rng.normal<float>({n, options_.z}));
}

template <class T>
void VAE<T>::write_pictures(const std::string& dir, const Dataset& data, Rng& rng) {
  std::filesystem::create_directories(dir);
  const std::size_t d = options_.x_dim;
  GridOptions grid;
  grid.nrow = 10;
  if (data.rows * data.cols == d) {
    grid.image_height = data.rows;
    grid.image_width = data.cols;
  }
  save_image_grid(dir + "/samples.png", sample(100, rng), grid);

  // Inputs (binarized test images) in odd rows, their reconstructions σ(f_θ(m)) below them.
  const Array<float> x_test = binarized_test_rows(data);
  const std::size_t n = std::min<std::size_t>(50, x_test.shape()[0]), cols = 10;
  if (n > 0) {
    const Array<float> x = rows_as<float>(x_test, 0, n);
    const Array<float> recon = decode_means(posterior_means(x));
    save_image_grid(dir + "/reconstructions.png", reconstruction_pairs(x, recon, n, cols), grid);
  }

  if (options_.z == 2) {
    // The learned manifold (Kingma & Welling 2014, Fig. 4): z on a 20×20 grid of quantiles
    // Φ⁻¹((i + ½)/20) of the prior, decoded to Bernoulli means.
    const std::size_t g = 20;
    Array<float> z = Array<float>::from_shape({g * g, 2});
    for (std::size_t i = 0; i < g; ++i)
      for (std::size_t j = 0; j < g; ++j) {
        z(i * g + j, 0) = static_cast<float>(normal_quantile((static_cast<double>(j) + 0.5) / g));
        z(i * g + j, 1) = static_cast<float>(normal_quantile((static_cast<double>(g - 1 - i) + 0.5) / g));
      }
    GridOptions mg = grid;
    mg.nrow = g;
    mg.padding = 0;
    save_image_grid(dir + "/manifold.png", decode_means(z), mg);
  }
}

// ---- analysis -----------------------------------------------------------------------------------

std::vector<double> unit_activities(const Array<float>& means) {
  // A_j = Cov_x(E_q[z_j|x]) = (1/n) Σ_x (m_j(x) − mean_x m_j)²
  const std::size_t n = means.shape()[0], z = means.shape()[1];
  std::vector<double> mu(z, 0.0), var(z, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < z; ++j) mu[j] += means(i, j);
  for (double& m : mu) m /= static_cast<double>(n);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < z; ++j) var[j] += (means(i, j) - mu[j]) * (means(i, j) - mu[j]);
  for (double& v : var) v /= static_cast<double>(n);
  return var;
}

std::size_t active_units(const Array<float>& means, double threshold) {
  std::size_t count = 0;
  for (double a : unit_activities(means)) count += a > threshold;
  return count;
}

// ---- the registry entries -----------------------------------------------------------------------

namespace {

template <class T>
std::unique_ptr<Model<T>> make_vae(const Config& c, Rng& rng) {
  return std::make_unique<VAE<T>>(vae_options(c), rng);
}

ModelInfo vae_info_with(std::string name, std::string description, std::map<std::string, std::string> defaults) {
  ModelInfo m;
  m.name = std::move(name);
  m.description = std::move(description);
  m.flags = {
      {"z", "10", "latent dimensions"},
      {"hidden", "300", "width of the two hidden layers of encoder and decoder"},
      {"beta", "1", "weight β of the KL term: rec + β·KL (β-VAE, Higgins et al. 2017)"},
      {"anneal", "0", "KL annealing: iterations over which the KL weight rises from 0 to β (0: off)"},
      {"anneal-shape", "linear", "annealing schedule: linear (once) or cyclic (every --anneal iterations)"},
      {"objective", "elbo", "training objective: elbo, or iwae (the importance-weighted bound with --k samples)"},
      {"k", "5", "importance samples of the IWAE objective (with --objective iwae)"},
      {"iwae", "1,10,100", "k of the reported test bounds test_niwae_<k>, e.g. 1,10,100,1000"},
  };
  for (auto& f : m.flags)
    if (defaults.count(f.name)) f.default_value = defaults.at(f.name);
  m.tiny_flags = {{"z", "2"}, {"hidden", "16"}, {"iwae", "1,4"}};
  m.make_float = make_vae<float>;
  m.make_double = make_vae<double>;
  m.tiny_data = [](Rng& rng) { return synthetic_strokes(256, 64, rng); };
  // --data strokes: 5,000 + 1,000 synthetic 28×28 strokes (seconds to learn; for tests and demos).
  m.load_data = [](const std::string& spec, Rng&, Dataset& out) {
    if (spec != "strokes") return false;
    Rng data_rng(2014);  // the data set is fixed: its own seed, not the run's
    out = synthetic_strokes(5000, 1000, data_rng);
    return true;
  };
  m.default_data = "fashion-mnist";
  m.conformance_lr = 1e-3;
  return m;
}

}  // namespace

ModelInfo vae_info() {
  return vae_info_with("vae", "variational autoencoder (Kingma & Welling 2014): ELBO, β-VAE, KL annealing, IWAE", {});
}

ModelInfo iwae_info() {
  return vae_info_with("iwae", "importance-weighted autoencoder (Burda et al. 2016): the VAE trained on L_5",
                       {{"objective", "iwae"}, {"k", "5"}});
}

ModelInfo beta_vae_info() {
  return vae_info_with("beta_vae", "β-VAE (Higgins et al. 2017): the VAE with the KL weighted by β = 4", {{"beta", "4"}});
}

template class VAE<float>;
template class VAE<double>;

}  // namespace tz::models
