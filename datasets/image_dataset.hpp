// tapezoo: image datasets in the MNIST layout, as float matrices ready for a model.
//
//   tz::ImageDataset d = tz::load_image_dataset("mnist");          // or "fashion-mnist", or a folder
//   d.train_x;   // xt::xtensor<float,2> [60000, 784], pixel / 255 in [0, 1]
//   d.train_y;   // std::vector<int>, 0..9
//
// Specs:
//   "fashion-mnist"  /usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist)
//   "mnist"          <data root>/mnist, where <data root> is $TAPEZOO_DATA if set, else data/ in
//                    the repository; `./zoo data mnist` (datasets/fetch_mnist.sh) creates it
//   anything else    a folder holding the four standard IDX files:
//                    train-images-idx3-ubyte, train-labels-idx1-ubyte,
//                    t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte   (each plain or .gz)
// A missing folder or file, a truncated file, or images and labels of different counts is a
// FileError that names the folder or file and says what was expected.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

namespace tz {

struct ImageDataset {
  std::string name;    // "mnist", "fashion-mnist", or the folder as given
  std::string folder;  // where the files were read from
  std::size_t rows = 0, cols = 0;
  std::size_t num_classes = 0;           // 10 for MNIST and Fashion-MNIST; else max label + 1
  std::vector<std::string> class_names;  // "0".."9", or Fashion-MNIST's "T-shirt/top", ...
  xt::xtensor<float, 2> train_x, test_x;  // [N, rows*cols], pixel / 255 in [0, 1]
  std::vector<int> train_y, test_y;

  std::size_t dim() const { return rows * cols; }
};

inline constexpr const char* fashion_mnist_folder = "/usr/share/datasets/fashion-mnist";

// $TAPEZOO_DATA if set and non-empty, else "<repository>/data" (the source folder tapezoo was
// built from).
std::string data_root();

ImageDataset load_image_dataset(const std::string& spec);

// The four standard IDX files of `folder`; `name` is stored in the result.
ImageDataset load_idx_folder(const std::string& folder, const std::string& name);

// uint8 pixels [count * dim] -> floats [count, dim] in [0, 1]: exactly float(b) / 255.
xt::xtensor<float, 2> pixels_to_float(const std::vector<std::uint8_t>& pixels, std::size_t count, std::size_t dim);

}  // namespace tz
