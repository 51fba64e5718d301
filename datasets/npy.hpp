// tapezoo: NumPy's .npy format, read and written without NumPy.
//
//   tz::save_npy("x.npy", xt::xarray<float>{{1, 2}, {3, 4}});    // '<f4', shape (2, 2)
//   tz::NdArray a = tz::read_npy("x.npy");                        // dtype, shape, raw bytes
//   xt::xarray<double> x = a.to_double();                         // any accepted dtype -> double
//
// Format (numpy/lib/format.py, versions 1.0, 2.0 and 3.0): the magic "\x93NUMPY", two version
// bytes, the header length (uint16 for 1.0, uint32 for 2.0/3.0, little-endian), then a Python dict
// literal such as {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces
// and ended by '\n' so that the data starts at a multiple of 64 bytes; then the raw data.
//
// Accepted dtypes: '<f4' (float32), '<f8' (float64), '<i4', '<i8' (int32/64) and '|u1' (uint8),
// little-endian, in C (row-major) order. fortran_order=True, big-endian, strings, complex and
// structured dtypes are refused with a message naming the file and the dtype found.
// tapezoo assumes a little-endian host (x86-64, arm64), which is checked at compile time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <xtensor/xarray.hpp>

namespace tz {

enum class DType : std::uint8_t { u1, i4, i8, f4, f8 };

std::string_view dtype_descr(DType t);  // "<f4", "|u1", ...
std::size_t dtype_size(DType t);        // bytes per element
std::string_view accepted_npy_dtypes(); // "'<f4', '<f8', '<i4', '<i8', '|u1'"

// "(2, 3)", "(5,)", "()" as Python writes a shape; "[2, 3]" for messages when python = false.
std::string shape_string(const std::vector<std::size_t>& shape, bool python = false);

// An n-d array as NumPy stores it: dtype, C-order shape, and the little-endian bytes.
struct NdArray {
  DType dtype = DType::f8;
  std::vector<std::size_t> shape;
  std::string bytes;  // size() * dtype_size(dtype) bytes

  std::size_t size() const;  // number of elements; 1 for a 0-d array

  // Copies of any xtensor container or expression of float or double, in row-major order.
  template <class E>
  static NdArray from(const E& e);

  // Converts from any accepted dtype (integers exactly; float64 -> float rounds).
  xt::xarray<float> to_float() const;
  xt::xarray<double> to_double() const;
};

// Encode as .npy version 1.0 bytes / decode .npy bytes; `source` names the file in errors.
std::string encode_npy(const NdArray& a);
NdArray decode_npy(std::string_view bytes, const std::string& source);

NdArray read_npy(const std::string& path);
void write_npy(const std::string& path, const NdArray& a);  // atomic (datasets/files.hpp)

template <class E>
void save_npy(const std::string& path, const E& e) {
  write_npy(path, NdArray::from(e));
}

// ---- template definitions ----------------------------------------------------------------------

template <class E>
NdArray NdArray::from(const E& e) {
  using T = typename E::value_type;
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "NdArray::from: only float and double arrays are stored");
  NdArray a;
  a.dtype = std::is_same_v<T, float> ? DType::f4 : DType::f8;
  a.shape.assign(e.shape().begin(), e.shape().end());
  a.bytes.resize(a.size() * sizeof(T));
  char* out = a.bytes.data();
  for (auto it = e.cbegin(); it != e.cend(); ++it, out += sizeof(T)) {  // row-major traversal
    const T v = *it;
    std::memcpy(out, &v, sizeof(T));
  }
  return a;
}

}  // namespace tz
