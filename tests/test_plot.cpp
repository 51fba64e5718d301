// Tests of io/plot.cpp: tick positions and labels, and line and scatter plots checked by decoding
// the PNG and counting the pixels of each colour.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include <xtensor/xbuilder.hpp>

#include "datasets/files.hpp"
#include "io/plot.hpp"
#include "io/png.hpp"
#include "tests/test_helpers.hpp"

using tz::test::TempDir;

namespace {

std::size_t count_color(const tz::Image& im, tz::Rgb c, std::size_t x0, std::size_t y0, std::size_t x1, std::size_t y1) {
  std::size_t n = 0;
  for (std::size_t y = y0; y < y1; ++y)
    for (std::size_t x = x0; x < x1; ++x) n += im.rgb(x, y) == c;
  return n;
}

}  // namespace

TEST_CASE("nice ticks and their labels") {
  CHECK(tz::nice_ticks(0, 1, 6) == std::vector<double>{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1});
  const auto t = tz::nice_ticks(-3.2, 97.31, 7);
  CHECK(t == std::vector<double>{-20, 0, 20, 40, 60, 80, 100});
  CHECK(tz::nice_ticks(-3.2, 97.31, 6) == std::vector<double>{-50, 0, 50, 100});
  const auto small = tz::nice_ticks(0.013, 0.0171, 5);  // step 0.001 would need 6 ticks: 0.002
  REQUIRE(small.size() == 4);
  CHECK(small.front() == doctest::Approx(0.012).epsilon(1e-12));
  CHECK(small.back() == doctest::Approx(0.018).epsilon(1e-12));
  CHECK(tz::nice_ticks(5, 5, 6).size() >= 2);  // a flat range is widened
  CHECK(tz::tick_label(0.25, 0.05) == "0.25");
  CHECK(tz::tick_label(1500, 500) == "1500");
  CHECK(tz::tick_label(2e-5, 1e-5) == "2e-5");
  CHECK(tz::tick_label(3e6, 1e6) == "3e6");
  CHECK(tz::tick_label(-1e-17, 0.1) == "0.0");
  CHECK(tz::tick_label(0.6000000000000001, 0.2) == "0.6");
}

TEST_CASE("a line plot decodes with its size, its series colours in the plot area and a title") {
  TempDir dir;
  std::vector<double> x, train, test;
  for (int i = 1; i <= 200; ++i) {
    x.push_back(i * 50);
    train.push_back(200.0 / std::sqrt(i) + 90);
    test.push_back(i % 10 == 0 ? 210.0 / std::sqrt(i) + 95 : std::nan(""));  // sparse, with gaps
  }
  const tz::Rgb red{214, 39, 40};
  const std::string p = dir / "curves.png";
  tz::LinePlotOptions opt;
  opt.title = "VAE on MNIST", opt.xlabel = "iteration", opt.ylabel = "-ELBO (nats)";
  tz::save_line_plot(p, {{"train", x, train, {}}, {"test", x, test, red}}, opt);
  const tz::Image im = tz::read_png(p);
  CHECK(im.width == 640);
  CHECK(im.height == 400);
  CHECK(im.channels == 3);
  // Plot area roughly [60, 620] x [40, 360]: both series colours appear there in full strength.
  const tz::Rgb blue = tz::palette_color(0);
  CHECK(count_color(im, blue, 60, 40, 620, 360) > 200);
  CHECK(count_color(im, red, 60, 40, 620, 360) > 100);
  // The background is white; the title is dark text in the top band.
  CHECK(im.rgb(2, 2) == tz::Rgb{255, 255, 255});
  CHECK(count_color(im, tz::Rgb{40, 40, 40}, 200, 0, 440, 30) > 50);

  tz::LinePlotOptions lg;
  lg.log_x = true;
  const tz::Image logp = tz::plot_lines({{"loss", x, train, {}}}, lg);
  CHECK(count_color(logp, blue, 40, 10, 620, 380) > 200);
  CHECK_THROWS_AS(tz::plot_lines({{"bad", {1, 2}, {1}, {}}}), std::invalid_argument);
}

TEST_CASE("a scatter plot shows points in their colours and covariance ellipses") {
  tz::Rng rng(0);
  xt::xtensor<double, 2> pts = xt::xtensor<double, 2>::from_shape({400, 2});
  std::vector<int> labels(400);
  for (std::size_t i = 0; i < 400; ++i) {
    labels[i] = static_cast<int>(i % 2);
    pts(i, 0) = (labels[i] ? 3.0 : -3.0) + rng.normal();
    pts(i, 1) = 0.5 * rng.normal();
  }
  const tz::Rgb black{0, 0, 0}, green = tz::palette_color(2);
  const tz::Image im = tz::plot_scatter(pts, tz::label_colors(labels),
                                        {{-3, 0, 1, 0, 0.25, green}, {3, 0, 1, 0.2, 0.25, green}});
  CHECK(im.width == 560);
  CHECK(im.height == 560);
  CHECK(count_color(im, tz::palette_color(0), 0, 0, 560, 560) > 300);
  CHECK(count_color(im, tz::palette_color(1), 0, 0, 560, 560) > 300);
  CHECK(count_color(im, green, 0, 0, 560, 560) > 200);
  CHECK(count_color(im, black, 0, 0, 560, 560) > 10);  // the crosses at the means
  // Responsibilities blend palette colours.
  const auto mixed = tz::responsibility_colors(xt::xtensor<double, 2>{{1, 0}, {0.5, 0.5}});
  CHECK(mixed[0] == tz::palette_color(0));
  CHECK(mixed[1] == tz::Rgb{143, 123, 97});  // halfway between blue (31,119,180) and orange (255,127,14)
}
