// tapezoo: IDX reader and writer (see idx.hpp).
#include "datasets/idx.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string_view>

#include <zlib.h>

#include "datasets/files.hpp"

namespace tz {

namespace {

std::string hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

std::uint32_t be32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

void put_be32(std::string& out, std::uint64_t v, const std::string& path) {
  if (v > 0xffffffffu) throw std::invalid_argument(path + ": dimension " + std::to_string(v) + " does not fit IDX's 32 bits");
  out.push_back(static_cast<char>((v >> 24) & 0xff));
  out.push_back(static_cast<char>((v >> 16) & 0xff));
  out.push_back(static_cast<char>((v >> 8) & 0xff));
  out.push_back(static_cast<char>(v & 0xff));
}

// The bytes of an IDX file held in memory, plain or gzip-compressed, handed out in order. Gzip is
// recognised by its magic bytes 1f 8b, as zlib's gzread does; gzip members may follow one another
// (as `cat a.gz b.gz` makes), and bytes after the last member that are not another member are
// ignored, as gzip(1) and gzread ignore them. Only as much is inflated as is asked for, so memory
// follows the data actually present, never a size the header declares.
class IdxStream {
 public:
  IdxStream(std::string_view bytes, const std::string& source) : in_(bytes), source_(source) {
    gzip_ = bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
            static_cast<unsigned char>(bytes[1]) == 0x8b;
    if (gzip_ && inflateInit2(&zs_, 15 + 16) != Z_OK)  // 15 + 16: a gzip wrapper, not zlib's
      throw FileError(source_ + ": cannot start gzip decompression (out of memory?)");
  }
  ~IdxStream() {
    if (gzip_) inflateEnd(&zs_);
  }
  IdxStream(const IdxStream&) = delete;
  IdxStream& operator=(const IdxStream&) = delete;

  // Reads up to n bytes; returns how many arrived before the end of the data.
  std::size_t read(void* dst, std::size_t n) {
    if (!gzip_) {
      const std::size_t k = std::min(n, in_.size() - fed_);
      if (k > 0) std::memcpy(dst, in_.data() + fed_, k);
      fed_ += k;
      return k;
    }
    auto* out = static_cast<unsigned char*>(dst);
    std::size_t total = 0;
    while (total < n && !ended_) {
      if (zs_.avail_in == 0) feed();
      const auto room = static_cast<uInt>(std::min<std::size_t>(n - total, 1u << 30));
      zs_.next_out = out + total;
      zs_.avail_out = room;
      const int rc = inflate(&zs_, Z_NO_FLUSH);
      total += room - zs_.avail_out;
      if (rc == Z_STREAM_END) {
        next_member();
      } else if (rc == Z_BUF_ERROR && zs_.avail_in == 0 && fed_ == in_.size()) {
        throw FileError(source_ + ": the gzip data ends in the middle of its stream (file truncated?)");
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        throw FileError(source_ + ": cannot decompress gzip data: " + (zs_.msg ? zs_.msg : "corrupt data") +
                        " (file truncated or corrupt?)");
      }
    }
    return total;
  }

  // What is left of a plain file; 0 for gzip, whose inflated size is not known in advance.
  std::size_t plain_bytes_left() const { return gzip_ ? 0 : in_.size() - fed_; }

  // True if no byte follows; a gzip stream cut before its trailer is a FileError.
  bool at_clean_end() {
    unsigned char c;
    return read(&c, 1) == 0;
  }

 private:
  // Hands zlib the next part of the input (all of it, unless it exceeds zlib's 32-bit counts).
  void feed() {
    const std::size_t k = std::min<std::size_t>(in_.size() - fed_, 1u << 30);
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in_.data() + fed_));
    zs_.avail_in = static_cast<uInt>(k);
    fed_ += k;
  }
  // After a member's end: go on if another gzip member follows, else stop.
  void next_member() {
    const std::size_t left = zs_.avail_in + (in_.size() - fed_);
    const std::size_t at = in_.size() - left;
    if (left >= 2 && static_cast<unsigned char>(in_[at]) == 0x1f && static_cast<unsigned char>(in_[at + 1]) == 0x8b) {
      inflateReset(&zs_);
    } else {
      ended_ = true;
    }
  }

  std::string_view in_;
  const std::string& source_;
  bool gzip_ = false, ended_ = false;
  std::size_t fed_ = 0;  // input bytes handed out (plain) or given to zlib (gzip)
  z_stream zs_{};
};

struct IdxRaw {
  std::vector<std::size_t> dims;
  std::vector<std::uint8_t> data;
};

IdxRaw decode_idx(std::string_view bytes, const std::string& path, std::uint32_t want_magic, const char* kind,
                  const char* data_name) {
  IdxStream f(bytes, path);
  const std::size_t ndims = want_magic & 0xff;
  unsigned char head[4];
  const std::size_t got_head = f.read(head, 4);
  if (got_head < 4)
    throw FileError(path + ": file holds " + std::to_string(got_head) + " bytes, too short for an IDX header (expected " +
                    hex32(want_magic) + ", IDX " + kind + ")");
  const std::uint32_t magic = be32(head);
  if (magic != want_magic) {
    std::string hint;
    if (magic == idx_images_magic) hint = "; this looks like an IDX image file";
    else if (magic == idx_labels_magic) hint = "; this looks like an IDX label file";
    else if ((magic >> 16) != 0) hint = "; this is not an IDX file";
    throw FileError(path + ": wrong magic number " + hex32(magic) + ", expected " + hex32(want_magic) + " (IDX " + kind +
                    ")" + hint);
  }
  std::vector<unsigned char> dimbuf(4 * ndims);
  const std::size_t got_dims = f.read(dimbuf.data(), dimbuf.size());
  if (got_dims < dimbuf.size())
    throw FileError(path + ": expected " + std::to_string(ndims) + " dimensions (" + std::to_string(dimbuf.size()) +
                    " bytes) after the magic number, found " + std::to_string(got_dims) + " bytes (file truncated?)");
  IdxRaw raw;
  std::size_t total = 1;
  for (std::size_t i = 0; i < ndims; ++i) {
    const std::size_t d = be32(&dimbuf[4 * i]);
    if (d == 0 && i > 0)
      throw FileError(path + ": dimension " + std::to_string(i) + " is 0; expected a positive size");
    if (d != 0 && total > SIZE_MAX / d) throw FileError(path + ": dimensions overflow");
    total *= d;
    raw.dims.push_back(d);
  }
  // Memory follows the bytes present, never the size the header declares: the buffer doubles as
  // data arrives (at most twice the data, plus 64 KiB, while it grows; the data's size at the
  // end), so a corrupt header that declares billions of bytes costs nothing until they arrive.
  // A plain file's size is known, so its buffer is reserved once.
  raw.data.reserve(std::min(total, f.plain_bytes_left()));
  std::size_t got = 0;
  while (got < total) {
    const std::size_t want = std::min(total - got, std::max<std::size_t>(got, std::size_t{1} << 16));
    raw.data.reserve(got + want);  // exactly: resize alone could leave twice the data's capacity
    raw.data.resize(got + want);
    const std::size_t n = f.read(raw.data.data() + got, want);
    got += n;
    if (n < want) break;
  }
  raw.data.resize(got);
  if (got < total)
    throw FileError(path + ": expected " + std::to_string(total) + " bytes of " + data_name + " after the header, found " +
                    std::to_string(got) + " (file truncated?)");
  if (!f.at_clean_end())
    throw FileError(path + ": more data than the header's " + std::to_string(total) + " bytes of " + data_name +
                    " (trailing bytes; wrong dimensions in the header?)");
  return raw;
}

void write_bytes(const std::string& path, const std::string& bytes) {
  if (ends_with(path, ".gz"))
    write_file_atomic(path, gzip_compress(bytes, 6));
  else
    write_file_atomic(path, bytes);
}

}  // namespace

IdxImages decode_idx_images(std::string_view bytes, const std::string& source) {
  IdxRaw raw = decode_idx(bytes, source, idx_images_magic, "ubyte images, 3 dimensions", "pixel data");
  IdxImages im;
  im.count = raw.dims[0];
  im.rows = raw.dims[1];
  im.cols = raw.dims[2];
  im.pixels = std::move(raw.data);
  return im;
}

std::vector<std::uint8_t> decode_idx_labels(std::string_view bytes, const std::string& source) {
  return decode_idx(bytes, source, idx_labels_magic, "ubyte labels, 1 dimension", "label data").data;
}

IdxImages read_idx_images(const std::string& path) { return decode_idx_images(read_file(path), path); }

std::vector<std::uint8_t> read_idx_labels(const std::string& path) {
  return decode_idx_labels(read_file(path), path);
}

void write_idx_images(const std::string& path, const IdxImages& im) {
  if (im.rows == 0 || im.cols == 0) throw std::invalid_argument(path + ": images must have rows, cols > 0");
  if (im.pixels.size() != im.count * im.rows * im.cols)
    throw std::invalid_argument(path + ": " + std::to_string(im.pixels.size()) + " pixels do not match count x rows x cols = " +
                                std::to_string(im.count) + " x " + std::to_string(im.rows) + " x " + std::to_string(im.cols));
  std::string out;
  out.reserve(16 + im.pixels.size());
  put_be32(out, idx_images_magic, path);
  put_be32(out, im.count, path);
  put_be32(out, im.rows, path);
  put_be32(out, im.cols, path);
  out.append(reinterpret_cast<const char*>(im.pixels.data()), im.pixels.size());
  write_bytes(path, out);
}

void write_idx_labels(const std::string& path, const std::vector<std::uint8_t>& labels) {
  std::string out;
  out.reserve(8 + labels.size());
  put_be32(out, idx_labels_magic, path);
  put_be32(out, labels.size(), path);
  out.append(reinterpret_cast<const char*>(labels.data()), labels.size());
  write_bytes(path, out);
}

}  // namespace tz
