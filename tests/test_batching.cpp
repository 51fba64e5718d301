// Tests of datasets/batching.cpp: the Batcher's epochs and their restore, gather_rows, dynamic
// binarization (and the training loop's binarize_batch) and labelled subsets.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "datasets/batching.hpp"
#include "models/vae_common.hpp"  // binarize_batch
#include "tests/dataset_helpers.hpp"
#include "tests/test_helpers.hpp"

using tz::test::invalid_argument;

TEST_CASE("Batcher covers every index exactly once per epoch, reproducibly") {
  const std::size_t n = 1003, bs = 100;
  tz::Rng rng(5), again(5), perm_rng(5);
  tz::Batcher batches(n, bs), same(n, bs);
  CHECK(batches.batches_per_epoch() == 11);
  std::vector<std::vector<std::size_t>> epochs;
  for (int epoch = 0; epoch < 3; ++epoch) {
    batches.shuffle(rng);
    same.shuffle(again);
    std::vector<std::size_t> seen, sizes;
    for (auto idx = batches.next(); !idx.empty(); idx = batches.next()) {
      const auto other = same.next();
      CHECK(std::equal(idx.begin(), idx.end(), other.begin(), other.end()));
      seen.insert(seen.end(), idx.begin(), idx.end());
      sizes.push_back(idx.size());
    }
    CHECK(sizes.size() == 11);
    CHECK(sizes.back() == 3);
    epochs.push_back(seen);
    std::sort(seen.begin(), seen.end());
    std::vector<std::size_t> all(n);
    std::iota(all.begin(), all.end(), std::size_t{0});
    CHECK(seen == all);
  }
  CHECK(epochs[0] == perm_rng.permutation(n));  // the same draws as Rng::permutation
  CHECK(epochs[0] != epochs[1]);                // a fresh order every epoch

  tz::Batcher dropping(n, bs, /*drop_last=*/true);
  std::size_t count = 0;
  for (auto idx = dropping.next(); !idx.empty(); idx = dropping.next()) {
    CHECK(idx.size() == bs);
    CHECK(idx[0] == count * bs);  // before any shuffle: in order
    ++count;
  }
  CHECK(count == 10);
  CHECK(dropping.batches_per_epoch() == 10);
}

TEST_CASE("Batcher::restore continues an epoch from its order and position; a bad order is refused") {
  tz::Rng rng(3);
  tz::Batcher a(10, 3), b(10, 3);
  a.shuffle(rng);
  a.next();
  b.restore(a.order(), a.position());
  CHECK(b.position() == 3);
  for (auto x = a.next(), y = b.next(); !x.empty() || !y.empty(); x = a.next(), y = b.next())
    CHECK(std::equal(x.begin(), x.end(), y.begin(), y.end()));
  auto message = [&](std::vector<std::size_t> order, std::size_t pos) -> std::string {
    try {
      b.restore(std::move(order), pos);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "no error";
  };
  CHECK(message({0, 1, 2}, 0) == "Batcher::restore: an order of 3 rows for 10 rows");
  CHECK(message({0, 1, 2, 3, 4, 5, 6, 7, 8, 8}, 0) ==
        "Batcher::restore: the order is not a permutation of 0..9 (8 appears twice)");
  CHECK(message({0, 1, 2, 3, 4, 5, 6, 7, 8, 10}, 0) ==
        "Batcher::restore: the order is not a permutation of 0..9 (10 is out of range)");
  CHECK(message({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 11) == "Batcher::restore: position 11 is past the 10 rows");
}

TEST_CASE("gather_rows copies rows into a reused buffer") {
  xt::xtensor<float, 2> x = xt::xtensor<float, 2>::from_shape({50, 4});
  std::iota(x.begin(), x.end(), 0.0f);
  tz::Batcher batches(50, 8);
  tz::Rng rng(1);
  batches.shuffle(rng);
  xt::xtensor<float, 2> xb;
  const float* buffer = nullptr;
  for (auto idx = batches.next(); !idx.empty(); idx = batches.next()) {
    tz::gather_rows(x, idx, xb);
    REQUIRE(xb.shape(0) == idx.size());
    if (idx.size() == 8) {
      if (buffer) CHECK(xb.data() == buffer);  // no new allocation for a batch of the same size
      buffer = xb.data();
    }
    for (std::size_t r = 0; r < idx.size(); ++r)
      for (std::size_t j = 0; j < 4; ++j) CHECK(xb(r, j) == x(idx[r], j));
  }
  std::vector<int> labels(50), yb;
  std::iota(labels.begin(), labels.end(), 100);
  const std::vector<std::size_t> idx = {3, 0, 49};
  tz::gather_labels(labels, idx, yb);
  CHECK(yb == std::vector<int>{103, 100, 149});
}

TEST_CASE("dynamic binarization: fresh 0/1 draws whose mean matches the pixel mean") {
  // 2,000 x 784 pixels: the binary mean's standard error is below 0.0006; tolerance 0.003.
  tz::Rng data_rng(9);
  const xt::xtensor<float, 2> x = [&] {
    xt::xtensor<float, 2> t = xt::xtensor<float, 2>::from_shape({2000, 784});
    for (auto& v : t) v = static_cast<float>(data_rng.uniform() * data_rng.uniform());
    return t;
  }();
  tz::Rng rng(4);
  xt::xtensor<float, 2> b1, b2;
  tz::binarize_dynamic(x, rng, b1);
  const float* buffer = b1.data();
  tz::binarize_dynamic(x, rng, b1);  // into the same buffer
  CHECK(b1.data() == buffer);
  tz::binarize_dynamic(x, rng, b2);
  CHECK(b1 != b2);
  const double px = std::accumulate(x.begin(), x.end(), 0.0) / x.size();
  const double pb = std::accumulate(b1.begin(), b1.end(), 0.0) / b1.size();
  CHECK(std::all_of(b1.begin(), b1.end(), [](float v) { return v == 0.0f || v == 1.0f; }));
  CHECK(std::abs(pb - px) < 0.003);
  // Pixels at 0 and 1 are always 0 and 1.
  const xt::xtensor<float, 2> ends = {{0.0f, 1.0f, 0.0f, 1.0f}};
  xt::xtensor<float, 2> be;
  tz::binarize_dynamic(ends, rng, be);
  CHECK(be == ends);

  tz::Rng s1(123), s2(123);
  CHECK(tz::binarize_static(x, s1) == tz::binarize_static(x, s2));
}

TEST_CASE("labelled_subset: exactly N per class, seeded, with a clear error for small classes") {
  std::vector<int> labels;
  for (int i = 0; i < 1000; ++i) labels.push_back((i * 7) % 10);
  tz::Rng a(1), b(1), c(2);
  const std::vector<std::size_t> s = tz::labelled_subset(labels, 10, a);
  CHECK(s.size() == 100);
  CHECK(std::is_sorted(s.begin(), s.end()));
  CHECK(std::set<std::size_t>(s.begin(), s.end()).size() == 100);
  std::vector<int> per(10);
  for (auto i : s) per.at(static_cast<std::size_t>(labels.at(i)))++;
  CHECK(per == std::vector<int>(10, 10));
  CHECK(tz::labelled_subset(labels, 10, b) == s);
  CHECK(tz::labelled_subset(labels, 10, c) != s);

  labels[0] = 11;  // class 10 is empty
  CHECK(invalid_argument([&] { tz::labelled_subset(labels, 1, a); }) ==
        "labelled_subset: class 10 has only 0 examples; 1 per class were requested");
  labels[0] = 0;
  CHECK(invalid_argument([&] { tz::labelled_subset(labels, 101, a); }) ==
        "labelled_subset: class 0 has only 100 examples; 101 per class were requested");
}

TEST_CASE("binarize_batch: x_j = [u_j < p_j], u_j the 24-bit halves of one draw per pair of pixels") {
  // The definition, one pixel at a time: draw k gives pixel 2k bits 40..63 and pixel 2k+1 bits
  // 16..39, compared as u < p·2²⁴. The fast loop (blocks of draws, then a vectorised compare) must
  // give the same pixels and leave the generator where the definition leaves it, for batch sizes
  // that end inside a block and on an odd pixel; p = 0 gives 0 and p = 1 gives 1.
  for (std::size_t rows : {1u, 3u, 301u}) {  // 7, 21 and 2,107 pixels: past two blocks of 1,024
    CAPTURE(rows);
    tz::Rng data_rng(5);
    tz::models::Batch<float> batch;
    batch.x = tz::Array<float>::from_shape({rows, 7});  // 7 columns: an odd number of pixels for odd rows
    for (auto& v : batch.x) v = static_cast<float>(data_rng.uniform());
    batch.x(0, 0) = 0.0f;
    batch.x(0, 1) = 1.0f;
    const tz::Array<float> p = batch.x;
    tz::Rng a(11), b(11);
    tz::Array<float> scratch;
    tz::models::binarize_batch(batch, scratch, a);
    std::size_t same = 0;
    std::uint64_t bits = 0;
    for (std::size_t j = 0; j < p.size(); ++j) {
      if (j % 2 == 0) bits = b.next_u64();
      const auto u = static_cast<float>(j % 2 == 0 ? bits >> 40 : (bits >> 16) & 0xFFFFFF);
      same += batch.x.data()[j] == (u < p.data()[j] * 16777216.0f ? 1.0f : 0.0f);
    }
    CHECK(same == p.size());
    CHECK(batch.x(0, 0) == 0.0f);
    CHECK(batch.x(0, 1) == 1.0f);
    CHECK(a.next_u64() == b.next_u64());
  }
}
