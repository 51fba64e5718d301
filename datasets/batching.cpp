// tapezoo: minibatches and labelled subsets (see batching.hpp).
#include "datasets/batching.hpp"

#include <algorithm>
#include <numeric>

namespace tz {

Batcher::Batcher(std::size_t n, std::size_t batch_size, bool drop_last)
    : order_(n), batch_size_(batch_size), drop_last_(drop_last) {
  if (batch_size == 0) throw std::invalid_argument("Batcher: batch_size must be positive");
  std::iota(order_.begin(), order_.end(), std::size_t{0});
}

void Batcher::shuffle(Rng& rng) {
  // Fisher-Yates from the identity, exactly as Rng::permutation, so an epoch's order depends on
  // the generator's state only.
  std::iota(order_.begin(), order_.end(), std::size_t{0});
  for (std::size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[rng.below(i)]);
  pos_ = 0;
}

void Batcher::restore(std::vector<std::size_t> order, std::size_t position) {
  const std::size_t n = order_.size();
  if (order.size() != n)
    throw std::invalid_argument("Batcher::restore: an order of " + std::to_string(order.size()) + " rows for " +
                                std::to_string(n) + " rows");
  std::vector<bool> seen(n, false);
  for (std::size_t i : order) {
    if (i >= n || seen[i])
      throw std::invalid_argument("Batcher::restore: the order is not a permutation of 0.." + std::to_string(n - 1) +
                                  " (" + std::to_string(i) + (i >= n ? " is out of range)" : " appears twice)"));
    seen[i] = true;
  }
  if (position > n)
    throw std::invalid_argument("Batcher::restore: position " + std::to_string(position) + " is past the " +
                                std::to_string(n) + " rows");
  order_ = std::move(order);
  pos_ = position;
}

std::span<const std::size_t> Batcher::next() {
  const std::size_t left = order_.size() - pos_;
  if (left == 0 || (drop_last_ && left < batch_size_)) {
    pos_ = order_.size();
    return {};
  }
  const std::size_t m = std::min(left, batch_size_);
  std::span<const std::size_t> batch(order_.data() + pos_, m);
  pos_ += m;
  return batch;
}

std::size_t Batcher::batches_per_epoch() const {
  const std::size_t n = order_.size();
  return drop_last_ ? n / batch_size_ : (n + batch_size_ - 1) / batch_size_;
}

void gather_labels(const std::vector<int>& y, std::span<const std::size_t> idx, std::vector<int>& out) {
  out.resize(idx.size());
  for (std::size_t r = 0; r < idx.size(); ++r) {
    if (idx[r] >= y.size())
      throw std::out_of_range("gather_labels: index " + std::to_string(idx[r]) + " >= " + std::to_string(y.size()) +
                              " labels");
    out[r] = y[idx[r]];
  }
}

std::vector<std::size_t> labelled_subset(const std::vector<int>& labels, std::size_t per_class, Rng& rng,
                                         std::size_t num_classes) {
  int max_label = -1;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0)
      throw std::invalid_argument("labelled_subset: label " + std::to_string(labels[i]) + " at index " +
                                  std::to_string(i) + " is negative");
    max_label = std::max(max_label, labels[i]);
  }
  if (num_classes == 0) num_classes = static_cast<std::size_t>(max_label + 1);
  if (max_label >= 0 && static_cast<std::size_t>(max_label) >= num_classes)
    throw std::invalid_argument("labelled_subset: label " + std::to_string(max_label) + " is outside 0.." +
                                std::to_string(num_classes - 1));
  std::vector<std::vector<std::size_t>> by_class(num_classes);
  for (std::size_t i = 0; i < labels.size(); ++i) by_class[static_cast<std::size_t>(labels[i])].push_back(i);

  for (std::size_t c = 0; c < num_classes; ++c)
    if (by_class[c].size() < per_class)
      throw std::invalid_argument("labelled_subset: class " + std::to_string(c) + " has only " +
                                  std::to_string(by_class[c].size()) + " examples; " + std::to_string(per_class) +
                                  " per class were requested");
  std::vector<std::size_t> out;
  out.reserve(per_class * num_classes);
  for (auto& members : by_class) {
    // Partial Fisher-Yates: the first per_class entries become a uniform sample without replacement.
    for (std::size_t i = 0; i < per_class; ++i) std::swap(members[i], members[i + rng.below(members.size() - i)]);
    out.insert(out.end(), members.begin(), members.begin() + static_cast<std::ptrdiff_t>(per_class));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace tz
