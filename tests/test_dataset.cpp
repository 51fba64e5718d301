// Tests of datasets/dataset.cpp and of models::load_dataset, which picks a loader for a --data
// spec: a user's matrix split into training and test rows, first_test_rows, and the order in which
// the loaders are tried (the model's own, then a matrix, then an IDX folder).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "datasets/dataset.hpp"
#include "datasets/files.hpp"
#include "datasets/idx.hpp"
#include "datasets/matrix.hpp"
#include "datasets/npy.hpp"
#include "models/train.hpp"
#include "tests/dataset_helpers.hpp"
#include "tests/test_helpers.hpp"

using namespace tz::test;  // contains, file_error, TempDir, test_images

namespace {

// n rows of 3 columns, x(i, j) = 10 i + j: small integers, exact in float.
xt::xtensor<double, 2> numbered_rows(std::size_t n) {
  xt::xtensor<double, 2> m = xt::xtensor<double, 2>::from_shape({n, std::size_t{3}});
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < 3; ++j) m(i, j) = static_cast<double>(10 * i + j);
  return m;
}

// An array's shape as a std::vector, to compare with a braced list.
std::vector<std::size_t> shape(const xt::xarray<float>& a) { return {a.shape().begin(), a.shape().end()}; }

}  // namespace

TEST_CASE("a matrix becomes a Dataset: the last 10% of the rows, at least one, are the test set") {
  TempDir dir;
  tz::write_csv(dir / "m25.csv", numbered_rows(25));
  const tz::Dataset d = tz::load_matrix_dataset(dir / "m25.csv");
  // n = 25: n_test = max(1, ⌊25 / 10⌋) = 2, n_train = 23, in file order.
  CHECK(d.name == dir / "m25.csv");
  CHECK(d.folder.empty());
  CHECK(d.rows == 0);
  CHECK(d.cols == 0);
  CHECK(d.num_classes == 0);
  CHECK(d.train_y.empty());
  CHECK(d.test_y.empty());
  REQUIRE(shape(d.train_x) == std::vector<std::size_t>{23, 3});
  REQUIRE(shape(d.test_x) == std::vector<std::size_t>{2, 3});
  CHECK(d.dim() == 3);
  CHECK(d.train_x(0, 0) == 0.0f);
  CHECK(d.train_x(22, 2) == 222.0f);
  CHECK(d.test_x(0, 0) == 230.0f);
  CHECK(d.test_x(1, 2) == 242.0f);

  // n = 5: ⌊5 / 10⌋ = 0, so one test row; from a .npy in capitals, as load_matrix reads it.
  tz::save_npy(dir / "M5.NPY", xt::xarray<double>(numbered_rows(5)));
  const tz::Dataset e = tz::load_matrix_dataset(dir / "M5.NPY");
  REQUIRE(shape(e.train_x) == std::vector<std::size_t>{4, 3});
  REQUIRE(shape(e.test_x) == std::vector<std::size_t>{1, 3});
  CHECK(e.test_x(0, 1) == 41.0f);

  tz::write_csv(dir / "one.csv", numbered_rows(1));
  const std::string msg = file_error([&] { tz::load_matrix_dataset(dir / "one.csv"); });
  CHECK(contains(msg, dir / "one.csv"));
  CHECK(contains(msg, "expected at least 2 rows, found 1"));
}

TEST_CASE("first_test_rows keeps the first n test rows and their labels, all of them for n <= 0 or too many") {
  tz::Dataset d;
  d.name = "five";
  d.train_x = xt::xarray<float>{{1, 2}, {3, 4}, {5, 6}};
  d.train_y = {7, 8, 9};
  d.test_x = xt::xarray<float>{{0, 1}, {10, 11}, {20, 21}, {30, 31}, {40, 41}};
  d.test_y = {0, 1, 2, 3, 4};
  const tz::Dataset two = tz::first_test_rows(d, 2);
  CHECK(two.test_x == xt::xarray<float>{{0, 1}, {10, 11}});
  CHECK(two.test_y == std::vector<int>{0, 1});
  CHECK(two.train_x == d.train_x);
  CHECK(two.train_y == d.train_y);
  CHECK(two.name == "five");
  for (long n : {0L, -1L, 5L, 7L}) {
    CAPTURE(n);
    const tz::Dataset all = tz::first_test_rows(d, n);
    CHECK(all.test_x == d.test_x);
    CHECK(all.test_y == d.test_y);
  }
  d.test_y.clear();  // unlabelled rows stay unlabelled
  CHECK(tz::first_test_rows(d, 3).test_y.empty());
  CHECK(shape(tz::first_test_rows(d, 3).test_x) == std::vector<std::size_t>{3, 2});
  CHECK(tz::first_test_rows(tz::Dataset{}, 3).test_x.dimension() == 0);  // no test rows at all: nothing to cut
  CHECK(tz::Dataset{}.dim() == 0);
}

TEST_CASE("load_dataset asks the model's loader first, then reads a matrix, then an IDX folder") {
  TempDir dir;
  tz::write_csv(dir / "points.CSV", numbered_rows(10));
  tz::write_idx_images(dir / "train-images-idx3-ubyte", test_images(3, 2, 2));
  tz::write_idx_labels(dir / "train-labels-idx1-ubyte", {0, 1, 0});
  tz::write_idx_images(dir / "t10k-images-idx3-ubyte", test_images(1, 2, 2));
  tz::write_idx_labels(dir / "t10k-labels-idx1-ubyte", {1});

  tz::models::ModelInfo info;
  info.name = "fake";
  info.load_data = [](const std::string& spec, tz::Rng&, tz::Dataset& out) {
    if (spec != "synthetic" && spec != "own.csv") return false;
    out.name = "made by the model from " + spec;
    return true;
  };
  tz::Rng rng(0);
  CHECK(tz::models::load_dataset(info, "synthetic", rng).name == "made by the model from synthetic");
  CHECK(tz::models::load_dataset(info, "own.csv", rng).name == "made by the model from own.csv");
  const tz::Dataset m = tz::models::load_dataset(info, dir / "points.CSV", rng);
  CHECK(shape(m.train_x) == std::vector<std::size_t>{9, 3});
  CHECK(m.test_x(0, 2) == 92.0f);
  const tz::Dataset im = tz::models::load_dataset(info, dir.path.string(), rng);
  CHECK(im.folder == dir.path.string());
  CHECK(im.rows == 2);
  CHECK(im.train_y == std::vector<int>{0, 1, 0});

  info.load_data = nullptr;  // a model without a loader of its own
  CHECK(shape(tz::models::load_dataset(info, dir / "points.CSV", rng).test_x) == std::vector<std::size_t>{1, 3});
  CHECK(contains(file_error([&] { tz::models::load_dataset(info, "synthetic", rng); }), "no such folder"));
}
