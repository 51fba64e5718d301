// tapezoo: the Gaussian-mixture VAE. The model and its derivation are in models/gmvae.hpp.
#include "models/gmvae.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>

#include "io/png.hpp"
#include "models/vae_common.hpp"

namespace tz::models {

template <class T>
GMVAE<T>::GMVAE(const GMVAEOptions& options, Rng& rng) : options_(options) {
  const auto& o = options_;
  if (o.z == 0 || o.k == 0 || o.hidden == 0 || o.x_dim == 0)
    throw std::invalid_argument(fmt::format("gmvae: z, k, hidden and x_dim must be positive (z={}, k={}, hidden={}, x_dim={})",
                                            o.z, o.k, o.hidden, o.x_dim));
  for (long m : o.iwae)
    if (m < 1) throw std::invalid_argument(fmt::format("gmvae: --iwae: {} importance samples; each must be at least 1", m));
  // q(z|x): 784-300-300-2z, ELU (CS236 nns/v1.py Encoder)
  encoder_ = nn::MLP<T>(this->params_, "enc", {o.x_dim, o.hidden, o.hidden, 2 * o.z}, nn::Activation::elu, rng);
  // p(x|z): z-300-300-784, ELU (CS236 nns/v1.py Decoder)
  decoder_ = nn::MLP<T>(this->params_, "dec", {o.z, o.hidden, o.hidden, o.x_dim}, nn::Activation::elu, rng);
  // z_pre ~ N(0, 1) / √(k·z), shape [2k, z]   (CS236 gmvae.py)
  Array<T> z_pre = rng.normal<T>({2 * o.k, o.z});
  z_pre /= static_cast<T>(std::sqrt(static_cast<double>(o.k * o.z)));
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
  // μ = z_pre[0:k],  σ² = softplus(z_pre[k:2k]) + 1e-8   (gaussian_parameters along axis 0)
  const std::size_t k = options_.k;
  Var<T> z_pre = tape.param(*z_pre_);
  return {narrow(z_pre, 0, 0, k), softplus(narrow(z_pre, 0, k, k)) + 1e-8};
}

template <class T>
typename GMVAE<T>::Bound GMVAE<T>::negative_elbo_bound(Tape<T>& tape, const Var<T>& x, const Var<T>& eps) const {
  // q(z|x) = N(z; m, diag v)
  auto [m, v] = encode(tape, x);
  // z = m + √v ⊙ ε   (the reparameterization trick, Kingma & Welling 2014, §2.4)
  Var<T> z = sample_gaussian(m, v, eps);
  // rec = −log p(x|z) = −Σ_j [x_j l_j − softplus(l_j)],  l = decoder(z)
  Var<T> rec = -log_bernoulli_with_logits(x, decode(tape, z));
  // kl ≈ log q(z|x) − log p(z),  log p(z) = log (1/k) Σ_i N(z; μ_i, σ_i²)   (one-sample estimate)
  auto [mu, var] = prior(tape);
  Var<T> kl = log_normal(z, m, v) - log_normal_mixture(z, mu, var);
  // −ELBO = kl + rec
  return {kl + rec, kl, rec};
}

template <class T>
typename GMVAE<T>::Bound GMVAE<T>::negative_elbo_bound(Tape<T>& tape, const Var<T>& x, Rng& rng) const {
  Var<T> eps = tape.constant(rng.normal<T>({x.shape()[0], options_.z}), "ε");
  return negative_elbo_bound(tape, x, eps);
}

template <class T>
Var<T> GMVAE<T>::negative_iwae_bound(Tape<T>& tape, const Var<T>& x, std::size_t iw, Rng& rng) const {
  if (iw == 0) throw std::invalid_argument("gmvae: negative_iwae_bound needs at least one importance sample");
  const std::size_t n = x.shape()[0];
  // q(z|x) once per example; its iw copies stacked on axis 0 (row j·n + i is example i)
  auto [m, v] = encode(tape, x);
  Var<T> m_iw = duplicate(m, iw), v_iw = duplicate(v, iw), x_iw = duplicate(x, iw);
  // z_j = m + √v ⊙ ε_j,  ε [iw·n, z]
  Var<T> z = sample_gaussian(m_iw, v_iw, tape.constant(rng.normal<T>({iw * n, options_.z}), "ε"));
  // log w_j = log p(x|z_j) + log p(z_j) − log q(z_j|x)
  auto [mu, var] = prior(tape);
  Var<T> log_w = log_bernoulli_with_logits(x_iw, decode(tape, z)) + log_normal_mixture(z, mu, var) -
                 log_normal(z, m_iw, v_iw);
  // −IWAE = −log (1/iw) Σ_j w_j, in log space (log w is about −100: never exponentiate it)
  const auto rows = static_cast<std::ptrdiff_t>(iw), cols = static_cast<std::ptrdiff_t>(n);
  return -log_mean_exp(reshape(log_w, {rows, cols}), 0);
}

template <class T>
Loss<T> GMVAE<T>::loss(Tape<T>& tape, const Batch<T>& batch, Rng& rng) {
  Var<T> x = tape.constant(batch.x, "x");
  Bound b = negative_elbo_bound(tape, x, rng);
  Var<T> nelbo = mean(b.nelbo);
  const double n = static_cast<double>(batch.x.shape()[0]);
  return {nelbo, {{"nelbo", nelbo.item()}, {"kl", sum_of(b.kl) / n}, {"rec", sum_of(b.rec) / n}}};
}

template <class T>
void GMVAE<T>::prepare_batch(Batch<T>& batch, Rng& rng) {
  batch.x = rng.bernoulli(batch.x);
}

template <class T>
Metrics GMVAE<T>::evaluate(const Dataset& data, Rng& rng) {
  const Array<float> x_test = binarized_test_rows(data);
  const std::size_t n = x_test.shape()[0];
  Tape<T> tape;
  NoGrad<T> no_grad(tape);

  double nelbo = 0, kl = 0, rec = 0;
  for_each_chunk(tape, n, 500, [&](std::size_t b, std::size_t e) {
    Bound bound = negative_elbo_bound(tape, tape.constant(rows_as<T>(x_test, b, e)), rng);
    nelbo += sum_of(bound.nelbo);
    kl += sum_of(bound.kl);
    rec += sum_of(bound.rec);
  });
  Metrics out = {{"test_nelbo", nelbo / n}, {"test_kl", kl / n}, {"test_rec", rec / n}};

  // −IWAE_m in chunks of about 1000 rows of z (the mixture density alone is [rows, k, z])
  for (long m : options_.iwae) {
    const std::size_t iw = static_cast<std::size_t>(m);
    double niwae = 0;
    for_each_chunk(tape, n, iwae_chunk_rows(iw, 1000), [&](std::size_t b, std::size_t e) {
      niwae += sum_of(negative_iwae_bound(tape, tape.constant(rows_as<T>(x_test, b, e)), iw, rng));
    });
    out.emplace_back(fmt::format("test_niwae_{}", m), niwae / static_cast<double>(n));
  }
  return out;
}

template <class T>
Array<float> GMVAE<T>::sample_components(const std::vector<std::size_t>& components, Rng& rng) {
  Tape<T> tape;
  NoGrad<T> no_grad(tape);
  auto [mu, var] = prior(tape);
  const std::size_t n = components.size(), d = options_.z;
  // z = μ_i + σ_i ⊙ ε for the given component i of each row
  Array<T> z = Array<T>::from_shape({n, d});
  for (std::size_t r = 0; r < n; ++r) {
    const std::size_t i = components[r];
    if (i >= options_.k) throw std::out_of_range(fmt::format("gmvae: component {} of {}", i, options_.k));
    for (std::size_t j = 0; j < d; ++j)
      z(r, j) = mu.value()(i, j) + static_cast<T>(std::sqrt(static_cast<double>(var.value()(i, j))) * rng.normal());
  }
  // the Bernoulli means sigmoid(f(z)): smoother pictures than binary draws
  return to_float<T>(sigmoid(decode(tape, tape.constant(std::move(z)))).value());
}

template <class T>
Array<float> GMVAE<T>::sample(std::size_t n, Rng& rng) {
  // i ~ Uniform{1..k}, then z ~ N(μ_i, σ_i²)
  std::vector<std::size_t> components(n);
  for (auto& i : components) i = rng.below(options_.k);
  return sample_components(components, rng);
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
    const std::size_t i = rng.below(options_.k);
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

template class GMVAE<float>;
template class GMVAE<double>;

// ---- the registry entry ---------------------------------------------------------------------------

namespace {

GMVAEOptions gmvae_options(const Config& c) {
  GMVAEOptions o;
  o.z = count_flag(c, "z");
  o.k = count_flag(c, "k");
  o.hidden = count_flag(c, "hidden");
  o.iwae = c.integers("iwae");
  return o;
}

}  // namespace

Dataset tiny_stroke_images(Rng& rng) {
  Dataset d;
  d.name = "tiny-strokes";
  d.rows = d.cols = 28;
  d.num_classes = 10;
  auto make = [&](std::size_t n, Array<float>& x, std::vector<int>& y) {
    x = Array<float>::from_shape({n, 784});
    y.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      const int c = static_cast<int>(i % 10);
      y[i] = c;
      const double angle = M_PI * c / 10.0, shift = rng.uniform(-2.0, 2.0);
      for (std::size_t r = 0; r < 28; ++r)
        for (std::size_t q = 0; q < 28; ++q) {
          // distance of the pixel from a line through the centre at the class's angle
          const double dist = std::abs((q - 13.5) * std::sin(angle) - (r - 13.5) * std::cos(angle) - shift);
          const double ink = std::exp(-dist * dist / 4.0) + 0.05 * rng.uniform();
          x(i, r * 28 + q) = static_cast<float>(std::min(1.0, ink));
        }
    }
  };
  make(200, d.train_x, d.train_y);
  make(100, d.test_x, d.test_y);
  return d;
}

ModelInfo gmvae_info() {
  ModelInfo info;
  info.name = "gmvae";
  info.description = "VAE with a learned mixture-of-Gaussians prior (CS236 hw2), Monte-Carlo KL";
  info.flags = {
      {"z", "10", "latent dimension"},
      {"k", "500", "mixture components of the prior p(z) = (1/k) Σ_i N(z; μ_i, σ_i²)"},
      {"hidden", "300", "width of the two hidden layers of encoder and decoder"},
      {"iwae", "1,10,100", "importance samples m of the reported test_niwae_<m> bounds"},
  };
  info.tiny_flags = {{"z", "2"}, {"k", "3"}, {"hidden", "8"}, {"iwae", "1,4"}};
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
