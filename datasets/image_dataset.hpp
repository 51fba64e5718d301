// tapezoo: image datasets in the MNIST layout, as float matrices ready for a model.
//
//   tz::Dataset d = tz::load_image_dataset("mnist");          // or "fashion-mnist", or a folder
//   d.train_x;   // [60000, 784] floats (datasets/dataset.hpp), pixel / 255 in [0, 1]
//   d.train_y;   // std::vector<int>, 0..9
//   d.rows, d.cols, d.folder, d.class_names   // 28, 28, where it was read from, "0".."9"
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
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/dataset.hpp"

namespace tz {

inline constexpr const char* fashion_mnist_folder = "/usr/share/datasets/fashion-mnist";

// $TAPEZOO_DATA if set and non-empty, else "<repository>/data" (the source folder tapezoo was
// built from).
std::string data_root();

Dataset load_image_dataset(const std::string& spec);

// The four standard IDX files of `folder`; `name` is stored in the result. num_classes is the
// largest label + 1, and class_names are "0", "1", …
Dataset load_idx_folder(const std::string& folder, const std::string& name);

// uint8 pixels [count * dim] -> floats [count, dim] in [0, 1]: exactly float(b) / 255.
xt::xarray<float> pixels_to_float(const std::vector<std::uint8_t>& pixels, std::size_t count, std::size_t dim);

}  // namespace tz
