// tapezoo: minibatches, binarization and labelled subsets, all seeded through an explicit Rng.
//
//   tz::Batcher batches(d.train_x.shape(0), /*batch_size=*/100);
//   xt::xtensor<float, 2> xb, xbin;                 // reused buffers: no allocation per batch
//   for (int epoch = 0; epoch < epochs; ++epoch) {
//     batches.shuffle(rng);                          // a fresh permutation each epoch
//     for (auto idx = batches.next(); !idx.empty(); idx = batches.next()) {
//       tz::gather_rows(d.train_x, idx, xb);         // xb = train_x[idx]
//       tz::binarize_dynamic(xb, rng, xbin);         // xbin ~ Bernoulli(xb), fresh every batch
//       ...
//
// Dynamic binarization draws new binary images every time a batch is seen (as in the IWAE paper's
// experiments, Burda et al. 2016 §5); static binarization draws them once, with its own seed, so
// every epoch sees the same binary images.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "autograd/random.hpp"

namespace tz {

// Epochs of minibatch row indices. Before the first shuffle(), batches come in order 0, 1, ...,
// n-1. shuffle(rng) draws the same permutation as rng.permutation(n) would, without allocating.
class Batcher {
 public:
  Batcher(std::size_t n, std::size_t batch_size, bool drop_last = false);

  void shuffle(Rng& rng);  // new epoch in random order

  // The next batch's row indices (a view into the batcher, valid until the next call);
  // empty when the epoch is over. The last batch is smaller unless drop_last.
  std::span<const std::size_t> next();

  std::size_t size() const { return order_.size(); }
  std::size_t batch_size() const { return batch_size_; }
  std::size_t batches_per_epoch() const;
  const std::vector<std::size_t>& order() const { return order_; }
  // How many rows of the current order next() has handed out.
  std::size_t position() const { return pos_; }
  // Continues an epoch saved as order() and position(). The order must be a permutation of
  // 0..size()-1 and the position at most size(); std::invalid_argument saying which otherwise.
  void restore(std::vector<std::size_t> order, std::size_t position);

 private:
  std::vector<std::size_t> order_;
  std::size_t batch_size_;
  bool drop_last_;
  std::size_t pos_ = 0;
};

// out = x[idx, :] for a row-major 2-D container x. `out` is resized only when its shape changes.
template <class In, class Out>
void gather_rows(const In& x, std::span<const std::size_t> idx, Out& out) {
  if (x.dimension() != 2) throw std::invalid_argument("gather_rows: x must be 2-D");
  const std::size_t n = x.shape(0), d = x.shape(1), m = idx.size();
  if (out.dimension() != 2 || out.shape(0) != m || out.shape(1) != d) out.resize(typename Out::shape_type{m, d});
  using T = typename Out::value_type;
  static_assert(std::is_same_v<T, typename In::value_type>, "gather_rows: x and out must hold the same type");
  for (std::size_t r = 0; r < m; ++r) {
    if (idx[r] >= n)
      throw std::out_of_range("gather_rows: index " + std::to_string(idx[r]) + " >= " + std::to_string(n) + " rows");
    // The rows are scattered over the data set, so each is a fresh miss: asking for the next row
    // while this one is copied hides part of the wait (bench/zoo_step's ms_per_iter).
    if (r + 1 < m && idx[r + 1] < n) {
      const char* next = reinterpret_cast<const char*>(x.data() + idx[r + 1] * d);
      for (std::size_t b = 0; b < d * sizeof(T); b += 64) __builtin_prefetch(next + b);
    }
    std::memcpy(out.data() + r * d, x.data() + idx[r] * d, d * sizeof(T));
  }
}

// out = y[idx]
void gather_labels(const std::vector<int>& y, std::span<const std::size_t> idx, std::vector<int>& out);

// out_i ~ Bernoulli(p_i), elementwise, as 0 or 1; `out` takes p's shape (resized only if needed).
template <class In, class Out>
void binarize_dynamic(const In& p, Rng& rng, Out& out) {
  if (out.dimension() != p.dimension() || !std::equal(p.shape().begin(), p.shape().end(), out.shape().begin()))
    out.resize(p.shape());
  using T = typename Out::value_type;
  auto it = p.cbegin();
  for (auto& v : out) v = rng.uniform() < static_cast<double>(*it++) ? T(1) : T(0);
}

// A binarized copy of x, drawn once; pass an Rng seeded for this purpose alone.
template <class C>
C binarize_static(const C& x, Rng& rng) {
  C out;
  binarize_dynamic(x, rng, out);
  return out;
}

// `per_class` row indices of every class 0..num_classes-1 (num_classes = 0: max label + 1), drawn
// without replacement, returned in ascending order. Throws std::invalid_argument naming the class
// if one has fewer than `per_class` examples.
std::vector<std::size_t> labelled_subset(const std::vector<int>& labels, std::size_t per_class, Rng& rng,
                                         std::size_t num_classes = 0);

}  // namespace tz
