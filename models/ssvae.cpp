// tapezoo: the semi-supervised VAE (M2). The model and its derivation are in models/ssvae.hpp.
#include "models/ssvae.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>

#include "autograd/parallel.hpp"
#include "datasets/batching.hpp"
#include "io/png.hpp"
#include "models/evaluate.hpp"
#include "models/vae_common.hpp"  // tiny_stroke_images, and the helpers the VAE family shares

namespace tz::models {

namespace {

// Row c·n + i has label c: every (x_i, y) pair of a batch of n, as CS236's np.repeat(arange(K), n).
// [[maybe_unused]]: its one caller is task 8.2's region, a stub in a student copy.
[[maybe_unused]] std::vector<int> enumerate_labels(std::size_t classes, std::size_t n) {
  std::vector<int> y(classes * n);
  for (std::size_t c = 0; c < classes; ++c) std::fill_n(y.begin() + c * n, n, static_cast<int>(c));
  return y;
}

}  // namespace

// ---- the model -----------------------------------------------------------------------------------

template <class T>
SSVAE<T>::SSVAE(const SSVAEOptions& options, Rng& rng) : options_(options) {
  const auto& o = options_;
  if (o.z == 0 || o.hidden == 0 || o.x_dim == 0 || o.classes < 2)
    throw std::invalid_argument(fmt::format("ssvae: z, hidden and x_dim must be positive and classes at least 2 "
                                            "(z={}, hidden={}, x_dim={}, classes={})", o.z, o.hidden, o.x_dim, o.classes));
  if (o.gw < 0 || o.cw < 0) throw std::invalid_argument(fmt::format("ssvae: --gw {} and --cw {} must be >= 0", o.gw, o.cw));
  if (o.labels % o.classes != 0)
    throw std::invalid_argument(fmt::format("ssvae: --labels {} must be a multiple of the {} classes (the same number "
                                            "of labels for each)", o.labels, o.classes));
  // q(y|x): 784-300-300-K, ReLU (CS236 nns/v1.py Classifier)
  classifier_ = nn::MLP<T>(this->params_, "cls", {o.x_dim, o.hidden, o.hidden, o.classes}, nn::Activation::relu, rng);
  // q(z|x,y): (784+K)-300-300-2z, ELU
  encoder_ = nn::MLP<T>(this->params_, "enc", {o.x_dim + o.classes, o.hidden, o.hidden, 2 * o.z}, nn::Activation::elu, rng);
  // p(x|z,y): (z+K)-300-300-784, ELU
  decoder_ = nn::MLP<T>(this->params_, "dec", {o.z + o.classes, o.hidden, o.hidden, o.x_dim}, nn::Activation::elu, rng);
}

template <class T>
Var<T> SSVAE<T>::classify(Tape<T>& tape, const Var<T>& x) const {
  return classifier_(tape, x);
}

template <class T>
Gaussian<T> SSVAE<T>::encode(Tape<T>& tape, const Var<T>& x, const Var<T>& y) const {
  // [m, h] = encoder([x, y]),  v = softplus(h) + 1e-8
  return gaussian_parameters(encoder_(tape, concat<T>({x, y}, 1)));
}

template <class T>
Var<T> SSVAE<T>::decode(Tape<T>& tape, const Var<T>& z, const Var<T>& y) const {
  return decoder_(tape, concat<T>({z, y}, 1));
}

// ---- the fast path ------------------------------------------------------------------------------
// pair_labels and encode/decode on PairLabels, the shared first layer and q(z|x,y)'s heads read in
// place, with their derivation: models/ssvae_fast.cpp.

// ---- the bounds ----------------------------------------------------------------------------------

template <class T>
typename SSVAE<T>::LabelledBound SSVAE<T>::negative_elbo_bound(Tape<T>& tape, const Var<T>& x,
                                                               const std::vector<int>& labels, const Var<T>& eps) const {
  // TASK 8.1 negative_elbo_bound: the labelled bound L(x, y) = rec + KL_z − log p(y), p(y) = 1/K (Kingma et al. 2014, eq. 6)
  const PairLabels y = pair_labels(tape, labels);
  // q(z|x,y) = N(z; m, diag v),  z = m + √v ⊙ ε
  auto [m, v] = encode(tape, x, x, y);
  Var<T> z = sample_gaussian(m, v, eps);
  // rec = −log p(x|y,z) = −Σ_j [x_j l_j − softplus(l_j)]
  Var<T> rec = -log_bernoulli_with_logits(x, decode(tape, z, y));
  // KL(q(z|x,y) ‖ N(0, I)) = ½ Σ_j (v_j + m_j² − 1 − log v_j)      (Kingma & Welling 2014, App. B)
  Var<T> kl_z = kl_std_normal(m, v);
  // L(x,y) = rec + KL_z − log p(y),  −log p(y) = log K           (Kingma et al. 2014, eq. 6)
  return {rec + kl_z + std::log(static_cast<double>(options_.classes)), kl_z, rec};
  // END TASK
}

template <class T>
typename SSVAE<T>::LabelledBound SSVAE<T>::negative_elbo_bound(Tape<T>& tape, const Var<T>& x,
                                                               const std::vector<int>& labels, Rng& rng) const {
  return negative_elbo_bound(tape, x, labels, tape.constant(rng.normal<T>({x.shape()[0], options_.z}), "ε"));
}

template <class T>
typename SSVAE<T>::UnlabelledBound SSVAE<T>::negative_elbo_bound(Tape<T>& tape, const Var<T>& x,
                                                                 const Var<T>& eps) const {
  // TASK 8.2 negative_elbo_bound: the unlabelled bound U(x) = KL(q(y|x) ‖ p(y)) + Σ_y q(y|x) [KL_z + rec] (Kingma et al. 2014, eq. 7)
  const std::size_t n = x.shape()[0], K = options_.classes;
  // q(y|x) = softmax(classifier(x)), and its log, [n, K]
  Var<T> log_q_y = log_softmax(classify(tape, x), 1);
  Var<T> q_y = exp(log_q_y);
  // KL(q(y|x) ‖ p(y)) = Σ_y q(y|x) [log q(y|x) − log(1/K)]  = log K − H[q(y|x)]
  Var<T> kl_y = kl_cat(q_y, log_q_y, tape.scalar(static_cast<T>(-std::log(static_cast<double>(K)))));

  // Every pair (x_i, y = c) as row c·n + i of a batch of K·n   (CS236: ut.duplicate(x, y_dim))
  const PairLabels y = pair_labels(tape, enumerate_labels(K, n));
  Var<T> x_k = duplicate(x, K);
  auto [m, v] = encode(tape, x, x_k, y);
  Var<T> z = sample_gaussian(m, v, eps);
  // KL(q(z|x,y) ‖ N(0, I)) = ½ Σ_j (v_j + m_j² − 1 − log v_j) and rec = −log p(x|y,z) for every pair, [K·n]
  Var<T> kl_z = kl_std_normal(m, v);
  Var<T> rec = -log_bernoulli_with_logits(x_k, decode(tape, z, y));

  // The weights q(y = c|x_i) in the same order: q(y|x)ᵀ flattened, [K·n]
  const auto Kd = static_cast<std::ptrdiff_t>(K), nd = static_cast<std::ptrdiff_t>(n);
  Var<T> w = reshape(transpose(q_y), {Kd * nd});
  // Σ_y q(y|x) KL_z(x,y) and Σ_y q(y|x) rec(x,y), [n]
  Var<T> kl_z_q = sum(reshape(w * kl_z, {Kd, nd}), 0);
  Var<T> rec_q = sum(reshape(w * rec, {Kd, nd}), 0);
  // U(x) = KL_y + Σ_y q(y|x) [KL_z + rec]                 (Kingma et al. 2014, eq. 7; CS236)
  return {kl_y + kl_z_q + rec_q, kl_y, kl_z_q, rec_q};
  // END TASK
}

template <class T>
typename SSVAE<T>::UnlabelledBound SSVAE<T>::negative_elbo_bound(Tape<T>& tape, const Var<T>& x, Rng& rng) const {
  return negative_elbo_bound(tape, x, tape.constant(rng.normal<T>({options_.classes * x.shape()[0], options_.z}), "ε"));
}

template <class T>
Var<T> SSVAE<T>::classification_cross_entropy(Tape<T>& tape, const Var<T>& x, const std::vector<int>& y) const {
  // CE = (1/n) Σ_i −log q(y_i|x_i) = (1/n) Σ_i −log_softmax(g(x_i))_{y_i}      (Kingma et al. 2014, eq. 9)
  return mean(cross_entropy(classify(tape, x), y));
}

template <class T>
Loss<T> SSVAE<T>::loss(Tape<T>& tape, const Batch<T>& batch, Rng& rng) {
  const auto& o = options_;
  Loss<T> out;
  Var<T> total = tape.scalar(0);
  double ce_value = 0;

  // cw · CE on the labelled set: all of it (CS236), or a random labelled_batch of it
  if (o.cw > 0 && !yl_.empty()) {
    Var<T> xl = tape.constant(xl_, "x_l");
    std::vector<int> yl = yl_;
    if (o.labelled_batch > 0 && o.labelled_batch < yl_.size()) {
      std::vector<std::size_t> idx(o.labelled_batch);
      for (auto& i : idx) i = rng.below(yl_.size());
      xl = gather_rows(xl, idx);
      yl.resize(idx.size());
      for (std::size_t r = 0; r < idx.size(); ++r) yl[r] = yl_[idx[r]];
    }
    Var<T> ce = classification_cross_entropy(tape, xl, yl);
    ce_value = ce.item();
    total = o.cw * ce;
  }

  // gw · (1/b) Σ_i ℓ(x_i):  L(x_i, y_i) for rows with a label, U(x_i) for the others
  double nelbo = 0, kl_y = 0, kl_z = 0, rec = 0;
  if (o.gw > 0) {
    const std::size_t b = batch.x.shape()[0];
    std::vector<std::size_t> unlabelled, labelled;
    std::vector<int> labels;
    for (std::size_t i = 0; i < b; ++i) {
      const int y = batch.y.empty() ? -1 : batch.y[i];
      if (y < 0) {
        unlabelled.push_back(i);
      } else {
        labelled.push_back(i);
        labels.push_back(y);
      }
    }
    Var<T> x = tape.constant_view(batch.x, "x");  // read in place: no copy of the batch per step (Model::loss)
    Var<T> sum_l = tape.scalar(0);
    if (!unlabelled.empty()) {
      UnlabelledBound u = negative_elbo_bound(tape, labelled.empty() ? x : gather_rows(x, unlabelled), rng);
      sum_l = sum_l + sum(u.nelbo);
      kl_y += sum_of(u.kl_y);
      kl_z += sum_of(u.kl_z);
      rec += sum_of(u.rec);
    }
    if (!labelled.empty()) {
      LabelledBound l = negative_elbo_bound(tape, unlabelled.empty() ? x : gather_rows(x, labelled), labels, rng);
      sum_l = sum_l + sum(l.nelbo);
      kl_z += sum_of(l.kl_z);
      rec += sum_of(l.rec);
    }
    Var<T> mean_l = sum_l / static_cast<double>(b);
    nelbo = mean_l.item();
    kl_y /= static_cast<double>(b);
    kl_z /= static_cast<double>(b);
    rec /= static_cast<double>(b);
    total = total + o.gw * mean_l;
  }
  out.value = total;
  out.terms = {{"nelbo", nelbo}, {"kl_y", kl_y}, {"kl_z", kl_z}, {"rec", rec}, {"ce", ce_value}};
  return out;
}

template <class T>
void SSVAE<T>::set_labelled(Array<T> x, std::vector<int> y) {
  if (x.dimension() != 2 || x.shape()[0] != y.size() || x.shape()[1] != options_.x_dim)
    throw std::invalid_argument(fmt::format("ssvae: the labelled set must be [n, {}] with n labels; got {} for {} labels",
                                            options_.x_dim, shape_str(x.shape()), y.size()));
  for (int c : y)
    if (c < 0 || static_cast<std::size_t>(c) >= options_.classes)
      throw std::invalid_argument(fmt::format("ssvae: label {} is outside 0..{}", c, options_.classes - 1));
  xl_ = std::move(x);
  yl_ = std::move(y);
}

template <class T>
void SSVAE<T>::prepare_data(Dataset& data, Rng& rng) {
  const auto& o = options_;
  if (data.train_y.size() != data.train_x.shape()[0])
    throw std::invalid_argument(fmt::format("ssvae: the data set '{}' has no training labels; the SSVAE keeps {} of "
                                            "them as its labelled set", data.name, o.labels));
  // Candidates are the rows whose label is known (a second call sees the labels the first kept).
  std::vector<std::size_t> known;
  std::vector<int> known_labels;
  for (std::size_t i = 0; i < data.train_y.size(); ++i)
    if (data.train_y[i] >= 0) {
      known.push_back(i);
      known_labels.push_back(data.train_y[i]);
    }
  std::vector<std::size_t> keep;
  if (o.labels > 0)
    for (std::size_t j : labelled_subset(known_labels, o.labels / o.classes, rng, o.classes)) keep.push_back(known[j]);

  Array<T> x = Array<T>::from_shape({keep.size(), o.x_dim});
  std::vector<int> y(keep.size());
  for (std::size_t r = 0; r < keep.size(); ++r) {
    y[r] = data.train_y[keep[r]];
    for (std::size_t p = 0; p < o.x_dim; ++p) x(r, p) = static_cast<T>(data.train_x(keep[r], p));
  }
  set_labelled(std::move(x), std::move(y));
  // Every other label is hidden: those rows are unlabelled data.
  std::vector<int> hidden(data.train_y.size(), -1);
  for (std::size_t r = 0; r < keep.size(); ++r) hidden[keep[r]] = yl_[r];
  data.train_y = std::move(hidden);
}

template <class T>
void SSVAE<T>::prepare_batch(Batch<T>& batch, Rng& rng) {
  // dynamic binarization, x ~ Bernoulli(pixel intensities), as the VAE's (models/vae_common.hpp)
  binarize_batch(batch, xbin_, rng);
}

// ---- evaluation and pictures ---------------------------------------------------------------------

template <class T>
std::vector<int> SSVAE<T>::predict(const Array<float>& x) {
  const std::size_t n = x.shape()[0], K = options_.classes;
  std::vector<int> out(n);
  // chunks of 1000 rows on the pool of --threads (autograd/parallel.hpp), each on its own tape
  parallel_for(chunk_count(n, 1000), [&](std::size_t chunk) {
    const std::size_t b = chunk * 1000, e = std::min(n, b + 1000);
    Tape<T> tape;
    NoGrad<T> no_grad(tape);
    const Array<T>& logits = classify(tape, tape.constant(rows_as<T>(x, b, e))).value();
    for (std::size_t i = b; i < e; ++i) {
      std::size_t best = 0;
      for (std::size_t c = 1; c < K; ++c)
        if (logits(i - b, c) > logits(i - b, best)) best = c;
      out[i] = static_cast<int>(best);
    }
  });
  return out;
}

template <class T>
double SSVAE<T>::accuracy(const Array<float>& x, const std::vector<int>& y) {
  if (y.empty()) return 0;
  const std::vector<int> pred = predict(x);
  std::size_t right = 0;
  for (std::size_t i = 0; i < y.size(); ++i) right += pred[i] == y[i];
  return static_cast<double>(right) / static_cast<double>(y.size());
}

template <class T>
Metrics SSVAE<T>::evaluate(const Dataset& data, Rng& rng) {
  Metrics out;
  if (!data.test_y.empty()) out.emplace_back("test_accuracy", accuracy(data.test_x, data.test_y));
  if (!yl_.empty()) out.emplace_back("labelled_accuracy", accuracy(to_float<T>(xl_), yl_));

  // U(x) on the binarized test images
  const Array<float> x_test = binarized_test_rows(data);
  const std::size_t n = x_test.shape()[0];
  // Σ_x of U(x) and its terms, 100 rows (K·100 pairs (x, y)) at a time, the chunks on the pool of
  // --threads, each drawing its ε from its own generator (models/evaluate.hpp: the same bits for every N)
  const auto [nelbo, kl_y, kl_z, rec] =
      sum_over_chunks<T>(n, 100, rng, [&](Tape<T>& tape, Rng& r, std::size_t b, std::size_t e) {
        UnlabelledBound u = negative_elbo_bound(tape, tape.constant(rows_as<T>(x_test, b, e)), r);
        return std::array{u.nelbo, u.kl_y, u.kl_z, u.rec};
      });
  const double nd = static_cast<double>(std::max<std::size_t>(n, 1));
  out.emplace_back("test_nelbo", nelbo / nd);
  out.emplace_back("test_kl_y", kl_y / nd);
  out.emplace_back("test_kl_z", kl_z / nd);
  out.emplace_back("test_rec", rec / nd);
  return out;
}

template <class T>
Array<float> SSVAE<T>::class_style_grid(std::size_t columns, Rng& rng) {
  // image y·columns + j decodes (z_j, y), z_j ~ N(0, I) shared by every row
  ClassStyleCodes<T> codes = class_style_codes<T>(options_.classes, columns, options_.z, rng);
  return conditional_means(*this, std::move(codes.z), codes.labels, options_.classes);
}

template <class T>
Array<float> SSVAE<T>::sample(std::size_t n, Rng& rng) {
  // y ~ Cat(1/K), z ~ N(0, I), then the Bernoulli means of p(x|z,y)
  std::vector<int> labels(n);
  for (auto& c : labels) c = static_cast<int>(rng.below(options_.classes));
  return conditional_means(*this, rng.normal<T>({n, options_.z}), labels, options_.classes);
}

template <class T>
void SSVAE<T>::write_pictures(const std::string& dir, const Dataset& data, Rng& rng) {
  std::filesystem::create_directories(dir);
  const std::size_t side = image_side(data, options_.x_dim);
  const std::size_t columns = 10;
  save_image_grid((std::filesystem::path(dir) / "class_style_grid.png").string(), class_style_grid(columns, rng),
                  {.nrow = columns, .padding = 2, .pad_value = 1.0f, .image_height = side, .image_width = side});
}

template class SSVAE<float>;
template class SSVAE<double>;

// ---- flags and the registry entry ----------------------------------------------------------------

namespace {

SSVAEOptions ssvae_options(const Config& c) {
  SSVAEOptions o;
  o.z = count_flag(c, "z");
  o.hidden = count_flag(c, "hidden");
  o.gw = c.real("gw");
  o.cw = c.real("cw");
  o.labels = count_flag(c, "labels", true);
  o.labelled_batch = count_flag(c, "labelled-batch", true);
  return o;
}

}  // namespace

ModelInfo ssvae_info() {
  ModelInfo info;
  info.name = "ssvae";
  info.description = "semi-supervised VAE (Kingma et al. 2014, M2): a classifier from few labels and unlabelled data";
  info.flags = {
      {"z", "64", "latent dimension"},
      {"hidden", "300", "width of the hidden layers of classifier, encoder and decoder"},
      {"gw", "1", "weight of the generative term, the unlabelled/labelled −ELBO (0: the classifier alone)"},
      {"cw", "100", "weight of the cross-entropy on the labelled set"},
      {"labels", "100", "labelled training examples, the same number per class (the others are hidden)"},
      {"labelled-batch", "100", "labelled examples in each step's cross-entropy (0: all of them)"},
  };
  info.tiny_flags = {{"z", "2"}, {"hidden", "8"}, {"labels", "20"}, {"labelled-batch", "0"}};
  info.make_float = [](const Config& c, Rng& rng) -> std::unique_ptr<Model<float>> {
    return std::make_unique<SSVAE<float>>(ssvae_options(c), rng);
  };
  info.make_double = [](const Config& c, Rng& rng) -> std::unique_ptr<Model<double>> {
    return std::make_unique<SSVAE<double>>(ssvae_options(c), rng);
  };
  info.tiny_data = tiny_stroke_images;
  return info;
}

}  // namespace tz::models
