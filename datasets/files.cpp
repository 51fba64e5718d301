// tapezoo: whole-file reads, atomic writes, gzip and raw inflate (see files.hpp).
#include "datasets/files.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

namespace tz {

namespace {

std::string errno_text(int err) { return std::strerror(err); }

std::string parent_dir(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool path_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

bool is_directory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    throw FileError(path + ": cannot open for reading: " + errno_text(err));
  }
  struct stat st;
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw FileError(path + ": is a folder, expected a file");
  }
  std::string out;
  if (st.st_size > 0) out.reserve(static_cast<std::size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    const ssize_t got = ::read(fd, buf, sizeof buf);
    if (got < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw FileError(path + ": read error: " + errno_text(err));
    }
    if (got == 0) break;
    out.append(buf, static_cast<std::size_t>(got));
  }
  ::close(fd);
  return out;
}

// ---- AtomicFile --------------------------------------------------------------------------------

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  if (path_.empty()) throw FileError("cannot write a file with an empty path");
  if (is_directory(path_)) throw FileError(path_ + ": is a folder, cannot write a file there");
  temp_ = path_ + ".tmp." + std::to_string(::getpid());
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd_ < 0) {
    const int err = errno;
    std::string why = errno_text(err);
    if (err == ENOENT) why += " (does the folder " + parent_dir(path_) + " exist?)";
    throw FileError(path_ + ": cannot create temporary file " + temp_ + ": " + why);
  }
}

AtomicFile::~AtomicFile() {
  if (!committed_) discard();
}

void AtomicFile::discard() noexcept {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!temp_.empty()) ::unlink(temp_.c_str());
}

void AtomicFile::write(const void* data, std::size_t n) {
  if (fd_ < 0) throw FileError(path_ + ": write after commit or failure");
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t put = ::write(fd_, p, n);
    if (put < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      discard();
      throw FileError(path_ + ": write error: " + errno_text(err));
    }
    p += put;
    n -= static_cast<std::size_t>(put);
  }
}

void AtomicFile::commit() {
  if (committed_) return;
  if (fd_ < 0) throw FileError(path_ + ": commit after failure");
  if (::fsync(fd_) != 0) {
    const int err = errno;
    discard();
    throw FileError(path_ + ": fsync failed: " + errno_text(err));
  }
  if (::close(fd_) != 0) {
    const int err = errno;
    fd_ = -1;
    discard();
    throw FileError(path_ + ": close failed: " + errno_text(err));
  }
  fd_ = -1;
  if (::rename(temp_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    discard();
    throw FileError(path_ + ": cannot rename " + temp_ + " into place: " + errno_text(err));
  }
  committed_ = true;
  // Make the rename itself durable. Failure here loses nothing that was not already visible.
  const int dfd = ::open(parent_dir(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

void write_file_atomic(const std::string& path, std::string_view bytes) {
  AtomicFile f(path);
  f.write(bytes);
  f.commit();
}

// ---- zlib --------------------------------------------------------------------------------------

std::string gzip_compress(std::string_view bytes, int level) {
  z_stream zs{};
  // windowBits 15 + 16: a gzip wrapper instead of zlib's.
  if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("gzip_compress: deflateInit2 failed");
  std::string out;
  out.resize(deflateBound(&zs, static_cast<uLong>(bytes.size())) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  std::size_t in_left = bytes.size();
  std::size_t produced = 0;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (zs.avail_in == 0 && in_left > 0) {
      const std::size_t chunk = std::min<std::size_t>(in_left, std::numeric_limits<uInt>::max());
      zs.avail_in = static_cast<uInt>(chunk);
      in_left -= chunk;
    }
    if (produced == out.size()) out.resize(out.size() * 2);
    const std::size_t room = std::min<std::size_t>(out.size() - produced, std::numeric_limits<uInt>::max());
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(room);
    rc = deflate(&zs, in_left == 0 ? Z_FINISH : Z_NO_FLUSH);
    produced += room - zs.avail_out;
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
      deflateEnd(&zs);
      throw std::runtime_error("gzip_compress: deflate failed");
    }
  }
  deflateEnd(&zs);
  out.resize(produced);
  return out;
}

std::string inflate_raw(std::string_view deflated, std::size_t expected_size, const std::string& what) {
  z_stream zs{};
  if (inflateInit2(&zs, -15) != Z_OK) throw FileError(what + ": inflateInit2 failed");
  // The expected size comes from a header and is not trusted for allocation: the buffer starts
  // small and doubles as data arrives, so memory follows what the stream really holds (at most
  // twice that, plus 64 KiB), and a header that claims 4 GiB costs nothing unless they come.
  std::string out(std::min<std::size_t>(expected_size, std::size_t{1} << 16), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(deflated.data()));
  std::size_t in_left = deflated.size();
  std::size_t produced = 0;
  int rc = Z_OK;
  for (;;) {
    if (zs.avail_in == 0 && in_left > 0) {
      const std::size_t chunk = std::min<std::size_t>(in_left, std::numeric_limits<uInt>::max());
      zs.avail_in = static_cast<uInt>(chunk);
      in_left -= chunk;
    }
    if (produced == out.size() && out.size() < expected_size)
      out.resize(std::min(expected_size, 2 * out.size()));
    // One spare byte of room detects a stream that inflates to more than expected.
    char spare = 0;
    const bool at_end = produced == out.size();
    const std::size_t room = at_end ? 1 : std::min<std::size_t>(out.size() - produced,
                                                                 std::numeric_limits<uInt>::max());
    zs.next_out = reinterpret_cast<Bytef*>(at_end ? &spare : out.data() + produced);
    zs.avail_out = static_cast<uInt>(room);
    rc = inflate(&zs, Z_NO_FLUSH);
    const std::size_t got = room - zs.avail_out;
    if (at_end && got > 0) {
      inflateEnd(&zs);
      throw FileError(what + ": deflate stream holds more than the " + std::to_string(expected_size) +
                      " bytes its header declares");
    }
    produced += got;
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK && !(rc == Z_BUF_ERROR && (zs.avail_in > 0 || in_left > 0))) {
      const std::string msg = zs.msg ? zs.msg : "truncated or corrupt data";
      inflateEnd(&zs);
      throw FileError(what + ": cannot inflate compressed data: " + msg);
    }
  }
  inflateEnd(&zs);
  if (produced != expected_size)
    throw FileError(what + ": compressed data inflates to " + std::to_string(produced) + " bytes, expected " +
                    std::to_string(expected_size));
  return out;
}

std::string printable(std::string_view text, std::size_t max_bytes) {
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < max_bytes; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > max_bytes) out += "... (" + std::to_string(text.size()) + " bytes)";
  return out;
}

}  // namespace tz
