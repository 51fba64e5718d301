// Tests of io/png.cpp: image grids laid out as torchvision's make_grid, RGB, PNG round trips and
// unreadable files.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include <xtensor/xbuilder.hpp>

#include "datasets/files.hpp"
#include "io/png.hpp"
#include "tests/test_helpers.hpp"

using namespace tz::test;  // contains, file_error, TempDir

TEST_CASE("make_grid places images as torchvision does, with padding of the pad value") {
  // 5 images of 3 x 4, 2 per row: C = 2 columns, R = 3 rows, cells 5 high and 6 wide.
  const std::size_t n = 5, h = 3, w = 4;
  xt::xarray<float> x = xt::xarray<float>::from_shape({n, h * w});
  for (std::size_t k = 0; k < n; ++k)
    for (std::size_t i = 0; i < h * w; ++i) x(k, i) = static_cast<float>(k * 12 + i + 1) / 255.0f;
  x(4, 11) = 7.0f;   // clipped to 1
  x(4, 10) = -1.0f;  // clipped to 0
  TempDir dir;
  const std::string p = dir / "grid.png";
  tz::GridOptions opt;
  opt.nrow = 2, opt.padding = 2, opt.pad_value = 0.5f, opt.image_height = 3, opt.image_width = 4;
  tz::save_image_grid(p, x, opt);
  const tz::Image g = tz::read_png(p);
  CHECK(g.channels == 1);
  CHECK(g.width == 2 * (4 + 2) + 2);
  CHECK(g.height == 3 * (3 + 2) + 2);
  for (std::size_t k = 0; k < n; ++k) {
    CAPTURE(k);
    const std::size_t y0 = (k / 2) * 5 + 2, x0 = (k % 2) * 6 + 2;
    CHECK(*g.at(x0, y0) == k * 12 + 1);                 // top-left pixel
    CHECK(*g.at(x0 + 1, y0 + 2) == k * 12 + 2 * 4 + 2);  // row 2, column 1
    CHECK(*g.at(x0 - 1, y0) == 128);                     // padding to its left
    CHECK(*g.at(x0, y0 - 1) == 128);                     // and above
  }
  // Image 4 sits at x0 = 2, y0 = 12; its pixel 10 (-1.0) is clipped to 0 and pixel 11 (7.0) to 255.
  CHECK(*g.at(2 + 2, 12 + 2) == 0);
  CHECK(*g.at(2 + 3, 12 + 2) == 255);
  // The sixth cell is empty: all pad value.
  for (std::size_t y = 12; y < 15; ++y)
    for (std::size_t xx = 8; xx < 12; ++xx) CHECK(*g.at(xx, y) == 128);
  CHECK(*g.at(0, 0) == 128);
  CHECK(*g.at(g.width - 1, g.height - 1) == 128);
}

TEST_CASE("RGB grids, PNG round trips and unreadable files") {
  xt::xarray<float> rgb = xt::zeros<float>({2, 2, 3, 3});  // [N, H, W, 3]: two 2 x 3 RGB images
  rgb(0, 0, 0, 0) = 1.0f;                                   // image 0, top-left: red
  rgb(1, 1, 2, 2) = 1.0f;                                   // image 1, bottom-right: blue
  tz::GridOptions opt;
  opt.padding = 1, opt.pad_value = 1.0f;
  const tz::Image g = tz::make_grid(rgb, opt);
  CHECK(g.channels == 3);
  CHECK(g.width == 2 * 4 + 1);
  CHECK(g.height == 2 + 2);
  CHECK(g.rgb(1, 1) == tz::Rgb{255, 0, 0});
  CHECK(g.rgb(5 + 2, 1 + 1) == tz::Rgb{0, 0, 255});
  CHECK(g.rgb(0, 0) == tz::Rgb{255, 255, 255});

  TempDir dir;
  for (std::size_t c : {1, 3, 4}) {
    CAPTURE(c);
    tz::Image im(7, 5, c);
    for (std::size_t i = 0; i < im.pixels.size(); ++i) im.pixels[i] = static_cast<std::uint8_t>(i * 31);
    tz::write_png(dir / "x.png", im);
    const tz::Image back = tz::read_png(dir / "x.png");
    CHECK(back.width == 7);
    CHECK(back.height == 5);
    CHECK(back.channels == c);
    CHECK(back.pixels == im.pixels);
  }
  tz::write_file_atomic(dir / "bad.png", "\x89PNG but not really");
  CHECK(contains(file_error([&] { tz::read_png(dir / "bad.png"); }), dir / "bad.png"));
  CHECK_THROWS_AS(tz::make_grid(xt::zeros<float>({2, 10})), std::invalid_argument);  // 10 is not square
}
