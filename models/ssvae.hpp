// tapezoo: the semi-supervised VAE (SSVAE, "M2" of Kingma, Rezende, Mohamed & Welling 2014,
// "Semi-supervised learning with deep generative models").
//
// Generative model (their eq. 2):
//   y ~ p(y) = Cat(1/K)                  K = 10 classes, uniform
//   z ~ p(z) = N(0, I)                   z = 64 dimensions (CS236 ssvae.py)
//   x | y, z ~ Bernoulli(sigmoid(f_θ([z, y])))       decoder (z+K)-300-300-784, ELU
// Inference model (their eq. 4):
//   q(y|x)   = Cat(softmax(g_φ(x)))                   classifier 784-300-300-K, ReLU
//   q(z|x,y) = N(m_φ([x, y]), diag v_φ([x, y]))        encoder (784+K)-300-300-2z, ELU
//
// Objectives, written as losses (negative bounds) to minimise:
//   labelled (x, y), their eq. 6:
//     L(x,y) = −ELBO(x,y) = E_q(z|x,y)[−log p(x|y,z)] + KL(q(z|x,y) ‖ p(z)) − log p(y)
//   unlabelled x, their eq. 7, with y summed out under q(y|x):
//     U(x) = Σ_y q(y|x) L(x,y) − H[q(y|x)]
//          = KL(q(y|x) ‖ p(y)) + Σ_y q(y|x) [KL(q(z|x,y) ‖ p(z)) + E[−log p(x|y,z)]]
//   the second line is CS236's (ssvae.py: nelbo = kl_y + kl_z + rec); they are equal because
//   KL(q ‖ Cat(1/K)) = Σ_y q log q + log K = −H[q] − Σ_y q log p(y).
//   classification, their eq. 9: the classifier is trained on the labelled set by cross-entropy,
//     CE = E_labelled[−log q(y|x)]
//   total loss, as in CS236:  gw · mean_batch[ℓ(x)] + cw · CE,   gw = 1, cw = 100
//   where ℓ(x) = L(x,y) for a batch row whose label is known, and U(x) for a row without one.
// KL(q(z|x,y) ‖ N(0, I)) is closed form (Kingma & Welling 2014, App. B); the expectation of the
// reconstruction term uses one reparameterised sample z = m + √v ⊙ ε per (x, y) pair.
//
// Data: prepare_data keeps `labels` labelled examples (labels/K per class, datasets/batching.hpp's
// labelled_subset), and hides every other label (-1). Every training step uses the labelled set
// in its cross-entropy (all of it, as CS236, or a random labelled_batch of it when it is larger).
// Unlabelled images are binarized afresh every batch; the classifier's cross-entropy and the
// reported test_accuracy use the grey-level images, as CS236.
//
// With gw = 0 the generative term is skipped: the classifier-only baseline, trained on the labelled
// set alone (CS236 reports 73.5% on MNIST with 100 labels, against about 92% for the SSVAE).
//
//   tz::models::SSVAE<float> model({}, rng);
//   model.prepare_data(data, rng);                          // keeps 100 labels, hides the rest
//   auto L = model.loss(tape, batch, rng);                  // gw·mean ℓ(x) + cw·CE
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "distributions/distributions.hpp"
#include "models/model.hpp"
#include "nn/nn.hpp"

namespace tz::models {

struct SSVAEOptions {
  std::size_t x_dim = 784;
  std::size_t hidden = 300;
  std::size_t z = 64;             // CS236 ssvae.py: z_dim = 64
  std::size_t classes = 10;       // K
  double gw = 1;                  // weight of the generative term (0: classifier only)
  double cw = 100;                // weight of the cross-entropy on the labelled set
  std::size_t labels = 100;       // labelled examples kept by prepare_data (a multiple of K)
  std::size_t labelled_batch = 100;  // labelled examples per step's cross-entropy (0: all)
};

template <class T>
class SSVAE : public Model<T> {
 public:
  SSVAE(const SSVAEOptions& options, Rng& rng);

  // L(x,y) per example [n]: nelbo = rec + kl_z + log K.
  struct LabelledBound {
    Var<T> nelbo, kl_z, rec;
  };
  // U(x) per example [n]: nelbo = kl_y + kl_z + rec, where kl_z and rec are weighted by q(y|x).
  struct UnlabelledBound {
    Var<T> nelbo, kl_y, kl_z, rec;
  };

  // The logits of q(y|x), [n, K].
  Var<T> classify(Tape<T>& tape, const Var<T>& x) const;
  // q(z|x,y) = N(m, diag v), with y one-hot [n, K].
  Gaussian<T> encode(Tape<T>& tape, const Var<T>& x, const Var<T>& y) const;
  // The logits of p(x|z,y), [n, x_dim].
  Var<T> decode(Tape<T>& tape, const Var<T>& z, const Var<T>& y) const;

  // The labels of a batch of pairs (x, y) in the form each path reads (autograd/path.hpp): the
  // one-hot constant [rows, K] the textbook's concat([x, y]) takes, or the label of each row for
  // the fast path's shared first layer (models/ssvae_fast.cpp, "the shared first layer").
  struct PairLabels {
    Var<T> onehot;                     // textbook path
    std::vector<std::size_t> index;    // fast path
  };
  PairLabels pair_labels(Tape<T>& tape, const std::vector<int>& labels) const;
  // q(z|x_(r mod n), y_r) for rows r of labels (copies = rows / n of each x): the textbook tiles x
  // (x_k, its copies, given) and concatenates y; the fast path takes x W_x once per image.
  Gaussian<T> encode(Tape<T>& tape, const Var<T>& x, const Var<T>& x_k, const PairLabels& y) const;
  // The logits of p(x|z_r, y_r) for every row r of z, on either path.
  Var<T> decode(Tape<T>& tape, const Var<T>& z, const PairLabels& y) const;

  // L(x,y) with ε [n, z] given, or drawn from rng.
  LabelledBound negative_elbo_bound(Tape<T>& tape, const Var<T>& x, const std::vector<int>& y, const Var<T>& eps) const;
  LabelledBound negative_elbo_bound(Tape<T>& tape, const Var<T>& x, const std::vector<int>& y, Rng& rng) const;
  // U(x) with ε [K·n, z] given (row c·n + i is the pair (x_i, y = c)), or drawn from rng.
  UnlabelledBound negative_elbo_bound(Tape<T>& tape, const Var<T>& x, const Var<T>& eps) const;
  UnlabelledBound negative_elbo_bound(Tape<T>& tape, const Var<T>& x, Rng& rng) const;
  // CE = (1/n) Σ_i −log q(y_i|x_i), a scalar.
  Var<T> classification_cross_entropy(Tape<T>& tape, const Var<T>& x, const std::vector<int>& y) const;

  // argmax_y q(y|x) for each row of x (no gradients).
  std::vector<int> predict(const Array<float>& x);
  // The fraction of rows whose prediction is the label.
  double accuracy(const Array<float>& x, const std::vector<int>& y);

  // The labelled set the cross-entropy uses (set by prepare_data, or directly).
  void set_labelled(Array<T> x, std::vector<int> y);
  const Array<T>& labelled_x() const { return xl_; }
  const std::vector<int>& labelled_y() const { return yl_; }

  // ---- Model --------------------------------------------------------------------------------
  // loss = gw · (1/b) Σ_i ℓ(x_i) + cw · CE(labelled set); terms nelbo, kl_y, kl_z, rec, ce.
  Loss<T> loss(Tape<T>& tape, const Batch<T>& batch, Rng& rng) override;
  // Keeps `labels` labelled examples (labels/K per class) and hides the other labels.
  void prepare_data(Dataset& data, Rng& rng) override;
  // Dynamic binarization of the batch's images.
  void prepare_batch(Batch<T>& batch, Rng& rng) override;
  // test_accuracy (grey-level test images), labelled_accuracy (the labelled set), and U(x) on the
  // binarized test images: test_nelbo, test_kl_y, test_kl_z, test_rec.
  Metrics evaluate(const Dataset& data, Rng& rng) override;
  // class_style_grid.png: one row per class y, one column per shared z ~ N(0, I).
  void write_pictures(const std::string& dir, const Dataset& data, Rng& rng) override;
  bool can_sample() const override { return true; }
  // Bernoulli means of p(x|z,y) for y ~ Cat(1/K), z ~ N(0, I).
  Array<float> sample(std::size_t n, Rng& rng) override;
  // [K·columns, x_dim]: row y, column j (image y·columns + j) decodes (z_j, y), z_j ~ N(0, I).
  Array<float> class_style_grid(std::size_t columns, Rng& rng);

  const SSVAEOptions& options() const { return options_; }

 private:
  SSVAEOptions options_;
  nn::MLP<T> classifier_, encoder_, decoder_;
  Array<T> xl_;             // labelled images [L, x_dim], grey levels
  std::vector<int> yl_;     // their labels
  Array<T> xbin_;           // the binarized batch, swapped with batch.x (prepare_batch)
};

// The registry entry: flags z, hidden, gw, cw, labels, labelled_batch.
ModelInfo ssvae_info();

extern template class SSVAE<float>;
extern template class SSVAE<double>;

}  // namespace tz::models
