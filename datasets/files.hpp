// tapezoo: reading and writing whole files, never leaving one half-written.
//
//   std::string bytes = tz::read_file("x.npy");            // FileError naming the file if missing
//   tz::write_file_atomic("model.npz", bytes);              // tmp file, fsync, rename
//
//   tz::AtomicFile f("big.bin");                            // streamed variant
//   f.write(header.data(), header.size());
//   f.write(body.data(), body.size());
//   f.commit();                                             // without commit() nothing appears
//
// Every writer in datasets/ and io/ goes through AtomicFile: the bytes go to "<path>.tmp.<pid>" in
// the same folder, which is fsynced and then renamed over <path> (rename(2) is atomic on POSIX).
// A reader therefore sees either the old file or the new one, never a torn one, and a crash or
// exception leaves at most a stale *.tmp.* file (git-ignored), never a truncated <path>.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace tz {

// Any problem with a file: missing, unreadable, truncated, malformed, or not what was expected.
// The message always starts with, or contains, the file's path.
class FileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The whole file as bytes. Throws FileError naming the path if it cannot be opened or read.
std::string read_file(const std::string& path);

bool path_exists(const std::string& path);
bool is_directory(const std::string& path);

// Writes `bytes` to `path` atomically (see the file comment). Throws FileError naming the path.
void write_file_atomic(const std::string& path, std::string_view bytes);

// Streamed atomic write. Not copyable; the destructor removes the temporary file unless commit()
// succeeded, so an exception thrown between construction and commit() leaves `path` untouched.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, std::size_t n);
  void write(std::string_view bytes) { write(bytes.data(), bytes.size()); }
  // fsync, close, rename over the final path, fsync the folder. After this the object is inert.
  void commit();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_; }

 private:
  void discard() noexcept;
  std::string path_, temp_;
  int fd_ = -1;
  bool committed_ = false;
};

// gzip (RFC 1952) in memory via zlib. The header carries no time stamp, so the output depends on
// the input and the level only.
std::string gzip_compress(std::string_view bytes, int level = 6);

// A raw deflate stream (zip method 8) back to bytes; `expected_size` bytes must come out.
// `what` names the source in error messages. Memory follows the bytes the stream really yields,
// not `expected_size`, which comes from a header that may lie.
std::string inflate_raw(std::string_view deflated, std::size_t expected_size, const std::string& what);

bool ends_with(std::string_view s, std::string_view suffix);

// Text from a file as it may appear in an error message: control bytes as \xNN (a binary file
// would otherwise print raw bytes, and a NUL would cut the message short), at most max_bytes of
// it, then "... (N bytes)".
std::string printable(std::string_view text, std::size_t max_bytes);

}  // namespace tz
