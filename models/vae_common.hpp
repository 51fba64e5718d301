// tapezoo: plain utilities shared by the VAE family (models/vae, gmvae, ssvae, fsvae): row slicing,
// sums and batch means in double, the stroke images as a Dataset, the fixed-seed binarization of
// the test set, chunks of rows, the class × style grid, the reconstructions picture and integer
// flags. The evaluation loop that sums a bound over the test set is models/evaluate.hpp.
//
// No bound is computed here: each model file writes its own derivation term by term. What is here
// is bookkeeping that would otherwise be copied into every model file.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "datasets/batching.hpp"
#include "datasets/strokes.hpp"
#include "distributions/distributions.hpp"
#include "io/png.hpp"
#include "models/model.hpp"

namespace tz::models {

// ---- rows, sums, types ----------------------------------------------------------------------------

// Rows [begin, end) of a float matrix, on the model's scalar type (a container, docs/pitfalls.md#dangling-expressions).
template <class T>
Array<T> rows_as(const Array<float>& x, std::size_t begin, std::size_t end) {
  const std::size_t d = x.shape()[1];
  Array<T> out = Array<T>::from_shape({end - begin, d});
  const float* src = x.data() + begin * d;
  for (std::size_t i = 0; i < out.size(); ++i) out.data()[i] = static_cast<T>(src[i]);
  return out;
}

// Rows [begin, end) of a matrix, copied.
template <class T>
Array<T> rows_of(const Array<T>& x, std::size_t begin, std::size_t end) {
  const std::size_t d = x.shape()[1];
  Array<T> out = Array<T>::from_shape({end - begin, d});
  std::copy(x.data() + begin * d, x.data() + end * d, out.data());
  return out;
}

// Labels [begin, end).
inline std::vector<int> labels_of(const std::vector<int>& y, std::size_t begin, std::size_t end) {
  return std::vector<int>(y.begin() + static_cast<std::ptrdiff_t>(begin), y.begin() + static_cast<std::ptrdiff_t>(end));
}

// Σ of every element of v, accumulated in double (docs/pitfalls.md#double-accumulators).
template <class T>
double sum_of(const Var<T>& v) {
  double s = 0;
  for (T a : v.value()) s += static_cast<double>(a);
  return s;
}

// The batch mean (1/n) Σ_i v_i of per-example values v [n], in double: a loss's metric terms.
template <class T>
double batch_mean(const Var<T>& v) {
  return sum_of(v) / static_cast<double>(v.size());
}

// a as float (pictures and samples are float whatever the model's scalar type).
template <class T>
Array<float> to_float(const Array<T>& a) {
  Array<float> out = Array<float>::from_shape(a.shape());
  std::transform(a.begin(), a.end(), out.begin(), [](T v) { return static_cast<float>(v); });
  return out;
}

// ---- the stroke images (datasets/strokes.hpp) as a Dataset ---------------------------------------

// n_train + n_test stroke images of the kind, drawn from rng: "strokes" (shapes, unlabelled) or
// "bars" (10 classes).
inline Dataset stroke_dataset(StrokeKind kind, std::size_t n_train, std::size_t n_test, Rng& rng) {
  StrokeImages s = make_strokes({.kind = kind, .n_train = n_train, .n_test = n_test}, rng);
  Dataset d;
  d.name = kind == StrokeKind::shapes ? "strokes" : "bars";
  d.train_x = std::move(s.train_x);
  d.test_x = std::move(s.test_x);
  d.train_y = std::move(s.train_y);
  d.test_y = std::move(s.test_y);
  d.rows = s.rows;
  d.cols = s.cols;
  d.num_classes = s.num_classes;
  return d;
}

// The tiny labelled set of the conformance checks of gmvae, ssvae and fsvae: 200 training and 100
// test bars, in class order 0, 1, …, 9, 0, 1, ….
inline Dataset tiny_stroke_images(Rng& rng) { return stroke_dataset(StrokeKind::bars, 200, 100, rng); }

// ---- the test set ---------------------------------------------------------------------------------

// The test set is binarized once, with this seed, so that every run's test bounds, and every
// model's, are computed on the same binary images, whatever the seed of the run.
inline constexpr std::uint64_t kTestBinarizationSeed = 0;

// The test set binarized once with kTestBinarizationSeed: x_j ~ Bernoulli(intensity_j).
inline Array<float> binarized_test_rows(const Dataset& data) {
  Rng rng(kTestBinarizationSeed);
  return binarize_static(data.test_x, rng);
}

// Dynamic binarization of a training batch (the VAE family's prepare_batch): x ~ Bernoulli(batch.x),
// fresh every time a batch is seen (Burda et al. 2016, §5). x_j = [u_j < p_j] with u_j uniform on
// [0, 1) from 24 random bits, two per 64-bit draw. (This is binarize_dynamic at a fraction of its
// cost, which matters in a step this short: bench/vae_step's prepare_ms; P(x_j = 1) = p_j to within
// 2⁻²⁴.) The draws are made a block at a time into 24-bit integers, then compared in a loop the
// compiler vectorises; the numbers are those of one draw per pair of pixels in pixel order. The
// binary batch is written into scratch, which then trades places with batch.x.
template <class T>
void binarize_batch(Batch<T>& batch, Array<T>& scratch, Rng& rng) {
  if (!std::equal(batch.x.shape().begin(), batch.x.shape().end(), scratch.shape().begin(), scratch.shape().end()))
    scratch.resize(batch.x.shape());
  const T* p = batch.x.data();
  T* x = scratch.data();
  const std::size_t n = batch.x.size();
  constexpr float two24 = 16777216.0f;  // 2²⁴
  constexpr std::size_t kBlock = 1024;  // pixels: 512 draws
  std::int32_t u[kBlock];
  for (std::size_t b = 0; b < n; b += kBlock) {
    const std::size_t m = std::min(kBlock, n - b);
    for (std::size_t k = 0; 2 * k < m; ++k) {  // u_2k: bits 40..63, u_2k+1: bits 16..39 of draw k
      const std::uint64_t bits = rng.next_u64();
      u[2 * k] = static_cast<std::int32_t>(bits >> 40);
      if (2 * k + 1 < m) u[2 * k + 1] = static_cast<std::int32_t>((bits >> 16) & 0xFFFFFF);
    }
    for (std::size_t j = 0; j < m; ++j)  // exact: u < 2²⁴ converts to float without rounding
      x[b + j] = static_cast<T>(static_cast<float>(u[j]) < static_cast<float>(p[b + j]) * two24);
  }
  std::swap(batch.x, scratch);
}

// ---- evaluation in chunks -------------------------------------------------------------------------

// Calls f(begin, end) for the row ranges [0, rows), [rows, 2·rows), … that cover [0, n), clearing the
// tape before each, so that evaluating many rows (or many importance samples of each) takes bounded
// memory. The tape is meant to be under a NoGrad guard.
template <class T, class F>
void for_each_chunk(Tape<T>& tape, std::size_t n, std::size_t rows, F&& f) {
  for (std::size_t begin = 0; begin < n; begin += rows) {
    tape.clear();
    f(begin, std::min(n, begin + rows));
  }
}

// Rows of −L_k evaluated at once, for about `samples` decoded rows of z (at least one row).
inline std::size_t iwae_chunk_rows(std::size_t k, std::size_t samples) { return std::max<std::size_t>(1, samples / k); }

// f(tape, x_chunk) for every chunk of 1000 rows of x, without gradients, gathered as float: row i of
// the result [n, cols] is row i of f's value. f maps a [rows, d] constant to a [rows, cols] array.
template <class T, class F>
Array<float> map_rows(const Array<float>& x, std::size_t cols, F&& f) {
  Tape<T> tape;
  NoGrad<T> no_grad(tape);
  const std::size_t n = x.shape()[0];
  Array<float> out = Array<float>::from_shape({n, cols});
  for_each_chunk(tape, n, 1000, [&](std::size_t b, std::size_t e) {
    const Array<T> y = f(tape, tape.constant(rows_as<T>(x, b, e)));
    for (std::size_t i = 0; i < y.size(); ++i) out.data()[b * cols + i] = static_cast<float>(y.data()[i]);
  });
  return out;
}

// ---- pictures -------------------------------------------------------------------------------------

// The side of the square images of data (28 for MNIST); √x_dim when the data does not say.
inline std::size_t image_side(const Dataset& data, std::size_t x_dim) {
  if (data.rows) return data.rows;
  return static_cast<std::size_t>(std::lround(std::sqrt(static_cast<double>(x_dim))));
}

// The reconstructions picture: the first n rows of x in lines of `cols` images, each line followed by
// the line of their reconstructions (rows of recon); a last short line is padded with zero images.
inline Array<float> reconstruction_pairs(const Array<float>& x, const Array<float>& recon, std::size_t n,
                                         std::size_t cols) {
  const std::size_t d = x.shape()[1], lines = (n + cols - 1) / cols;
  Array<float> pairs = xt::zeros<float>({2 * lines * cols, d});
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t row = i / cols, col = i % cols;
    std::memcpy(&pairs((2 * row) * cols + col, 0), &x(i, 0), d * sizeof(float));
    std::memcpy(&pairs((2 * row + 1) * cols + col, 0), &recon(i, 0), d * sizeof(float));
  }
  return pairs;
}

// reconstructions.png for gmvae and fsvae: the first n (up to 50) binarized test images in lines of
// `cols` (up to 10) images, each line followed by the line of their reconstructions, where
// reconstruct(x, n) gives the reconstructions of rows [0, n) of the binarized test set x.
template <class F>
void save_reconstructions(const std::string& path, const Dataset& data, GridOptions grid, F&& reconstruct) {
  const std::size_t cols = std::min<std::size_t>(10, data.test_x.shape()[0]);
  if (cols == 0) return;
  const std::size_t n = std::min<std::size_t>(50, data.test_x.shape()[0]) / cols * cols;
  const Array<float> x = binarized_test_rows(data);
  const Array<float> recon = reconstruct(x, n);
  grid.nrow = cols;
  save_image_grid(path, reconstruction_pairs(x, recon, n, cols), grid);
}

// The latent codes of a class × style grid (ssvae, fsvae): image c·columns + j of the K·columns has
// label c and code z_j ~ N(0, I), one z_j per column shared by every row, so that a row shows one
// class in every style and a column one style in every class.
template <class T>
struct ClassStyleCodes {
  Array<T> z;                // [K·columns, z_dim]
  std::vector<int> labels;   // [K·columns]
};

template <class T>
ClassStyleCodes<T> class_style_codes(std::size_t classes, std::size_t columns, std::size_t z_dim, Rng& rng) {
  // z_j ~ N(0, I), j = 1..columns, shared by every row; row y decodes (z_j, y)
  const Array<T> z_shared = rng.normal<T>({columns, z_dim});
  ClassStyleCodes<T> out{Array<T>::from_shape({classes * columns, z_dim}), std::vector<int>(classes * columns)};
  for (std::size_t c = 0; c < classes; ++c)
    for (std::size_t j = 0; j < columns; ++j) {
      out.labels[c * columns + j] = static_cast<int>(c);
      for (std::size_t q = 0; q < z_dim; ++q) out.z(c * columns + j, q) = z_shared(j, q);
    }
  return out;
}

// The Bernoulli means σ(f(z, y)) of a decoder p(x|z,y) (model.decode(tape, z, y) gives the logits),
// y one-hot of the labels among K classes, without gradients.
template <class T, class M>
Array<float> conditional_means(const M& model, Array<T> z, const std::vector<int>& labels, std::size_t classes) {
  Tape<T> tape;
  NoGrad<T> no_grad(tape);
  Var<T> y = tape.constant(one_hot<T>(labels, classes));
  return to_float<T>(sigmoid(model.decode(tape, tape.constant(std::move(z)), y)).value());
}

// ---- flags ----------------------------------------------------------------------------------------

// An integer flag that counts something: at least 1, or at least 0 when allow_zero. The error names
// the flag: "--z: expected a positive integer, got 0".
inline std::size_t count_flag(const Config& c, const std::string& name, bool allow_zero = false) {
  const long v = c.integer(name);
  if (v < 0 || (v == 0 && !allow_zero))
    throw std::invalid_argument(
        fmt::format("--{}: expected a {} integer, got {}", name, allow_zero ? "non-negative" : "positive", v));
  return static_cast<std::size_t>(v);
}

}  // namespace tz::models
