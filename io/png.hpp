// tapezoo: 8-bit PNG pictures (libpng) and image grids, as torchvision's make_grid / save_image.
//
//   tz::save_image_grid("samples.png", x);          // x: [N, 784] floats in [0, 1] -> 8 per row
//   tz::Image img = tz::read_png("samples.png");    // width, height, channels, pixels
//
// Grid layout (torchvision.utils.make_grid): with C = min(nrow, N) columns and R = ceil(N / C)
// rows, the picture is R*(H + padding) + padding high and C*(W + padding) + padding wide, filled
// with pad_value; image k goes to row k / C, column k % C, with its top-left pixel at
//   y = (k / C) * (H + padding) + padding,   x = (k % C) * (W + padding) + padding.
// Values are clipped to [0, 1] and stored as floor(255 v + 0.5) (torchvision's rounding).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <xtensor/xarray.hpp>

namespace tz {

struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
  friend bool operator==(const Rgb&, const Rgb&) = default;
};

// Row-major pixels with interleaved channels: 1 = gray, 3 = RGB, 4 = RGBA.
struct Image {
  std::size_t width = 0, height = 0, channels = 1;
  std::vector<std::uint8_t> pixels;

  Image() = default;
  Image(std::size_t width, std::size_t height, std::size_t channels, std::uint8_t fill = 0);

  std::uint8_t* at(std::size_t x, std::size_t y) { return &pixels[(y * width + x) * channels]; }
  const std::uint8_t* at(std::size_t x, std::size_t y) const { return &pixels[(y * width + x) * channels]; }
  Rgb rgb(std::size_t x, std::size_t y) const;  // gray is expanded to (v, v, v)
};

std::string encode_png(const Image& image);
Image decode_png(std::string_view bytes, const std::string& source);  // keeps gray/RGB/RGBA; 8-bit

void write_png(const std::string& path, const Image& image);  // atomic (datasets/files.hpp)
Image read_png(const std::string& path);

struct GridOptions {
  std::size_t nrow = 8;        // images per row (torchvision's name)
  std::size_t padding = 2;     // pixels between and around images
  float pad_value = 0.0f;      // in [0, 1]
  std::size_t image_height = 0, image_width = 0;  // for [N, D] input; 0: square, H = W = sqrt(D)
};

// images: [N, D] (D = H*W), [N, H, W] (gray) or [N, H, W, 3] (RGB), floats in [0, 1].
Image make_grid(const xt::xarray<float>& images, const GridOptions& options = {});
void save_image_grid(const std::string& path, const xt::xarray<float>& images, const GridOptions& options = {});

// floor(255 clip(v, 0, 1) + 0.5); NaN becomes 0.
std::uint8_t to_byte(float v);

}  // namespace tz
