// tapezoo: the VAE's evaluation and pictures: −L_k without a tape for k in the thousands, the test
// metrics, samples, reconstructions and the learned manifold, and the active units of Burda et al.
// The model and its bounds are in models/vae.cpp.
#include "models/vae.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>

#include "autograd/parallel.hpp"
#include "io/png.hpp"
#include "models/evaluate.hpp"

namespace tz::models {

// ---- evaluation and pictures ---------------------------------------------------------------------

namespace {

// Images evaluated together by negative_iwae_bound_eval and evaluate: fixed, never derived from the
// thread count, so that group c always draws the same ε from its own chunk_rng(seed, c) whichever
// thread evaluates it, and the results are the same for every --threads (autograd/parallel.hpp).
constexpr std::size_t kEvalGroup = 100;

// ε ~ N(0, I) of shape [rows, z], drawn into an array of the caller's (not the model's eps_: groups
// are evaluated concurrently) and recorded as a constant.
template <class T>
Var<T> draw_eps_into(Tape<T>& tape, std::size_t rows, std::size_t z, Rng& rng, Array<T>& eps) {
  if (eps.dimension() != 2 || eps.shape()[0] != rows || eps.shape()[1] != z) eps.resize(Shape{rows, z});
  rng.fill_normal(eps);
  return tape.constant(eps, "ε");
}

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

}  // namespace

// ---- −L_k without a tape ------------------------------------------------------------------------

template <class T>
void VAE<T>::log_weights_of_group(Tape<T>& tape, const Array<T>& xg, std::size_t k, Rng& rng, std::size_t max_rows,
                                  double* out) {
  const std::size_t g = xg.shape()[0];
  tape.clear();
  Gaussian<T> q0 = encode(tape, tape.constant(xg));
  const Array<T> m = q0.m.value(), v = q0.v.value();
  // Samples per chunk: at most max_rows decoded rows at once (at least one sample).
  const std::size_t per_chunk = std::max<std::size_t>(1, max_rows / g);
  Array<T> eps;
  for (std::size_t i0 = 0; i0 < k; i0 += per_chunk) {
    const std::size_t c = std::min(per_chunk, k - i0);
    tape.clear();
    Gaussian<T> q{tape.constant(m), tape.constant(v)};
    Var<T> lw = log_importance_weights(tape, tape.constant(xg), q, c, draw_eps_into(tape, c * g, options_.z, rng, eps));
    const T* p = lw.value().data();
    for (std::size_t r = 0; r < c * g; ++r) out[i0 * g + r] = static_cast<double>(p[r]);
  }
}

// f(b, g, log_w) for each group [b, b + g) of at most kEvalGroup rows of x, where log_w[i·g + j] is
// the log weight of sample i of row b + j. The groups run on the pool (autograd/parallel.hpp), group c
// on its own tape with its own generator chunk_rng(seed, c), seed one draw from rng: f runs
// concurrently for different groups and writes only the group's own results.
template <class T>
template <class F>
void VAE<T>::for_each_group(const Array<T>& x, std::size_t k, Rng& rng, std::size_t max_rows, F&& f) {
  if (max_rows == 0) max_rows = options_.eval_rows;
  const std::size_t n = x.shape()[0];
  const std::uint64_t seed = rng.next_u64();
  parallel_for(chunk_count(n, kEvalGroup), [&](std::size_t c) {
    const std::size_t b = c * kEvalGroup, e = std::min(n, b + kEvalGroup), g = e - b;
    Tape<T> tape;
    NoGrad<T> no_grad(tape);
    Rng group_rng = chunk_rng(seed, c);
    std::vector<double> log_w(k * g);  // [k, g]: every sample's log weight, in double
    log_weights_of_group(tape, rows_of(x, b, e), k, group_rng, max_rows, log_w.data());
    f(b, g, log_w);
  });
}

template <class T>
std::vector<double> VAE<T>::log_importance_weights_eval(const Array<T>& x, std::size_t k, Rng& rng,
                                                        std::size_t max_rows) {
  if (k < 1) throw std::invalid_argument("log_importance_weights_eval: k must be at least 1");
  // log w_ij = log p(x_j|z_ij) + log p(z_ij) − log q(z_ij|x_j), z_ij = m_j + √v_j ⊙ ε_ij, every ε_ij independent
  const std::size_t n = x.shape()[0];
  std::vector<double> out(k * n);
  for_each_group(x, k, rng, max_rows, [&](std::size_t b, std::size_t g, const std::vector<double>& log_w) {
    // sample i of row b + j from the group's [k, g] into the whole [k, n]
    for (std::size_t i = 0; i < k; ++i)
      for (std::size_t j = 0; j < g; ++j) out[i * n + b + j] = log_w[i * g + j];
  });
  return out;
}

template <class T>
std::vector<double> VAE<T>::negative_iwae_bound_eval(const Array<T>& x, std::size_t k, Rng& rng,
                                                    std::size_t max_rows) {
  if (k < 1) throw std::invalid_argument("negative_iwae_bound_eval: k must be at least 1");
  std::vector<double> out(x.shape()[0]);
  for_each_group(x, k, rng, max_rows, [&](std::size_t b, std::size_t g, const std::vector<double>& log_w) {
    // −L_k(x_j) = −log (1/k) Σ_i w_ij, over the column j of log_w (stride g)
    for (std::size_t j = 0; j < g; ++j) out[b + j] = -log_mean_exp(log_w.data() + j, k, g);
  });
  return out;
}

// ---- the test metrics --------------------------------------------------------------------------

template <class T>
Metrics VAE<T>::evaluate(const Dataset& data, Rng& rng) {
  const Array<float> x_test = binarized_test_rows(data);
  const std::size_t n = x_test.shape()[0];
  const Array<T> x = rows_as<T>(x_test, 0, n);
  // Σ_x of −ELBO(x), KL and rec, 100 rows at a time on the pool (sums in double:
  // docs/pitfalls.md#double-accumulators)
  const auto [nelbo, kl, rec] =
      sum_over_chunks<T>(n, kEvalGroup, rng, [&](Tape<T>& tape, Rng& eps_rng, std::size_t b, std::size_t e) {
        Array<T> eps;
        Bound bound = negative_elbo_bound(tape, tape.constant(rows_of(x, b, e)),
                                          draw_eps_into(tape, e - b, options_.z, eps_rng, eps));
        return std::array{bound.nelbo, bound.kl, bound.rec};
      });
  const double dn = static_cast<double>(std::max<std::size_t>(n, 1));
  Metrics out = {{"test_nelbo", nelbo / dn}, {"test_kl", kl / dn}, {"test_rec", rec / dn}};
  for (long k : options_.iwae) {
    double s = 0;
    for (double v : negative_iwae_bound_eval(x, static_cast<std::size_t>(k), rng)) s += v;
    out.emplace_back(fmt::format("test_niwae_{}", k), s / dn);
  }
  return out;
}

// ---- pictures -----------------------------------------------------------------------------------

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

// Explicit instantiations of the members defined in this file (the class itself, with its vtable,
// is instantiated in models/vae.cpp).
#define TZ_VAE_EVAL(T)                                                                                          \
  template void VAE<T>::log_weights_of_group(Tape<T>&, const Array<T>&, std::size_t, Rng&, std::size_t, double*); \
  template std::vector<double> VAE<T>::log_importance_weights_eval(const Array<T>&, std::size_t, Rng&, std::size_t); \
  template std::vector<double> VAE<T>::negative_iwae_bound_eval(const Array<T>&, std::size_t, Rng&, std::size_t);    \
  template Metrics VAE<T>::evaluate(const Dataset&, Rng&);                                                       \
  template Array<float> VAE<T>::decode_means(const Array<float>&);                                              \
  template Array<float> VAE<T>::posterior_means(const Array<float>&);                                           \
  template Array<float> VAE<T>::sample(std::size_t, Rng&);                                                      \
  template void VAE<T>::write_pictures(const std::string&, const Dataset&, Rng&);
TZ_VAE_EVAL(float)
TZ_VAE_EVAL(double)

}  // namespace tz::models
