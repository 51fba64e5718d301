// tapezoo: IDX reader and writer (see idx.hpp).
#include "datasets/idx.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>

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

// gzread on a gzip or plain file, with errors that name the file.
class GzFile {
 public:
  explicit GzFile(const std::string& path) : path_(path) {
    if (is_directory(path)) throw FileError(path + ": is a folder, expected an IDX file");
    f_ = gzopen(path.c_str(), "rb");
    if (!f_) {
      const int err = errno;
      throw FileError(path + ": cannot open: " + (err ? std::strerror(err) : "out of memory"));
    }
    gzbuffer(f_, 1 << 17);
  }
  ~GzFile() {
    if (f_) gzclose(f_);
  }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;

  // Reads up to n bytes; returns how many arrived before the end of the data.
  std::size_t read(void* dst, std::size_t n) {
    auto* p = static_cast<char*>(dst);
    std::size_t total = 0;
    while (total < n) {
      const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(n - total, 1u << 30));
      const int got = gzread(f_, p + total, chunk);
      if (got < 0) {
        int code = 0;
        const char* msg = gzerror(f_, &code);
        throw FileError(path_ + ": cannot decompress gzip data: " + (msg ? msg : "unknown error") +
                        " (file truncated or corrupt?)");
      }
      if (got == 0) break;
      total += static_cast<std::size_t>(got);
    }
    return total;
  }

  // True if the stream ended cleanly (a gzip stream truncated before its trailer reports an error).
  bool at_clean_end() {
    char c;
    const int got = gzread(f_, &c, 1);
    if (got < 0) {
      int code = 0;
      const char* msg = gzerror(f_, &code);
      throw FileError(path_ + ": gzip stream is damaged at the end (file truncated?): " + (msg ? msg : "unknown error"));
    }
    return got == 0;
  }

 private:
  std::string path_;
  gzFile f_ = nullptr;
};

struct IdxRaw {
  std::vector<std::size_t> dims;
  std::vector<std::uint8_t> data;
};

IdxRaw read_idx(const std::string& path, std::uint32_t want_magic, const char* kind, const char* data_name) {
  GzFile f(path);
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
  // Read in chunks, so that a corrupt header declaring billions of bytes costs no more memory than
  // the data actually present.
  raw.data.reserve(std::min<std::size_t>(total, std::size_t{1} << 26));
  std::size_t got = 0;
  while (got < total) {
    const std::size_t want = std::min<std::size_t>(total - got, std::size_t{1} << 24);
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

IdxImages read_idx_images(const std::string& path) {
  IdxRaw raw = read_idx(path, idx_images_magic, "ubyte images, 3 dimensions", "pixel data");
  IdxImages im;
  im.count = raw.dims[0];
  im.rows = raw.dims[1];
  im.cols = raw.dims[2];
  im.pixels = std::move(raw.data);
  return im;
}

std::vector<std::uint8_t> read_idx_labels(const std::string& path) {
  return read_idx(path, idx_labels_magic, "ubyte labels, 1 dimension", "label data").data;
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
