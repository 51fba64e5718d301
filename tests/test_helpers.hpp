// Small helpers for tests. A braced A{{…}} with a single row is ambiguous for xt::xarray, so
// matrices are written mat({{…}, {…}}).
#pragma once

#include <initializer_list>

#include <xtensor/xarray.hpp>

namespace tz::test {

template <class T = double>
xt::xarray<T> mat(std::initializer_list<std::initializer_list<double>> rows) {
  const std::size_t r = rows.size(), c = r ? rows.begin()->size() : 0;
  xt::xarray<T> a = xt::xarray<T>::from_shape({r, c});
  std::size_t i = 0;
  for (const auto& row : rows)
    for (double v : row) a.data()[i++] = static_cast<T>(v);
  return a;
}

}  // namespace tz::test
