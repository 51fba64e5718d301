// tapezoo: synthetic stroke images (see strokes.hpp).
#include "datasets/strokes.hpp"

#include <algorithm>
#include <cmath>

namespace tz {

namespace {

constexpr int kSide = 28;

// shapes: the pixel (i, j) is on the stroke of shape s shifted by (dx, dy).
bool on_shape(std::size_t s, int i, int j, int dx, int dy) {
  const int a = i - dy, b = j - dx;
  if (s == 0) return b >= 12 && b <= 15 && a >= 4 && a <= 23;  // vertical bar
  if (s == 1) return a >= 12 && a <= 15 && b >= 4 && b <= 23;  // horizontal bar
  if (s == 2) return a >= 6 && a <= 21 && b >= 6 && b <= 21 && (a <= 8 || a >= 19 || b <= 8 || b >= 19);  // square
  return std::abs(a - b) <= 2 && a >= 4 && a <= 23;  // diagonal
}

// Image r of a shapes set: s ~ U{0..3}, dx, dy ~ U{−3..3}, then 0.9 on the stroke and 0.05 off it.
void draw_shape(xt::xarray<float>& x, std::size_t r, Rng& rng) {
  const std::size_t s = rng.below(4);
  const int dx = static_cast<int>(rng.below(7)) - 3, dy = static_cast<int>(rng.below(7)) - 3;
  for (int i = 0; i < kSide; ++i)
    for (int j = 0; j < kSide; ++j)
      x(r, static_cast<std::size_t>(i * kSide + j)) = on_shape(s, i, j, dx, dy) ? 0.9f : 0.05f;
}

// Image r of a bars set, of class c: a bar at angle θ = π·c/10 shifted by u ~ U(−2, 2), blurred.
void draw_bar(xt::xarray<float>& x, std::size_t r, int c, Rng& rng) {
  const double angle = M_PI * c / 10.0, shift = rng.uniform(-2.0, 2.0);
  for (std::size_t i = 0; i < kSide; ++i)
    for (std::size_t j = 0; j < kSide; ++j) {
      // distance of the pixel from the line through the centre at angle θ, moved by u
      const double dist = std::abs((j - 13.5) * std::sin(angle) - (i - 13.5) * std::cos(angle) - shift);
      const double ink = std::exp(-dist * dist / 4.0) + 0.05 * rng.uniform();
      x(r, i * kSide + j) = static_cast<float>(std::min(1.0, ink));
    }
}

void draw(const StrokeOptions& o, std::size_t n, xt::xarray<float>& x, std::vector<int>& y, Rng& rng) {
  x = xt::xarray<float>::from_shape({n, static_cast<std::size_t>(kSide * kSide)});
  if (o.kind == StrokeKind::bars) y.resize(n);
  for (std::size_t r = 0; r < n; ++r) {
    if (o.kind == StrokeKind::shapes) {
      draw_shape(x, r, rng);
    } else {
      y[r] = static_cast<int>(r % 10);  // class order 0, 1, …, 9, 0, 1, …
      draw_bar(x, r, y[r], rng);
    }
  }
}

}  // namespace

StrokeImages make_strokes(const StrokeOptions& options, Rng& rng) {
  StrokeImages s;
  s.num_classes = options.kind == StrokeKind::bars ? 10 : 0;
  draw(options, options.n_train, s.train_x, s.train_y, rng);
  draw(options, options.n_test, s.test_x, s.test_y, rng);
  return s;
}

}  // namespace tz
