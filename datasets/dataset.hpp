// tapezoo: the one Dataset type. Every loader returns it and every model trains on it.
//
//   tz::Dataset d = tz::load_image_dataset("fashion-mnist");   // datasets/image_dataset.hpp
//   d.train_x;        // [60000, 784]: row i is example i, pixel / 255 in [0, 1]
//   d.train_y[i];     // its label, 0..9 (-1 where a semi-supervised model hid it)
//   d.dim();          // 784
//
// Where a Dataset comes from:
//   load_image_dataset  MNIST-layout IDX folders ("mnist", "fashion-mnist", a folder)
//   load_matrix_dataset a .npy or .csv matrix of the user's (below)
//   models::load_dataset  any --data spec: the model's own data ("synthetic"), else one of the two
//                       above (models/train.hpp)
//   ModelInfo::tiny_data  a few hundred rows for the conformance suite (models/model.hpp)
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>

namespace tz {

// Rows of x with optional integer labels. x is xt::xarray<float>, which is tz::Array<float>, the
// tape's own array type, and not xt::xtensor<float, 2>, although it is always 2-D [n, d]: models
// pass test_x straight to functions of Array<float> (a classifier's accuracy, a binarized copy, a
// log-likelihood), and an xtensor argument would be converted, that is copied whole, at every such
// call without a word (MNIST's training set is 188 MB). The rank is checked where the data is made
// instead: loaders build [n, d], and the training loop refuses a train_x that is not 2-D.
struct Dataset {
  std::string name;    // "mnist", "fashion-mnist", "synthetic", or the spec as given (a folder, a.npy)
  std::string folder;  // the folder the IDX files were read from; empty for data made in memory
                       // and for a single .npy or .csv file (whose path is the name)
  std::size_t rows = 0, cols = 0;        // images: how to show a row (rows * cols == dim()); else 0
  std::size_t num_classes = 0;           // 10 for MNIST and Fashion-MNIST; 0 when not known
  std::vector<std::string> class_names;  // "0".."9", Fashion-MNIST's "T-shirt/top", …; or empty
  xt::xarray<float> train_x, test_x;     // [n_train, d] and [n_test, d]
  std::vector<int> train_y, test_y;      // one per row, -1 = unlabelled; or empty (no labels)

  // d, the length of a row: train_x's columns (0 while train_x is not 2-D).
  std::size_t dim() const { return train_x.dimension() == 2 ? train_x.shape(1) : 0; }
};

// A matrix of the user's (.npy or .csv, datasets/matrix.hpp) whose rows are examples: the last 10% of
// the rows, at least one, become the test set, the rest the training set, in file order; no
// labels. At least 2 rows, or a FileError naming the file.
Dataset load_matrix_dataset(const std::string& path);

// The same dataset with only its first n test rows (and labels), for a quicker evaluation; all of
// them if n <= 0 or n exceeds them. The training rows are copied unchanged.
Dataset first_test_rows(const Dataset& data, long n);

}  // namespace tz
