// tapezoo: the SSVAE's fast path (models/ssvae.hpp has the model, models/ssvae.cpp its bounds): the
// labels of the enumerated pairs, and the encoder and decoder on them, each beside the textbook
// code it stands in for and chosen with tz::textbook() (autograd/path.hpp, docs/fast-paths.md).
// The bounds call these from their task regions, so both paths run the same lines there.
#include "models/ssvae.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "autograd/ops_fused_zoo.hpp"
#include "autograd/path.hpp"

namespace tz::models {

// ---- the shared first layer ------------------------------------------------------------------------
//
// The unlabelled bound U(x) enumerates y: its encoder sees each image K = 10 times, as the pairs
// (x_i, y = c), rows c·n + i of the batch [x_k, y] [K·n, 784 + K]. The encoder's first layer is
//   h = elu([x, y] W + b),   W = [W_x; W_y],  W_x [784, 300],  W_y [K, 300],
// and since y is one-hot, [x, y] W = x W_x + y W_y = x W_x + W_y[c], the row of W_y for label c.
// The product x_i W_x is the same for every c: computed once per image, it is an [n, 784] @
// [784, 300] product instead of [K·n, 794] @ [794, 300], and each of the K·n rows adds its label's
// row of W_y and b. The backward does the same: with g_r = ∂loss/∂(row r's pre-activation),
//   ∂/∂x_i W_x gets Σ_c g_(c·n+i),  so  gW_x = xᵀ (Σ_c g_c)   and   gx = (Σ_c g_c) W_xᵀ,
//   gW_y[c] = Σ_(rows r with label c) g_r,   gb = Σ_r g_r,
// again products of n rows, not K·n. This was the step's largest product: enumeration costs K
// times the work only after the first layer. The textbook path (tz::textbook()) records the
// formula as it reads, concat([tile(x, K), onehot(y)]) then the layer; the fast path records one
// onehot_linear_elu node (autograd/ops_fused_ssvae.cpp). tests/test_fast_paths_models.cpp shows
// that the two give the same bounds and gradients.
//
// Where the saving applies and where it does not:
//   - q(z|x,y), first layer: the x part is shared by the K copies: saved (above).
//   - q(z|x,y), later layers: their input elu(x W_x + W_y[c] + b) differs with c: no saving.
//   - p(x|y,z), first layer on [z, y]: z differs for every pair (each has its own ε and q(z|x,y)),
//     so z W_z is a product of K·n distinct rows: nothing to share. The same op still takes
//     [z, y] W as z W_z + W_y[c] (copies = 1), which spares the concat and K columns of zeros.
//   - q(y|x), the classifier: it sees each image once already (q(y|x) is computed before y is
//     enumerated): nothing to save.
//   - the labelled bound L(x, y): one y per image, copies = 1: only the concat is spared.
//   - the IWAE (models/vae.cpp): its encoder sees x once and duplicate(m, k), duplicate(v, k)
//     come after it, so the k copies of x never pass through a layer; its decoder sees k
//     different z: there is nothing to share there either.
//   - the FSVAE (models/fsvae.cpp) knows each image's y: its step tiles nothing; its IWAE bound
//     encodes x once and tiles y only beside k different z, into the decoder: nothing to share.

// ---- q(z|x,y)'s two heads, read in place -------------------------------------------------------------
//
// The encoder's last layer gives h = [h_m, h_v] [rows, 2z], and the textbook's gaussian_parameters
// splits it: m = narrow(h, 1, 0, z), v = softplus(narrow(h, 1, z, z)) + 1e-8 (CS236: a variance
// that is always positive). Those are four nodes, two [rows, z] copies and libm's log1pf and expf
// once per element. On the fast path gaussian_parameters (distributions/distributions.cpp) keeps
// narrow for m (its backward copies whole rows) and records v as one softplus_rows node
// (autograd/ops_fused_gmvae.cpp) that reads h_v where it lies:
//   v = softplus(h_v) + 1e-8,   ∂v/∂h_v = σ(h_v),   ∂v/∂h_m = 0,
// so the backward writes gh_v = gv ⊙ σ(h_v) into h's gradient directly, and narrow adds gh_m = gm.
// Every later line of the bounds (z = m + √v ⊙ ε, KL_z) reads the same m and v on both paths.

template <class T>
typename SSVAE<T>::PairLabels SSVAE<T>::pair_labels(Tape<T>& tape, const std::vector<int>& labels) const {
  PairLabels p;
  if (tz::textbook()) {
    p.onehot = tape.constant(one_hot<T>(labels, options_.classes), "y");
    return p;
  }
  p.index.resize(labels.size());
  for (std::size_t r = 0; r < labels.size(); ++r) {
    if (labels[r] < 0 || static_cast<std::size_t>(labels[r]) >= options_.classes)
      throw std::invalid_argument(fmt::format("ssvae: label {} at row {} is outside [0, {})", labels[r], r,
                                              options_.classes));
    p.index[r] = static_cast<std::size_t>(labels[r]);
  }
  return p;
}

namespace {

// An MLP of ELU hidden layers on [x, onehot(y)], its first layer as onehot_linear_elu (x W_x once
// for the copies of each x), the others as nn::MLP records them on the fast path.
template <class T>
Var<T> shared_first_layer(Tape<T>& tape, const nn::MLP<T>& net, const Var<T>& x, const std::vector<std::size_t>& y) {
  const auto& layers = net.layers();
  Var<T> h = onehot_linear_elu(x, tape.param(layers[0].W()), tape.param(layers[0].b()), y);
  for (std::size_t i = 1; i < layers.size(); ++i)
    h = i + 1 < layers.size() ? layers[i].linear_elu(tape, h) : layers[i](tape, h);
  return h;
}

}  // namespace

template <class T>
Gaussian<T> SSVAE<T>::encode(Tape<T>& tape, const Var<T>& x, const Var<T>& x_k, const PairLabels& y) const {
  if (tz::textbook()) return encode(tape, x_k, y.onehot);  // encoder(concat([x_k, y]))
  // Fast path: the shared first layer, then m and v read off h = [h_m, h_v] (the heads, above)
  return gaussian_parameters(shared_first_layer(tape, encoder_, x, y.index));
}

template <class T>
Var<T> SSVAE<T>::decode(Tape<T>& tape, const Var<T>& z, const PairLabels& y) const {
  if (tz::textbook()) return decode(tape, z, y.onehot);  // decoder(concat([z, y]))
  return shared_first_layer(tape, decoder_, z, y.index);
}

template typename SSVAE<float>::PairLabels SSVAE<float>::pair_labels(Tape<float>&, const std::vector<int>&) const;
template typename SSVAE<double>::PairLabels SSVAE<double>::pair_labels(Tape<double>&, const std::vector<int>&) const;
template Gaussian<float> SSVAE<float>::encode(Tape<float>&, const Var<float>&, const Var<float>&,
                                              const PairLabels&) const;
template Gaussian<double> SSVAE<double>::encode(Tape<double>&, const Var<double>&, const Var<double>&,
                                                const PairLabels&) const;
template Var<float> SSVAE<float>::decode(Tape<float>&, const Var<float>&, const PairLabels&) const;
template Var<double> SSVAE<double>::decode(Tape<double>&, const Var<double>&, const PairLabels&) const;

}  // namespace tz::models
