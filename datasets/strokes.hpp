// tapezoo: synthetic 28×28 stroke images, the files-free data of the VAE family's tests, its
// conformance checks and `--data strokes`. One generator, two kinds of stroke:
//
//   shapes   one of four shapes (a vertical bar, a horizontal bar, a square outline, a diagonal),
//            shifted by up to 3 pixels; intensity 0.9 on the stroke and 0.05 elsewhere. Unlabelled.
//   bars     a blurred bar through the centre whose angle π·c/10 is the class c (10 classes),
//            shifted by u ~ U(−2, 2) pixels across itself: ink = min(1, e^{−dist²/4} + 0.05·U(0, 1)).
//            Labelled, in class order 0, 1, …, 9, 0, 1, ….
//
//   tz::Rng rng(0);
//   tz::StrokeImages s = tz::make_strokes({.kind = tz::StrokeKind::bars, .n_train = 200, .n_test = 100}, rng);
//   s.train_x;   // [200, 784] intensities in [0, 1], binarized by the models like real images
//   s.train_y;   // [200] classes (empty for shapes)
//
// The datasets library knows nothing of models: a model copies these arrays into its Dataset.
#pragma once

#include <cstddef>
#include <vector>

#include <xtensor/xarray.hpp>

#include "autograd/random.hpp"

namespace tz {

enum class StrokeKind { shapes, bars };

struct StrokeOptions {
  StrokeKind kind = StrokeKind::shapes;
  std::size_t n_train = 256, n_test = 64;
};

struct StrokeImages {
  xt::xarray<float> train_x, test_x;   // [n, rows·cols], row-major images (tz::Array<float>)
  std::vector<int> train_y, test_y;    // classes, or empty when the kind has none
  std::size_t rows = 28, cols = 28, num_classes = 0;
};

// The training images first, then the test images, all drawn from rng in that order.
StrokeImages make_strokes(const StrokeOptions& options, Rng& rng);

}  // namespace tz
