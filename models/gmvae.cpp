// tapezoo: the Gaussian-mixture VAE. The model and its derivation are in models/gmvae.hpp.
#include "models/gmvae.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>

#include "autograd/ops_fused_gmvae.hpp"
#include "autograd/path.hpp"
#include "io/png.hpp"
#include "models/evaluate.hpp"
#include "models/vae_common.hpp"

namespace tz::models {

// ---- the model -----------------------------------------------------------------------------------

template <class T>
GMVAE<T>::GMVAE(const GMVAEOptions& options, Rng& rng, std::string name) : options_(options), name_(std::move(name)) {
  const auto& o = options_;
  if (o.z == 0 || o.components == 0 || o.hidden == 0 || o.x_dim == 0)
    throw std::invalid_argument(fmt::format("{}: z, components, hidden and x_dim must be positive (z={}, components={}, "
                                            "hidden={}, x_dim={})", name_, o.z, o.components, o.hidden, o.x_dim));
  for (long k : o.iwae)
    if (k < 1) throw std::invalid_argument(fmt::format("{}: --iwae: {} importance samples; each must be at least 1", name_, k));
  // q(z|x): 784-300-300-2z, ELU (CS236 nns/v1.py Encoder)
  encoder_ = nn::MLP<T>(this->params_, "enc", {o.x_dim, o.hidden, o.hidden, 2 * o.z}, nn::Activation::elu, rng);
  // p(x|z): z-300-300-784, ELU (CS236 nns/v1.py Decoder)
  decoder_ = nn::MLP<T>(this->params_, "dec", {o.z, o.hidden, o.hidden, o.x_dim}, nn::Activation::elu, rng);
}

template <class T>
GMVAE<T>::GMVAE(const GMVAEOptions& options, Rng& rng) : GMVAE(options, rng, "gmvae") {
  const auto& o = options_;
  // z_pre ~ N(0, 1) / √(K·z), shape [2K, z]   (CS236 gmvae.py)
  Array<T> z_pre = rng.normal<T>({2 * o.components, o.z});
  z_pre /= static_cast<T>(std::sqrt(static_cast<double>(o.components * o.z)));
  z_pre_ = &this->params_.add("prior.z_pre", std::move(z_pre));
}

template <class T>
Gaussian<T> GMVAE<T>::encode(Tape<T>& tape, const Var<T>& x) const {
  // [m, h] = encoder(x),  v = softplus(h) + 1e-8
  return gaussian_parameters(encoder_(tape, x));
}

template <class T>
Var<T> GMVAE<T>::decode(Tape<T>& tape, const Var<T>& z) const {
  return decoder_(tape, z);
}

template <class T>
Gaussian<T> GMVAE<T>::prior(Tape<T>& tape) const {
  // μ = z_pre[0:K],  σ² = softplus(z_pre[K:2K]) + 1e-8   (gaussian_parameters along axis 0)
  const std::size_t K = options_.components;
  Var<T> z_pre = tape.param(*z_pre_);
  if (tz::textbook()) return {narrow(z_pre, 0, 0, K), softplus(narrow(z_pre, 0, K, K)) + 1e-8};
  // Fast path: σ² = softplus(z_pre[K:2K]) + 1e-8 as one node that reads the rows in place
  // (softplus_rows, autograd/ops_fused_gmvae.cpp) instead of a copy, softplus and the floor,
  // three nodes of [K, z] each way; μ is the same narrow. Within a few ε of the textbook σ², the
  // gradient likewise (tests/test_fast_paths_gmvae.cpp).
  return {narrow(z_pre, 0, 0, K), softplus_rows(z_pre, 0, K, K, 1e-8)};
}

template <class T>
typename GMVAE<T>::Bound GMVAE<T>::negative_elbo_bound(Tape<T>& tape, const Var<T>& x, const Var<T>& eps) const {
  // TASK 7.2 negative_elbo_bound: −ELBO = rec + KL, KL ≈ log q(z|x) − log p(z) at one sample z (Monte Carlo: no closed form for a mixture)
  // q(z|x) = N(z; m, diag v)
  auto [m, v] = encode(tape, x);
  // z = m + √v ⊙ ε   (the reparameterization trick, Kingma & Welling 2014, §2.4)
  Var<T> z = sample_gaussian(m, v, eps);
  // rec = −log p(x|z) = −Σ_j [x_j l_j − softplus(l_j)],  l = decoder(z)
  Var<T> rec = -log_bernoulli_with_logits(x, decode(tape, z));
  // kl ≈ log q(z|x) − log p(z),  log p(z) = log (1/K) Σ_i N(z; μ_i, σ_i²)   (one-sample estimate)
  auto [mu, var] = prior(tape);
  Var<T> kl = log_normal(z, m, v) - log_normal_mixture(z, mu, var);
  // −ELBO = kl + rec, per example
  return {kl + rec, kl, rec};
  // END TASK
}

template <class T>
typename GMVAE<T>::Bound GMVAE<T>::negative_elbo_bound(Tape<T>& tape, const Var<T>& x, Rng& rng) const {
  Var<T> eps = tape.constant(rng.normal<T>({x.shape()[0], options_.z}), "ε");
  return negative_elbo_bound(tape, x, eps);
}

template <class T>
Var<T> GMVAE<T>::negative_iwae_bound(Tape<T>& tape, const Var<T>& x, std::size_t k, Rng& rng) const {
  if (k == 0) throw std::invalid_argument(name_ + ": negative_iwae_bound needs at least one importance sample");
  const std::size_t n = x.shape()[0];
  // q(z|x) once per example; its k copies stacked on axis 0 (row j·n + i is example i)
  auto [m, v] = encode(tape, x);
  Var<T> m_k = duplicate(m, k), v_k = duplicate(v, k), x_k = duplicate(x, k);
  // z_j = m + √v ⊙ ε_j,  ε [k·n, z]
  Var<T> z = sample_gaussian(m_k, v_k, tape.constant(rng.normal<T>({k * n, options_.z}), "ε"));
  // log w_j = log p(x|z_j) + log p(z_j) − log q(z_j|x)
  auto [mu, var] = prior(tape);
  Var<T> log_w = log_bernoulli_with_logits(x_k, decode(tape, z)) + log_normal_mixture(z, mu, var) -
                 log_normal(z, m_k, v_k);
  // −L_k = −log (1/k) Σ_j w_j, in log space (log w is about −100: never exponentiate it)
  const auto rows = static_cast<std::ptrdiff_t>(k), cols = static_cast<std::ptrdiff_t>(n);
  return -log_mean_exp(reshape(log_w, {rows, cols}), 0);
}

template <class T>
Loss<T> GMVAE<T>::loss(Tape<T>& tape, const Batch<T>& batch, Rng& rng) {
  Var<T> x = tape.constant_view(batch.x, "x");  // read in place: no copy of the batch per step (Model::loss)
  Bound b = negative_elbo_bound(tape, x, rng);
  // the batch mean of −ELBO(x); the terms are batch means too
  Var<T> nelbo = mean(b.nelbo);
  return {nelbo, {{"nelbo", nelbo.item()}, {"kl", batch_mean(b.kl)}, {"rec", batch_mean(b.rec)}}};
}

template <class T>
void GMVAE<T>::prepare_batch(Batch<T>& batch, Rng& rng) {
  // x ~ Bernoulli(intensities), fresh every batch, two pixels per 64-bit draw (models/vae_common.hpp)
  binarize_batch(batch, xbin_, rng);
}

// ---- evaluation and pictures ---------------------------------------------------------------------

template <class T>
Metrics GMVAE<T>::evaluate(const Dataset& data, Rng& rng) {
  const Array<float> x_test = binarized_test_rows(data);
  const std::size_t n = x_test.shape()[0];
  const double nd = static_cast<double>(std::max<std::size_t>(n, 1));
  // Σ_x of −ELBO(x), KL and rec, 500 rows at a time, the chunks on the pool of --threads, each
  // drawing its ε from its own generator (models/evaluate.hpp: the same bits for every thread count)
  const auto [nelbo, kl, rec] = sum_over_chunks<T>(n, 500, rng, [&](Tape<T>& tape, Rng& r, std::size_t b, std::size_t e) {
    Bound bound = negative_elbo_bound(tape, tape.constant(rows_as<T>(x_test, b, e)), r);
    return std::array{bound.nelbo, bound.kl, bound.rec};
  });
  Metrics out = {{"test_nelbo", nelbo / nd}, {"test_kl", kl / nd}, {"test_rec", rec / nd}};

  // Σ_x −L_k(x) in chunks of about 1000 rows of z (the mixture density alone is [rows, K, z])
  for (long k_flag : options_.iwae) {
    const std::size_t k = static_cast<std::size_t>(k_flag);
    const auto [niwae] =
        sum_over_chunks<T>(n, iwae_chunk_rows(k, 1000), rng, [&](Tape<T>& tape, Rng& r, std::size_t b, std::size_t e) {
          return std::array{negative_iwae_bound(tape, tape.constant(rows_as<T>(x_test, b, e)), k, r)};
        });
    out.emplace_back(fmt::format("test_niwae_{}", k), niwae / nd);
  }
  return out;
}

template <class T>
Array<T> GMVAE<T>::sample_latent(const std::vector<std::size_t>& components, Rng& rng) {
  Tape<T> tape;
  NoGrad<T> no_grad(tape);
  auto [mu, var] = prior(tape);
  const std::size_t n = components.size(), d = options_.z;
  // z = μ_i + σ_i ⊙ ε for the given component i of each row
  Array<T> z = Array<T>::from_shape({n, d});
  for (std::size_t r = 0; r < n; ++r) {
    const std::size_t i = components[r];
    if (i >= options_.components)
      throw std::out_of_range(fmt::format("{}: component {} of {}", name_, i, options_.components));
    for (std::size_t j = 0; j < d; ++j)
      z(r, j) = mu.value()(i, j) + static_cast<T>(std::sqrt(static_cast<double>(var.value()(i, j))) * rng.normal());
  }
  return z;
}

template <class T>
Array<T> GMVAE<T>::sample_prior(std::size_t n, Rng& rng) {
  // i ~ Uniform{1..K}, then z ~ N(μ_i, σ_i²): the mixture itself, never N(0, I)
  std::vector<std::size_t> components(n);
  for (auto& i : components) i = rng.below(options_.components);
  return sample_latent(components, rng);
}

template <class T>
Array<float> GMVAE<T>::sample_components(const std::vector<std::size_t>& components, Rng& rng) {
  Array<T> z = sample_latent(components, rng);
  Tape<T> tape;
  NoGrad<T> no_grad(tape);
  // the Bernoulli means sigmoid(f(z)): smoother pictures than binary draws
  return to_float<T>(sigmoid(decode(tape, tape.constant(std::move(z)))).value());
}

template <class T>
Array<float> GMVAE<T>::sample(std::size_t n, Rng& rng) {
  Array<T> z = sample_prior(n, rng);
  Tape<T> tape;
  NoGrad<T> no_grad(tape);
  return to_float<T>(sigmoid(decode(tape, tape.constant(std::move(z)))).value());
}

template <class T>
void GMVAE<T>::write_pictures(const std::string& dir, const Dataset& data, Rng& rng) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  const std::size_t side = image_side(data, options_.x_dim);
  GridOptions grid{.nrow = 10, .padding = 2, .pad_value = 1.0f, .image_height = side, .image_width = side};

  // samples.png: ten components, one per row, ten draws of z from each
  std::vector<std::size_t> components;
  for (std::size_t r = 0; r < 10; ++r) {
    const std::size_t i = rng.below(options_.components);
    for (std::size_t c = 0; c < 10; ++c) components.push_back(i);
  }
  save_image_grid((fs::path(dir) / "samples.png").string(), sample_components(components, rng), grid);

  // reconstructions.png: rows of test digits, each followed by the row of their reconstructions
  save_reconstructions((fs::path(dir) / "reconstructions.png").string(), data, grid, [&](const Array<float>& x, std::size_t n) {
    Tape<T> tape;
    NoGrad<T> no_grad(tape);
    // σ(f(z)) for z ~ q(z|x)
    auto [m, v] = encode(tape, tape.constant(rows_as<T>(x, 0, n)));
    return to_float<T>(sigmoid(decode(tape, sample_gaussian(m, v, rng))).value());
  });
}

template <class T>
GaussianCode GMVAE<T>::gaussian_code(const Array<float>& x) {
  // m and v of q(z|x) = N(m, diag v), 1000 rows at a time; the prior's components from prior(), so that
  // the VampPrior's are its pseudo-inputs' posteriors
  GaussianCode c;
  c.m = map_rows<T>(x, options_.z, [&](Tape<T>& tape, const Var<T>& xc) { return encode(tape, xc).m.value(); });
  c.v = map_rows<T>(x, options_.z, [&](Tape<T>& tape, const Var<T>& xc) { return encode(tape, xc).v.value(); });
  Tape<T> tape;
  NoGrad<T> no_grad(tape);
  const Gaussian<T> p = prior(tape);
  c.prior_m = xt::cast<float>(p.m.value());
  c.prior_v = xt::cast<float>(p.v.value());
  return c;
}

template class GMVAE<float>;
template class GMVAE<double>;

// ---- flags and the registry entry ----------------------------------------------------------------

GMVAEOptions gmvae_options(const Config& c) {
  GMVAEOptions o;
  o.z = count_flag(c, "z");
  // Checkpoints written before the rename store the component count as k (now importance samples).
  o.components = count_flag(c, !c.has("components") && c.has("k") ? "k" : "components");
  o.hidden = count_flag(c, "hidden");
  o.iwae = c.integers("iwae");
  return o;
}

ModelInfo gmvae_info() {
  ModelInfo info;
  info.name = "gmvae";
  info.description = "VAE with a learned mixture-of-Gaussians prior (CS236 hw2), Monte-Carlo KL";
  info.flags = {
      {"z", "10", "latent dimension"},
      {"components", "500", "mixture components K of the prior p(z) = (1/K) Σ_i N(z; μ_i, σ_i²)"},
      {"hidden", "300", "width of the two hidden layers of encoder and decoder"},
      {"iwae", "1,10,100", "importance samples k of the reported test_niwae_<k> bounds"},
  };
  info.tiny_flags = {{"z", "2"}, {"components", "3"}, {"hidden", "8"}, {"iwae", "1,4"}};
  info.make_float = [](const Config& c, Rng& rng) -> std::unique_ptr<Model<float>> {
    return std::make_unique<GMVAE<float>>(gmvae_options(c), rng);
  };
  info.make_double = [](const Config& c, Rng& rng) -> std::unique_ptr<Model<double>> {
    return std::make_unique<GMVAE<double>>(gmvae_options(c), rng);
  };
  info.tiny_data = tiny_stroke_images;
  return info;
}

}  // namespace tz::models
