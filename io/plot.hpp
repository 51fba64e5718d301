// tapezoo: line plots and scatter plots straight to PNG, with no external plotting program.
//
//   tz::save_line_plot("curves.png",
//                      {{"train -ELBO", steps, train_loss}, {"test -ELBO", steps, test_loss}},
//                      {.title = "VAE on MNIST", .xlabel = "iteration", .ylabel = "nats"});
//
//   auto colors = tz::responsibility_colors(resp);            // [N, K] -> mixed palette colours
//   std::vector<tz::CovarianceEllipse> ell;                   // fitted components
//   for (k...) ell.push_back({mu(k,0), mu(k,1), S(k,0,0), S(k,0,1), S(k,1,1), tz::palette_color(k)});
//   tz::save_scatter_plot("gmm.png", x, colors, ell, {.title = "EM, iteration 20"});
//
// Drawing: antialiased lines (coverage from the distance to each segment, so joins do not darken),
// the built-in 5x8 font (io/font.hpp), linear axes with "nice" ticks (steps of 1, 2 or 5 times a
// power of ten) and an optional logarithmic x axis with decade ticks.
// Colours default to matplotlib's "tab10" palette. Non-finite points are skipped (a line breaks
// there; on a log x axis, so are x <= 0).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "io/png.hpp"

namespace tz {

struct Series {
  std::string label = {};
  std::vector<double> x = {}, y = {};  // x empty: 0, 1, ..., n-1
  std::optional<Rgb> color = {};       // default: palette_color(index of the series)
};

struct LinePlotOptions {
  std::string title = {}, xlabel = {}, ylabel = {};
  std::size_t width = 640, height = 400;
  bool log_x = false;
  double line_width = 2.0;
};

Image plot_lines(const std::vector<Series>& series, const LinePlotOptions& options = {});
void save_line_plot(const std::string& path, const std::vector<Series>& series, const LinePlotOptions& options = {});

// A 2-D Gaussian's mean and covariance [[xx, xy], [xy, yy]], drawn as its sigma ellipses.
struct CovarianceEllipse {
  double mean_x = 0, mean_y = 0;
  double cov_xx = 1, cov_xy = 0, cov_yy = 1;
  Rgb color = {};
};

struct ScatterOptions {
  std::string title = {}, xlabel = {}, ylabel = {};
  std::size_t width = 560, height = 560;
  double point_radius = 2.0;
  std::vector<double> sigmas = {1.0, 2.0};  // ellipse radii in standard deviations
  bool equal_aspect = true;                 // one unit is as long on both axes
};

// points: [N, 2]. colors: one per point, or a single colour for all, or empty (palette_color(0)).
Image plot_scatter(const xt::xtensor<double, 2>& points, const std::vector<Rgb>& colors,
                   const std::vector<CovarianceEllipse>& ellipses = {}, const ScatterOptions& options = {});
void save_scatter_plot(const std::string& path, const xt::xtensor<double, 2>& points, const std::vector<Rgb>& colors,
                       const std::vector<CovarianceEllipse>& ellipses = {}, const ScatterOptions& options = {});

Rgb palette_color(std::size_t k);  // tab10: blue, orange, green, red, purple, brown, pink, gray, olive, cyan
std::vector<Rgb> label_colors(const std::vector<int>& labels);
// Point n gets Σ_k r_nk palette_color(k): a point shared by two components shows a blend.
std::vector<Rgb> responsibility_colors(const xt::xtensor<double, 2>& resp);

// Tick positions k*step covering [lo, hi] (from the last tick at or below lo to the first at or
// above hi), at most max_ticks of them, with the smallest step that is 1, 2 or 5 times a power of
// ten. A line plot's axis runs from the first tick to the last.
std::vector<double> nice_ticks(double lo, double hi, int max_ticks = 6);
// A tick value with as many decimals as its step needs ("0.25", "1500", "2e-05" -> "2e-5").
std::string tick_label(double value, double step);

}  // namespace tz
