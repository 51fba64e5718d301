// tapezoo: the IDX format of MNIST and Fashion-MNIST (LeCun et al., yann.lecun.com/exdb/mnist).
//
//   tz::IdxImages im = tz::read_idx_images("train-images-idx3-ubyte.gz");   // gzip or plain
//   std::vector<std::uint8_t> y = tz::read_idx_labels("train-labels-idx1-ubyte.gz");
//   tz::write_idx_images("out/train-images-idx3-ubyte.gz", im);             // .gz -> gzip
//
// Layout, all integers big-endian:
//   images: magic 0x00000803 (unsigned bytes, 3 dimensions), count, rows, cols, then
//           count*rows*cols pixels, row by row, 0 = background, 255 = ink.
//   labels: magic 0x00000801 (unsigned bytes, 1 dimension), count, then count bytes.
// Readers take gzip and plain files alike (gzip is recognised by its magic bytes, as zlib's gzread
// does). They check the magic number, that no dimension but the count is zero, and that exactly
// the declared number of bytes follows; any failure is a FileError naming the file and what was
// expected. Memory follows the bytes actually present: a header that declares billions of images
// is refused when the data runs out, without allocating for them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tz {

inline constexpr std::uint32_t idx_images_magic = 0x00000803;
inline constexpr std::uint32_t idx_labels_magic = 0x00000801;

struct IdxImages {
  std::size_t count = 0, rows = 0, cols = 0;
  std::vector<std::uint8_t> pixels;  // [count, rows, cols], row-major
};

IdxImages read_idx_images(const std::string& path);
std::vector<std::uint8_t> read_idx_labels(const std::string& path);

// The same from the file's bytes in memory (gzip or plain); `source` names the file in errors.
IdxImages decode_idx_images(std::string_view bytes, const std::string& source);
std::vector<std::uint8_t> decode_idx_labels(std::string_view bytes, const std::string& source);

// Atomic writes (datasets/files.hpp); gzip-compressed when the path ends in ".gz".
void write_idx_images(const std::string& path, const IdxImages& images);
void write_idx_labels(const std::string& path, const std::vector<std::uint8_t>& labels);

}  // namespace tz
