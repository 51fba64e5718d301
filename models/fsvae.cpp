// tapezoo: the fully supervised (conditional) VAE. The model and its derivation are in models/fsvae.hpp.
#include "models/fsvae.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>

#include "io/png.hpp"
#include "models/evaluate.hpp"
#include "models/vae_common.hpp"  // tiny_stroke_images, and the helpers the VAE family shares

namespace tz::models {

// ---- the model -----------------------------------------------------------------------------------

template <class T>
FSVAE<T>::FSVAE(const FSVAEOptions& options, Rng& rng) : options_(options) {
  const auto& o = options_;
  if (o.z == 0 || o.hidden == 0 || o.x_dim == 0 || o.classes < 2)
    throw std::invalid_argument(fmt::format("fsvae: z, hidden and x_dim must be positive and classes at least 2 "
                                            "(z={}, hidden={}, x_dim={}, classes={})", o.z, o.hidden, o.x_dim, o.classes));
  for (long k : o.iwae)
    if (k < 1) throw std::invalid_argument(fmt::format("fsvae: --iwae: {} importance samples; each must be at least 1", k));
  // q(z|x,y): (784+K)-300-300-2z, ELU
  encoder_ = nn::MLP<T>(this->params_, "enc", {o.x_dim + o.classes, o.hidden, o.hidden, 2 * o.z}, nn::Activation::elu, rng);
  // p(x|z,y): (z+K)-300-300-784, ELU
  decoder_ = nn::MLP<T>(this->params_, "dec", {o.z + o.classes, o.hidden, o.hidden, o.x_dim}, nn::Activation::elu, rng);
  if (o.learned_prior) {
    // p(z|y) = N(μ_y, diag σ_y²): row y is [μ_y, h_y], σ_y² = softplus(h_y) + 1e-8; it starts at N(0, I):
    // μ_y = 0, h_y = log(e − 1), so that softplus(h_y) = log(1 + e − 1) = 1
    Array<T> init = xt::zeros<T>({o.classes, 2 * o.z});
    for (std::size_t c = 0; c < o.classes; ++c)
      for (std::size_t j = o.z; j < 2 * o.z; ++j) init(c, j) = static_cast<T>(std::log(std::exp(1.0) - 1.0));
    prior_ = &this->params_.add("prior.z_pre", std::move(init));
  }
}

template <class T>
Gaussian<T> FSVAE<T>::prior(Tape<T>& tape, const std::vector<int>& labels) const {
  const std::size_t n = labels.size(), zd = options_.z;
  if (!prior_) return {tape.constant(xt::zeros<T>({n, zd})), tape.constant(xt::ones<T>({n, zd}))};
  // [μ_y, σ_y²] = gaussian_parameters(row y of prior.z_pre), for every row's label y
  std::vector<std::size_t> rows(labels.begin(), labels.end());
  return gaussian_parameters(gather_rows(tape.param(*prior_), rows));
}

template <class T>
Array<T> FSVAE<T>::prior_codes(Array<T> eps, const std::vector<int>& labels) const {
  if (!prior_) return eps;
  // z = μ_y + σ_y ⊙ ε, without gradients
  Tape<T> tape;
  NoGrad<T> no_grad(tape);
  auto [mu, var] = prior(tape, labels);
  return sample_gaussian(mu, var, tape.constant(std::move(eps))).value();
}

template <class T>
Gaussian<T> FSVAE<T>::encode(Tape<T>& tape, const Var<T>& x, const Var<T>& y) const {
  // [m, h] = encoder([x, y]),  v = softplus(h) + 1e-8
  return gaussian_parameters(encoder_(tape, concat<T>({x, y}, 1)));
}

template <class T>
Var<T> FSVAE<T>::decode(Tape<T>& tape, const Var<T>& z, const Var<T>& y) const {
  return decoder_(tape, concat<T>({z, y}, 1));
}

template <class T>
typename FSVAE<T>::Bound FSVAE<T>::negative_elbo_bound(Tape<T>& tape, const Var<T>& x, const std::vector<int>& labels,
                                                       const Var<T>& eps) const {
  // TASK 9.1 negative_elbo_bound: −ELBO(x|y) = rec + KL(q(z|x,y) ‖ p(z|y)), p(z|y) = N(0, I) or the learned N(μ_y, σ_y²) (Sohn et al. 2015)
  Var<T> y = tape.constant(one_hot<T>(labels, options_.classes), "y");
  // q(z|x,y) = N(z; m, diag v),  z = m + √v ⊙ ε
  auto [m, v] = encode(tape, x, y);
  Var<T> z = sample_gaussian(m, v, eps);
  // rec = −log p(x|y,z) = −Σ_j [x_j l_j − softplus(l_j)]
  Var<T> rec = -log_bernoulli_with_logits(x, decode(tape, z, y));
  // KL(q(z|x,y) ‖ N(0, I)) = ½ Σ_j (v_j + m_j² − 1 − log v_j)      (Kingma & Welling 2014, App. B)
  // or, with the learned prior, KL(q(z|x,y) ‖ N(μ_y, σ_y²))
  //   = ½ Σ_j [log σ²_yj − log v_j + v_j/σ²_yj + (m_j − μ_yj)²/σ²_yj − 1]
  Var<T> kl;
  if (prior_) {
    auto [mu_y, var_y] = prior(tape, labels);
    kl = kl_normal(m, v, mu_y, var_y);
  } else {
    kl = kl_std_normal(m, v);
  }
  // −ELBO(x|y) = rec + KL, per example                             (Sohn et al. 2015, eq. 4)
  return {rec + kl, kl, rec};
  // END TASK
}

template <class T>
typename FSVAE<T>::Bound FSVAE<T>::negative_elbo_bound(Tape<T>& tape, const Var<T>& x, const std::vector<int>& labels,
                                                       Rng& rng) const {
  return negative_elbo_bound(tape, x, labels, tape.constant(rng.normal<T>({x.shape()[0], options_.z}), "ε"));
}

template <class T>
Var<T> FSVAE<T>::negative_iwae_bound(Tape<T>& tape, const Var<T>& x, const std::vector<int>& labels, std::size_t k,
                                     Rng& rng) const {
  if (k == 0) throw std::invalid_argument("fsvae: negative_iwae_bound needs at least one importance sample");
  const std::size_t n = x.shape()[0];
  Var<T> y = tape.constant(one_hot<T>(labels, options_.classes), "y");
  // q(z|x,y) once per example; k copies stacked on axis 0 (row j·n + i is example i)
  auto [m, v] = encode(tape, x, y);
  Var<T> m_k = duplicate(m, k), v_k = duplicate(v, k), x_k = duplicate(x, k), y_k = duplicate(y, k);
  // z_j = m + √v ⊙ ε_j
  Var<T> z = sample_gaussian(m_k, v_k, tape.constant(rng.normal<T>({k * n, options_.z}), "ε"));
  // log p(z_j|y) = log N(z_j; 0, I), or log N(z_j; μ_y, σ_y²) with the learned prior
  Var<T> log_prior;
  if (prior_) {
    auto [mu_y, var_y] = prior(tape, labels);
    log_prior = log_normal(z, duplicate(mu_y, k), duplicate(var_y, k));
  } else {
    log_prior = log_normal(z, tape.scalar(0), tape.scalar(1));
  }
  // log w_j = log p(x|y,z_j) + log p(z_j|y) − log q(z_j|x,y)
  Var<T> log_w = log_bernoulli_with_logits(x_k, decode(tape, z, y_k)) + log_prior - log_normal(z, m_k, v_k);
  // −L_k = −log (1/k) Σ_j w_j, in log space
  const auto rows = static_cast<std::ptrdiff_t>(k), cols = static_cast<std::ptrdiff_t>(n);
  return -log_mean_exp(reshape(log_w, {rows, cols}), 0);
}

template <class T>
Loss<T> FSVAE<T>::loss(Tape<T>& tape, const Batch<T>& batch, Rng& rng) {
  const std::size_t n = batch.x.shape()[0];
  if (batch.y.size() != n || std::any_of(batch.y.begin(), batch.y.end(), [](int y) { return y < 0; }))
    throw std::invalid_argument("fsvae: every example needs its label (the FSVAE is trained on labelled data only)");
  // read in place: no copy of the batch per step (Model::loss)
  Bound b = negative_elbo_bound(tape, tape.constant_view(batch.x, "x"), batch.y, rng);
  // the batch mean of −ELBO(x|y); the terms are batch means too
  Var<T> nelbo = mean(b.nelbo);
  return {nelbo, {{"nelbo", nelbo.item()}, {"kl", batch_mean(b.kl)}, {"rec", batch_mean(b.rec)}}};
}

template <class T>
void FSVAE<T>::prepare_batch(Batch<T>& batch, Rng& rng) {
  // dynamic binarization, x ~ Bernoulli(pixel intensities), as the VAE's (models/vae_common.hpp)
  binarize_batch(batch, xbin_, rng);
}

// ---- evaluation and pictures ---------------------------------------------------------------------

template <class T>
Metrics FSVAE<T>::evaluate(const Dataset& data, Rng& rng) {
  if (data.test_y.size() != data.test_x.shape()[0])
    throw std::invalid_argument(fmt::format("fsvae: the test set of '{}' has no labels", data.name));
  const Array<float> x_test = binarized_test_rows(data);
  const std::size_t n = x_test.shape()[0];
  const double nd = static_cast<double>(std::max<std::size_t>(n, 1));
  // Σ_x of −ELBO(x|y), KL and rec, 500 rows at a time, the chunks on the pool of --threads, each
  // drawing its ε from its own generator (models/evaluate.hpp: the same bits for every thread count)
  const auto [nelbo, kl, rec] = sum_over_chunks<T>(n, 500, rng, [&](Tape<T>& tape, Rng& r, std::size_t b, std::size_t e) {
    Bound bound = negative_elbo_bound(tape, tape.constant(rows_as<T>(x_test, b, e)), labels_of(data.test_y, b, e), r);
    return std::array{bound.nelbo, bound.kl, bound.rec};
  });
  Metrics out = {{"test_nelbo", nelbo / nd}, {"test_kl", kl / nd}, {"test_rec", rec / nd}};
  // Σ_x −L_k(x|y) in chunks of about 5000 rows of z
  for (long k_flag : options_.iwae) {
    const std::size_t k = static_cast<std::size_t>(k_flag);
    const auto [niwae] =
        sum_over_chunks<T>(n, iwae_chunk_rows(k, 5000), rng, [&](Tape<T>& tape, Rng& r, std::size_t b, std::size_t e) {
          Var<T> x = tape.constant(rows_as<T>(x_test, b, e));
          return std::array{negative_iwae_bound(tape, x, labels_of(data.test_y, b, e), k, r)};
        });
    out.emplace_back(fmt::format("test_niwae_{}", k), niwae / nd);
  }
  return out;
}

template <class T>
Array<float> FSVAE<T>::class_style_grid(std::size_t columns, Rng& rng) {
  // image y·columns + j decodes (z_j, y), z_j ~ N(0, I) shared by every row (learned prior: μ_y + σ_y ⊙ z_j)
  ClassStyleCodes<T> codes = class_style_codes<T>(options_.classes, columns, options_.z, rng);
  return conditional_means(*this, prior_codes(std::move(codes.z), codes.labels), codes.labels, options_.classes);
}

template <class T>
Array<float> FSVAE<T>::sample(std::size_t n, Rng& rng) {
  // y ~ Cat(1/K), z ~ p(z|y), then the Bernoulli means of p(x|z,y)
  std::vector<int> labels(n);
  for (auto& c : labels) c = static_cast<int>(rng.below(options_.classes));
  return conditional_means(*this, prior_codes(rng.normal<T>({n, options_.z}), labels), labels, options_.classes);
}

template <class T>
void FSVAE<T>::write_pictures(const std::string& dir, const Dataset& data, Rng& rng) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  const std::size_t side = image_side(data, options_.x_dim);
  GridOptions grid{.nrow = 10, .padding = 2, .pad_value = 1.0f, .image_height = side, .image_width = side};
  save_image_grid((fs::path(dir) / "class_style_grid.png").string(), class_style_grid(10, rng), grid);

  // reconstructions.png: rows of test images, each followed by the row of their reconstructions
  if (data.test_y.size() != data.test_x.shape()[0]) return;
  save_reconstructions((fs::path(dir) / "reconstructions.png").string(), data, grid, [&](const Array<float>& x, std::size_t n) {
    Tape<T> tape;
    NoGrad<T> no_grad(tape);
    // σ(f(z, y)) for z ~ q(z|x,y), y the true labels
    Var<T> y = tape.constant(one_hot<T>(labels_of(data.test_y, 0, n), options_.classes));
    auto [m, v] = encode(tape, tape.constant(rows_as<T>(x, 0, n)), y);
    return to_float<T>(sigmoid(decode(tape, sample_gaussian(m, v, rng), y)).value());
  });
}

template class FSVAE<float>;
template class FSVAE<double>;

// ---- flags and the registry entry ----------------------------------------------------------------

namespace {

FSVAEOptions fsvae_options(const Config& c) {
  FSVAEOptions o;
  o.z = count_flag(c, "z");
  o.hidden = count_flag(c, "hidden");
  o.iwae = c.integers("iwae");
  // a checkpoint written before --prior existed has the standard prior
  const std::string prior = c.has("prior") ? c.str("prior") : "standard";
  if (prior != "standard" && prior != "learned")
    throw std::invalid_argument(fmt::format("fsvae: --prior {}: expected standard (N(0, I)) or learned (N(μ_y, σ_y²))", prior));
  o.learned_prior = prior == "learned";
  return o;
}

}  // namespace

ModelInfo fsvae_info() {
  ModelInfo info;
  info.name = "fsvae";
  info.description = "fully supervised (conditional) VAE: q(z|x,y), p(x|z,y); one row per class, one column per style";
  info.flags = {
      {"z", "10", "latent dimension"},
      {"hidden", "300", "width of the two hidden layers of encoder and decoder"},
      {"iwae", "1,10,100", "importance samples k of the reported test_niwae_<k> bounds of log p(x|y)"},
      {"prior", "standard", "the prior of z: standard, N(0, I); or learned, p(z|y) = N(μ_y, diag σ_y²) per class"},
  };
  info.tiny_flags = {{"z", "2"}, {"hidden", "8"}, {"iwae", "1,4"}};
  info.make_float = [](const Config& c, Rng& rng) -> std::unique_ptr<Model<float>> {
    return std::make_unique<FSVAE<float>>(fsvae_options(c), rng);
  };
  info.make_double = [](const Config& c, Rng& rng) -> std::unique_ptr<Model<double>> {
    return std::make_unique<FSVAE<double>>(fsvae_options(c), rng);
  };
  info.tiny_data = tiny_stroke_images;
  return info;
}

}  // namespace tz::models
