// Tests of datasets/npy.cpp: .npy files written and read bit-exactly, hand-built files of other
// versions and dtypes, and what is refused (with the file, the dtype or the size named).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "datasets/files.hpp"
#include "datasets/npy.hpp"
#include "tests/test_helpers.hpp"

using namespace tz::test;  // contains, file_error, TempDir

TEST_CASE(".npy round-trips float32 and float64 bit-exactly") {
  TempDir dir;
  const float fnan = std::nanf("");
  xt::xarray<float> f = {{1.5f, -0.0f, 3.4028235e38f}, {1e-45f, INFINITY, fnan}};
  xt::xarray<double> d = {0.1, -2.5e300, 4.9e-324, -INFINITY};
  tz::save_npy(dir / "f.npy", f);
  tz::save_npy(dir / "d.npy", d);
  const tz::NdArray fa = tz::read_npy(dir / "f.npy"), da = tz::read_npy(dir / "d.npy");
  CHECK(fa.dtype == tz::DType::f4);
  CHECK(fa.shape == std::vector<std::size_t>{2, 3});
  CHECK(da.dtype == tz::DType::f8);
  CHECK(da.shape == std::vector<std::size_t>{4});
  const xt::xarray<float> f2 = fa.to_float();
  const xt::xarray<double> d2 = da.to_double();
  CHECK(std::memcmp(f2.data(), f.data(), 6 * sizeof(float)) == 0);
  CHECK(std::memcmp(d2.data(), d.data(), 4 * sizeof(double)) == 0);
  // The header is padded so the data starts at byte 128 (a multiple of 64), as NumPy writes it.
  const std::string bytes = tz::read_file(dir / "f.npy");
  CHECK(bytes.size() == 128 + 6 * 4);
  CHECK(bytes[127] == '\n');
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  CHECK(bytes.substr(10, dict.size()) == dict);
  CHECK(bytes.substr(10 + dict.size(), 117 - 10 - dict.size()) == std::string(117 - 10 - dict.size(), ' '));

  // 0-d arrays and empty arrays.
  xt::xarray<double> scalar = 2.5;
  tz::save_npy(dir / "s.npy", scalar);
  const tz::NdArray sa = tz::read_npy(dir / "s.npy");
  CHECK(sa.shape.empty());
  CHECK(sa.to_double()() == 2.5);
  xt::xarray<float> empty = xt::xarray<float>::from_shape({0, 4});
  tz::save_npy(dir / "e.npy", empty);
  CHECK(tz::read_npy(dir / "e.npy").shape == std::vector<std::size_t>{0, 4});
}

TEST_CASE(".npy decodes hand-built files: version 1.0 int64, version 2.0 uint8") {
  // np.save(f, np.array([[1, -2, 3], [4, 5, 1 << 40]])) with a plain, unpadded header.
  std::string h = "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 3), }\n";
  std::string b = std::string("\x93NUMPY\x01\x00", 8);
  b += static_cast<char>(h.size()), b += '\0', b += h;
  for (std::int64_t v : {std::int64_t{1}, std::int64_t{-2}, std::int64_t{3}, std::int64_t{4}, std::int64_t{5}, std::int64_t{1} << 40})
    b.append(reinterpret_cast<const char*>(&v), 8);
  const tz::NdArray a = tz::decode_npy(b, "hand.npy");
  CHECK(a.dtype == tz::DType::i8);
  const xt::xarray<double> x = a.to_double();
  CHECK(x == xt::xarray<double>{{1, -2, 3}, {4, 5, 1099511627776.0}});

  std::string h2 = "{\"descr\": \"|u1\", \"fortran_order\": False, \"shape\": (4,)}";
  std::string b2 = std::string("\x93NUMPY\x02\x00", 8);
  const std::uint32_t len = static_cast<std::uint32_t>(h2.size());
  b2.append(reinterpret_cast<const char*>(&len), 4);
  b2 += h2;
  b2 += std::string("\x00\x7f\x80\xff", 4);
  const tz::NdArray a2 = tz::decode_npy(b2, "v2.npy");
  CHECK(a2.dtype == tz::DType::u1);
  CHECK(a2.to_float() == xt::xarray<float>{0, 127, 128, 255});
}

TEST_CASE(".npy refuses what it cannot read, naming the file, the dtype and the accepted ones") {
  const auto npy = [](const std::string& dict, std::size_t data_bytes) {
    std::string b = std::string("\x93NUMPY\x01\x00", 8);
    b += static_cast<char>(dict.size()), b += '\0', b += dict;
    return b + std::string(data_bytes, '\0');
  };
  // Each header below is refused; the message names the file and says why.
  struct Refused {
    std::string dict;
    std::size_t data_bytes;
    std::string source;
    std::vector<std::string> parts;  // each must appear in the message
  };
  const Refused refused[] = {
      {"{'descr': '<U5', 'fortran_order': False, 'shape': (2,), }", 40, "/data/names.npy",
       {"/data/names.npy", "dtype '<U5' is not supported", "'<f4', '<f8', '<i4', '<i8', '|u1'"}},
      {"{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }", 16, "z.npy",
       {"z.npy: dtype '<c16' is not supported"}},
      {"{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }", 8, "be.npy", {"dtype '>f8' is not supported"}},
      {"{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }", 32, "f.npy",
       {"f.npy", "Fortran", "np.ascontiguousarray"}},
      {"{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, 'shape': (1,), }", 8, "s.npy",
       {"s.npy: dtype [('a', '<f4'), ('b', '<i4')] (a structured dtype) is not supported"}},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", 20, "t.npy",
       {"t.npy: expected 48 bytes of <f4 data for shape [3, 4], found 20 (file truncated?)"}},
  };
  for (const Refused& r : refused) {
    CAPTURE(r.dict);
    const std::string msg = file_error([&] { tz::decode_npy(npy(r.dict, r.data_bytes), r.source); });
    for (const std::string& part : r.parts) CHECK(contains(msg, part));
  }

  const std::string not_npy = file_error([&] { tz::decode_npy("PK\x03\x04 not an npy", "x.npy"); });
  CHECK(contains(not_npy, "x.npy: not a .npy file"));
}

TEST_CASE(".npy declaring a huge shape or header is refused before allocating") {
  // A valid version 1.0 header built by encode_npy for a 2^40-element float64 array, without its
  // 8 TiB of data. The error is a FileError, not std::bad_alloc: nothing of that size is allocated.
  tz::NdArray a;
  a.dtype = tz::DType::f8;
  a.shape = {1};
  a.bytes.assign(8, '\0');
  std::string head = tz::encode_npy(a).substr(0, 128);
  const std::size_t at = head.find("(1,)");
  REQUIRE(at != std::string::npos);
  head.replace(at, 4, "(1099511627776,)");
  head.erase(head.size() - 13, 12);  // keep the length: drop 12 spaces of padding
  CHECK(file_error([&] { tz::decode_npy(head, "huge.npy"); }) ==
        "huge.npy: expected 8796093022208 bytes of <f8 data for shape [1099511627776], found 0 (file truncated?)");

  std::string cube = head;
  cube.replace(at, 16, "(4294967296, 4294967296, 1)");
  cube.erase(cube.size() - 12, 11);
  CHECK(cube.size() == head.size());
  CHECK(file_error([&] { tz::decode_npy(cube, "cube.npy"); }) == "cube.npy: shape [4294967296, 4294967296, 1] overflows");

  // Format 2.0 with a 4-byte header length of 4 GiB - 1 in a 20-byte file.
  const std::string v2 = std::string("\x93NUMPY\x02\x00\xff\xff\xff\xff", 12) + "{'descr':";
  CHECK(file_error([&] { tz::decode_npy(v2, "v2.npy"); }) ==
        "v2.npy: .npy header says 4294967295 bytes but the file has only 9 after the preamble (file truncated?)");
}

TEST_CASE(".npy header junk is shown escaped and cut short in the error") {
  // 300 bytes of header: '{', a control byte, then 298 letters. The message shows 200 of them.
  const std::string header = "{\x01" + std::string(298, 'a');
  const std::string bytes = std::string("\x93NUMPY\x01\x00\x2c\x01", 10) + header;
  CHECK(file_error([&] { tz::decode_npy(bytes, "junk.npy"); }) ==
        "junk.npy: malformed .npy header (expected a quoted string at offset 1): {\\x01" + std::string(198, 'a') +
            "... (300 bytes)");
}
