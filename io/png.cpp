// tapezoo: PNG via libpng's simplified API (png_image_*), which reports errors through return codes
// rather than longjmp, so no C++ object is ever skipped over. See png.hpp.
#include "io/png.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <png.h>

#include "datasets/files.hpp"

namespace tz {

Image::Image(std::size_t w, std::size_t h, std::size_t c, std::uint8_t fill)
    : width(w), height(h), channels(c), pixels(w * h * c, fill) {
  if (c != 1 && c != 3 && c != 4) throw std::invalid_argument("Image: channels must be 1, 3 or 4");
}

Rgb Image::rgb(std::size_t x, std::size_t y) const {
  const std::uint8_t* p = at(x, y);
  if (channels == 1) return {p[0], p[0], p[0]};
  return {p[0], p[1], p[2]};
}

std::uint8_t to_byte(float v) {
  if (!(v > 0)) return 0;  // also NaN
  if (v >= 1) return 255;
  return static_cast<std::uint8_t>(std::floor(v * 255.0f + 0.5f));
}

namespace {

png_uint_32 png_format(std::size_t channels) {
  switch (channels) {
    case 1: return PNG_FORMAT_GRAY;
    case 3: return PNG_FORMAT_RGB;
    case 4: return PNG_FORMAT_RGBA;
  }
  throw std::invalid_argument("PNG: channels must be 1, 3 or 4, got " + std::to_string(channels));
}

}  // namespace

std::string encode_png(const Image& im) {
  if (im.width == 0 || im.height == 0) throw std::invalid_argument("encode_png: empty image");
  if (im.pixels.size() != im.width * im.height * im.channels)
    throw std::invalid_argument("encode_png: pixel buffer does not match width x height x channels");
  if (im.width > 0x7fffffff / im.channels || im.height > 0x7fffffff)
    throw std::invalid_argument("encode_png: image too large");
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(im.width);
  image.height = static_cast<png_uint_32>(im.height);
  image.format = png_format(im.channels);
  png_alloc_size_t size = 0;
  const png_int_32 stride = static_cast<png_int_32>(im.width * im.channels);
  if (!png_image_write_to_memory(&image, nullptr, &size, 0, im.pixels.data(), stride, nullptr))
    throw std::runtime_error(std::string("encode_png: ") + image.message);
  std::string out(size, '\0');
  if (!png_image_write_to_memory(&image, out.data(), &size, 0, im.pixels.data(), stride, nullptr))
    throw std::runtime_error(std::string("encode_png: ") + image.message);
  out.resize(size);
  return out;
}

Image decode_png(std::string_view bytes, const std::string& source) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size()))
    throw FileError(source + ": not a readable PNG: " + image.message);
  std::size_t channels = 1;
  if (image.format & PNG_FORMAT_FLAG_ALPHA) {
    channels = 4;
    image.format = PNG_FORMAT_RGBA;
  } else if (image.format & PNG_FORMAT_FLAG_COLOR) {
    channels = 3;
    image.format = PNG_FORMAT_RGB;
  } else {
    image.format = PNG_FORMAT_GRAY;
  }
  Image im(image.width, image.height, channels);
  if (!png_image_finish_read(&image, nullptr, im.pixels.data(), static_cast<png_int_32>(im.width * channels), nullptr)) {
    const std::string msg = image.message;
    png_image_free(&image);
    throw FileError(source + ": cannot decode PNG: " + msg);
  }
  return im;
}

void write_png(const std::string& path, const Image& image) { write_file_atomic(path, encode_png(image)); }

Image read_png(const std::string& path) { return decode_png(read_file(path), path); }

Image make_grid(const xt::xarray<float>& images, const GridOptions& o) {
  const auto& s = images.shape();
  std::size_t n = 0, h = 0, w = 0, c = 1;
  if (images.dimension() == 2) {
    n = s[0];
    const std::size_t d = s[1];
    if (o.image_height || o.image_width) {
      h = o.image_height ? o.image_height : d / std::max<std::size_t>(o.image_width, 1);
      w = o.image_width ? o.image_width : d / std::max<std::size_t>(o.image_height, 1);
      if (h * w != d)
        throw std::invalid_argument("make_grid: images of " + std::to_string(d) + " values cannot be " +
                                    std::to_string(h) + " x " + std::to_string(w));
    } else {
      h = w = static_cast<std::size_t>(std::llround(std::sqrt(static_cast<double>(d))));
      if (h * w != d)
        throw std::invalid_argument("make_grid: images of " + std::to_string(d) +
                                    " values are not square; set GridOptions::image_height and image_width");
    }
  } else if (images.dimension() == 3) {
    n = s[0], h = s[1], w = s[2];
  } else if (images.dimension() == 4 && s[3] == 3) {
    n = s[0], h = s[1], w = s[2], c = 3;
  } else {
    std::string shape = "[";
    for (std::size_t i = 0; i < s.size(); ++i) shape += (i ? ", " : "") + std::to_string(s[i]);
    throw std::invalid_argument("make_grid: images have shape " + shape + "]; expected [N, H*W], [N, H, W] or [N, H, W, 3]");
  }
  if (n == 0 || h == 0 || w == 0) throw std::invalid_argument("make_grid: no images to draw");
  if (o.nrow == 0) throw std::invalid_argument("make_grid: nrow must be positive");

  const std::size_t cols = std::min(o.nrow, n);
  const std::size_t rows = (n + cols - 1) / cols;
  const std::size_t cell_h = h + o.padding, cell_w = w + o.padding;
  Image grid(cols * cell_w + o.padding, rows * cell_h + o.padding, c, to_byte(o.pad_value));
  const float* src = images.data();
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t y0 = (k / cols) * cell_h + o.padding;
    const std::size_t x0 = (k % cols) * cell_w + o.padding;
    for (std::size_t y = 0; y < h; ++y) {
      std::uint8_t* dst = grid.at(x0, y0 + y);
      const float* row = src + (k * h + y) * w * c;
      for (std::size_t i = 0; i < w * c; ++i) dst[i] = to_byte(row[i]);
    }
  }
  return grid;
}

void save_image_grid(const std::string& path, const xt::xarray<float>& images, const GridOptions& options) {
  write_png(path, make_grid(images, options));
}

}  // namespace tz
