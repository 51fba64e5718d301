// Helpers shared by the tests of datasets/ (test_idx, test_image_dataset, test_matrix,
// test_synthetic, test_batching).
#pragma once

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <stdexcept>
#include <string>

#include "datasets/idx.hpp"

namespace tz::test {

// Writes bytes as they are: a file no writer of tapezoo's would produce.
inline void write_raw(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The message of the std::invalid_argument thrown by f (fails the test if none is thrown).
template <class F>
std::string invalid_argument(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  FAIL("expected std::invalid_argument");
  return {};
}

// count images of rows × cols whose pixel i is (37 i + 11) mod 256: every byte value appears.
inline tz::IdxImages test_images(std::size_t count, std::size_t rows, std::size_t cols) {
  tz::IdxImages im;
  im.count = count, im.rows = rows, im.cols = cols;
  im.pixels.resize(count * rows * cols);
  for (std::size_t i = 0; i < im.pixels.size(); ++i) im.pixels[i] = static_cast<std::uint8_t>((i * 37 + 11) % 256);
  return im;
}

}  // namespace tz::test
