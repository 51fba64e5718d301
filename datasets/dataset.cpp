// tapezoo: the Dataset type's own operations, and a user's matrix as a Dataset (see dataset.hpp).
#include "datasets/dataset.hpp"

#include <algorithm>
#include <string>

#include "datasets/files.hpp"
#include "datasets/matrix.hpp"

namespace tz {

Dataset load_matrix_dataset(const std::string& path) {
  const xt::xtensor<double, 2> m = load_matrix(path);
  const std::size_t n = m.shape(0), d = m.shape(1);
  if (n < 2) throw FileError(path + ": expected at least 2 rows, found " + std::to_string(n));
  // The last 10% of the rows, at least one, are the test set: n_test = max(1, ⌊n / 10⌋).
  const std::size_t n_test = std::max<std::size_t>(1, n / 10), n_train = n - n_test;
  Dataset out;
  out.name = path;
  out.train_x = xt::xarray<float>::from_shape({n_train, d});
  out.test_x = xt::xarray<float>::from_shape({n_test, d});
  // Row-major: the first n_train·d doubles are the training rows, the rest the test rows.
  std::transform(m.data(), m.data() + n_train * d, out.train_x.data(), [](double v) { return static_cast<float>(v); });
  std::transform(m.data() + n_train * d, m.data() + n * d, out.test_x.data(),
                 [](double v) { return static_cast<float>(v); });
  return out;
}

Dataset first_test_rows(const Dataset& data, long n) {
  Dataset out = data;
  if (data.test_x.dimension() != 2) return out;
  const std::size_t rows = data.test_x.shape(0);
  if (n <= 0 || static_cast<std::size_t>(n) >= rows) return out;
  const std::size_t d = data.test_x.shape(1), k = static_cast<std::size_t>(n);
  out.test_x = xt::xarray<float>::from_shape({k, d});
  std::copy(data.test_x.data(), data.test_x.data() + k * d, out.test_x.data());
  if (!data.test_y.empty()) out.test_y.assign(data.test_y.begin(), data.test_y.begin() + static_cast<long>(k));
  return out;
}

}  // namespace tz
